"""The wide (publication) view of a comparison: one row per group, one column per category."""

from __future__ import annotations

import numpy as np
import pandas as pd

from unmetneed.errors import OptionError
from unmetneed.tables.compare.table import Comparison


def wide(comparison: Comparison, cells: str = "pct") -> pd.DataFrame:
    """The publication view: one row per within-group x cohort, one column per category.

    Columns are ``variable: category`` in the code lists' order. ``cells="pct"``: the
    percentage (blank where suppressed); ``cells="n-pct"``: text ``n (pct%)`` (blank where
    suppressed). ``denominator`` (people in the group) comes first when not stated values
    are kept; ``suppressed`` is true on rows with a cell blanked by suppression.
    """
    if cells not in ("pct", "n-pct"):
        raise OptionError("cells", cells, "use pct or n-pct", quoted=True)
    t = comparison.table
    keys = [*comparison.within, "cohort"]
    if cells == "pct":
        values = t["pct"].astype("Float64")
    else:
        values = pd.Series(_n_pct(t), index=t.index, dtype=object)
    pivot = _pivot(comparison, values)
    out = pivot.reset_index()
    out.columns = [str(c) for c in out.columns]
    if cells == "pct":
        out[list(pivot.columns)] = out[list(pivot.columns)].astype("Float64")
    if not comparison.options.exclude_not_stated:
        denom = t.drop_duplicates(keys).set_index(keys)["denominator"].reindex(pivot.index)
        out.insert(len(keys), "denominator", denom.to_numpy())
        out["denominator"] = out["denominator"].astype("Int64")
    out["suppressed"] = wide_suppressed(comparison).any(axis=1).to_numpy(dtype=bool)
    return out


def wide_suppressed(comparison: Comparison) -> pd.DataFrame:
    """True for each cell of the wide view that is blank because of suppression (not
    because its group has no one with a stated value); indexed like the wide view."""
    t = comparison.table
    empty = t["denominator"].eq(0).fillna(False).astype(bool)
    blank = (t["pct"].isna() | t["count"].isna()) & ~empty
    return _pivot(comparison, blank.astype(bool)).fillna(False).astype(bool)


def _pivot(comparison: Comparison, values: pd.Series) -> pd.DataFrame:
    """``values`` (one per tidy row) as within-group x cohort rows by category columns."""
    t = comparison.table
    keys = [*comparison.within, "cohort"]
    column = t["variable"].astype(str) + ": " + t["category"].astype(str)
    long = t.loc[:, keys].assign(column=column, value=values)
    index = pd.MultiIndex.from_frame(t.loc[:, keys].drop_duplicates())
    pivot = long.set_index([*keys, "column"])["value"].unstack("column")
    order = [f"{v}: {c}" for v, cats in comparison.variables for c in cats]
    return pivot.reindex(index=index, columns=order)


def _n_pct(t: pd.DataFrame) -> np.ndarray:
    """``n (pct%)`` text per row, None where the count or pct is blank."""
    out = np.full(len(t), None, dtype=object)
    ok = (t["count"].notna() & t["pct"].notna()).to_numpy()
    counts = t["count"].to_numpy(dtype=object)[ok]
    pcts = t["pct"].to_numpy(dtype=object)[ok]
    out[ok] = [f"{int(n):,} ({float(p):.0f}%)" for n, p in zip(counts, pcts, strict=True)]
    return out
