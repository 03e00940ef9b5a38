"""The accessible workbook (GSS/ONS spreadsheet guidance), written with ONS's gptables.

Cover sheet (title, source, period, disclosure rule, contact), contents, notes (numbered
remarks of every table), then one table per sheet as an Excel table object: readable
headings with units, no merged cells or blank rows, thousands separators, one decimal for
percentages, ``[c]`` in every suppressed cell and ``[x]`` where a value is not available.
Fixed document properties make a rerun byte-identical.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure.model import Policy
from unmetneed.outputs.labels import (
    CONFIDENTIAL,
    KEY,
    NOT_AVAILABLE,
    column_label,
    hidden_cells,
    p_text,
)
from unmetneed.runs.config import Publication

FIXED_DATE = datetime(2000, 1, 1)  # document properties: the same on every rerun
COUNT_FORMAT = "#,##0"
PCT_FORMAT = "#,##0.0"
_PCT_COLUMNS = re.compile(r"(pct|diff_pp|diff_lower|diff_upper)")
_COUNT_COLUMNS = (
    "count",
    "denominator",
    "in_treatment",
    "in_treatment_min",
    "in_treatment_max",
    "prevalence",
    "prevalence_lower",
    "prevalence_upper",
    "not_in_treatment",
)
_CODE_TEXT = {"suppressed": CONFIDENTIAL}  # the test column's "suppressed": a withheld test
_BOUND_TEXT = {"=": "equals", "<=": "at most"}  # p_value_bound in words (GSS: no bare symbols)


@dataclass(frozen=True)
class Cover:
    """What the cover sheet says (title, source and contact default to the run config's
    ``[output]`` defaults, :class:`unmetneed.runs.config.Publication`)."""

    title: str = Publication.title
    source: str = Publication.source
    period: str = ""
    rule: str = ""
    contact: str = Publication.contact

    @classmethod
    def of(cls, policy: Policy, publication: Publication | None = None, period: str = "") -> Cover:
        """The cover of tables protected under ``policy``: its rule as the remarks state it
        (never how many cells are small)."""
        pub = publication or Publication()
        return cls(pub.title, pub.source, period, rule_text(policy), pub.contact)


def rule_text(policy: Policy) -> str:
    """The disclosure rule as the cover and report state it."""
    from unmetneed.disclosure.protect import suppression_remark

    if policy.k <= 0:
        return "None: suppression was turned off (k = 0)."
    return suppression_remark(policy)


@dataclass(frozen=True)
class Sheet:
    """One table for its own sheet: display cells, which are ``[c]``, number formats."""

    name: str
    title: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    description: str = ""
    of: str = ""  # the published table it shows (its name), when it is one


def sheet_from_table(
    name: str,
    frame: pd.DataFrame,
    title: str,
    first_note: int = 1,
    description: str = "",
    of: str = "",
) -> Sheet:
    """A published table as a sheet: headings with units, ``[c]``/``[x]`` for blanks,
    ``yes``/``no`` for flags, remark numbers as ``note N`` (numbered from ``first_note``)."""
    hidden = hidden_cells(frame)
    cells: dict[str, Any] = {}
    formats: dict[str, str] = {}
    for col in frame.columns:
        label = column_label(str(col))
        cells[label] = _display_column(frame, str(col), hidden[col].to_numpy(), first_note)
        if str(col) in _COUNT_COLUMNS:
            formats[label] = COUNT_FORMAT
        elif _PCT_COLUMNS.search(str(col)):
            formats[label] = PCT_FORMAT
        elif col == "statistic":
            formats[label] = "0.00"
        elif col == "p_value":
            formats[label] = "0.000"
    out = pd.DataFrame(cells, index=range(len(frame)))
    return Sheet(name, title, out, formats, description, of)


def _display_column(frame: pd.DataFrame, col: str, hidden: np.ndarray, first_note: int) -> Any:
    """One column's cells as shown (numbers stay numbers)."""
    values = frame[col]
    if col == "suppressed" or pd.api.types.is_bool_dtype(values):
        return np.where(values.fillna(False).astype(bool), "yes", "no").astype(object)
    if col == "p_value":
        bound = frame.get("p_value_bound")
        return _p_values(values, bound, hidden)
    if col == "remarks":
        return [_notes(v, first_note) for v in values]
    if col == "p_value_bound":
        return values.astype("string").replace(_BOUND_TEXT).fillna(NOT_AVAILABLE).to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        out = values.astype(object).to_numpy().copy()
        blank = values.isna().to_numpy()
        out[blank] = NOT_AVAILABLE
        out[blank & hidden] = CONFIDENTIAL
        return [float(v) if isinstance(v, np.floating) else v for v in out]
    text = values.astype("string")
    return text.replace(_CODE_TEXT).fillna(NOT_AVAILABLE).astype(object).to_numpy()


def _p_values(values: pd.Series, bound: pd.Series | None, hidden: np.ndarray) -> list[Any]:
    """p-values as numbers, ``<0.001`` (or ``<=x`` for a Monte Carlo bound) as text."""
    out: list[Any] = []
    bounds = bound.to_numpy(dtype=object) if bound is not None else [None] * len(values)
    for v, b, h in zip(values.to_numpy(dtype=object), bounds, hidden, strict=True):
        if v is None or pd.isna(v):
            out.append(CONFIDENTIAL if h else NOT_AVAILABLE)
        elif float(v) < 0.001 or b == "<=":
            out.append(p_text(v, b))
        else:
            out.append(float(v))
    return out


def _notes(value: Any, first_note: int) -> str:
    """``1,3`` (a table's remark numbers) as ``note 1, note 3`` in the workbook's numbering."""
    if value is None or pd.isna(value) or not str(value).strip():
        return "none"
    numbers = [int(n) for n in re.findall(r"\d+", str(value))]
    return ", ".join(f"note {n + first_note - 1}" for n in numbers)


def _table_name(name: str) -> str:
    """An Excel table name: letters, digits and underscores, starting with a letter."""
    return "t_" + re.sub(r"\W", "_", name)


def _gptable(sheet: Sheet) -> Any:
    """A sheet as a gptables table: title, description, the key, number formats."""
    import gptables as gpt

    formatting = [
        {"column": {"columns": [col], "format": {"num_format": fmt}}}
        for col, fmt in sheet.formats.items()
    ]
    return gpt.GPTable(
        table=sheet.frame,
        table_name=_table_name(sheet.name),
        title=sheet.title,
        subtitles=[sheet.description] if sheet.description else [],
        instructions="This worksheet contains one table. Notes are on the Notes sheet.",
        legend=[f"{symbol} = {meaning}" for symbol, meaning in KEY],
        index_columns={},
        additional_formatting=formatting,
    )


def _notes_gptable(notes: Sequence[str]) -> Any:
    """The Notes sheet: every numbered note, then the meaning of [c] and [x]."""
    import gptables as gpt

    rows = [(i, text) for i, text in enumerate(notes, start=1)]
    rows += [(len(rows) + i, f"{s} means {m}.") for i, (s, m) in enumerate(KEY, start=1)]
    frame = pd.DataFrame(rows, columns=["Note number", "Note text"])
    return gpt.GPTable(
        table=frame,
        table_name="notes_table",
        title="Notes",
        instructions="This worksheet contains one table.",
        index_columns={},
    )


def _cover(cover: Cover) -> Any:
    """The Cover sheet: title, period, source, disclosure rule, key and contact."""
    import gptables as gpt

    return gpt.Cover(
        title=cover.title,
        intro=[f"Period: {cover.period}" if cover.period else "Period: as in each table"],
        about=[
            f"Source: {cover.source}",
            f"Disclosure control: {cover.rule}",
            f"{CONFIDENTIAL} marks a suppressed (confidential) value and {NOT_AVAILABLE} a "
            "value that is not available; the Notes sheet explains both.",
        ],
        contact=[cover.contact],
    )


def sheet_name(name: str, used: set[str]) -> str:
    """A sheet label of at most 31 characters, unique within ``used`` (which it joins)."""
    base = re.sub(r"[\[\]:*?/\\]", "-", name)[:31]
    label, n = base, 2
    while label.lower() in used:
        suffix = f" {n}"
        label, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(label.lower())
    return label


def write_workbook(path: Path, sheets: Sequence[Sheet], notes: Sequence[str], cover: Cover) -> Path:
    """Write the workbook (cover, contents, notes, one sheet per table) to ``path``."""
    import gptables as gpt

    tables = {"Notes": _notes_gptable(notes)}
    tables.update({s.name: _gptable(s) for s in sheets})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gptables warns that no notes_table was given
        wb = gpt.produce_workbook(
            filename=str(path),
            sheets=tables,
            cover=_cover(cover),
            contentsheet_label="Contents",
            notes_table=None,
        )
        wb.set_properties({"title": cover.title, "author": "unmetneed", "created": FIXED_DATE})
        wb.close()
    return path


def is_accessible(path: Path | str) -> bool:
    """Whether an .xlsx file is a workbook this module wrote (it has a Cover sheet)."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        return "Cover" in book.sheetnames and "Contents" in book.sheetnames
    finally:
        book.close()


def read_workbook_table(path: Path | str, sheet: str | None = None) -> pd.DataFrame:
    """A table sheet of a workbook this module wrote, back as the published table
    (column names, ``[c]``/``[x]`` as missing, ``yes``/``no`` flags as booleans); the
    first table sheet when ``sheet`` is not given. For ``audit``."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=False, data_only=True)
    names = [n for n in book.sheetnames if n not in ("Cover", "Contents", "Notes")]
    if sheet is not None and sheet not in names:
        raise ValueError(f"no table sheet {sheet!r}; the tables are {', '.join(names)}")
    ws = book[sheet or names[0]]
    ref = next(iter(ws.tables.values())).ref
    rows = [[c.value for c in row] for row in ws[ref]]
    frame = pd.DataFrame(rows[1:], columns=rows[0])
    inverse = {column_label(c): c for c in _known_columns()}
    frame = frame.rename(columns=lambda c: inverse.get(str(c), c))
    frame = frame.replace({CONFIDENTIAL: None, NOT_AVAILABLE: None})
    if "suppressed" in frame:
        frame["suppressed"] = frame["suppressed"].eq("yes")
    if "p_value_bound" in frame:
        frame["p_value_bound"] = frame["p_value_bound"].replace(
            {v: k for k, v in _BOUND_TEXT.items()}
        )
    for col in frame.columns:
        if col in _COUNT_COLUMNS or _PCT_COLUMNS.search(str(col)):
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def _known_columns() -> list[str]:
    """Every column or variable name with a heading in ``schemas/labels.yaml``."""
    from unmetneed.outputs.labels import _labels

    return [*_labels()["variables"], *_labels()["columns"]]
