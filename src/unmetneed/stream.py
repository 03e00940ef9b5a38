"""Read a record file in record batches and count it, never holding it whole.

A national archive of quarterly extracts is tens of millions of rows; ``load`` would hold
every one as a pandas object. Here a reader per format yields Arrow record batches:
Parquet through ``pyarrow.dataset`` (``BATCH_ROWS`` rows a batch), CSV whose header is
line 1 through ``pyarrow.csv.open_csv`` (``CSV_BLOCK_BYTES`` of text a batch). Every
column is read dictionary-encoded, so each rule of the contract (code lists, flags,
periods, GSS codes, required values) is checked once per distinct value by the one
validator (``unmetneed.validate``, which ``load`` uses too), and the rows are only ever
integer codes: counted per batch with ``numpy.bincount`` and the counts added up (counts
are additive). Memory is one batch plus the counts, whatever the rows.

The verdict is ``load``'s: the same values fail, with the same line numbers (data row i,
0-based, is line i + 2), the same rules and the same notes. ``scan`` validates every column
of the contract the file has, not only those counted, so a file that ``load`` refuses is
refused here too. A CSV file that is not a plain table further down (a blank line, notes
below it, a ragged line) raises :class:`NotPlainError` and is read whole by ``load``.

Codes: a column's values are numbered by a :class:`Registry`. Code-list columns use the
list's order, flags ``True`` = 0 and ``False`` = 1, text (areas, periods, GSS codes) the
order first seen, put in sorted order by :meth:`Registry.remap` at the end. Missing is -1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from unmetneed.errors import Failure, InputError, UsageError, ValidationError
from unmetneed.schemas import ColumnSpec, Contract, contract
from unmetneed.validate import REQUIRED, check_distinct, normalise_distinct, with_missing

BATCH_ROWS = 1 << 18
READAHEAD = 2  # batches decoded ahead of the one being counted (memory: about 3 batches)
STREAM_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt")
CSV_BLOCK_BYTES = 1 << 24  # CSV text parsed per batch (about 150,000 rows of an extract)
STREAM_KINDS = ("treatment", "cohort")
MAX_LISTED = 1000  # failures listed per column and rule; the rest are counted in one line
DENSE_KEYS = 1 << 22  # up to this many possible keys a batch is counted by bincount
FIRST_LINE = 2  # data row 0 is line 2 (the header is line 1)
_SPACE = re.compile(r"\s+")


def streamable(path: Path | str, kind: str, csv: bool = False) -> bool:
    """Whether ``path`` of ``kind`` is read in batches by this module: Parquet record
    files, and with ``csv`` CSV record files whose header is line 1 (:func:`is_plain_csv`).
    """
    suffix = Path(path).suffix.lower()
    if kind not in STREAM_KINDS:
        return False
    return suffix in STREAM_SUFFIXES or (csv and suffix in CSV_SUFFIXES and is_plain_csv(path))


def is_plain_csv(path: Path | str) -> bool:
    """A CSV file with its header on line 1 and no title or note in its first lines: read
    in batches with the line of each row known. A file that turns out otherwise further
    down (a blank line, a note below the table, a ragged line) raises :class:`NotPlainError`
    while it is read, and is read whole by ``load`` instead."""
    from unmetneed.load import plain_csv

    try:
        return Path(path).is_file() and plain_csv(Path(path)) is not None
    except (InputError, UsageError):
        return False  # ``load`` says what is wrong with it


class NotPlainError(Exception):
    """A CSV file read in batches is not a plain table after all (read it whole)."""


# --- numbering the values of a column ---------------------------------------------------------


@dataclass
class Registry:
    """The values of one column numbered: ``values[i]`` is code ``i`` (-1 is missing).

    Code-list and flag columns are numbered by their list before any row is read; text
    columns as values are first seen (``fixed`` is False) and sorted by :meth:`remap`.
    """

    spec: ColumnSpec
    values: list[Any]
    fixed: bool
    index: dict[Any, int] = field(default_factory=dict)

    @classmethod
    def of(cls, spec: ColumnSpec) -> Registry:
        """An empty registry for a column of the contract."""
        if spec.type == "code":
            return cls(spec, list(spec.code_list().codes), True)
        if spec.type == "flag":
            return cls(spec, [True, False], True)
        return cls(spec, [], False)

    @property
    def size(self) -> int:
        """Codes in use so far (a code is ``0 .. size - 1``)."""
        return len(self.values)

    def code(self, value: Any) -> int:
        """The code of a normalised value, numbering it if it is new (text only)."""
        if self.fixed:
            return self.values.index(value)
        if value not in self.index:
            self.index[value] = len(self.values)
            self.values.append(value)
        return self.index[value]

    def categories(self, first_seen: bool = False) -> tuple[Any, ...]:
        """The values in their final order: the list's, or sorted (text; with
        ``first_seen``, in the order of the rows they were first seen in)."""
        return tuple(self.values) if self.fixed or first_seen else tuple(sorted(self.values))

    def remap(self, first_seen: bool = False) -> np.ndarray:
        """Final code of each code as numbered (last entry: -1 stays -1)."""
        if self.fixed or first_seen:
            order = np.arange(self.size, dtype=np.int64)
        else:
            rank = {v: i for i, v in enumerate(sorted(self.values))}
            order = np.asarray([rank[v] for v in self.values], dtype=np.int64)
        return np.append(order, -1)


@dataclass
class _Lookup:
    """A batch dictionary translated once: per entry (and a last entry for null) its code
    (-1 missing or not yet numbered), whether it breaks the rule, and its note. Entries are
    numbered in the registry only once a row uses them.
    """

    dictionary: pa.Array
    values: list[Any]
    codes: np.ndarray
    numbered: np.ndarray
    bad: np.ndarray
    bare: np.ndarray
    not_gss: np.ndarray
    shown: list[str]

    @classmethod
    def of(cls, spec: ColumnSpec, registry: Registry, dictionary: pa.Array) -> _Lookup:
        """Every entry of ``dictionary`` normalised and checked by the one validator
        (``unmetneed.validate``), the null entry last (none numbered yet)."""
        d = normalise_distinct(spec, with_missing(dictionary.to_pylist()))
        bad, _required = check_distinct(spec, d.values)
        missing = np.asarray(pd.isna(pd.Series(d.values, dtype=object)), dtype=bool)
        look = cls(
            dictionary,
            d.values.tolist(),
            np.full(len(d.values), -1, dtype=np.int64),
            missing | bad,
            bad,
            d.bare,
            d.not_gss,
            d.shown.tolist(),
        )
        if registry.fixed:  # a code list: numbering an unused value adds no category
            look.number(registry, np.ones(len(d.values), dtype=bool))
        return look

    def __post_init__(self) -> None:
        # what ``clean`` needs, worked out once per dictionary rather than once per batch
        self._noted = bool(self.bad.any() or self.bare.any() or self.not_gss.any())
        missing = self.numbered & ~self.bad  # (before numbering: missing or bad entries)
        self._has_blank = bool(missing[:-1].any())
        self._null_missing = bool(missing[-1])

    def clean(self, nullable: bool, nulls: int) -> bool:
        """Whether no row of a batch with this dictionary can fail or carry a note."""
        if self._noted or nullable:
            return not self._noted
        return not self._has_blank and not (nulls and self._null_missing)

    def number(self, registry: Registry, used: np.ndarray) -> None:
        """Give a code to every used entry that has none yet, in the order of ``used``
        (entries, first used first; or a boolean mask)."""
        entries = np.flatnonzero(used) if used.dtype == bool else used
        for i in entries[~self.numbered[entries]]:
            self.codes[i] = registry.code(self.values[i])
            self.numbered[i] = True


# --- one column of one batch ------------------------------------------------------------------


def _dictionary(array: pa.Array) -> pa.Array:
    """The column as a dictionary array (encoded here when the file did not)."""
    import pyarrow.compute as pc

    return array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)


def _indices(array: pa.Array) -> np.ndarray:
    """Dictionary indices of a dictionary column, nulls as ``len(dictionary)``."""
    indices = array.indices
    if array.null_count:  # (int32: len(dictionary) may not fit the file's index type)
        indices = indices.cast(pa.int32()).fill_null(len(array.dictionary))
    return np.asarray(indices.to_numpy(zero_copy_only=False))


def _used(array: pa.Array, entries: int) -> np.ndarray:
    """The dictionary entries a batch uses, in the order of their first row (a hash pass
    in Arrow); the null entry (``entries - 1``) last if a row is null."""
    import pyarrow.compute as pc

    first_seen = pc.unique(array.indices).drop_null().to_numpy(zero_copy_only=False)
    used = np.asarray(first_seen, dtype=np.int64)
    return np.append(used, entries - 1) if array.null_count else used


def _flag_codes(array: pa.Array) -> np.ndarray:
    """A boolean column as flag codes (int8): True 0, False 1, null -1 (vectorised)."""
    values = np.asarray(array.fill_null(True).to_numpy(zero_copy_only=False), dtype=bool)
    codes = (~values).view(np.int8)  # True 0, False 1 without a copy
    if array.null_count:
        codes[np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = -1
    return codes


@dataclass
class _Column:
    """A contract column being scanned: its registry, last lookup, failures and notes."""

    spec: ColumnSpec
    source: str
    registry: Registry
    lookup: _Lookup | None = None
    failures: list[Failure] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=dict)
    bare_rows: int = 0
    not_gss_rows: int = 0
    not_gss_values: set[str] = field(default_factory=set)
    not_gss_lines: list[int] = field(default_factory=list)

    def codes(self, array: pa.Array, offset: int, wanted: bool = True) -> np.ndarray | None:
        """The batch's codes (-1 missing), checking every used value and required rows;
        None when not ``wanted`` (only checked: no row is looked at when every value of
        the batch's dictionary is valid and no required value is missing).
        """
        if pa.types.is_boolean(array.type) and self.spec.type == "flag":
            if not wanted and (self.spec.nullable or not array.null_count):
                return None
            codes = _flag_codes(array)
            self._required(codes, offset, None)
            return codes
        array = _dictionary(array)
        if self.lookup is None or not self.lookup.dictionary.equals(array.dictionary):
            self.lookup = _Lookup.of(self.spec, self.registry, array.dictionary)
        look = self.lookup
        clean = look.clean(self.spec.nullable, array.null_count)
        if not wanted and clean:
            return None
        idx = _indices(array)
        if clean and look.numbered.all():  # nothing to number, check or note: codes only
            result: np.ndarray = look.codes[idx]
            return result
        used = _used(array, len(look.codes))
        look.number(self.registry, used)
        codes = look.codes[idx]
        self._notes(idx, look, used, offset)
        if look.bad[used].any():  # (``used`` lists entries: indexing works as with a mask)
            rows = np.flatnonzero(look.bad[idx])
            shown = [look.shown[i] for i in idx[rows[:MAX_LISTED]]]
            self._add(rows, offset, self.spec.rule(), shown)
        self._required(codes, offset, look.bad[idx])
        return codes if wanted else None

    def _required(self, codes: np.ndarray, offset: int, bad: np.ndarray | None) -> None:
        """Rows missing a value the contract requires (``bad`` rows are failures already)."""
        if self.spec.nullable:
            return
        missing = codes < 0
        if bad is not None:
            missing &= ~bad
        if missing.any():
            rows = np.flatnonzero(missing)
            self._add(rows, offset, REQUIRED, [""] * min(len(rows), MAX_LISTED))

    def _add(self, rows: np.ndarray, offset: int, rule: str, shown: list[str]) -> None:
        """Failures for ``rows`` (0-based in the batch): the first ``MAX_LISTED`` per rule."""
        room = max(MAX_LISTED - self.counted.get(rule, 0), 0)
        lines = rows[:room] + offset + FIRST_LINE
        self.failures += [
            Failure(int(line), self.spec.name, value, rule)
            for line, value in zip(lines, shown, strict=False)
        ]
        self.counted[rule] = self.counted.get(rule, 0) + len(rows)

    def _notes(self, idx: np.ndarray, look: _Lookup, used: np.ndarray, offset: int) -> None:
        """Rows read with a note: bare years, area codes that are not GSS codes."""
        if look.bare[used].any():
            self.bare_rows += int(look.bare[idx].sum())
        if look.not_gss[used].any():
            rows = np.flatnonzero(look.not_gss[idx])
            self.not_gss_rows += len(rows)
            shown = (look.shown[i] for i in np.unique(idx[rows]))
            self.not_gss_values |= {_SPACE.sub(" ", v.strip()).upper() for v in shown}
            self.not_gss_lines += (rows[:5] + offset + FIRST_LINE).tolist()

    def overflow(self) -> list[Failure]:
        """One failure per rule saying how many more rows break it than are listed."""
        return [
            Failure(None, self.spec.name, "", f"{rule} ({n - MAX_LISTED:,} more row(s))")
            for rule, n in self.counted.items()
            if n > MAX_LISTED
        ]


# --- scanning a file --------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One record batch as codes: ``offset`` is its first row (0-based) in the file."""

    offset: int
    rows: int
    codes: dict[str, np.ndarray]


class Scan:
    """A Parquet file of ``kind`` read in batches, validated against its contract.

    ``columns``: contract name -> the file's name (``--column NEW=OLD``); other headers are
    matched by their key as ``load`` does. ``registries``: shared between the files of one
    table, so the same value gets the same code in each.
    """

    def __init__(
        self,
        path: Path | str,
        kind: str,
        columns: Mapping[str, str] | None = None,
        registries: dict[str, Registry] | None = None,
        batch_rows: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.kind = kind
        self.contract: Contract = contract(kind)
        self.registries = registries if registries is not None else {}
        self.batch_rows = batch_rows or BATCH_ROWS
        self.rows = 0
        self.notes: list[str] = []
        self._reader, self.names = _open(self.path, columns or {}, self.contract)

    @property
    def present(self) -> tuple[str, ...]:
        """Contract (and other) column names of the file, after renaming."""
        return tuple(self.names)

    def registry(self, name: str) -> Registry:
        """The registry of a column (a column outside the contract is text)."""
        if name not in self.registries:
            specs = {s.name: s for s in self.contract.columns}
            spec = specs.get(name, ColumnSpec(name, "text", False, True))
            self.registries[name] = Registry.of(spec)
        return self.registries[name]

    def batches(self, wanted: Sequence[str]) -> Iterator[Batch]:
        """Every batch with the codes of the ``wanted`` columns; raises
        :class:`ValidationError` after the last batch if any value broke a rule (so a
        caller's counts are never used from a file that fails).
        """
        from unmetneed.load import column_failures

        missing = [w for w in wanted if w not in self.names]
        if missing:
            raise UsageError(f"{self.path} has no column {', '.join(missing)}")
        checked = [s.name for s in self.contract.columns if s.name in self.names]
        read = [*checked, *(w for w in wanted if w not in checked)]
        cols = {
            name: _Column(self._spec(name), self.names[name], self.registry(name)) for name in read
        }
        failures = column_failures(list(self.names), self.contract)
        offset = 0
        for batch in self._read([self.names[n] for n in read]):
            codes = {
                name: col.codes(batch.column(i), offset, name in wanted)
                for i, (name, col) in enumerate(cols.items())
            }
            yield Batch(offset, batch.num_rows, {w: _must(codes[w]) for w in wanted})
            offset += batch.num_rows
        self.rows = offset
        for col in cols.values():
            failures += [*col.failures, *col.overflow()]
            self.notes += _column_notes(col)
        if failures:
            order = {name: i for i, name in enumerate(self.contract.names)}
            failures.sort(key=lambda f: (f.line or 0, order.get(f.column, 99)))
            raise ValidationError(self.path, self.kind, failures)

    def _spec(self, name: str) -> ColumnSpec:
        """The column's rules in this scan's contract (a registry may be another kind's)."""
        specs = {s.name: s for s in self.contract.columns}
        return specs.get(name, self.registry(name).spec)

    def _read(self, sources: list[str]) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._reader(sources, self.batch_rows)
        except NotPlainError:
            raise
        except (OSError, pa.ArrowException) as exc:
            raise InputError(
                f"{self.path}: could not be read ({type(exc).__name__}: {exc})"
            ) from None


def _must(codes: np.ndarray | None) -> np.ndarray:
    assert codes is not None  # a wanted column always gives its codes
    return codes


def _column_notes(col: _Column) -> list[str]:
    """``load``'s notes for the rows of a column read with a note."""
    from unmetneed.load import bare_year_note, not_gss_note

    notes = []
    if col.bare_rows:
        notes.append(bare_year_note(col.bare_rows))
    if col.not_gss_rows:
        values = sorted(col.not_gss_values)
        notes.append(not_gss_note(col.spec.name, col.not_gss_rows, values, col.not_gss_lines))
    return notes


Reader = Callable[[list[str], int], Iterator[pa.RecordBatch]]


def _open(path: Path, columns: Mapping[str, str], c: Contract) -> tuple[Reader, dict[str, str]]:
    """The file's reader (the named columns in record batches, text as dictionaries) and
    contract name -> file name."""
    import pandas as pd

    from unmetneed.load import rename_columns

    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        if path.suffix.lower() in CSV_SUFFIXES:
            reader, names = _csv_reader(path)
        else:
            reader, names = _parquet_reader(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: could not be read ({type(exc).__name__}: {exc})") from None
    renamed = rename_columns(pd.DataFrame(columns=names), columns, c, path)
    return reader, {str(new): str(old) for new, old in zip(renamed.columns, names, strict=True)}


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

    def read(sources: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        yield from dataset.to_batches(
            columns=sources,
            batch_size=batch_rows,
            batch_readahead=READAHEAD,  # Arrow's default (16) holds 16 batches at once
            fragment_readahead=1,
        )

    return read, list(schema.names)


def _csv_reader(path: Path) -> tuple[Reader, list[str]]:
    """A plain CSV file (header on line 1) through ``pyarrow.csv.open_csv``: every cell as
    text (dictionary-encoded), ``CSV_BLOCK_BYTES`` of the file per batch, so row i is line
    i + 2. A blank line, a line of another width or a value running over a line break
    raises :class:`NotPlainError` (``load`` reads such a file whole and says what it skipped)."""
    import pyarrow.csv as pacsv

    from unmetneed.load import csv_dialect, plain_csv

    names = plain_csv(path)
    if names is None:
        raise NotPlainError(str(path))
    sep, encoding = csv_dialect(path)
    text = pa.dictionary(pa.int32(), pa.string())

    def read(sources: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        try:
            for batch in _batches(sources):
                if _blank_rows(batch):  # a blank line (``load`` leaves it out, with a note)
                    raise NotPlainError(f"{path}: a blank line")
                yield batch
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
        blank &= entries[_indices(column)]
        if not blank.any():
            return False
    return bool(blank.any())


# --- counting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counted:
    """People counted by key: ``keys`` (keys x key columns, codes, -1 missing) with
    ``sizes`` (people per key), ``first`` (each key's first row, 0-based) and, per
    variable, ``counts`` (keys x (codes + 1): people per key and code, missing last).
    """

    keys: np.ndarray
    sizes: np.ndarray
    first: np.ndarray
    counts: tuple[np.ndarray, ...]


@dataclass
class Counter:
    """Counts of people by key columns and, per key, by each variable's codes, added up
    batch by batch. Codes are given with their number of codes (a text column's grows).
    ``first_rows``: also keep each key's first row (0-based in the file).
    """

    n_keys: int
    n_variables: int
    first_rows: bool = False
    _seen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _seen_dims: tuple[int, ...] = ()
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]] = field(
        default_factory=list
    )

    def add(
        self,
        offset: int,
        keys: Sequence[tuple[np.ndarray, int]],
        variables: Sequence[tuple[np.ndarray, int]] = (),
    ) -> None:
        """Count one batch: ``keys`` and ``variables`` as (codes, number of codes) pairs."""
        dims = tuple(size + 1 for _, size in keys)
        flat = _ravel([codes for codes, _ in keys], dims) if keys else None
        n = len(keys[0][0]) if keys else len(variables[0][0])
        occupied, inverse, sizes = _dense_groups(flat, dims, n)
        key_codes = (
            np.stack(np.unravel_index(occupied, dims), axis=1) - 1
            if keys
            else np.zeros((1, 0), np.int64)
        )
        first = np.zeros(len(occupied), dtype=np.int64)
        if self.first_rows:  # each key's first row, for line numbers in messages
            first = self._first(occupied, dims, inverse, n)
        counts = []
        for codes, size in variables:
            width = size + 1
            flat_v = inverse * width + codes % width  # missing (-1) is the last column
            counts.append(np.bincount(flat_v, minlength=len(occupied) * width).reshape(-1, width))
        self.parts.append((key_codes.astype(np.int64), sizes, first + offset, counts))

    def _first(
        self, occupied: np.ndarray, dims: tuple[int, ...], inverse: np.ndarray, n: int
    ) -> np.ndarray:
        """First row (0-based in the batch) of each key not seen in an earlier batch; ``n``
        for the others (an earlier batch has their first row): after the first batches
        every key has been seen and no row is looked at."""
        seen = self._seen_in(dims)
        new = ~seen[occupied] if seen is not None else np.ones(len(occupied), dtype=bool)
        first = np.full(len(occupied), n, dtype=np.int64)
        if new.any():
            rows = np.flatnonzero(new[inverse])
            np.minimum.at(first, inverse[rows], rows)
            if seen is not None:
                seen[occupied[new]] = True
        return first

    def _seen_in(self, dims: tuple[int, ...]) -> np.ndarray | None:
        """Which keys (numbered in ``dims``) earlier batches had; None when too many to
        mark (then every batch's first rows are worked out)."""
        possible = int(np.prod(dims, dtype=np.float64))
        if possible > DENSE_KEYS:
            return None
        if self._seen_dims != dims:  # a text column gained values: number the keys again
            self._seen = np.zeros(possible, dtype=bool)
            for keys, *_ in self.parts:
                self._seen[np.ravel_multi_index(tuple((keys + 1).T), dims)] = True
            self._seen_dims = dims
        return self._seen

    def result(
        self,
        remaps: Sequence[np.ndarray | None],
        widths: Sequence[int],
        var_remaps: Sequence[np.ndarray | None] = (),
    ) -> Counted:
        """The counts of every batch added up, codes in their final order.

        ``remaps``: per key column, final code of each code (:meth:`Registry.remap`) or
        None; ``widths``: each variable's final number of codes; ``var_remaps`` likewise.
        """
        if not self.parts:
            empty = np.zeros(0, dtype=np.int64)
            return Counted(
                np.zeros((0, self.n_keys), np.int64),
                empty,
                empty,
                tuple(np.zeros((0, w + 1), np.int64) for w in widths),
            )
        keys = np.concatenate([p[0] for p in self.parts])
        for j, remap in enumerate(remaps):
            if remap is not None:
                keys[:, j] = remap[keys[:, j]]
        dims = tuple(int(keys[:, j].max(initial=-1)) + 2 for j in range(keys.shape[1]))
        flat = (
            np.ravel_multi_index(tuple(keys[:, j] + 1 for j in range(keys.shape[1])), dims)
            if dims
            else np.zeros(len(keys), np.int64)
        )
        unique, inverse = np.unique(flat, return_inverse=True)
        sizes = np.bincount(
            inverse, weights=np.concatenate([p[1] for p in self.parts]), minlength=len(unique)
        )
        first = np.full(len(unique), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, inverse, np.concatenate([p[2] for p in self.parts]))
        out_keys = (
            np.stack(np.unravel_index(unique, dims), axis=1) - 1
            if dims
            else np.zeros((len(unique), 0), np.int64)
        )
        counts = tuple(
            _sum_rows(
                self.parts,
                v,
                inverse,
                len(unique),
                widths[v],
                var_remaps[v] if var_remaps else None,
            )
            for v in range(self.n_variables)
        )
        return Counted(out_keys.astype(np.int64), sizes.astype(np.int64), first, counts)


def _ravel(codes: Sequence[np.ndarray], dims: tuple[int, ...]) -> np.ndarray:
    """One key per row from codes (-1 missing, stored as 0) in ``dims``, in place."""
    small = np.prod(dims, dtype=np.float64) < 2**31  # int32 keys: half the memory traffic
    flat: np.ndarray = codes[0].astype(np.int32 if small else np.int64) + 1
    for column, dim in zip(codes[1:], dims[1:], strict=True):
        flat *= dim
        flat += column
        flat += 1
    return flat


def _dense_groups(
    flat: np.ndarray | None, dims: tuple[int, ...], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The keys that occur, each row's key number and people per key (one bincount when
    the keys are few enough for a look-up array, else a sort)."""
    if flat is None:
        return np.zeros(1, np.int64), np.zeros(n, np.int64), np.array([n], np.int64)
    possible = int(np.prod(dims, dtype=np.float64))
    if possible > DENSE_KEYS:
        occupied, inverse, sizes = np.unique(flat, return_inverse=True, return_counts=True)
        return occupied, inverse.astype(np.int64), sizes.astype(np.int64)
    per_key = np.bincount(flat, minlength=possible)
    occupied = np.flatnonzero(per_key)
    number = np.zeros(possible, dtype=np.int64)
    number[occupied] = np.arange(len(occupied))
    return occupied, number[flat], per_key[occupied].astype(np.int64)


def _sum_rows(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]],
    v: int,
    inverse: np.ndarray,
    n_keys: int,
    width: int,
    remap: np.ndarray | None,
) -> np.ndarray:
    """One variable's per-batch counts added up by final key, codes remapped, missing last."""
    out = np.zeros((n_keys, width + 1), dtype=np.int64)
    start = 0
    for part in parts:
        block = part[3][v]
        rows = inverse[start : start + len(block)]
        start += len(block)
        size = block.shape[1] - 1
        target = np.append(remap[:size] if remap is not None else np.arange(size), width)
        np.add.at(out, (rows[:, None], target[None, :]), block)
    return out


# --- a record file collapsed to people per distinct combination --------------------------------

PEOPLE = "_people"  # people per row of a collapsed frame (a row of a record file is one)


def collapse(
    path: Path | str, kind: str, keep: Sequence[str], columns: Mapping[str, str] | None = None
) -> Any:
    """A record file as a :class:`unmetneed.load.Loaded` of people per distinct combination
    of the ``keep`` columns it has: typed as ``load`` types them, plus ``PEOPLE`` (people
    per row); each row's index is the first row (0-based) of its combination, so line
    numbers in messages are the file's. Rows: at most the combinations, whatever the file.
    """
    from unmetneed.load import Loaded

    scan = Scan(path, kind, columns)
    names = [k for k in keep if k in scan.present]
    counter = Counter(len(names), 0, first_rows=True)
    for batch in scan.batches(names):
        pairs = [(batch.codes[n], scan.registry(n).size) for n in names]
        counter.add(batch.offset, pairs)
    registries = [scan.registry(n) for n in names]
    counted = counter.result([r.remap() for r in registries], [])
    frame = _typed_frame(registries, counted)
    return Loaded(frame, Path(path), kind, scan.notes, None)


def _typed_frame(registries: Sequence[Registry], counted: Counted) -> Any:
    """The collapsed frame: each column typed as ``load.type_frame`` types it, sorted by
    first row, indexed by it."""
    import pandas as pd

    order = np.argsort(counted.first, kind="stable")
    data: dict[str, Any] = {}
    for j, reg in enumerate(registries):
        codes = counted.keys[order, j]
        cats = list(reg.categories())
        if reg.spec.type == "flag":
            values = np.asarray([True, False, None], dtype=object)[np.where(codes < 0, 2, codes)]
            data[reg.spec.name] = pd.array(values.tolist(), dtype="boolean")
        else:
            ordered = reg.spec.type == "period"
            dtype = pd.CategoricalDtype(cats, ordered=ordered)
            data[reg.spec.name] = pd.Categorical.from_codes(codes, dtype=dtype)
    data[PEOPLE] = counted.sizes[order]
    return pd.DataFrame(data, index=pd.Index(counted.first[order]))
