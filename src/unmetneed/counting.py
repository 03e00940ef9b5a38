"""Counting by integer codes: the kernel gap, compare and anonymise group and count with.

A row's combination of codes is one integer, the mixed-radix number of its codes
(:func:`key_numbers`); the combinations that occur are found with one ``numpy.bincount``
over a look-up array while there are at most ``LOOKUP_KEYS`` possible ones, else by a
sort (:func:`groups_of`: the same groups, in the same order, either way); people are then
counted per group by one ``bincount`` per measure (:func:`count`). No loop over rows.
:func:`row_groups` numbers rows equal in every column for repeated counting (anonymise).

``stream``'s batch counter has its own copy of :func:`groups_of` (``_dense_groups``) until
the input engine's rework lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import numpy as np
import pandas as pd

__all__ = ["LOOKUP_KEYS", "count", "groups_of", "key_numbers", "row_groups"]

LOOKUP_KEYS = 20_000_000  # up to this many possible combinations: a look-up array, not a sort
DIRECT_IDS = 1 << 20  # row_groups: the largest number used without numbering densely


def key_numbers(columns: Sequence[np.ndarray], sizes: Sequence[int]) -> np.ndarray:
    """Each row's combination as one integer: the mixed-radix number of its codes (column
    ``j`` holds codes ``0..sizes[j] - 1``; the last column varies fastest).

    >>> key_numbers([np.array([0, 1, 1]), np.array([2, 0, 1])], [2, 3]).tolist()
    [2, 3, 4]
    """
    numbers: np.ndarray = np.ravel_multi_index(tuple(columns), tuple(sizes))
    return numbers.astype(np.int64)


def groups_of(keys: np.ndarray, possible: int) -> tuple[np.ndarray, np.ndarray]:
    """The keys that occur (ascending) and each row's group: the index of its key among
    them. ``possible``: how many keys there could be (keys are ``0..possible - 1``; a
    negative key, e.g. a missing code, is grouped by the sort).

    >>> occupied, of_row = groups_of(np.array([5, 2, 5]), 6)
    >>> occupied.tolist(), of_row.tolist()
    ([2, 5], [1, 0, 1])
    """
    occupied, of_row, _ = groups_counted(keys, possible)
    return occupied, of_row


def groups_counted(keys: np.ndarray, possible: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`groups_of` and the rows of each group, from the same one pass (a bincount of
    the keys, or the sort).

    >>> [a.tolist() for a in groups_counted(np.array([5, 2, 5]), 6)]
    [[2, 5], [1, 0, 1], [1, 2]]
    """
    if possible <= LOOKUP_KEYS and (len(keys) == 0 or int(keys.min()) >= 0):
        per_key = np.bincount(keys, minlength=possible)
        occupied = np.flatnonzero(per_key > 0)
        number = np.full(possible, -1, dtype=np.int64)
        number[occupied] = np.arange(len(occupied))
        return occupied.astype(np.int64), number[keys], per_key[occupied].astype(np.int64)
    occupied, of_row, sizes = np.unique(keys, return_inverse=True, return_counts=True)
    return occupied.astype(np.int64), of_row.reshape(-1).astype(np.int64), sizes.astype(np.int64)


def count(groups: np.ndarray, n_groups: int, weights: np.ndarray | None = None) -> np.ndarray:
    """People per group (``n_groups`` of them), whole numbers: rows count one each, or
    ``weights`` people each (a collapsed or counts row).

    >>> count(np.array([0, 2, 2]), 3).tolist()
    [1, 0, 2]
    >>> count(np.array([1, 1]), 2, weights=np.array([4, 5])).tolist()
    [0, 9]
    """
    counted: np.ndarray = np.bincount(groups, weights=weights, minlength=n_groups)
    return counted.astype(np.int64)


def row_groups(codes: np.ndarray, skip: Sequence[int] = ()) -> np.ndarray:
    """A group number per row (>= 0), equal exactly when the rows' codes are equal
    (in every column but those in ``skip``).

    The number depends on the codes alone, never on row order. It is the mixed-radix
    number of the codes while that stays below ``max(DIRECT_IDS, 4 x rows)`` (so
    ``numpy.bincount`` over it is cheap, however often it is counted); beyond that the
    columns are combined one at a time and re-numbered densely (sorted), so it never
    overflows.

    >>> row_groups(np.array([[0, 1], [0, 1], [1, 0]])).tolist()
    [1, 1, 2]
    """
    n = codes.shape[0]
    columns = [j for j in range(codes.shape[1]) if j not in skip]
    radix = {j: int(codes[:, j].max(initial=0)) + 1 for j in columns}
    dense = prod(radix.values()) > max(DIRECT_IDS, 4 * n)
    ids = np.zeros(n, dtype=np.int64)
    for j in columns:
        ids = ids * radix[j] + codes[:, j]
        if dense:
            ids = pd.factorize(ids, sort=True)[0].astype(np.int64)
    return ids
