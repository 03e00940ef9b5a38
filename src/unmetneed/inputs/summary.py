"""What a valid input holds, in a few lines: rows, columns, periods, areas, code counts."""

from __future__ import annotations

import pandas as pd


def summarise(frame: pd.DataFrame, *, max_codes: int = 12) -> list[tuple[str, str]]:
    """(what, value) pairs: rows, columns, periods, areas, and counts of each code column.

    Code counts are rows per category (people for an extract, rows for a counts file),
    in the code list's order, with ``n (pct%)`` of all rows.
    """
    facts = [("rows", f"{len(frame):,}"), ("columns", ", ".join(map(str, frame.columns)))]
    for name in ("period", "area"):
        if name in frame:
            values = frame[name].dropna().unique()
            shown = ", ".join(sorted(map(str, values))[:max_codes])
            more = f" (+{len(values) - max_codes} more)" if len(values) > max_codes else ""
            facts.append((f"{name}s ({len(values)})", shown + more))
    for name in frame.columns:
        col = frame[name]
        if name in ("period", "area", "area_code"):
            continue
        if isinstance(col.dtype, pd.CategoricalDtype) or str(col.dtype) == "boolean":
            counts = col.value_counts(dropna=False, sort=False)
            total = max(len(col), 1)
            text = ", ".join(
                f"{_label(k)} {n:,} ({100 * n / total:.0f}%)" for k, n in counts.items()
            )
            facts.append((str(name), text))
    return facts


def _label(value: object) -> str:
    """A category as shown in the summary: missing flags are ``not_stated``."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "not_stated"
    return str(value).lower()
