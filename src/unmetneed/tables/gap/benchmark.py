"""The comparison with a benchmark (England) and the Fingertips layout of the table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from unmetneed.errors import Remarks
from unmetneed.tables.gap.options import (
    name_key,
)

NATIONAL_CODE = "E92000001"
REGION_PREFIX = "E12"
REGIONS = (
    "England",
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
)
VS = {"similar": "Similar", "higher": "Higher", "lower": "Lower", "not_compared": "Not compared"}
FINGERTIPS_COLUMNS = (
    "Indicator ID",
    "Indicator Name",
    "Area Code",
    "Area Name",
    "Time period",
    "Value",
    "Lower CI 95.0 limit",
    "Upper CI 95.0 limit",
    "Count",
    "Denominator",
    "Value note",
    "Compared to benchmark",
)
INDICATOR_NAMES = {
    "opiate_crack": "Proportion of people who use opiates and/or crack not in treatment (%)",
    "opiate": "Proportion of people who use opiates not in treatment (%)",
    "crack": "Proportion of people who use crack cocaine not in treatment (%)",
    "alcohol_dependent": "Proportion of dependent drinkers not in treatment (%)",
}


def is_national_or_region(names: pd.Series, codes: pd.Series) -> np.ndarray:
    """Rows that are England (E92000001) or an English region (E12...), by code or name:
    never summed into a ``--total`` of areas."""
    code = codes.astype("string").fillna("").str.upper()
    by_code = code.eq(NATIONAL_CODE) | code.str.startswith(REGION_PREFIX)
    by_name = names.astype(str).map(name_key).isin({name_key(r) for r in REGIONS})
    return (by_code | (code.eq("") & by_name)).to_numpy(dtype=bool)


def with_benchmark(table: pd.DataFrame, benchmark: str | None, remarks: Remarks) -> pd.DataFrame:
    """``benchmark_area`` and ``vs_benchmark`` after ``suppressed`` (contract 4.1).

    Fingertips' rule for a proportion with a 95% interval: ``similar`` when the benchmark's
    unmet_need_pct lies inside the area's interval (bounds included), ``higher`` when the
    interval is above it, ``lower`` when below; ``not_compared`` when the area's interval or
    the benchmark's value is missing or suppressed, or the benchmark is not in the table.
    Only shown values are compared. ``benchmark``: an area's name or GSS code; None:
    England, where the table has it.
    """
    keys = table["area"].astype(str).map(name_key)
    if benchmark is None:
        national = (table["area_code"].astype("string") == NATIONAL_CODE).fillna(False)
        name = table.loc[national | (keys == "england"), "area"]
        chosen = str(name.iloc[0]) if len(name) else None
    else:  # a name, or a GSS code (E92000001)
        by_code = table.loc[table["area_code"].astype("string").str.upper() == benchmark.upper()]
        chosen = str(by_code["area"].iloc[0]) if len(by_code) else benchmark
    is_bench = keys == name_key(chosen) if chosen else pd.Series(False, index=table.index)
    if chosen and not is_bench.any():
        remarks.add(f"--benchmark {chosen}: not an area of the table, so nothing is compared")
    value = table["unmet_need_pct"].where(is_bench & ~table["suppressed"])
    bench = (
        pd.DataFrame({"period": table["period"], "substance": table["substance"], "v": value})
        .dropna(subset=["v"])
        .drop_duplicates(["period", "substance"])
    )
    v = (
        table[["period", "substance"]]
        .merge(bench, how="left")["v"]
        .to_numpy(dtype=float, na_value=np.nan)
    )
    lo = table["unmet_need_pct_lower"].to_numpy(dtype=float, na_value=np.nan)
    hi = table["unmet_need_pct_upper"].to_numpy(dtype=float, na_value=np.nan)
    vs = np.select(
        [lo > v, hi < v, (lo <= v) & (v <= hi)], ["higher", "lower", "similar"], "not_compared"
    )
    out = table.copy()
    at = list(out.columns).index("suppressed") + 1
    out.insert(at, "benchmark_area", pd.Series(chosen, index=out.index, dtype="string"))
    out.insert(at + 1, "vs_benchmark", pd.Series(vs, index=out.index, dtype="string"))
    if chosen and is_bench.any():
        remarks.add(
            f"vs_benchmark: each area's unmet_need_pct interval against {chosen}'s value, as "
            "Fingertips compares a proportion: similar when the value lies inside the 95% "
            "interval, higher or lower when the interval lies above or below it; not_compared "
            "where either is missing or suppressed"
        )
    return out


def fingertips_table(table: pd.DataFrame) -> pd.DataFrame:
    """A gap table in the Fingertips export's columns (contract 4.1 ``--out-layout
    fingertips``): Value = unmet_need_pct, Count = not_in_treatment (people), Denominator =
    prevalence (people), numbers unrounded; suppressed values stay blank."""
    note = np.where(
        table["suppressed"].to_numpy(dtype=bool),
        "Value suppressed for disclosure control",
        np.where(table["prevalence"].isna(), "No estimate for this period", ""),
    )
    return pd.DataFrame(
        {
            "Indicator ID": pd.Series(pd.NA, index=table.index, dtype="Int64"),
            "Indicator Name": table["substance"].map(INDICATOR_NAMES).astype("string"),
            "Area Code": table["area_code"],
            "Area Name": table["area"],
            "Time period": table["period"],
            "Value": table["unmet_need_pct"],
            "Lower CI 95.0 limit": table["unmet_need_pct_lower"],
            "Upper CI 95.0 limit": table["unmet_need_pct_upper"],
            "Count": table["not_in_treatment"],
            "Denominator": table["prevalence"],
            "Value note": pd.Series(note, index=table.index, dtype="string").replace("", pd.NA),
            "Compared to benchmark": table["vs_benchmark"].map(VS).astype("string"),
        }
    )
