"""Command-line wiring of `anonymise`: exit codes, what is written, nothing on failure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.extract.anonymise import smallest_group
from unmetneed.inputs.load import load
from unmetneed.outputs.write import read_meta

HEADER = (
    "client_id,nhs_number,date_of_birth,postcode,period,area,area_code,drug_group,crack,"
    "sex,ethnicity,religion,sexuality,nationality"
)
WHITE = (
    "C1,9990000001,1990-06-01,ZZ99 1AA,2023/24,Northton,E06900001,Opiates,N,M,A,"
    "Christian,Heterosexual,British"
)
UNSTATED = WHITE.replace(",A,", ",Z,")
BLACK = WHITE.replace(",A,", ",M,")
CHILD = WHITE.replace("1990-06-01", "2010-01-01")
QUASI = ("area", "age_band", "sex", "ethnicity", "sexuality", "religion", "nationality")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def raw_file(tmp_path: Path, rows: list[str], name: str = "raw.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_writes_a_k_anonymous_extract_and_the_loss(tmp_path: Path) -> None:
    raw = raw_file(tmp_path, [WHITE] * 3 + [UNSTATED] * 3 + [BLACK, CHILD])
    out, rep = tmp_path / "extract.parquet", tmp_path / "loss.csv"
    code, stdout, stderr = run(
        "anonymise", str(raw), "--k", "3", "--out", str(out), "--report", str(rep)
    )
    assert code == 0, stderr
    extract = load(out, "treatment").frame
    assert len(extract) == 7
    assert smallest_group(extract, QUASI) >= 3
    assert "client_id" not in extract and "date_of_birth" not in extract
    loss = pd.read_csv(rep)
    black = loss[(loss["variable"] == "ethnicity") & (loss["category"] == "black")].iloc[0]
    assert (black["rows"], black["rows_lost_value"], black["rows_removed"]) == (1, 1, 0)
    meta = read_meta(out)
    assert meta is not None and meta["anonymise"]["k"] == 3
    assert "under 18" in stdout
    assert "ethnicity" in stdout and "black" in stdout


def test_same_input_gives_byte_identical_output(tmp_path: Path) -> None:
    raw = raw_file(tmp_path, [WHITE] * 3 + [UNSTATED] * 3 + [BLACK])
    for name in ("a.csv", "b.csv"):
        assert run("anonymise", str(raw), "--out", str(tmp_path / name))[0] == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_quasi_option_comma_separated(tmp_path: Path) -> None:
    raw = raw_file(tmp_path, [WHITE] * 2 + [BLACK])
    out = tmp_path / "x.csv"
    code, _stdout, stderr = run("anonymise", str(raw), "--quasi", "area,sex", "--out", str(out))
    assert code == 0, stderr
    assert len(pd.read_csv(out)) == 3  # area and sex alike: nothing to do


def test_plan_prints_and_writes_no_extract(tmp_path: Path) -> None:
    asian = WHITE.replace(",A,", ",H,")
    raw = raw_file(tmp_path, [WHITE] * 3 + [BLACK] * 2 + [asian])
    rep = tmp_path / "plan.csv"
    code, stdout, stderr = run("anonymise", str(raw), "--plan", "--report", str(rep))
    assert code == 0, stderr
    assert "contract codes" in stdout and "ethnicity 2 groups" in stdout
    table = pd.read_csv(rep)
    lost = table.set_index("plan")["rows_lost_value"]
    # 2 Black + 1 Asian lose their ethnicity to pool; as "global majority" they are 3
    assert (lost["contract codes"], lost["ethnicity 2 groups"]) == (3, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.csv", "raw.csv"]


def test_validation_failure_exit_3_nothing_written(tmp_path: Path) -> None:
    raw = raw_file(tmp_path, [WHITE] * 3 + [WHITE.replace(",A,", ",Q,")])
    out, rep, fails = tmp_path / "x.parquet", tmp_path / "loss.csv", tmp_path / "fails.csv"
    code, stdout, stderr = run(
        "anonymise",
        str(raw),
        "--out",
        str(out),
        "--report",
        str(rep),
        "--failures-out",
        str(fails),
    )
    assert code == 3
    assert "line 5 column ethnicity value 'Q'" in stderr
    assert stdout == ""
    assert not out.exists() and not rep.exists()
    assert pd.read_csv(fails)[["line", "column", "value"]].values.tolist() == [
        [5, "ethnicity", "Q"]
    ]


def test_excel_dates_of_birth(tmp_path: Path) -> None:
    rows = [dict(zip(HEADER.split(","), line.split(","), strict=True)) for line in [WHITE] * 3]
    frame = pd.DataFrame(rows).assign(date_of_birth=pd.Timestamp("1990-06-01"))
    frame.to_excel(tmp_path / "raw.xlsx", index=False)
    out = tmp_path / "x.csv"
    code, _stdout, stderr = run("anonymise", str(tmp_path / "raw.xlsx"), "--out", str(out))
    assert code == 0, stderr
    assert pd.read_csv(out)["age_band"].tolist() == ["30-34"] * 3


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    raw = raw_file(tmp_path, [WHITE] * 3)
    out = tmp_path / "x.csv"
    cases = [
        (["--out", str(out), "--quasi", "postcode"], "--quasi postcode"),
        (["--plan", "--out", str(out)], "--plan"),
        ([], "--out FILE is required"),
        (["--out", str(tmp_path / "x.txt")], "--out"),
        (["--out", str(out), "--method", "best"], "--method"),
        (["--out", str(out), "--k", "-2"], "--k -2"),
    ]
    for extra, message in cases:
        code, stdout, stderr = run("anonymise", str(raw), *extra)
        assert code == 2, (extra, stderr)
        assert message in stderr
        assert stdout == ""
        assert not out.exists()
    code, _stdout, stderr = run("anonymise", str(tmp_path / "none.csv"), "--out", str(out))
    assert code == 2 and "no such file" in stderr


def test_k_0_warns(tmp_path: Path) -> None:
    raw = raw_file(tmp_path, [WHITE, BLACK])
    out = tmp_path / "x.csv"
    code, _stdout, stderr = run("anonymise", str(raw), "--k", "0", "--out", str(out))
    assert code == 0
    assert "no k-anonymity" in stderr
    assert len(pd.read_csv(out)) == 2


def test_sample_raw_records(sample_dir: Path, tmp_path: Path) -> None:
    raw = sample_dir / "raw_records.csv"
    if not raw.exists():
        import pytest

        pytest.skip("data/sample/raw_records.csv is not there yet")
    out = tmp_path / "extract.parquet"
    code, stdout, stderr = run("anonymise", str(raw), "--k", "3", "--out", str(out))
    assert code == 0, stderr
    extract = load(out, "treatment").frame
    assert smallest_group(extract, QUASI) >= 3
    assert "deleting every group smaller than k would remove" in stdout


def test_column_renames_reach_date_of_birth_and_contract_columns(tmp_path: Path) -> None:
    header = HEADER.replace("date_of_birth", "DateOfBirth").replace("ethnicity", "EthnicCode")
    path = tmp_path / "raw.csv"
    path.write_text("\n".join([header, *[WHITE] * 3]) + "\n")
    out = tmp_path / "x.csv"
    code, _stdout, stderr = run(
        "anonymise",
        str(path),
        "--out",
        str(out),
        "--column",
        "date_of_birth=DateOfBirth",
        "--column",
        "ethnicity=EthnicCode",
    )
    assert code == 0, stderr
    released = pd.read_csv(out)
    assert released["ethnicity"].tolist() == ["white"] * 3
    assert "DateOfBirth" not in released and "date_of_birth" not in released
    code, _stdout, stderr = run("anonymise", str(path), "--out", str(out) + ".csv")
    assert code == 3 and "give age_band, date_of_birth or age" in stderr
