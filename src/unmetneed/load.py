"""Read an input of a contract kind: rename columns, normalise codes, validate, type.

``load(path, kind)`` is the one entry point: it returns a :class:`Loaded` whose frame has
the contract's columns typed (codes as categoricals in the code list's fixed order, flags as
nullable booleans, counts as nullable integers) or raises :class:`ValidationError` with every
failure collected, each naming the line a person sees in the file (header = line 1).

Every format goes through one path: :func:`open_source` gives the file's reader
(``unmetneed.readers``: Parquet and plain CSV in record batches, Excel, SPSS and CSV with
titles or notes read whole, cut to the table and converted in slices), and ``stream.Scan``
checks every batch with the one validator (``unmetneed.validate``: the contract's rules
applied to each column's distinct values). ``load`` collects the batches into a frame;
``compare`` and ``gap`` count them without holding the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from unmetneed.codes import code_list, identifier_columns, key
from unmetneed.errors import Failure, InputError, UsageError, ValidationError
from unmetneed.readers import (
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    NotPlainError,
    Reader,
    frame_reader,
    read_input,
    record_reader,
)
from unmetneed.schemas import KINDS, Contract, contract

RECORD_SUFFIXES = (*PARQUET_SUFFIXES, *CSV_SUFFIXES)  # formats read in blocks where plain
HEADER_LINES = 1  # data row i (0-based) is line i + 2 in the file


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


def parse_column_mapping(pairs: list[str] | None) -> dict[str, str]:
    """``["estimate=Alcohol_dependent", ...]`` as ``{"estimate": "Alcohol_dependent"}``."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        new, sep, old = pair.partition("=")
        if not sep or not new.strip() or not old.strip():
            raise UsageError(
                f"--column {pair!r}: write it as NEW=OLD, e.g. estimate=Alcohol_dependent"
            )
        mapping[new.strip()] = old.strip()
    return mapping


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


def per_input(
    values: list[str] | None, inputs: tuple[str, ...], option: str
) -> dict[str, str | None]:
    """``--layout NAME`` (every input) or ``--layout INPUT=NAME`` values, per input.

    >>> per_input(["prevalence=phe-alcohol"], ("treatment", "prevalence"), "--layout")
    {'treatment': None, 'prevalence': 'phe-alcohol'}
    """
    from unmetneed.layouts import did_you_mean

    out: dict[str, str | None] = dict.fromkeys(inputs)
    for value in values or []:
        name, sep, rest = value.partition("=")
        if sep and name.strip() in inputs:
            out[name.strip()] = rest.strip()
        elif sep and key(name) in {key(i) for i in inputs} | {"treatments"}:
            out[inputs[0]] = rest.strip()
        elif sep:
            raise UsageError(f"{option} {value!r}: {did_you_mean(name.strip(), inputs)} before =")
        else:
            out = dict.fromkeys(inputs, value.strip())
    return out


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
            from unmetneed.layouts import did_you_mean

            raise UsageError(
                f"{path}: --column {new}={old}: no column {old!r}; "
                + did_you_mean(old, [str(c) for c in frame.columns], "the columns are")
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
        Failure(None, s.name, "", _missing_rule(s.name, names))
        for s in c.columns
        if s.required and s.name not in names
    ]


def _missing_rule(name: str, names: list[str]) -> str:
    """The rule for a missing required column, naming a close header if the file has one."""
    import difflib

    others = [n for n in names if n not in ("count_suppressed", "count_upper")]
    by_key = {key(n): n for n in others}
    close = difflib.get_close_matches(name, list(by_key), n=1, cutoff=0.6)
    if close:
        old = by_key[close[0]]
        return f"required column is missing; did you mean {old!r}? (--column {name}={old})"
    return "required column is missing (rename one with --column NEW=OLD)"


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


def type_frame(frame: pd.DataFrame, c: Contract) -> pd.DataFrame:
    """A validated frame with its contract columns typed (codes as ordered categoricals)."""
    out = frame.copy()
    for spec in c.columns:
        if spec.name not in out:
            continue
        col = out[spec.name]
        if spec.type == "code":
            out[spec.name] = pd.Categorical(col, categories=list(spec.code_list().codes))
        elif spec.type == "flag":
            out[spec.name] = col.astype("boolean")
        elif spec.type in ("period", "text", "gss_code"):
            values = col.astype("string")
            cats = sorted(values.dropna().unique())
            out[spec.name] = pd.Categorical(values, categories=cats, ordered=spec.type == "period")
        elif spec.type == "count":
            out[spec.name] = pd.to_numeric(col).astype("Int64")
        elif spec.type == "number":
            out[spec.name] = pd.to_numeric(col).astype("float64")
    return out


def rounded_to(frame: pd.DataFrame) -> int | None:
    """5 if every shown count is a multiple of 5 and at least one is non-zero, else None."""
    if "count" not in frame:
        return None
    shown = frame["count"].dropna()
    if shown.empty or not (shown > 0).any():
        return None
    return 5 if bool((shown % 5 == 0).all()) else None


def load(
    path: Path | str,
    kind: str,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | None = None,
    substance: str | None = None,
    layout: str | None = None,
    header_row: int | None = None,
    rounded_to: int | None = None,
    last_row: int | None = None,
) -> Loaded:
    """Read, rename, normalise and validate one input of a contract kind.

    ``columns`` maps contract names to the file's names (``{"estimate": "Alcohol_dependent"}``);
    ``substance`` fills a prevalence file's missing ``substance`` column. ``layout``: a
    published layout's name (``unmetneed.layouts``), ``none`` for the file's own names, or
    None to recognise one by the header (only where no ``columns`` are given).
    ``header_row``: the header's line (1-based) where title rows sit above it.
    ``rounded_to``: a counts file's counts are rounded to this (5 or 10; 0: exact), as the
    publisher declares; None: the layout's, else detected per area. ``last_row``: the
    table's last line; lines below it (notes) are not read.

    The rows are read, checked and normalised in record batches by ``stream.Scan`` (the
    one path every command reads through) and collected here into one typed frame.
    """
    if kind not in KINDS:
        from unmetneed.layouts import did_you_mean

        raise UsageError(f"--kind {kind!r}: {did_you_mean(kind, KINDS)}")
    how = InputOptions(layout, sheet, header_row, rounded_to, last_row)
    return streamed_or_whole(lambda whole: _load(Path(path), kind, columns, how, substance, whole))


def _load(
    path: Path,
    kind: str,
    columns: Mapping[str, str] | None,
    how: InputOptions,
    substance: str | None,
    whole: bool,
) -> Loaded:
    """``load`` with the file read in blocks where it can be (or ``whole``)."""
    from unmetneed.stream import Scan, read_frame

    c = contract(kind)
    scan = Scan(path, kind, columns, how=how, substance=substance, whole=whole, list_all=True)
    normalised, failures = read_frame(scan)
    if failures:
        raise _with_footer_hint(ValidationError(path, kind, failures), scan.source.table)
    typed = type_frame(normalised, c)
    shaped = scan.source.layout
    if "count" in typed:
        declared = shaped.rounded_to if shaped else None
        declared = how.rounded_to if how.rounded_to is not None else declared
        typed = typed.assign(count_rounding=rounding_by_area(typed, declared))
    rounding = typed["count_rounding"] if "count_rounding" in typed else pd.Series(dtype=int)
    rounded = int(rounding.max()) if len(rounding) else 0
    name = shaped.name if shaped else None
    loaded = Loaded(typed, path, kind, list(scan.notes), rounded or None, name)
    if "count_suppressed" in typed and typed["count_suppressed"].any():
        n = int(typed["count_suppressed"].sum())
        loaded.notes.append(f"{n} count(s) are suppressed in the file: read as unknown, never 0")
    margins = _margin_rows(typed, c)
    if margins:
        loaded.notes.append(
            f"{margins} row(s) are totals over a dimension (e.g. drug_group = Total): kept as "
            "`total`, never added to the breakdown rows"
        )
    if how.rounded_to:
        loaded.notes.append(
            f"counts declared rounded to the nearest {how.rounded_to} (--rounded-to)"
        )
    elif rounded and (shaped is None or shaped.rounded_to is None):
        loaded.notes.append(_rounding_note(typed))
    return loaded


T = TypeVar("T")


def streamed_or_whole(run: Callable[[bool], T]) -> T:
    """``run(False)``: files read in blocks where they can be; ``run(True)`` when a CSV
    file read in blocks turns out not to be a plain table further down (a blank line, a
    ragged line: :class:`NotPlainError`), or fails validation: read whole, the lines
    around the table are left out with notes, values are shown as a person reads the
    cells (leading spaces trimmed) and notes below the table are named in a hint."""
    try:
        return run(False)
    except NotPlainError:
        return run(True)
    except ValidationError as exc:
        if Path(exc.path).suffix.lower() not in CSV_SUFFIXES:
            raise
        return run(True)


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
    from unmetneed import layouts

    return layouts.resolve(layout, headers, path) if layout or not columns else None


def check_frame(
    frame: pd.DataFrame, c: Contract, path: Path | str = "records"
) -> tuple[pd.DataFrame, list[str], list[Failure]]:
    """A frame of contract columns (index: each row's position, line - 2) checked as a file
    is (``stream.read_frame`` over its rows in record batches): normalised, notes and
    every failure."""
    from unmetneed.stream import Scan, read_frame

    source = Source(Path(path), {str(n): str(n) for n in frame.columns}, frame_reader(frame))
    scan = Scan(path, c.kind, source=source, list_all=True)
    normalised, failures = read_frame(scan)
    return normalised, scan.notes, failures


def _with_footer_hint(exc: ValidationError, raw: pd.DataFrame | None) -> ValidationError:
    """``exc`` with a hint when every line it names is at the end of the file: notes below
    a table that filled more than one cell (e.g. ``Source:,NDTMS``), most likely (``raw``:
    the table read whole; None, read in blocks: no hint)."""
    lines = sorted({f.line for f in exc.failures if f.line is not None})
    if (
        raw is None
        or not lines
        or len(raw) < 2
        or len(exc.failures) != sum(f.line is not None for f in exc.failures)
    ):
        return exc
    data = raw.index.to_numpy() + 2
    tail = data[data >= lines[0]]
    if len(tail) > 10 or list(tail) != lines or lines[0] == data.min():
        return exc
    first = str(raw.iloc[len(data) - len(tail), 0])[:40]
    exc.hint = (
        f"Lines {lines[0]}-{lines[-1]}, the last of the file, do not read as rows of the table "
        f"(the first starts {first!r}): if they are notes, give --last-row {lines[0] - 1} to "
        "read the table above them, or delete them."
    )
    return exc


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
    from unmetneed import layouts

    chosen = _layout([str(c) for c in raw.columns], path, layout, columns)
    if chosen is None:
        return layouts.Shaped(raw, None)
    if chosen.kind != kind and not (kind == "cohort" and chosen.kind == "counts"):
        raise UsageError(
            f"{path}: is {chosen.title} (layout {chosen.name}), a {chosen.kind} file, not "
            f"{kind}; give it as the {chosen.kind} input (--kind {chosen.kind})"
            + (
                " (were --treatment and --prevalence swapped?)"
                if "prevalence" in (kind, chosen.kind)
                else ""
            )
        )
    return layouts.shape(raw, chosen, path)


def rounding_by_area(frame: pd.DataFrame, declared: int | None) -> pd.Series:
    """Per row, the base its count is rounded to (0: exact).

    ``declared`` by the file's layout where it says; else 5 for every row when every shown
    count of the file is a multiple of 5 with one above 0, or for the rows of an area whose
    three or more counts above 0 are all multiples of 5 (how NDTMS ViewIt publishes a local
    authority beside England's exact counts); else 0.
    """
    if declared is not None:
        return pd.Series(declared, index=frame.index, dtype=np.int64)
    shown = frame["count"].astype("Float64")
    multiple = (shown % 5 == 0).fillna(True).astype(bool)
    positive = shown.gt(0).fillna(False).astype(bool)
    if bool(multiple.all()) and bool(positive.any()):
        return pd.Series(5, index=frame.index, dtype=np.int64)
    area = frame["area"].astype(str) if "area" in frame else pd.Series("", index=frame.index)
    grouped = pd.DataFrame({"area": area, "m": multiple, "p": positive}).groupby("area")
    rounded = grouped["m"].transform("all") & (grouped["p"].transform("sum") >= 3)
    return pd.Series(np.where(rounded, 5, 0), index=frame.index, dtype=np.int64)


def _rounding_note(frame: pd.DataFrame) -> str:
    """The note naming the areas whose counts are all multiples of 5 (read as rounded)."""
    areas = sorted(frame.loc[frame["count_rounding"] > 0, "area"].astype(str).unique())
    every = len(areas) == frame["area"].nunique()
    shown = ", ".join(areas[:5]) + (f" and {len(areas) - 5} more" if len(areas) > 5 else "")
    where = "every count" if every else f"every count of {shown}"
    return f"{where} is a multiple of 5: probably rounded to the nearest 5"


def _margin_rows(frame: pd.DataFrame, c: Contract) -> int:
    """Rows of a counts file where any dimension column holds the margin code ``total``."""
    cols = [s.name for s in c.columns if s.margins and s.name in frame]
    if not cols:
        return 0
    return int((frame[cols] == "total").any(axis=1).sum())


def _fill_substance(frame: pd.DataFrame, substance: str, path: Path) -> pd.DataFrame:
    code = code_list("substance").lookup(substance)
    if not isinstance(code, str):
        raise UsageError(
            f"--substance {substance!r}: use one of {', '.join(code_list('substance').codes)}"
        )
    if "substance" in frame:
        raise UsageError(f"{path}: has a substance column already; drop --substance")
    return frame.assign(substance=code)
