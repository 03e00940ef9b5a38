"""What each alternative collapsing of the codes would lose (``--plan``), writing nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from unmetneed.extract.codemaps import Alternative, _mapper, alternatives
from unmetneed.extract.loss import loss_by_group
from unmetneed.extract.options import AnonymiseOptions, _check_options
from unmetneed.extract.prepare import prepare
from unmetneed.extract.quasi import encode, resolve_quasi
from unmetneed.extract.suppression import delete_small_groups, solve
from unmetneed.inputs.codes import map_distinct


def plan(
    records: pd.DataFrame,
    options: AnonymiseOptions | None = None,
    *,
    path: Path | str = "records",
) -> pd.DataFrame:
    """What each alternative collapsing would lose, writing nothing.

    One row per plan: the contract's collapsing, each alternative in ``codemaps.yaml`` for
    a quasi column, and all of them together. Columns: ``plan``, ``description``,
    ``rows`` (rows going into k-anonymity), ``rows_removed``, ``rows_lost_value``,
    ``values_suppressed``, ``pct_rows_affected`` (100 x (removed + lost a value) / rows),
    ``rows_removed_by_deleting_small_groups`` and ``hardest_hit`` (the category losing
    the largest share, with that share).
    """
    opts = options or AnonymiseOptions()
    _check_options(opts)
    prep = prepare(records, path=path)
    quasi = resolve_quasi(prep.frame, opts.quasi)
    usable = [a for a in alternatives() if a.column in quasi]
    plans: list[tuple[str, str, Sequence[Alternative]]] = [("contract codes", "as released", ())]
    plans += [(f"{a.column} {a.name}", a.description, (a,)) for a in usable]
    firsts = [a for i, a in enumerate(usable) if a.column not in {b.column for b in usable[:i]}]
    if len(firsts) > 1:
        plans.append(("all together", "; ".join(a.description for a in firsts), firsts))
    rows = [_plan_row(prep.frame, quasi, opts, *p) for p in plans]
    return pd.DataFrame(rows)


def _plan_row(
    frame: pd.DataFrame,
    quasi: Sequence[str],
    opts: AnonymiseOptions,
    name: str,
    description: str,
    alts: Sequence[Alternative],
) -> dict[str, Any]:
    coarse = frame.copy()
    for alt in alts:
        coarse[alt.column] = map_distinct(coarse[alt.column], _mapper(alt.mapping, by_key=False))
    enc = encode(coarse, quasi, opts.suppress_first)
    sol = solve(enc, opts.k, opts.method)
    groups = loss_by_group(coarse, quasi, sol)
    lost = int((sol.suppressed.any(axis=1) & ~sol.removed).sum())
    n = len(sol.removed)
    return {
        "plan": name,
        "description": description,
        "rows": n,
        "rows_removed": int(sol.removed.sum()),
        "rows_lost_value": lost,
        "values_suppressed": int(sol.suppressed.sum()),
        "pct_rows_affected": round(100.0 * (lost + int(sol.removed.sum())) / n, 1) if n else 0.0,
        "rows_removed_by_deleting_small_groups": int(
            delete_small_groups(enc, opts.k).removed.sum()
        ),
        "hardest_hit": _hardest_hit(groups),
    }


def _hardest_hit(groups: pd.DataFrame) -> str:
    """The category losing the largest share, e.g. ``ethnicity=black (12.5%)``; blank if none."""
    worst = groups[(groups["variable"] != "all") & (groups["pct_affected"] > 0)].head(1)
    if worst.empty:
        return ""
    row = worst.iloc[0]
    return f"{row['variable']}={row['category']} ({row['pct_affected']}%)"
