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
unknown cells split into independent blocks (connected through the relations), so each
LP is small; within a block one HiGHS model is re-solved with a new objective per cell.
A joint LP first certifies, in one solve per block, every cell whose interval is at least
the width: two feasible tables ``x1, x2`` maximising ``sum(min(x1_c - x2_c, width))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from unmetneed.disclosure.lp import Model
from unmetneed.disclosure.model import Policy

TOL = 1e-6


class InconsistentError(ValueError):
    """The published values contradict the relations (no table fits them)."""


@dataclass
class Knowledge:
    """What the attacker knows: ``matrix @ x == 0`` and ``lower <= x <= upper`` (people)."""

    matrix: sparse.csr_matrix
    lower: np.ndarray
    upper: np.ndarray


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
    matrix: sparse.csr_matrix, shown: np.ndarray, published: np.ndarray, policy: Policy
) -> Knowledge:
    """The attacker's bounds: ``shown`` is each cell's published value (NaN if suppressed);
    ``published`` marks cells shown anywhere (the others are merely ``>= 0``).
    """
    hidden = np.isnan(shown)
    lo, hi = shown_bounds(np.where(hidden, 0.0, shown), policy)
    lo = np.where(hidden, float(policy.floor), lo)
    hi = np.where(hidden, np.inf, hi)
    lo[~published] = 0.0
    hi[~published] = np.inf
    return Knowledge(sparse.csr_matrix(matrix), lo, hi)


@dataclass
class Block:
    """One independent part of the attacker's LP: unknown ``cells`` tied by ``rows``."""

    cells: np.ndarray
    rows: np.ndarray


@dataclass
class Reduced:
    """The LP over unknown cells only: ``a @ x[free] == rhs`` (rows with an unknown)."""

    know: Knowledge
    free: np.ndarray
    a: sparse.csr_matrix
    rhs: np.ndarray
    blocks: list[Block]
    block_of: np.ndarray  # block index of every cell (-1 for known cells)


def reduce(know: Knowledge) -> Reduced:
    """Eliminate known cells and split the unknown ones into independent blocks.

    Raises :class:`InconsistentError` when a relation among known cells does not add up.
    """
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
    labels = _components(a)
    order = np.argsort(labels[: len(free)], kind="stable")
    splits = np.flatnonzero(np.diff(labels[: len(free)][order])) + 1
    row_labels = labels[len(free) :]
    row_order = np.argsort(row_labels, kind="stable")
    blocks = []
    for cell_group in np.split(order, splits):
        label = labels[cell_group[0]]
        lo, hi = np.searchsorted(row_labels[row_order], [label, label + 1])
        blocks.append(Block(cell_group, row_order[lo:hi]))
    block_of = np.full(n, -1, np.int64)
    for i, block in enumerate(blocks):
        block_of[free[block.cells]] = i
    return Reduced(know, free, a, rhs, blocks, block_of)


def _components(a: sparse.csr_matrix) -> np.ndarray:
    """Component label of each column then each row of ``a`` (bipartite graph)."""
    n_row, n_col = a.shape
    pattern = sparse.csr_matrix((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape)
    graph = sparse.bmat([[None, pattern.T], [pattern, None]], format="csr")
    _, labels = csgraph.connected_components(graph, directed=False)
    return np.asarray(labels)


def _block_model(red: Reduced, block: Block) -> Model:
    """The LP of one block: its unknown cells, its relations, the attacker's bounds."""
    cells = red.free[block.cells]
    sub = red.a[block.rows][:, block.cells]
    return Model(sub, red.rhs[block.rows], red.know.lower[cells], red.know.upper[cells])


def intervals(know: Knowledge, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The attacker's [min, max] for each target cell (people; max may be ``inf``).

    Two LPs per unknown target, one warm-started model per block; known targets get their
    own bounds.
    """
    targets = np.asarray(targets, np.int64)
    low = know.lower[targets].astype(np.float64)
    high = know.upper[targets].astype(np.float64)
    red = reduce(know)
    where = red.block_of[targets]
    for b in np.unique(where[where >= 0]):
        block = red.blocks[b]
        if len(block.rows) == 0:
            continue
        model = _block_model(red, block)
        if model.solve()[0] == "infeasible":
            raise InconsistentError("no table of non-negative counts fits the published values")
        model.warm_objective()
        mine = np.flatnonzero(where == b)
        position = np.searchsorted(red.free[block.cells], targets[mine])
        for t, col in zip(mine.tolist(), position.tolist(), strict=True):
            low[t], high[t] = _extremes(model, col)
    _check_feasible(low, high)
    return np.ceil(low - TOL), np.floor(high + TOL)


def _extremes(model: Model, col: int) -> tuple[float, float]:
    """Min and max of one column of a model (its cost set to 1 and back to 0)."""
    model.set_cost(np.array([col]), np.array([1.0]))
    status_lo, low, _ = model.solve(maximise=False)
    status_hi, high, _ = model.solve(maximise=True)
    model.set_cost(np.array([col]), np.array([0.0]))
    if "infeasible" in (status_lo, status_hi):
        raise InconsistentError("no table of non-negative counts fits the published values")
    return low, high


def _check_feasible(low: np.ndarray, high: np.ndarray) -> None:
    if np.any(low > high + TOL):
        raise InconsistentError("no table of non-negative counts fits the published values")


def certify(
    know: Knowledge, targets: np.ndarray, width: float, rounds: int = 3, min_gain: float = 0.05
) -> np.ndarray:
    """Mask over ``targets``: cells whose attacker interval is proven at least ``width``.

    One joint LP per block: two tables ``x1, x2`` both consistent with what is published,
    maximising ``sum(d_c)`` with ``d_c <= x1_c - x2_c`` and ``d_c <= width``. A target
    with ``d_c == width`` at integral ``x1_c, x2_c`` has ``max - min >= width``. Cells
    left uncertified need their own LPs (:func:`intervals`); nothing is claimed for them.
    Up to ``rounds`` rounds on the uncertified cells, stopping when one certifies fewer
    than ``min_gain`` of those left (rivals in one joint LP hold each other back).
    """
    targets = np.asarray(targets, np.int64)
    ok = np.zeros(len(targets), dtype=bool)
    for _ in range(rounds):
        todo = np.flatnonzero(~ok)
        if len(todo) == 0:
            return ok
        found = _certify_once(know, targets[todo], width)
        ok[todo[found]] = True
        if found.sum() < min_gain * len(todo):
            return ok
    return ok


def _certify_once(know: Knowledge, targets: np.ndarray, width: float) -> np.ndarray:
    """One round of :func:`certify` (a cell's rivals in the joint LP may hold it back)."""
    ok = np.zeros(len(targets), dtype=bool)
    red = reduce(know)
    where = red.block_of[targets]
    known = where < 0
    ok[known] = (know.upper[targets[known]] - know.lower[targets[known]]) >= width
    for b in np.unique(where[where >= 0]):
        block = red.blocks[b]
        mine = np.flatnonzero(where == b)
        position = np.searchsorted(red.free[block.cells], targets[mine])
        if len(block.rows) == 0:
            span = red.know.upper[targets[mine]] - red.know.lower[targets[mine]]
            ok[mine] = span >= width
            continue
        ok[mine] = _certify_block(red, block, position, width)
    return ok


def _certify_block(red: Reduced, block: Block, position: np.ndarray, width: float) -> np.ndarray:
    """The joint LP of :func:`certify` for one block; ``position``: targets' columns."""
    cells = red.free[block.cells]
    sub = red.a[block.rows][:, block.cells]
    n, m, t = len(cells), len(block.rows), len(position)
    pick = sparse.csr_matrix((np.ones(t), (np.arange(t), position)), shape=(t, n))
    a = sparse.bmat(
        [
            [sub, None, None],
            [None, sub, None],
            [pick, -pick, -sparse.identity(t)],
        ],
        format="csc",
    )
    rhs = np.concatenate([red.rhs[block.rows], red.rhs[block.rows], np.zeros(t)])
    lo, hi = red.know.lower[cells], red.know.upper[cells]
    # d_c = x1_c - x2_c - s_c with slack s_c >= 0 keeps the rows equalities.
    slack = sparse.identity(t, format="csc")
    a = sparse.hstack([a, sparse.vstack([sparse.csc_matrix((2 * m, t)), -slack])], format="csc")
    lower = np.concatenate([lo, lo, np.full(t, -np.inf), np.zeros(t)])
    upper = np.concatenate([hi, hi, np.full(t, float(width)), np.full(t, np.inf)])
    cost = np.concatenate([np.zeros(2 * n), np.ones(t), np.zeros(t)])
    status, _, z = Model(a, rhs, lower, upper, cost, solver="ipm").solve(maximise=True)
    if status != "optimal":
        return np.zeros(t, dtype=bool)
    x1, x2, d = z[:n][position], z[n : 2 * n][position], z[2 * n : 2 * n + t]
    integral = (np.abs(x1 - np.round(x1)) < TOL) & (np.abs(x2 - np.round(x2)) < TOL)
    return (d >= width - TOL) & integral


def narrow(know: Knowledge, targets: np.ndarray, width: float) -> dict[str, np.ndarray]:
    """Every target's attacker interval, certified jointly where possible.

    Returns ``cell``, ``low``, ``high`` (NaN for jointly certified cells: interval at least
    ``width``, exact bounds not computed) and ``ok`` (interval at least ``width``).
    """
    targets = np.asarray(targets, np.int64)
    low = np.full(len(targets), np.nan)
    high = np.full(len(targets), np.nan)
    if width > 0:
        ok = certify(know, targets, width, rounds=10, min_gain=0.1)
    else:
        ok = np.ones(len(targets), bool)
    rest = np.flatnonzero(~ok)
    if len(rest):
        low[rest], high[rest] = intervals(know, targets[rest])
        ok[rest] = (high[rest] - low[rest]) >= width
    return {"cell": targets, "low": low, "high": high, "ok": ok}
