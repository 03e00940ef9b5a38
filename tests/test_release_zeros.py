"""When a suppressed count may be 0 (release.floors, Piece.zeros).

Compare tables say "A suppressed count may be 0" (their zero rows of a group whose size is
suppressed are suppressed too, and a zero an earlier table suppressed may be suppressed
again). The audit reads the tables as published, so a suppressed count only compare tables
publish may be 0 to it; a gap or suppress table says no such thing, so a count one of them
publishes keeps the policy's floor. Protecting, the true counts are known: a suppressed
count above 0 is taken to be at least the floor (the stronger attacker), and 0 only where
a zero was suppressed (the group rule, or the last resort that keeps a later table's zero
from pinning an earlier table's suppressed zero: ``release.zero_ok``; the red team's three
compare commands in tests/test_redteam_joint.py). Where no suppression protects a new
compare table against that attacker, every zero of a group with a suppressed count is
suppressed too and the table protected again with its suppressed counts possibly 0
(``Release.every_zero``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.disclosure import Cells, Policy, release
from unmetneed.disclosure.release import Def, Piece

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
T, A, B = range(3)
POLICY = Policy.named(k=3)


def _release(values: list[int], gap_shows_t: bool = False) -> release.Release:
    """One compare-like table (T = a + b, zeros said to be possibly hidden) and, with
    ``gap_shows_t``, a gap-like table showing T too."""
    defs = tuple(Def.of("P", {"area": [name]}) for name in "TAB")
    cells = Cells(np.asarray(values, np.int64))
    cells.add_relation(T, [A, B])
    cells.place("count", np.arange(3), np.arange(3))
    pieces = [Piece("compare", cells, defs, zeros=True)]
    if gap_shows_t:
        own = Cells(np.asarray([values[T]], np.int64))
        own.place("count", np.array([0]), np.array([0]))
        pieces.append(Piece("gap", own, (defs[T],)))
    return release.assemble(pieces)


def _hidden(rel: release.Release, *cells: int) -> np.ndarray:
    out = np.zeros(len(rel.cells.values), dtype=bool)
    out[list(cells)] = True
    return out


def _audit_floors(rel: release.Release, hidden: np.ndarray) -> np.ndarray:
    shown = np.where(hidden, np.nan, rel.cells.values.astype(float))
    return release.floors(rel, hidden, POLICY, shown)


def test_auditing_a_count_only_compare_tables_show_may_be_0() -> None:
    """T and a suppressed (b shown): the audit takes both to be at least 0."""
    rel = _release([5, 2, 3])
    assert _audit_floors(rel, _hidden(rel, T, A))[[T, A]].tolist() == [0, 0]


def test_auditing_a_count_a_gap_table_shows_too_keeps_the_floor() -> None:
    """T is in a gap table as well, whose text says nothing of zeros: at least 1."""
    rel = _release([5, 2, 3], gap_shows_t=True)
    assert _audit_floors(rel, _hidden(rel, T, A))[[T, A]].tolist() == [1, 0]


def test_protecting_a_suppressed_count_above_0_is_at_least_the_floor() -> None:
    """Protection knows T = 5 and a = 2: both at least 1, unless the last resort hid a as
    a zero it may be (``zero_ok``)."""
    rel = _release([5, 2, 3])
    hidden = _hidden(rel, T, A)
    assert release.floors(rel, hidden, POLICY)[[T, A]].tolist() == [1, 1]
    rel.zero_ok = _hidden(rel, A)
    assert release.floors(rel, hidden, POLICY)[[T, A]].tolist() == [1, 0]


def test_compare_tables_say_so_in_their_metadata_and_gap_tables_do_not(tmp_path: Path) -> None:
    """The written sidecars carry it (``zeros``), for the audit to read."""
    compare, gap = tmp_path / "compare.csv", tmp_path / "gap.csv"
    runner = CliRunner()
    args = ["compare", "--cohort", f"NDTMS={SAMPLE / 'extract.csv'}"]
    args += ["--cohort", f"OOTU={SAMPLE / 'cohort_ootu.csv'}", "--by", "sex", "--out", str(compare)]
    assert runner.invoke(app, args).exit_code == 0
    args = ["gap", "--treatment", str(SAMPLE / "extract.csv")]
    args += ["--prevalence", str(SAMPLE / "prevalence.csv"), "--out", str(gap)]
    assert runner.invoke(app, args).exit_code == 0
    said = [json.loads(Path(f"{p}.meta.json").read_text())["disclosure"] for p in (compare, gap)]
    assert [d["zeros"] for d in said] == [True, False]


def _compare_age(out: Path, rel: Path, *within: str) -> subprocess.CompletedProcess[str]:
    """``compare --by age`` of the sample's cohorts in bands 18-29,30-39,40-49,50+ (``rel``
    empty: the sample's 5-year bands), into the release folder ``rel``."""
    args = [sys.executable, "-m", "unmetneed", "compare", "--by", "age"]
    args += ["--cohort", f"NDTMS={SAMPLE / 'extract.csv'}"]
    args += ["--cohort", f"OOTU={SAMPLE / 'cohort_ootu.csv'}"]
    for w in within:
        args += ["--within", w]
    if len(within) == 1:
        args += ["--age-bands", "18-29,30-39,40-49,50+"]
    args += ["--out", str(out), "--release", str(rel)]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)


def test_a_fine_table_after_a_coarse_one_suppresses_every_zero_of_its_touched_groups(
    tmp_path: Path,
) -> None:
    """Age by area in 10-year bands, then age by area x substance cohort in 5-year bands:
    an area's published 18-29 count, split by substance cohort, leaves its parts in 1..K to
    an attacker who takes a suppressed count to be at least 1, so the second table is
    protected with every zero of a group that has a suppressed count suppressed too
    (``Release.every_zero``). In it no group (a cohort's area x substance cohort, its
    denominator and age counts) with a suppressed count or denominator shows a zero, and
    the note on stderr is a fixed sentence, the same whatever the counts. The first table
    alone needs no such thing."""
    rel = tmp_path / "rel"
    first = _compare_age(tmp_path / "coarse.csv", rel, "area")
    assert first.returncode == 0 and release.EVERY_ZERO not in first.stderr, first.stderr
    second = _compare_age(tmp_path / "fine.csv", rel, "area", "substance_cohort")
    assert second.returncode == 0, second.stderr[-2000:]
    assert release.EVERY_ZERO in second.stderr.splitlines()  # the same words whatever the data
    table = pd.read_csv(tmp_path / "fine.csv", dtype=str, keep_default_na=False)
    count = pd.to_numeric(table["count"].replace("", np.nan))
    denominator = pd.to_numeric(table["denominator"].replace("", np.nan))
    group = [table[c] for c in ("cohort", "area", "substance_cohort", "variable")]
    touched = (count.isna() | denominator.isna()).groupby(group).transform("any")
    assert touched.any() and (count[touched] == 0).sum() == 0
    assert (count[~touched] == 0).any()  # elsewhere zeros are shown, as the contract says


def test_a_hand_edited_zeros_key_is_refused_with_exit_2(tmp_path: Path) -> None:
    """A sidecar whose ``zeros`` is not true or false (``"yes"``) was edited by hand: the
    audit stops with exit 2 and says which key, never reads it as true."""
    out = tmp_path / "compare.csv"
    args = ["compare", "--cohort", f"OOTU={SAMPLE / 'cohort_ootu.csv'}", "--by", "sex"]
    assert CliRunner().invoke(app, [*args, "--out", str(out)]).exit_code == 0
    sidecar = Path(f"{out}.meta.json")
    meta = json.loads(sidecar.read_text())
    meta["disclosure"]["zeros"] = "yes"
    sidecar.write_text(json.dumps(meta))
    result = CliRunner().invoke(app, ["audit", str(out)])
    assert result.exit_code == 2
    assert "'zeros' must be true or false" in result.output
