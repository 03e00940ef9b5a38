"""The code lists and the spellings each code accepts, read from ``schemas/codes.yaml``.

Normalisation works on the distinct values of a column (``pandas.factorize``), never row by
row, so a column of millions of rows with a handful of spellings costs a handful of look-ups.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

NOT_STATED = "not_stated"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser where installed
_KEY_RE = re.compile(r"[^a-z0-9+]+")
_YEAR_RE = re.compile(r"^(?:fy)?(\d{4})(?:[/_-]?(\d{2}|\d{4}))?(?:_?q([1-4]))?$")


def schema_dir() -> Path:
    """The folder holding the data contracts: in the installed wheel, else the source tree."""
    packaged = resources.files("unmetneed") / "_schemas"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "schemas"


def key(value: object) -> str:
    """Matching key of a spelling: lower case, trimmed, non-alphanumeric runs as ``_``.

    >>> key(" Non-opiates only ")
    'non_opiates_only'
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return _KEY_RE.sub("_", str(value).strip().lower()).strip("_")


@dataclass(frozen=True)
class CodeList:
    """One code list: the codes in their fixed order and a spelling -> code look-up."""

    name: str
    codes: tuple[str, ...]
    spellings: dict[str, str | None]

    def lookup(self, value: object) -> str | None | Any:
        """The code for one spelling, ``None`` for not stated/missing, or ``_UNKNOWN``."""
        return self.spellings.get(key(value), _UNKNOWN)


_UNKNOWN = object()


@cache
def _raw() -> dict[str, Any]:
    with open(schema_dir() / "codes.yaml", encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=_LOADER)
    return data


def not_stated_keys() -> frozenset[str]:
    """Keys of the spellings that mean "not stated" (blank, ``Missing``, ``NA``...)."""
    return frozenset(key(s) for s in _raw()["not_stated"])


def by_distinct(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """A vectorised ``fn`` run on the distinct non-missing values only, spread back to the
    rows (missing rows give missing): string work costs one pass per distinct value."""
    labels, uniques = pd.factorize(values, use_na_sentinel=True)
    result = np.asarray(fn(pd.Series(uniques, dtype=object)), dtype=object)
    spread = np.append(result, np.array([None], dtype=object))[labels]
    return pd.Series(spread, index=values.index, name=values.name)


def map_distinct(values: pd.Series, fn: Callable[[Any], Any]) -> pd.Series:
    """``fn`` applied once per distinct value of a column, then spread back to its rows."""
    labels, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([fn(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[labels], index=values.index, name=values.name)


@cache
def code_list(name: str) -> CodeList:
    """The code list called ``name`` (``sex``, ``drug_group``, ... or ``flag``)."""
    raw = _raw()
    if name == "flag":
        entries = {True: raw["flag"]["true"], False: raw["flag"]["false"]}
        spellings: dict[str, Any] = {k: None for k in not_stated_keys()}
        for flag_value, words in entries.items():
            for word in [str(flag_value).lower(), *words]:
                spellings[key(word)] = flag_value
        return CodeList("flag", ("true", "false"), spellings)
    lists = raw["lists"]
    if name not in lists:
        raise KeyError(f"no code list called {name!r}; there are {', '.join(sorted(lists))}")
    codes = tuple(str(c) for c in lists[name])
    ns_value = NOT_STATED if NOT_STATED in codes else None
    spellings = {k: ns_value for k in not_stated_keys()}
    for code in codes:
        for word in [code, *(lists[name][code] or [])]:
            spellings[key(word)] = code
    return CodeList(name, codes, spellings)


TOTAL = "total"


@cache
def with_totals(name: str) -> CodeList:
    """A code list that also reads the margin spellings (``Total``, ``All``) as ``total``."""
    base = code_list(name)
    spellings = dict(base.spellings)
    spellings.update({key(s): TOTAL for s in _raw()["totals"]})
    return CodeList(name, (*base.codes, TOTAL), spellings)


def list_names() -> tuple[str, ...]:
    """Names of every code list, in the file's order."""
    return tuple(_raw()["lists"])


def identifier_columns() -> frozenset[str]:
    """Keys of column names that identify a person directly (refused in extracts)."""
    return frozenset(key(c) for c in _raw()["identifiers"])


def suppression_markers() -> frozenset[str]:
    """Keys of the markers that mean "suppressed" in a count column (plus ``<N``)."""
    return frozenset(key(m) for m in _raw()["suppression_markers"])


def normalise(values: pd.Series, codes: CodeList) -> tuple[pd.Series, pd.Series]:
    """Map a column's spellings to codes, one look-up per distinct value.

    Returns the normalised column (object dtype: a code, ``None`` for not stated/missing,
    or the *original* value where it matched nothing) and a boolean mask of the rows whose
    value matched nothing, so validation can name them.
    """
    labels, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = [codes.lookup(u) for u in uniques]
    bad_unique = np.array([m is _UNKNOWN for m in mapped], dtype=bool)
    out_unique = np.array(
        [u if m is _UNKNOWN else m for u, m in zip(uniques, mapped, strict=True)] + [None],
        dtype=object,
    )
    if NOT_STATED in codes.codes:
        out_unique[-1] = NOT_STATED  # a true missing value is "not stated" where that exists
    out = pd.Series(out_unique[labels], index=values.index, dtype=object, name=values.name)
    bad = pd.Series(np.append(bad_unique, False)[labels], index=values.index, name=values.name)
    return out, bad


def as_category(values: pd.Series, codes: CodeList) -> pd.Series:
    """A validated column of codes as a categorical in the code list's fixed order."""
    return pd.Series(
        pd.Categorical(values, categories=list(codes.codes)), index=values.index, name=values.name
    )


def parse_period(value: object) -> tuple[str | None, str]:
    """A period spelling as ``2019/20`` or ``2019/20 Q3``, with a note for a bare year.

    Returns ``(period, note)``; ``period`` is ``None`` where the spelling is not a period.
    A bare calendar year ``2012`` is read as the financial year that starts in it
    (``2012/13``), as in PHE's published alcohol estimates; the note says so.

    >>> parse_period("2017-18")
    ('2017/18', '')
    >>> parse_period("2019/2020 Q3")
    ('2019/20 Q3', '')
    >>> parse_period("2012")
    ('2012/13', 'bare year')
    """
    text = key(value)
    if text.endswith("_0") and text[:-2].isdigit():  # 2012.0 from a spreadsheet
        text = text[:-2]
    match = _YEAR_RE.match(text)
    if not match:
        return None, ""
    start, end, quarter = int(match[1]), match[2], match[3]
    note = ""
    if end is None:
        note = "bare year"
    elif int(end) % 100 != (start + 1) % 100 or (len(end) == 4 and int(end) != start + 1):
        return None, ""
    period = f"{start}/{(start + 1) % 100:02d}"
    return (f"{period} Q{quarter}" if quarter else period), note


def financial_year(period: str) -> str:
    """The financial year a period belongs to: ``2024/25 Q2`` -> ``2024/25``."""
    return period.split(" ", 1)[0]


def period_start(period: str) -> int:
    """The calendar year a period's financial year starts in: ``2024/25 Q2`` -> 2024."""
    return int(period[:4])
