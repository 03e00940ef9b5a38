"""The attacker's fast paths for many small blocks agree with a plain LP attacker.

- Closed form for a block of one relation (:func:`attacker.one_relation`): random rows of
  parts with their total shown or hidden, and stars (one shown denominator, several
  variables' categories each adding up to it).
- Batched LPs (one model for every block, one objective per round): stars whose
  denominator is hidden, with cells never published (unbounded maxima).
- ``protect`` on a table of many independent blocks gives the same pattern as protecting
  each block on its own, and no primary can be narrowed below the width.

The reference attacker is ``scipy.optimize.linprog`` per bound over every cell, dense.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from unmetneed.disclosure import Cells, Policy, attacker, protect
from unmetneed.disclosure.attacker import certify, intervals, knowledge

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(
    relations: list[tuple[int, list[int]]], lower: np.ndarray, upper: np.ndarray, cells: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """[min, max] of each of ``cells`` by dense ``linprog``, rounded inwards."""
    n = len(lower)
    a = np.zeros((len(relations), n))
    for r, (total, parts) in enumerate(relations):
        a[r, total] -= 1
        np.add.at(a[r], parts, 1)
    bounds = [(lo, None if np.isinf(hi) else hi) for lo, hi in zip(lower, upper, strict=True)]
    low, high = [], []
    for c in cells:
        cost = np.zeros(n)
        cost[c] = 1
        lo = linprog(cost, A_eq=a, b_eq=np.zeros(len(a)), bounds=bounds, method="highs")
        hi = linprog(-cost, A_eq=a, b_eq=np.zeros(len(a)), bounds=bounds, method="highs")
        assert lo.status == 0, "the true table must be feasible for the attacker"
        low.append(np.ceil(lo.fun - 1e-6))
        high.append(np.inf if hi.status == 3 else np.floor(-hi.fun + 1e-6))
    return np.array(low), np.array(high)


def blocks_of(relations: list[tuple[int, list[int]]], values: list[int]) -> Cells:
    """Cells with ``values`` and ``relations``."""
    cells = Cells(values)
    for total, parts in relations:
        cells.add_relation(total, parts)
    return cells


def check_intervals(cells: Cells, hidden: np.ndarray, policy: Policy) -> attacker.Reduced:
    """The library's intervals of every hidden cell equal the reference attacker's; certify
    claims no cell the reference finds narrower than the width.
    """
    shown = np.where(hidden, np.nan, cells.values.astype(float))
    know = knowledge(cells.matrix(), shown, cells.published(), policy)
    targets = np.flatnonzero(hidden & cells.published())
    low, high = intervals(know, targets)
    ref_low, ref_high = reference(cells.relations, know.lower, know.upper, targets.tolist())
    assert low.tolist() == ref_low.tolist()
    assert high.tolist() == ref_high.tolist()
    width = policy.protection_width
    proven = certify(know, targets, width)
    assert not (proven & ((ref_high - ref_low) < width)).any()
    return attacker.reduce(know)


counts = st.lists(st.integers(0, 12), min_size=1, max_size=6)


@st.composite
def rows(draw: st.DrawFn) -> tuple[Cells, np.ndarray]:
    """Several independent rows ``total = sum(parts)``, some cells hidden (total may be)."""
    values: list[int] = []
    relations = []
    for parts in draw(st.lists(counts, min_size=1, max_size=4)):
        base = len(values)
        values += [sum(parts), *parts]
        relations.append((base, list(range(base + 1, base + 1 + len(parts)))))
    hidden = draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    return blocks_of(relations, values), np.array(hidden)


@st.composite
def stars(draw: st.DrawFn, total_hidden: bool) -> tuple[Cells, np.ndarray]:
    """A denominator and several variables' categories each adding up to it."""
    first = draw(counts)
    denominator = sum(first)
    values, relations = [denominator], []
    for split in [first, *draw(st.lists(counts, min_size=1, max_size=3))]:
        share = np.array(split, float) + 1
        parts = np.random.default_rng(len(values)).multinomial(denominator, share / share.sum())
        relations.append((0, list(range(len(values), len(values) + len(parts)))))
        values += parts.tolist()
    hidden = np.array(draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))))
    hidden[0] = total_hidden
    return blocks_of(relations, values), hidden


floors = st.sampled_from([Policy.named(k=3), Policy.named(k=3, zeros=True)])


@SETTINGS
@given(rows(), floors)
def test_closed_form_of_single_relations_agrees_with_the_lp_attacker(
    table: tuple[Cells, np.ndarray], policy: Policy
) -> None:
    cells, hidden = table
    hidden &= cells.values >= policy.floor  # hidden cells really are at least the floor
    red = check_intervals(cells, hidden, policy)
    single, _, _ = attacker.one_relation(red)
    assert single.all(), "every block here is a single relation"


@SETTINGS
@given(stars(total_hidden=False), floors)
def test_closed_form_of_a_star_with_its_total_shown_agrees_with_the_lp_attacker(
    table: tuple[Cells, np.ndarray], policy: Policy
) -> None:
    cells, hidden = table
    hidden &= cells.values >= policy.floor
    red = check_intervals(cells, hidden, policy)
    assert attacker.one_relation(red)[0].all()


@SETTINGS
@given(stars(total_hidden=True), floors, st.booleans())
def test_batched_lps_of_stars_with_a_hidden_total_agree_with_the_lp_attacker(
    table: tuple[Cells, np.ndarray], policy: Policy, unpublished: bool
) -> None:
    cells, hidden = table
    hidden &= cells.values >= policy.floor
    if unpublished:  # the first category of each variable is never shown: max unbounded
        firsts = [parts[0] for _, parts in cells.relations]
        keep = np.setdiff1d(np.arange(len(cells.values)), firsts)
        cells.place("count", keep, keep)
    check_intervals(cells, hidden, policy)


def test_batched_lps_fall_back_to_their_own_model_when_a_maximum_is_unbounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a star with a hidden total and a part never published (its maximum is unbounded),
    # and a bounded chain 5 = 6 + 7, 6 = 8 + 9 with 5 shown
    relations = [(0, [1, 2]), (0, [3, 4]), (5, [6, 7]), (6, [8, 9])]
    cells = blocks_of(relations, [5, 2, 3, 4, 1, 9, 5, 4, 2, 3])
    cells.place("count", np.array([0, 2, 3, 4, 5, 6, 7, 8, 9]), np.arange(9))
    hidden = np.arange(10) != 5
    own = []
    solve_alone = attacker._own_extremes

    def spy(red: attacker.Reduced, b: int, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        own.append(len(cols))
        return solve_alone(red, b, cols)

    monkeypatch.setattr(attacker, "_own_extremes", spy)
    check_intervals(cells, hidden, Policy.named(k=3))
    assert own == [4], "only the unbounded block (its 4 published cells) is solved alone"


def many_blocks(seed: int, n: int = 20) -> tuple[Cells, list[list[int]]]:
    """``n`` independent blocks (rows with a total; stars of two variables) and their cells."""
    rng = np.random.default_rng(seed)
    values: list[int] = []
    relations, groups = [], []
    for _ in range(n):
        base = len(values)
        if rng.random() < 0.5:
            parts = rng.integers(0, 9, rng.integers(2, 6)).tolist()
            values += [sum(parts), *parts]
            relations.append((base, list(range(base + 1, base + 1 + len(parts)))))
        else:
            a = rng.integers(0, 8, rng.integers(2, 4))
            b = rng.multinomial(int(a.sum()), np.ones(3) / 3)
            values += [int(a.sum()), *a.tolist(), *b.tolist()]
            relations.append((base, list(range(base + 1, base + 1 + len(a)))))
            relations.append((base, list(range(base + 1 + len(a), base + 4 + len(a)))))
        groups.append(list(range(base, len(values))))
    return blocks_of(relations, values), groups


def test_many_independent_blocks_are_protected_as_each_block_alone() -> None:
    policy = Policy.named(k=3)
    for seed in range(6):
        cells, groups = many_blocks(seed)
        whole = protect(cells, policy)
        alone = np.zeros(len(cells.values), bool)
        for group in groups:
            index = {c: i for i, c in enumerate(group)}
            own = [
                (index[t], [index[p] for p in parts]) for t, parts in cells.relations if t in index
            ]
            alone[group] = protect(blocks_of(own, cells.values[group].tolist()), policy).suppressed
        assert whole.suppressed.tolist() == alone.tolist()
        primaries = np.flatnonzero(whole.primary)
        know = knowledge(cells.matrix(), whole.shown, cells.published(), policy)
        low, high = reference(cells.relations, know.lower, know.upper, primaries.tolist())
        assert ((high - low) >= policy.protection_width).all()


def one_small_per_block(seed: int, n: int = 15) -> Cells:
    """``n`` rows with one small count each; every third shares its total with a second
    variable of no small counts (a star).
    """
    rng = np.random.default_rng(seed)
    values: list[int] = []
    relations = []
    for i in range(n):
        base = len(values)
        parts = rng.choice([0, 4, 5, 6, 7, 9, 11], rng.integers(2, 5)).tolist()
        parts[rng.integers(len(parts))] = int(rng.integers(1, 4))
        values += [sum(parts), *parts]
        relations.append((base, list(range(base + 1, base + 1 + len(parts)))))
        if i % 3 == 0:
            total, cut = sum(parts), sum(parts) // 2
            extra = [cut, total - cut] if min(cut, total - cut) >= 4 else [total]
            relations.append((base, list(range(len(values), len(values) + len(extra)))))
            values += extra
    return blocks_of(relations, values)


def test_many_independent_blocks_keep_the_pattern_of_the_per_block_path() -> None:
    # computed by the per-block certifier (one scipy/HiGHS model per block) before batching
    expected = [1, 3, 8, 9, 11, 12, 15, 16, 22, 23, 25, 27, 30, 31, 33, 35, 37, 38, 43, 44]
    expected += [48, 50, 54, 55, 60, 61, 65, 66, 69, 70]
    suppressed = protect(one_small_per_block(0), Policy.named(k=3)).suppressed
    assert np.flatnonzero(suppressed).tolist() == expected
