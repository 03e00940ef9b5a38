"""Raw records made contract codes: fine codes collapsed, age banded, identifiers dropped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from unmetneed.errors import Failure, OptionError, ValidationError
from unmetneed.extract.codemaps import _mapper, code_map, mapped_columns
from unmetneed.inputs.codes import (
    code_list,
    identifier_columns,
    key,
    map_distinct,
    not_stated_keys,
    parse_period,
)
from unmetneed.inputs.load import HEADER_LINES, check_frame, rename_columns
from unmetneed.inputs.readers import read_table
from unmetneed.inputs.schemas import contract

DOB_NAMES = frozenset({"date_of_birth", "dob", "birth_date", "birthdate"})
AGE_NAMES = frozenset({"age", "age_years", "age_at_period_end"})
ADULT_AGE = 18
OLDEST_AGE = 120
AGE_EDGES = (18, 25, 30, 35, 40, 45, 50, 55, 60, 65)
_MIDNIGHT = r"[ T]00:00(:00(\.0+)?)?$"


@dataclass(frozen=True)
class Prepared:
    """Raw records turned into contract codes, before any k-anonymity.

    ``frame`` holds the contract columns (normalised codes, flags as True/False/None) and
    keeps the input's 0-based row numbers as its index. ``dropped_rows`` counts rows left
    out before anonymising, by reason; ``dropped_columns`` names every input column not
    released, with why.
    """

    frame: pd.DataFrame
    dropped_rows: Mapping[str, int]
    dropped_columns: Mapping[str, str]
    notes: tuple[str, ...] = ()


def read_records(
    path: Path | str, *, columns: Mapping[str, str] | None = None, sheet: str | None = None
) -> tuple[pd.DataFrame, Path]:
    """A record file's rows (values as in the file) with ``NEW=OLD`` renames applied."""
    p = Path(path)
    raw = read_table(p, sheet)
    return _rename(raw, columns or {}, p), p


def _rename(raw: pd.DataFrame, columns: Mapping[str, str], path: Path) -> pd.DataFrame:
    """Contract renames (by key and ``NEW=OLD``), then date of birth and age by key."""
    contract_map = {new: old for new, old in columns.items() if new not in DOB_NAMES | AGE_NAMES}
    extra = {new: old for new, old in columns.items() if new in DOB_NAMES | AGE_NAMES}
    frame = rename_columns(raw, contract_map, contract("treatment"), path)
    for new, old in extra.items():
        if old not in frame.columns:
            raise OptionError("columns", f"{new}={old}", f"no column {old!r}", where=str(path))
        frame = frame.rename(columns={old: new})
    return frame


def prepare(frame: pd.DataFrame, *, path: Path | str = "records") -> Prepared:
    """Collapse fine codes, derive ``age_band``, drop identifiers, validate (exit 3 if bad).

    Rows under 18 at the period's end (not adult treatment) and rows with no date of
    birth or age are dropped and counted, never silently.
    """
    c = contract("treatment")
    failures: list[Failure] = []
    work = _collapse_codes(frame.reset_index(drop=True))  # row i is line i + 2
    if "age_band" not in work:
        age, age_failures = _age_at_period_end(work)
        failures += age_failures
        work = work.assign(age_band=_age_band(age))
        flagged = _flagged_rows(age_failures, work.index)
        under_18 = age.notna() & (age < ADULT_AGE)
        unknown = age.isna() & ~flagged
    else:
        under_18 = unknown = flagged = pd.Series(False, index=work.index)
    kept_columns = [s.name for s in c.columns if s.name in work]
    dropped_columns = _dropped_columns(frame.columns, kept_columns)
    keep = ~(under_18 | unknown | flagged)
    normalised, notes, more = check_frame(work.loc[keep, kept_columns], c, path)
    failures += more
    if failures:
        raise ValidationError(path, "treatment", sorted(set(failures), key=_failure_order))
    dropped = {
        "under 18 at the period's end": int(under_18.sum()),
        "no date of birth or age": int(unknown.sum()),
    }
    return Prepared(normalised, dropped, dropped_columns, tuple(notes))


def _failure_order(f: Failure) -> tuple[int, str]:
    return (f.line or 0, f.column)


def _flagged_rows(failures: list[Failure], index: pd.Index) -> pd.Series:
    lines = {f.line for f in failures}
    return pd.Series((index + HEADER_LINES + 1).isin(lines), index=index)


def _dropped_columns(columns: pd.Index, kept: Sequence[str]) -> dict[str, str]:
    """Every input column not released, with the reason (identifier or not in the contract)."""
    ids = identifier_columns()
    out: dict[str, str] = {}
    for col in map(str, columns):
        if col in kept:
            continue
        if key(col) in ids:
            out[col] = "direct identifier"
        elif key(col) in AGE_NAMES:
            out[col] = "single year of age (released as age_band)"
        else:
            out[col] = "not a column of the treatment extract"
    return out


def _collapse_codes(frame: pd.DataFrame) -> pd.DataFrame:
    """Fine codes mapped to contract codes by ``codemaps.yaml`` (other values unchanged)."""
    out = frame.copy()
    for column in mapped_columns():
        if column in out:
            cmap = code_map(column)
            out[column] = map_distinct(out[column], _mapper(cmap))
    return out


def period_end(period: str) -> tuple[int, int, int]:
    """(year, month, day) a period ends: 31 March for a year, the quarter's last day.

    >>> period_end("2023/24")
    (2024, 3, 31)
    >>> period_end("2024/25 Q2")
    (2024, 9, 30)
    """
    start = int(period[:4])
    quarter = period.rsplit("Q", 1)[1] if " Q" in period else "4"
    return {
        "1": (start, 6, 30),
        "2": (start, 9, 30),
        "3": (start, 12, 31),
        "4": (start + 1, 3, 31),
    }[quarter]


def _find(frame: pd.DataFrame, names: frozenset[str]) -> str | None:
    return next((str(c) for c in frame.columns if key(c) in names), None)


def _age_at_period_end(frame: pd.DataFrame) -> tuple[pd.Series, list[Failure]]:
    """Age in whole years at the period's end (float, NaN where unknown) and failures.

    From a date-of-birth column when there is one, else from an ``age`` column (read as
    the age at the period's end). Neither: a failure naming both.
    """
    dob_col, age_col = _find(frame, DOB_NAMES), _find(frame, AGE_NAMES)
    if dob_col is None and age_col is None:
        missing = Failure(None, "age_band", "", "required: give age_band, date_of_birth or age")
        return pd.Series(np.nan, index=frame.index), [missing]
    if dob_col is not None:
        return _age_from_dob(frame, dob_col)
    assert age_col is not None
    return _age_from_column(frame[age_col], age_col)


def _text_or_missing(values: pd.Series) -> pd.Series:
    """Trimmed text, missing where blank or a not-stated spelling (``NA``, ``Unknown``...)."""
    text = values.astype("string").str.strip()
    return text.mask(map_distinct(text, key).isin(not_stated_keys()).to_numpy())


def _end_year(period: object) -> int | None:
    """The calendar year a period ends in (``2024/25`` -> 2025), or None."""
    end = _end_or_none(period)
    return None if end is None else end[0]


def _end_month_day(period: object) -> int | None:
    """A period's last day as month x 100 + day (``2024/25`` -> 331), or None."""
    end = _end_or_none(period)
    return None if end is None else end[1] * 100 + end[2]


def _age_from_dob(frame: pd.DataFrame, dob_col: str) -> tuple[pd.Series, list[Failure]]:
    text = _text_or_missing(frame[dob_col])
    day = text.str.replace(_MIDNIGHT, "", regex=True)  # Excel and SPSS date-times
    dob = pd.to_datetime(day, format="%Y-%m-%d", errors="coerce")
    uk = pd.to_datetime(day.where(dob.isna()), format="%d/%m/%Y", errors="coerce")
    dob = dob.fillna(uk)
    bad = text.notna() & dob.isna()
    failures = _failures(text, bad, dob_col, "not a date (yyyy-mm-dd or dd/mm/yyyy)")
    if "period" not in frame:
        return pd.Series(np.nan, index=frame.index), failures
    end_year = pd.to_numeric(map_distinct(frame["period"], _end_year), errors="coerce")
    end_md = pd.to_numeric(map_distinct(frame["period"], _end_month_day), errors="coerce")
    dob_md = dob.dt.month * 100 + dob.dt.day
    age = end_year - dob.dt.year - (end_md < dob_md).astype(float)
    age = age.where(dob.notna() & end_year.notna())
    failures += _failures(text, age < 0, dob_col, "date of birth after the period's end")
    failures += _failures(text, age > OLDEST_AGE, dob_col, f"an age over {OLDEST_AGE}")
    return age.where((age >= 0) & (age <= OLDEST_AGE)), failures


def _end_or_none(value: object) -> tuple[int, int, int] | None:
    period, _note = parse_period(value)
    return period_end(period) if period else None


def _age_from_column(values: pd.Series, name: str) -> tuple[pd.Series, list[Failure]]:
    text = _text_or_missing(values)
    age = pd.to_numeric(text, errors="coerce")
    bad = text.notna() & ~(age.notna() & (age % 1 == 0) & (age >= 0) & (age <= OLDEST_AGE))
    failures = _failures(text, bad, name, f"not a whole number of years 0-{OLDEST_AGE}")
    return age.where(~bad).astype(float), failures


def _failures(text: pd.Series, bad: pd.Series, column: str, rule: str) -> list[Failure]:
    rows = bad.fillna(False).astype(bool)
    positions = np.flatnonzero(rows.to_numpy()).tolist()
    return [
        Failure(int(text.index[p]) + HEADER_LINES + 1, column, str(text.iloc[p]), rule)
        for p in positions
    ]


def _age_band(age: pd.Series) -> pd.Series:
    """Contract age bands (``18-24``, ``25-29`` ... ``65+``); None under 18 or unknown.

    >>> _age_band(pd.Series([17.0, 18.0, 24.0, 25.0, 64.0, 65.0, np.nan])).tolist()
    [None, '18-24', '18-24', '25-29', '60-64', '65+', None]
    """
    labels = np.array(list(code_list("age_band").codes) + [None], dtype=object)
    position = np.searchsorted(np.array(AGE_EDGES), age.fillna(-1).to_numpy(), side="right") - 1
    position = np.where((position < 0) | age.isna().to_numpy(), len(labels) - 1, position)
    return pd.Series(labels[position], index=age.index, dtype=object)
