"""Groups of cells checked before are not solved again: protection leaves out the groups an
earlier quarter published and the new tables leave as they were (``release.unchanged``),
and ``audit --release`` remembers the groups it proved (``disclosure.memo``).

Both are only ways of not repeating work: every test here either compares a group's
status with what the law of independent LPs says, or makes a proven group unsafe and
checks that the audit sees it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from typer.testing import CliRunner

from unmetneed.cli import app
from unmetneed.disclosure import Policy, memo
from unmetneed.disclosure.model import Cells
from unmetneed.disclosure.release import (
    Def,
    Piece,
    _shown,
    assemble,
    count_atoms,
    exposed,
    floors,
    protect_release,
    relevant,
    unchanged,
)

POP = "table:t"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _people() -> pd.DataFrame:
    """Records of two periods, three areas, two sexes (and an age column no table of the
    first period uses), seeded."""
    rng = np.random.default_rng(3)
    n = 400
    return pd.DataFrame(
        {
            "period": rng.choice(["Q1", "Q2"], n),
            "area": rng.choice(["A", "B", "C"], n, p=[0.6, 0.35, 0.05]),
            "sex": rng.choice(["f", "m"], n),
            "age": rng.choice(["young", "old"], n),
        }
    )


def _piece(
    name: str, frame: pd.DataFrame, period: str, by: str = "col:sex", earlier: bool = False
) -> Piece:
    """A table of ``period``: its total, each area, each area by ``by`` (counts of
    ``frame``), with its relations; shown as published (K3 primary only) when ``earlier``."""
    column = by.removeprefix("col:")
    mine = frame[frame["period"] == period]
    codes = sorted(frame[column].unique())
    defs = [Def.of(POP, {"period": [period]})]
    values = [len(mine)]
    cells = Cells(np.zeros(0))
    relations: list[tuple[int, list[int]]] = [(0, [])]
    for area in sorted(mine["area"].unique()):
        at = len(defs)
        relations[0][1].append(at)
        defs.append(Def.of(POP, {"period": [period], "area": [area]}))
        values.append(int((mine["area"] == area).sum()))
        parts = []
        for code in codes:
            parts.append(len(defs))
            defs.append(Def.of(POP, {"period": [period], "area": [area], by: [code]}))
            values.append(int(((mine["area"] == area) & (mine[column] == code)).sum()))
        relations.append((at, parts))
    cells = Cells(np.asarray(values))
    for total, parts in relations:
        cells.add_relation(total, parts)
    n = len(values)
    cells.place("count", np.arange(n), np.arange(n))
    shown = None
    if earlier:
        shown = np.where((cells.values >= 1) & (cells.values <= 3), np.nan, cells.values * 1.0)
    return Piece(name, cells, tuple(defs), False, shown)


def _release(frame: pd.DataFrame, pieces: list[Piece]):  # type: ignore[no-untyped-def]
    frames = {POP: frame}
    release = assemble(pieces, frames)
    count_atoms(release, frames, None)
    return release


def _period_cells(release, period: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray([dict(d.where).get("period") == (period,) for d in release.defs])


def test_the_quarter_published_before_is_left_out_and_the_new_one_is_not() -> None:
    frame = _people()
    release = _release(frame, [_piece("q1", frame, "Q1", earlier=True), _piece("q2", frame, "Q2")])
    still = unchanged(release)[: len(release.defs)]
    q1 = _period_cells(release, "Q1")
    assert still[q1].all() and not still[~q1].any()


def test_a_new_area_or_period_leaves_the_old_quarter_as_it_was() -> None:
    frame = _people()
    later = frame.assign(period="Q3", area=np.where(frame["area"] == "C", "D", frame["area"]))
    both = pd.concat([frame, later], ignore_index=True)
    release = _release(both, [_piece("q1", both, "Q1", earlier=True), _piece("q3", later, "Q3")])
    assert unchanged(release)[: len(release.defs)][_period_cells(release, "Q1")].all()


def test_a_new_cell_of_the_old_quarter_brings_it_back() -> None:
    """A table of Q1 by age, published now, ties new cells to Q1's people: Q1 is checked."""
    frame = _people()
    pieces = [_piece("q1", frame, "Q1", earlier=True), _piece("q1-age", frame, "Q1", by="col:age")]
    release = _release(frame, pieces)
    assert not unchanged(release).any()


def test_a_new_variable_anywhere_in_the_population_changes_its_model() -> None:
    """Q2 by age puts a new variable into the population's atoms, Q1's too: nothing is
    left out (the model of every period changed)."""
    frame = _people()
    pieces = [_piece("q1", frame, "Q1", earlier=True), _piece("q2", frame, "Q2", by="col:age")]
    release = _release(frame, pieces)
    assert not unchanged(release)[: len(release.defs)].any()


def _total(frame: pd.DataFrame) -> Piece:
    """A new table of one cell: everyone, of every period."""
    cells = Cells(np.asarray([len(frame)]))
    cells.place("count", np.arange(1), np.arange(1))
    return Piece("all", cells, (Def.of(POP, {}),))


def test_an_earlier_quarter_of_other_periods_is_not_brought_in() -> None:
    """Q1's cells count other atoms than Q2's: protecting Q2 does not read them, unless a
    new cell counts people of every period (then Q1 is tied in and kept)."""
    frame = _people()
    q1, q2 = _piece("q1", frame, "Q1", earlier=True), _piece("q2", frame, "Q2")
    assert relevant([q1], [q2]) == []
    (kept,) = relevant([q1], [q2, _total(frame)])
    assert len(kept.defs) == len(q1.defs)


def test_protected_with_the_old_quarter_left_out_the_whole_release_is_safe() -> None:
    """The law behind leaving a group out: the attacker's LP is block-diagonal, so the
    whole release, checked with nothing left out, has no narrow cell."""
    frame = _people()
    release = _release(frame, [_piece("q1", frame, "Q1", earlier=True), _piece("q2", frame, "Q2")])
    policy = Policy.named(k=3)
    protection = protect_release(release, policy)
    hidden = protection.suppressed
    assert (hidden[release.forced]).all() and not hidden[release.locked].any()
    shown = _shown(release.cells.values, hidden, policy)
    narrow, _, _ = exposed(release, shown, policy, floors(release, hidden, policy))
    assert not narrow.any()


def _blocks(*blocks: np.ndarray) -> sparse.csr_matrix:
    return sparse.csr_matrix(sparse.block_diag(blocks))


def test_a_group_keeps_its_digest_beside_other_groups_and_loses_it_when_it_changes() -> None:
    a = np.array([[-1.0, 1, 1]])  # cell 0 = cell 1 + cell 2
    b = np.array([[-1.0, 1, 1, 1]])
    policy = Policy.named(k=3)
    what_a = np.array([[9, 1, 0, 3], [np.nan, 1, 0, 3], [np.nan, 1, 0, 3]], dtype=float)
    what_b = np.array([[12, 1, 0, 3], [5, 1, 0, 3], [np.nan, 1, 0, 3], [np.nan, 1, 0, 3]], float)
    _, alone = memo.digests(sparse.csr_matrix(a), what_a, policy)
    labels, keys = memo.digests(_blocks(b, a), np.vstack([what_b, what_a]), policy)
    assert keys[labels[4]] == alone[0] and keys[labels[0]] != alone[0]
    changed = what_a.copy()
    changed[0, 0] = 10
    _, other = memo.digests(sparse.csr_matrix(a), changed, policy)
    assert other[0] != alone[0]
    _, wider = memo.digests(sparse.csr_matrix(a), what_a, Policy.named(k=3, width=4))
    assert wider[0] != alone[0]


def _cli(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def _two_periods(tmp_path: Path) -> Path:
    rel = tmp_path / "release"
    for period in ("2023/24", "2024/25"):
        code, said = _cli(
            "gap", "--treatment", SAMPLE / "extract.csv", "--prevalence",
            SAMPLE / "prevalence.csv", "--period", period, "--release", rel,
            "--out", tmp_path / f"gap-{period.replace('/', '-')}.parquet",
        )  # fmt: skip
        assert code == 0, said
    return rel


def _complements(entry: dict) -> list[int]:  # type: ignore[type-arg]
    """The hidden published cells of a register entry that are not small (true > 3)."""
    guard = set(entry["guard"])
    return [
        i
        for i, (true, shown) in enumerate(zip(entry["true"], entry["shown"], strict=True))
        if shown is None and true > 3 and i not in guard
    ]


def test_the_audit_remembers_what_it_proved_and_sees_a_proven_group_change(
    tmp_path: Path,
) -> None:
    rel = _two_periods(tmp_path)
    code, first = _cli("audit", "--release", rel)
    assert code == 0, first
    proven = json.loads((rel / memo.FILE).read_text())["proven"]
    assert proven
    code, again = _cli("audit", "--release", rel)
    assert code == 0 and again == first
    register = json.loads((rel / "register.json").read_text())
    entry = register["tables"][0]
    cells = _complements(entry)
    assert cells, "the sample's first gap table hides no complement"
    for cell in cells:  # as if they had been shown: the small counts they hid are pinned
        entry["shown"][cell] = float(entry["true"][cell])
    (rel / "register.json").write_text(json.dumps(register))
    code, said = _cli("audit", "--release", rel)
    assert code == 4, said
    assert "narrowed below 3" in said
