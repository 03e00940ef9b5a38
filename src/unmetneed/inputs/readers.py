"""A reader per input format: a file's table as Arrow record batches, each row's line known.

- Parquet: ``pyarrow.dataset``, string columns read as dictionaries (``record_reader``).
- CSV whose header is line 1 with no title or notes around the table (a "plain" CSV):
  ``pyarrow.csv`` in blocks of ``CSV_BLOCK_BYTES`` cut at line ends (``record_reader``).
- Everything else: Excel (openpyxl), SPSS (pyreadstat) and a CSV with a title above its
  header, notes or blank lines around the table or ragged lines, read whole as text
  (:func:`read_input`), cut to the table (what was skipped said in notes), and converted
  to record batches in slices with ``pyarrow.RecordBatch.from_pandas`` (``frame_reader``).

A reader yields ``(batch, positions)``: ``positions`` None when the batch's rows are the
file's rows in order from the first (row i is line i + 2), else each row's position
(line - 2; rows left out between). ``unmetneed.inputs.stream`` validates and counts the batches
whatever their format; ``unmetneed.inputs.load`` collects them into a frame.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from unmetneed.errors import InputError, OptionError, UsageError

SUFFIXES = (".csv", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm", ".sav", ".zsav")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt")
READAHEAD = 2  # batches decoded ahead of the one being counted (memory: about 3 batches)
CSV_BLOCK_BYTES = 1 << 24  # CSV text parsed per batch (about 150,000 rows of an extract)

Positions = np.ndarray | None  # each row's position (line - 2), or None: row i is line i + 2
Reader = Callable[[list[str], int], Iterator[tuple[pa.RecordBatch, Positions]]]


class NotPlainError(Exception):
    """A CSV file read in blocks is not a plain table after all (read it whole)."""


# --- whole tables: Excel, SPSS, CSV with titles or notes ----------------------------------------


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
        raise OptionError("header_row", header_row, "the first line is 1")
    try:
        if suffix in CSV_SUFFIXES:
            grid = _read_csv(path)
        elif suffix in PARQUET_SUFFIXES:
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
        raise OptionError("last_row", last_row, f"the table's first data line is {lines.min()}")
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
        raise OptionError("header_row", header_row, f"{path} has {len(grid)} lines")
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


# --- record batches ------------------------------------------------------------------------------


def frame_reader(frame: pd.DataFrame) -> Reader:
    """A table read whole as record batches of ``batch_rows`` rows, converted a slice at a
    time (``pyarrow.RecordBatch.from_pandas``); each row's position is its index."""
    positions = np.asarray(frame.index, dtype=np.int64)

    def read(sources: list[str], batch_rows: int) -> Iterator[tuple[pa.RecordBatch, Positions]]:
        for start in range(0, len(frame), batch_rows):
            part = frame.iloc[start : start + batch_rows]
            arrays = [_arrow(part[name]) for name in sources]
            yield pa.RecordBatch.from_arrays(arrays, names=sources), positions[start:][:batch_rows]

    return read


def _arrow(column: pd.Series) -> pa.Array:
    """A column as Arrow: as pandas holds it, or (values of mixed types, e.g. numbers
    beside text) each distinct value as text as a failure shows it."""
    try:
        array = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        from unmetneed.inputs.validate import show

        labels, uniques = pd.factorize(column, use_na_sentinel=True)
        text = np.asarray([show(u) for u in uniques] + [None], dtype=object)
        return pa.array(text[labels], type=pa.string())
    return array.cast(pa.string()) if pa.types.is_null(array.type) else array


def record_reader(path: Path) -> tuple[Reader, list[str]]:
    """A Parquet file, or a plain CSV file (:func:`plain_csv`), read in record batches, and
    its column names. Raises :class:`NotPlainError` for a CSV file that is not plain."""
    if path.suffix.lower() in CSV_SUFFIXES:
        return _csv_reader(path)
    return _parquet_reader(path)


def _parquet_reader(path: Path) -> tuple[Reader, list[str]]:
    """Parquet through ``pyarrow.dataset``: string columns read as dictionaries, a few
    batches decoded ahead."""
    import pyarrow.dataset as ds

    schema = ds.dataset(path, format="parquet").schema
    text = [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    fmt = ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(dictionary_columns=text),
        default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False),
    )
    dataset = ds.dataset(path, format=fmt)

    def read(sources: list[str], batch_rows: int) -> Iterator[tuple[pa.RecordBatch, Positions]]:
        for batch in dataset.to_batches(
            columns=sources,
            batch_size=batch_rows,
            batch_readahead=READAHEAD,  # Arrow's default (16) holds 16 batches at once
            fragment_readahead=1,
        ):
            yield batch, None

    return read, list(schema.names)


def _csv_reader(path: Path) -> tuple[Reader, list[str]]:
    """A plain CSV file (header on line 1) through ``pyarrow.csv``: every cell as text
    (dictionary-encoded), ``CSV_BLOCK_BYTES`` of the file per batch, so row i is line
    i + 2. A blank line, a line of another width or a value running over a line break
    raises :class:`NotPlainError` (read the file whole: :func:`read_input` says what it
    skipped)."""
    import pyarrow.csv as pacsv

    names = plain_csv(path)
    if names is None:
        raise NotPlainError(str(path))
    sep, encoding = csv_dialect(path)
    text = pa.dictionary(pa.int32(), pa.string())

    def read(sources: list[str], batch_rows: int) -> Iterator[tuple[pa.RecordBatch, Positions]]:
        try:
            for batch in _batches(sources):
                if _blank_rows(batch):  # a blank line (left out when read whole, with a note)
                    raise NotPlainError(f"{path}: a blank line")
                yield batch, None
        except pa.ArrowInvalid as exc:  # a line that is not a row of the table
            raise NotPlainError(f"{path}: {exc}") from None

    def _batches(sources: list[str]) -> Iterator[pa.RecordBatch]:
        # Blocks cut at a line end and parsed one at a time (all cores on each):
        # ``open_csv`` reads far ahead of its consumer, holding most of a large file.
        options = {
            "read_options": pacsv.ReadOptions(
                column_names=names,
                encoding="utf8" if encoding.startswith("utf-8") else encoding,
                block_size=1 << 20,
            ),
            "parse_options": pacsv.ParseOptions(
                delimiter=sep, newlines_in_values=False, ignore_empty_lines=False
            ),
            "convert_options": pacsv.ConvertOptions(
                column_types=dict.fromkeys(sources, text),
                include_columns=sources,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        }
        for block in _line_blocks(path):
            table = pacsv.read_csv(pa.BufferReader(block), **options)
            yield from table.unify_dictionaries().combine_chunks().to_batches()

    return read, names


def _line_blocks(path: Path) -> Iterator[bytes]:
    """A CSV file after its header line in blocks of about ``CSV_BLOCK_BYTES``, each
    ending at a line end (a value never runs over a line end in a plain file)."""
    with open(path, "rb") as fh:
        fh.readline()  # the header: line 1
        rest = b""
        while block := fh.read(CSV_BLOCK_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                yield block[:cut]
        if rest.strip():
            yield rest


def _blank_rows(batch: pa.RecordBatch) -> bool:
    """Whether a row of a batch of text columns has every cell empty (or missing)."""
    import pyarrow.compute as pc

    blank = np.ones(batch.num_rows, dtype=bool)
    for column in batch.columns:
        empty = pc.equal(column.dictionary, "").fill_null(True).to_numpy(zero_copy_only=False)
        entries = np.append(np.asarray(empty, dtype=bool), True)  # null last
        blank &= entries[dictionary_indices(column)]
        if not blank.any():
            return False
    return bool(blank.any())


def dictionary_indices(array: pa.Array) -> np.ndarray:
    """Dictionary indices of a dictionary column, nulls as ``len(dictionary)``."""
    indices = array.indices
    if array.null_count:  # (int32: len(dictionary) may not fit the file's index type)
        indices = indices.cast(pa.int32()).fill_null(len(array.dictionary))
    return np.asarray(indices.to_numpy(zero_copy_only=False))
