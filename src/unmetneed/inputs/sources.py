"""An input file opened as a contract kind, before its rows are read: its published
layout recognised and shaped, its columns renamed to the contract's, its reader chosen
(``unmetneed.inputs.readers``: record batches where the file is plain, else read whole and cut to
its table), and the notes and column failures of that step. ``stream.Scan`` reads rows
from a :class:`Source`; ``load`` builds its typed frame on top.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from unmetneed.errors import Failure, InputError, Mention, OptionError, Said, UsageError
from unmetneed.inputs.codes import code_list, identifier_columns, key
from unmetneed.inputs.readers import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    NotPlainError,
    Reader,
    frame_reader,
    read_input,
    record_reader,
)
from unmetneed.inputs.schemas import Contract, contract

RECORD_SUFFIXES = (*PARQUET_SUFFIXES, *CSV_SUFFIXES)  # formats read in blocks where plain


@dataclass
class Loaded:
    """A validated input: its typed frame, where it came from, and notes for remarks.

    ``rounded_to`` is 5 when the counts of some area are rounded to the nearest 5 (declared
    by the file's layout, or every shown count of the area a multiple of 5, as NDTMS ViewIt
    publishes), else ``None``; the frame's ``count_rounding`` column says it per row.
    ``layout``: the published layout the file was read as (None: its own column names).
    """

    frame: pd.DataFrame
    path: Path
    kind: str
    notes: list[str] = field(default_factory=list)
    rounded_to: int | None = None
    layout: str | None = None


@dataclass(frozen=True)
class InputOptions:
    """How to read one input file: ``layout`` (a published layout's name, ``none``, or
    None to recognise it), ``sheet`` (Excel), ``header_row`` (1-based; None: found),
    ``rounded_to`` (counts rounded to 5 or 10, 0 exact; None: the layout's or detected),
    ``last_row`` (the table's last line, 1-based: notes below it not read)."""

    layout: str | None = None
    sheet: str | None = None
    header_row: int | None = None
    rounded_to: int | None = None
    last_row: int | None = None


def rename_columns(
    frame: pd.DataFrame, mapping: Mapping[str, str], c: Contract, path: Path
) -> pd.DataFrame:
    """Apply ``NEW=OLD`` renames, then match other headers to the contract by their key.

    A header ``Age Band`` becomes ``age_band``; an ``OLD`` name that is not in the file is a
    usage error naming the headers that are.
    """
    by_key = {key(col): col for col in frame.columns}
    renames: dict[str, str] = {}
    for new, old in mapping.items():
        source = old if old in frame.columns else by_key.get(key(old))
        if source is None:
            from unmetneed.inputs.layouts import did_you_mean

            raise OptionError(
                "columns",
                f"{new}={old}",
                f"no column {old!r}; "
                + did_you_mean(old, [str(c) for c in frame.columns], "the columns are"),
                where=str(path),
            )
        renames[str(source)] = new
    taken = set(renames.values())
    for col in frame.columns:
        if col in renames:
            continue
        k = key(col)
        if k in c.names and k not in taken and k != col:
            renames[str(col)] = k
            taken.add(k)
    out = frame.rename(columns=renames)
    dupes = sorted({str(x) for x in out.columns[out.columns.duplicated()]})
    if dupes:
        raise UsageError(f"{path}: more than one column would be called {', '.join(dupes)}")
    return out


def column_failures(names: list[str], c: Contract) -> list[Failure]:
    """Failures of a file's column names: identifiers (where refused), missing required."""
    ids = identifier_columns() if c.refuse_identifiers else frozenset()
    rule = "a direct identifier: extracts and cohorts must not carry it; remove the column"
    failures = [Failure(None, name, "", rule) for name in names if key(name) in ids]
    return failures + [
        Failure.naming(None, s.name, "", _missing_rule(s.name, names))
        for s in c.columns
        if s.required and s.name not in names
    ]


def _missing_rule(name: str, names: list[str]) -> Said:
    """The rule for a missing required column, naming a close header if the file has one."""
    import difflib

    others = [n for n in names if n not in ("count_suppressed", "count_upper")]
    by_key = {key(n): n for n in others}
    close = difflib.get_close_matches(name, list(by_key), n=1, cutoff=0.6)
    if close:
        old = by_key[close[0]]
        hint = f"required column is missing; did you mean {old!r}? ("
        return (hint, Mention("columns", f"{name}={old}"), ")")
    return ("required column is missing (rename one with ", Mention("columns", "NEW=OLD"), ")")


def not_gss_note(name: str, rows: int, values: list[str], lines: list[int]) -> str:
    """The note for ``rows`` rows whose ``name`` is not a GSS code (first values and lines)."""
    shown = ", ".join(repr(v) for v in values[:5])
    return (
        f"{rows} row(s) have a value in {name} that is not a GSS code ({shown}; lines "
        f"{', '.join(map(str, lines[:5]))}{', ...' if rows > 5 else ''}): read as missing, "
        "so those rows are matched by area name"
    )


def bare_year_note(rows: int) -> str:
    """The note for ``rows`` rows whose period is a bare year such as 2012."""
    return (
        f"{rows} row(s) give a bare year (e.g. 2012) for the period: read as the "
        "financial year starting in it (2012 -> 2012/13)"
    )


@dataclass(frozen=True)
class Source:
    """An input opened for reading as a contract kind: ``names`` maps the contract's (and
    other) column names to the columns ``read`` reads (a ``readers.Reader``); ``notes`` say
    what reading skipped or assumed; ``table`` is the table read whole (None: read in
    blocks); ``layout`` the published layout it is read as (None: its own names)."""

    path: Path
    names: dict[str, str]
    read: Reader
    notes: tuple[str, ...] = ()
    table: pd.DataFrame | None = None
    layout: Any = None


def open_source(
    path: Path,
    kind: str,
    columns: Mapping[str, str] | None = None,
    how: InputOptions | None = None,
    substance: str | None = None,
    whole: bool = False,
) -> Source:
    """``path`` opened as ``kind``: a Parquet file, or a CSV file whose header is line 1
    with no title or notes, read in blocks (``readers.record_reader``), unless ``whole``;
    any other file (Excel, SPSS, a CSV with a title or notes, a published layout, a sheet,
    header row, last row or substance given) read whole, cut to its table, shaped to a
    published layout, renamed and converted in slices (``readers.frame_reader``)."""
    how = how or InputOptions()
    c = contract(kind)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    blocks = how.sheet is None and how.header_row is None and how.last_row is None
    if not whole and blocks and substance is None and path.suffix.lower() in RECORD_SUFFIXES:
        try:
            reader, names = record_reader(path)
        except NotPlainError:
            pass
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"{path}: could not be read ({type(exc).__name__}: {exc})") from None
        else:
            if _layout(names, path, how.layout, columns) is None:
                renamed = rename_columns(pd.DataFrame(columns=names), columns or {}, c, path)
                pairs = zip(renamed.columns, names, strict=True)
                return Source(path, {str(new): str(old) for new, old in pairs}, reader)
    raw, read_notes = read_input(path, how.sheet, how.header_row, how.last_row)
    shaped = shape_input(raw, path, kind, how.layout, columns)
    frame = rename_columns(shaped.frame, columns or {}, c, path)
    fill = substance if substance is not None else shaped.substance
    if fill is not None and not (substance is None and "substance" in frame):
        frame = _fill_substance(frame, fill, path)
    same = {str(n): str(n) for n in frame.columns}
    notes = (*read_notes, *shaped.notes)
    return Source(path, same, frame_reader(frame), notes, raw, shaped.layout)


def _layout(
    headers: list[str], path: Path, layout: str | None, columns: Mapping[str, str] | None
) -> Any:
    """The published layout a file with these headers is read as (None: its own names)."""
    from unmetneed.inputs import layouts

    return layouts.resolve(layout, headers, path) if layout or not columns else None


def shape_input(
    raw: pd.DataFrame,
    path: Path,
    kind: str,
    layout: str | None,
    columns: Mapping[str, str] | None,
) -> Any:
    """``raw`` in a published layout's columns where one applies (``layouts.Shaped``).

    A layout is recognised by the header only where no ``--column`` renames are given (they
    are written against the file's own names); ``--layout NAME`` forces one. A layout of
    another kind (an estimates file given as treatment) is a usage error saying so.
    """
    from unmetneed.inputs import layouts

    chosen = _layout([str(c) for c in raw.columns], path, layout, columns)
    if chosen is None:
        return layouts.Shaped(raw, None)
    if chosen.kind != kind and not (kind == "cohort" and chosen.kind == "counts"):
        swapped = (" (were ", Mention("treatment"), " and ", Mention("prevalence"), " swapped?)")
        raise UsageError(
            (
                f"{path}: is {chosen.title} (layout {chosen.name}), a {chosen.kind} file, not "
                f"{kind}; give it as the {chosen.kind} input (",
                Mention("kind", chosen.kind),
                ")",
                *(swapped if "prevalence" in (kind, chosen.kind) else ()),
            )
        )
    return layouts.shape(raw, chosen, path)


def _fill_substance(frame: pd.DataFrame, substance: str, path: Path) -> pd.DataFrame:
    code = code_list("substance").lookup(substance)
    if not isinstance(code, str):
        problem = f"use one of {', '.join(code_list('substance').codes)}"
        raise OptionError("substance", substance, problem, quoted=True)
    if "substance" in frame:
        raise UsageError((f"{path}: has a substance column already; drop ", Mention("substance")))
    return frame.assign(substance=code)
