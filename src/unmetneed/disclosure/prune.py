"""Pruning: show again every complement the protection does not need.

A safe pattern from :mod:`secondary` often hides more than it must (its joint deviation
moves cells no single small count needs). :func:`prune` tries to show each complement
again, the dearest first (people hidden, margins :data:`lean.MARGIN` times dearer), and
keeps it shown only when every *target* (a small count, an earlier suppression, a small
group never shown) still has a **certificate**: a deviation ``y`` of the true table
(``R @ y == 0``) over the cells the attacker does not know (the hidden and the unpublished
ones), keeping what the attacker knows (``x + y >= floor``), that moves the target up by
the width, or down by it, or down by ``d`` and (in a second deviation) up by ``width - d``.
The attacker cannot rule out ``x + y``, so each target's interval stays at least the width
wide (``x + y`` is whole at the target, so rounding the LP interval inwards keeps it).
Certificates keep every count that is not 0 at 1 or more, whatever the floors say: an
attacker may know which groups have people (a compare table lists only those).

Fast because nothing is solved over shown cells: the LP holds only the cells a
certificate may move, with cells pinned by a relation taken out and cells a relation makes
equal (a table cell and the atom it counts) merged into one column; one HiGHS model,
warm-started, where a certificate changes only the target's bounds and showing a cell
only its own; and only the targets whose certificate moved a cell are solved again when
it is shown. Certificates are min-cost (people moved in complements, the cheap ones
first), so they lean on the complements that will stay.

Deterministic: fixed order (cost, then cell index), HiGHS single-threaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from unmetneed.disclosure.attacker import TOL
from unmetneed.disclosure.lp import Model

RIVAL = 10.0  # a second joint deviation with the first one's cells this much dearer


@dataclass(frozen=True)
class Free:
    """The certificate LP's columns: groups of cells a certificate may move together.

    ``group``: each cell's column (-1: it cannot move); ``sign``: +1 when the cell moves
    with its column, -1 when against it; ``a``: the relations over the columns; ``up`` and
    ``down``: how far each column can move (people: the least room of its cells above what
    the attacker knows they are at least; a hidden or unpublished count has no top).
    """

    group: np.ndarray
    sign: np.ndarray
    a: sparse.csr_matrix
    up: np.ndarray
    down: np.ndarray

    @property
    def n(self) -> int:
        """Number of columns."""
        return int(self.a.shape[1])


def free_columns(
    matrix: sparse.csr_matrix, values: np.ndarray, movable: np.ndarray, floor: np.ndarray
) -> Free:
    """The columns of the certificate LP over the ``movable`` cells (hidden or never
    published; ``floor``: what the attacker knows each is at least, people).

    A relation left with one movable cell pins it (it cannot move); a relation of two
    (``a - b == 0``, or ``a + b == c`` with ``c`` shown) moves them together, the same way
    or opposite ways (one column); relations that became equal are kept once.

    >>> m = sparse.csr_matrix(np.array([[-1.0, 1, 1], [0, 1, -1]]))
    >>> f = free_columns(m, np.array([4, 2, 2]), np.array([True, True, True]), np.ones(3))
    >>> f.group.tolist(), f.sign.tolist(), f.n
    ([0, 1, 1], [1, 1, 1], 2)
    """
    group = np.where(movable, np.cumsum(movable) - 1, -1)
    sign = np.ones(len(values), dtype=np.int64)
    a = sparse.csr_matrix(matrix[:, np.flatnonzero(movable)], dtype=np.float64)
    while True:
        a.sum_duplicates()
        a.eliminate_zeros()
        nnz = np.diff(a.indptr)
        a = sparse.csr_matrix(a[np.flatnonzero(nnz > 0)])
        nnz = nnz[nnz > 0]
        single = np.flatnonzero(nnz == 1)
        if len(single):  # pinned: drop the column
            pinned = np.zeros(a.shape[1], dtype=bool)
            pinned[a.indices[a.indptr[single]]] = True
            group = _renumber(group, ~pinned, np.arange(a.shape[1]))
            a = sparse.csr_matrix(a[:, np.flatnonzero(~pinned)])
            continue
        pair = np.flatnonzero(nnz == 2)
        first, second = a.indptr[pair], a.indptr[pair] + 1
        same = np.abs(np.abs(a.data[first]) - np.abs(a.data[second])) < TOL
        if not same.any():
            break
        i, j = a.indices[first[same]], a.indices[second[same]]
        along = np.where(a.data[first[same]] * a.data[second[same]] < 0, 1, -1)
        label, parity, clash = _parity(a.shape[1], i, j, along)
        if clash.any():  # moving one way and the other: pinned
            keep = ~clash[label]
            group = _renumber(group, keep, np.arange(a.shape[1]))
            a = sparse.csr_matrix(a[:, np.flatnonzero(keep)])
            continue
        cols = np.arange(a.shape[1])
        merge = sparse.csr_matrix((parity.astype(np.float64), (cols, label)))
        has = group >= 0
        sign[has] *= parity[group[has]]
        group = _renumber(group, np.ones(a.shape[1], bool), label)
        a = sparse.csr_matrix(a @ merge)
    a = _distinct_rows(a)
    cells = np.flatnonzero(group >= 0)
    room = np.maximum(values[cells].astype(np.float64) - floor[cells], 0.0)
    up, down = np.full(a.shape[1], np.inf), np.full(a.shape[1], np.inf)
    with_it = sign[cells] > 0
    np.minimum.at(down, group[cells[with_it]], room[with_it])
    np.minimum.at(up, group[cells[~with_it]], room[~with_it])
    sign[group < 0] = 0
    return Free(group, sign, a, up, down)


def _parity(
    n: int, i: np.ndarray, j: np.ndarray, along: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns ``i[e]`` and ``j[e]`` moving together (``along[e] == 1``) or opposite ways
    (``-1``): each column's group label, its sign within the group, and per group whether
    the links contradict each other (then the group cannot move)."""
    links = sparse.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    n_groups, label = csgraph.connected_components(links, directed=False)
    parity = np.zeros(n, dtype=np.int64)
    first = np.full(n_groups, n)
    np.minimum.at(first, label, np.arange(n))
    parity[first] = 1
    ends = np.concatenate([i, j]), np.concatenate([j, i])
    signs = np.concatenate([along, along])
    while (parity == 0).any():  # one step of links at a time
        known = (parity[ends[0]] != 0) & (parity[ends[1]] == 0)
        if not known.any():
            break
        parity[ends[1][known]] = parity[ends[0][known]] * signs[known]
    wrong = parity[ends[0]] * parity[ends[1]] != signs
    clash = np.zeros(n_groups, dtype=bool)
    clash[label[ends[0][wrong]]] = True
    return label, parity, clash


def _distinct_rows(a: sparse.csr_matrix) -> sparse.csr_matrix:
    """``a`` with each relation kept once (rows equal, or equal but for their sign)."""
    a = sparse.csr_matrix(a)
    a.sort_indices()
    lead = np.sign(a.data[a.indptr[:-1]])
    a = sparse.csr_matrix(sparse.diags(lead) @ a)
    a.sort_indices()
    rng = np.random.default_rng(0)
    keys = np.column_stack([a @ rng.random(a.shape[1]), a @ rng.random(a.shape[1])])
    keys = np.column_stack([keys, np.diff(a.indptr)])
    _, rep, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    twin = rep[inverse]
    again = np.flatnonzero(twin != np.arange(a.shape[0]))
    diff = sparse.csr_matrix(a[again] - a[twin[again]])
    diff.eliminate_zeros()
    drop = again[np.diff(diff.indptr) == 0]  # hashed alike and truly equal
    keep = np.ones(a.shape[0], dtype=bool)
    keep[drop] = False
    return sparse.csr_matrix(a[np.flatnonzero(keep)])


def _renumber(group: np.ndarray, keep: np.ndarray, label: np.ndarray) -> np.ndarray:
    """``group`` after columns ``~keep`` are dropped and the kept ones relabelled
    ``label`` (over the old columns; compacted to 0..m-1 over the kept ones)."""
    new = np.full(len(keep), -1, dtype=np.int64)
    kept = np.flatnonzero(keep)
    _, new[kept] = np.unique(label[kept], return_inverse=True)
    out = np.full(len(group), -1, dtype=np.int64)
    has = group >= 0
    out[has] = new[group[has]]
    return out


class Certifier:
    """One warm-started HiGHS model of the certificate LP: columns ``u`` (up) then ``v``
    (down) per :class:`Free` column, minimising ``cost`` per person moved."""

    def __init__(self, free: Free, cost: np.ndarray, width: float) -> None:
        self.free, self.width, self.n = free, float(width), free.n
        self.up, self.down = free.up.copy(), free.down.copy()
        self.model = Model(
            sparse.hstack([free.a, -free.a], format="csc"),
            np.zeros(free.a.shape[0]),
            np.zeros(2 * self.n),
            np.concatenate([self.up, self.down]),
            np.concatenate([cost, cost]),
        )
        self.model.highs.setOptionValue("presolve", "off")

    def pin(self, col: int) -> None:
        """Column ``col`` cannot move any more (its cells are shown)."""
        self.up[col] = self.down[col] = 0.0
        self._reset(col)

    def release(self, col: int, up: float, down: float) -> None:
        """Column ``col`` may move again within ``up`` and ``down`` people."""
        self.up[col], self.down[col] = up, down
        self._reset(col)

    def _reset(self, col: int) -> None:
        at = np.array([col, col + self.n])
        self.model.set_bounds(at, np.zeros(2), np.array([self.up[col], self.down[col]]))

    def move(self, col: int, need: float, down: bool) -> np.ndarray | None:
        """People each column moves in a min-cost deviation moving ``col`` by ``need``
        people (up, or ``down``), or None when there is none."""
        if need > (self.down[col] if down else self.up[col]) + TOL:
            return None
        at = np.array([col, col + self.n])
        lower = np.array([0.0, need]) if down else np.array([need, 0.0])
        upper = np.array([0.0, self.down[col]]) if down else np.array([self.up[col], 0.0])
        self.model.set_bounds(at, lower, upper)
        status, _, z = self.model.solve()
        self._reset(col)
        if status != "optimal":
            return None
        moved: np.ndarray = np.abs(z[: self.n] - z[self.n :])
        return moved

    def certificate(self, col: int) -> np.ndarray | None:
        """People each column is moved by deviations giving column ``col`` (so each of its
        cells, whichever way it moves with it) an interval of the width (the larger of
        two): up, else down, else down ``d`` and up ``width - d`` (largest ``d`` first; if
        up by ``width - d`` fails, lifting more fails too)."""
        width = self.width
        for down in (False, True):
            moved = self.move(col, width, down)
            if moved is not None:
                return moved
        most = int(min(width - 1, np.floor(self.down[col] + TOL)))
        if most < 1:
            return None
        high = self.move(col, width - most, False)
        for d in range(most, 0, -1):
            if high is None:
                return None
            low = self.move(col, float(d), True)
            if low is not None:
                both: np.ndarray = np.maximum(low, high)
                return both
            high = self.move(col, width - d + 1, False) if d > 1 else None
        return None


def prune(
    matrix: sparse.csr_matrix,
    values: np.ndarray,
    hidden: np.ndarray,
    published: np.ndarray,
    floor: np.ndarray,
    targets: np.ndarray,
    candidates: np.ndarray,
    weight: np.ndarray,
    width: float,
    opens: Mapping[int, np.ndarray] | None = None,
    opened_floor: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
    """``hidden`` without the ``candidates`` (mask of complements that may be shown again)
    no target needs (module docstring). ``targets``: cell ids that must keep an interval of
    ``width`` people; ``floor``: what the attacker knows each hidden cell is at least;
    ``weight``: what hiding a cell costs per person (:func:`lean.weights`). ``opens``: per
    candidate, the hidden cells showing it opens (a group size whose hidden zeros are then
    shown, its other hidden categories known to be at least ``opened_floor`` again).

    Also returns the mask of the hidden cells proven wide by the certificates (the
    targets, and cells a certificate moves by the width or more: ``x + y`` is a table the
    attacker cannot rule out), and per complement kept hidden, the targets it protects
    (:func:`_reasons`; why it is hidden: :mod:`explain`). Returns ``hidden`` unchanged
    (nothing proven, no reasons) when some target has no certificate to begin with (the
    pattern is then judged by the attacker).
    """
    movable = hidden | ~published
    # a certificate keeps every count that is not 0 at 1 or more: the attacker may know
    # more than the floors say (a compare table lists only groups that have people)
    floor = np.maximum(np.where(published, floor, 0.0), np.minimum(values, 1))
    free = free_columns(matrix, values, movable, floor)
    col_of = free.group
    tcols = col_of[targets]
    nothing = np.zeros(len(values), dtype=bool)
    if (tcols < 0).any() or not candidates.any():
        return hidden, nothing, {}
    # a column may be shown again only if every published cell in it is a candidate
    cells = np.flatnonzero(col_of >= 0)
    blocked = np.zeros(free.n, dtype=bool)
    np.logical_or.at(blocked, col_of[cells], published[cells] & ~candidates[cells])
    cost = np.zeros(free.n)
    people = weight * (1.0 + values.astype(np.float64))
    np.add.at(cost, col_of[cells], np.where(candidates[cells], people[cells], 0.0))
    cost[blocked] = 0.0
    certifier = Certifier(free, cost / max(width, 1.0), width)
    uniq = np.unique(tcols)
    support = np.zeros((len(uniq), free.n))  # people each certificate moves
    for i, t in enumerate(uniq.tolist()):
        moved = certifier.certificate(t)
        if moved is None:
            return hidden, nothing, {}
        support[i] = moved
    order = np.flatnonzero(~blocked & (cost > 0))
    order = order[np.lexsort((order, -cost[order]))]
    shown = np.zeros(free.n, dtype=bool)
    members = _members(free)
    needed: dict[int, int] = {}  # column kept hidden -> the target (row of ``uniq``) needing it
    for col in order.tolist():
        trial = _opened(col, members, candidates, opens or {}, floor, values, opened_floor)
        changed = np.unique(np.concatenate([[col], col_of[trial[0]]]))
        changed = changed[changed >= 0]
        users = np.flatnonzero((support[:, changed] > TOL).any(axis=1))
        users = users[np.lexsort((users, -support[users, col]))]  # most reliant first
        saved = certifier.up[changed].copy(), certifier.down[changed].copy()
        certifier.pin(col)
        for c in np.setdiff1d(changed, [col]).tolist():
            up, down = _room(c, members, free.sign, values, trial[1])
            certifier.release(c, up, down)
        for c in col_of[trial[0][values[trial[0]] == 0]].tolist():  # zeros shown again
            if c >= 0:
                certifier.pin(c)
        found = []
        for i in users.tolist():
            moved = certifier.certificate(int(uniq[i]))
            if moved is None:
                break
            found.append((i, moved))
        if len(found) < len(users):
            needed[col] = int(users[len(found)])  # it had no certificate without the column
            for c, up, down in zip(changed.tolist(), *saved, strict=True):
                certifier.release(c, up, down)
            certifier.model.set_cost(np.array([col, col + free.n]), np.zeros(2))  # it stays
        else:
            shown[col], floor = True, trial[1]
        for i, moved in found:
            support[i] = moved
    out = hidden.copy()
    out[cells[shown[col_of[cells]] & candidates[cells]]] = False
    wide = np.zeros(len(values), dtype=bool)
    wide[targets] = True  # each has a certificate, and so has a cell one moves by the width
    wide[cells] |= support.max(axis=0)[col_of[cells]] >= width - TOL
    why = _reasons(support, needed, uniq, tcols, targets, free, out & candidates)
    return out, wide & out, why


def _reasons(
    support: np.ndarray,
    needed: Mapping[int, int],
    uniq: np.ndarray,
    tcols: np.ndarray,
    targets: np.ndarray,
    free: Free,
    kept: np.ndarray,
) -> dict[int, np.ndarray]:
    """Per complement kept hidden (mask ``kept``), the targets it protects: the one left
    without a certificate when showing it was tried (``needed``, per column), else those
    whose last certificate moves it (``support``: people per column, a row per ``uniq``)."""
    out: dict[int, np.ndarray] = {}
    for cell in np.flatnonzero(kept & (free.group >= 0)).tolist():
        col = int(free.group[cell])
        rows = [needed[col]] if col in needed else np.flatnonzero(support[:, col] > TOL)
        out[cell] = targets[np.isin(tcols, uniq[np.asarray(rows, np.int64)])]
    return out


def _members(free: Free) -> tuple[np.ndarray, np.ndarray]:
    """The cells of each column: ``cells[starts[c]:starts[c + 1]]`` are column ``c``'s."""
    has = np.flatnonzero(free.group >= 0)
    cells = has[np.argsort(free.group[has], kind="stable")]
    starts = np.searchsorted(free.group[cells], np.arange(free.n + 1))
    return cells, starts


def _room(
    col: int,
    members: tuple[np.ndarray, np.ndarray],
    sign: np.ndarray,
    values: np.ndarray,
    floor: np.ndarray,
) -> tuple[float, float]:
    """How far column ``col`` can move up and down (people) with cells at least ``floor``."""
    cells = members[0][members[1][col] : members[1][col + 1]]
    room = np.maximum(values[cells] - floor[cells], 0.0)
    up = room[sign[cells] < 0].min(initial=np.inf)
    down = room[sign[cells] > 0].min(initial=np.inf)
    return float(up), float(down)


def _opened(
    col: int,
    members: tuple[np.ndarray, np.ndarray],
    candidates: np.ndarray,
    opens: Mapping[int, np.ndarray],
    floor: np.ndarray,
    values: np.ndarray,
    opened_floor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The cells showing column ``col`` opens (:func:`prune`'s ``opens``) and the floors
    (people) with them at ``opened_floor`` (zeros stay 0: they are shown)."""
    cells = members[0][members[1][col] : members[1][col + 1]]
    found = [opens[c] for c in cells[candidates[cells]].tolist() if c in opens]
    if not found:
        return np.zeros(0, np.int64), floor
    opened = np.unique(np.concatenate(found))
    out = floor.copy()
    out[opened] = np.where(values[opened] > 0, opened_floor, 0.0)
    return opened, out
