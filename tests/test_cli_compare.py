"""Command-line wiring of `compare`: exit codes, stderr, what is printed and written."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.outputs.write import read_meta

PINNED = [
    "cohort",
    "area",
    "variable",
    "category",
    "count",
    "denominator",
    "pct",
    "pct_lower",
    "pct_upper",
    "suppressed",
]
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def crack_users(tmp_path: Path) -> Path:
    """27 out-of-treatment crack users: learning 1, mental health 23, physical 13; housing
    urgent 2, problem 5, no problem 20 (a published-shaped table)."""
    lines = [
        "area,drug_group,crack,disability_learning,disability_mental_health,"
        "disability_physical,housing"
    ]
    for i in range(27):
        housing = "urgent" if i < 2 else "problem" if i < 7 else "no housing problem"
        flags = ["Y" if i < cut else "N" for cut in (1, 23, 13)]
        lines.append(f"Northton,Opiates,Y,{','.join(flags)},{housing}")
    path = tmp_path / "ootu.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def extract(tmp_path: Path, n: int = 40) -> Path:
    """A small treatment extract for Northton with housing and disability columns."""
    head = (
        "period,area,drug_group,crack,age_band,sex,disability_learning,"
        "disability_mental_health,disability_physical,housing"
    )
    rows = []
    for i in range(n):
        housing = ("no_problem", "housing_problem", "urgent_housing_problem", "")[i % 4]
        flags = ",".join("true" if (i + j) % 3 == 0 else "false" for j in range(3))
        rows.append(f"2023/24,Northton,opiate,true,35-39,male,{flags},{housing}")
    path = tmp_path / "extract.csv"
    path.write_text("\n".join([head, *rows]) + "\n")
    return path


def test_wide_view_prints_the_published_percentages(tmp_path: Path) -> None:
    code, out, err = run(
        "compare",
        "--cohort",
        f"OOTU={crack_users(tmp_path)}",
        "--by",
        "disability",
        "--by",
        "housing",
        "--wide",
        "--k",
        "0",
    )
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("│ OOTU"))
    cells = [c.strip() for c in line.strip("│ ").split("│")]
    # cohort, n, then learning yes/no/ns, mental yes/no/ns, physical yes/no/ns, housing x4
    assert cells[:2] == ["OOTU", "27"]
    assert [cells[2], cells[5], cells[8]] == ["4", "85", "48"]
    assert cells[11:14] == ["74", "19", "7"]
    assert "Warning: suppression is off" in err


def test_default_k3_shows_no_small_count(tmp_path: Path) -> None:
    code, out, err = run(
        "compare", "--cohort", f"OOTU={crack_users(tmp_path)}", "--by", "disability", "--wide"
    )
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("│ OOTU"))
    assert line.split("│")[3].strip() == "*"  # learning disability: 1 person
    assert "suppressed" in out


def test_out_parquet_and_csv_have_pinned_columns_and_metadata(tmp_path: Path) -> None:
    for suffix in (".parquet", ".csv"):
        target = tmp_path / f"table{suffix}"
        code, out, err = run(
            "compare",
            "--cohort",
            f"NDTMS={extract(tmp_path)}",
            "--cohort",
            f"OOTU={crack_users(tmp_path)}",
            "--by",
            "disability",
            "--by",
            "housing",
            "--within",
            "area",
            "--out",
            str(target),
        )
        assert code == 0, err
        assert out == ""
        assert f"to {target}" in err
        frame = pd.read_parquet(target) if suffix == ".parquet" else pd.read_csv(target)
        assert frame.columns[: len(PINNED)].tolist() == PINNED
        assert {"diff_pp", "diff_lower", "diff_upper", "test", "p_value"} <= set(frame.columns)
        shown = frame["count"].dropna()
        assert not ((shown >= 1) & (shown <= 3)).any()
        meta = read_meta(target)
        assert meta is not None and meta["table"] == "compare"
        assert meta["disclosure"]["policy"]["k"] == 3
        assert meta["options"]["cohorts"] == ["NDTMS", "OOTU"]


def test_wide_with_out_writes_the_view_beside_the_table(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    code, _, err = run(
        "compare",
        "--cohort",
        f"OOTU={crack_users(tmp_path)}",
        "--by",
        "housing",
        "--wide",
        "--cells",
        "n-pct",
        "--k",
        "0",
        "--out",
        str(target),
    )
    assert code == 0, err
    view = pd.read_csv(tmp_path / "t_wide.csv")
    assert view.loc[0, "housing: no_problem"] == "20 (74%)"
    assert pd.read_csv(target).columns[0] == "cohort"
    assert read_meta(target)["options"]["k"] == 0  # type: ignore[index]


def test_k0_warns_and_is_recorded(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    code, _, err = run(
        "compare",
        "--cohort",
        f"OOTU={crack_users(tmp_path)}",
        "--by",
        "housing",
        "--k",
        "0",
        "--out",
        str(target),
    )
    assert code == 0
    assert "Warning: suppression is off (--k 0)" in err
    meta = read_meta(target)
    assert meta is not None
    assert meta["options"]["suppression"] == "off"
    assert meta["disclosure"]["policy"]["k"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--age-bands", "18-27,28-39,40+"], "splits the 5-year band 25-29"),
        (["--by", "religion"], "has no column religion"),
        (["--k", "-1"], "--k -1"),
        (["--cells", "n"], "--cells 'n'"),
        (["--kind", "counts"], "--kind 'counts'"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    target = tmp_path / "t.csv"
    code, out, err = run(
        "compare",
        "--cohort",
        f"OOTU={crack_users(tmp_path)}",
        "--by",
        "housing",
        *extra,
        "--out",
        str(target),
    )
    assert code == 2, err
    assert message in err
    assert out == ""
    assert not target.exists()
    assert not list(tmp_path.glob("*.meta.json"))


def test_unreadable_and_invalid_inputs(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    code, out, err = run(
        "compare", "--cohort", f"X={tmp_path / 'none.csv'}", "--by", "sex", "--out", str(target)
    )
    assert (code, out) == (2, "")
    assert "no such file" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("area,sex\nNorthton,male\nNorthton,robot\n")
    code, out, err = run("compare", "--cohort", f"X={bad}", "--by", "sex", "--out", str(target))
    assert (code, out) == (3, "")
    assert "line 3 column sex value 'robot'" in err
    assert not target.exists()


def test_bad_out_suffix_fails_before_reading(tmp_path: Path) -> None:
    code, _, err = run(
        "compare", "--cohort", f"X={tmp_path / 'none.csv'}", "--by", "sex", "--out", "t.txt"
    )
    assert code == 2
    assert "--out t.txt" in err


def test_one_file_with_a_cohort_column(tmp_path: Path) -> None:
    path = tmp_path / "both.csv"
    path.write_text("cohort,sex\n" + "A,male\n" * 6 + "B,female\n" * 5 + "B,male\n" * 4)
    code, out, err = run("compare", "--cohort", str(path), "--by", "sex", "--exclude-not-stated")
    assert code == 0, err
    assert re.search(r"│ B\s+│ sex\s+│ male\s+│\s+4 │\s+9 │", out)
    assert "not_stated" not in out


def test_help_has_an_example() -> None:
    code, out, _ = run("compare", "--help")
    assert code == 0
    assert "Example: unmetneed compare --cohort NDTMS=data/sample/extract.csv" in out


@pytest.mark.skipif(not (SAMPLE / "cohort_ootu.csv").exists(), reason="no sample data yet")
def test_sample_example_runs(tmp_path: Path) -> None:
    target = tmp_path / "compare.parquet"
    args = [
        "compare",
        "--cohort",
        f"NDTMS={SAMPLE / 'extract.csv'}",
        "--cohort",
        f"OOTU={SAMPLE / 'cohort_ootu.csv'}",
        "--by",
        "disability",
        "--by",
        "housing",
        "--within",
        "area",
        "--within",
        "substance_cohort",
    ]
    code, out, err = run(*args)
    assert code == 0, err
    assert "Cohort comparison: NDTMS vs OOTU" in out
    code, _, err = run(*args, "--out", str(target))
    assert code == 0, err
    frame = pd.read_parquet(target)
    assert frame.columns[:11].tolist() == [
        "cohort",
        "area",
        "substance_cohort",
        *PINNED[2:],
    ]
    for name in ("count", "denominator"):
        shown = frame[name].dropna()
        assert not ((shown >= 1) & (shown <= 3)).any()


def test_two_runs_write_identical_bytes(tmp_path: Path) -> None:
    outputs = []
    for name in ("a.csv", "b.csv"):
        target = tmp_path / name
        code, _, err = run(
            "compare",
            "--cohort",
            f"NDTMS={extract(tmp_path)}",
            "--cohort",
            f"OOTU={crack_users(tmp_path)}",
            "--by",
            "disability",
            "--by",
            "housing",
            "--k",
            "0",
            "--out",
            str(target),
        )
        assert code == 0, err
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert b"fisher_monte_carlo" in outputs[0] or b"chi2" in outputs[0]
