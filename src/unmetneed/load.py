"""Read CSV, Parquet, Excel and SPSS inputs, rename columns, normalise codes, validate.

``load(path, kind)`` is the one entry point: it returns a :class:`Loaded` whose frame has
the contract's columns typed (codes as categoricals in the code list's fixed order, flags as
nullable booleans, counts as nullable integers) or raises :class:`ValidationError` with every
failure collected, each naming the line a person sees in the file (header = line 1).
Values are normalised and checked by the one validator (``unmetneed.validate``: the
contract's rules applied to each column's distinct values), which ``stream`` uses too.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.codes import code_list, identifier_columns, key
from unmetneed.errors import Failure, InputError, UsageError, ValidationError
from unmetneed.schemas import KINDS, Contract, contract
from unmetneed.validate import (
    REQUIRED,
    check_distinct,
    factorize,
    frame_rule_failures,
    normalise_distinct,
    show,
)

SUFFIXES = (".csv", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm", ".sav", ".zsav")
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


def read_table(path: Path, sheet: str | None = None, header_row: int | None = None) -> pd.DataFrame:
    """The file's rows as a frame (CSV/Excel values as text), without its notes."""
    return read_input(path, sheet, header_row)[0]


def read_input(
    path: Path,
    sheet: str | None = None,
    header_row: int | None = None,
    last_row: int | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The file's table and notes on what was skipped around it.

    CSV and Excel: title rows above the header are skipped (the header is the first row as
    wide as the table, or ``header_row``, 1-based) and note rows below it (only the first
    cell filled) are left out, each said in a note. The frame's index is the 0-based data
    row counted from the file's first line minus 2 (so index + 2 is the line a person sees
    in the file, as for a file whose header is line 1). ``last_row``: the table's last
    line (1-based); the lines below it (notes a reader cannot tell from data) not read.
    """
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if header_row is not None and header_row < 1:
        raise UsageError(f"--header-row {header_row}: the first line is 1")
    try:
        if suffix in (".csv", ".txt"):
            grid = _read_csv(path)
        elif suffix in (".parquet", ".pq"):
            return pd.read_parquet(path).reset_index(drop=True), _unused_sheet(sheet, suffix)
        elif suffix in (".xlsx", ".xlsm"):
            grid = _read_excel(path, sheet)
        elif suffix in (".sav", ".zsav"):
            return _read_sav(path).reset_index(drop=True), _unused_sheet(sheet, suffix)
        else:
            raise InputError(
                f"{path}: unknown file type {suffix or '(none)'}; use one of {', '.join(SUFFIXES)}"
            )
    except (InputError, UsageError):
        raise
    except Exception as exc:  # any reader's failure on a damaged file is an input problem
        raise InputError(f"{path}: could not be read ({type(exc).__name__}: {exc})") from None
    table, notes = _table_of(grid, path, header_row)
    return _cut(table, [*notes, *_unused_sheet(sheet, suffix)], path, last_row)


def _unused_sheet(sheet: str | None, suffix: str) -> list[str]:
    """The note that ``--sheet`` was given for a file that has no sheets (else none)."""
    if sheet is None or suffix in (".xlsx", ".xlsm"):
        return []
    return [f"--sheet {sheet} not used (not an Excel file)"]


def _cut(
    table: pd.DataFrame, notes: list[str], path: Path, last_row: int | None
) -> tuple[pd.DataFrame, list[str]]:
    """``table`` down to line ``last_row`` (``--last-row``), the lines below it said."""
    if last_row is None:
        return table, notes
    lines = table.index.to_numpy() + 2
    if last_row < 2 or (len(lines) and last_row < lines.min()):
        raise UsageError(f"--last-row {last_row}: the table's first data line is {lines.min()}")
    below = int((lines > last_row).sum())
    if below:
        notes = [*notes, f"{below} line(s) below line {last_row} not read (--last-row)"]
    return table.loc[lines <= last_row], notes


def read_header(path: Path, sheet: str | None = None, header_row: int | None = None) -> list[str]:
    """A file's column names (the header found as ``read_input`` finds it), reading only
    the first lines of a CSV and the schema of a Parquet file."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception:  # a damaged file: the full read names the problem
            pass
    if suffix in (".csv", ".txt") and path.is_file():
        try:
            grid = _read_csv(path, nrows=200)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{path}: could not be read ({type(exc).__name__}: {exc})") from None
        return [str(c) for c in _table_of(grid, path, header_row)[0].columns]
    return [str(c) for c in read_input(path, sheet, header_row)[0].columns]


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


def _table_of(
    grid: pd.DataFrame, path: Path, header_row: int | None
) -> tuple[pd.DataFrame, list[str]]:
    """The table in a grid of text cells: header found (or given), note rows dropped.

    The header is the first line with more than half as many cells filled as the widest
    line (a title above a table fills one cell).
    """
    grid = grid.fillna("").astype(str)
    filled = (grid != "").to_numpy()
    width = filled.sum(axis=1)
    if not len(grid) or width.max() == 0:
        raise InputError(f"{path}: the file is empty (no header line)")
    if header_row is None:
        header = int(np.flatnonzero(width > max(1, width.max() / 2))[0]) if width.max() > 1 else 0
    elif header_row > len(grid):
        raise UsageError(f"--header-row {header_row}: {path} has {len(grid)} lines")
    else:
        header = header_row - 1
    notes = []
    if header:
        notes.append(
            f"{header} line(s) above the header (a title or notes) skipped; the header is "
            f"line {header + 1} (--header-row N gives another)"
        )
    raw = [str(v).strip() for v in grid.iloc[header]]
    used = [i for i, n in enumerate(raw) if n or filled[header + 1 :, i].any()]
    body = grid.iloc[header + 1 :, used]
    body.columns = _unique_names([raw[i] or f"column_{i + 1}" for i in used])
    body.index = pd.RangeIndex(header, header + len(body))
    body, more = _drop_blank_and_notes(body, filled[header + 1 :][:, used])
    return body, notes + more


def _unique_names(names: list[str]) -> list[str]:
    """Header names with repeats numbered as pandas does (``a``, ``a.1``)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0)
        out.append(name if n == 0 else f"{name}.{n}")
        seen[name] = n + 1
    return out


def _drop_blank_and_notes(body: pd.DataFrame, filled: np.ndarray) -> tuple[pd.DataFrame, list[str]]:
    """Blank lines, and note lines below the table (after its last line with two cells
    filled, only the first cell filled: "Source: ...", "* suppressed"), left out with a
    note naming them; a table of one or two columns keeps every filled line.
    """
    if body.shape[1] < 2:  # one column: an empty line is a missing value ("" in the file)
        return body, []
    cells = filled.sum(axis=1)
    blank = cells == 0
    is_note = np.zeros(len(body), dtype=bool)
    if body.shape[1] >= 3 and len(body):
        rows = np.flatnonzero(cells >= 2)
        last = int(rows[-1]) + 1 if len(rows) else 0
        is_note[last:] = (cells[last:] == 1) & filled[last:, 0]
    notes = []
    if is_note.any():
        first = int(np.flatnonzero(is_note)[0])
        notes.append(
            f"{int(is_note.sum())} note line(s) below the table (from line "
            f"{int(body.index[first]) + 2}: {str(body.iat[first, 0])[:50]!r}) are not data: "
            "left out"
        )
    inner = blank.copy()
    if len(body):
        trailing = np.flatnonzero(~blank)
        end = int(trailing[-1]) + 1 if len(trailing) else 0
        inner[end:] = False
    if inner.any():
        notes.append(f"{int(inner.sum())} blank line(s) inside the table left out")
    return body.loc[~(blank | is_note)], notes


def _read_csv(path: Path, nrows: int | None = None) -> pd.DataFrame:
    sep, encoding = csv_dialect(path)
    try:
        return _ragged_csv(path, sep, encoding, nrows)
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: not a well-formed CSV file ({exc})") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a well-formed CSV file ({exc})") from None


def csv_dialect(path: Path) -> tuple[str, str]:
    """A CSV file's separator (the commonest of , ; tab | in its first lines) and encoding
    (UTF-8, else cp1252 as Excel saves CSV on a UK machine)."""
    with open(path, "rb") as fh:
        raw = fh.read(65536)
    encoding = "utf-8-sig"
    try:
        head = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3:  # a character cut at the end of the first 64 KiB
            head = raw[: exc.start].decode(encoding)
        else:
            encoding = "cp1252"
            head = raw.decode(encoding, errors="replace")
    lines = [line for line in head.splitlines()[:20] if line.strip()]
    if not lines:
        raise InputError(f"{path}: the file is empty (no header line)")
    sep = max((",", ";", "\t", "|"), key=lambda c: sum(line.count(c) for line in lines))
    return sep, encoding


def plain_csv(path: Path) -> list[str] | None:
    """A CSV file's column names when its header is line 1 and the first lines hold no
    title or note (a file ``stream`` can read in batches, lines counted as ``load``
    counts them), else None."""
    grid = _read_csv(path, nrows=200)
    table, notes = _table_of(grid, path, None)
    if notes or len(table.columns) != grid.shape[1] or (len(table) and table.index[0] != 0):
        return None
    if grid.shape[1] >= 3 and _last_line_cells(path) < 2:  # notes below the table, perhaps
        return None
    return [str(c) for c in table.columns]


def _last_line_cells(path: Path) -> int:
    """Cells filled in the last line of a CSV file that is not blank."""
    sep, encoding = csv_dialect(path)
    with open(path, "rb") as fh:
        fh.seek(max(path.stat().st_size - 65536, 0))
        tail = fh.read().decode(encoding, errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    if not lines:
        return 0
    cells = next(csv.reader([lines[-1]], delimiter=sep), [])
    return sum(bool(c.strip()) for c in cells)


def _ragged_csv(path: Path, sep: str, encoding: str, nrows: int | None = None) -> pd.DataFrame:
    """Every line of a CSV as text cells, as wide as the widest of its first 200 lines
    (title lines above a header are narrower than it); no header row."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        head = [len(r) for _, r in zip(range(200), csv.reader(fh, delimiter=sep), strict=False)]
    width = max(head) if head else 0
    if width == 0:
        raise InputError(f"{path}: the file is empty (no header line)")
    return pd.read_csv(
        path,
        sep=sep,
        header=None,
        names=range(width),
        dtype=str,
        keep_default_na=False,
        encoding=encoding,
        skipinitialspace=True,
        skip_blank_lines=False,
        on_bad_lines="error",
        nrows=nrows,
    )


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    with pd.ExcelFile(path, engine="openpyxl") as book:
        names = [str(n) for n in book.sheet_names]
    if sheet is not None and sheet not in names:
        raise InputError(f"{path}: no sheet called {sheet!r}; the sheets are {', '.join(names)}")
    return pd.read_excel(
        path,
        sheet_name=sheet if sheet is not None else 0,
        header=None,
        dtype=str,
        keep_default_na=False,
        engine="openpyxl",
    )


def _read_sav(path: Path) -> pd.DataFrame:
    import pyreadstat

    frame, _meta = pyreadstat.read_sav(str(path), apply_value_formats=True)
    return frame


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


def normalise_frame(frame: pd.DataFrame, c: Contract) -> tuple[pd.DataFrame, list[str]]:
    """Every contract column normalised (unmatched values kept as in the file) and notes:
    each column's distinct values read once (``validate.normalise_distinct``)."""
    out = frame.copy()
    notes: list[str] = []
    for spec in c.columns:
        if spec.name not in out:
            continue
        labels, uniques = factorize(out[spec.name])
        d = normalise_distinct(spec, uniques)
        out[spec.name] = pd.Series(d.values[labels], index=out.index, dtype=object)
        if d.bare.any() and (bare := int(d.bare[labels].sum())):
            notes.append(bare_year_note(bare))
        if d.not_gss.any():
            rows = np.flatnonzero(d.not_gss[labels])
            values = sorted({str(v) for v in d.shown[d.not_gss]})
            lines = (out.index.to_numpy()[rows[:5]] + HEADER_LINES + 1).tolist()
            notes.append(not_gss_note(spec.name, len(rows), values[:5], lines))
        if spec.type == "count":
            out["count_suppressed"] = d.suppressed[labels]
            out["count_upper"] = pd.array(d.upper.to_numpy(object)[labels], dtype="Int64")
    return out, notes


def validate_frame(frame: pd.DataFrame, c: Contract) -> list[Failure]:
    """Every failure of a normalised frame against its contract, in line order: the
    contract's checks applied to each column's distinct values (``validate``), failing
    values mapped back to the lines that hold them."""
    failures = column_failures([str(col) for col in frame.columns], c)
    lines = frame.index.to_numpy() + HEADER_LINES + 1
    for spec in c.columns:
        if spec.name not in frame:
            continue
        labels, uniques = factorize(frame[spec.name])
        values = uniques.to_numpy(object)
        bad, required = check_distinct(spec, values)
        if bad.any():
            shown = [show(v) for v in values]
            failures += [
                Failure(int(lines[r]), spec.name, shown[labels[r]], spec.rule())
                for r in np.flatnonzero(bad[labels])
            ]
        if required.any():
            failures += [
                Failure(int(lines[r]), spec.name, "", REQUIRED)
                for r in np.flatnonzero(required[labels])
            ]
    for row, column, rule in frame_rule_failures(frame, c):
        raw = frame[column].iloc[row] if column in frame else ""
        failures.append(Failure(int(lines[row]), column, show(raw), c.rules[rule]))
    return sorted(
        set(failures),
        key=lambda f: (f.line or 0, c.names.index(f.column) if f.column in c.names else 99),
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
    """
    if kind not in KINDS:
        from unmetneed.layouts import did_you_mean

        raise UsageError(f"--kind {kind!r}: {did_you_mean(kind, KINDS)}")
    path = Path(path)
    c = contract(kind)
    raw, read_notes = read_input(path, sheet, header_row, last_row)
    shaped = shape_input(raw, path, kind, layout, columns)
    frame = rename_columns(shaped.frame, columns or {}, c, path)
    fill = substance if substance is not None else shaped.substance
    if fill is not None and not (substance is None and "substance" in frame):
        frame = _fill_substance(frame, fill, path)
    normalised, notes = normalise_frame(frame, c)
    failures = validate_frame(normalised, c)
    if failures:
        raise _with_footer_hint(ValidationError(path, kind, failures), raw)
    typed = type_frame(normalised, c)
    name = shaped.layout.name if shaped.layout else None
    if "count" in typed:
        declared = shaped.layout.rounded_to if shaped.layout else None
        declared = rounded_to if rounded_to is not None else declared
        typed = typed.assign(count_rounding=rounding_by_area(typed, declared))
    rounding = typed["count_rounding"] if "count_rounding" in typed else pd.Series(dtype=int)
    rounded = int(rounding.max()) if len(rounding) else 0
    loaded = Loaded(typed, path, kind, [*read_notes, *shaped.notes, *notes], rounded or None, name)
    if "count_suppressed" in typed and typed["count_suppressed"].any():
        n = int(typed["count_suppressed"].sum())
        loaded.notes.append(f"{n} count(s) are suppressed in the file: read as unknown, never 0")
    margins = _margin_rows(typed, c)
    if margins:
        loaded.notes.append(
            f"{margins} row(s) are totals over a dimension (e.g. drug_group = Total): kept as "
            "`total`, never added to the breakdown rows"
        )
    if rounded_to:
        loaded.notes.append(f"counts declared rounded to the nearest {rounded_to} (--rounded-to)")
    elif rounded and (shaped.layout is None or shaped.layout.rounded_to is None):
        loaded.notes.append(_rounding_note(typed))
    return loaded


def _with_footer_hint(exc: ValidationError, raw: pd.DataFrame) -> ValidationError:
    """``exc`` with a hint when every line it names is at the end of the file: notes below
    a table that filled more than one cell (e.g. ``Source:,NDTMS``), most likely."""
    lines = sorted({f.line for f in exc.failures if f.line is not None})
    if (
        not lines
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

    headers = [str(c) for c in raw.columns]
    chosen = layouts.resolve(layout, headers, path) if layout or not columns else None
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
