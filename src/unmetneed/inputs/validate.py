"""The one validator: a contract's rules applied to each column's distinct values.

A column is normalised and checked once per distinct value, however many rows hold it:
:func:`normalise_distinct` reads each distinct value as the contract's type reads it
(codes by their spellings, periods, GSS codes, counts with suppression markers), and
:func:`check_distinct` applies the checks ``schemas.column_checks`` builds from
``schemas/*.yaml`` to the normalised values. ``load`` (a whole frame: distinct values by
``pandas.factorize``) and ``stream`` (record batches: each column's Arrow dictionary) both
call these two functions, then map a failing value back to the rows, and so to the lines
of the file, that hold it. A value that matches no spelling is kept as it was in the file,
so the failure names it.

Every array returned has one entry per distinct value given; callers pass the distinct
values with a missing value last (:func:`with_missing`), so a row's entry is found by its
``factorize`` label or dictionary index, a missing row's by -1 or ``len(distinct)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.inputs.codes import (
    by_distinct,
    code_list,
    key,
    map_distinct,
    normalise,
    not_stated_keys,
    parse_period,
    suppression_markers,
)
from unmetneed.inputs.schemas import GSS_PATTERN, ColumnSpec, Contract, column_checks

REQUIRED = "a value is required (it is blank or missing)"
_LESS_THAN = re.compile(r"^<\s*(\d+)$")


@dataclass(frozen=True)
class Distinct:
    """A column's distinct values as the contract reads them, one entry per value.

    ``values``: normalised (None missing; a value matching no spelling as in the file);
    ``shown``: each value as a failure or note names it; ``bare``: a bare year read as
    the financial year starting in it; ``not_gss``: an area code that is not a GSS code,
    read as missing; ``suppressed`` and ``upper`` (counts): a suppression marker, and the
    bound of ``<N`` (N - 1; missing elsewhere).
    """

    values: np.ndarray
    shown: np.ndarray
    bare: np.ndarray
    not_gss: np.ndarray
    suppressed: np.ndarray
    upper: pd.Series


def with_missing(values: Any) -> pd.Series:
    """Distinct values (an array, ``Index`` or list) with one missing value added last, in
    a dtype the normalisers read as the column's (numbers stay numbers)."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if series.dtype == bool or pd.api.types.is_string_dtype(series.dtype):
        series = series.astype(object)
    elif pd.api.types.is_integer_dtype(series.dtype):
        series = series.astype("Int64")  # a missing value must not make 1 read as 1.0
    return series.reindex(range(len(series) + 1)).reset_index(drop=True)


def factorize(column: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each row's distinct value number (-1: missing, the last entry) and the distinct
    values with a missing value last."""
    labels, uniques = pd.factorize(column, use_na_sentinel=True)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return np.asarray(labels), with_missing(np.asarray(uniques, dtype=object))
    return np.asarray(labels), with_missing(uniques)


def normalise_distinct(spec: ColumnSpec, raw: pd.Series) -> Distinct:
    """Every distinct value of a column (``raw``, missing last) read as ``spec`` reads it."""
    n = len(raw)
    none = np.zeros(n, dtype=bool)
    upper = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    bare, not_gss, suppressed = none, none, none
    if spec.type in ("code", "flag"):
        codes = spec.code_list() if spec.type == "code" else code_list("flag")
        values = normalise(raw, codes)[0]
    elif spec.type == "period":
        values, bare = _normalise_period(raw)
    elif spec.type in ("text", "gss_code"):
        values = _normalise_text(raw)
        if spec.type == "gss_code":
            upper_text = values.astype("string").str.upper()
            not_gss = (
                upper_text.notna() & ~upper_text.str.match(GSS_PATTERN).fillna(False).astype(bool)
            ).to_numpy(dtype=bool)
            shown = upper_text.astype(object).where(upper_text.notna(), None).to_numpy(object)
            kept = shown.copy()
            kept[not_gss] = None
            return Distinct(kept, _shown(shown), bare, not_gss, none, upper)
    elif spec.type == "number":
        values = _normalise_number(raw)
    else:  # count
        values, suppressed_s, upper = _normalise_count(raw)
        suppressed = suppressed_s.to_numpy(dtype=bool)
    out = np.asarray(values.to_numpy(object), dtype=object)
    return Distinct(out, _shown(out), bare, not_gss, suppressed, upper.reset_index(drop=True))


def check_distinct(spec: ColumnSpec, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which normalised distinct values break the column's rule (``bad``), and which are
    missing where the contract requires a value (``required``): the checks built from the
    contract (``schemas.column_checks``), each applied to the values that are not missing."""
    missing = np.asarray(pd.isna(pd.Series(values, dtype=object)), dtype=bool)
    nullable = spec.nullable or spec.type == "count"
    required = missing & (not nullable)
    bad = np.zeros(len(values), dtype=bool)
    present = pd.Series(values[~missing], dtype=object)
    if len(present):
        ok = np.ones(len(present), dtype=bool)
        for check in _checks(spec):
            ok &= np.asarray(check(present).check_output, dtype=bool)
        bad[np.flatnonzero(~missing)] = ~ok
    return bad, required


def frame_rule_failures(frame: pd.DataFrame, c: Contract) -> list[tuple[int, str, str]]:
    """Rows breaking a rule across columns (``lower`` above ``estimate``...): (row
    position, column, rule name), from the contract's frame checks."""
    from unmetneed.inputs.schemas import frame_checks

    out = []
    for check in frame_checks(c):
        ok = np.asarray(check(frame).check_output, dtype=bool)
        column = "lower" if "lower" in str(check.name) else "upper"
        out += [(int(p), column, str(check.name)) for p in np.flatnonzero(~ok)]
    return out


@cache
def _checks(spec: ColumnSpec) -> list[Any]:
    """The column's pandera checks, built once per column spec."""
    return column_checks(spec)


def show(value: object) -> str:
    """A value as a failure names it (a whole float without ``.0``; missing as blank)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _shown(values: np.ndarray) -> np.ndarray:
    return np.asarray([show(v) for v in values], dtype=object)


# --- reading the distinct values of one column as the contract's type ---------------------------


def _normalise_period(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Periods parsed (``2019-20`` -> ``2019/20``; unparseable kept; blank missing) and
    which values are bare years."""
    labels, uniques = pd.factorize(column, use_na_sentinel=True)
    parsed = [parse_period(u) for u in uniques]
    values = np.array(
        [p if p is not None else u for (p, _), u in zip(parsed, uniques, strict=True)] + [None],
        dtype=object,
    )
    bare = np.array([note == "bare year" for _, note in parsed] + [False])
    blank = np.array([key(u) == "" for u in uniques] + [True])
    values[blank] = None
    return pd.Series(values[labels], index=column.index, name=column.name), bare[labels]


def _normalise_text(column: pd.Series) -> pd.Series:
    """Text trimmed, inner white space single, blank as missing."""

    def tidy(uniques: pd.Series) -> pd.Series:
        text = uniques.astype(str).str.strip().str.replace(r"\s+", " ", regex=True)
        return text.astype(object).where(text != "", None)

    return by_distinct(column, tidy)


def _normalise_number(column: pd.Series) -> pd.Series:
    """Numbers with thousands separators parsed; not-stated spellings (``NA``...) missing."""
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(object).where(column.notna(), None)
    text = column.astype("string").str.strip().str.replace(",", "", regex=False)
    missing = text.isna() | map_distinct(text, key).isin(not_stated_keys())
    num = pd.to_numeric(text, errors="coerce")
    out = num.astype(object).where(num.notna(), column.astype(object))
    return out.where(~missing, None)


def _normalise_count(column: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """A count column as (value or raw text, suppressed flag, upper bound from ``<N``)."""
    if pd.api.types.is_numeric_dtype(column):
        suppressed = column.isna()
        return (
            column.astype(object).where(~suppressed, None),
            suppressed,
            pd.Series(pd.NA, index=column.index, dtype="Int64"),
        )
    text = column.astype("string").fillna("").str.strip()
    keys = map_distinct(text, key)
    less = text.str.extract(_LESS_THAN, expand=False)
    suppressed = keys.isin(suppression_markers()) | less.notna()
    upper = (pd.to_numeric(less, errors="coerce") - 1).astype("Int64")
    value = _normalise_number(text.where(~suppressed, ""))
    return value.where(~suppressed, None), suppressed.astype(bool), upper
