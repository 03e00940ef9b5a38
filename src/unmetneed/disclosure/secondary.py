"""Secondary suppression: complementary cells chosen so no primary can be narrowed too far.

Requirement (contract 4.3): for every primary cell ``p``, the attacker of
:mod:`unmetneed.disclosure.attacker` cannot narrow ``p`` to an interval with
``max - min < width`` (default: the policy's k).

Method, deterministic (ties broken by cell index; HiGHS single-threaded, fixed seed):

1. **Heuristic.** While a relation has exactly one unknown cell (it could be worked out by
   subtraction), hide its cheapest eligible partner: a cell with room to move down by the
   width (``value - floor >= width``) first, then one closing the most lone relations at
   once, then the smallest count, then the lowest index. Vectorised over all relations at
   once with sparse matrices. Skipped under a rounding policy (a rounded count is known
   only to +-2, so a lone suppressed cell may already be safe).
2. **Certify.** The attacker's joint LP (:func:`attacker.certify`) proves most primaries
   wide enough in a few solves.
3. **Repair jointly.** One min-cost LP over the whole table finds a deviation ``y`` of the
   true table, ``R @ y == 0``, lifting every uncertified primary by the width at once,
   cells staying within what the attacker would allow once suppressed (``x + y >= floor``),
   at cost ``1 + value / (1 + max value)`` per person moved in a shown cell (fewest cells,
   then smallest counts) and 0 in an unknown one. Every shown cell it moves is suppressed.
   The deviation is a table the attacker cannot rule out, so each lifted primary has
   ``max - min >= width``; suppressing more never narrows an interval, so cells proven
   safe stay safe.
4. **Verify and repair singly.** A lifted primary is proven by the deviation when it keeps
   every relation and bound (``x_p + need`` is a whole number, so rounding the LP interval
   inwards keeps it); any other is proven again (joint LP, then exact min/max LPs), and any
   still narrow gets its own deviation LP with ``y_p >= min_p + width - x_p`` (one
   warm-started HiGHS model), until all pass.

Zero cells are never complements when zeros are published (the attacker assumes a
suppressed cell is at least 1, which a hidden zero would contradict).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from unmetneed.disclosure import attacker
from unmetneed.disclosure.lp import Model
from unmetneed.disclosure.model import Cells, Policy
from unmetneed.errors import DisclosureError

MAX_ROUNDS = 5
ROUNDS = 3


def complement(cells: Cells, primary: np.ndarray, policy: Policy) -> np.ndarray:
    """Mask of the complementary cells (excluding the primaries) for ``cells``."""
    if not primary.any() or not cells.relations:
        return np.zeros(len(cells.values), dtype=bool)
    matrix = cells.matrix()
    published = cells.published()
    values = cells.values
    hidden = heuristic(matrix, values, primary, published, policy)
    width = policy.protection_width
    todo = np.flatnonzero(primary & published)
    todo = todo[~_certified(matrix, values, hidden, published, policy, todo)]
    if len(todo):
        need = np.full(len(todo), float(width))
        hidden, todo = _repair_jointly(matrix, values, hidden, published, policy, todo, need)
    for _ in range(MAX_ROUNDS):
        failing, low = _failing(matrix, values, hidden, todo, published, policy)
        if len(failing) == 0:
            return hidden & ~primary
        hidden = _repair(matrix, values, hidden, published, policy, failing, low)
    raise DisclosureError(
        f"could not protect every small count after {MAX_ROUNDS} rounds of secondary suppression",
        hint="This is a bug in unmetneed: please report the table's structure.",
    )


def eligible(values: np.ndarray, policy: Policy) -> np.ndarray:
    """Cells that may be complements: any count, except zeros when zeros are published."""
    return values >= policy.floor


def heuristic(
    matrix: sparse.csr_matrix,
    values: np.ndarray,
    primary: np.ndarray,
    published: np.ndarray,
    policy: Policy,
) -> np.ndarray:
    """Hidden mask after closing every relation with a lone unknown cell (step 1)."""
    pattern = sparse.csr_matrix(
        (np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape
    )
    width = policy.protection_width
    rooms = (values - policy.floor < width).astype(np.int64)  # 0: room to move down
    cost = values.astype(np.float64)
    can = eligible(values, policy)
    hidden = primary.copy()
    if policy.round_to:  # rounded counts are not exact: leave the judgement to the LP
        return hidden
    while True:
        unknown = hidden | ~published
        lone = np.flatnonzero((pattern @ unknown.astype(np.float64)) == 1)
        if len(lone) == 0:
            return hidden
        sub = pattern[lone].tocoo()
        keep = can[sub.col] & ~unknown[sub.col]
        rows, cols = sub.row[keep], sub.col[keep]
        if len(rows) == 0:
            return hidden
        # A partner closing several lone relations at once is worth more.
        hits = np.bincount(cols, minlength=len(values))
        order = np.lexsort((cols, cost[cols], -hits[cols], rooms[cols], rows))
        _, first = np.unique(rows[order], return_index=True)
        picks = cols[order][first]
        if hidden[picks].all():
            return hidden
        hidden[picks] = True


def _shown_values(values: np.ndarray, hidden: np.ndarray, policy: Policy) -> np.ndarray:
    """What is published for each cell: NaN if hidden, else the (rounded) count."""
    shown = values.astype(np.float64)
    if policy.round_to:
        shown = np.floor(values / policy.round_to + 0.5) * policy.round_to
    return np.where(hidden, np.nan, shown)


def _failing(
    matrix: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    targets: np.ndarray,
    published: np.ndarray,
    policy: Policy,
) -> tuple[np.ndarray, np.ndarray]:
    """Targets the attacker narrows below the width, and their attacker minimum (step 2)."""
    know = attacker.knowledge(matrix, _shown_values(values, hidden, policy), published, policy)
    found = attacker.narrow(know, targets, policy.protection_width)
    bad = ~found["ok"]
    return targets[bad], found["low"][bad]


def _certified(
    matrix: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    published: np.ndarray,
    policy: Policy,
    targets: np.ndarray,
) -> np.ndarray:
    """Mask over ``targets`` proven wide enough by the attacker's joint LP."""
    know = attacker.knowledge(matrix, _shown_values(values, hidden, policy), published, policy)
    return attacker.certify(know, targets, policy.protection_width, rounds=ROUNDS)


class _Deviation:
    """The min-cost deviation LP of step 3 over the whole table.

    Columns ``u`` (people up) then ``v`` (people down) per cell, ``y = u - v``; moving a
    shown cell costs ``1 + value / (1 + max value)`` per person (fewest cells first, then
    smallest counts), an unknown cell nothing.
    """

    def __init__(
        self,
        matrix: sparse.csr_matrix,
        values: np.ndarray,
        hidden: np.ndarray,
        published: np.ndarray,
        policy: Policy,
        solver: str,
    ) -> None:
        shown = _shown_values(values, hidden, policy)
        know = attacker.knowledge(matrix, shown, published, policy)
        x = values.astype(np.float64)
        free = hidden | ~published
        can = eligible(values, policy) & ~free  # shown, exact or rounded
        self.up = np.where(can, np.inf, know.upper - x)
        self.down = np.maximum(np.where(can, x - policy.floor, x - know.lower), 0.0)
        self.cost = np.where(can, 1.0 + x / (1.0 + x.max()), 0.0)
        self.n = len(values)
        self.hidden = hidden.copy()
        self.model = Model(
            sparse.hstack([matrix, -matrix], format="csc"),
            np.zeros(matrix.shape[0]),
            np.zeros(2 * self.n),
            np.concatenate([self.up, self.down]),
            np.concatenate([self.cost, self.cost]),
            solver=solver,
        )

    def raise_cells(self, cells: np.ndarray, need: np.ndarray) -> np.ndarray | None:
        """Find a deviation lifting ``cells`` by ``need`` people; hide the shown cells it moves.

        Returns the deviation ``y`` (people, one per cell), or None when none exists.
        """
        zero = np.zeros(len(cells))
        # the lifted cells move up only, so their net move y = u - v is at least ``need``
        self.model.set_bounds(cells, need, self.up[cells])
        self.model.set_bounds(cells + self.n, zero, zero)
        status, _, z = self.model.solve()
        self.model.set_bounds(cells, zero, self.up[cells])
        self.model.set_bounds(cells + self.n, zero, self.down[cells])
        if status != "optimal":
            return None
        moved = np.flatnonzero((z[: self.n] + z[self.n :]) > attacker.TOL)
        new = moved[self.cost[moved] > 0]
        if len(new):
            self.hidden[new] = True
            self.cost[new] = 0.0
            self.model.set_cost(np.concatenate([new, new + self.n]), np.zeros(2 * len(new)))
        return z[: self.n] - z[self.n :]

    def proves(
        self, y: np.ndarray, matrix: sparse.csr_matrix, cells: np.ndarray, need: np.ndarray
    ) -> np.ndarray:
        """Mask over ``cells``: ``y`` is a table the LP attacker cannot rule out (relations
        hold, bounds kept) in which the cell is ``need`` people higher, so its interval,
        rounded inwards to whole numbers, is still at least ``need`` wide (``x + need`` is
        a whole number).
        """
        holds = bool(np.all(np.abs(matrix @ y) < attacker.TOL))
        kept = bool(np.all((y <= self.up + attacker.TOL) & (-y <= self.down + attacker.TOL)))
        return (y[cells] >= need - attacker.TOL) & holds & kept


def _repair_jointly(
    matrix: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    published: np.ndarray,
    policy: Policy,
    cells: np.ndarray,
    need: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Hidden mask after one deviation lifting every cell of ``cells`` at once (step 3),
    and the cells that deviation does not prove safe (to verify again).

    One deviation for all is a valid deviation for each, so each is protected by it.
    Simplex when the table falls apart into small independent blocks, else interior point.
    """
    solver = attacker.solver_for(attacker.largest_block(matrix))
    deviation = _Deviation(matrix, values, hidden, published, policy, solver=solver)
    y = deviation.raise_cells(cells, need)
    proven = np.zeros(len(cells), bool) if y is None else deviation.proves(y, matrix, cells, need)
    return deviation.hidden, cells[~proven]


def _repair(
    matrix: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    published: np.ndarray,
    policy: Policy,
    failing: np.ndarray,
    low: np.ndarray,
) -> np.ndarray:
    """Hidden mask after one min-cost deviation LP per failing primary (step 3)."""
    deviation = _Deviation(matrix, values, hidden, published, policy, solver="simplex")
    width = policy.protection_width
    for p, m in zip(failing.tolist(), low.tolist(), strict=True):
        need = max(m + width - float(values[p]), 0.0)
        if deviation.raise_cells(np.array([p]), np.array([need])) is None:
            raise DisclosureError(
                f"cell {p} (a count of {values[p]}) cannot be protected by suppression",
                hint="Its relations leave no room: merge categories or publish fewer totals.",
            )
    return deviation.hidden
