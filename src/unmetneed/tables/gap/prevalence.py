"""Prevalence years: the mean of each area's N most recent estimate years (D)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from unmetneed.tables.gap.options import (
    GapOptions,
)


def _years_used(
    prev: pd.DataFrame, ids: np.ndarray, counts: pd.DataFrame, n_years: int
) -> pd.DataFrame:
    """For each treatment financial year x substance x area, that area's N most recent
    published estimate years at or before it (``fy``, ``substance``, ``area_id``,
    ``period``, ``complete``): chosen per area, so a year only some areas have (England a
    year ahead of the local authorities) is used for them and blanks nobody else.
    """
    published = pd.DataFrame(
        {
            "area_id": ids,
            "substance": prev["substance"].astype(str).to_numpy(),
            "period": prev["period"].astype(str).to_numpy(),
        }
    ).drop_duplicates()
    wanted = pd.DataFrame(
        {
            "fy": counts["period"].str.slice(0, 7),
            "substance": counts["substance"],
            "area_id": counts["area_id"],
        }
    ).drop_duplicates()
    keys = ["fy", "substance", "area_id"]
    pairs = wanted.merge(published, on=["substance", "area_id"])
    start = pairs["period"].str.slice(0, 4).astype(int)
    pairs = pairs[start <= pairs["fy"].str.slice(0, 4).astype(int)]
    pairs = pairs.sort_values([*keys, "period"], ascending=[True, True, True, False])
    pairs = pairs[pairs.groupby(keys).cumcount() < n_years]
    got = pairs.groupby(keys)["period"].transform("size")
    pairs = pairs.assign(complete=got == n_years)
    return wanted.merge(pairs, on=keys, how="left").reset_index(drop=True)


def _prevalence_means(
    prev: pd.DataFrame, ids: np.ndarray, counts: pd.DataFrame, opts: GapOptions
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean estimate and bounds (people) per (fy, substance, area id) over the area's
    years used (see ``_years_used``).

    A mean needs all N years for that area (else missing); the interval needs both bounds
    in all N years (else both bounds are missing). Returns the means and the years used.
    """
    n = opts.prevalence_years
    used = _years_used(prev, ids, counts, n)
    rows = pd.DataFrame(
        {
            "area_id": ids,
            "period": prev["period"].astype(str).to_numpy(),
            "substance": prev["substance"].astype(str).to_numpy(),
            "estimate": prev["estimate"].astype(float).to_numpy(),
            "lower": _numbers(prev, "lower"),
            "upper": _numbers(prev, "upper"),
        }
    )
    chosen = used[used["complete"].fillna(False).astype(bool)]
    joined = chosen[["fy", "substance", "area_id", "period"]].merge(
        rows, on=["substance", "period", "area_id"]
    )
    agg = joined.groupby(["fy", "substance", "area_id"], sort=True).agg(
        years=("estimate", "size"),
        estimate=("estimate", "sum"),
        lower=("lower", "sum"),
        lower_n=("lower", "count"),
        upper=("upper", "sum"),
        upper_n=("upper", "count"),
    )
    full = agg["years"] == n
    interval = full & (agg["lower_n"] == n) & (agg["upper_n"] == n)
    means = pd.DataFrame(
        {
            "prevalence": (agg["estimate"] / n).where(full),
            "prevalence_lower": (agg["lower"] / n).where(interval),
            "prevalence_upper": (agg["upper"] / n).where(interval),
            "years_found": agg["years"],
        }
    ).reset_index()
    return means, used


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column]).astype(float).to_numpy()
