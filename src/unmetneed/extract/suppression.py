"""Local suppression: the fewest values (then rows) given up so every quasi group has K rows.

**How loss is kept small.** Only rows in groups smaller than K are ever touched; rows in
groups of K or more are released unchanged. Keeping rows comes first (a removed row is
missing from every count an analyst makes; a suppressed value only from breakdowns by
that column), then suppressing the fewest values. Small groups lose single values (set
to ``not_stated``), in this order, repeated to a fixpoint:

1. *merge*: each small group suppresses the one column that moves it into a group that
   already has K or more rows; where several columns would do, it gives up its most
   common category (e.g. ``white`` before ``muslim``), so rare groups keep their identity;
2. *pool*: small groups that differ only in one column are pooled by suppressing that
   column where the pool reaches K (the column fixing the most rows first), then in
   two columns at once where one is not enough;
3. *step*: groups that nothing above can fix suppress the column with the largest
   potential pool, which moves them towards the all-not-stated group of their area and
   age band;
4. *donate*: a group still short of K there is made up to K by fully suppressing rows
   of groups larger than K in the same area and age band (which keep K), cheapest
   first; only where that is impossible are rows removed.

Afterwards, suppressed values are given back wherever the table stays k-anonymous.
Columns without a ``not_stated`` code (``area``, ``age_band``, ``drug_group``) are never
suppressed. The result is compared with the plain rule "delete every group smaller than
K", and that rule is used instead if it would keep more rows or values (it cannot: only
rows it would delete lose anything, but the check is made on every run). Everything is
deterministic and independent of the input's row order: integer codes numbered in sorted
order, first-column tie-breaks, no randomness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np
import pandas as pd

from unmetneed.counting import row_groups
from unmetneed.extract.options import Method
from unmetneed.extract.quasi import Encoded

MAX_POOL_WIDTH = 2  # columns suppressed together when pooling; wider goes step by step


def _sizes(ids: np.ndarray, active: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per row: the number (or weighted count) of active rows sharing its id."""
    w = active if weights is None else np.where(active, weights, 0)
    result: np.ndarray = np.bincount(
        ids, weights=w.astype(np.int64), minlength=int(ids.max(initial=-1)) + 1
    )[ids]
    return result


def small_rows(codes: np.ndarray, active: np.ndarray, k: int) -> np.ndarray:
    """Active rows whose quasi combination has fewer than ``k`` active rows."""
    if codes.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return active & (_sizes(row_groups(codes), active) < k)


def _block(codes: np.ndarray, j: int) -> np.ndarray:
    """Group ids over every column but ``j``: rows that differ at most in column ``j``."""
    return row_groups(codes, skip=(j,))


@dataclass
class _State:
    """The solver's working copy: current codes and which rows are removed.

    ``origin`` numbers each row's whole original content (see :class:`Encoded`).
    """

    codes: np.ndarray
    removed: np.ndarray
    ns: tuple[int, ...]
    score: np.ndarray
    k: int
    origin: np.ndarray
    width: int

    @property
    def active(self) -> np.ndarray:
        return ~self.removed

    def movable(self) -> list[int]:
        return [j for j, code in enumerate(self.ns) if code >= 0]

    def suppress(self, rows: np.ndarray, j: int) -> int:
        self.codes[rows, j] = self.ns[j]
        return int(rows.sum())


def _choose(candidates: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether any column is a candidate, and the candidate of highest priority.

    Ties go to the first column (``argmax`` takes the first maximum), so it is deterministic.
    """
    masked = np.where(candidates, priority, -1)
    return np.asarray(candidates.any(axis=1)), np.asarray(masked.argmax(axis=1))


def _merge(state: _State, small: np.ndarray) -> int:
    """Move each small group into an existing group of >= k by suppressing one column.

    The target already holds k rows and only gains rows, so every move is final.
    Returns the number of cells suppressed.
    """
    cand = np.zeros_like(state.codes, dtype=bool)
    for j in state.movable():
        is_ns = state.codes[:, j] == state.ns[j]
        target = _sizes(_block(state.codes, j), state.active, is_ns)
        cand[:, j] = small & ~is_ns & (target >= state.k)
    any_cand, best = _choose(cand, state.score)
    return sum(state.suppress(any_cand & (best == j), j) for j in state.movable())


def _pools(state: _State, small: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows that suppressing column ``j`` could move, and the pool each would land in.

    The pool of a block is its small rows whose ``j`` is stated plus its rows whose ``j``
    is already not stated: the size of the group they all form once ``j`` is suppressed.
    """
    is_ns = state.codes[:, j] == state.ns[j]
    movers = small & ~is_ns
    pool = _sizes(_block(state.codes, j), state.active, movers | is_ns)
    return movers, pool


def _pool(state: _State, small: np.ndarray) -> int:
    """Suppress, in the one column that fixes the most rows, every pool that reaches k."""
    best_j, best_rows, best_score = -1, np.zeros(0, dtype=bool), (0, 0)
    for j in state.movable():
        movers, pool = _pools(state, small, j)
        fixed = movers & (pool >= state.k)
        rank = (int(fixed.sum()), int(state.score[fixed, j].sum()))
        if rank > best_score:
            best_j, best_rows, best_score = j, fixed, rank
    return state.suppress(best_rows, best_j) if best_j >= 0 else 0


def _pool_wide(state: _State, small: np.ndarray) -> int:
    """Pool small rows by suppressing 2 (then 3) columns at once, where one is not enough.

    For each set of columns, the block is the rows alike in every other column; its
    small rows, with those columns all set to not stated, join the block's rows that
    have them all not stated already. The narrowest set that fixes any row wins; among
    sets of one width, the one fixing the most rows, then costing the fewest cells.
    """
    movable = state.movable()
    for width in range(2, min(len(movable), MAX_POOL_WIDTH) + 1):
        best: tuple[int, int] = (0, 0)
        best_cols: tuple[int, ...] = ()
        best_rows = np.zeros(0, dtype=bool)
        for cols in combinations(movable, width):
            stated = state.codes[:, cols] != np.array([state.ns[j] for j in cols])
            movers = small & stated.any(axis=1)
            block = row_groups(state.codes, skip=cols)
            fixed = movers & (_sizes(block, state.active, movers | ~stated.any(axis=1)) >= state.k)
            rank = (int(fixed.sum()), -int(stated[fixed].sum()))
            if rank[0] > 0 and rank > best:
                best, best_cols, best_rows = rank, cols, fixed
        if best_cols:
            return sum(
                state.suppress(best_rows & (state.codes[:, j] != state.ns[j]), j) for j in best_cols
            )
    return 0


def _step(state: _State, small: np.ndarray) -> int:
    """Suppress one more column of each stuck small group, towards the largest pool."""
    cand = np.zeros_like(state.codes, dtype=bool)
    priority = np.zeros_like(state.codes)
    for j in state.movable():
        movers, pool = _pools(state, small, j)
        cand[:, j] = movers
        priority[:, j] = pool * (int(state.score.max(initial=0)) + 1) + state.score[:, j]
    any_cand, best = _choose(cand, priority)
    return sum(state.suppress(any_cand & (best == j), j) for j in state.movable())


@dataclass(frozen=True)
class Solution:
    """Which cells were suppressed and which rows removed, and how it was decided.

    ``suppressed`` is rows x quasi columns (True: the value was set to not stated);
    ``removed`` is per row. ``method`` is what was used (``local`` or ``rows``);
    ``fell_back`` is True when local suppression lost more than deleting small groups.
    ``width`` is the number of values a released row carries.
    """

    suppressed: np.ndarray
    removed: np.ndarray
    method: Method
    width: int
    fell_back: bool = False

    @property
    def rows_kept(self) -> int:
        """Rows released."""
        return int((~self.removed).sum())

    @property
    def values_kept(self) -> int:
        """Values released as they were: kept rows x width, less the suppressed cells."""
        kept = ~self.removed
        return int(kept.sum()) * self.width - int(self.suppressed[kept].sum())


def delete_small_groups(enc: Encoded, k: int) -> Solution:
    """The plain K-rule: remove every row whose combination has fewer than ``k`` rows."""
    removed = small_rows(enc.codes, np.ones(enc.codes.shape[0], dtype=bool), k)
    return Solution(np.zeros_like(enc.codes, dtype=bool), removed, "rows", enc.width)


def local_suppression(enc: Encoded, k: int) -> Solution:
    """Suppress single values to reach k-anonymity, removing rows only where that fails.

    Each pass either suppresses at least one cell (a row's not-stated count only grows,
    so there are at most rows x columns of them) or removes rows, so it ends.
    """
    removed = np.zeros(enc.codes.shape[0], dtype=bool)
    state = _State(enc.codes.copy(), removed, enc.ns, enc.score, k, enc.origin, enc.width)
    while True:
        small = small_rows(state.codes, state.active, k)
        if not small.any():
            break
        if _merge(state, small) or _pool(state, small) or _pool_wide(state, small):
            continue
        if _step(state, small):
            continue
        state.removed |= small & ~_donate(state, small)
    _restore(state, enc.codes)
    suppressed = (state.codes != enc.codes) & ~state.removed[:, None]
    return Solution(suppressed, state.removed, "local", enc.width)


def _donate(state: _State, small: np.ndarray) -> np.ndarray:
    """Rescue stranded rows by suppressing every value of a few rows from large groups.

    Called when no small row has a value left to suppress: each sits in its fixed block's
    all-not-stated group, which is short of k. The shortfall is made up by rows of the
    same block whose own group has more than k rows (so it keeps k), cheapest first
    (fewest values still stated); they join the all-not-stated group. A block that cannot
    make up its shortfall, or only by suppressing more values than its rescued rows
    carry, is left alone (its small rows are then removed). Returns the rescued rows.
    """
    movable = state.movable()
    ns = np.array([state.ns[j] for j in movable])
    stated = (state.codes[:, movable] != ns).sum(axis=1)
    blocks, ids = row_groups(state.codes, skip=movable), row_groups(state.codes)
    need = state.k - _sizes(blocks, state.active, stated == 0)
    stranded = _sizes(blocks, state.active, small) > 0
    donors = state.active & stranded & (stated > 0) & (_sizes(ids, state.active) > state.k)
    surplus = _sizes(ids, state.active) - state.k
    donors &= _rank_within(ids, donors, stated, state.origin) < surplus
    tie = row_groups(np.column_stack([ids, state.origin]))
    take = donors & (_rank_within(blocks, donors, stated, tie) < need)
    enough = _sizes(blocks, state.active, take) >= need
    gain = _sizes(blocks, state.active, small) * (state.width - len(movable))
    enough &= _sizes(blocks, state.active, np.where(take, stated, 0)) <= gain
    take &= enough
    for pos, j in enumerate(movable):
        state.codes[take, j] = ns[pos]
    return small & enough


def _restore(state: _State, original: np.ndarray) -> None:
    """Give values back where the table stays k-anonymous, until none can be.

    A suppressed value is restored only when the row's group with the value back already
    holds k rows that stay (it only gains), and its current group keeps k rows: at most
    (size - k) rows leave a group in one go, the rarest categories first. Each restore
    removes one suppressed cell, so it ends.
    """
    restored = True
    while restored:
        restored = False
        for j in state.movable():
            cand = state.active & (state.codes[:, j] != original[:, j])
            if not cand.any():
                continue
            ids = row_groups(state.codes)
            trial = state.codes.copy()
            trial[cand, j] = original[cand, j]
            target_ids = row_groups(trial)
            ok = cand & (_sizes(target_ids, state.active & ~cand) >= state.k)
            leave = ok & (
                _rank_within(ids, ok, state.score[:, j], state.origin)
                < _sizes(ids, state.active) - state.k
            )
            if leave.any():
                state.codes[leave, j] = original[leave, j]
                restored = True


def _rank_within(
    ids: np.ndarray, rows: np.ndarray, score: np.ndarray, tie: np.ndarray
) -> np.ndarray:
    """Per row in ``rows``: its 0-based rank within its id, by (score, tie) ascending.

    Rows outside ``rows`` get a rank past any size. Rows equal in id, score and tie are
    interchangeable, so which of them comes first does not change the released table.
    """
    n = len(ids)
    rank = np.full(n, n + 1, dtype=np.int64)
    picked = np.flatnonzero(rows)
    order = picked[np.lexsort((tie[picked], score[picked], ids[picked]))]
    sorted_ids = ids[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_ids)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank[order] = np.arange(len(order)) - first
    return rank


def solve(enc: Encoded, k: int, method: Method = "local") -> Solution:
    """k-anonymity by ``method``; local suppression falls back to the plain K-rule if that
    would keep more rows or more values (checked every time)."""
    baseline = delete_small_groups(enc, k)
    if method == "rows" or k <= 1:
        return baseline
    local = local_suppression(enc, k)
    if local.rows_kept < baseline.rows_kept or local.values_kept < baseline.values_kept:
        return replace(baseline, fell_back=True)
    return local


def smallest_group(frame: pd.DataFrame, quasi: Sequence[str]) -> int:
    """The size of the smallest quasi-identifier group of a frame (0 for no rows).

    Groups are formed on the values as they stand, not-stated (blank) being a value.
    """
    if frame.empty:
        return 0
    if not quasi:
        return len(frame)
    sizes = frame.groupby(list(quasi), observed=True, dropna=False, sort=False).size()
    return int(sizes.min())
