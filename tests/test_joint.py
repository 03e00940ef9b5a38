"""Tables of counts from elsewhere (``suppress``) published into one release are margins of
one table of the same people, and are protected together (contract 4.4;
``unmetneed.disclosure.joint``).

The attack here is written apart from ``disclosure/``: an LP over the a x b x c table of
people, reading only the published margins, with the true table checked against every
constraint it builds.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from redteam import scenarios as sc
from unmetneed.disclosure import joint
from unmetneed.disclosure.release import RAW, Def

WIDTH = 3  # K3: every suppressed count keeps an attacker range of at least 3 people
LABELS = {"a": [f"a{i}" for i in range(5)], "b": [f"b{i}" for i in range(4)], "c": ["c0", "c1"]}
LABELS["c"].append("c2")


def _cube(seed: int) -> np.ndarray:
    """A sparse 5 x 4 x 3 table of people (about 40% empty cells)."""
    rng = np.random.default_rng(seed)
    return rng.poisson(1.2, (5, 4, 3)) * (rng.random((5, 4, 3)) > 0.4)


def _margin(cube: np.ndarray, dims: tuple[str, str]) -> pd.DataFrame:
    """The two-way margin of ``cube`` over ``dims``, with Total rows and columns."""
    axes = "abc"
    inner = cube.sum(axis=next(i for i, d in enumerate(axes) if d not in dims))
    rows = []
    for i, j in itertools.product(range(inner.shape[0] + 1), range(inner.shape[1] + 1)):
        x = LABELS[dims[0]][i] if i < inner.shape[0] else "Total"
        y = LABELS[dims[1]][j] if j < inner.shape[1] else "Total"
        take_i = slice(i, i + 1) if i < inner.shape[0] else slice(None)
        take_j = slice(j, j + 1) if j < inner.shape[1] else slice(None)
        value = int(inner[take_i, take_j].sum())
        rows.append({dims[0]: x, dims[1]: y, "count": value})
    return pd.DataFrame(rows)


def _in_hidden_block(frame: pd.DataFrame, dims: tuple[str, str], row: pd.Series) -> bool:
    """Whether a cell is a part of a suppressed total (its zeros are suppressed too, so it
    may be 0): the row with Total in one of its non-total dimensions, the rest the same."""
    for d in dims:
        if row[d] == "Total":
            continue
        (other,) = [o for o in dims if o != d]
        total = frame[(frame[d] == "Total") & (frame[other] == row[other])]
        if total["suppressed"].astype(bool).any():
            return True
    return False


def _attack(published: dict[tuple[str, str], pd.DataFrame], truth: np.ndarray) -> list[str]:
    """Suppressed counts whose range over every a x b x c table agreeing with all the
    published margins is narrower than the width (a suppressed count is >= 1 unless a
    total it adds up to is suppressed too: the remarks' rule)."""
    shape = truth.shape
    n = truth.size
    index = np.arange(n).reshape(shape)
    eq_rows, eq_rhs, hidden = [], [], []
    for dims, frame in published.items():
        axis = {"a": 0, "b": 1, "c": 2}
        for _, row in frame.iterrows():
            pick = [slice(None)] * 3
            for d in dims:
                if row[d] != "Total":
                    pick[axis[d]] = LABELS[d].index(row[d])
            vector = np.zeros(n)
            vector[index[tuple(pick)].ravel()] = 1
            assert vector @ truth.ravel() >= 0
            if bool(row["suppressed"]):
                totals_hidden = _in_hidden_block(frame, dims, row)
                hidden.append((f"{dims} {row[dims[0]]},{row[dims[1]]}", vector, totals_hidden))
            else:
                eq_rows.append(vector)
                eq_rhs.append(float(row["count"]))
    a_eq, b_eq = np.asarray(eq_rows), np.asarray(eq_rhs)
    assert np.allclose(a_eq @ truth.ravel(), b_eq), "the true table breaks a shown count"
    ub = [(-v, -1.0) for _, v, may_be_zero in hidden if not may_be_zero]
    for name, vector, may_be_zero in hidden:
        true = vector @ truth.ravel()
        assert may_be_zero or true >= 1, f"{name}: a suppressed true zero the rules exclude"
    a_ub = np.asarray([u for u, _ in ub]) if ub else None
    b_ub = np.asarray([b for _, b in ub]) if ub else None
    narrow = []
    for name, vector, _ in hidden:
        lo = optimize.linprog(vector, a_ub, b_ub, a_eq, b_eq, bounds=(0, None), method="highs")
        hi = optimize.linprog(-vector, a_ub, b_ub, a_eq, b_eq, bounds=(0, None), method="highs")
        assert lo.status == 0 and hi.status == 0, f"{name}: the attacker's LP failed"
        if -hi.fun - lo.fun < WIDTH - 1e-6:
            narrow.append(f"{name}: {lo.fun:.2f}..{-hi.fun:.2f}")
    return narrow


@pytest.mark.parametrize("seed", [16, 3, 29])
def test_margins_of_one_table_suppressed_apart_are_protected_together(
    tmp_path: Path, seed: int
) -> None:
    """Three `suppress --total-row --release DIR` commands on the a x b, a x c and b x c
    margins of one table: no suppressed count of any of them is narrower than 3 people
    to an LP over the whole table, and `audit --release DIR` passes."""
    cube, rel = _cube(seed), tmp_path / "rel"
    published = {}
    for dims in (("a", "b"), ("a", "c"), ("b", "c")):
        src, out = tmp_path / f"{''.join(dims)}.csv", tmp_path / f"{''.join(dims)}.out.csv"
        _margin(cube, dims).to_csv(src, index=False)
        step = sc.cli(
            ["suppress", str(src), "--total-row", "--out", str(out), "--release", str(rel)]
        )
        assert "protected apart" not in step.stderr
        published[dims] = pd.read_csv(out, dtype={"a": str, "b": str, "c": str})
    assert _attack(published, cube) == []
    assert sc.run(["audit", "--release", rel]).returncode == 0


def test_a_table_of_other_people_is_protected_apart_and_the_user_told(tmp_path: Path) -> None:
    """A table whose counts contradict the release's earlier suppress tables (a0's total
    is 9 there, 50 here) cannot be their margin: it is protected on its own terms, with
    a note on stderr, and the release still audits."""
    cube, rel = _cube(16), tmp_path / "rel"
    first = tmp_path / "ab.csv"
    _margin(cube, ("a", "b")).to_csv(first, index=False)
    sc.cli(["suppress", str(first), "--total-row", "--out", str(tmp_path / "ab.out.csv"),
            "--release", str(rel)])  # fmt: skip
    other = tmp_path / "other.csv"
    other.write_text("a,count\na0,50\na1,3\nTotal,53\n", encoding="utf-8")
    out = tmp_path / "other.out.csv"
    step = sc.cli(["suppress", str(other), "--total-row", "--out", str(out), "--release", str(rel)])
    assert "protected apart" in step.stderr and "other.csv" in step.stderr
    shown = pd.read_csv(out)
    assert shown.loc[shown["a"] == "a1", "count"].isna().all()  # 3 people: suppressed
    assert sc.run(["audit", "--release", rel]).returncode == 0


def test_people_of_counts_every_cell_exactly() -> None:
    """The table of people found for the three margins of a table reproduces every cell of
    them (a law: any table the cells agree with does)."""
    cube = _cube(16)
    defs, values = [], []
    for dims in (("a", "b"), ("a", "c"), ("b", "c")):
        for _, row in _margin(cube, dims).iterrows():
            where = {RAW + d: [row[d]] for d in dims if row[d] != "Total"}
            defs.append(Def.of("p", where))
            values.append(int(row["count"]))
    unique = {d.key: (d, v) for d, v in zip(defs, values, strict=True)}
    cells = list(unique.values())
    people = joint.people_of([d for d, _ in cells], np.asarray([v for _, v in cells]))
    assert people is not None
    assert int(people["count"].sum()) == int(cube.sum())
    for d, v in cells:
        mask = np.ones(len(people), dtype=bool)
        for variable, codes in d.where:
            mask &= people[variable[len(RAW) :]].isin(codes).to_numpy()
        assert int(people.loc[mask, "count"].sum()) == v, d.key


def test_people_of_margins_that_disagree_is_none() -> None:
    """5 women and 5 men are not 6 people; they can be 12 (2 of another sex) when the sex
    table has no Total row, but 3 young and 3 old (of 6, with other ages) can be."""
    defs = [Def.of("p", {RAW + "sex": [s]}) for s in ("F", "M")] + [Def.of("p", {})]
    assert joint.people_of(defs, np.asarray([5, 5, 6])) is None
    people = joint.people_of(defs, np.asarray([5, 5, 12]))
    assert people is not None and people["count"].sum() == 12
    assert people.loc[people["sex"] == "~rest", "count"].sum() == 2
