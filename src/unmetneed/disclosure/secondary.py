"""Secondary suppression: complementary cells chosen so no primary can be narrowed too far.

Requirement (contract 4.3): for every primary cell ``p``, the attacker of
:mod:`unmetneed.disclosure.attacker` cannot narrow ``p`` to an interval with
``max - min < width`` (default: the policy's k).

Method, deterministic (ties broken by cell index; HiGHS single-threaded, fixed seed):

1. **Heuristic.** While a relation has exactly one unknown cell (it could be worked out by
   subtraction), hide its cheapest eligible partner: the lightest (an inner cell before a
   margin, when cells are weighed), then a cell with room to move down by the width
   (``value - floor >= width``), then one closing the most lone relations at
   once, then the smallest count, then the lowest index. Vectorised over all relations at
   once with sparse matrices. Skipped under a rounding policy (a rounded count is known
   only to +-2, so a lone suppressed cell may already be safe).
2. **Certify.** The attacker's joint LP (:func:`attacker.certify`) proves most primaries
   wide enough in a few solves.
3. **Repair jointly.** One min-cost LP over the whole table finds a deviation ``y`` of the
   true table, ``R @ y == 0``, lifting every uncertified primary by the width at once,
   cells staying within what the attacker would allow once suppressed (``x + y >= floor``),
   at cost ``1 + value / (1 + max value)`` per person moved in a shown cell (fewest cells,
   then smallest counts; or, given each cell's weight, what hiding it loses: ``lean``)
   and 0 in an unknown one. Every shown cell it moves is suppressed.
   The deviation is a table the attacker cannot rule out, so each lifted primary has
   ``max - min >= width``; suppressing more never narrows an interval, so cells proven
   safe stay safe.
4. **Verify and repair singly.** A lifted primary is proven by the deviation when it keeps
   every relation and bound (``x_p + need`` is a whole number, so rounding the LP interval
   inwards keeps it); any other is proven again (joint LP, then exact min/max LPs), and any
   still narrow gets its own deviation LP with ``y_p >= min_p + width - x_p`` (one
   warm-started HiGHS model), until all pass.

Cells are weighed by what hiding them loses (:mod:`lean`: margins a thousand times dearer;
not under a rounding policy). Zero cells are never complements when zeros are published
(the attacker assumes a suppressed cell is at least 1, which a hidden zero would
contradict).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from unmetneed.disclosure import attacker, lean
from unmetneed.disclosure.lp import Model
from unmetneed.disclosure.model import Cells, Policy
from unmetneed.errors import DisclosureError

MAX_ROUNDS = 5
ROUNDS = 3
Lifted = tuple[np.ndarray, np.ndarray, np.ndarray]  # hidden mask, cells unproven, wide mask
# cells: a table this large is lifted part by part first; below it one deviation of the
# whole table, as cheap there. National releases: 150 areas make 88,000 cells and atoms; a
# 10-area quarter of a cohort that changed makes 26,000, where one deviation of the whole
# took 1.1 s against 0.1 s in a part (105 cells repaired singly: 146 s, then 8 s)
PARTS_FROM = 10_000


def complement(cells: Cells, primary: np.ndarray, policy: Policy) -> np.ndarray:
    """Mask of the complementary cells (excluding the primaries) for ``cells``."""
    if not primary.any() or not cells.relations:
        return np.zeros(len(cells.values), dtype=bool)
    values = cells.values
    published = cells.published()
    weight = None if policy.round_to else lean.weights(cells, published)
    state = State.of(cells.matrix(), values, published, policy, weight=weight)
    hidden = heuristic(state, primary)
    todo = np.flatnonzero(primary & state.published)
    todo = todo[~_certified(state, hidden, todo)]
    if len(todo):
        need = np.full(len(todo), float(policy.protection_width))
        hidden, todo, _ = repair_jointly(state, hidden, todo, need)
    for _ in range(MAX_ROUNDS):
        failing, low = _failing(state, hidden, todo)
        if len(failing) == 0:
            result: np.ndarray = hidden & ~primary
            return result
        hidden = repair(state, hidden, failing, low)
    raise DisclosureError(
        f"could not protect every small count after {MAX_ROUNDS} rounds of secondary suppression",
        hint="This is a bug in unmetneed: please report the table's structure.",
    )


@dataclass(frozen=True)
class State:
    """The fixed facts of one complement search: relations, values (people), which cells
    are published, the policy, and per cell: the floor the attacker knows a suppressed
    count is at least (people), and whether it may be a complement (``can``)."""

    matrix: sparse.csr_matrix
    values: np.ndarray
    published: np.ndarray
    policy: Policy
    floor: np.ndarray
    can: np.ndarray
    weight: np.ndarray | None = None
    part: np.ndarray | None = None  # each cell's part (-1: every part): attacker.part_levels
    ceiling: np.ndarray | None = None  # what a suppressed cell is known to be at most

    @classmethod
    def of(
        cls,
        matrix: sparse.csr_matrix,
        values: np.ndarray,
        published: np.ndarray,
        policy: Policy,
        floor: np.ndarray | None = None,
        locked: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        part: np.ndarray | None = None,
        ceiling: np.ndarray | None = None,
    ) -> State:
        """The state with the policy's floor unless ``floor`` is given; ``locked`` cells
        (already published) are never complements; ``weight``: each cell's cost per person
        hidden (default 1: see :mod:`lean`); ``part``: each cell's part, for searching a
        large table part by part; ``ceiling``: what each suppressed cell is known to be at
        most (default: no bound)."""
        least = np.full(len(values), float(policy.floor)) if floor is None else floor
        can = eligible(values, least, locked)
        return cls(matrix, values, published, policy, least, can, weight, part, ceiling)

    def knowledge(self, hidden: np.ndarray) -> attacker.Knowledge:
        """The attacker's knowledge when ``hidden`` cells are suppressed."""
        shown = _shown_values(self.values, hidden, self.policy)
        return attacker.knowledge(
            self.matrix,
            shown,
            self.published,
            self.policy,
            self.floor,
            self.values,
            self.part,
            self.ceiling,
        )


def eligible(values: np.ndarray, floor: np.ndarray, locked: np.ndarray | None = None) -> np.ndarray:
    """Cells that may be complements: any count at or above its floor (so a zero only where
    the attacker cannot assume a suppressed cell is at least 1), never a locked cell."""
    can = values >= floor
    return can if locked is None else can & ~locked


def heuristic(state: State, primary: np.ndarray) -> np.ndarray:
    """Hidden mask after closing every relation with a lone unknown cell (step 1)."""
    matrix, values, published, policy = state.matrix, state.values, state.published, state.policy
    floor, can = state.floor, state.can
    pattern = sparse.csr_matrix(
        (np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape
    )
    width = policy.protection_width
    rooms = (values - floor < width).astype(np.int64)  # 0: room to move down
    cost = values.astype(np.float64)
    dear = np.zeros(len(values)) if state.weight is None else state.weight  # margins last
    hidden = primary.copy()
    if policy.round_to:  # rounded counts are not exact: leave the judgement to the LP
        return hidden
    while True:
        unknown = hidden | ~published
        # a relation whose one unknown is a suppressed cell gives it away by subtraction (an
        # unpublished cell alone in a relation gives nothing away)
        n_unknown = pattern @ unknown.astype(np.float64)
        n_hidden = pattern @ hidden.astype(np.float64)
        lone = np.flatnonzero((n_unknown == 1) & (n_hidden == 1))
        if len(lone) == 0:
            return hidden
        sub = pattern[lone].tocoo()
        keep = can[sub.col] & ~unknown[sub.col]
        rows, cols = sub.row[keep], sub.col[keep]
        if len(rows) == 0:
            return hidden
        # A partner closing several lone relations at once is worth more.
        hits = np.bincount(cols, minlength=len(values))
        order = np.lexsort((cols, cost[cols], -hits[cols], rooms[cols], dear[cols], rows))
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
    state: State, hidden: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Targets the attacker narrows below the width, and their attacker minimum (step 2)."""
    found = attacker.narrow(state.knowledge(hidden), targets, state.policy.protection_width)
    bad = ~found["ok"]
    return targets[bad], found["low"][bad]


def _certified(state: State, hidden: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Mask over ``targets`` proven wide enough by the attacker's joint LP."""
    width = state.policy.protection_width
    return attacker.certify(state.knowledge(hidden), targets, width, rounds=ROUNDS)


class _Deviation:
    """The min-cost deviation LP of step 3 over the whole table, or over the cells ``cols``
    alone (the others do not move: a deviation of a part is one of the whole).

    Columns ``u`` (people up) then ``v`` (people down) per cell, ``y = u - v``; moving a
    shown cell costs ``1 + value / (1 + max value)`` per person (fewest cells first, then
    smallest counts), an unknown cell nothing. Cells are named by their index in the
    table; ``up``, ``down``, ``cost`` and ``hidden`` are over the whole table.
    """

    def __init__(
        self, state: State, hidden: np.ndarray, solver: str, cols: np.ndarray | None = None
    ) -> None:
        matrix, values = state.matrix, state.values
        know = state.knowledge(hidden)
        x = values.astype(np.float64)
        free = hidden | ~state.published
        can = state.can & ~free  # shown, exact or rounded
        self.up = np.where(can, np.inf, know.upper - x)
        self.down = np.maximum(np.where(can, x - state.floor, x - know.lower), 0.0)
        if state.weight is None:  # fewest cells, then smallest counts
            self.cost = np.where(can, 1.0 + x / (1.0 + x.max()), 0.0)
        else:  # what hiding it loses, spread over the width it moves (lean.prune)
            per = state.weight * (1.0 + x) / max(state.policy.protection_width, 1)
            self.cost = np.where(can, per, 0.0)
        self.base = self.cost.copy()  # before any cell was hidden by this search
        self.n = len(values)
        self.cols = np.arange(self.n) if cols is None else np.asarray(cols, np.int64)
        self.values, self.floor = values, state.floor
        self.width = state.policy.protection_width
        self.hidden = hidden.copy()
        sub = sparse.csc_matrix(matrix[:, self.cols])
        rows = np.flatnonzero(np.diff(sparse.csr_matrix(sub).indptr) > 0)
        c = self.cols
        self.model = Model(
            sparse.hstack([sub[rows], -sub[rows]], format="csc"),
            np.zeros(len(rows)),
            np.zeros(2 * len(c)),
            np.concatenate([self.up[c], self.down[c]]),
            np.concatenate([self.cost[c], self.cost[c]]),
            solver=solver,
        )

    def at(self, cells: np.ndarray) -> np.ndarray:
        """Columns ``u`` of ``cells`` in the model (``v``: plus :meth:`size`)."""
        return np.searchsorted(self.cols, cells)

    def size(self) -> int:
        """Cells the deviation may move."""
        return len(self.cols)

    def covers(self, cells: np.ndarray) -> bool:
        """Whether every one of ``cells`` may move."""
        at = np.minimum(self.at(cells), self.size() - 1)
        return bool(np.all(self.cols[at] == cells))

    def set_cost(self, cells: np.ndarray, cost: np.ndarray) -> None:
        """Cost per person moved up or down of ``cells`` (the table's costs kept too)."""
        self.cost[cells] = cost
        at, m = self.at(cells), self.size()
        self.model.set_cost(np.concatenate([at, at + m]), np.concatenate([cost, cost]))

    def raise_cells(
        self, cells: np.ndarray, need: np.ndarray, down: bool = False
    ) -> np.ndarray | None:
        """Find a deviation lifting ``cells`` by ``need`` people (lowering them, ``down``);
        hide the shown cells it moves.

        Returns the deviation ``y`` (people, one per cell of the table), or None when none
        exists.
        """
        zero = np.zeros(len(cells))
        at, m = self.at(cells), self.size()
        # the moved cells move one way only, so their net move is at least ``need``
        if down:
            self.model.set_bounds(at, zero, zero)
            self.model.set_bounds(at + m, need, self.down[cells])
        else:
            self.model.set_bounds(at, need, self.up[cells])
            self.model.set_bounds(at + m, zero, zero)
        status, _, z = self.model.solve()
        self.model.set_bounds(at, zero, self.up[cells])
        self.model.set_bounds(at + m, zero, self.down[cells])
        if status != "optimal":
            return None
        moved = self.cols[np.flatnonzero((z[:m] + z[m:]) > attacker.TOL)]
        new = moved[self.cost[moved] > 0]
        if len(new):
            self.hidden[new] = True
            self.set_cost(new, np.zeros(len(new)))
        result = np.zeros(self.n)
        result[self.cols] = z[:m] - z[m:]
        return result

    def proves(
        self, y: np.ndarray, matrix: sparse.csr_matrix, cells: np.ndarray, need: np.ndarray
    ) -> np.ndarray:
        """Mask over ``cells``: ``y`` is a table the LP attacker cannot rule out (relations
        hold, bounds kept) in which the cell is ``need`` people higher, so its interval,
        rounded inwards to whole numbers, is still at least ``need`` wide (``x + need`` is
        a whole number).
        """
        result: np.ndarray = (y[cells] >= need - attacker.TOL) & self.valid(y, matrix)
        return result

    def valid(self, y: np.ndarray, matrix: sparse.csr_matrix) -> bool:
        """``x + y`` is a table the LP attacker cannot rule out: relations hold, bounds kept."""
        holds = bool(np.all(np.abs(matrix @ y) < attacker.TOL))
        return holds and bool(
            np.all((y <= self.up + attacker.TOL) & (-y <= self.down + attacker.TOL))
        )


def repair_jointly(
    state: State,
    hidden: np.ndarray,
    cells: np.ndarray,
    need: np.ndarray,
    solver: str | None = None,
    rival: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hidden mask after one deviation lifting every cell of ``cells`` at once (step 3),
    the cells that deviation does not prove safe (to verify again), and the mask of every
    cell it moves by at least the width (whole people), proven wide by it as well.

    One deviation for all is a valid deviation for each, so each is protected by it.
    ``solver``: HiGHS's (default: simplex when the table falls apart into small independent
    blocks, else interior point, which is faster on one large cube). ``rival`` (> 1): also
    hide a second deviation's cells, found with the first one's new cells ``rival`` times
    dearer: alternatives for :mod:`prune` to choose from (hiding more proves no less).

    A large table (national tables tying every area) is lifted part by part first
    (``state.part``, :func:`attacker.part_levels`: a deviation of a few areas' cells, and
    national cells, is one of the whole, and each cell is lifted by its part's; the parts
    of a level side by side, each from the cells hidden before the level), then parts two
    by two, and the whole table only for the cells left.
    """
    wide = np.zeros(len(state.values), dtype=bool)
    unproven: list[np.ndarray] = [np.zeros(0, np.int64)]
    todo = np.ones(len(cells), dtype=bool)
    for parts in _part_levels(state):
        home = attacker.homes(parts, cells)
        start = hidden.copy()

        def one(p: int) -> tuple[np.ndarray, Lifted | None]:
            at = np.flatnonzero(todo & (home == p))  # noqa: B023 (run at once)
            cols = np.flatnonzero((parts == p) | (parts < 0))  # noqa: B023
            part = _Deviation(state, start, "simplex", cols)  # noqa: B023
            return at, _lift(part, state, start, cells[at], need[at], rival)  # noqa: B023

        for at, found in attacker.in_parallel(one, np.unique(home[todo]).tolist()):
            if found is not None:
                todo[at] = False
                hidden |= found[0]
                unproven.append(found[1])
                wide |= found[2]
    if todo.any():
        solver = solver or attacker.solver_for(attacker.largest_block(state.matrix))
        whole = _Deviation(state, hidden, solver=solver)
        found = _lift(whole, state, hidden, cells[todo], need[todo], rival)
        if found is None:
            return whole.hidden, np.sort(np.concatenate([*unproven, cells[todo]])), wide
        hidden, left, moved = found
        unproven.append(left)
        wide |= moved
    return hidden, np.sort(np.concatenate(unproven)), wide


def _part_levels(state: State) -> list[np.ndarray]:
    """:func:`attacker.part_levels` of a table of :data:`PARTS_FROM` cells or more."""
    if state.part is None or len(state.values) < PARTS_FROM:
        return []
    return attacker.part_levels(state.part)


def _lift(
    deviation: _Deviation,
    state: State,
    hidden: np.ndarray,
    cells: np.ndarray,
    need: np.ndarray,
    rival: float,
) -> Lifted | None:
    """:func:`repair_jointly` with one ``deviation``: hidden mask, cells it does not prove
    and the mask of cells it moves by the width; None when it lifts not all of ``cells``."""
    y = deviation.raise_cells(cells, need)
    if y is None:
        return None
    if rival > 1:
        _rival(deviation, hidden, cells, need, rival)
    proven = deviation.proves(y, state.matrix, cells, need)
    valid = bool(proven.any()) or deviation.valid(y, state.matrix)
    width = float(state.policy.protection_width)
    wide = valid & (np.floor(np.abs(y) + attacker.TOL) >= width)
    return deviation.hidden, cells[~proven], wide


def _rival(
    deviation: _Deviation, hidden: np.ndarray, cells: np.ndarray, need: np.ndarray, rival: float
) -> None:
    """A second deviation lifting ``cells`` by ``need`` with the cells the first one hid
    ``rival`` times dearer (warm-started from the first: only costs change); its cells
    are hidden as well."""
    new = np.flatnonzero(deviation.hidden & ~hidden)
    dear = np.where(deviation.base[new] > 0, deviation.base[new] * rival, 0.0)
    deviation.hidden[new] = False
    deviation.model.warm_objective()
    deviation.set_cost(new, dear)
    deviation.raise_cells(cells, need)  # the first deviation still fits: never None
    deviation.hidden[new] = True


def _both_ways(
    deviation: _Deviation, cell: int, width: int, room: float, up_fails: float = np.inf
) -> bool:
    """Whether ``cell`` gets an interval of ``width`` from two deviations, one lowering it
    by ``d`` people (at most its ``room`` above its floor) and one lifting it by
    ``width - d`` (the two tables bound it on either side of its value), hiding what they
    move; the largest ``d`` first. For a cell pinned near its floor from one side.

    ``up_fails``: a lift (people) already found impossible. The lifts a deviation can make
    are an interval from 0 (its tables are a convex set holding the table itself, and
    hiding changes costs, not bounds), so any lift that large or larger is impossible too:
    it is not tried, nor is the lowering paired with it; and once a lift fails, the larger
    ones to come would too: the search ends there.
    """
    at = np.array([cell])
    for d in range(min(width - 1, int(room)), 0, -1):
        if width - d >= up_fails - attacker.TOL:
            return False  # this lift and every larger one to come: impossible
        if deviation.raise_cells(at, np.array([float(d)]), down=True) is None:
            continue
        return deviation.raise_cells(at, np.array([float(width - d)])) is not None
    return False


def repair(
    state: State,
    hidden: np.ndarray,
    failing: np.ndarray,
    low: np.ndarray,
    spare: np.ndarray | None = None,
    looser: State | None = None,
    width: np.ndarray | None = None,
) -> np.ndarray:
    """Hidden mask after one min-cost deviation LP per failing cell (step 3): lifting it
    to its attacker minimum + width, else lowering it by the width, else both ways
    (``width``: per failing cell, people; default the policy's protection width).

    ``spare``: cells the caller can deal with otherwise (no error when one cannot be
    protected: it is left as it is). ``looser``: the same search with fewer cells locked
    (e.g. without cells shown again because the attacker had pinned them), tried for a
    cell that has no deviation otherwise; the cells it moves are hidden (again). In a
    large table each cell is tried in its part first (:func:`repair_jointly`).
    """
    ladder = _Ladder(state, hidden)
    again: _Ladder | None = None
    wide = np.full(len(failing), state.policy.protection_width) if width is None else width
    for p, m, w in zip(failing.tolist(), low.tolist(), wide.astype(int).tolist(), strict=True):
        if ladder.protect(p, m, w):
            continue
        if looser is not None:
            again = again or _Ladder(looser, ladder.hidden())
            if again.protect(p, m, w):
                continue
        if spare is not None and spare[p]:
            continue
        raise UnprotectableError(p)
    return ladder.hidden() if again is None else ladder.hidden() | again.hidden()


class _Ladder:
    """Deviation LPs of one state from the smallest part holding a cell up to the whole
    table (:func:`attacker.part_levels`), each built when first needed, warm-started."""

    def __init__(self, state: State, hidden: np.ndarray) -> None:
        self.state, self.start = state, hidden
        self.levels = _part_levels(state)
        self.made: dict[tuple[int, int], _Deviation] = {}

    def protect(self, cell: int, low: float, width: int) -> bool:
        """Whether a deviation of some rung protects ``cell`` (:func:`_protect_one`)."""
        rungs = [
            (i, int(attacker.homes(lv, np.array([cell]))[0])) for i, lv in enumerate(self.levels)
        ]
        for key in [*rungs, (len(self.levels), 0)]:
            if _protect_one(self._deviation(key), cell, low, width):
                return True
        return False

    def _deviation(self, key: tuple[int, int]) -> _Deviation:
        if key not in self.made:
            level, part = key
            cols = None
            if level < len(self.levels):
                cols = np.flatnonzero((self.levels[level] == part) | (self.levels[level] < 0))
            self.made[key] = _Deviation(self.state, self.hidden(), "simplex", cols)
        return self.made[key]

    def hidden(self) -> np.ndarray:
        """Every cell hidden so far, by any rung."""
        out = self.start.copy()
        for deviation in self.made.values():
            out |= deviation.hidden
        return out


class UnprotectableError(DisclosureError):
    """No suppression protects cell ``cell`` (exit 4); the caller may name it better."""

    def __init__(self, cell: int, name: str | None = None) -> None:
        super().__init__(
            f"{name or f'cell {cell}'} cannot be protected by suppression",
            hint="Its relations leave no room (earlier published tables may pin it): "
            "merge categories or publish fewer totals.",
        )
        self.cell = cell


def _protect_one(deviation: _Deviation, cell: int, low: float, width: int) -> bool:
    """Whether a deviation protects ``cell`` (attacker minimum ``low``, people): lifting it
    to ``low`` + ``width``, else lowering it by the width, else both ways; hides what it
    moves."""
    at = np.array([cell])
    value = float(deviation.values[cell])
    need = max(low + width - value, 0.0)
    if deviation.raise_cells(at, np.array([need])) is not None:
        return True
    if deviation.raise_cells(at, np.array([float(width)]), down=True) is not None:
        return True
    room = value - float(deviation.floor[cell])
    return _both_ways(deviation, cell, width, room, need if need > 0 else np.inf)
