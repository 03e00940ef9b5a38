"""Command-line wiring of `suppress` and `audit`: exit codes, stderr, nothing written on failure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.outputs.write import read_meta, write_table

# Areas A, B, C by sex with totals: the 1 (A male) and the 2 (C female) are small.
TABLE = """area,sex,count
A,male,1
A,female,20
A,Total,21
B,male,15
B,female,12
B,Total,27
C,male,9
C,female,2
C,Total,11
Total,male,25
Total,female,34
Total,Total,59
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def table(tmp_path: Path, text: str = TABLE) -> Path:
    path = tmp_path / "counts.csv"
    path.write_text(text)
    return path


def test_suppress_writes_a_protected_table_that_audit_passes(tmp_path: Path) -> None:
    out = tmp_path / "protected.csv"
    code, _, err = run(
        "suppress", str(table(tmp_path)), "--k", "3", "--total-row", "--out", str(out)
    )
    assert code == 0, err
    written = pd.read_csv(out)
    # the rectangle A/C x male/female: 2 small counts and 2 complements
    assert (
        written["count"].isna().tolist()
        == [True, True, False] + [False] * 3 + [True, True] + [False] * 4
    )
    assert written["suppressed"].sum() == 4
    meta = read_meta(out)
    assert meta is not None and "n_secondary" not in meta["disclosure"]  # no side channel
    assert "n_primary" not in meta["disclosure"] and "1..3 suppressed" not in err
    code, stdout, err = run("audit", str(out))
    assert code == 0, err
    assert "passed" in err
    assert "area=A, sex=male" in stdout


def test_suppress_to_parquet_and_audit(tmp_path: Path) -> None:
    out = tmp_path / "protected.parquet"
    code, _, err = run("suppress", str(table(tmp_path)), "--total-row", "--out", str(out))
    assert code == 0, err
    assert run("audit", str(out))[0] == 0


def test_audit_exits_4_and_names_the_cells_of_a_doctored_table(tmp_path: Path) -> None:
    out = tmp_path / "protected.csv"
    run("suppress", str(table(tmp_path)), "--total-row", "--out", str(out))
    meta = read_meta(out)
    doctored = pd.read_csv(out)
    doctored.loc[[1, 6], "count"] = [20, 9]  # reveal the two complements
    write_table(doctored, out, meta)
    code, _, err = run("audit", str(out))
    assert code == 4
    assert "failed the disclosure audit" in err
    assert "area=A, sex=male" in err and "area=C, sex=female" in err


def test_audit_without_metadata_exits_2_unless_structure_is_given(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text(TABLE.replace("A,male,1\n", "A,male,*\n"))
    code, stdout, err = run("audit", str(plain))
    assert code == 2
    assert "no disclosure metadata" in err
    assert stdout == ""
    # with its structure given, the lone * is worked out as 21 - 20 = 1
    code, _, err = run("audit", str(plain), "--total-row")
    assert code == 4
    assert "to [1, 1]" in err


def test_suppress_refuses_bad_counts_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "protected.csv"
    bad = table(
        tmp_path, TABLE.replace("B,female,12", "B,female,x").replace("C,male,9", "C,male,-1")
    )
    code, stdout, err = run("suppress", str(bad), "--total-row", "--out", str(out))
    assert code == 3
    assert "line 6 column count value 'x'" in err
    assert "line 8 column count value '-1'" in err
    assert not out.exists() and stdout == ""


def test_suppress_refuses_totals_that_do_not_add_up(tmp_path: Path) -> None:
    out = tmp_path / "protected.csv"
    bad = table(tmp_path, TABLE.replace("A,Total,21", "A,Total,22"))
    code, _, err = run("suppress", str(bad), "--total-row", "--out", str(out))
    assert code == 3
    assert "line 4 column count value '22'" in err
    assert "sum of its 2 parts (21" in err
    assert not out.exists()


def test_suppress_asks_for_total_row_when_the_table_has_totals(tmp_path: Path) -> None:
    out = tmp_path / "protected.csv"
    code, _, err = run("suppress", str(table(tmp_path)), "--out", str(out))
    assert code == 2
    assert "--total-row" in err
    assert not out.exists()


def test_suppress_k0_warns_and_records_it(tmp_path: Path) -> None:
    out = tmp_path / "plain.csv"
    code, _, err = run(
        "suppress", str(table(tmp_path)), "--k", "0", "--total-row", "--out", str(out)
    )
    assert code == 0
    assert "Warning: --k 0" in err
    meta = read_meta(out)
    assert meta is not None and meta["disclosure"]["policy"]["k"] == 0
    assert "turned off" in meta["remarks"][0]
    assert pd.read_csv(out)["count"].notna().all()


def test_suppress_bad_options_exit_2(tmp_path: Path) -> None:
    path = str(table(tmp_path))
    assert run("suppress", path, "--policy", "nope", "--total-row")[0] == 2
    assert run("suppress", path, "--hierarchy", "area", "--total-row")[0] == 2
    assert run("suppress", path, "--total-row", "--out", str(tmp_path / "x.txt"))[0] == 2
    assert run("suppress", str(tmp_path / "missing.csv"))[0] == 2


def test_suppress_with_a_hierarchy_protects_region_rows(tmp_path: Path) -> None:
    # Region N holds A and B, region S holds C; region rows are named after the region.
    text = "region,area,count\nN,A,1\nN,B,15\nS,C,9\nN,N,16\nS,S,9\n,Total,25\n"
    out = tmp_path / "regions.csv"
    code, stdout, err = run(
        "suppress",
        str(table(tmp_path, text)),
        "--total-row",
        "--hierarchy",
        "area=region",
        "--out",
        str(out),
    )
    assert code == 0, err
    meta = read_meta(out)
    assert meta is not None
    # N = A + B, S = C, and Total = A + B + C
    assert sorted(
        map(tuple, (tuple([t, tuple(p)]) for t, p in meta["disclosure"]["relations"]))
    ) == [
        (3, (0, 1)),
        (4, (2,)),
        (5, (0, 1, 2)),
    ]
    assert run("audit", str(out))[0] == 0


def test_suppress_shows_stars_in_the_terminal(tmp_path: Path) -> None:
    code, stdout, _ = run("suppress", str(table(tmp_path)), "--total-row")
    assert code == 0
    assert "*" in stdout
