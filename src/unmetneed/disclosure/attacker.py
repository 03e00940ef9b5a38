"""The attacker: how far an intruder can narrow each suppressed count, by linear programming.

The attacker knows every published value, every additive relation (``R @ x == 0``), that
counts are non-negative integers, that a suppressed count is at least 1 when zeros are
published (at least 0 when zeros are disclosive), that a rounded count ``v`` lies in
``[v - 2, v + 2]`` (rounding to 5, halves up) and that a shown count is not in the
suppressed range 1..k. Cells never published are only known to be ``>= 0``. Those facts are
per-cell bounds ``lower <= x <= upper``; the feasible interval of a cell is
``[min x_c, max x_c]`` over them, rounded inwards to integers (the LP relaxation of the
integer attacker, as tau-Argus's audit uses).

Published cells are eliminated (their values move to the right-hand side), and the
unknown cells split into independent blocks (connected through the relations). Real tables
make thousands of tiny blocks, so nothing is done per block in Python:

- A block that is one relation (hidden parts of a shown total, or a star of variables
  whose shared total is shown, which falls apart into one block per variable) has a closed
  form, computed for all such blocks at once (:func:`one_relation`).
- The other small blocks share one HiGHS model: the joint certification LP below is one
  solve over all of them, and exact intervals optimise the sum of one target per block
  (independent blocks optimise separately), a few solves in all.
- A large block gets its own model, re-solved with a new objective per cell.

A joint LP first certifies every cell whose interval is at least the width: two feasible
tables ``x1, x2`` maximising ``sum(min(x1_c - x2_c, width))``. A large block (a national
release) is certified part by part (a few areas, national cells free, the rest held at a
table that fits), parts joined two by two while small enough; a national count left, to
which each area lends a little, by two tables walked from part to part (:func:`_walked`);
exact intervals over the whole block only for what is left after that.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
from scipy import sparse

from unmetneed.disclosure.lp import Model
from unmetneed.disclosure.model import Policy

TOL = 1e-6
SIMPLEX_BLOCK = 500  # cells: blocks up to this size are certified by simplex
PARTS_FROM = 2000  # cells: a block this large is certified part by part first
PART_ROUNDS = 6  # joint LPs of one part, at most (:func:`_in_rounds`)
WALK_IDLE = 3  # parts in a row moving no target further apart end a walk (:func:`_walk`)
WALK_ROUNDS = 3  # walks, each with signs drawn afresh for the targets left (:func:`_walked`)
WALK_PASSES = 2  # times a walk goes through the parts (:func:`_walk`)
SLOW_PAIR = 3.0  # seconds: a column's two warm LPs are stopped after this; interior point then
PART_MOST = 16000  # cells: parts joined two by two up to this size (a joint LP of 58,000: 33 s)
# an extreme by column generation (:func:`_generated`) gives up past this many rounds or
# columns, for the block's own model: a national cohort that changes, 291,497 cells, took
# 75 s for that model's first solve, against 0.1-0.5 s for an extreme this way
GENERATIONS = 40
GENERATED_MOST = 64000
DUAL_TOL = 1e-7  # HiGHS's dual feasibility tolerance: reduced costs smaller are 0
# threads solving parts' LPs side by side (the cores this process may use, at most 4)
WORKERS = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, 4)
T = TypeVar("T")
# a block cut into parts (:func:`_cut`): the block, its relations, its parts' levels, a table
Cut = tuple["Block", sparse.csr_matrix, list[np.ndarray], np.ndarray]
R = TypeVar("R")


class InconsistentError(ValueError):
    """The published values contradict the relations (no table fits them)."""


@dataclass
class Knowledge:
    """What the attacker knows: ``matrix @ x == 0`` and ``lower <= x <= upper`` (people)."""

    matrix: sparse.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    point: np.ndarray | None = None  # a table known to fit (the true one, when protecting)
    part: np.ndarray | None = None  # each cell's part (-1: in every part), see certify


def shown_bounds(shown: np.ndarray, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the true count of each shown cell (people), from its published value.

    Exact policies: ``[v, v]``. Rounding to ``b`` (halves up): ``[ceil(v - b/2),
    ceil(v + b/2) - 1]``, minus the suppressed range ``floor..k`` (a shown count is not
    small), e.g. nhs ``10 -> [8, 12]``, ``0 -> [0, 0]``.
    """
    v = np.asarray(shown, np.float64)
    if not policy.round_to:
        return v.copy(), v.copy()
    b = policy.round_to
    lo = np.maximum(np.ceil(v - b / 2), 0.0)
    hi = np.ceil(v + b / 2) - 1
    if not policy.off:
        small_lo, small_hi = policy.floor, policy.k
        lo = np.where((lo >= small_lo) & (lo <= small_hi), small_hi + 1, lo)
        hi = np.where((hi >= small_lo) & (hi <= small_hi), small_lo - 1, hi)
    return lo, hi


def knowledge(
    matrix: sparse.csr_matrix,
    shown: np.ndarray,
    published: np.ndarray,
    policy: Policy,
    floor: np.ndarray | None = None,
    point: np.ndarray | None = None,
    part: np.ndarray | None = None,
    ceiling: np.ndarray | None = None,
) -> Knowledge:
    """The attacker's bounds: ``shown`` is each cell's published value (NaN if suppressed);
    ``published`` marks cells shown anywhere (the others are merely ``>= 0``). ``floor``:
    per cell, what a suppressed count is known to be at least (default ``policy.floor``:
    1 when zeros are shown; 0 where the tool may suppress a zero). ``point``: a table
    known to fit (the true counts, when protecting): never used as knowledge, only as a
    place to start from; ``part``: each cell's part, -1 for a cell in every part (e.g.
    areas gathered a few at a time, national cells in every part: :func:`certify`).
    ``ceiling``: per cell, what a suppressed count is known to be at most (a counts file's
    ``*`` is at most 4; default: no bound).
    """
    hidden = np.isnan(shown)
    lo, hi = shown_bounds(np.where(hidden, 0.0, shown), policy)
    least = float(policy.floor) if floor is None else np.asarray(floor, np.float64)
    lo = np.where(hidden, least, lo)
    hi = np.where(hidden, np.inf if ceiling is None else ceiling, hi)
    lo[~published] = 0.0
    hi[~published] = np.inf
    start = None if point is None else np.asarray(point, np.float64)
    return Knowledge(sparse.csr_matrix(matrix), lo, hi, start, part)


@dataclass
class Block:
    """Part of the attacker's LP: columns ``cells`` of ``a`` tied by its ``rows`` (one
    independent block, or a union of them).
    """

    cells: np.ndarray
    rows: np.ndarray


@dataclass
class Reduced:
    """The LP over unknown cells only: ``a @ x[free] == rhs`` (rows with an unknown).

    ``col_block``/``row_block``: block index of each column/row of ``a``; ``n_rows``: rows
    per block; ``block_of``: block index of every cell (-1 for known cells).
    """

    know: Knowledge
    free: np.ndarray
    a: sparse.csr_matrix
    rhs: np.ndarray
    col_block: np.ndarray
    row_block: np.ndarray
    n_rows: np.ndarray
    block_of: np.ndarray

    def part(self, blocks: np.ndarray) -> Block:
        """The union of ``blocks`` (sorted block indices) as one block."""
        cells = np.flatnonzero(np.isin(self.col_block, blocks))
        rows = np.flatnonzero(np.isin(self.row_block, blocks))
        return Block(cells, rows)


def reduce(know: Knowledge) -> Reduced:
    """Eliminate known cells (given, or worked out: :func:`pinned`) and split the unknown
    ones into independent blocks (``Reduced.know``: the bounds with worked-out cells).

    Raises :class:`InconsistentError` when a relation among known cells does not add up.
    """
    know = pinned(know)
    n = len(know.lower)
    fixed = know.lower == know.upper
    free = np.flatnonzero(~fixed)
    known_values = np.where(fixed, know.lower, 0.0)
    rhs = -(know.matrix @ known_values)
    a = know.matrix[:, free].tocsr()
    has_free = np.diff(a.indptr) > 0
    if np.any(np.abs(rhs[~has_free]) > TOL):
        bad = np.flatnonzero(~has_free & (np.abs(rhs) > TOL))
        raise InconsistentError(f"{len(bad)} relation(s) of published values do not add up")
    rows = np.flatnonzero(has_free)
    a, rhs = a[rows], rhs[rows]
    labels = components(a)
    uniq, col_block = np.unique(labels[: len(free)], return_inverse=True)
    row_block = np.searchsorted(uniq, labels[len(free) :])
    block_of = np.full(n, -1, np.int64)
    block_of[free] = col_block
    n_rows = np.bincount(row_block, minlength=len(uniq))
    return Reduced(know, free, a, rhs, col_block, row_block, n_rows, block_of)


def pinned(know: Knowledge) -> Knowledge:
    """``know`` with every cell a relation pins known: a relation whose other cells are all
    known tells the last one by subtraction, which may pin another, and so on (people).

    >>> m = sparse.csr_matrix(np.array([[-1.0, 1, 1, 0], [0, 0, -1, 1]]))
    >>> k = pinned(Knowledge(m, np.array([9.0, 4, 1, 0]), np.array([9.0, 4, np.inf, np.inf])))
    >>> k.lower.tolist(), k.upper.tolist()
    ([9.0, 4.0, 5.0, 5.0], [9.0, 4.0, 5.0, 5.0])
    """
    a = sparse.csr_matrix(know.matrix, copy=True)
    a.eliminate_zeros()
    fixed = know.lower == know.upper
    value = np.where(fixed, know.lower, 0.0)
    pattern = sparse.csr_matrix((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape)
    while True:
        single = np.flatnonzero(pattern @ (~fixed).astype(np.float64) == 1)
        if not len(single):
            break
        rows = sparse.csr_matrix(a[single] @ sparse.diags((~fixed).astype(np.float64)))
        rows.eliminate_zeros()
        cols, coef = rows.indices, rows.data  # one unknown per row, in row order
        found = -(a[single] @ value) / coef
        cols, first = np.unique(cols, return_index=True)
        found = np.where(np.abs(found - np.round(found)) < TOL, np.round(found), found)[first]
        if np.any((found < know.lower[cols] - TOL) | (found > know.upper[cols] + TOL)):
            raise InconsistentError("no table of non-negative counts fits the published values")
        fixed[cols], value[cols] = True, found
    lower = np.where(fixed, value, know.lower)
    upper = np.where(fixed, value, know.upper)
    return Knowledge(know.matrix, lower, upper, know.point, know.part)


def components(a: sparse.csr_matrix) -> np.ndarray:
    """Component label of each column then each row of ``a`` (bipartite graph)."""
    n_row, n_col = a.shape
    pattern = sparse.csr_matrix((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape)
    graph = sparse.bmat([[None, pattern.T], [pattern, None]], format="csr")
    from scipy.sparse import csgraph  # here: 0.07 s to import, needed only with relations

    _, labels = csgraph.connected_components(graph, directed=False)
    return np.asarray(labels)


def largest_block(matrix: sparse.csr_matrix) -> int:
    """Cells in the largest group of cells tied together by the relations of ``matrix``."""
    if matrix.shape[0] == 0:
        return 1
    labels = components(matrix)[: matrix.shape[1]]
    return int(np.bincount(labels).max())


def solver_for(size: int) -> str:
    """HiGHS solver for an LP whose largest independent block has ``size`` cells: simplex
    for many small blocks, the interior-point method for a large one.
    """
    return "simplex" if size <= SIMPLEX_BLOCK else "ipm"


def _block_model(red: Reduced, block: Block, cap: float = np.inf, solver: str = "simplex") -> Model:
    """The LP of a block (or union of blocks): its unknown cells, relations and bounds.

    ``cap``: an upper bound put on every cell (people), to keep maxima finite.
    """
    cells = red.free[block.cells]
    sub = red.a[block.rows][:, block.cells]
    upper = np.minimum(red.know.upper[cells], cap)
    return Model(sub, red.rhs[block.rows], red.know.lower[cells], upper, solver=solver)


def _tied(red: Reduced, where: np.ndarray) -> np.ndarray:
    """Mask over block indices ``where`` (-1: a known cell): in a block with relations."""
    out = where >= 0
    out[out] = red.n_rows[where[out]] > 0
    return out


def one_relation(red: Reduced) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact LP extremes of every column of ``a`` in a block of a single relation.

    A block that is one relation ``sum_i a_i x_i == b`` with ``l_i <= x_i <= u_i`` (e.g.
    hidden parts of a shown total, each at least the floor) needs no LP: ``a_j x_j`` ranges
    over ``b`` minus the range of the other terms, intersected with ``x_j``'s own bounds.
    Returns ``(mask, low, high)`` over the columns of ``a`` (people; NaN where not such a
    block, or where a coefficient is zero). Raises :class:`InconsistentError` when a
    relation cannot be met within the bounds.
    """
    n_col = red.a.shape[1]
    low, high = np.full(n_col, np.nan), np.full(n_col, np.nan)
    rows = np.flatnonzero(red.n_rows[red.row_block] == 1)
    sub = red.a[rows].tocoo()
    r, col, coef = sub.row, sub.col, sub.data
    zero = np.bincount(r, coef == 0, minlength=len(rows)) > 0
    keep = ~zero[r]
    r, col, coef = r[keep], col[keep], coef[keep]
    lo, hi = red.know.lower[red.free[col]], red.know.upper[red.free[col]]
    term_lo = np.where(coef > 0, coef * lo, coef * hi)
    term_hi = np.where(coef > 0, coef * hi, coef * lo)
    others_lo = _sum_of_others(r, term_lo, len(rows))
    others_hi = _sum_of_others(r, term_hi, len(rows))
    b = red.rhs[rows][r]
    if np.any((others_lo + term_lo > b + TOL) | (others_hi + term_hi < b - TOL)):
        raise InconsistentError("no table of non-negative counts fits the published values")
    with np.errstate(invalid="ignore"):
        a_lo, a_hi = (b - others_hi) / coef, (b - others_lo) / coef
    low[col] = np.maximum(np.where(coef > 0, a_lo, a_hi), lo)
    high[col] = np.minimum(np.where(coef > 0, a_hi, a_lo), hi)
    return ~np.isnan(low), low, high


def _sum_of_others(row: np.ndarray, term: np.ndarray, n_row: int) -> np.ndarray:
    """For each entry, the sum of the other entries' ``term`` on its row (infinities kept)."""
    finite = np.isfinite(term)
    up, down = ~finite & (term > 0), ~finite & (term < 0)
    value = np.where(finite, term, 0.0)
    others = np.bincount(row, value, minlength=n_row)[row] - value
    n_up = np.bincount(row, up, minlength=n_row)[row] - up
    n_down = np.bincount(row, down, minlength=n_row)[row] - down
    others = np.where(n_up > 0, np.inf, others)
    return np.where(n_down > 0, -np.inf, others)


def intervals(
    know: Knowledge, targets: np.ndarray, width: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The attacker's [min, max] for each target cell (people; max may be ``inf``).

    Known targets get their own bounds; targets in a block of one relation its closed form
    (:func:`one_relation`); the others two LPs each: in a block cut into parts, first by
    column generation from the count's finest part (:func:`_generated`); in a large block,
    with a warm-started model of the block per thread (:func:`in_parallel`), for the
    counts column generation gave up on; in small blocks, batched: one
    model of every such block, whose objective is the sum of one target per block (blocks
    are independent, so each block's part of the optimum is that target's extreme).

    With ``width`` (only whether each range reaches it is wanted): in a large block, a
    target that the tables already solved for put at least ``width`` apart (whole numbers)
    is not solved; its [min, max] is then theirs, inside the exact one and as wide.
    """
    targets = np.asarray(targets, np.int64)
    red = reduce(know)
    low = red.know.lower[targets].astype(np.float64)
    high = red.know.upper[targets].astype(np.float64)
    where = red.block_of[targets]
    col = np.searchsorted(red.free, targets)
    mine = np.flatnonzero(_tied(red, where))
    single, one_lo, one_hi = one_relation(red)
    closed = mine[single[col[mine]]]
    low[closed], high[closed] = one_lo[col[closed]], one_hi[col[closed]]
    rest = mine[~single[col[mine]]]
    size = np.bincount(red.col_block, minlength=len(red.n_rows))
    small = rest[size[where[rest]] <= SIMPLEX_BLOCK]
    if len(small):
        low[small], high[small] = _batched_extremes(red, col[small], where[small])
    large = rest[size[where[rest]] > SIMPLEX_BLOCK]
    for b in np.unique(where[large]).tolist():
        own = large[where[large] == b]
        cut = _cut(red, b) if size[b] >= PARTS_FROM else None
        if cut is not None:  # a large block cut into parts: its extremes part by part first
            chunks = np.array_split(own, min(WORKERS, len(own)))
            found = in_parallel(lambda at: _generated_extremes(red, cut, col[at]), chunks)  # noqa: B023
            for at, (lo, hi) in zip(chunks, found, strict=True):
                low[at], high[at] = lo, hi
            own = own[np.isnan(low[own]) | np.isnan(high[own])]
            if not len(own):
                continue
        chunks = np.array_split(own, min(WORKERS, len(own)))  # a model each, side by side
        found = in_parallel(lambda at: _own_extremes(red, b, col[at], width), chunks)  # noqa: B023
        for at, (lo, hi) in zip(chunks, found, strict=True):
            low[at], high[at] = lo, hi
    _check_feasible(low, high)
    return np.ceil(low - TOL), np.floor(high + TOL)


def _batched_extremes(
    red: Reduced, cols: np.ndarray, blocks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of columns ``cols`` of ``a`` (in blocks ``blocks``), a few LPs in all.

    Round ``j`` optimises the sum of every block's ``j``-th target in one model of all
    their blocks. Every cell is capped at a bound above any count in the table so maxima
    stay finite; a target whose block touches the cap is solved again in its own model.
    """
    low, high = np.full(len(cols), np.nan), np.full(len(cols), np.nan)
    part = red.part(np.unique(blocks))
    cap = 4.0 * (np.abs(red.rhs).sum() + np.abs(red.know.upper[np.isfinite(red.know.upper)]).sum())
    cap = max(cap, 1e6)
    model = _block_model(red, part, cap)
    if model.solve()[0] == "infeasible":
        raise InconsistentError("no table of non-negative counts fits the published values")
    model.warm_objective()
    position = np.searchsorted(part.cells, cols)
    order = np.lexsort((cols, blocks))
    first = np.searchsorted(blocks[order], blocks[order])
    rank = np.empty(len(cols), np.int64)
    rank[order] = np.arange(len(cols)) - first
    capped = np.zeros(len(cols), bool)
    part_block = red.col_block[part.cells]
    for j in range(int(rank.max()) + 1):
        now = np.flatnonzero(rank == j)
        lo, hi, touched = _extremes(model, position[now], cap)
        low[now], high[now] = lo, hi
        capped[now] = np.isin(blocks[now], part_block[touched])
    for b in np.unique(blocks[capped]).tolist():
        own = np.flatnonzero(capped & (blocks == b))
        low[own], high[own] = _own_extremes(red, b, cols[own])
    return low, high


def _own_extremes(
    red: Reduced, b: int, cols: np.ndarray, width: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of columns ``cols`` of ``a``, all in block ``b``: one warm-started model
    of the block, two LPs per column. With ``width``: a column the tables found so far
    (every one fits) already put ``width`` apart is not solved; it gets their spread.

    Warm-started primal simplex is fast on most blocks (0.2 s an LP at 150 areas) but not
    on all: the waves of a changing cohort made it 7-54 s an LP where the interior-point
    method took 1.7-4 s. So a column's pair of simplex LPs is stopped after
    :data:`SLOW_PAIR` seconds, and that column and the rest are solved by the
    interior-point method. Both give the same optimum: only the time differs.
    """
    block = red.part(np.array([b]))
    # the first table: by the interior point (and crossover, for a basis) in a large block
    # (2 s against 8.6 s by simplex at 42,454 cells), warm simplex from it after
    model = _block_model(red, block, solver="ipm" if len(block.cells) >= PARTS_FROM else "simplex")
    status, _, z = model.solve()
    if status == "infeasible":
        raise InconsistentError("no table of non-negative counts fits the published values")
    model.warm_objective()
    seen = (z.copy(), z.copy())
    low, high = np.empty(len(cols)), np.empty(len(cols))
    simplex = True
    for i, at in enumerate(np.searchsorted(block.cells, cols).tolist()):
        spread = np.floor(seen[1][at] + TOL) - np.ceil(seen[0][at] - TOL)
        if width is not None and spread >= width:
            low[i], high[i] = seen[0][at], seen[1][at]
            continue
        if simplex:
            model.limit_time(SLOW_PAIR)
            try:
                low[i : i + 1], high[i : i + 1], _ = _extremes(model, np.array([at]), np.inf, seen)
                continue
            except RuntimeError:  # stopped: too slow (or failed); the interior point from now
                simplex = False
                model = _block_model(red, block, solver="ipm")
        cell = red.free[block.cells[at]]
        bounds = (red.know.lower[cell], red.know.upper[cell])
        low[i], high[i] = _reaching(model, at, bounds, width, seen)
    return low, high


def _generated_extremes(red: Reduced, cut: Cut, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact min and max of columns ``cols`` of ``a`` in the block ``cut`` (:func:`_cut`)
    by column generation (:func:`_generated`), each from its finest part; NaN where that
    gave up (people)."""
    block, _, levels, _ = cut
    low, high = np.full(len(cols), np.nan), np.full(len(cols), np.nan)
    for i, at in enumerate(np.searchsorted(block.cells, cols).tolist()):
        part = int(homes(levels[0], np.array([at]))[0])
        start = np.flatnonzero((levels[0] == part) | (levels[0] < 0))
        low[i] = _generated(red, cut, at, start, maximise=False)
        if not np.isnan(low[i]):
            high[i] = _generated(red, cut, at, start, maximise=True)
    return low, high


def _generated(red: Reduced, cut: Cut, at: int, cols: np.ndarray, maximise: bool) -> float:
    """The exact min (max) of block column ``at`` over the whole block of ``cut``, from an
    LP of its columns ``cols`` alone, the others held at the cut's table (it fits): the
    part's optimum, with those held, is the whole block's optimum when every column held
    has a reduced cost (0 minus its column times the part's row duals; rows outside the
    part have dual 0) that its place allows: 0 strictly within its bounds, of the sign
    that keeps it at a bound it is at (duality: the pair is feasible both ways and
    complementary). Otherwise the columns of the wrong sign join ``cols`` and it is solved
    again. NaN when that takes more than :data:`GENERATIONS` rounds or
    :data:`GENERATED_MOST` columns (people; ``inf`` for a max without bound: the part's
    tables are the whole's too)."""
    block, sub, _, point = cut
    cells = red.free[block.cells]
    lower, upper = red.know.lower[cells], red.know.upper[cells]
    pinned_low, pinned_high = point <= lower + TOL, point >= upper - TOL
    for _ in range(GENERATIONS):
        rows = _touching(sub[:, cols])
        model = Model(*_part_lp(red, block, sub, cols, point, rows))
        model.set_cost(np.searchsorted(cols, [at]), np.ones(1))
        try:
            status, value, _ = model.solve(maximise)
        except RuntimeError:  # HiGHS stopped short: the block's own model instead
            return np.nan
        if status == "unbounded" and maximise:
            return np.inf
        if status != "optimal":
            return np.nan
        reduced = -(sub[rows].T @ np.asarray(model.highs.getSolution().row_dual))
        gain = -reduced if maximise else reduced  # < 0: raising it betters the optimum
        wrong = ((gain < -DUAL_TOL) & ~pinned_high) | ((gain > DUAL_TOL) & ~pinned_low)
        wrong[cols] = False
        if not wrong.any():
            return float(value)
        cols = np.union1d(cols, np.flatnonzero(wrong))
        if len(cols) > GENERATED_MOST:
            return np.nan
    return np.nan


def _reaching(
    model: Model,
    at: int,
    bounds: tuple[float, float],
    width: float | None,
    seen: tuple[np.ndarray, np.ndarray],
) -> tuple[float, float]:
    """Min and max of column ``at`` (``bounds``: its own). With ``width``, first the max
    with the column capped at the least value seen so far (rounded up) plus ``width``:
    one LP when it reaches the cap (the range is that wide: the least seen is in a table
    that fits; that least is returned, inside the exact range and as wide); else that max
    is the exact one, and the min is solved. The interior-point method, slow to find that
    an LP runs away (27 s against 4 s), never has to. ``seen`` is widened as in
    :func:`_extremes` (every table solved for fits what is published)."""
    if width is None:
        lo, hi, _ = _extremes(model, np.array([at]), np.inf, seen)
        return float(lo[0]), float(hi[0])
    cap = min(bounds[1], np.ceil(seen[0][at] - TOL) + width)
    model.set_cost(np.array([at]), np.ones(1))
    model.set_bounds(np.array([at]), np.array([bounds[0]]), np.array([cap]))
    top = _solved(model, maximise=True)
    model.set_bounds(np.array([at]), np.array([bounds[0]]), np.array([bounds[1]]))
    tables = [top]
    if top[at] < cap - TOL or cap == bounds[1]:
        tables.append(_solved(model, maximise=False))
    model.set_cost(np.array([at]), np.zeros(1))
    for table in tables:
        np.minimum(seen[0], table, out=seen[0])
        np.maximum(seen[1], table, out=seen[1])
    return float(seen[0][at]), float(top[at])


def _solved(model: Model, maximise: bool) -> np.ndarray:
    """The table of an LP that has an optimum: a cap or a least count bounds it, and a
    table seen before fits; else the published values contradict, or the solver failed."""
    status, _, z = model.solve(maximise=maximise)
    if status == "infeasible":
        raise InconsistentError("no table of non-negative counts fits the published values")
    if status != "optimal":
        raise RuntimeError(f"the interior-point method gave {status} with a cap")
    return z


def _extremes(
    model: Model,
    cols: np.ndarray,
    cap: float,
    seen: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min and max of each of ``cols`` (in different blocks) with one objective: their sum.

    Also returns the model's columns at ``cap`` in either solution (their blocks' extremes
    may be cut by the cap). ``seen``: each column's least and greatest value in the tables
    solved for so far, widened by these two (every one fits what is published).
    """
    model.set_cost(cols, np.ones(len(cols)))
    status_lo, _, z_lo = model.solve(maximise=False)
    status_hi, _, z_hi = model.solve(maximise=True)
    model.set_cost(cols, np.zeros(len(cols)))
    if "infeasible" in (status_lo, status_hi):
        raise InconsistentError("no table of non-negative counts fits the published values")
    for table in [z_lo] if status_hi == "unbounded" else [z_lo, z_hi]:
        if seen is not None:
            np.minimum(seen[0], table, out=seen[0])
            np.maximum(seen[1], table, out=seen[1])
    if status_hi == "unbounded":
        return z_lo[cols], np.full(len(cols), np.inf), np.empty(0, np.int64)
    near = cap * (1 - 1e-9) - 0.5
    touched = np.flatnonzero((z_lo >= near) | (z_hi >= near))
    return z_lo[cols], z_hi[cols], touched


def can_be_zero(know: Knowledge, targets: np.ndarray) -> np.ndarray:
    """Mask over ``targets``: cells some table the attacker cannot rule out has at 0.

    Known cells: their value. In a large block cut into parts (``know.part``), one LP per
    part minimising the total of its targets, the block's other cells held at a table
    that fits (a table of a part is one of the whole); elsewhere one LP minimising the
    total of all targets left. A target at 0 in a solution can be 0; the others are taken
    as not (the safe side: they are then checked for their width).
    """
    targets = np.asarray(targets, np.int64)
    red = reduce(know)
    where = red.block_of[targets]
    out = np.zeros(len(targets), dtype=bool)
    known = where < 0
    out[known] = red.know.upper[targets[known]] <= TOL
    done = known.copy()
    size = np.bincount(red.col_block, minlength=len(red.n_rows))
    big = np.zeros(len(targets), dtype=bool)
    big[~known] = size[where[~known]] >= PARTS_FROM
    for b in np.unique(where[big]).tolist():
        mine = np.flatnonzero(where == b)
        found = _zero_by_parts(red, b, targets[mine])
        if found is not None:
            out[mine], done[mine] = found, True
    rest = np.flatnonzero(~done)
    if len(rest):
        part = red.part(np.unique(where[rest]))
        model = _block_model(red, part)
        at = np.searchsorted(part.cells, np.searchsorted(red.free, targets[rest]))
        model.set_cost(at, np.ones(len(at)))
        status, _, z = model.solve()
        if status == "optimal":
            out[rest] = z[at] < TOL
    return out


def _zero_by_parts(red: Reduced, b: int, targets: np.ndarray) -> np.ndarray | None:
    """:func:`can_be_zero` for the targets of block ``b``, one LP per finest part (None:
    the block is not cut into parts)."""
    cut = _cut(red, b)
    if cut is None:
        return None
    block, sub, levels, point = cut
    out = np.zeros(len(targets), dtype=bool)
    position = np.searchsorted(block.cells, np.searchsorted(red.free, targets))
    home = homes(levels[0], position)

    def one(p: int) -> tuple[np.ndarray, np.ndarray]:
        cols = np.flatnonzero((levels[0] == p) | (levels[0] < 0))
        at = np.flatnonzero(home == p)
        model = Model(*_part_lp(red, block, sub, cols, point))
        where = np.searchsorted(cols, position[at])
        model.set_cost(where, np.ones(len(at)))
        status, _, z = _search(model)
        return at, (z[where] < TOL) if status == "optimal" else np.zeros(len(at), bool)

    for at, zero in in_parallel(one, np.unique(home).tolist()):
        out[at] = zero
    return out


def _part_lp(
    red: Reduced,
    block: Block,
    sub: sparse.csr_matrix,
    cols: np.ndarray,
    point: np.ndarray,
    rows: np.ndarray | None = None,
) -> tuple[sparse.csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """The LP of block columns ``cols`` alone, the block's other columns held at ``point``:
    relations (``rows``: those touching ``cols``, :func:`_touching`), their right-hand side
    and the columns' bounds."""
    inner = sparse.csc_matrix(sub[:, cols])
    rows = _touching(inner) if rows is None else rows
    held = point.copy()
    held[cols] = 0.0
    rhs = red.rhs[block.rows][rows] - sub[rows] @ held
    cells = red.free[block.cells[cols]]
    return sparse.csc_matrix(inner[rows]), rhs, red.know.lower[cells], red.know.upper[cells]


def _touching(columns: sparse.spmatrix) -> np.ndarray:
    """The rows of ``columns`` (a block's relations over some of its columns) that touch
    any of them."""
    return np.flatnonzero(np.diff(sparse.csr_matrix(columns).indptr) > 0)


def _check_feasible(low: np.ndarray, high: np.ndarray) -> None:
    if np.any(low > high + TOL):
        raise InconsistentError("no table of non-negative counts fits the published values")


def certify(
    know: Knowledge, targets: np.ndarray, width: float, rounds: int = 3, min_gain: float = 0.05
) -> np.ndarray:
    """Mask over ``targets``: cells whose attacker interval is proven at least ``width``.

    Targets in a block of one relation are judged by its exact closed form
    (:func:`one_relation`). For the others, one joint LP over all their blocks: two tables
    ``x1, x2`` both consistent with what is published, maximising ``sum(d_c)`` with
    ``d_c <= x1_c - x2_c`` and ``d_c <= width``. A target whose two values are ``width``
    apart in whole numbers, either way (:func:`_apart`), has ``max - min >= width``
    (rounded inwards). Cells left uncertified need their
    own LPs (:func:`intervals`); nothing is claimed for them. Up to ``rounds`` rounds on
    the uncertified cells, stopping when one certifies fewer than ``min_gain`` of those
    left (rivals in one joint LP hold each other back). A large block is certified part
    by part instead (:func:`_certify_in_parts`): a joint LP of the whole block costs more
    than exact intervals of the few targets its parts leave (75 s against 8 s at 150 areas).
    """
    targets = np.asarray(targets, np.int64)
    red = reduce(know)
    ok, tried = _certify_in_parts(red, targets, width)
    for _ in range(rounds):
        todo = np.flatnonzero(~ok & ~tried)
        if len(todo) == 0:
            return ok
        found = _certify_once(red, targets[todo], width)
        ok[todo[found]] = True
        if found.sum() < min_gain * len(todo):
            return ok
    return ok


def _certify_once(red: Reduced, targets: np.ndarray, width: float) -> np.ndarray:
    """One round of :func:`certify` (a cell's rivals in the joint LP may hold it back)."""
    know = red.know
    ok = np.zeros(len(targets), dtype=bool)
    where = red.block_of[targets]
    col = np.searchsorted(red.free, targets)
    lone = ~_tied(red, where)
    ok[lone] = (know.upper[targets[lone]] - know.lower[targets[lone]]) >= width
    if lone.all():
        return ok
    single, one_lo, one_hi = one_relation(red)
    closed = ~lone & single[np.where(lone, 0, col)]
    c = col[closed]
    ok[closed] = (np.floor(one_hi[c] + TOL) - np.ceil(one_lo[c] - TOL)) >= width
    rest = np.flatnonzero(~lone & ~closed)
    if len(rest):
        part = red.part(np.unique(where[rest]))
        position = np.searchsorted(part.cells, col[rest])
        sub = red.a[part.rows][:, part.cells]
        cells = red.free[part.cells]
        size = int(np.bincount(red.col_block[part.cells]).max())
        lo, hi = red.know.lower[cells], red.know.upper[cells]
        ok[rest] = _joint(sub, red.rhs[part.rows], lo, hi, position, width, solver_for(size))
    return ok


def _certify_in_parts(
    red: Reduced, targets: np.ndarray, width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mask over ``targets``: cells certified within a part of their (large) block.

    National tables tie every area into one block, whose joint LP grows faster than the
    block. But a certificate that moves only the cells of a few areas (and national cells),
    the others kept at a table known to fit (``know.point``, else one LP's), is a
    certificate of the whole: both tables it gives fit every relation. So the targets of a
    block of :data:`PARTS_FROM` cells or more get the joint LP of their part
    (``know.part``); targets left get neighbouring parts two by two, and so on until one
    part would be the whole block. Returns the certified mask and the mask of targets
    tried (those in a block cut into parts).
    """
    ok = np.zeros(len(targets), dtype=bool)
    tried = np.zeros(len(targets), dtype=bool)
    if red.know.part is None:
        return ok, tried
    where = red.block_of[targets]
    size = np.bincount(red.col_block, minlength=len(red.n_rows))
    inside = np.flatnonzero(where >= 0)
    big = np.unique(where[inside][size[where[inside]] >= PARTS_FROM])
    for b in big.tolist():
        mine = np.flatnonzero(where == b)
        found = _by_parts(red, b, targets[mine], width)
        if found is not None:
            ok[mine], tried[mine] = found, True
    return ok, tried


def _cut(red: Reduced, b: int) -> Cut | None:
    """Block ``b`` cut into parts: the block, its relations over its cells, the parts'
    levels (:func:`part_levels`) and a table of its cells that fits (:func:`_start`); None
    when it has no parts or no table fits."""
    if red.know.part is None:
        return None
    block = red.part(np.array([b]))
    levels = part_levels(red.know.part[red.free[block.cells]])
    if not levels:
        return None
    sub = sparse.csr_matrix(red.a[block.rows][:, block.cells])
    point = _start(red, block, sub)
    return None if point is None else (block, sub, levels, point)


def _by_parts(red: Reduced, b: int, targets: np.ndarray, width: float) -> np.ndarray | None:
    """:func:`_certify_in_parts` for the targets of block ``b`` (None: not in parts)."""
    cut = _cut(red, b)
    if cut is None:
        return None
    block, sub, levels, point = cut
    ok = np.zeros(len(targets), dtype=bool)
    position = np.searchsorted(block.cells, np.searchsorted(red.free, targets))
    for parts in levels:
        if np.bincount(parts[parts >= 0]).max() + (parts < 0).sum() > PART_MOST:
            break  # the targets left get exact intervals: cheaper than a joint LP this size
        home = homes(parts, position)

        def one(p: int) -> tuple[np.ndarray, np.ndarray]:
            cols = np.flatnonzero((parts == p) | (parts < 0))  # noqa: B023 (run at once)
            at = np.flatnonzero(~ok & (home == p))  # noqa: B023
            found = _certify_part(red, block, sub, cols, point, position[at], width, parts)  # noqa: B023
            return at, found

        for at, found in in_parallel(one, np.unique(home[~ok]).tolist()):
            ok[at[found]] = True
    if not ok.all():
        ok[~ok] = _walked(red, cut, position[~ok], width)
    return ok


def _walked(red: Reduced, cut: Cut, position: np.ndarray, width: float) -> np.ndarray:
    """Mask over ``position`` (columns of the block ``cut``: :func:`_cut`): certified by two
    tables walked part by part (its finest parts).

    A count whose range needs many areas (a national count, each area lending a person or
    two) is narrow in every part alone. Two tables ``x1, x2`` start at ``point``; in each
    part of ``parts`` in turn, the joint LP of :func:`certify` over that part's columns
    (the others held where the tables are now) pushes the targets apart, each the way its
    sign says. Every step gives two tables that fit every relation and bound, so a target
    once whole numbers ``width`` apart in them has a range at least that wide (people).
    Counts summing to a shown total move against each other: pushed the same way they hold
    each other back, so each of :data:`WALK_ROUNDS` walks draws the signs afresh (seeded:
    the same every run) for the targets left.
    """
    ok = np.zeros(len(position), dtype=bool)
    rng = np.random.default_rng(0)
    for _ in range(WALK_ROUNDS):
        left = np.flatnonzero(~ok)
        if not len(left):
            break
        sign = rng.choice(np.array([-1.0, 1.0]), len(left))
        ok[left] = _walk(red, cut, position[left], sign, width)
    return ok


def _walk(
    red: Reduced, cut: Cut, position: np.ndarray, sign: np.ndarray, width: float
) -> np.ndarray:
    """One walk of :func:`_walked` (``sign``: per target, +1 where ``x1`` is to be the
    higher), through the parts :data:`WALK_PASSES` times. A target the tables moved the
    other way than its sign takes the way it went (rivals, pushed the same way, hold each
    other back: one gives way). It stops when every target is certified, or after
    :data:`WALK_IDLE` parts in a row that move none further apart."""
    block, sub, levels, point = cut
    parts = levels[0]
    x1, x2 = point.copy(), point.copy()
    sign = np.asarray(sign, np.float64).copy()
    ok = np.zeros(len(position), dtype=bool)
    idle = 0
    for p in np.unique(parts[parts >= 0]).tolist() * WALK_PASSES:
        cols = np.flatnonzero((parts == p) | (parts < 0))
        pick = np.flatnonzero(~ok & np.isin(position, cols))
        if not len(pick):
            continue
        mine = position[pick]
        a, rhs1, low, high = _part_lp(red, block, sub, cols, x1)
        rhs2 = _part_lp(red, block, sub, cols, x2)[1]
        apart = np.abs(x1[mine] - x2[mine])
        at = np.searchsorted(cols, mine)
        found = _pair(a, rhs1, rhs2, low, high, at, sign[pick], width, solver_for(len(cols)))
        if found is not None:
            x1[cols], x2[cols] = found
            ok |= _apart(x1[position], x2[position], width)
            gone = sign * (x1[position] - x2[position])
            sign[~ok & (gone < -TOL)] *= -1.0
        moved = found is not None and bool(np.any(np.abs(x1[mine] - x2[mine]) > apart + TOL))
        idle = 0 if moved else idle + 1
        if ok.all() or idle >= WALK_IDLE:
            break
    return ok


def in_parallel(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[work(i) for i in items]``, on :data:`WORKERS` threads (HiGHS frees Python while
    it solves, so independent LPs of parts run side by side); results in order."""
    if WORKERS < 2 or len(items) < 2:
        return [work(i) for i in items]
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(work, items))


def homes(parts: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The part each of ``cells`` is tried in: its own, or for a cell in every part (-1),
    the parts in turn (the k-th such cell the k-th part, cycling), so each part's LP holds
    few of them.

    >>> homes(np.array([0, 1, -1, -1, -1]), np.array([2, 0, 3, 4])).tolist()
    [0, 0, 1, 0]
    """
    own: np.ndarray = parts[cells]
    spread = np.flatnonzero(own < 0)
    every = np.unique(parts[parts >= 0])
    if len(spread) and len(every):
        own = own.copy()
        own[spread] = every[np.arange(len(spread)) % len(every)]
    return own


def part_levels(part: np.ndarray) -> list[np.ndarray]:
    """Each cell's part at every level (-1: in every part), finest first: neighbouring
    parts of one level joined two by two in the next, while there are two parts or more
    (the whole is not a level).

    >>> [lv.tolist() for lv in part_levels(np.array([0, 1, 2, -1, 3]))]
    [[0, 1, 2, -1, 3], [0, 0, 1, -1, 1]]
    """
    levels = []
    part = np.asarray(part, np.int64)
    while len(part) and part.max() > 0:
        levels.append(part)
        part = np.where(part < 0, -1, part // 2)
    return levels


def _start(red: Reduced, block: Block, sub: sparse.csr_matrix) -> np.ndarray | None:
    """A table of the block's cells that fits (``know.point`` where it does, else one
    LP's: the interior point's, away from the bounds where it can be, so that more
    searches by parts succeed; a vertex when that does not fit within 1e-6 people); None
    when none does."""
    cells = red.free[block.cells]
    lo, hi, rhs = red.know.lower[cells], red.know.upper[cells], red.rhs[block.rows]
    point = red.know.point
    if point is not None and _fits(sub, rhs, lo, hi, point[cells]):
        return np.asarray(point[cells], np.float64)
    model = Model(sub, rhs, lo, hi, solver="ipm")
    model.highs.setOptionValue("run_crossover", "off")
    status, _, z = _search(model)
    inner: np.ndarray = np.clip(z, lo, hi) if status == "optimal" else z
    if status == "optimal" and _fits(sub, rhs, lo, hi, inner):
        return inner
    status, _, z = Model(sub, rhs, lo, hi, solver="ipm").solve()
    return z if status == "optimal" else None


def _fits(
    a: sparse.csr_matrix, rhs: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray
) -> bool:
    """Whether table ``x`` meets ``a @ x == rhs`` and its bounds within 1e-6 people."""
    inside = bool(np.all(x >= lo - TOL) and np.all(x <= hi + TOL))
    return inside and bool(np.allclose(a @ x, rhs, rtol=0.0, atol=TOL))


def fitting(know: Knowledge) -> Knowledge:
    """``know`` with a table that fits every relation and bound as its ``point`` in each
    block cut into parts (kept where the given point fits; else one LP per block), so that
    several searches by parts (:func:`can_be_zero`, :func:`certify`) start from one."""
    if know.part is None:
        return know
    red = reduce(know)
    point = np.where(red.know.lower == red.know.upper, red.know.lower, 0.0)
    if know.point is not None:
        point = np.asarray(know.point, np.float64).copy()
    size = np.bincount(red.col_block, minlength=len(red.n_rows))

    def one(b: int) -> tuple[Block, np.ndarray | None]:
        block = red.part(np.array([b]))
        return block, _start(red, block, sparse.csr_matrix(red.a[block.rows][:, block.cells]))

    for block, x in in_parallel(one, np.flatnonzero(size >= PARTS_FROM).tolist()):
        if x is not None:
            point[red.free[block.cells]] = x
    return replace(know, point=point)


def _certify_part(
    red: Reduced,
    block: Block,
    sub: sparse.csr_matrix,
    cols: np.ndarray,
    point: np.ndarray,
    position: np.ndarray,
    width: float,
    parts: np.ndarray,
) -> np.ndarray:
    """Mask over ``position`` (block columns, all in ``cols``): certified by joint LPs of
    columns ``cols`` alone, the block's other columns held at ``point``
    (:func:`_in_rounds`); the targets they leave by their own extremes in the part. In a
    part of :data:`PARTS_FROM` cells or more, those in every part of ``parts`` (national
    counts: few one part alone proves, 28 of 96 in 5 s in a part of 9,600 cells at 10
    areas) are left to larger parts and the walk (:func:`_walked`); in a smaller part
    their LPs are cheap, and leaving them costs more (a national audit: 13 s more)."""
    a, rhs, lo, hi = _part_lp(red, block, sub, cols, point)
    at = np.searchsorted(cols, position)
    ok = _in_rounds(a, rhs, lo, hi, at, width, solver_for(len(cols)))
    own = ~ok & ((parts[position] >= 0) | (len(cols) < PARTS_FROM))
    if own.any():  # rivals: each one's own extremes, in the part
        ok[own] = _wide(Model(a, rhs, lo, hi), at[own], width)
    return ok


def _in_rounds(
    a: sparse.spmatrix,
    rhs: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    at: np.ndarray,
    width: float,
    solver: str,
    min_gain: float = 0.05,
) -> np.ndarray:
    """Mask over ``at`` (columns of ``a @ x == rhs``, ``lo <= x <= hi``): certified by up to
    :data:`PART_ROUNDS` joint LPs (:func:`_pair`), each on the targets left; stopping when
    one certifies fewer than ``min_gain`` of them. Rivals pushed the same way hold each
    other back: a target the tables moved against its sign takes the way it went in the
    next round (at 10 areas, a part's 1,545 targets: 918 certified by the first LP,
    1,434 by six)."""
    ok = np.zeros(len(at), dtype=bool)
    sign = np.ones(len(at))
    for _ in range(PART_ROUNDS):
        todo = np.flatnonzero(~ok)
        found = _pair(a, rhs, rhs, lo, hi, at[todo], sign[todo], width, solver)
        if found is None:
            break
        x1, x2 = found[0][at[todo]], found[1][at[todo]]
        new = _apart(x1, x2, width)
        ok[todo[new]] = True
        against = ~new & (sign[todo] * (x1 - x2) < -TOL)
        sign[todo[against]] *= -1.0
        if new.sum() < min_gain * len(todo) or ok.all():
            break
    return ok


def _apart(x1: np.ndarray, x2: np.ndarray, width: float) -> np.ndarray:
    """Mask: counts that two tables, both fitting what is published, put ``width`` apart
    in whole numbers (people), either way: the attacker's range rounded inwards is at
    least that wide (an LP's max is at least the higher, its min at most the lower).

    >>> _apart(np.array([3.5, 3.0, 0.0]), np.array([0.5, 0.0, 3.0]), 3.0).tolist()
    [False, True, True]
    """
    top, bottom = np.maximum(x1, x2), np.minimum(x1, x2)
    result: np.ndarray = np.floor(top + TOL) - np.ceil(bottom - TOL) >= width
    return result


def _wide(model: Model, cols: np.ndarray, width: float) -> np.ndarray:
    """Mask over ``cols``: LP interval (rounded inwards) at least ``width``, one column at a
    time in one warm-started ``model`` (a solver failure leaves the rest unproven). Every
    table solved for fits, so a column that those found so far already put ``width`` apart
    (whole numbers) is proven without LPs of its own (as :func:`_own_extremes` does)."""
    ok = np.zeros(len(cols), dtype=bool)
    status, _, z = _search(model)
    if status != "optimal":
        return ok
    model.warm_objective()
    seen = (z.copy(), z.copy())
    for i, c in enumerate(cols.tolist()):
        if np.floor(seen[1][c] + TOL) - np.ceil(seen[0][c] - TOL) < width:
            try:
                low, high, _ = _extremes(model, np.array([c]), np.inf, seen)
            except RuntimeError:
                return ok
            seen[0][c], seen[1][c] = min(seen[0][c], low[0]), max(seen[1][c], high[0])
        ok[i] = np.floor(seen[1][c] + TOL) - np.ceil(seen[0][c] - TOL) >= width
    return ok


def _search(model: Model, maximise: bool = False) -> tuple[str, float, np.ndarray]:
    """``model.solve``, for an LP that only looks for tables that prove something: a
    solver failure (HiGHS's "solve error" on a hard part) proves nothing, so it is
    ``"error"`` and the cells it was for are checked another way."""
    try:
        return model.solve(maximise=maximise)
    except RuntimeError:
        return "error", np.nan, np.empty(0)


def _joint(
    sub: sparse.spmatrix,
    rhs: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    position: np.ndarray,
    width: float,
    solver: str,
) -> np.ndarray:
    """The joint LP of :func:`certify` over ``sub @ x == rhs``, ``lo <= x <= hi``;
    ``position``: targets' columns. Mask over them: certified (:func:`_apart`)."""
    found = _pair(sub, rhs, rhs, lo, hi, position, np.ones(len(position)), width, solver)
    if found is None:
        return np.zeros(len(position), dtype=bool)
    return _apart(found[0][position], found[1][position], width)


def _pair(
    sub: sparse.spmatrix,
    rhs1: np.ndarray,
    rhs2: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    position: np.ndarray,
    sign: np.ndarray,
    width: float,
    solver: str,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Two tables ``sub @ x1 == rhs1``, ``sub @ x2 == rhs2`` within ``lo..hi`` pushing the
    targets (columns ``position``) apart: ``sum(d_c)`` greatest, ``d_c <= width`` and
    ``d_c <= sign_c * (x1_c - x2_c)`` (people; ``sign``: +1 where ``x1`` is to be the
    higher, -1 the lower); None when the LP finds none."""
    n, m, t = sub.shape[1], sub.shape[0], len(position)
    pick = sparse.csr_matrix((np.asarray(sign, np.float64), (np.arange(t), position)), (t, n))
    a = sparse.bmat(
        [
            [sub, None, None],
            [None, sub, None],
            [pick, -pick, -sparse.identity(t)],
        ],
        format="csc",
    )
    both = np.concatenate([rhs1, rhs2, np.zeros(t)])
    # d_c = x1_c - x2_c - s_c with slack s_c >= 0 keeps the rows equalities.
    slack = sparse.identity(t, format="csc")
    a = sparse.hstack([a, sparse.vstack([sparse.csc_matrix((2 * m, t)), -slack])], format="csc")
    lower = np.concatenate([lo, lo, np.full(t, -np.inf), np.zeros(t)])
    upper = np.concatenate([hi, hi, np.full(t, float(width)), np.full(t, np.inf)])
    cost = np.concatenate([np.zeros(2 * n), np.ones(t), np.zeros(t)])
    status, _, z = _search(Model(a, both, lower, upper, cost, solver=solver), maximise=True)
    if status != "optimal":
        return None
    return z[:n], z[n : 2 * n]


def narrow(
    know: Knowledge, targets: np.ndarray, width: float, min_gain: float = 0.1
) -> dict[str, np.ndarray]:
    """Every target's attacker interval, certified jointly where possible.

    Returns ``cell``, ``low``, ``high`` (NaN for jointly certified cells: interval at least
    ``width``, exact bounds not computed) and ``ok`` (interval at least ``width``).
    """
    targets = np.asarray(targets, np.int64)
    low = np.full(len(targets), np.nan)
    high = np.full(len(targets), np.nan)
    if width > 0:
        ok = certify(know, targets, width, rounds=10, min_gain=min_gain)
    else:
        ok = np.ones(len(targets), bool)
    rest = np.flatnonzero(~ok)
    if len(rest):
        low[rest], high[rest] = intervals(know, targets[rest], width)
        ok[rest] = (high[rest] - low[rest]) >= width
    return {"cell": targets, "low": low, "high": high, "ok": ok}
