"""The "Table 1" view of a compare table: variables down the side, cohorts across.

Built from the published tidy table (contract 4.2) alone: one row per within-group x
variable x category with a readable label ("Mental health disability: yes"), one
``n (%)`` column per cohort (percentages rounded half up, whole or one decimal), and the
variable's p-value. A ``People (n)`` row gives each cohort's size in the group. A cell
whose count, denominator or percentage is suppressed shows ``[c]`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from unmetneed.outputs.labels import (
    CONFIDENTIAL,
    NOT_AVAILABLE,
    category_label,
    p_text,
    round_half_up,
    variable_label,
)

CHARACTERISTIC = "Characteristic"
P_VALUE = "p-value"
PEOPLE = "People (n)"
_AS_IS = ("area", "area_code", "period")  # within values that are names, not codes


@dataclass(frozen=True)
class Table1:
    """The view as text cells (``frame``), which cells are ``[c]`` (``hidden``), and
    the cohort columns in order."""

    frame: pd.DataFrame
    hidden: pd.DataFrame
    cohort_columns: tuple[str, ...]

    def shown(self, symbol: str = CONFIDENTIAL) -> pd.DataFrame:
        """The cells with suppressed ones as ``symbol`` (``*`` in a terminal)."""
        return self.frame.mask(self.hidden, symbol)


def within_columns(table: pd.DataFrame) -> list[str]:
    """The within-group columns of a tidy compare table: between ``cohort`` and ``variable``."""
    cols = list(table.columns)
    return cols[cols.index("cohort") + 1 : cols.index("variable")]


def table1(table: pd.DataFrame, digits: int = 0) -> Table1:
    """The Table 1 view of a published tidy compare table (``digits``: 0 or 1 decimals)."""
    if digits not in (0, 1):
        raise ValueError("digits: use 0 or 1")
    within = within_columns(table)
    cohorts = list(dict.fromkeys(table["cohort"].astype(str)))
    t = table.assign(
        cohort=table["cohort"].astype(str),
        _cell=_n_pct(table, digits),
        _hidden=_cell_hidden(table),
    )
    headers = {c: _cohort_header(t, c, within) for c in cohorts}
    rows: list[dict[str, object]] = []
    masks: list[dict[str, bool]] = []
    groups = t.groupby(within, sort=False, dropna=False, observed=True) if within else [((), t)]
    for group_key, part in groups:
        values = dict(zip(within, _as_tuple(group_key), strict=True))
        per_variable = _sizes_differ(part)
        if not per_variable:
            row, mask = _size_row(part, cohorts, headers, PEOPLE)
            rows.append({**_within_labels(values), **row})
            masks.append(mask)
        for variable, var_part in part.groupby("variable", sort=False, observed=True):
            if per_variable:
                label = f"{variable_label(str(variable))}: people with a stated value (n)"
                row, mask = _size_row(var_part, cohorts, headers, label)
                rows.append({**_within_labels(values), **row})
                masks.append(mask)
            for category, cat_part in var_part.groupby("category", sort=False, observed=True):
                row, mask = _category_row(cat_part, cohorts, headers, str(variable), category)
                rows.append({**_within_labels(values), **row})
                masks.append(mask)
    columns = [*(variable_label(w) for w in within), CHARACTERISTIC, *headers.values(), P_VALUE]
    frame = pd.DataFrame(rows, columns=columns)
    hidden = pd.DataFrame([[m.get(c, False) for c in columns] for m in masks], columns=columns)
    hidden = hidden.astype(bool)
    return Table1(frame, hidden, tuple(headers.values()))


def _as_tuple(key: object) -> tuple[object, ...]:
    """A group-by key as a tuple (one within column gives a scalar)."""
    return key if isinstance(key, tuple) else (key,)


def _within_labels(values: dict[str, object]) -> dict[str, object]:
    """The within-group columns of a row, headed and valued in words (names kept)."""
    return {
        variable_label(w): (str(v) if w in _AS_IS else category_label(v)) for w, v in values.items()
    }


def _cohort_header(t: pd.DataFrame, cohort: str, within: list[str]) -> str:
    """``NDTMS n (%)``; with no within-groups and one size, ``NDTMS (n = 942) n (%)``."""
    if within:
        return f"{cohort} n (%)"
    sizes = t.loc[t["cohort"] == cohort, "denominator"]
    if sizes.isna().any() or sizes.nunique() != 1:
        return f"{cohort} n (%)"
    return f"{cohort} (n = {int(sizes.iloc[0]):,}) n (%)"


def _n_pct(table: pd.DataFrame, digits: int) -> pd.Series:
    """``n (pct%)`` per tidy row, half up; ``0`` for an empty group; None where hidden."""
    count = table["count"]
    denom = table["denominator"]
    known = (count.notna() & denom.notna()).to_numpy()
    n = count.fillna(0).to_numpy(dtype=np.int64)
    d = denom.fillna(0).to_numpy(dtype=np.int64)
    pct = round_half_up(n, d, digits)
    out = np.full(len(table), None, dtype=object)
    for i in np.flatnonzero(known):
        out[i] = f"{n[i]:,}" if d[i] == 0 else f"{n[i]:,} ({pct[i]:.{digits}f}%)"
    return pd.Series(out, index=table.index, dtype=object)


def _cell_hidden(table: pd.DataFrame) -> np.ndarray:
    """A row's count, denominator or percentage is blank because of suppression."""
    empty = table["denominator"].eq(0).fillna(False).to_numpy(dtype=bool)
    blank = (table["count"].isna() | table["denominator"].isna() | table["pct"].isna()).to_numpy(
        dtype=bool
    )
    return blank & ~empty


def _sizes_differ(part: pd.DataFrame) -> bool:
    """Denominators differ between variables of a group (not stated values left out)."""
    shown = part.dropna(subset=["denominator"])
    return bool((shown.groupby("cohort", observed=True)["denominator"].nunique() > 1).any())


def _size_row(
    part: pd.DataFrame, cohorts: list[str], headers: dict[str, str], label: str
) -> tuple[dict[str, object], dict[str, bool]]:
    """A row of each cohort's people in the group (``[c]`` when any of them is hidden)."""
    row: dict[str, object] = {CHARACTERISTIC: label, P_VALUE: NOT_AVAILABLE}
    mask: dict[str, bool] = {}
    for c in cohorts:
        sizes = part.loc[part["cohort"] == c, "denominator"]
        if sizes.empty:
            row[headers[c]] = NOT_AVAILABLE
        elif sizes.isna().any():
            row[headers[c]], mask[headers[c]] = None, True
        else:
            row[headers[c]] = f"{int(sizes.iloc[0]):,}"
    return row, mask


def _category_row(
    part: pd.DataFrame, cohorts: list[str], headers: dict[str, str], variable: str, category: object
) -> tuple[dict[str, object], dict[str, bool]]:
    """One category's ``n (%)`` per cohort and the variable's p-value."""
    label = f"{variable_label(variable)}: {category_label(category)}"
    row: dict[str, object] = {CHARACTERISTIC: label}
    mask: dict[str, bool] = {}
    for c in cohorts:
        mine = part.loc[part["cohort"] == c]
        if mine.empty:
            row[headers[c]] = NOT_AVAILABLE
        elif bool(mine["_hidden"].iloc[0]):
            row[headers[c]], mask[headers[c]] = None, True
        else:
            row[headers[c]] = mine["_cell"].iloc[0]
    row[P_VALUE], mask[P_VALUE] = _p_cell(part)
    return row, mask


def _p_cell(part: pd.DataFrame) -> tuple[str | None, bool]:
    """The variable's p-value text, ``[c]`` when its test was withheld, ``[x]`` when none."""
    tests = part["test"].astype("string") if "test" in part else pd.Series(dtype="string")
    if (tests == "suppressed").any():
        return None, True
    bound = part["p_value_bound"].iloc[0] if "p_value_bound" in part else None
    p = p_text(part["p_value"].iloc[0], bound) if "p_value" in part else None
    return (p if p is not None else NOT_AVAILABLE), False
