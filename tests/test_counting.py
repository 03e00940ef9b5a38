"""The counting kernel: groups found by look-up or by sort are the same groups, and
counts add up to the rows (or their weights)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from unmetneed import counting

codes = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), min_size=0, max_size=60)


@given(codes)
def test_lookup_and_sort_give_the_same_groups(rows: list[tuple[int, int]]) -> None:
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=np.int64)
    keys = counting.key_numbers([a, b], [5, 3])
    by_lookup = counting.groups_of(keys, 15)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counting, "LOOKUP_KEYS", 0)
        by_sort = counting.groups_of(keys, 15)
    for one, other in zip(by_lookup, by_sort, strict=True):
        assert one.tolist() == other.tolist()
    occupied, of_row = by_lookup
    assert sorted(set(keys.tolist())) == occupied.tolist()
    assert (occupied[of_row] == keys).all()  # each row's group is its own key
    sizes = counting.count(of_row, len(occupied))
    assert sizes.sum() == len(rows) and (sizes > 0).all()


@given(codes)
def test_row_groups_are_equal_exactly_when_the_codes_are(rows: list[tuple[int, int]]) -> None:
    grid = np.array(rows, dtype=np.int64).reshape(-1, 2)
    ids = counting.row_groups(grid)
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (ids[i] == ids[j]) == (rows[i] == rows[j])


def test_a_missing_code_is_grouped_by_the_sort() -> None:
    occupied, of_row = counting.groups_of(np.array([3, -1, 3]), 4)
    assert occupied.tolist() == [-1, 3] and of_row.tolist() == [1, 0, 1]
