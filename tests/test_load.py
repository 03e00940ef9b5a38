"""Loading: formats, renames, normalisation, and the exact failures validation reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from unmetneed.errors import Failure, InputError, UsageError, ValidationError
from unmetneed.inputs.load import load

HEADER = "period,area,drug_group,crack,age_band,sex"
GOOD = [
    "2023/24,Northton,opiate,true,35-39,male",
    "2023/24,Northton,Opiates,Y,40-44,F",
    "2023-24,Southwick,alcohol only,no,65 and over,Male",
]


def write_csv(tmp_path: Path, lines: list[str], name: str = "x.csv", **kw: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding=kw.get("encoding", "utf-8"))
    return path


def failures_of(path: Path, kind: str, **kw: object) -> list[Failure]:
    with pytest.raises(ValidationError) as info:
        load(path, kind, **kw)  # type: ignore[arg-type]
    return info.value.failures


def test_normalises_spellings_to_ordered_categoricals(tmp_path: Path) -> None:
    frame = load(write_csv(tmp_path, [HEADER, *GOOD]), "treatment").frame
    assert frame["drug_group"].tolist() == ["opiate", "opiate", "alcohol_only"]
    assert frame["sex"].tolist() == ["male", "female", "male"]
    assert frame["age_band"].tolist() == ["35-39", "40-44", "65+"]
    assert frame["period"].tolist() == ["2023/24"] * 3
    assert frame["crack"].tolist() == [True, True, False]
    assert list(frame["sex"].cat.categories) == ["male", "female", "other", "not_stated"]
    assert str(frame["crack"].dtype) == "boolean"


def test_bad_age_band_on_line_14_is_named(tmp_path: Path) -> None:
    rows = [GOOD[0]] * 12 + ["2023/24,Northton,opiate,true,17,male"]
    failures = failures_of(write_csv(tmp_path, [HEADER, *rows]), "treatment")
    assert len(failures) == 1
    assert failures[0].line == 14
    assert failures[0].column == "age_band"
    assert failures[0].value == "17"
    assert failures[0].rule.startswith("not one of 18-24, 25-29")


def test_every_failure_is_collected(tmp_path: Path) -> None:
    rows = [
        "2023/24,Northton,heroin,true,35-39,male",  # line 2: drug_group
        "2023/24,,opiate,maybe,35-39,male",  # line 3: area blank, crack
        "2023/25,Northton,opiate,true,35-39,dog",  # line 4: period, sex
    ]
    got = {
        (f.line, f.column, f.value)
        for f in failures_of(write_csv(tmp_path, [HEADER, *rows]), "treatment")
    }
    assert got == {
        (2, "drug_group", "heroin"),
        (3, "area", ""),
        (3, "crack", "maybe"),
        (4, "period", "2023/25"),
        (4, "sex", "dog"),
    }


def test_missing_required_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, ["period,area,drug_group,age_band,sex", "2023/24,N,opiate,35-39,male"]
    )
    failures = failures_of(path, "treatment")
    assert [(f.line, f.column) for f in failures] == [(None, "crack")]
    assert "required column is missing" in failures[0].rule


def test_identifier_column_is_refused_by_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [HEADER + ",NHS Number", GOOD[0] + ",9990000001"])
    failures = failures_of(path, "treatment")
    assert [f.column for f in failures] == ["NHS Number"]
    assert "direct identifier" in failures[0].rule


def test_identifiers_allowed_in_prevalence_files_only_when_not_people(tmp_path: Path) -> None:
    # a prevalence file is about areas, not people: no identifier rule applies
    path = write_csv(tmp_path, ["area,period,substance,estimate,name", "N,2017/18,opiate,10,x"])
    assert len(load(path, "prevalence").frame) == 1


def test_bom_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(
        "\ufeff".encode()
        + (
            "\n".join([HEADER.replace(",", ";"), *[g.replace(",", ";") for g in GOOD]]) + "\n"
        ).encode()
    )
    frame = load(path, "treatment").frame
    assert list(frame.columns[:2]) == ["period", "area"]
    assert len(frame) == 3


def test_cp1252_csv(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path, [HEADER, "2023/24,Bristol – City,opiate,true,35-39,male"], encoding="cp1252"
    )
    assert load(path, "treatment").frame["area"].tolist() == ["Bristol – City"]


def test_rename_with_column_mapping_and_header_keys(tmp_path: Path) -> None:
    lines = ["Year,Local Authority,Drug Group,Crack,Age Band,Gender", GOOD[0]]
    frame = load(
        write_csv(tmp_path, lines),
        "treatment",
        columns={"period": "Year", "area": "Local Authority", "sex": "Gender"},
    ).frame
    assert frame.loc[0, "area"] == "Northton"


def test_mapping_to_absent_column_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no column 'Nope'"):
        load(write_csv(tmp_path, [HEADER, GOOD[0]]), "treatment", columns={"area": "Nope"})


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load(tmp_path / "absent.csv", "treatment")


def test_bad_quoting_is_an_input_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [HEADER, '2023/24,"Northton,opiate,true,35-39,male'])
    with pytest.raises(InputError):
        load(path, "treatment")


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(InputError, match="unknown file type"):
        load(path, "treatment")


def test_counts_with_suppression_markers(tmp_path: Path) -> None:
    lines = [
        "period,area,count",
        "2023/24,A,10",
        "2023/24,B,*",
        "2023/24,C,<5",
        "2023/24,D,",
        "2023/24,E,[c]",
        "2023/24,F,~",
        "2023/24,G,1,234",
    ]
    path = write_csv(tmp_path, lines[:-1] + ['2023/24,G,"1,234"'])
    loaded = load(path, "counts")
    frame = loaded.frame
    assert frame["count"].tolist()[0] == 10
    assert frame["count"].isna().tolist() == [False, True, True, True, True, True, False]
    assert frame["count_suppressed"].tolist() == [False, True, True, True, True, True, False]
    assert frame["count_upper"].tolist()[2] == 4
    assert frame["count"].tolist()[-1] == 1234
    assert loaded.rounded_to is None


def test_counts_all_multiples_of_five_are_noted_as_rounded(tmp_path: Path) -> None:
    loaded = load(
        write_csv(tmp_path, ["period,area,count", "2023/24,A,10", "2023/24,B,0", "2023/24,C,35"]),
        "counts",
    )
    assert loaded.rounded_to == 5
    assert any("multiple of 5" in n for n in loaded.notes)


@pytest.mark.parametrize("value", ["-1", "2.5", "lots"])
def test_bad_counts(tmp_path: Path, value: str) -> None:
    failures = failures_of(
        write_csv(tmp_path, ["period,area,count", f"2023/24,A,{value}"]), "counts"
    )
    assert [(f.line, f.column, f.value) for f in failures] == [(2, "count", value)]


def test_prevalence_bounds_rules(tmp_path: Path) -> None:
    lines = [
        "area,period,substance,estimate,lower,upper",
        "A,2017/18,opiate,100,120,150",  # lower above estimate
        "B,2017/18,opiate,100,80,90",  # upper below estimate
        "C,2017/18,opiate,-5,NA,NA",  # negative estimate
        "D,2017/18 Q1,opiate,10,NA,NA",
    ]  # a quarter is not a prevalence period
    got = {
        (f.line, f.column, f.value, f.rule.split()[0])
        for f in failures_of(write_csv(tmp_path, lines), "prevalence")
    }
    assert got == {
        (2, "lower", "120", "lower"),
        (3, "upper", "90", "upper"),
        (4, "estimate", "-5", "not"),
        (5, "period", "2017/18 Q1", "not"),
    }


def test_prevalence_substance_option_fills_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["area,period,estimate", "A,2012,10"])
    loaded = load(path, "prevalence", substance="Alcohol")
    assert loaded.frame["substance"].tolist() == ["alcohol_dependent"]
    assert loaded.frame["period"].tolist() == ["2012/13"]
    assert any("bare year" in n for n in loaded.notes)


def test_parquet_xlsx_and_sav_load_the_same(tmp_path: Path) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    raw = pd.DataFrame([g.split(",") for g in GOOD], columns=HEADER.split(","))
    raw.to_parquet(tmp_path / "x.parquet")
    raw.to_excel(tmp_path / "x.xlsx", index=False, sheet_name="extract")
    pyreadstat.write_sav(raw, str(tmp_path / "x.sav"))
    expected = load(write_csv(tmp_path, [HEADER, *GOOD]), "treatment").frame
    for name in ("x.parquet", "x.xlsx", "x.sav"):
        got = load(tmp_path / name, "treatment").frame
        pd.testing.assert_frame_equal(got, expected, check_categorical=False)


def test_xlsx_sheet_option_and_row_numbers(tmp_path: Path) -> None:
    raw = pd.DataFrame([g.split(",") for g in GOOD], columns=HEADER.split(","))
    bad = raw.copy()
    bad.loc[2, "sex"] = "cat"
    with pd.ExcelWriter(tmp_path / "book.xlsx") as xl:
        raw.to_excel(xl, index=False, sheet_name="good")
        bad.to_excel(xl, index=False, sheet_name="bad")
    assert len(load(tmp_path / "book.xlsx", "treatment").frame) == 3
    with pytest.raises(ValidationError) as info:
        load(tmp_path / "book.xlsx", "treatment", sheet="bad")
    assert [(f.line, f.column, f.value) for f in info.value.failures] == [(4, "sex", "cat")]
    with pytest.raises(InputError, match="no sheet called 'nope'"):
        load(tmp_path / "book.xlsx", "treatment", sheet="nope")


def test_load_does_not_touch_the_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [HEADER, *GOOD])
    before = path.read_bytes()
    load(path, "treatment")
    assert path.read_bytes() == before
