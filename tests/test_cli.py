"""Command-line wiring of `validate`: exit codes, stderr text, empty stdout on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unmetneed.cli import app

HEADER = "period,area,drug_group,crack,age_band,sex"
ROW = "2023/24,Northton,opiate,true,35-39,male"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, lines: list[str], name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_valid_file_prints_summary(tmp_path: Path) -> None:
    code, out, err = run(
        "validate", str(write(tmp_path, [HEADER, ROW, ROW])), "--kind", "treatment"
    )
    assert code == 0, err
    assert "rows" in out and "2" in out
    assert "opiate 2 (100%)" in out


def test_bad_age_band_line_14_exit_3(tmp_path: Path) -> None:
    rows = [ROW] * 12 + ["2023/24,Northton,opiate,true,17,male"]
    code, out, err = run("validate", str(write(tmp_path, [HEADER, *rows])), "--kind", "treatment")
    assert code == 3
    assert out == ""
    assert "line 14 column age_band value '17': not one of 18-24" in err


def test_failures_capped_at_20_and_all_written(tmp_path: Path) -> None:
    rows = ["2023/24,Northton,opiate,true,17,male"] * 25
    failures = tmp_path / "fails.csv"
    code, out, err = run(
        "validate",
        str(write(tmp_path, [HEADER, *rows])),
        "--kind",
        "treatment",
        "--failures-out",
        str(failures),
    )
    assert code == 3
    assert err.count("column age_band") == 20
    assert "... and 5 more" in err
    assert len(failures.read_text().strip().splitlines()) == 1 + 25


def test_missing_file_exit_2(tmp_path: Path) -> None:
    code, out, err = run("validate", str(tmp_path / "nope.csv"), "--kind", "treatment")
    assert code == 2
    assert out == ""
    assert "nope.csv: no such file" in err


def test_bad_kind_exit_2(tmp_path: Path) -> None:
    code, _, err = run("validate", str(write(tmp_path, [HEADER, ROW])), "--kind", "people")
    assert code == 2
    assert "--kind 'people'" in err


def test_bad_column_option_exit_2(tmp_path: Path) -> None:
    code, _, err = run(
        "validate", str(write(tmp_path, [HEADER, ROW])), "--kind", "treatment", "--column", "area"
    )
    assert code == 2
    assert "NEW=OLD" in err


def test_nhs_number_column_is_refused_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER + ",nhs_number", ROW + ",9990001234"])
    code, out, err = run("validate", str(path), "--kind", "treatment")
    assert code == 3
    assert "column nhs_number: a direct identifier" in err
    assert "9990001234" not in err + out


def test_no_traceback_for_damaged_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    code, out, err = run("validate", str(path), "--kind", "treatment")
    assert code == 2
    assert "Traceback" not in err
    assert "could not be read" in err


@pytest.mark.parametrize("args", [["--help"], ["validate", "--help"]])
def test_help(args: list[str]) -> None:
    code, out, _ = run(*args)
    assert code == 0 and "Usage" in out


def test_console_script_runs_as_module(tmp_path: Path) -> None:
    """The installed entry point works as a real process (exit code passes through)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "unmetneed",
            "validate",
            str(tmp_path / "none.csv"),
            "--kind",
            "counts",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "no such file" in proc.stderr


def test_flags_are_shown_as_flags_in_help() -> None:
    code, out, _ = run("gap", "--help")
    assert code == 0 and "--strict" in out
    assert "<bool>" not in out


def test_output_piped_into_head_exits_quietly() -> None:
    """A table cut short by `head` is not a bug: exit 0, nothing on stderr but notes."""
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    cmd = [sys.executable, "-m", "unmetneed", "compare"]
    cmd += ["--cohort", f"NDTMS={sample / 'extract.csv'}", "--cohort"]
    cmd += [f"OOTU={sample / 'cohort_ootu.csv'}", "--by", "housing"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait() == 0
    assert "Traceback" not in err and "Error" not in err
