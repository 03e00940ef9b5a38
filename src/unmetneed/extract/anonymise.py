"""k-anonymising a record-level treatment extract, with a report of what was lost.

The input is one row per person, possibly still carrying direct identifiers and finer codes
(date of birth, NDTMS ethnicity letters, full religion and sexuality lists). The output is
a treatment extract (CONTRACT.md section 2.1) in which every combination of the
quasi-identifier columns occurs at least K times.

**What "occurs" means.** Groups are formed on the published values exactly as they stand:
``not_stated`` (or a blank flag) is a value like any other, so a group whose ethnicity is
``not_stated`` must also hold K or more rows. No value is read as a wildcard, so the
property can be checked by anyone with one group-by on the released file
(:func:`smallest_group`).

**How loss is kept small.** Only rows in groups smaller than K are ever touched; rows in
groups of K or more are released unchanged. Keeping rows comes first (a removed row is
missing from every count an analyst makes; a suppressed value only from breakdowns by
that column), then suppressing the fewest values. Small groups lose single values (set
to ``not_stated``), in this order, repeated to a fixpoint:

1. *merge*: each small group suppresses the one column that moves it into a group that
   already has K or more rows; where several columns would do, it gives up its most
   common category (e.g. ``white`` before ``muslim``), so rare groups keep their identity;
2. *pool*: small groups that differ only in one column are pooled by suppressing that
   column where the pool reaches K (the column fixing the most rows first), then in
   two columns at once where one is not enough;
3. *step*: groups that nothing above can fix suppress the column with the largest
   potential pool, which moves them towards the all-not-stated group of their area and
   age band;
4. *donate*: a group still short of K there is made up to K by fully suppressing rows
   of groups larger than K in the same area and age band (which keep K), cheapest
   first; only where that is impossible are rows removed.

Afterwards, suppressed values are given back wherever the table stays k-anonymous.
Columns without a ``not_stated`` code (``area``, ``age_band``, ``drug_group``) are never
suppressed. The result is compared with the plain rule "delete every group smaller than
K", and that rule is used instead if it would keep more rows or values (it cannot: only
rows it would delete lose anything, but the check is made on every run). Everything is
deterministic and independent of the input's row order: integer codes numbered in sorted
order, first-column tie-breaks, no randomness.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from unmetneed.counting import row_groups
from unmetneed.errors import Failure, UsageError, ValidationError
from unmetneed.inputs.codes import (
    NOT_STATED,
    code_list,
    identifier_columns,
    key,
    map_distinct,
    not_stated_keys,
    parse_period,
    schema_dir,
)
from unmetneed.inputs.load import HEADER_LINES, check_frame, rename_columns, type_frame
from unmetneed.inputs.readers import read_table
from unmetneed.inputs.schemas import contract

DEFAULT_QUASI = ("area", "age_band", "sex", "ethnicity", "sexuality", "religion", "nationality")
DOB_NAMES = frozenset({"date_of_birth", "dob", "birth_date", "birthdate"})
AGE_NAMES = frozenset({"age", "age_years", "age_at_period_end"})
ADULT_AGE = 18
OLDEST_AGE = 120
AGE_EDGES = (18, 25, 30, 35, 40, 45, 50, 55, 60, 65)
MAX_POOL_WIDTH = 2  # columns suppressed together when pooling; wider goes step by step
Method = Literal["local", "rows"]
_MIDNIGHT = r"[ T]00:00(:00(\.0+)?)?$"


# --------------------------------------------------------------------------- code maps


@dataclass(frozen=True)
class Alternative:
    """A coarser collapsing of one column's contract codes, compared by ``--plan``."""

    column: str
    name: str
    description: str
    mapping: Mapping[str, str]


@cache
def _codemaps_raw() -> dict[str, Any]:
    with open(schema_dir() / "codemaps.yaml", encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


@cache
def code_map(column: str) -> dict[str, str]:
    """The fine-code map of one column: matching key of a spelling -> contract code.

    >>> code_map("ethnicity")["r"]
    'other'
    """
    entries = _codemaps_raw()["maps"].get(column) or {}
    codes = code_list(column).codes
    out: dict[str, str] = {}
    for code, spellings in entries.items():
        if code not in codes:
            raise ValueError(f"codemaps.yaml {column}: {code!r} is not a code of {column}")
        for spelling in spellings:
            out[key(spelling)] = str(code)
    return out


def mapped_columns() -> tuple[str, ...]:
    """Columns that ``schemas/codemaps.yaml`` gives a fine-code map for."""
    return tuple(_codemaps_raw()["maps"])


@cache
def alternatives() -> tuple[Alternative, ...]:
    """Every alternative collapsing in ``schemas/codemaps.yaml``, in the file's order."""
    out = []
    for column, options in (_codemaps_raw().get("alternatives") or {}).items():
        for name, spec in options.items():
            mapping = {str(k): str(v) for k, v in spec["map"].items()}
            missing = set(code_list(column).codes) - set(mapping)
            if missing:
                raise ValueError(f"codemaps.yaml {column} {name}: no mapping for {sorted(missing)}")
            out.append(Alternative(column, str(name), str(spec.get("description", "")), mapping))
    return tuple(out)


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class AnonymiseOptions:
    """What to anonymise and how.

    ``k``: every quasi-identifier combination in the output has at least ``k`` rows
    (0 or 1: no k-anonymity, identifiers are still removed). ``quasi``: the
    quasi-identifier columns (``None``: the default list, less optional columns absent
    from the input). ``method``: ``local`` (suppress single values first, then rows) or
    ``rows`` (delete every group smaller than ``k``, the plain K-rule). ``suppress_first``:
    columns whose values are given up before any other's (default: none, so the most
    common category in a group goes first).
    """

    k: int = 3
    quasi: tuple[str, ...] | None = None
    method: Method = "local"
    suppress_first: tuple[str, ...] = ()


# --------------------------------------------------------------------------- preparing


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
            raise UsageError(f"{path}: --column {new}={old}: no column {old!r}")
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


def _mapper(cmap: Mapping[str, str], *, by_key: bool = True) -> Callable[[object], object]:
    """A function mapping one value (by its matching key, or exactly) to its code by
    ``cmap``, or leaving it as it was."""

    def one(value: object) -> object:
        return cmap.get(key(value) if by_key else str(value), value)

    return one


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


# --------------------------------------------------------------------------- quasi columns


def resolve_quasi(frame: pd.DataFrame, quasi: tuple[str, ...] | None) -> tuple[str, ...]:
    """The quasi-identifier columns to protect; a named column that is absent is an error.

    The default list silently skips optional columns the input does not have.
    """
    c = contract("treatment")
    if quasi is None:
        return tuple(q for q in DEFAULT_QUASI if q in frame)
    names = tuple(dict.fromkeys("age_band" if q == "age" else q for q in quasi))
    for name in names:
        if name not in c.names:
            raise UsageError(
                f"--quasi {name}: not a treatment extract column; use one of {', '.join(c.names)}"
            )
        if name not in frame:
            raise UsageError(f"--quasi {name}: the records have no {name} column")
    return names


def suppressible(column: str) -> bool:
    """Whether a column's value can be set to not stated (codes with ``not_stated``, flags)."""
    spec = contract("treatment").column(column)
    if spec.type == "flag":
        return True
    return spec.type == "code" and NOT_STATED in code_list(str(spec.codes)).codes


@dataclass(frozen=True)
class Encoded:
    """Quasi-identifier columns as integer codes (rows x columns) for fast group-bys.

    ``ns[j]`` is the code that means not stated in column ``j``, or ``-1`` where the
    column cannot be suppressed. ``score[r, j]`` ranks how willingly row ``r`` gives up
    its value in column ``j``: the number of rows sharing that value (plus a bonus for
    ``suppress_first`` columns). ``width`` is the number of values a released row carries
    (all its columns, not only the quasi-identifiers): what keeping a row is worth.
    ``origin`` numbers each row's whole content (every column): rows equal in it are
    interchangeable, so ties are broken on it and never on row order.
    """

    codes: np.ndarray
    ns: tuple[int, ...]
    score: np.ndarray
    width: int
    origin: np.ndarray


def encode(
    frame: pd.DataFrame, quasi: Sequence[str], suppress_first: Sequence[str] = ()
) -> Encoded:
    """Integer codes of the quasi columns, not-stated codes and suppression scores.

    The row width is the frame's number of columns (at least the quasi columns).
    """
    n = len(frame)
    codes = np.zeros((n, len(quasi)), dtype=np.int64)
    score = np.zeros((n, len(quasi)), dtype=np.int64)
    ns: list[int] = []
    for j, name in enumerate(quasi):
        values = _category_labels(frame[name])
        labels, uniques = pd.factorize(values, sort=True)
        ns_code = (
            int(np.flatnonzero(uniques == NOT_STATED)[0])
            if NOT_STATED in set(uniques)
            else len(uniques)
        )
        codes[:, j] = labels
        ns.append(ns_code if suppressible(name) else -1)
        bonus = (
            (len(suppress_first) - list(suppress_first).index(name)) * (n + 1)
            if name in suppress_first
            else 0
        )
        score[:, j] = np.bincount(labels, minlength=len(uniques))[labels] + bonus
    return Encoded(codes, tuple(ns), score, max(frame.shape[1], len(quasi)), _origin(frame))


def _origin(frame: pd.DataFrame) -> np.ndarray:
    """A number per row for its whole content, independent of row order."""
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.int64)
    columns = [pd.factorize(_category_labels(frame[name]), sort=True)[0] for name in frame.columns]
    return row_groups(np.column_stack(columns).astype(np.int64))


# --------------------------------------------------------------------------- the core


def _sizes(ids: np.ndarray, active: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per row: the number (or weighted count) of active rows sharing its id."""
    w = active if weights is None else np.where(active, weights, 0)
    result: np.ndarray = np.bincount(
        ids, weights=w.astype(np.int64), minlength=int(ids.max(initial=-1)) + 1
    )[ids]
    return result


def small_rows(codes: np.ndarray, active: np.ndarray, k: int) -> np.ndarray:
    """Active rows whose quasi combination has fewer than ``k`` active rows."""
    if codes.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return active & (_sizes(row_groups(codes), active) < k)


def _block(codes: np.ndarray, j: int) -> np.ndarray:
    """Group ids over every column but ``j``: rows that differ at most in column ``j``."""
    return row_groups(codes, skip=(j,))


@dataclass
class _State:
    """The solver's working copy: current codes and which rows are removed.

    ``origin`` numbers each row's whole original content (see :class:`Encoded`).
    """

    codes: np.ndarray
    removed: np.ndarray
    ns: tuple[int, ...]
    score: np.ndarray
    k: int
    origin: np.ndarray
    width: int

    @property
    def active(self) -> np.ndarray:
        return ~self.removed

    def movable(self) -> list[int]:
        return [j for j, code in enumerate(self.ns) if code >= 0]

    def suppress(self, rows: np.ndarray, j: int) -> int:
        self.codes[rows, j] = self.ns[j]
        return int(rows.sum())


def _choose(candidates: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether any column is a candidate, and the candidate of highest priority.

    Ties go to the first column (``argmax`` takes the first maximum), so it is deterministic.
    """
    masked = np.where(candidates, priority, -1)
    return np.asarray(candidates.any(axis=1)), np.asarray(masked.argmax(axis=1))


def _merge(state: _State, small: np.ndarray) -> int:
    """Move each small group into an existing group of >= k by suppressing one column.

    The target already holds k rows and only gains rows, so every move is final.
    Returns the number of cells suppressed.
    """
    cand = np.zeros_like(state.codes, dtype=bool)
    for j in state.movable():
        is_ns = state.codes[:, j] == state.ns[j]
        target = _sizes(_block(state.codes, j), state.active, is_ns)
        cand[:, j] = small & ~is_ns & (target >= state.k)
    any_cand, best = _choose(cand, state.score)
    return sum(state.suppress(any_cand & (best == j), j) for j in state.movable())


def _pools(state: _State, small: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows that suppressing column ``j`` could move, and the pool each would land in.

    The pool of a block is its small rows whose ``j`` is stated plus its rows whose ``j``
    is already not stated: the size of the group they all form once ``j`` is suppressed.
    """
    is_ns = state.codes[:, j] == state.ns[j]
    movers = small & ~is_ns
    pool = _sizes(_block(state.codes, j), state.active, movers | is_ns)
    return movers, pool


def _pool(state: _State, small: np.ndarray) -> int:
    """Suppress, in the one column that fixes the most rows, every pool that reaches k."""
    best_j, best_rows, best_score = -1, np.zeros(0, dtype=bool), (0, 0)
    for j in state.movable():
        movers, pool = _pools(state, small, j)
        fixed = movers & (pool >= state.k)
        rank = (int(fixed.sum()), int(state.score[fixed, j].sum()))
        if rank > best_score:
            best_j, best_rows, best_score = j, fixed, rank
    return state.suppress(best_rows, best_j) if best_j >= 0 else 0


def _pool_wide(state: _State, small: np.ndarray) -> int:
    """Pool small rows by suppressing 2 (then 3) columns at once, where one is not enough.

    For each set of columns, the block is the rows alike in every other column; its
    small rows, with those columns all set to not stated, join the block's rows that
    have them all not stated already. The narrowest set that fixes any row wins; among
    sets of one width, the one fixing the most rows, then costing the fewest cells.
    """
    movable = state.movable()
    for width in range(2, min(len(movable), MAX_POOL_WIDTH) + 1):
        best: tuple[int, int] = (0, 0)
        best_cols: tuple[int, ...] = ()
        best_rows = np.zeros(0, dtype=bool)
        for cols in combinations(movable, width):
            stated = state.codes[:, cols] != np.array([state.ns[j] for j in cols])
            movers = small & stated.any(axis=1)
            block = row_groups(state.codes, skip=cols)
            fixed = movers & (_sizes(block, state.active, movers | ~stated.any(axis=1)) >= state.k)
            rank = (int(fixed.sum()), -int(stated[fixed].sum()))
            if rank[0] > 0 and rank > best:
                best, best_cols, best_rows = rank, cols, fixed
        if best_cols:
            return sum(
                state.suppress(best_rows & (state.codes[:, j] != state.ns[j]), j) for j in best_cols
            )
    return 0


def _step(state: _State, small: np.ndarray) -> int:
    """Suppress one more column of each stuck small group, towards the largest pool."""
    cand = np.zeros_like(state.codes, dtype=bool)
    priority = np.zeros_like(state.codes)
    for j in state.movable():
        movers, pool = _pools(state, small, j)
        cand[:, j] = movers
        priority[:, j] = pool * (int(state.score.max(initial=0)) + 1) + state.score[:, j]
    any_cand, best = _choose(cand, priority)
    return sum(state.suppress(any_cand & (best == j), j) for j in state.movable())


@dataclass(frozen=True)
class Solution:
    """Which cells were suppressed and which rows removed, and how it was decided.

    ``suppressed`` is rows x quasi columns (True: the value was set to not stated);
    ``removed`` is per row. ``method`` is what was used (``local`` or ``rows``);
    ``fell_back`` is True when local suppression lost more than deleting small groups.
    ``width`` is the number of values a released row carries.
    """

    suppressed: np.ndarray
    removed: np.ndarray
    method: Method
    width: int
    fell_back: bool = False

    @property
    def rows_kept(self) -> int:
        """Rows released."""
        return int((~self.removed).sum())

    @property
    def values_kept(self) -> int:
        """Values released as they were: kept rows x width, less the suppressed cells."""
        kept = ~self.removed
        return int(kept.sum()) * self.width - int(self.suppressed[kept].sum())


def delete_small_groups(enc: Encoded, k: int) -> Solution:
    """The plain K-rule: remove every row whose combination has fewer than ``k`` rows."""
    removed = small_rows(enc.codes, np.ones(enc.codes.shape[0], dtype=bool), k)
    return Solution(np.zeros_like(enc.codes, dtype=bool), removed, "rows", enc.width)


def local_suppression(enc: Encoded, k: int) -> Solution:
    """Suppress single values to reach k-anonymity, removing rows only where that fails.

    Each pass either suppresses at least one cell (a row's not-stated count only grows,
    so there are at most rows x columns of them) or removes rows, so it ends.
    """
    removed = np.zeros(enc.codes.shape[0], dtype=bool)
    state = _State(enc.codes.copy(), removed, enc.ns, enc.score, k, enc.origin, enc.width)
    while True:
        small = small_rows(state.codes, state.active, k)
        if not small.any():
            break
        if _merge(state, small) or _pool(state, small) or _pool_wide(state, small):
            continue
        if _step(state, small):
            continue
        state.removed |= small & ~_donate(state, small)
    _restore(state, enc.codes)
    suppressed = (state.codes != enc.codes) & ~state.removed[:, None]
    return Solution(suppressed, state.removed, "local", enc.width)


def _donate(state: _State, small: np.ndarray) -> np.ndarray:
    """Rescue stranded rows by suppressing every value of a few rows from large groups.

    Called when no small row has a value left to suppress: each sits in its fixed block's
    all-not-stated group, which is short of k. The shortfall is made up by rows of the
    same block whose own group has more than k rows (so it keeps k), cheapest first
    (fewest values still stated); they join the all-not-stated group. A block that cannot
    make up its shortfall, or only by suppressing more values than its rescued rows
    carry, is left alone (its small rows are then removed). Returns the rescued rows.
    """
    movable = state.movable()
    ns = np.array([state.ns[j] for j in movable])
    stated = (state.codes[:, movable] != ns).sum(axis=1)
    blocks, ids = row_groups(state.codes, skip=movable), row_groups(state.codes)
    need = state.k - _sizes(blocks, state.active, stated == 0)
    stranded = _sizes(blocks, state.active, small) > 0
    donors = state.active & stranded & (stated > 0) & (_sizes(ids, state.active) > state.k)
    surplus = _sizes(ids, state.active) - state.k
    donors &= _rank_within(ids, donors, stated, state.origin) < surplus
    tie = row_groups(np.column_stack([ids, state.origin]))
    take = donors & (_rank_within(blocks, donors, stated, tie) < need)
    enough = _sizes(blocks, state.active, take) >= need
    gain = _sizes(blocks, state.active, small) * (state.width - len(movable))
    enough &= _sizes(blocks, state.active, np.where(take, stated, 0)) <= gain
    take &= enough
    for pos, j in enumerate(movable):
        state.codes[take, j] = ns[pos]
    return small & enough


def _restore(state: _State, original: np.ndarray) -> None:
    """Give values back where the table stays k-anonymous, until none can be.

    A suppressed value is restored only when the row's group with the value back already
    holds k rows that stay (it only gains), and its current group keeps k rows: at most
    (size - k) rows leave a group in one go, the rarest categories first. Each restore
    removes one suppressed cell, so it ends.
    """
    restored = True
    while restored:
        restored = False
        for j in state.movable():
            cand = state.active & (state.codes[:, j] != original[:, j])
            if not cand.any():
                continue
            ids = row_groups(state.codes)
            trial = state.codes.copy()
            trial[cand, j] = original[cand, j]
            target_ids = row_groups(trial)
            ok = cand & (_sizes(target_ids, state.active & ~cand) >= state.k)
            leave = ok & (
                _rank_within(ids, ok, state.score[:, j], state.origin)
                < _sizes(ids, state.active) - state.k
            )
            if leave.any():
                state.codes[leave, j] = original[leave, j]
                restored = True


def _rank_within(
    ids: np.ndarray, rows: np.ndarray, score: np.ndarray, tie: np.ndarray
) -> np.ndarray:
    """Per row in ``rows``: its 0-based rank within its id, by (score, tie) ascending.

    Rows outside ``rows`` get a rank past any size. Rows equal in id, score and tie are
    interchangeable, so which of them comes first does not change the released table.
    """
    n = len(ids)
    rank = np.full(n, n + 1, dtype=np.int64)
    picked = np.flatnonzero(rows)
    order = picked[np.lexsort((tie[picked], score[picked], ids[picked]))]
    sorted_ids = ids[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_ids)) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank[order] = np.arange(len(order)) - first
    return rank


def solve(enc: Encoded, k: int, method: Method = "local") -> Solution:
    """k-anonymity by ``method``; local suppression falls back to the plain K-rule if that
    would keep more rows or more values (checked every time)."""
    baseline = delete_small_groups(enc, k)
    if method == "rows" or k <= 1:
        return baseline
    local = local_suppression(enc, k)
    if local.rows_kept < baseline.rows_kept or local.values_kept < baseline.values_kept:
        return replace(baseline, fell_back=True)
    return local


def smallest_group(frame: pd.DataFrame, quasi: Sequence[str]) -> int:
    """The size of the smallest quasi-identifier group of a frame (0 for no rows).

    Groups are formed on the values as they stand, not-stated (blank) being a value.
    """
    if frame.empty:
        return 0
    if not quasi:
        return len(frame)
    sizes = frame.groupby(list(quasi), observed=True, dropna=False, sort=False).size()
    return int(sizes.min())


# --------------------------------------------------------------------------- the loss


@dataclass(frozen=True)
class Loss:
    """What anonymising cost.

    ``facts``: (what, value) lines for the terminal. ``by_group``: one row per quasi
    column x category (plus ``all``), with ``rows`` (rows of that category going into
    k-anonymity: the denominator), ``rows_lost_value`` (kept rows with at least one
    value suppressed, in any column), ``rows_removed``, ``values_suppressed`` (cells of
    this column and category set to not stated) and ``pct_affected`` (100 x (lost a value
    + removed) / rows), largest share first.
    """

    facts: tuple[tuple[str, str], ...]
    by_group: pd.DataFrame
    baseline_rows_removed: int
    dropped_rows: Mapping[str, int] = field(default_factory=dict)

    def lines(self, limit: int | None = None) -> list[str]:
        """The by-group table in words, e.g. ``ethnicity=black: 1 of 4 rows lost a value,
        0 rows removed``, largest share first."""
        rows = self.by_group[self.by_group["variable"] != "all"]
        return [
            f"{r.variable}={r.category}: {r.rows_lost_value:,} of {r.rows:,} rows lost a value, "
            f"{r.rows_removed:,} row{'s' if r.rows_removed != 1 else ''} removed"
            for r in (rows if limit is None else rows.head(limit)).itertuples(index=False)
        ]


def _label(value: object) -> object:
    """One distinct value as a report label: flags as yes/no."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    return value


def _category_labels(values: pd.Series) -> pd.Series:
    """Values as report labels: flags as yes/no, missing as not_stated (per distinct value)."""
    text = map_distinct(values, _label)
    return text.astype(object).where(values.notna(), NOT_STATED).astype(str)


def loss_by_group(frame: pd.DataFrame, quasi: Sequence[str], sol: Solution) -> pd.DataFrame:
    """Rows and values lost per quasi column x category, largest share first (see :class:`Loss`)."""
    lost_value = sol.suppressed.any(axis=1) & ~sol.removed
    parts = [_overall(sol, lost_value)]
    for j, name in enumerate(quasi):
        per_row = pd.DataFrame(
            {
                "category": _category_labels(frame[name]).to_numpy(),
                "rows": 1,
                "rows_lost_value": lost_value.astype(int),
                "rows_removed": sol.removed.astype(int),
                "values_suppressed": sol.suppressed[:, j].astype(int),
            }
        )
        summed = per_row.groupby("category", sort=True).sum().reset_index()
        parts.append(summed.assign(variable=name))
    table = pd.concat(parts, ignore_index=True)
    table["pct_affected"] = (
        100.0 * (table["rows_lost_value"] + table["rows_removed"]) / table["rows"]
    ).round(1)
    order = table.assign(first=table["variable"] != "all").sort_values(
        ["first", "pct_affected", "rows"], ascending=[True, False, False], kind="mergesort"
    )
    columns = [
        "variable",
        "category",
        "rows",
        "rows_lost_value",
        "rows_removed",
        "values_suppressed",
        "pct_affected",
    ]
    return order[columns].reset_index(drop=True)


def _overall(sol: Solution, lost_value: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variable": ["all"],
            "category": ["all"],
            "rows": [len(sol.removed)],
            "rows_lost_value": [int(lost_value.sum())],
            "rows_removed": [int(sol.removed.sum())],
            "values_suppressed": [int(sol.suppressed.sum())],
        }
    )


def _facts(
    prep: Prepared, quasi: Sequence[str], sol: Solution, baseline: Solution, k: int
) -> tuple[tuple[str, str], ...]:
    n = len(sol.removed)
    lost = int((sol.suppressed.any(axis=1) & ~sol.removed).sum())
    facts = [("rows read", f"{n + sum(prep.dropped_rows.values()):,}")]
    facts += [
        (f"rows dropped: {why}", f"{count:,}") for why, count in prep.dropped_rows.items() if count
    ]
    facts += [
        (
            "columns not released",
            ", ".join(f"{c} ({why})" for c, why in prep.dropped_columns.items()) or "none",
        ),
        ("k", str(k)),
        ("quasi-identifiers", ", ".join(quasi)),
        (
            "method",
            sol.method + (" (fell back: local suppression lost more)" if sol.fell_back else ""),
        ),
        ("rows released", f"{sol.rows_kept:,} of {n:,} ({_pct(sol.rows_kept, n)})"),
        ("rows released unchanged", f"{sol.rows_kept - lost:,} ({_pct(sol.rows_kept - lost, n)})"),
        ("rows with a value suppressed", f"{lost:,} ({_pct(lost, n)})"),
        ("rows removed", f"{int(sol.removed.sum()):,} ({_pct(int(sol.removed.sum()), n)})"),
        ("values suppressed (set to not_stated)", f"{int(sol.suppressed.sum()):,}"),
        (
            "deleting every group smaller than k would remove",
            f"{int(baseline.removed.sum()):,} rows ({_pct(int(baseline.removed.sum()), n)})",
        ),
    ]
    return tuple(facts)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


# --------------------------------------------------------------------------- the whole step


@dataclass(frozen=True)
class Anonymised:
    """The released extract (typed, sorted, identifiers gone) and what it cost.

    ``notes`` are what loading noticed and fixed (bare years, placeholder area codes).
    """

    extract: pd.DataFrame
    loss: Loss
    quasi: tuple[str, ...]
    k: int
    solution: Solution
    notes: tuple[str, ...] = ()

    def meta(self) -> dict[str, Any]:
        """What the extract was made with, for the file's metadata (no paths, no times)."""
        from unmetneed.version import tool_version

        return {
            "tool": "unmetneed",
            "version": tool_version(),
            "anonymise": {
                "k": self.k,
                "quasi": list(self.quasi),
                "method": self.solution.method,
                "fell_back": self.solution.fell_back,
                "not_stated_semantics": "a value of its own: not_stated groups also hold k+ rows",
                "rows_released": self.solution.rows_kept,
                "rows_removed": int(self.solution.removed.sum()),
                "values_suppressed": int(self.solution.suppressed.sum()),
                "dropped_rows": dict(self.loss.dropped_rows),
            },
        }


def anonymise(
    records: pd.DataFrame,
    options: AnonymiseOptions | None = None,
    *,
    path: Path | str = "records",
) -> Anonymised:
    """Drop identifiers, collapse codes, k-anonymise, and report the loss.

    ``records`` holds one row per person with contract column names (rename first with
    :func:`read_records`); it is not changed. Raises :class:`ValidationError` for bad
    values and :class:`UsageError` for bad options.
    """
    opts = options or AnonymiseOptions()
    _check_options(opts)
    prep = prepare(records, path=path)
    quasi = resolve_quasi(prep.frame, opts.quasi)
    enc = encode(prep.frame, quasi, opts.suppress_first)
    sol = solve(enc, opts.k, opts.method)
    extract = _release(prep.frame, quasi, sol)
    if opts.k > 1 and not extract.empty and smallest_group(extract, quasi) < opts.k:
        raise RuntimeError("bug: the released extract is not k-anonymous")  # never expected
    baseline = delete_small_groups(enc, opts.k)
    loss = Loss(
        _facts(prep, quasi, sol, baseline, opts.k),
        loss_by_group(prep.frame, quasi, sol),
        int(baseline.removed.sum()),
        dict(prep.dropped_rows),
    )
    return Anonymised(extract, loss, quasi, opts.k, sol, prep.notes)


def _check_options(opts: AnonymiseOptions) -> None:
    if opts.k < 0:
        raise UsageError(f"--k {opts.k}: use a whole number >= 0 (3 is the K3 rule)")
    if opts.method not in ("local", "rows"):
        raise UsageError(f"method {opts.method!r}: use local or rows")
    for name in opts.suppress_first:
        if name not in contract("treatment").names:
            raise UsageError(f"suppress_first {name!r}: not a treatment extract column")


def _release(frame: pd.DataFrame, quasi: Sequence[str], sol: Solution) -> pd.DataFrame:
    """The kept rows with suppressed cells set to not stated, typed and sorted.

    Sorted on every column (stable) so row order says nothing about the input's order.
    """
    out = frame.copy()
    c = contract("treatment")
    for j, name in enumerate(quasi):
        cells = sol.suppressed[:, j]
        if cells.any():
            blank = None if c.column(name).type == "flag" else NOT_STATED
            out[name] = out[name].astype(object).where(~cells, blank)
    kept = out.loc[~sol.removed]
    typed = type_frame(kept, c)
    typed = typed[[s.name for s in c.columns if s.name in typed]]
    return typed.sort_values(list(typed.columns), kind="mergesort", na_position="last").reset_index(
        drop=True
    )


# --------------------------------------------------------------------------- planning


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
