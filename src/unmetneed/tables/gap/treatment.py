"""The treatment input counted: people in treatment (T) per period x area x substance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from unmetneed.counting import count, groups_of
from unmetneed.errors import OptionError, Remarks, UsageError
from unmetneed.inputs.codes import period_start
from unmetneed.inputs.stream import PEOPLE
from unmetneed.inputs.variables import column_codes, substance_masks
from unmetneed.tables.gap.options import (
    ROUNDING_HALF_WIDTH,
    SUBSTANCES,
    GapOptions,
    _Input,
)

ASKED = ("drug_group", "crack", "substance")  # the dimensions gap splits T by
NOT_DIMENSIONS = (
    "count",
    "count_suppressed",
    "count_upper",
    "count_rounding",
    "period",
    "area",
    "area_code",
)


def _drop_margins(treat: _Input, remarks: Remarks) -> pd.DataFrame:
    """The rows of a counts frame that count everyone once (contract 2.5).

    For a dimension gap splits by (drug_group, crack, substance), rows reading ``Total``
    beside that dimension's breakdown are left out: the breakdown is used. For any other
    dimension (sex, age group, ethnicity...), the published ``Total`` row is used where the
    file has one for the row's other values, and its breakdown left out: a published total
    is more exact than a sum of rounded cells (Barnet 2017/18: 265 + 150, not 12 cells).
    A dimension that only ever reads ``Total`` splits nothing and is kept.
    """
    frame = treat.frame
    if treat.kind != "counts":
        return frame
    from unmetneed.inputs.codes import key, map_distinct

    dims = [str(c) for c in frame.columns if c not in NOT_DIMENSIONS and _is_dimension(frame[c])]
    is_total = {
        d: (map_distinct(frame[d].astype(object), key) == "total").to_numpy(bool) for d in dims
    }
    split = [d for d in dims if is_total[d].any() and not is_total[d].all()]
    keep = np.ones(len(frame), dtype=bool)
    for d in split:
        if d in ASKED:
            keep &= ~is_total[d]
        else:
            keep &= is_total[d] | ~_has_published_total(frame, d, dims, is_total[d])
    if not keep.all():
        asked = [d for d in split if d in ASKED]
        other = [d for d in split if d not in ASKED]
        said = []
        if asked:
            said.append(f"total rows over {', '.join(asked)} (the breakdown is used)")
        if other:
            said.append(
                f"the breakdown by {', '.join(other)} where the file publishes its Total (the "
                "published total is used, not a sum of cells)"
            )
        remarks.add(
            f"{treat.path}: {int((~keep).sum())} row(s) left out so nobody is counted twice: "
            + "; ".join(said)
        )
    return frame.loc[keep]


def _is_dimension(column: pd.Series) -> bool:
    """Whether a column of a counts file splits its rows (text categories), not another
    measure (numbers, e.g. ViewIt's counts by ethnicity beside the count)."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    from unmetneed.inputs.codes import key, not_stated_keys

    values = pd.Series(pd.unique(column.astype(object).dropna()), dtype=object)
    text = values.astype(str).str.replace(",", "", regex=False).str.strip()
    blank = text.map(key).isin(not_stated_keys())
    numeric = pd.to_numeric(text, errors="coerce").notna()
    return not bool((numeric | blank).all())


def _has_published_total(
    frame: pd.DataFrame, dim: str, dims: list[str], total: np.ndarray
) -> np.ndarray:
    """Per row, whether a row with the same period, area and other dimensions (``dims``)
    has ``dim`` = Total."""
    others = [c for c in ("period", "area", "area_code", *dims) if c in frame and c != dim]
    keys = frame[others].astype(str).apply(lambda c: pd.factorize(c)[0]).to_numpy()
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = np.asarray(group).ravel()
    has = np.bincount(group, weights=total, minlength=int(group.max()) + 1 if len(group) else 0)
    return has[group] > 0


def _note_missing_groups(treat: _Input, frame: pd.DataFrame, remarks: Remarks) -> None:
    """A remark when rows lack the period, drug group or crack flag (e.g. blanked by
    k-anonymising): such a row counts towards no period, or no substance that needs it.
    """
    people = _people(frame) if treat.kind == "treatment" else np.ones(len(frame), np.int64)
    no_period = int(people[frame["period"].isna().to_numpy()].sum())
    if no_period:
        remarks.add(f"{treat.path}: {no_period} row(s) have no period: left out")
    for name in ("drug_group", "crack"):
        if name in frame and "substance" not in frame:
            n = int(people[frame[name].isna().to_numpy()].sum())
            if n:
                remarks.add(
                    f"{treat.path}: {n} row(s) have no {name}, so they are not counted in "
                    "the substances that need it: in_treatment may be too low there"
                )


def _select_periods(frame: pd.DataFrame, opts: GapOptions, path: str) -> pd.DataFrame:
    """The rows of the chosen treatment periods (all when none are chosen; never a row
    without a period, which no estimate year can match).
    """
    frame = frame[frame["period"].notna()]
    if not opts.periods:
        return frame
    present = set(frame["period"].dropna().astype(str).unique())
    missing = [p for p in opts.periods if p not in present]
    if missing:
        raise OptionError(
            "periods",
            missing[0],
            f"not in {path}; its periods are " + ", ".join(sorted(present, key=_period_order)),
        )
    return frame[frame["period"].astype(str).isin(opts.periods)]


def _period_order(period: str) -> tuple[int, str]:
    return period_start(period), period


def _derivable(treat: _Input, frame: pd.DataFrame) -> tuple[str, ...]:
    """Substances the treatment input can give T for (records: all four)."""
    if treat.kind == "treatment" or "substance" in frame:
        return SUBSTANCES
    has_group, has_crack = "drug_group" in frame, "crack" in frame
    out = []
    if has_group and has_crack:
        out += ["opiate_crack"]
    if has_group:
        out += ["opiate"]
    if has_crack:
        out += ["crack"]
    if has_group:
        out += ["alcohol_dependent"]
    return tuple(s for s in SUBSTANCES if s in out)


def _substances(treat: _Input, prev: _Input, opts: GapOptions, remarks: Remarks) -> tuple[str, ...]:
    """The substances of the table: chosen ones, else those of the prevalence input."""
    can = _derivable(treat, treat.frame)
    if opts.substances:
        cannot = [s for s in opts.substances if s not in can]
        if cannot:
            raise OptionError(
                "substances",
                cannot[0],
                f"{treat.path} cannot give it (a counts file needs drug_group and crack "
                "columns, or a substance column)",
            )
        return opts.substances
    in_prev = set(prev.frame["substance"].dropna().astype(str))
    chosen = tuple(s for s in SUBSTANCES if s in in_prev and s in can)
    left = [s for s in SUBSTANCES if s in in_prev and s not in can]
    if left:
        remarks.add(
            f"{treat.path} cannot give the number in treatment for {', '.join(left)} "
            "(a counts file needs drug_group and crack, or a substance column): left out"
        )
    if not chosen:
        raise UsageError(f"{prev.path}: no estimates for a substance {treat.path} can give")
    return chosen


def _row_bounds(treat: _Input, frame: pd.DataFrame, opts: GapOptions) -> dict[str, np.ndarray]:
    """Per input row: people counted (``t``), their bounds and whether the count is unknown.

    A record is one person. A count is that many people; a suppressed count (``*``) is
    1..``options.star_max``, ``<N`` is 1..N-1; a count rounded to 5 is +-2.
    """
    n = len(frame)
    if treat.kind == "treatment":
        one = _people(frame)
        return {"t": one, "lo": one, "hi": one, "unknown": np.zeros(n, bool)}
    count = frame["count"].astype("Int64").to_numpy(dtype=np.int64, na_value=0)
    unknown = frame["count_suppressed"].to_numpy(dtype=bool)
    upper = frame["count_upper"].astype("Int64").to_numpy(dtype=np.int64, na_value=opts.star_max)
    half = _half_widths(treat, frame)
    lo = np.where(unknown, 1, np.maximum(count - half, 0))
    hi = np.where(unknown, upper, count + half)
    return {"t": np.where(unknown, 0, count), "lo": lo, "hi": hi, "unknown": unknown}


def _half_widths(treat: _Input, frame: pd.DataFrame) -> np.ndarray:
    """Per row, how far a shown count may be from the truth (people): +-2 where rounded to
    5 (per row, as the loader read it for each area), 0 where exact."""
    if "count_rounding" in frame:
        base = frame["count_rounding"].to_numpy(dtype=np.int64)
    else:
        base = np.full(len(frame), treat.rounded_to or 0, dtype=np.int64)
    return np.select(
        [base == b for b in ROUNDING_HALF_WIDTH], list(ROUNDING_HALF_WIDTH.values()), 0
    )


def _people(frame: pd.DataFrame) -> np.ndarray:
    """People per row of a record frame: one, or ``PEOPLE`` where records were collapsed."""
    if PEOPLE in frame:
        return frame[PEOPLE].to_numpy(dtype=np.int64)
    return np.ones(len(frame), dtype=np.int64)


def _in_treatment(
    treat: _Input,
    frame: pd.DataFrame,
    area_ids: np.ndarray,
    substances: tuple[str, ...],
    opts: GapOptions,
) -> pd.DataFrame:
    """T per (period, area id, substance): one pass of ``numpy.bincount`` per measure.

    Columns: period, area_id, substance, in_treatment (people; 0 where only bounds are
    known), in_treatment_min, in_treatment_max, t_unknown (a suppressed count contributed).
    """
    masks = substance_masks(frame, substances)
    bounds = _row_bounds(treat, frame, opts)
    groups, inverse, periods, n_area = _grouping(frame, area_ids)
    blocks = []
    for s, mask in masks.items():  # four substances at most

        def total(values: np.ndarray, m: np.ndarray = mask) -> np.ndarray:
            return count(inverse, len(groups), np.where(m, values, 0).astype(np.float64))

        blocks.append(
            pd.DataFrame(
                {
                    "period": periods[groups // n_area],
                    "area_id": groups % n_area,
                    "substance": s,
                    "in_treatment": total(bounds["t"]),
                    "in_treatment_min": total(bounds["lo"]),
                    "in_treatment_max": total(bounds["hi"]),
                    "t_unknown": total(bounds["unknown"].astype(np.int64)) > 0,
                    "rows": total(np.ones(len(frame), dtype=np.int64)),
                }
            )
        )
    long = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=_T_COLUMNS)
    if "substance" in frame:  # a substance-split counts file: only combinations it gives
        long = long[long["rows"] > 0]
    return long.drop(columns="rows").reset_index(drop=True)


def _substance_parts(treat: _Input, frame: pd.DataFrame, area_ids: np.ndarray) -> pd.DataFrame:
    """People per (period, area id) in the three disjoint groups the drug substances are
    made of: ``onc`` opiate without crack, ``oac`` opiate and crack, ``cno`` crack without
    opiate (opiate = onc + oac, crack = oac + cno, opiate_crack = onc + oac + cno).

    Only where they are known exactly (records, or counts by drug_group and crack with no
    suppressed count); empty otherwise. Disclosure control needs them: a difference such as
    opiate_crack - opiate shows ``cno`` even though no row shows it.
    """
    empty = pd.DataFrame(columns=["period", "area_id", "onc", "oac", "cno"])
    if "substance" in frame or "drug_group" not in frame or "crack" not in frame:
        return empty
    masks = substance_masks(frame, ("opiate", "crack"))
    opiate, crack = masks["opiate"], masks["crack"]
    bounds = _row_bounds(treat, frame, GapOptions())
    groups, inverse, periods, n_area = _grouping(frame, area_ids)

    def total(mask: np.ndarray) -> np.ndarray:
        return count(inverse, len(groups), np.where(mask, bounds["t"], 0).astype(np.float64))

    unknown = count(inverse, len(groups), bounds["unknown"] & (opiate | crack))
    parts = pd.DataFrame(
        {
            "period": periods[groups // n_area],
            "area_id": groups % n_area,
            "onc": total(opiate & ~crack),
            "oac": total(opiate & crack),
            "cno": total(~opiate & crack),
        }
    )
    result: pd.DataFrame = parts[unknown == 0].reset_index(drop=True)
    return result


def _grouping(
    frame: pd.DataFrame, area_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Group numbers of (period, area id) for ``bincount``: the distinct keys, each row's
    group, the period labels and the key's area width (key = period code x width + area).
    """
    period_codes, periods = column_codes(frame["period"])
    n_area = int(area_ids.max()) + 1 if len(area_ids) else 1
    groups, inverse = groups_of(period_codes * n_area + area_ids, len(periods) * n_area)
    return groups, inverse, periods, n_area


_T_COLUMNS = [
    "period",
    "area_id",
    "substance",
    "in_treatment",
    "in_treatment_min",
    "in_treatment_max",
    "t_unknown",
    "rows",
]
