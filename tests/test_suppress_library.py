"""suppress_table: the library call behind ``unmetneed suppress``, on a DataFrame."""

from __future__ import annotations

import pandas as pd
import pytest

from unmetneed.disclosure.suppress import SuppressOptions, suppress_table
from unmetneed.errors import UsageError


def test_a_small_count_and_its_complement_are_suppressed_and_the_total_kept() -> None:
    # 2 + 9 + 10 = 21: the 2 is suppressed; with the total shown, one other count must go
    # too (else 21 - 9 - 10 = 2), and the cheapest is 9.
    frame = pd.DataFrame({"area": ["A", "B", "C", "Total"], "count": [2, 9, 10, 21]})
    done = suppress_table(frame, SuppressOptions(total_row=True))
    shown = done.table.set_index("area")["count"]
    assert pd.isna(shown["A"]) and pd.isna(shown["B"])
    assert shown["C"] == 10 and shown["Total"] == 21
    assert done.table["suppressed"].tolist() == [True, True, False, False]
    assert done.meta["table"] == "suppress" and done.remarks


def test_a_total_looking_label_must_be_declared() -> None:
    frame = pd.DataFrame({"area": ["A", "B", "Total"], "count": [5, 6, 11]})
    with pytest.raises(UsageError, match="look like totals"):
        suppress_table(frame)
