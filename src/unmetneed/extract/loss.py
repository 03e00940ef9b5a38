"""What anonymising cost: the loss report, by quasi column and category."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from unmetneed.extract.prepare import Prepared
from unmetneed.extract.quasi import _category_labels
from unmetneed.extract.suppression import Solution


@dataclass(frozen=True)
class Loss:
    """What anonymising cost.

    ``facts``: (what, value) lines for the terminal. ``by_group``: one row per quasi
    column x category (plus ``all``), with ``rows`` (rows of that category going into
    k-anonymity: the denominator), ``rows_lost_value`` (kept rows with at least one
    value suppressed, in any column), ``rows_removed``, ``values_suppressed`` (cells of
    this column and category set to not stated) and ``pct_affected`` (100 x (lost a value
    + removed) / rows), largest share first.
    """

    facts: tuple[tuple[str, str], ...]
    by_group: pd.DataFrame
    baseline_rows_removed: int
    dropped_rows: Mapping[str, int] = field(default_factory=dict)

    def lines(self, limit: int | None = None) -> list[str]:
        """The by-group table in words, e.g. ``ethnicity=black: 1 of 4 rows lost a value,
        0 rows removed``, largest share first."""
        rows = self.by_group[self.by_group["variable"] != "all"]
        return [
            f"{r.variable}={r.category}: {r.rows_lost_value:,} of {r.rows:,} rows lost a value, "
            f"{r.rows_removed:,} row{'s' if r.rows_removed != 1 else ''} removed"
            for r in (rows if limit is None else rows.head(limit)).itertuples(index=False)
        ]


def loss_by_group(frame: pd.DataFrame, quasi: Sequence[str], sol: Solution) -> pd.DataFrame:
    """Rows and values lost per quasi column x category, largest share first (see :class:`Loss`)."""
    lost_value = sol.suppressed.any(axis=1) & ~sol.removed
    parts = [_overall(sol, lost_value)]
    for j, name in enumerate(quasi):
        per_row = pd.DataFrame(
            {
                "category": _category_labels(frame[name]).to_numpy(),
                "rows": 1,
                "rows_lost_value": lost_value.astype(int),
                "rows_removed": sol.removed.astype(int),
                "values_suppressed": sol.suppressed[:, j].astype(int),
            }
        )
        summed = per_row.groupby("category", sort=True).sum().reset_index()
        parts.append(summed.assign(variable=name))
    table = pd.concat(parts, ignore_index=True)
    table["pct_affected"] = (
        100.0 * (table["rows_lost_value"] + table["rows_removed"]) / table["rows"]
    ).round(1)
    order = table.assign(first=table["variable"] != "all").sort_values(
        ["first", "pct_affected", "rows"], ascending=[True, False, False], kind="mergesort"
    )
    columns = [
        "variable",
        "category",
        "rows",
        "rows_lost_value",
        "rows_removed",
        "values_suppressed",
        "pct_affected",
    ]
    return order[columns].reset_index(drop=True)


def _overall(sol: Solution, lost_value: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variable": ["all"],
            "category": ["all"],
            "rows": [len(sol.removed)],
            "rows_lost_value": [int(lost_value.sum())],
            "rows_removed": [int(sol.removed.sum())],
            "values_suppressed": [int(sol.suppressed.sum())],
        }
    )


def _facts(
    prep: Prepared, quasi: Sequence[str], sol: Solution, baseline: Solution, k: int
) -> tuple[tuple[str, str], ...]:
    n = len(sol.removed)
    lost = int((sol.suppressed.any(axis=1) & ~sol.removed).sum())
    facts = [("rows read", f"{n + sum(prep.dropped_rows.values()):,}")]
    facts += [
        (f"rows dropped: {why}", f"{count:,}") for why, count in prep.dropped_rows.items() if count
    ]
    facts += [
        (
            "columns not released",
            ", ".join(f"{c} ({why})" for c, why in prep.dropped_columns.items()) or "none",
        ),
        ("k", str(k)),
        ("quasi-identifiers", ", ".join(quasi)),
        (
            "method",
            sol.method + (" (fell back: local suppression lost more)" if sol.fell_back else ""),
        ),
        ("rows released", f"{sol.rows_kept:,} of {n:,} ({_pct(sol.rows_kept, n)})"),
        ("rows released unchanged", f"{sol.rows_kept - lost:,} ({_pct(sol.rows_kept - lost, n)})"),
        ("rows with a value suppressed", f"{lost:,} ({_pct(lost, n)})"),
        ("rows removed", f"{int(sol.removed.sum()):,} ({_pct(int(sol.removed.sum()), n)})"),
        ("values suppressed (set to not_stated)", f"{int(sol.suppressed.sum()):,}"),
        (
            "deleting every group smaller than k would remove",
            f"{int(baseline.removed.sum()):,} rows ({_pct(int(baseline.removed.sum()), n)})",
        ),
    ]
    return tuple(facts)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"
