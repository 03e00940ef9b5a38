"""Published layouts read as they are (contract 2.5): recognised by their header.

A layout says how a file someone downloaded maps onto a contract kind, so it loads with no
``--column`` options: which header is which contract column, which columns are other
measures (not read, and said so), whether its counts are rounded, and what substance it
is about. ``detect`` finds the layout of a header; ``shape`` turns the raw frame into the
contract's columns and returns the notes that become remarks.

Layouts (``--layout NAME``):

- ``ndtms-viewit-england``: NDTMS ViewIt, England (``ReportingPeriod_Data``,
  ``Area_Data``, ``DrugGroup_Data``, ``Gender_Data``, ``AgeGroup_Data``,
  ``Num_InTreatment_AllInTx``, ethnicity columns); exact counts of people.
- ``ndtms-viewit-la``: NDTMS ViewIt, a local authority (``ReportingPeriod``, ``Area``,
  ``sex``, ``age_group``, ``drug_group``, ``intreatment_allintx`` and ~240 other measures);
  every count rounded to the nearest 5.
- ``phe-alcohol``: PHE/OHID estimates of alcohol-dependent adults by upper-tier local
  authority (``Local_Authority``, ``Area_Code_GSS``, ``Alcohol_dependent``,
  ``Alcohol_lower_CI``, ``Alcohol_upper_CI``, ``Year``).
- ``fingertips``: a Fingertips indicator-data CSV export (``Indicator ID``, ``Area Code``,
  ``Area Name``, ``Time period``, ``Value``, 95% limits, ``Count``, ``Denominator``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from unmetneed.errors import Mention, OptionError, UsageError
from unmetneed.inputs.codes import key

NONE = "none"  # --layout none: read the file by its own column names


@dataclass(frozen=True)
class Layout:
    """One published layout.

    ``columns``: contract name -> the file's header. ``kind``: the contract kind it is
    (``counts`` or ``prevalence``). ``rounded_to``: 5 where the publisher rounds every
    count to the nearest 5, 0 where counts are exact, None to detect per area.
    ``substance``: the one substance of a prevalence layout (None: from the file).
    ``signature``: headers that must all be present to recognise it.
    """

    name: str
    title: str
    kind: str
    columns: Mapping[str, str]
    signature: tuple[str, ...]
    rounded_to: int | None = None
    substance: str | None = None
    keep: tuple[str, ...] = field(default=())  # other headers kept under their own name


VIEWIT_ENGLAND = Layout(
    name="ndtms-viewit-england",
    title="NDTMS ViewIt export, England",
    kind="counts",
    columns={
        "period": "ReportingPeriod_Data",
        "area": "Area_Data",
        "drug_group": "DrugGroup_Data",
        "sex": "Gender_Data",
        "age_group": "AgeGroup_Data",
        "count": "Num_InTreatment_AllInTx",
    },
    signature=("ReportingPeriod_Data", "Area_Data", "DrugGroup_Data", "Num_InTreatment_AllInTx"),
    rounded_to=0,
)
VIEWIT_LA = Layout(
    name="ndtms-viewit-la",
    title="NDTMS ViewIt export, local authority (counts rounded to the nearest 5)",
    kind="counts",
    columns={
        "period": "ReportingPeriod",
        "area": "Area",
        "drug_group": "drug_group",
        "sex": "sex",
        "age_group": "age_group",
        "count": "intreatment_allintx",
    },
    signature=("ReportingPeriod", "Area", "drug_group", "intreatment_allintx"),
    rounded_to=5,
)
PHE_ALCOHOL = Layout(
    name="phe-alcohol",
    title="PHE/OHID estimates of alcohol-dependent adults by local authority",
    kind="prevalence",
    columns={
        "area": "Local_Authority",
        "area_code": "Area_Code_GSS",
        "estimate": "Alcohol_dependent",
        "lower": "Alcohol_lower_CI",
        "upper": "Alcohol_upper_CI",
        "period": "Year",
    },
    signature=("Local_Authority", "Alcohol_dependent", "Year"),
    substance="alcohol_dependent",
)
FINGERTIPS = Layout(
    name="fingertips",
    title="Fingertips indicator-data export",
    kind="prevalence",
    columns={
        "area": "Area Name",
        "area_code": "Area Code",
        "period": "Time period",
        "estimate": "Value",
        "lower": "Lower CI 95.0 limit",
        "upper": "Upper CI 95.0 limit",
    },
    signature=("Indicator ID", "Area Code", "Area Name", "Time period", "Value"),
)
LAYOUTS = {x.name: x for x in (VIEWIT_ENGLAND, VIEWIT_LA, PHE_ALCOHOL, FINGERTIPS)}
# Fingertips indicator names -> substance (first match wins, checked in this order)
_FINGERTIPS_SUBSTANCE = (
    ("alcohol", "alcohol_dependent"),
    ("drinker", "alcohol_dependent"),
    ("opiate and/or crack", "opiate_crack"),
    ("opiates and/or crack", "opiate_crack"),
    ("opiate and crack", "opiate_crack"),
    ("crack", "crack"),
    ("opiate", "opiate"),
)


@dataclass(frozen=True)
class Shaped:
    """A raw frame in a layout's contract columns, with notes and the substance the
    layout names (None: the file or ``--substance`` says)."""

    frame: pd.DataFrame
    layout: Layout | None
    notes: tuple[str, ...] = ()
    substance: str | None = None


def names() -> tuple[str, ...]:
    """The layout names ``--layout`` accepts (and ``none``)."""
    return (*LAYOUTS, NONE)


def detect(headers: list[str]) -> Layout | None:
    """The layout whose signature headers are all in ``headers`` (compared by key)."""
    have = {key(h) for h in headers}
    for layout in LAYOUTS.values():
        if all(key(h) in have for h in layout.signature):
            return layout
    return None


def resolve(name: str | None, headers: list[str], path: Path | str) -> Layout | None:
    """The layout to read ``path`` with: ``name`` forced, else detected (``none``: no layout).

    A forced layout whose headers are not in the file is a usage error naming them.
    """
    if name is None:
        return detect(headers)
    if key(name) == NONE:
        return None
    layout = LAYOUTS.get(name.strip().lower())
    if layout is None:
        raise OptionError("layout", name, did_you_mean(name, names()), quoted=True)
    have = {key(h) for h in headers}
    missing = [h for h in layout.signature if key(h) not in have]
    if missing:
        raise UsageError(
            (
                f"{path}: ",
                Mention("layout", layout.name),
                f" needs the column(s) {', '.join(missing)}; the file's columns are "
                f"{', '.join(headers[:12])}{', ...' if len(headers) > 12 else ''}",
            )
        )
    return layout


def did_you_mean(value: str, choices: tuple[str, ...] | list[str], what: str = "use one of") -> str:
    """``did you mean X? use one of ...`` for a value that is not one of ``choices``.

    >>> did_you_mean("prevalance", ("treatment", "prevalence"))
    "did you mean 'prevalence'? use one of treatment, prevalence"
    """
    starts = [c for c in choices if c.lower().startswith(value.strip().lower()) and value.strip()]
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6) or starts[:1]
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}{what} {', '.join(choices)}"


def shape(frame: pd.DataFrame, layout: Layout, path: Path | str) -> Shaped:
    """``frame`` (as read, every value text) in ``layout``'s contract columns.

    Columns the layout does not read are dropped and named in a note; a ViewIt file keeps
    only its in-treatment count (its other measures are not people in treatment).
    """
    by_key = {key(c): str(c) for c in frame.columns}
    renames = {by_key[key(old)]: new for new, old in layout.columns.items() if key(old) in by_key}
    kept = [*renames, *(by_key[key(k)] for k in layout.keep if key(k) in by_key)]
    notes = [f"read as {layout.title} (layout {layout.name}; --layout none reads it as it is)"]
    dropped = [str(c) for c in frame.columns if str(c) not in kept]
    if dropped:
        shown = ", ".join(dropped[:4]) + (
            f" and {len(dropped) - 4} more" if len(dropped) > 4 else ""
        )
        what = "other measures or breakdowns" if layout.kind == "counts" else "not used"
        notes.append(f"{len(dropped)} other column(s) not read ({shown}): {what}")
    out = frame[kept].rename(columns=renames)
    substance = layout.substance
    if layout is FINGERTIPS:
        out, more, substance = _fingertips(frame, out)
        notes += more
    if layout.rounded_to:
        notes.append(
            f"{layout.name} publishes every count rounded to the nearest {layout.rounded_to}: "
            f"each read as within +-{layout.rounded_to // 2}"
        )
    return Shaped(out, layout, tuple(notes), substance)


def _fingertips(raw: pd.DataFrame, out: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str | None]:
    """A Fingertips export as estimates: whole-population rows only (a row with a
    ``Category`` is a breakdown), the ``Count`` as the estimate where the indicator gives
    one (its ``Value`` is then a rate: the 95% limits are scaled by Count / Value)."""
    notes: list[str] = []
    by_key = {key(c): str(c) for c in raw.columns}
    category = raw[by_key["category"]] if "category" in by_key else None
    keep = np.ones(len(raw), dtype=bool)
    if category is not None:
        keep = (category.astype(str).str.strip() == "").to_numpy()
        if (~keep).any():
            notes.append(f"{int((~keep).sum())} row(s) are a breakdown (Category given): not read")
    if "sex" in by_key:
        persons = raw[by_key["sex"]].astype(str).map(key).isin(("persons", "all_persons"))
        if persons.any() and not persons.all():
            notes.append(
                f"{int((keep & ~persons.to_numpy()).sum())} row(s) are for one sex: only "
                "Persons rows read"
            )
            keep &= persons.to_numpy()
    if "count" in by_key:
        count = _number(raw[by_key["count"]])
        value = _number(raw[by_key["value"]])
        has = count.notna() & value.gt(0)
        if has.any():
            scale = (count / value).where(has)
            bounds = {
                b: (_number(out[b]) * scale).where(has, _number(out[b]))
                for b in ("lower", "upper")
                if b in out
            }
            out = out.assign(estimate=count.where(has, value).astype(object), **bounds)
            notes.append(
                "Fingertips Count read as the estimate (people), its 95% limits as the "
                "Value's limits x Count / Value"
            )
    out = out[keep]
    substance = None
    if "indicator_name" in by_key:
        names_ = raw.loc[keep, by_key["indicator_name"]].astype(str).str.lower().unique()
        firsts = [next((s for word, s in _FINGERTIPS_SUBSTANCE if word in n), None) for n in names_]
        if len(set(firsts)) == 1 and firsts[0] is not None:
            substance = firsts[0]
            notes.append(f"substance {substance}, from the indicator name ({names_[0]})")
    return out, notes, substance


def _number(column: pd.Series) -> pd.Series:
    """Text numbers (thousands separators allowed) as floats; anything else missing."""
    return pd.to_numeric(column.astype(str).str.replace(",", "", regex=False), errors="coerce")
