"""Protection and audit part by part (a national release cut into parts of areas).

A certificate or a deviation found over one part's cells, the others held at a table that
fits, is one of the whole release: so whatever the attacker certifies by parts must hold
against exact intervals over the whole table, and what the complement search lifts by parts
must stand against an attacker written apart from ``disclosure/`` (the red team's). The
limits that switch parts on at national size are lowered here to their least.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.optimize import linprog

from redteam import scenarios as sc
from unmetneed.disclosure import Policy, attacker, lp

WIDTH = 3
PARTS_CLI = Path(__file__).parent / "redteam" / "parts_cli.py"


def national(inner: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """An area x category table with area totals, category totals and a grand total:
    ``matrix @ x == 0`` (one row per total), the true cells, and each cell's part (two
    areas a part; -1 for the national totals, in every part). Cells: inner (area-major),
    then area totals, then category totals, then the grand total."""
    n_area, n_cat = inner.shape
    n = n_area * n_cat + n_area + n_cat + 1
    at_area = n_area * n_cat
    at_cat = at_area + n_area
    rows: list[dict[int, float]] = []
    for a in range(n_area):
        rows.append({at_area + a: -1.0, **{a * n_cat + c: 1.0 for c in range(n_cat)}})
    for c in range(n_cat):
        rows.append({at_cat + c: -1.0, **{a * n_cat + c: 1.0 for a in range(n_area)}})
    rows.append({n - 1: -1.0, **{at_area + a: 1.0 for a in range(n_area)}})
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [j for row in rows for j in row]
    v = [x for row in rows for x in row.values()]
    matrix = sparse.csr_matrix((v, (r, c)), shape=(len(rows), n))
    values = np.concatenate(
        [inner.ravel(), inner.sum(axis=1), inner.sum(axis=0), [inner.sum()]]
    ).astype(np.float64)
    part = np.full(n, -1, dtype=np.int64)
    part[:at_area] = np.repeat(np.arange(n_area) // 2, n_cat)
    part[at_area:at_cat] = np.arange(n_area) // 2
    return matrix, values, part


def exact(matrix: sparse.csr_matrix, lower: np.ndarray, upper: np.ndarray, cell: int) -> tuple:
    """The attacker's [min, max] of ``cell`` over the whole table, by scipy's linprog
    (apart from ``disclosure/``), rounded inwards."""
    cost = np.zeros(matrix.shape[1])
    cost[cell] = 1.0
    bounds = list(zip(lower, np.where(np.isinf(upper), None, upper), strict=True))
    zero = np.zeros(matrix.shape[0])
    low = linprog(cost, A_eq=matrix, b_eq=zero, bounds=bounds, method="highs")
    high = linprog(-cost, A_eq=matrix, b_eq=zero, bounds=bounds, method="highs")
    assert low.status == 0 and high.status in (0, 3)
    top = np.inf if high.status == 3 else -high.fun
    return np.ceil(low.fun - 1e-6), np.floor(top + 1e-6)


def hidden_knowledge(
    inner: np.ndarray, hidden: np.ndarray | None = None, seed: int = 0, truth: bool = True
) -> tuple[sparse.csr_matrix, np.ndarray, attacker.Knowledge, np.ndarray]:
    """The table :func:`national` makes of ``inner`` with ``hidden`` cells suppressed
    (default: the small ones and 40% of the rest at random, from ``seed``), every cell
    published, a suppressed count possibly 0: its relations, true counts, the attacker's
    knowledge (starting from the true counts when ``truth``) and the hidden cells."""
    matrix, values, part = national(inner)
    if hidden is None:
        rng = np.random.default_rng(seed)
        hidden = ((values >= 1) & (values <= WIDTH)) | (rng.random(len(values)) < 0.4)
    policy = Policy.named(k=WIDTH, zeros=True)  # hidden cells may be 0
    shown = np.where(hidden, np.nan, values)
    published = np.ones(len(values), dtype=bool)
    point = values if truth else None
    know = attacker.knowledge(matrix, shown, published, policy, None, point, part)
    return matrix, values, know, np.flatnonzero(hidden)


tables = st.integers(4, 7).flatmap(
    lambda areas: st.lists(
        st.lists(st.integers(0, 9), min_size=3, max_size=3), min_size=areas, max_size=areas
    )
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables, st.integers(0, 2**16))
def test_what_parts_certify_holds_over_the_whole_table(rows: list[list[int]], seed: int) -> None:
    """Every hidden cell certified wide part by part has an exact interval of at least the
    width; every cell said to possibly be 0 has an exact minimum of 0."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attacker, "PARTS_FROM", 0)
        check_parts(rows, seed)


def check_parts(rows: list[list[int]], seed: int) -> None:
    """The body of the property above (parts switched on)."""
    matrix, values, know, targets = hidden_knowledge(np.asarray(rows), seed=seed)
    if not len(targets):
        return
    ok = attacker.certify(know, targets, WIDTH)
    zero = attacker.can_be_zero(know, targets)
    for cell, wide, empty in zip(targets.tolist(), ok.tolist(), zero.tolist(), strict=True):
        low, high = exact(matrix, know.lower, know.upper, cell)
        assert low <= values[cell] <= high  # the truth is one of the attacker's tables
        if wide:
            assert high - low >= WIDTH, (cell, low, high)
        if empty:
            assert low == 0, (cell, low)


def test_a_national_count_wide_only_across_parts_is_certified_by_a_walk() -> None:
    """Eight areas of one person each (category 0 or 1: suppressed, either may be 0), area
    totals and the grand total shown: each category's national count ranges over 0..8
    (worked by hand), yet two areas (a part: 9 cells with the national ones, parts joined
    no larger here) move it by 2 at most, under the width 3. Parts alone leave it narrow;
    two tables walked from part to part prove it wide. The areas' counts (0..1) stay
    narrow."""
    categories = np.array([24, 25])  # after 16 inner cells and 8 area totals
    hidden = np.zeros(27, dtype=bool)
    hidden[:16] = hidden[categories] = True
    matrix, _, know, targets = hidden_knowledge(np.array([[1, 0]] * 8), hidden)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attacker, "PARTS_FROM", 0)
        patch.setattr(attacker, "PART_MOST", 9)
        ok = attacker.certify(know, targets, WIDTH)
        patch.setattr(attacker, "_walked", lambda *args: np.zeros(len(args[2]), dtype=bool))
        parts_only = attacker.certify(know, targets, WIDTH)
    assert ok.tolist() == [False] * 16 + [True, True]
    assert not parts_only.any()
    assert [exact(matrix, know.lower, know.upper, int(c)) for c in categories] == [(0, 8)] * 2


def test_national_cells_are_tried_in_the_parts_in_turn() -> None:
    parts = np.array([0, 0, 1, 1, 2, -1, -1, -1, -1])
    assert attacker.homes(parts, np.array([5, 6, 7, 8, 2])).tolist() == [0, 1, 2, 0, 1]


@pytest.mark.parametrize("scenario", [sc.quarterly, sc.dozen_compares])
def test_a_release_protected_part_by_part_resists_the_red_team(
    scenario: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample's runs with parts of two areas from any size (``parts_cli.py``):
    attacked with the red team's own LP over the published files, truth checked."""
    monkeypatch.setenv("REDTEAM_CLI", f"{sys.executable} {PARTS_CLI}")
    out = scenario(tmp_path)  # type: ignore[operator]
    report = out.attack(use_manifest=True)
    assert not report.exact and not report.narrow, report.summary(15)
    assert not report.group_disclosures and not report.small_shown, report.summary(15)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables, st.integers(0, 2**16))
def test_parts_from_the_audits_own_start_hold_over_the_whole_table(
    rows: list[list[int]], seed: int
) -> None:
    """As above, without the true counts: the searches start from a table an LP finds
    (the audit's case: an interior point, else a vertex)."""
    matrix, _, know, targets = hidden_knowledge(np.asarray(rows), seed=seed, truth=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attacker, "PARTS_FROM", 0)
        know = attacker.fitting(know)
        ok = attacker.certify(know, targets, WIDTH)
    for cell, wide in zip(targets.tolist(), ok.tolist(), strict=True):
        low, high = exact(matrix, know.lower, know.upper, cell)
        if wide:
            assert high - low >= WIDTH, (cell, low, high)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables, st.integers(0, 2**16))
def test_intervals_asked_only_about_the_width_answer_it_as_the_exact_ones_do(
    rows: list[list[int]], seed: int
) -> None:
    """``intervals(..., width)`` may skip a count the tables solved so far put the width
    apart: each range it gives lies inside the exact one, and reaches the width exactly
    when the exact one does."""
    check_intervals(rows, seed)


class Stopped:
    """Every warm simplex model stopped as a slow one is: its next solve after
    ``limit_time`` raises, as HiGHS's time limit does. Counts the models stopped and the
    interior-point models built."""

    def __init__(self) -> None:
        self.stopped = 0
        self.ipm = 0
        self.build = attacker._block_model

    def limit_time(self, model: lp.Model, seconds: float) -> None:
        """The model's next solve raises, as when its time limit is reached."""

        def stop(maximise: bool = False) -> tuple[str, float, np.ndarray]:
            raise RuntimeError("HiGHS stopped with Time limit reached")

        self.stopped += 1
        model.solve = stop  # type: ignore[method-assign]

    def block_model(self, *args: object, **kwargs: object) -> lp.Model:
        """``attacker._block_model``, counting interior-point models."""
        self.ipm += kwargs.get("solver") == "ipm"
        return self.build(*args, **kwargs)  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables, st.integers(0, 2**16))
def test_intervals_by_the_interior_point_method_after_a_slow_pair_are_the_exact_ones(
    rows: list[list[int]], seed: int
) -> None:
    """A block whose warm-started simplex is stopped at its time limit is solved by the
    interior-point method (with crossover): the same ranges as the exact ones, one
    interior-point model for each model stopped."""
    stopped = Stopped()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lp.Model, "limit_time", lambda model, s: stopped.limit_time(model, s))
        patch.setattr(attacker, "_block_model", stopped.block_model)
        check_intervals(rows, seed)
    assert stopped.ipm == stopped.stopped


def test_a_time_limit_counts_from_the_time_the_model_has_run() -> None:
    """HiGHS counts its time limit from a model's first solve: ``limit_time(3)`` is 3 s
    more than the model has run; ``limit_time(inf)`` is none (HiGHS's infinity), and the
    model solves again."""
    a = sparse.csr_matrix(np.ones((1, 3)))
    model = lp.Model(a, np.array([5.0]), np.zeros(3), np.full(3, np.inf))
    assert model.solve()[0] == "optimal"
    ran = model.highs.getRunTime()
    model.limit_time(3.0)
    assert model.highs.getOptionValue("time_limit")[1] == pytest.approx(ran + 3.0)
    model.limit_time(np.inf)
    assert model.highs.getOptionValue("time_limit")[1] == lp.INF
    model.set_cost(np.array([0]), np.ones(1))
    assert model.solve(maximise=True)[:2] == ("optimal", 5.0)  # the three counts sum to 5


def check_intervals(rows: list[list[int]], seed: int) -> None:
    """The body of the two properties above: ``intervals`` against scipy's exact LP."""
    matrix, values, _ = national(np.asarray(rows))
    rng = np.random.default_rng(seed)
    hidden = ((values >= 1) & (values <= WIDTH)) | (rng.random(len(values)) < 0.5)
    policy = Policy.named(k=WIDTH, zeros=True)
    shown = np.where(hidden, np.nan, values)
    know = attacker.knowledge(matrix, shown, np.ones(len(values), bool), policy)
    targets = np.flatnonzero(hidden)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attacker, "SIMPLEX_BLOCK", 0)  # every block solved one count at a time
        low, high = attacker.intervals(know, targets, WIDTH)
    for cell, lo, hi in zip(targets.tolist(), low.tolist(), high.tolist(), strict=True):
        exact_lo, exact_hi = exact(matrix, know.lower, know.upper, cell)
        assert exact_lo <= lo <= hi <= exact_hi, (cell, lo, hi, exact_lo, exact_hi)
        assert (hi - lo >= WIDTH) == (exact_hi - exact_lo >= WIDTH), (cell, lo, hi)


class Generated:
    """Counts the LPs solved by column generation and the blocks' own models built."""

    def __init__(self) -> None:
        self.rounds = 0
        self.own = 0
        self.part_lp = attacker._part_lp
        self.own_extremes = attacker._own_extremes

    def count_round(self, *args: object) -> object:
        """``attacker._part_lp``, counted."""
        self.rounds += 1
        return self.part_lp(*args)  # type: ignore[arg-type]

    def count_own(self, *args: object) -> object:
        """``attacker._own_extremes``, counted."""
        self.own += 1
        return self.own_extremes(*args)  # type: ignore[arg-type]


def generated_intervals(
    inner: np.ndarray, hidden: np.ndarray | None = None, seed: int = 0, truth: bool = True
) -> tuple[sparse.csr_matrix, attacker.Knowledge, np.ndarray, np.ndarray, np.ndarray, Generated]:
    """``intervals`` (exact: no width) of the hidden counts of :func:`hidden_knowledge`,
    parts switched on, every block solved one count at a time; the LPs counted."""
    matrix, _, know, targets = hidden_knowledge(inner, hidden, seed, truth)
    counted = Generated()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(attacker, "PARTS_FROM", 0)
        patch.setattr(attacker, "SIMPLEX_BLOCK", 0)
        patch.setattr(attacker, "_part_lp", counted.count_round)
        patch.setattr(attacker, "_own_extremes", counted.count_own)
        low, high = attacker.intervals(know, targets)
    return matrix, know, targets, low, high, counted


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables, st.integers(0, 2**16), st.booleans())
def test_extremes_by_column_generation_are_the_exact_ones(
    rows: list[list[int]], seed: int, truth: bool
) -> None:
    """In a block cut into parts, each hidden count's min and max, found from an LP of its
    finest part (the other cells held at a table that fits: the true one, or the audit's
    own) grown by the held cells whose reduced costs say they would better it, are the
    exact ones over the whole table (scipy's LP), and no block needed its own model."""
    found = generated_intervals(np.asarray(rows), seed=seed, truth=truth)
    matrix, know, targets, low, high, counted = found
    for cell, lo, hi in zip(targets.tolist(), low.tolist(), high.tolist(), strict=True):
        assert (lo, hi) == exact(matrix, know.lower, know.upper, cell), cell
    assert counted.own == 0


def test_a_national_count_s_extremes_need_cells_from_other_parts() -> None:
    """Two category totals whose cells are hidden in every area: their finest part (two
    areas) alone gives a narrower range than the whole table; the cells outside it are
    brought in until the range is the exact one (more LPs than one min and one max per
    count)."""
    inner = np.array([[5, 6, 7], [6, 5, 8], [7, 8, 5], [8, 7, 6], [5, 9, 6], [9, 5, 7]])
    n_inner, at_cat = inner.size, inner.size + len(inner)
    hidden = np.zeros(at_cat + 3 + 1, dtype=bool)
    hidden[0:n_inner:3] = hidden[1:n_inner:3] = True  # categories 0 and 1 in every area
    hidden[at_cat : at_cat + 2] = True  # and their totals
    matrix, know, targets, low, high, counted = generated_intervals(inner, hidden)
    total = int(np.flatnonzero(targets == at_cat)[0])
    # category 0's total (40): each area's categories 0 and 1 sum to its total less the
    # shown category 2 (11, 11, 15, 15, 14, 14), and either may be 0: from 0 to 80 people
    assert (low[total], high[total]) == (0.0, 80.0)
    assert exact(matrix, know.lower, know.upper, at_cat) == (0.0, 80.0)
    assert counted.rounds > 2 * len(targets) and counted.own == 0
