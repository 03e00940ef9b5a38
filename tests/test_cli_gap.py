"""Command-line wiring of `gap`: output, exit codes, stderr text, nothing written on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.outputs.write import read_meta
from unmetneed.tables.gap import COLUMNS, EXTRA_COLUMNS

T_HEADER = "period,area,area_code,drug_group,crack,age_band,sex"
P_HEADER = "area,area_code,period,substance,estimate,lower,upper"


def run(*args: str) -> tuple[int, str, str]:
    """These tests were worked out with one estimate year (the default is now 3, OHID's
    method: contract 4.1), so gap is given --prevalence-years 1 unless a test says."""
    if args and args[0] == "gap" and "--prevalence-years" not in args:
        args = (*args, "--prevalence-years", "1")
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def inputs(tmp_path: Path, prevalence_rows: list[str] | None = None) -> tuple[Path, Path]:
    """Northshire: 330 dependent drinkers in 2018/19 against 1100 (900-1400), so 70.0
    (63.3-76.4); Smallton: 2 people against 10 (8-12), suppressed."""
    people = ["2018/19,Northshire,E06000001,alcohol_only,no,30-34,male"] * 200
    people += ["2018/19,Northshire,E06000001,non_opiate_and_alcohol,no,30-34,male"] * 130
    people += ["2018/19,Smallton,E06000002,alcohol_only,no,30-34,male"] * 2
    t = write(tmp_path / "treatment.csv", [T_HEADER, *people])
    rows = prevalence_rows or [
        "Northshire,E06000001,2018/19,alcohol_dependent,1100,900,1400",
        "Smallton,E06000002,2018/19,alcohol_dependent,10,8,12",
    ]
    p = write(tmp_path / "prevalence.csv", [P_HEADER, *rows])
    return t, p


def test_table_shows_intervals_suppression_and_remarks(tmp_path: Path) -> None:
    t, p = inputs(tmp_path)
    code, out, err = run("gap", "--treatment", str(t), "--prevalence", str(p))
    assert code == 0, err
    north = next(line for line in out.splitlines() if "Northshire" in line)
    assert "70.0 (63.3-76.4)" in north
    assert "1,100 (900-1,400)" in north and "330" in north
    small = next(line for line in out.splitlines() if "Smallton" in line)
    assert "*" in small and "10 (8-12)" in small
    assert out.index("Northshire") < out.index("Smallton")
    assert "1. prevalence for treatment year 2018/19" in out
    assert "* suppressed" in out


def test_parquet_has_the_pinned_columns_and_disclosure_metadata(tmp_path: Path) -> None:
    t, p = inputs(tmp_path)
    target = tmp_path / "gap.parquet"
    code, out, err = run(
        "gap", "--treatment", str(t), "--prevalence", str(p), "--total", "All", "--out", str(target)
    )
    assert code == 0, err
    assert out == ""
    assert f"Wrote 3 rows to {target}" in err
    frame = pd.read_parquet(target)
    assert list(frame.columns) == list(COLUMNS) + list(EXTRA_COLUMNS)
    assert list(frame["area"]) == ["Northshire", "Smallton", "All"]
    # Smallton's 2, and Northshire or the total so that 2 = total - Northshire is not shown
    assert pd.isna(frame.loc[1, "in_treatment"]) and frame["in_treatment"].isna().sum() >= 2
    assert frame["suppressed"].tolist().count(True) == frame["in_treatment"].isna().sum()
    assert frame["prevalence"].tolist() == [1100, 10, 1110]
    meta = read_meta(target)
    assert meta is not None and meta["table"] == "gap"
    assert meta["disclosure"]["relations"] == [[2, [0, 1]]]
    assert meta["options"]["total"] == "All"


def test_csv_has_the_pinned_header_and_a_sidecar(tmp_path: Path) -> None:
    t, p = inputs(tmp_path)
    target = tmp_path / "gap.csv"
    code, _, err = run("gap", "--treatment", str(t), "--prevalence", str(p), "--out", str(target))
    assert code == 0, err
    header = target.read_text().splitlines()[0].split(",")
    assert header == list(COLUMNS) + list(EXTRA_COLUMNS)
    frame = pd.read_csv(target)
    small = frame[frame["area"] == "Smallton"].iloc[0]
    assert pd.isna(small["in_treatment"]) and bool(small["suppressed"])
    assert small["prevalence"] == 10
    sidecar = json.loads((tmp_path / "gap.csv.meta.json").read_text())
    assert sidecar["disclosure"]["policy"]["k"] == 3


@pytest.mark.parametrize(
    ("bad_row", "column"),
    [
        ("Northshire,E06000001,2018/19,alcohol_dependent,1100,1200,1400", "lower"),
        ("Northshire,E06000001,2018/19,alcohol_dependent,-5,,", "estimate"),
    ],
)
def test_bad_prevalence_file_exits_3_and_writes_nothing(
    tmp_path: Path, bad_row: str, column: str
) -> None:
    t, p = inputs(tmp_path, [bad_row])
    target = tmp_path / "gap.parquet"
    code, out, err = run("gap", "--treatment", str(t), "--prevalence", str(p), "--out", str(target))
    assert code == 3
    assert out == ""
    assert f"line 2 column {column}" in err
    assert "Nothing was written" in err
    assert not target.exists()
    assert set(tmp_path.iterdir()) == {t, p}


def test_duplicate_estimate_exits_3(tmp_path: Path) -> None:
    row = "Northshire,E06000001,2018/19,alcohol_dependent,1100,900,1400"
    t, p = inputs(tmp_path, [row, row])
    code, out, err = run("gap", "--treatment", str(t), "--prevalence", str(p))
    assert code == 3 and out == ""
    assert "line 3 column area value 'Northshire'" in err
    assert "first on line 2" in err


def test_strict_makes_an_area_in_one_file_an_error(tmp_path: Path) -> None:
    t, p = inputs(tmp_path, ["Northshire,E06000001,2018/19,alcohol_dependent,1100,900,1400"])
    target = tmp_path / "gap.csv"
    code, out, _ = run("gap", "--treatment", str(t), "--prevalence", str(p))
    assert code == 0 and "not in the prevalence file" in out
    code, out, err = run(
        "gap", "--treatment", str(t), "--prevalence", str(p), "--strict", "--out", str(target)
    )
    assert code == 3 and out == ""
    assert "line 332 column area value 'Smallton'" in err
    assert not target.exists()


def test_missing_file_and_bad_out_exit_2(tmp_path: Path) -> None:
    t, p = inputs(tmp_path)
    code, out, err = run("gap", "--treatment", str(tmp_path / "nope.csv"), "--prevalence", str(p))
    assert code == 2 and out == ""
    assert "nope.csv: no such file" in err
    code, out, err = run(
        "gap", "--treatment", str(t), "--prevalence", str(p), "--out", str(tmp_path / "x.txt")
    )
    assert code == 2 and out == ""
    assert "--out" in err
    code, _, err = run("gap", "--treatment", str(t), "--prevalence", str(p), "--substance", "tea")
    assert code == 2 and "--substance 'tea'" in err


def test_k_0_warns_and_shows_every_count(tmp_path: Path) -> None:
    t, p = inputs(tmp_path)
    code, out, err = run("gap", "--treatment", str(t), "--prevalence", str(p), "--k", "0")
    assert code == 0
    assert "Warning: suppression is off (--k 0)" in err
    small = next(line for line in out.splitlines() if "Smallton" in line)
    assert "80.0 (75.0-83.3)" in small  # 100 (10 - 2)/10; 100 (1 - 2/8); 100 (1 - 2/12)
    assert "(--k 0)" in out.split("\n1. ", 1)[1]  # a numbered remark, not only the warning


def test_published_column_names_and_a_one_substance_file(tmp_path: Path) -> None:
    """The PHE file's own headers via --column / --prevalence-column, and no substance
    column: --substance names it."""
    t, _ = inputs(tmp_path)
    p = write(
        tmp_path / "alcohol.csv",
        [
            "Local_Authority,Area_Code_GSS,Alcohol_dependent,Alcohol_lower_CI,Alcohol_upper_CI,Year",
            "Northshire,E06000001,1100,900,1400,2018/19",
            "Smallton,E06000002,10,8,12,2018/19",
        ],
    )
    args = [
        "gap",
        "--treatment",
        str(t),
        "--prevalence",
        str(p),
        "--column",
        "area=Local_Authority",
        "--column",
        "area_code=Area_Code_GSS",
        "--prevalence-column",
        "estimate=Alcohol_dependent",
        "--prevalence-column",
        "lower=Alcohol_lower_CI",
        "--prevalence-column",
        "upper=Alcohol_upper_CI",
        "--column",
        "period=Year",
    ]
    code, out, err = run(*args)
    assert code == 2 and "has no substance column" in err
    code, out, err = run(*args, "--substance", "alcohol")
    assert code == 0, err
    assert "70.0 (63.3-76.4)" in out
    code, _, err = run(*args, "--substance", "alcohol", "--column", "area=LA_Name")
    assert code == 2 and "neither file has a column 'LA_Name'" in err


def test_period_option_and_its_errors(tmp_path: Path) -> None:
    t, p = inputs(tmp_path)
    code, out, _ = run("gap", "--treatment", str(t), "--prevalence", str(p), "--period", "2018-19")
    assert code == 0 and "Northshire" in out
    code, out, err = run(
        "gap", "--treatment", str(t), "--prevalence", str(p), "--period", "2019/20"
    )
    assert code == 2 and out == ""
    assert "--period 2019/20: not in" in err and "2018/19" in err


def test_help_has_an_example() -> None:
    code, out, _ = run("gap", "--help")
    assert code == 0
    assert "Example:" in out and "data/sample/extract.csv" in out


def test_sample_data_runs(sample_dir: Path, tmp_path: Path) -> None:
    extract, prevalence = sample_dir / "extract.csv", sample_dir / "prevalence.csv"
    if not (extract.exists() and prevalence.exists()):
        pytest.skip("data/sample/ is not built yet")
    target = tmp_path / "gap.parquet"
    code, _, err = run(
        "gap", "--treatment", str(extract), "--prevalence", str(prevalence), "--out", str(target)
    )
    assert code == 0, err
    frame = pd.read_parquet(target)
    assert list(frame.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert not frame["in_treatment"].between(1, 3).any()


def test_failures_out_saves_every_failure(tmp_path: Path) -> None:
    t, p = inputs(tmp_path, ["Northshire,E06000001,2018/19,alcohol_dependent,1100,1200,1000"])
    fails = tmp_path / "fails.csv"
    code, out, _ = run(
        "gap", "--treatment", str(t), "--prevalence", str(p), "--failures-out", str(fails)
    )
    assert code == 3 and out == ""
    frame = pd.read_csv(fails)
    assert sorted(frame["column"]) == ["lower", "upper"]
    assert set(frame["line"]) == {2}


def test_real_files_england_2019_20_with_one_column_option_for_both(realdata: Path) -> None:
    """The published files as they are: `--column` renames go to whichever file has the
    column (both have a period and an area column). England 2019/20: 104,880 against the
    mean of 2015/16-2017/18, 590,579 (487,443-749,319): 82.2 (78.5-86.0)."""
    renames = {
        "period": ["ReportingPeriod_Data", "Year"],
        "area": ["Area_Data", "Local_Authority"],
        "drug_group": ["DrugGroup_Data"],
        "sex": ["Gender_Data"],
        "count": ["Num_InTreatment_AllInTx"],
        "area_code": ["Area_Code_GSS"],
        "estimate": ["Alcohol_dependent"],
        "lower": ["Alcohol_lower_CI"],
        "upper": ["Alcohol_upper_CI"],
    }
    options = [f"--column={new}={old}" for new, olds in renames.items() for old in olds]
    code, out, err = run(
        "gap",
        "--treatment",
        str(realdata / "ndtms_viewit_england.csv"),
        "--prevalence",
        str(realdata / "alcohol_dependence_estimates_by_la.csv"),
        "--substance",
        "alcohol",
        "--prevalence-years",
        "3",
        "--period",
        "2019/20",
        *options,
    )
    assert code == 0, err
    england = next(line for line in out.splitlines() if "England" in line)
    assert "104,880" in england and "590,579 (487,443-749,319)" in england
    assert "82.2 (78.5-86.0)" in england
