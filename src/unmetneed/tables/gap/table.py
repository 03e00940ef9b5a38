"""The table: T joined to D, the gap columns, flags, a total row, order and its cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from unmetneed.disclosure import Cells, Protection
from unmetneed.errors import OptionError
from unmetneed.inputs.codes import NOT_STATED
from unmetneed.inputs.variables import substance_masks
from unmetneed.tables.gap.areas import _Areas
from unmetneed.tables.gap.benchmark import is_national_or_region
from unmetneed.tables.gap.options import (
    DERIVED,
    PARTS_COLUMN,
    SUBSTANCES,
    _Input,
    name_key,
)


def _assemble(
    counts: pd.DataFrame, means: pd.DataFrame, used: pd.DataFrame, areas: _Areas
) -> pd.DataFrame:
    """T joined to D by (financial year, substance, area id), with the gap columns."""
    table = counts.assign(fy=counts["period"].str.slice(0, 7))
    table = table.merge(means, on=["fy", "substance", "area_id"], how="left")
    periods = (
        used.dropna(subset=["period"])
        .sort_values("period")
        .groupby(["fy", "substance", "area_id"])["period"]
        .agg(",".join)
        .rename("prevalence_periods")
        .reset_index()
    )
    table = table.merge(periods, on=["fy", "substance", "area_id"], how="left")
    ids = table["area_id"].to_numpy()
    table["area"] = areas.names[ids]
    table["area_code"] = areas.codes[ids]
    return _gap_columns(table)


def _gap_columns(table: pd.DataFrame) -> pd.DataFrame:
    """not_in_treatment (people) and the three percentages (of the estimate), new frame.

    A T known only within bounds leaves the point values missing and widens the interval:
    lower = 100 (1 - T max / mean lower), upper = 100 (1 - T min / mean upper).
    """
    d = table["prevalence"].astype(float)
    lo = table["prevalence_lower"].astype(float)
    hi = table["prevalence_upper"].astype(float)
    known = ~table["t_unknown"].to_numpy(dtype=bool)
    t = table["in_treatment"].astype(float).where(known)
    t_min = table["in_treatment_min"].astype(float)
    t_max = table["in_treatment_max"].astype(float)
    return table.assign(
        in_treatment=table["in_treatment"].astype("Int64").where(known),
        not_in_treatment=d - t,
        unmet_need_pct=(100.0 * (d - t) / d).where(d > 0),
        unmet_need_pct_lower=(100.0 * (1.0 - t_max / lo)).where(lo > 0),
        unmet_need_pct_upper=(100.0 * (1.0 - t_min / hi)).where(hi > 0),
    )


def _flags(table: pd.DataFrame, areas: _Areas, used: pd.DataFrame) -> dict[str, np.ndarray]:
    """Row masks for each remark a row can carry (aligned with ``table``)."""
    ids = table["area_id"].to_numpy()
    d = table["prevalence"].to_numpy(dtype=float, na_value=np.nan)
    has_d = ~np.isnan(d)
    t_max = table["in_treatment_max"].to_numpy(dtype=float)
    t_min = table["in_treatment_min"].to_numpy(dtype=float)
    complete = (
        used.assign(complete=used["complete"].fillna(False).astype(bool))
        .groupby(["fy", "substance", "area_id"], as_index=False)["complete"]
        .max()
    )
    fy_ok = (
        table[["fy", "substance", "area_id"]]
        .merge(complete, on=["fy", "substance", "area_id"], how="left")["complete"]
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    unmatched = ~areas.in_prevalence[ids]
    return {
        "unmatched": unmatched,
        "too_few_years": ~unmatched & ~fy_ok,
        "no_interval": has_d
        & (table["prevalence_lower"].isna() | table["prevalence_upper"].isna()).to_numpy(),
        "negative": has_d & (t_min > d),
        "maybe_negative": has_d & (t_min <= d) & (t_max > d),
        "t_unknown": table["t_unknown"].to_numpy(dtype=bool),
        "t_rounded": ~table["t_unknown"].to_numpy(dtype=bool) & (t_min != t_max),
        "alias": np.isin(ids, areas.alias_ids),
        "total": np.zeros(len(table), bool),
    }


def _add_total(
    table: pd.DataFrame, flags: dict[str, np.ndarray], name: str
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A row per period x substance summing the areas that have an estimate.

    Estimates and bounds are summed (people; a bound is missing if any area's is); T and its
    bounds are summed. ``total_group`` ties each total row (``is_total``) to its parts, for
    the disclosure relation total = sum of parts.
    """
    if (table["area"].astype(str).map(name_key) == name_key(name)).any():
        raise OptionError("total", name, "an area of that name is in the table; choose another")
    summed = table["prevalence"].notna().to_numpy() & ~is_national_or_region(
        table["area"], table["area_code"]
    )
    has_d = summed
    group = table.groupby(["period", "substance"], sort=True).ngroup().to_numpy()
    base = table.assign(total_group=np.where(has_d, group, -1), is_total=False)
    parts = base[has_d].assign(
        lower_missing=lambda f: f["prevalence_lower"].isna(),
        upper_missing=lambda f: f["prevalence_upper"].isna(),
        in_treatment=lambda f: f["in_treatment"].fillna(0),
    )
    if parts.empty:
        return base, flags
    sums = (
        parts.groupby(["period", "substance", "total_group"], sort=True)
        .agg(
            fy=("fy", "first"),
            prevalence_periods=("prevalence_periods", _distinct_years),
            prevalence=("prevalence", "sum"),
            prevalence_lower=("prevalence_lower", "sum"),
            prevalence_upper=("prevalence_upper", "sum"),
            lower_missing=("lower_missing", "any"),
            upper_missing=("upper_missing", "any"),
            in_treatment=("in_treatment", "sum"),
            in_treatment_min=("in_treatment_min", "sum"),
            in_treatment_max=("in_treatment_max", "sum"),
            t_unknown=("t_unknown", "any"),
        )
        .reset_index()
    )
    sums = sums.assign(
        prevalence_lower=sums["prevalence_lower"].where(~sums["lower_missing"]),
        prevalence_upper=sums["prevalence_upper"].where(~sums["upper_missing"]),
        area=name,
        area_code=None,
        area_id=-1,
        is_total=True,
    ).drop(columns=["lower_missing", "upper_missing"])
    total = _gap_columns(sums)
    out = pd.concat([base, total], ignore_index=True)
    n, m = len(total), len(table)
    new_flags = {k: np.concatenate([v, np.zeros(n, bool)]) for k, v in flags.items()}
    d = total["prevalence"].to_numpy(dtype=float)
    t_min = total["in_treatment_min"].to_numpy(dtype=float)
    t_max = total["in_treatment_max"].to_numpy(dtype=float)
    new_flags["total"][m:] = True
    new_flags["t_unknown"][m:] = total["t_unknown"].to_numpy(dtype=bool)
    new_flags["t_rounded"][m:] = ~total["t_unknown"].to_numpy(dtype=bool) & (t_min != t_max)
    new_flags["no_interval"][m:] = (
        total["prevalence_lower"].isna() | total["prevalence_upper"].isna()
    ).to_numpy()
    new_flags["negative"][m:] = t_min > d
    new_flags["maybe_negative"][m:] = (t_min <= d) & (t_max > d)
    return out, new_flags


def _distinct_years(values: pd.Series) -> str | None:
    """A total row's estimate years: its areas' (``;`` between areas' different choices)."""
    years = sorted({str(v) for v in values.dropna()})
    return ";".join(years) if years else None


def _sort(
    table: pd.DataFrame, flags: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Rows by area (case-insensitive; the total last), code, period, substance order."""
    is_total = table["is_total"] if "is_total" in table else pd.Series(False, index=table.index)
    order_frame = pd.DataFrame(
        {
            "total": is_total.to_numpy(dtype=bool),
            "area": table["area"].astype(str).str.casefold(),
            "code": table["area_code"].fillna("").astype(str),
            "start": table["period"].str.slice(0, 4).astype(int),
            "period": table["period"],
            "substance": table["substance"].map({s: i for i, s in enumerate(SUBSTANCES)}),
        }
    )
    order = order_frame.sort_values(list(order_frame.columns), kind="stable").index.to_numpy()
    out = table.iloc[order].reset_index(drop=True)
    return out, {k: v[order] for k, v in flags.items()}


def _cells(table: pd.DataFrame, parts: pd.DataFrame) -> Cells:
    """The disclosure cells of ``in_treatment`` (one per row whose T is known, numbered in
    row order), with each total the sum of its areas and each drug substance the sum of its
    parts (placed in ``PARTS_COLUMN`` so no small part shows by difference).
    """
    known = table["in_treatment"].notna().to_numpy()
    rows = np.flatnonzero(known)
    cell_of_row = np.full(len(table), -1, dtype=np.int64)
    cell_of_row[rows] = np.arange(len(rows))
    values = table["in_treatment"].to_numpy(dtype=np.int64, na_value=0)[rows]
    rel, part_values = _part_relations(table, parts, cell_of_row, len(rows))
    cells = Cells(np.concatenate([values, part_values]))
    cells.place("in_treatment", np.arange(len(rows)), rows)
    if len(part_values):  # not shown anywhere; placed so protect guards them like counts
        cells.place(
            PARTS_COLUMN, np.arange(len(rows), len(cells.values)), np.zeros(len(part_values))
        )
    if "is_total" in table:
        _relate(cells, table, cell_of_row)
    cells.relations.extend(rel)
    return cells


def _apply(table: pd.DataFrame, rows: np.ndarray, cells: Cells, prot: Protection) -> pd.DataFrame:
    """``prot`` applied: suppressed ``in_treatment`` blank with the derived columns, and
    the derived columns worked out from rounded counts under a rounding policy.
    """
    base = table.assign(suppressed=table["in_treatment"].isna())  # suppressed in the input
    protected = prot.apply(base, cells, derived=DERIVED)
    if prot.policy.round_to:
        protected = _from_rounded(protected, rows, prot.policy.round_to)
    return protected


def _counted(treat: _Input, frame: pd.DataFrame, area_ids: np.ndarray) -> pd.DataFrame:
    """The treatment rows the table counts: position in the input frame, period, area id
    and the substance columns (for linking the table's cells to the people in them).
    """
    position = pd.Series(np.arange(len(treat.frame)), index=treat.frame.index)
    rows = (
        position.loc[frame.index].to_numpy()
        if treat.frame.index.is_unique
        else np.full(len(frame), -1, dtype=np.int64)
    )
    names = frame["area"].astype("string").fillna(NOT_STATED) if "area" in frame else None
    out = pd.DataFrame(
        {
            "row": rows,
            "period": frame["period"].astype(str).to_numpy(),
            "area_id": area_ids,
            "area_name": np.asarray(names, dtype=object)
            if "area" in frame
            else np.full(len(frame), NOT_STATED, dtype=object),
        }
    )
    masks = substance_masks(frame, SUBSTANCES)
    return out.assign(**{f"in_{s}": m for s, m in masks.items()})


def _part_relations(
    table: pd.DataFrame, parts: pd.DataFrame, cell_of_row: np.ndarray, first: int
) -> tuple[list[tuple[int, list[int]]], np.ndarray]:
    """Relations drug substance = sum of its parts, for each area x period showing at least
    two of opiate, crack and opiate_crack, with the parts as new cells numbered from
    ``first``: returns the relations and the parts' values (onc, oac, cno per area).
    """
    if parts.empty:
        return [], np.zeros(0, dtype=np.int64)
    shown = pd.DataFrame(
        {
            "period": table["period"].to_numpy(),
            "area_id": table["area_id"].to_numpy(),
            "substance": table["substance"].to_numpy(),
            "cell": cell_of_row,
        }
    )
    shown = shown[(shown["cell"] >= 0) & (shown["area_id"] >= 0)]
    wide = shown.pivot_table(
        index=["period", "area_id"], columns="substance", values="cell", aggfunc="first"
    )
    wide = wide.reindex(columns=["opiate", "crack", "opiate_crack"]).reset_index()
    merged = parts.merge(wide, on=["period", "area_id"], how="inner")
    cols = ["opiate", "crack", "opiate_crack"]
    merged = merged[merged[cols].notna().sum(axis=1) >= 2].reset_index(drop=True)
    if merged.empty:
        return [], np.zeros(0, dtype=np.int64)
    ids = first + 3 * np.arange(len(merged))
    onc, oac, cno = ids, ids + 1, ids + 2
    members = {"opiate": (onc, oac), "crack": (oac, cno), "opiate_crack": (onc, oac, cno)}
    rel = [
        (int(total), [int(p[i]) for p in members[s]])
        for s in cols
        for i, total in enumerate(merged[s].to_numpy())
        if not pd.isna(total)
    ]
    values = merged[["onc", "oac", "cno"]].to_numpy(dtype=np.int64).ravel()
    return rel, values


def _as_written(cells: Cells) -> Cells:
    """The structure written with the table: the substance parts stay unplaced (no column
    shows them), as a reader of the file knows them."""
    real = [p for p in cells.placements if p.column != PARTS_COLUMN]
    return Cells(cells.values, list(cells.relations), real)


def _from_rounded(table: pd.DataFrame, rows: np.ndarray, base: int) -> pd.DataFrame:
    """Under a rounding policy, the columns derived from T worked out again from the shown
    (rounded) T, so they do not give the unrounded count away; T is then known within
    +- base/2, which the percentage interval covers.
    """
    shown = table["in_treatment"].astype("Float64")
    on = np.zeros(len(table), dtype=bool)
    on[rows] = True
    on &= shown.notna().to_numpy()
    half = base // 2
    redo = table.assign(
        in_treatment_min=(shown - half).clip(lower=0),
        in_treatment_max=shown + half,
        t_unknown=False,
    )
    redone = _gap_columns(redo.assign(in_treatment=shown.fillna(0).astype("Int64")))
    out = table.copy()
    for col in ("in_treatment_min", "in_treatment_max", *DERIVED[:4]):
        out[col] = table[col].astype("Float64").where(~on, redone[col].astype("Float64"))
    return out


def _relate(cells: Cells, table: pd.DataFrame, cell_of_row: np.ndarray) -> None:
    """Add total = sum of parts for each total row whose T is known (then all parts are)."""
    group = table["total_group"].fillna(-1).to_numpy(dtype=np.int64)
    if not len(group) or group.max() < 0:
        return
    is_total = table["is_total"].to_numpy(dtype=bool)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(group.max() + 2))
    for g in range(group.max() + 1):  # one relation per period x substance (the API's unit)
        rows = order[bounds[g] : bounds[g + 1]]
        total, parts = rows[is_total[rows]], rows[~is_total[rows]]
        if len(total) == 1 and cell_of_row[total[0]] >= 0 and (cell_of_row[parts] >= 0).all():
            cells.add_relation(int(cell_of_row[total[0]]), cell_of_row[parts].tolist())
