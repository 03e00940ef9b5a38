"""Published layouts read as they are (contract 2.5), on the real files in ../shared/realdata/.

Every number asserted is printed in the published file or worked out by hand from it:
- Barnet (ndtms_viewit_barnet.csv, every count rounded to 5), sex = Total, age = Total:
  2017/18 alcohol only 265 + non-opiate & alcohol 150 = 415; 2018/19 240 + 150 = 390;
  2021/22 440 + 230 = 670 (the file writes TOTAL in capitals that year).
- England (ndtms_viewit_england.csv, exact): 2019/20 74,618 + 30,262 = 104,880;
  2020/21 76,740 + 30,688 = 107,428.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.inputs.layouts import detect
from unmetneed.inputs.load import load
from unmetneed.inputs.readers import read_header
from unmetneed.tables import gap
from unmetneed.tables.gap import GapOptions

ENGLAND = "ndtms_viewit_england.csv"
BARNET = "ndtms_viewit_barnet.csv"
PHE = "alcohol_dependence_estimates_by_la.csv"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "220"})
    return result.exit_code, result.stdout, result.stderr


def row(table: pd.DataFrame, area: str, period: str) -> dict[str, object]:
    hit = table[(table["area"] == area) & (table["period"] == period)]
    assert len(hit) == 1, table
    return hit.iloc[0].to_dict()


@pytest.mark.parametrize(
    ("name", "layout"),
    [(ENGLAND, "ndtms-viewit-england"), (BARNET, "ndtms-viewit-la"), (PHE, "phe-alcohol")],
)
def test_each_real_file_is_recognised_by_its_header(realdata: Path, name: str, layout: str) -> None:
    found = detect(read_header(realdata / name))
    assert found is not None and found.name == layout


def test_barnet_uses_the_published_totals(realdata: Path) -> None:
    """415 / 390 / 670, each the sum of two published totals rounded to 5 (so +-2 each:
    411..419), not a sum of 12 rounded sex x age cells (425 for 2017/18)."""
    result = gap.compute_files(
        realdata / BARNET,
        realdata / PHE,
        GapOptions(substances=("alcohol_dependent",)),
    )
    t = result.table
    assert row(t, "Barnet", "2017/18")["in_treatment"] == 415
    assert row(t, "Barnet", "2018/19")["in_treatment"] == 390
    assert row(t, "Barnet", "2021/22")["in_treatment"] == 670
    r = row(t, "Barnet", "2017/18")
    assert (r["in_treatment_min"], r["in_treatment_max"]) == (411, 419)
    assert any("layout ndtms-viewit-la" in x for x in result.remarks)


def test_england_viewit_and_phe_file_with_no_column_options(realdata: Path) -> None:
    """England 2019/20 104,880 and 2020/21 107,428 in treatment. The PHE file's latest three
    England years are 2015/16-2017/18: D = (595856 + 589101 + 586780) / 3 = 590579, so
    2019/20 is 100 (590579 - 104880) / 590579 = 82.24%."""
    result = gap.compute_files(realdata / ENGLAND, realdata / PHE, GapOptions())
    t = result.table
    r = row(t, "England", "2019/20")
    assert r["in_treatment"] == 104880
    assert r["prevalence"] == pytest.approx(590579.0)
    assert r["unmet_need_pct"] == pytest.approx(82.24, abs=0.005)
    assert row(t, "England", "2020/21")["in_treatment"] == 107428
    assert r["in_treatment_min"] == r["in_treatment_max"] == 104880  # exact: not rounded


def test_both_viewit_files_in_one_command(realdata: Path, tmp_path: Path) -> None:
    """England and Barnet together: each keeps its own rounding (England exact, Barnet +-2)
    and its published totals; England is the benchmark, and never summed into --total."""
    out = tmp_path / "gap.csv"
    code, _, err = run(
        "gap",
        "--treatment",
        str(realdata / ENGLAND),
        "--treatment",
        str(realdata / BARNET),
        "--prevalence",
        str(realdata / PHE),
        "--period",
        "2017/18",
        "--period",
        "2021/22",
        "--total",
        "All areas",
        "--out",
        str(out),
    )
    assert code == 0, err
    t = pd.read_csv(out)
    assert row(t, "England", "2017/18")["in_treatment"] == 103471  # 75,787 + 27,684
    assert row(t, "Barnet", "2017/18")["in_treatment"] == 415
    assert row(t, "Barnet", "2021/22")["in_treatment"] == 670
    assert row(t, "All areas", "2021/22")["in_treatment"] == 670  # Barnet only, not England
    barnet = row(t, "Barnet", "2017/18")
    assert barnet["benchmark_area"] == "England"
    assert barnet["vs_benchmark"] in ("similar", "higher", "lower")
    england = row(t, "England", "2017/18")
    assert england["in_treatment_min"] == england["in_treatment_max"]


def test_england_2019_20_years_are_chosen_per_area(realdata: Path, tmp_path: Path) -> None:
    """Contract 4.1 worked example: England with a 2018/19 estimate of 602,391 (no bounds)
    the PHE file lacks; 2019/20 D = (589101 + 586780 + 602391) / 3 = 592757.33;
    100 (592757.33 - 104880) / 592757.33 = 82.3064%, no interval. Barnet has no 2018/19
    estimate and keeps its 2015/16-2017/18 mean and interval: D = 9130 / 3, bounds
    6729 / 3 = 2243 and 12872 / 3 = 4290.67; T = 270 + 155 = 425, each +-2: 421..429, so
    100 (1 - 429 / 2243) = 80.87 to 100 (1 - 421 / 4290.67) = 90.19, which holds England's
    82.31: similar."""
    phe = (realdata / PHE).read_text()
    prev = tmp_path / "phe_plus_england_2018_19.csv"
    prev.write_text(phe.rstrip("\n") + "\nEngland,England,E92000001,602391,NA,NA,2018/19\n")
    result = gap.compute_files(
        [realdata / ENGLAND, realdata / BARNET], prev, GapOptions(periods=("2019/20",))
    )
    england = row(result.table, "England", "2019/20")
    assert england["unmet_need_pct"] == pytest.approx(82.3064, abs=5e-5)
    assert pd.isna(england["unmet_need_pct_lower"]) and pd.isna(england["unmet_need_pct_upper"])
    assert england["prevalence_periods"] == "2016/17,2017/18,2018/19"
    barnet = row(result.table, "Barnet", "2019/20")
    assert barnet["prevalence_periods"] == "2015/16,2016/17,2017/18"
    assert not pd.isna(barnet["prevalence_lower"])
    assert barnet["unmet_need_pct_lower"] == pytest.approx(80.87, abs=0.005)
    assert barnet["unmet_need_pct_upper"] == pytest.approx(90.19, abs=0.005)
    assert barnet["vs_benchmark"] == "similar"
    assert england["vs_benchmark"] == "not_compared"  # England's own interval is missing


def test_swapped_inputs_are_named(realdata: Path) -> None:
    code, out, err = run(
        "gap", "--treatment", str(realdata / PHE), "--prevalence", str(realdata / ENGLAND)
    )
    assert code == 2 and out == ""
    assert "did you mean --prevalence" in err and "Traceback" not in err


def test_layout_can_be_forced_or_turned_off(realdata: Path) -> None:
    loaded = load(realdata / BARNET, "counts", layout="ndtms-viewit-la")
    assert loaded.layout == "ndtms-viewit-la" and loaded.rounded_to == 5
    code, _, err = run(
        "validate", str(realdata / PHE), "--kind", "prevalence", "--layout", "ndtms-viewit-la"
    )
    assert code == 2 and "needs the column(s)" in err
    code, _, err = run("validate", str(realdata / PHE), "--kind", "prevalence", "--layout", "phe")
    assert code == 2 and "did you mean 'phe-alcohol'" in err


# --- synthetic files: title rows, notes below, Fingertips, counts as a cohort -------------

T_HEADER = "period,area,area_code,drug_group,crack,age_band,sex"
P_HEADER = "area,area_code,period,substance,estimate,lower,upper"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_title_rows_above_and_notes_below_are_skipped_and_said(tmp_path: Path) -> None:
    """Line 1 a title, line 2 blank, the header on line 3, a source note at the end: the
    data lines keep the numbers a person sees (a bad value on line 5 is named line 5)."""
    path = write(
        tmp_path / "titled.csv",
        [
            "Estimates of dependent drinkers,,,,,,",
            ",,,,,,",
            P_HEADER,
            "Northshire,E06000001,2018/19,alcohol_dependent,1100,900,1400",
            "Southshire,E06000002,2018/19,alcohol_dependent,lots,900,1400",
            ",,,,,,",
            "Source: a made-up table,,,,,,",
        ],
    )
    code, _, err = run("validate", str(path), "--kind", "prevalence")
    assert code == 3 and "line 5 column estimate value 'lots'" in err
    fixed = write(tmp_path / "fixed.csv", path.read_text().replace("lots", "1000").splitlines())
    loaded = load(fixed, "prevalence")
    assert len(loaded.frame) == 2
    assert any("2 line(s) above the header" in n for n in loaded.notes)
    assert any("1 note line(s) below the table (from line 7" in n for n in loaded.notes)
    again = load(fixed, "prevalence", header_row=3)
    assert again.frame["estimate"].tolist() == [1100.0, 1000.0]


def test_excel_sheet_with_a_title_row(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    frame = pd.DataFrame(
        [
            ["Table 1: estimates", None, None, None, None, None, None],
            P_HEADER.split(","),
            ["Northshire", "E06000001", "2018/19", "alcohol_dependent", 1100, 900, 1400],
        ]
    )
    with pd.ExcelWriter(path) as book:
        pd.DataFrame({"x": [1]}).to_excel(book, sheet_name="Cover", index=False)
        frame.to_excel(book, sheet_name="Data", index=False, header=False)
    loaded = load(path, "prevalence", sheet="Data")
    assert loaded.frame["estimate"].tolist() == [1100.0]
    code, _, err = run("validate", str(path), "--kind", "prevalence", "--sheet", "Nope")
    assert code == 2 and "no sheet called 'Nope'" in err


def test_fingertips_export_as_prevalence(tmp_path: Path) -> None:
    """A rate per 1,000 with its count: estimate = Count 1100; limits 9.0-14.0 per 1,000
    scaled by Count / Value = 1100 / 11 = 100: 900-1400. A Category row is a breakdown."""
    header = (
        "Indicator ID,Indicator Name,Area Code,Area Name,Category Type,Category,Time period,"
        "Value,Lower CI 95.0 limit,Upper CI 95.0 limit,Count,Denominator,Value note"
    )
    name = "Estimated prevalence of alcohol dependence (rate per 1000)"
    path = write(
        tmp_path / "fingertips.csv",
        [
            header,
            f"90999,{name},E06000001,Northshire,,,2018/19,11,9,14,1100,100000,",
            f"90999,{name},E06000001,Northshire,Sex,Male,2018/19,15,12,19,700,48000,",
        ],
    )
    loaded = load(path, "prevalence")
    assert loaded.layout == "fingertips"
    row_ = loaded.frame.iloc[0]
    assert (row_["estimate"], row_["lower"], row_["upper"]) == (1100.0, 900.0, 1400.0)
    assert row_["substance"] == "alcohol_dependent" and len(loaded.frame) == 1
    assert any("1 row(s) are a breakdown" in n for n in loaded.notes)


def test_gap_fingertips_out_layout_and_a_bare_year(tmp_path: Path) -> None:
    """330 of 1100 (900-1400) in 2018/19: 70.0 (63.33-76.43); Count = not in treatment
    770, Denominator 1100; --period 2018 is read as 2018/19 with a remark."""
    people = ["2018/19,Northshire,E06000001,alcohol_only,no,30-34,male"] * 330
    t = write(tmp_path / "t.csv", [T_HEADER, *people])
    p = write(
        tmp_path / "p.csv",
        [P_HEADER, "Northshire,E06000001,2018/19,alcohol_dependent,1100,900,1400"],
    )
    out = tmp_path / "ft.csv"
    code, _, err = run(
        "gap",
        "--treatment",
        str(t),
        "--prevalence",
        str(p),
        "--prevalence-years",
        "1",
        "--period",
        "2018",
        "--out-layout",
        "fingertips",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert "--period 2018 is read as the financial year 2018/19" in err
    ft = pd.read_csv(out)
    assert list(ft.columns[:3]) == ["Indicator ID", "Indicator Name", "Area Code"]
    r = ft.iloc[0]
    assert r["Value"] == pytest.approx(70.0)
    assert r["Count"] == pytest.approx(770.0) and r["Denominator"] == pytest.approx(1100.0)
    assert r["Lower CI 95.0 limit"] == pytest.approx(100 * (1 - 330 / 900))
    assert r["Time period"] == "2018/19"
    code, _, err = run("audit", str(out))  # in_treatment read back as Denominator - Count
    assert code == 0, err


def test_fingertips_output_of_the_sample_passes_audit(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ft.parquet"
    args = ["--treatment", str(sample_dir / "extract.csv")]
    args += ["--prevalence", str(sample_dir / "prevalence.csv"), "--total", "All areas"]
    code, _, err = run("gap", *args, "--out-layout", "fingertips", "--out", str(out))
    assert code == 0, err
    table = pd.read_parquet(out)
    assert table["Value note"].eq("Value suppressed for disclosure control").any()
    code, _, err = run("audit", str(out))
    assert code == 0, err


def test_the_same_treatment_file_twice_is_refused(tmp_path: Path) -> None:
    people = ["2018/19,Northshire,E06000001,alcohol_only,no,30-34,male"] * 5
    t = write(tmp_path / "t.csv", [T_HEADER, *people])
    p = write(
        tmp_path / "p.csv",
        [P_HEADER, "Northshire,E06000001,2018/19,alcohol_dependent,1100,900,1400"],
    )
    code, out, err = run(
        "gap", "--treatment", str(t), "--treatment", str(t), "--prevalence", str(p)
    )
    assert code == 2 and out == "" and "given twice" in err
    copy = write(tmp_path / "t2.csv", [T_HEADER, *people])
    code, out, err = run(
        "gap", "--treatment", str(t), "--treatment", str(copy), "--prevalence", str(p)
    )
    assert code == 2 and "both count area 'Northshire' in 2018/19" in err


def test_total_never_adds_england(tmp_path: Path) -> None:
    """Northshire 330 + Southshire 170 = 500 in the total; England's 1000 is not added."""
    rows = ["2018/19,Northshire,E06000001,alcohol_only,false,330"]
    rows += ["2018/19,Southshire,E06000002,alcohol_only,false,170"]
    rows += ["2018/19,England,E92000001,alcohol_only,false,1000"]
    t = write(tmp_path / "c.csv", ["period,area,area_code,drug_group,crack,count", *rows])
    p = write(
        tmp_path / "p.csv",
        [
            P_HEADER,
            "Northshire,E06000001,2018/19,alcohol_dependent,1100,900,1400",
            "Southshire,E06000002,2018/19,alcohol_dependent,900,700,1200",
            "England,E92000001,2018/19,alcohol_dependent,9000,8000,10000",
        ],
    )
    result = gap.compute_files(t, p, GapOptions(prevalence_years=1, total="All areas"))
    total = row(result.table, "All areas", "2018/19")
    assert total["in_treatment"] == 500 and total["prevalence"] == 2000


def test_compare_counts_file_as_a_cohort(tmp_path: Path) -> None:
    """Counts 6 male and 4 female (and a Total row of 10, left out): 60% and 40% of 10."""
    c = write(
        tmp_path / "c.csv",
        [
            "period,area,sex,count",
            "2018/19,Northshire,male,6",
            "2018/19,Northshire,female,4",
            "2018/19,Northshire,Total,10",
        ],
    )
    out = tmp_path / "cmp.csv"
    code, _, err = run(
        "compare", "--cohort", f"A={c}", "--by", "sex", "--k", "0", "--out", str(out)
    )
    assert code == 0, err
    t = pd.read_csv(out).set_index("category")
    assert t.loc["male", "count"] == 6 and t.loc["male", "denominator"] == 10
    assert t.loc["female", "pct"] == pytest.approx(40.0)


def test_compare_refuses_suppressed_counts_cleanly(sample_dir: Path) -> None:
    code, out, err = run(
        "compare", "--cohort", f"A={sample_dir / 'counts.csv'}", "--by", "drug_group"
    )
    assert code == 3 and out == "" and "Traceback" not in err
    assert "a suppressed count is not a number of people" in err


def test_sample_counts_star_bounds_hold_the_true_counts(sample_dir: Path) -> None:
    """data/sample/counts.csv writes counts of 1..4 as '*' (its README): read as 1..4, every
    widened row's in_treatment_min..max holds the count from extract.csv it was made from."""
    options = GapOptions(k=0)
    counted = gap.compute_files(sample_dir / "counts.csv", sample_dir / "prevalence.csv", options)
    truth = gap.compute_files(sample_dir / "extract.csv", sample_dir / "prevalence.csv", options)
    keys = ["area", "period", "substance"]
    both = counted.table.merge(
        truth.table[[*keys, "in_treatment"]], on=keys, suffixes=("", "_true")
    )
    widened = both[both["in_treatment"].isna()]
    assert len(widened) > 0
    inside = (widened["in_treatment_min"] <= widened["in_treatment_true"]) & (
        widened["in_treatment_true"] <= widened["in_treatment_max"]
    )
    assert inside.all(), widened[~inside]


def test_rounding_is_detected_per_area(tmp_path: Path) -> None:
    """England's counts are exact (1001, 507); Barnetshire's 10, 25, 40 are all multiples
    of 5: read as rounded (+-2 each), England not."""
    path = write(
        tmp_path / "c.csv",
        [
            "period,area,drug_group,count",
            "2018/19,England,alcohol_only,1001",
            "2018/19,England,non_opiate_and_alcohol,507",
            "2018/19,Barnetshire,alcohol_only,10",
            "2018/19,Barnetshire,non_opiate_and_alcohol,25",
            "2018/19,Barnetshire,opiate,40",
        ],
    )
    loaded = load(path, "counts")
    by_area = loaded.frame.groupby("area", observed=True)["count_rounding"].max().to_dict()
    assert by_area == {"Barnetshire": 5, "England": 0}
    assert any("every count of Barnetshire is a multiple of 5" in n for n in loaded.notes)


def test_exact_counts_cohort_gives_the_records_table(sample_dir: Path, tmp_path: Path) -> None:
    """The sample extract counted by period x area x sex is the same cohort as the extract:
    compare --by sex --within area gives the same counts, denominators and percentages."""
    records = pd.read_csv(sample_dir / "extract.csv", dtype=str, keep_default_na=False)
    counts = records.groupby(["period", "area", "sex"]).size().rename("count").reset_index()
    path = tmp_path / "counts_by_sex.csv"
    counts.to_csv(path, index=False)
    tables = []
    for name, source in (("records", sample_dir / "extract.csv"), ("counts", path)):
        out = tmp_path / f"{name}.csv"
        args = ["--cohort", f"A={source}", "--by", "sex", "--within", "area"]
        code, _, err = run("compare", *args, "--k", "0", "--out", str(out))
        assert code == 0, err
        tables.append(pd.read_csv(out)[["area", "category", "count", "denominator", "pct"]])
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_swapped_sample_files_are_named(sample_dir: Path) -> None:
    extract, prevalence = sample_dir / "extract.csv", sample_dir / "prevalence.csv"
    code, out, err = run("gap", "--treatment", str(prevalence), "--prevalence", str(extract))
    assert code == 2 and out == "" and f"did you mean --prevalence {prevalence}" in err
    counts = sample_dir / "counts.csv"
    code, out, err = run("gap", "--treatment", str(counts), "--prevalence", str(extract))
    assert code == 2 and f"did you mean --treatment {extract}" in err


def test_did_you_mean_for_kinds_and_columns(sample_dir: Path) -> None:
    extract = str(sample_dir / "extract.csv")
    code, _, err = run("validate", extract, "--kind", "treatmnt")
    assert code == 2 and "did you mean 'treatment'" in err
    code, _, err = run("validate", extract, "--kind", "treatment", "--column", "age_band=ageband")
    assert code == 2 and "did you mean 'age_band'" in err


def test_fingertips_reads_persons_rows_only(tmp_path: Path) -> None:
    """A Sex column with Persons, Male, Female: the Persons row (500) is the estimate."""
    header = "Indicator ID,Indicator Name,Area Code,Area Name,Sex,Time period,Value"
    name = "Estimated number of dependent drinkers"
    path = write(
        tmp_path / "ft.csv",
        [
            header,
            f"1,{name},E06000001,Northshire,Persons,2018/19,500",
            f"1,{name},E06000001,Northshire,Male,2018/19,300",
            f"1,{name},E06000001,Northshire,Female,2018/19,200",
        ],
    )
    loaded = load(path, "prevalence")
    assert loaded.frame["estimate"].tolist() == [500.0]
    assert any("2 row(s) are for one sex" in n for n in loaded.notes)


def test_gap_reads_per_input_header_row_and_layout(tmp_path: Path, realdata: Path) -> None:
    """--header-row prevalence=3 for a prevalence file with two title lines; --layout
    treatment=ndtms-viewit-la forces Barnet's layout. Barnet 2017/18: 265 + 150 = 415."""
    phe = (realdata / PHE).read_text().splitlines()
    prev = write(tmp_path / "phe.csv", ["PHE estimates,,,,,,", "(people),,,,,,", *phe])
    code, out, err = run(
        "gap",
        "--treatment",
        str(realdata / BARNET),
        "--prevalence",
        str(prev),
        "--header-row",
        "prevalence=3",
        "--layout",
        "treatment=ndtms-viewit-la",
        "--period",
        "2017/18",
    )
    assert code == 0, err
    barnet = next(line for line in out.splitlines() if "Barnet" in line)
    assert " 415 " in barnet
    assert "2 line(s) above the header" in out


def test_rounding_can_be_declared(realdata: Path, tmp_path: Path) -> None:
    """--rounded-to 0 reads Barnet's 415 as exact (415..415); the default is ViewIt's +-2
    each (411..419); --rounded-to 7 is refused."""
    out = tmp_path / "g.csv"
    base = ["gap", "--treatment", str(realdata / BARNET), "--prevalence", str(realdata / PHE)]
    base += ["--period", "2017/18", "--out", str(out)]
    code, _, err = run(*base, "--rounded-to", "0")
    assert code == 0, err
    r = row(pd.read_csv(out), "Barnet", "2017/18")
    assert (r["in_treatment_min"], r["in_treatment_max"]) == (415, 415)
    code, _, err = run(*base, "--rounded-to", "7")
    assert code == 2 and "--rounded-to 7" in err


def test_did_you_mean_for_compare_columns_and_substances(sample_dir: Path) -> None:
    extract = str(sample_dir / "extract.csv")
    code, _, err = run("compare", "--cohort", f"A={extract}", "--by", "housng")
    assert code == 2 and "did you mean 'housing'?" in err
    prev = str(sample_dir / "prevalence.csv")
    code, _, err = run("gap", "--treatment", extract, "--prevalence", prev, "--substance", "opiat")
    assert code == 2 and "did you mean 'opiate'?" in err


def test_notes_filling_two_cells_are_refused_with_how_to_skip_them(tmp_path: Path) -> None:
    """'Source:,PHE' (two cells) on line 4 fails as data; the error says --last-row 3,
    which reads the table above it."""
    path = write(
        tmp_path / "noted.csv",
        [
            P_HEADER,
            "Northshire,E06000001,2018/19,alcohol_dependent,1100,900,1400",
            "Southshire,E06000002,2018/19,alcohol_dependent,900,700,1200",
            "Source:,PHE,,,,,",
        ],
    )
    code, out, err = run("validate", str(path), "--kind", "prevalence")
    assert code == 3 and out == ""
    assert "line 4" in err and "give --last-row 3" in err
    code, out, err = run("validate", str(path), "--kind", "prevalence", "--last-row", "3")
    assert code == 0, err
    assert "1 line(s) below line 3 not read" in out + err


def test_benchmark_by_name_or_code(realdata: Path) -> None:
    """2018/19, Barnet as the benchmark: Barnet 100 (3043.33 - 390) / 3043.33 = 87.185%;
    England's interval 100 (1 - 104153 / 487443.33) = 78.63 to 100 (1 - 104153 / 749319)
    = 86.10 lies below it: lower. By code E92000001, England is the benchmark again."""
    paths = [realdata / ENGLAND, realdata / BARNET]
    result = gap.compute_files(
        paths, realdata / PHE, GapOptions(periods=("2018/19",), benchmark="Barnet")
    )
    england = row(result.table, "England", "2018/19")
    assert england["unmet_need_pct_upper"] == pytest.approx(86.10, abs=0.005)
    assert row(result.table, "Barnet", "2018/19")["unmet_need_pct"] == pytest.approx(
        87.185, abs=0.0005
    )
    assert (england["benchmark_area"], england["vs_benchmark"]) == ("Barnet", "lower")
    by_code = gap.compute_files(
        paths, realdata / PHE, GapOptions(periods=("2018/19",), benchmark="E92000001")
    )
    assert row(by_code.table, "Barnet", "2018/19")["benchmark_area"] == "England"


def test_doctests() -> None:
    import doctest

    from unmetneed.inputs import layouts
    from unmetneed.inputs import load as load_module

    assert doctest.testmod(layouts).failed == 0
    assert doctest.testmod(load_module).failed == 0
    assert doctest.testmod(gap).failed == 0


def test_sheet_on_a_csv_is_said_not_silently_ignored(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("area,period,substance,estimate\nX,2024/25,opiate,100\n")
    code, out, err = run("validate", str(path), "--kind", "prevalence", "--sheet", "Data")
    assert code == 0
    assert "--sheet Data not used (not an Excel file)" in out + err


def test_a_counts_cohort_with_a_true_false_column_is_counted_not_a_bug(tmp_path: Path) -> None:
    # 5 people with a mental-health disability, 6 without (red team: exit 1, TypeError).
    path = tmp_path / "mini.csv"
    path.write_text(
        "period,area,disability_mental_health,count\n2024/25,A,true,5\n2024/25,A,no,6\n"
    )
    out = tmp_path / "c.csv"
    code, _, err = run(
        "compare", "--cohort", f"X={path}", "--cohort", f"Y={path}",
        "--by", "disability_mental_health", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    table = pd.read_csv(out)
    x = table[table["cohort"] == "X"].set_index("category")
    assert x.loc["yes", "count"] == 5 and x.loc["no", "count"] == 6
    assert (x["denominator"] == 11).all()
    path.write_text("period,area,disability_mental_health,count\n2024/25,A,maybe,7\n")
    code, _, err = run("compare", "--cohort", f"X={path}", "--by", "disability_mental_health")
    assert code == 2 and "'maybe' is not true/false" in err


def test_a_counts_file_with_a_header_only_is_not_a_bug(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("period,area,drug_group,crack,count\n")
    code, _, err = run("validate", str(path), "--kind", "counts")
    assert code == 0 and "Traceback" not in err
