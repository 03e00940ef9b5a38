"""Read an input of a contract kind: rename columns, normalise codes, validate, type.

``load(path, kind)`` is the one entry point: it returns a :class:`Loaded` whose frame has
the contract's columns typed (codes as categoricals in the code list's fixed order, flags as
nullable booleans, counts as nullable integers) or raises :class:`ValidationError` with every
failure collected, each naming the line a person sees in the file (header = line 1).

Every format goes through one path: :func:`open_source` gives the file's reader
(``unmetneed.inputs.readers``: Parquet and plain CSV in record batches, Excel, SPSS and CSV with
titles or notes read whole, cut to the table and converted in slices), and ``stream.Scan``
checks every batch with the one validator (``unmetneed.inputs.validate``: the contract's rules
applied to each column's distinct values). ``load`` collects the batches into a frame;
``compare`` and ``gap`` count them without holding the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from unmetneed.errors import Failure, Mention, OptionError, ValidationError
from unmetneed.inputs.readers import (
    CSV_SUFFIXES,
    NotPlainError,
    frame_reader,
)
from unmetneed.inputs.schemas import KINDS, Contract, contract
from unmetneed.inputs.sources import RECORD_SUFFIXES as RECORD_SUFFIXES  # (re-exported for callers)
from unmetneed.inputs.sources import InputOptions as InputOptions
from unmetneed.inputs.sources import Loaded as Loaded
from unmetneed.inputs.sources import Source
from unmetneed.inputs.sources import column_failures as column_failures
from unmetneed.inputs.sources import rename_columns as rename_columns

HEADER_LINES = 1  # data row i (0-based) is line i + 2 in the file


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
    published layout's name (``unmetneed.inputs.layouts``), ``none`` for the file's own names, or
    None to recognise one by the header (only where no ``columns`` are given).
    ``header_row``: the header's line (1-based) where title rows sit above it.
    ``rounded_to``: a counts file's counts are rounded to this (5 or 10; 0: exact), as the
    publisher declares; None: the layout's, else detected per area. ``last_row``: the
    table's last line; lines below it (notes) are not read.

    The rows are read, checked and normalised in record batches by ``stream.Scan`` (the
    one path every command reads through) and collected here into one typed frame.
    """
    if kind not in KINDS:
        from unmetneed.inputs.layouts import did_you_mean

        raise OptionError("kind", kind, did_you_mean(kind, KINDS), quoted=True)
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
    from unmetneed.inputs.stream import Scan, read_frame

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


def check_frame(
    frame: pd.DataFrame, c: Contract, path: Path | str = "records"
) -> tuple[pd.DataFrame, list[str], list[Failure]]:
    """A frame of contract columns (index: each row's position, line - 2) checked as a file
    is (``stream.read_frame`` over its rows in record batches): normalised, notes and
    every failure."""
    from unmetneed.inputs.stream import Scan, read_frame

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
        f"(the first starts {first!r}): if they are notes, give ",
        Mention("last_row", str(lines[0] - 1)),
        " to read the table above them, or delete them.",
    )
    return exc


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
