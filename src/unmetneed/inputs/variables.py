"""Variables as integer codes: each column a table is counted by (a code list's codes in
their order, a true/false flag as yes/no/not_stated, age bands collapsed, the substance
cohort derived from drug group and crack), with ``not_stated`` for missing values.

Shared by ``compare`` (its tables) and ``disclosure.release`` (what a cell counts), so
neither needs the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from unmetneed.errors import OptionError, UsageError
from unmetneed.inputs.codes import NOT_STATED, code_list
from unmetneed.inputs.schemas import contract

__all__ = [
    "FLAG_CATEGORIES",
    "SUBSTANCE_COHORTS",
    "AgeBands",
    "Coded",
    "code_variable",
    "column_codes",
    "derive_substance_cohort",
    "parse_age_bands",
    "source_columns",
    "substance_masks",
    "substance_cohort_codes",
]

SUBSTANCE_COHORTS = (
    "opiate_no_crack",
    "opiate_and_crack",
    "crack_no_opiate",
    "alcohol_only",
    "other_non_opiate",
)
FLAG_CATEGORIES = ("yes", "no", NOT_STATED)
_BAND = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)|(\+))\s*$")


# --- age bands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeBands:
    """Collapsed age bands: their labels in age order and, for each 5-year band of the code
    list, the index of the collapsed band it goes into."""

    labels: tuple[str, ...]
    source_to_band: tuple[int, ...]
    remarks: tuple[str, ...] = ()


def _five_year_bands() -> tuple[tuple[str, int, float], ...]:
    """The code list's age bands as (label, first age, last age); ``65+`` ends at infinity."""
    out = []
    for label in code_list("age_band").codes:
        lo, _, hi = label.rstrip("+").partition("-")
        out.append((label, int(lo), float(hi) if hi else float("inf")))
    return tuple(out)


def parse_age_bands(spec: Sequence[str]) -> AgeBands:
    """Bands like ``18-29``, ``30-39``, ``40+`` as a mapping of the 5-year bands onto them.

    A band must start where a 5-year band starts and end where one ends, otherwise it
    splits that band (a usage error naming it). The top band ``65+`` is open, so a band
    whose upper age is 65 or more (``40-65``) takes it in: it is shown as ``40+`` with a
    remark. Every 5-year band must fall in exactly one band.

    >>> parse_age_bands(["18-29", "30-39", "40-65"]).labels
    ('18-29', '30-39', '40+')
    """
    five = _five_year_bands()
    top_start = five[-1][1]
    parsed: list[tuple[int, float, str]] = []
    remarks: list[str] = []
    for text in (t for t in spec if t.strip()):
        lo, hi, label = _parse_band(text.strip(), five)
        if hi >= top_start and label != f"{lo}+":
            remarks.append(
                f"age band {text.strip()} takes in {five[-1][0]} (the oldest band is open, "
                f"so it cannot be split): shown as {lo}+"
            )
            label = f"{lo}+"
        parsed.append((lo, float("inf") if hi >= top_start else hi, label))
    if not parsed:
        raise OptionError("age_bands", None, "give bands such as 18-29,30-39,40+")
    parsed.sort()
    mapping = []
    for label, lo, hi in five:
        holders = [i for i, (blo, bhi, _) in enumerate(parsed) if blo <= lo and hi <= bhi]
        if len(holders) != 1:
            taken = " and ".join(parsed[i][2] for i in holders) or "no band"
            raise OptionError(
                "age_bands",
                None,
                f"the 5-year band {label} is in {taken}; every band from "
                f"{five[0][0]} to {five[-1][0]} must be in exactly one band",
            )
        mapping.append(holders[0])
    labels = tuple(p[2] for p in parsed)
    if len(set(labels)) != len(labels):
        raise OptionError("age_bands", None, f"a band is given twice ({', '.join(labels)})")
    return AgeBands(labels, tuple(mapping), tuple(remarks))


def _parse_band(text: str, five: tuple[tuple[str, int, float], ...]) -> tuple[int, float, str]:
    """One band as (first age, last age, label), refusing one that splits a 5-year band."""
    match = _BAND.match(text)
    if not match:
        raise OptionError("age_bands", text, "write a band as 18-29 or 50+", quoted=True)
    lo = int(match[1])
    hi = float("inf") if match[3] else float(match[2])
    starts = {b[1]: b[0] for b in five}
    if lo not in starts:
        inside = [b[0] for b in five if b[1] <= lo <= b[2]]
        where = f"splits the 5-year band {inside[0]}" if inside else f"starts below {five[0][1]}"
        problem = f"{where}; bands start at " + ", ".join(str(b[1]) for b in five)
        raise OptionError("age_bands", text, problem)
    if hi < lo:
        raise OptionError("age_bands", text, "the upper age is below the lower age")
    ends = {b[2] for b in five}
    if hi < five[-1][1] and hi not in ends:
        inside = [b[0] for b in five if b[1] <= hi <= b[2]]
        raise OptionError(
            "age_bands",
            text,
            f"splits the 5-year band {inside[0]}; bands end at "
            + ", ".join(str(int(b[2])) for b in five[:-1])
            + ", or are open (50+)",
        )
    return lo, hi, f"{lo}+" if match[3] else f"{lo}-{int(hi)}"


def source_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The input columns needed for these table columns (``substance_cohort`` is derived)."""
    out: list[str] = []
    for col in columns:
        for src in ("drug_group", "crack") if col == "substance_cohort" else (col,):
            if src not in out:
                out.append(src)
    return tuple(out)


# --- coded variables ---------------------------------------------------------------------


@dataclass(frozen=True)
class Coded:
    """A variable as integer codes: ``codes[i]`` indexes ``categories`` for row ``i``.

    Not stated (missing) rows have the index of ``not_stated``, which is the last category
    when the variable has one.
    """

    name: str
    categories: tuple[str, ...]
    codes: np.ndarray

    @property
    def not_stated(self) -> int | None:
        """Index of the ``not_stated`` category, if there is one."""
        return self.categories.index(NOT_STATED) if NOT_STATED in self.categories else None


def _category_codes(values: pd.Series, categories: Sequence[str]) -> np.ndarray:
    """Codes of ``values`` against ``categories`` (-1 for missing or unknown), vectorised."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        recoded = values.cat.rename_categories([str(c) for c in values.cat.categories])
        return np.asarray(recoded.cat.set_categories(list(categories)).cat.codes, dtype=np.int64)
    return np.asarray(
        pd.Categorical(values.astype("string"), categories=list(categories)).codes, dtype=np.int64
    )


def _with_not_stated(name: str, categories: Sequence[str], codes: np.ndarray) -> Coded:
    """Missing codes (-1) mapped to ``not_stated`` (added as the last category if needed)."""
    cats = list(categories)
    if (codes < 0).any() or NOT_STATED in cats:
        if NOT_STATED not in cats:
            cats.append(NOT_STATED)
        codes = np.where(codes < 0, cats.index(NOT_STATED), codes)
    return Coded(name, tuple(cats), codes.astype(np.int64))


def _flag_codes(values: pd.Series) -> np.ndarray:
    """yes -> 0, no -> 1, not stated -> 2 for a true/false column (typed, or as text in a
    counts file's extra column: spelled as the contract's flags, else a ``UsageError``)."""
    if str(values.dtype) not in ("boolean", "bool"):
        values = _flags_from_text(values)
    flags = values.astype("boolean")
    missing = flags.isna().to_numpy()
    true = flags.fillna(False).to_numpy(dtype=bool)
    return np.where(missing, 2, np.where(true, 0, 1)).astype(np.int64)


def _flags_from_text(values: pd.Series) -> pd.Series:
    """A column of flag spellings (``yes``, ``false``, blank...) as booleans."""
    from unmetneed.inputs.codes import code_list, normalise

    mapped, bad = normalise(values.astype("string"), code_list("flag"))
    if bad.any():
        wrong = values[bad.to_numpy()].iloc[0]
        raise UsageError(
            f"column {values.name}: value {wrong!r} is not true/false (yes/no, 1/0 or blank)"
        )
    return mapped.astype("boolean")


def derive_substance_cohort(drug_group: pd.Series, crack: pd.Series) -> np.ndarray:
    """Codes into ``SUBSTANCE_COHORTS`` (-1 where it cannot be told) from drug group and crack.

    opiate_no_crack: opiate, not crack; opiate_and_crack: opiate with crack; crack_no_opiate:
    a non-opiate group with crack; alcohol_only: alcohol only (whatever the crack flag);
    other_non_opiate: a non-opiate group without crack. A missing drug group, or a missing
    crack flag outside alcohol_only, is not stated.
    """
    dg = _category_codes(drug_group, code_list("drug_group").codes)
    flags = crack.astype("boolean")
    known = flags.notna().to_numpy()
    return substance_cohort_codes(dg, known, flags.fillna(False).to_numpy(dtype=bool))


def substance_cohort_codes(dg: np.ndarray, known: np.ndarray, has_crack: np.ndarray) -> np.ndarray:
    """``derive_substance_cohort`` on codes: ``dg`` indexes the drug_group code list (-1
    missing); ``known``/``has_crack``: the crack flag is stated / is yes. Vectorised.
    """
    groups = code_list("drug_group").codes
    opiate = dg == groups.index("opiate")
    non_opiate = np.isin(
        dg, [groups.index("non_opiate_only"), groups.index("non_opiate_and_alcohol")]
    )
    out = np.full(len(dg), -1, dtype=np.int64)
    out[opiate & known & ~has_crack] = 0
    out[opiate & has_crack] = 1
    out[non_opiate & has_crack] = 2
    out[dg == groups.index("alcohol_only")] = 3
    out[non_opiate & known & ~has_crack] = 4
    return out


def code_variable(frame: pd.DataFrame, name: str, bands: AgeBands | None = None) -> Coded:
    """One column of the combined frame as :class:`Coded`, categories in the code list's order.

    True/false columns have ``yes``, ``no``, ``not_stated``; code-list columns the list's
    codes (``not_stated`` added last when values are missing); ``age_band`` the collapsed
    bands when ``bands`` is given; other columns their values in sorted (or categorical) order.
    """
    specs = {c.name: c for c in contract("cohort").columns}
    spec = specs.get(name)
    if name == "substance_cohort" and name not in frame:
        codes = derive_substance_cohort(frame["drug_group"], frame["crack"])
        return _with_not_stated(name, SUBSTANCE_COHORTS, codes)
    values = frame[name]
    if (spec is not None and spec.type == "flag") or str(values.dtype) in ("boolean", "bool"):
        return Coded(name, FLAG_CATEGORIES, _flag_codes(values))
    if spec is not None and spec.type == "code":
        cats = code_list(str(spec.codes)).codes
        codes = _category_codes(values, cats)
        if name == "age_band" and bands is not None:
            lookup = np.append(np.asarray(bands.source_to_band, dtype=np.int64), -1)
            return _with_not_stated(name, bands.labels, lookup[codes])
        return _with_not_stated(name, cats, codes)
    if isinstance(values.dtype, pd.CategoricalDtype):
        observed = set(values.dropna().astype(str).unique())
        cats = tuple(str(c) for c in values.cat.categories if str(c) in observed)
    else:
        cats = tuple(sorted(values.dropna().astype(str).unique()))
    return _with_not_stated(name, cats, _category_codes(values, cats))


# --- substances ----------------------------------------------------------------------------


def substance_masks(frame: pd.DataFrame, substances: tuple[str, ...]) -> dict[str, np.ndarray]:
    """For each substance, which rows count towards it (CONTRACT 4.1 mapping).

    Compares each column's distinct values once (``column_codes``), not every row's text.
    """
    n = len(frame)
    if "substance" in frame:
        codes, values = column_codes(frame["substance"])
        return {s: is_in(codes, values, (s,)) for s in substances}
    opiate, alcohol = np.zeros(n, bool), np.zeros(n, bool)
    if "drug_group" in frame:
        codes, values = column_codes(frame["drug_group"])
        opiate = is_in(codes, values, ("opiate",))
        alcohol = is_in(codes, values, ("alcohol_only", "non_opiate_and_alcohol"))
    crack = np.zeros(n, bool)
    if "crack" in frame:
        crack = frame["crack"].astype("boolean").to_numpy(dtype=bool, na_value=False)
    masks = {
        "opiate_crack": opiate | crack,
        "opiate": opiate,
        "crack": crack,
        "alcohol_dependent": alcohol,
    }
    return {s: masks[s] for s in substances}


def is_in(codes: np.ndarray, values: np.ndarray, wanted: tuple[str, ...]) -> np.ndarray:
    """Rows whose value (given as codes into ``values``; -1 missing) is one of ``wanted``."""
    hit = np.append(np.isin(values.astype(str), wanted), False)  # code -1 -> last: False
    result: np.ndarray = hit[codes]
    return result


def column_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a column (-1 where missing) and the values they stand for (as str)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy(dtype=np.int64)
        values = np.asarray(column.cat.categories.astype(str), dtype=object)
    else:
        raw, uniques = pd.factorize(column, use_na_sentinel=True)
        codes, values = raw.astype(np.int64), np.asarray([str(u) for u in uniques], dtype=object)
    return codes, values
