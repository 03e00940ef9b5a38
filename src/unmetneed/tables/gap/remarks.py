"""Remarks: the numbered notes under the table, each row's numbers, the final columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from unmetneed.disclosure import Protection
from unmetneed.errors import Remarks
from unmetneed.tables.gap.areas import _Areas
from unmetneed.tables.gap.options import (
    MAX_NAMED,
    GapOptions,
)


def _names(table: pd.DataFrame, mask: np.ndarray) -> str:
    """Up to MAX_NAMED distinct area names of the masked rows, then how many more."""
    names = pd.unique(table.loc[mask, "area"].astype(str))
    shown = ", ".join(names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


def _remark_texts(opts: GapOptions, prot: Protection, aliases: tuple[str, ...]) -> dict[str, str]:
    """The text of each row-level remark (only used where some row is flagged)."""
    k, star = opts.k, opts.star_max
    return {
        "unmatched": "no prevalence estimate for these areas (not in the prevalence file): {names}",
        "too_few_years": (
            f"fewer than {opts.prevalence_years} published estimate year(s) at or before the "
            "treatment year for these areas: prevalence left missing, not averaged over fewer "
            "years ({names})"
        ),
        "no_interval": (
            "no interval: an estimate year used has no lower or upper bound, so the interval "
            "is left missing rather than averaged over fewer years ({names})"
        ),
        "negative": (
            "more people in treatment than the estimate: a negative gap, kept as it is (the "
            "estimate may be too low or people may travel in for treatment): {names}"
        ),
        "maybe_negative": (
            "the number in treatment is known only within bounds that straddle the estimate: "
            "the gap may be negative ({names})"
        ),
        "t_unknown": (
            "a count is suppressed in the treatment file, so in_treatment is only known within "
            f"in_treatment_min..in_treatment_max (a '*' read as 1..{star}, '<N' as 1..N-1); "
            "the percentage interval is widened to cover those bounds ({names})"
        ),
        "t_rounded": (
            "treatment counts look rounded to the nearest 5: each read as within +-2, given in "
            "in_treatment_min..in_treatment_max, and the percentage interval widened to cover "
            "them ({names})"
        ),
        "alias": (
            "areas known by several names in the inputs, matched as one (by GSS code, or by "
            "name where a row has no code): " + "; ".join(aliases)
        ),
        "total": (
            f"{opts.total}: the sum of the areas with an estimate (England and region rows "
            "are never added in); its bounds are the sums of the areas' bounds, which is "
            "conservative (wider than a proper interval of a total)"
        ),
        "disclosure": (
            f"* suppressed: an in_treatment count of 1..{k}, or one that would let a small "
            "count be worked out from the total, from another table or by a difference between "
            "substances (e.g. opiate_crack - opiate = crack without opiates); the prevalence is "
            "still shown: {names}"
        ),
    }


def _with_remarks(
    table: pd.DataFrame,
    flags: dict[str, np.ndarray],
    remarks: Remarks,
    opts: GapOptions,
    prot: Protection,
    used: pd.DataFrame,
    areas: _Areas,
) -> pd.DataFrame:
    """The final table (pinned columns, then extras) with each row's remark numbers
    (``remarks``: e.g. ``"3,5"``, the numbers of the remarks printed under the table).
    """
    aliases = areas.aliases
    remarks.extend(_years_remarks(used, opts, areas.names))
    ids = pd.Series("", index=table.index, dtype=object)
    for name, text in _remark_texts(opts, prot, aliases).items():
        mask = flags.get(name, np.zeros(len(table), bool))
        if not mask.any():
            continue
        filled = text.replace("{names}", _names(table, mask))
        remarks.add(filled)
        number = str(remarks.items.index(filled) + 1)
        ids = ids.where(~mask, (ids + ",").where(ids != "", "") + number)
    remarks.extend(prot.remarks)
    if prot.policy.round_to:
        base = prot.policy.round_to
        remarks.add(
            f"in_treatment is rounded to the nearest {base} ({prot.policy.name} policy); the "
            f"other columns are worked out from the rounded count, so in_treatment_min..max "
            f"are +-{base // 2} around it and the percentage interval covers them"
        )
    if opts.k == 0 and not any("--k 0" in text for text in prot.remarks):
        remarks.add("suppression is off (--k 0): every count is shown as it is")
    out = table.assign(remarks=ids.mask(ids == "").astype("string"))
    return _typed(out)


def _years_remarks(used: pd.DataFrame, opts: GapOptions, names: np.ndarray) -> list[str]:
    """Which estimate years each treatment year's prevalence is the mean of; where areas
    differ (years are chosen per area), the areas of each choice but the commonest."""
    done = used.dropna(subset=["period"])
    done = done[done["complete"].astype(bool)]
    if done.empty:
        return []
    per_area = (
        done.sort_values("period")
        .groupby(["fy", "substance", "area_id"])["period"]
        .agg(", ".join)
        .rename("years")
        .reset_index()
    )
    what = "the estimate for" if opts.prevalence_years == 1 else "the mean of the estimates for"
    choices = per_area.groupby(["fy", "substance", "years"], sort=True)["area_id"].agg(list)
    sizes = choices.map(len)
    commonest = set(sizes.groupby(level=[0, 1]).idxmax().tolist())
    lines: dict[tuple[str, str, str], list[str]] = {}
    for index, ids in choices.items():  # a handful of year choices, not rows
        fy, sub, years = (str(x) for x in index)  # type: ignore[attr-defined]
        where = ""
        if sizes.loc[(fy, sub)].size > 1:
            named = sorted(str(names[i]) for i in ids)
            where = (
                " for the other areas"
                if (fy, sub, years) in commonest
                else " for "
                + ", ".join(named[:MAX_NAMED])
                + (f" and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else "")
            )
        lines.setdefault((fy, years, where), []).append(sub)
    return [
        f"prevalence for treatment year {fy} ({', '.join(subs)}): {what} {years}{where}"
        for (fy, years, where), subs in sorted(lines.items())
    ]


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Pinned columns then extras, with stable dtypes for Parquet and CSV."""
    out = pd.DataFrame(
        {
            "area": table["area"].astype("string"),
            "area_code": table["area_code"].astype("string"),
            "period": table["period"].astype("string"),
            "substance": table["substance"].astype("string"),
            "prevalence": table["prevalence"].astype("Float64"),
            "prevalence_lower": table["prevalence_lower"].astype("Float64"),
            "prevalence_upper": table["prevalence_upper"].astype("Float64"),
            "in_treatment": table["in_treatment"].astype("Int64"),
            "not_in_treatment": table["not_in_treatment"].astype("Float64"),
            "unmet_need_pct": table["unmet_need_pct"].astype("Float64"),
            "unmet_need_pct_lower": table["unmet_need_pct_lower"].astype("Float64"),
            "unmet_need_pct_upper": table["unmet_need_pct_upper"].astype("Float64"),
            "suppressed": table["suppressed"].astype(bool),
            "in_treatment_min": table["in_treatment_min"].astype("Int64"),
            "in_treatment_max": table["in_treatment_max"].astype("Int64"),
            "prevalence_periods": table["prevalence_periods"].astype("string"),
            "remarks": table["remarks"].astype("string"),
        }
    )
    return out.reset_index(drop=True)
