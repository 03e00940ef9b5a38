"""A cell protected both ways (``secondary._both_ways``): no lift is tried that a smaller
lift already found impossible.

The lifts a deviation can make of one cell are an interval from 0: its tables are a convex
set holding the true table, and hiding a cell changes its cost, never its bounds. So once
a lift fails, every larger one fails, and the lowering paired with it is not worth an LP.
Checked on a hand-made table (LPs counted) and, as a property, against the search that
tries every pair.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from unmetneed.disclosure import Cells, Policy
from unmetneed.disclosure.secondary import State, _both_ways, _Deviation
from unmetneed.disclosure.tables import cube

POLICY = Policy.named(k=3)


def _pinned_above(q: int) -> tuple[State, np.ndarray]:
    """``T = p + q`` with ``T`` locked (shown in an earlier table), ``p = 3`` hidden and
    ``q`` shown: lifting ``p`` lowers ``q``, which may fall to its floor (1) only."""
    cells = Cells(np.array([3 + q, 3, q]))
    cells.add_relation(0, [1, 2])
    values = np.asarray(cells.values)
    locked = np.array([True, False, False])
    state = State.of(cells.matrix(), values, np.ones(3, bool), POLICY, None, locked)
    return state, np.array([False, True, False])


class _Counted(_Deviation):
    """A deviation that counts its LPs."""

    solves = 0

    def raise_cells(
        self, cells: np.ndarray, need: np.ndarray, down: bool = False
    ) -> np.ndarray | None:
        self.solves += 1
        return super().raise_cells(cells, need, down)


def test_a_failed_lift_ends_the_search() -> None:
    # q = 1 is at its floor: p cannot rise at all, but can fall by 2 (q rises).
    # d = 2: lowering by 2 works (LP 1), lifting by 1 fails (LP 2); d = 1 would need a lift
    # of 2: not tried. The old search made 4 LPs to say the same.
    state, hidden = _pinned_above(1)
    deviation = _Counted(state, hidden, "simplex")
    assert not _both_ways(deviation, 1, 3, 2.0)
    assert deviation.solves == 2


def test_a_lift_known_to_fail_is_not_tried() -> None:
    state, hidden = _pinned_above(1)
    deviation = _Counted(state, hidden, "simplex")
    assert not _both_ways(deviation, 1, 3, 2.0, up_fails=1.0)
    assert deviation.solves == 0


def test_both_ways_still_found() -> None:
    # q = 2 may fall by 1: p rises by 1 and falls by 2, a range of 3 (from 1 to 4)
    state, hidden = _pinned_above(2)
    deviation = _Counted(state, hidden, "simplex")
    assert _both_ways(deviation, 1, 3, 2.0)
    assert deviation.solves == 2
    assert deviation.hidden[2]  # q moves: it is hidden


def _every_pair(state: State, hidden: np.ndarray, cell: int, width: int, room: float) -> bool:
    """The exhaustive search: every lowering ``d`` with its lift ``width - d``, each pair
    on a fresh deviation."""
    at = np.array([cell])
    for d in range(min(width - 1, int(room)), 0, -1):
        fresh = _Deviation(state, hidden, "simplex")
        if fresh.raise_cells(at, np.array([float(d)]), down=True) is None:
            continue
        if fresh.raise_cells(at, np.array([float(width - d)])) is not None:
            return True
    return False


@settings(max_examples=40, deadline=None)
@given(
    inner=st.integers(2, 3).flatmap(
        lambda r: st.lists(
            st.lists(st.integers(0, 6), min_size=3, max_size=3), min_size=r, max_size=r
        )
    ),
    seed=st.integers(0, 2**16),
)
def test_the_short_search_agrees_with_every_pair(inner: list[list[int]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    cells, _ = cube(np.asarray(inner))  # with its row, column and grand totals
    values = np.asarray(cells.values)
    n = len(values)
    locked = rng.random(n) < 0.4
    hidden = ~locked & (rng.random(n) < 0.4)
    state = State.of(cells.matrix(), values, np.ones(n, bool), POLICY, None, locked)
    for cell in np.flatnonzero(hidden).tolist():
        room = float(values[cell] - state.floor[cell])
        found = _both_ways(_Deviation(state, hidden, "simplex"), cell, 3, room)
        assert found == _every_pair(state, hidden, cell, 3, room)
