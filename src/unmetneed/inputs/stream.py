"""Validate and count an input in record batches, whatever its format, never holding it whole.

A national archive of quarterly extracts is tens of millions of rows. A reader per format
(``unmetneed.inputs.readers``) yields Arrow record batches: Parquet and plain CSV in blocks, Excel,
SPSS and CSV with titles or notes read whole and converted in slices. Every column is read
dictionary-encoded, so each rule of the contract (code lists, flags, periods, GSS codes,
counts, required values) is checked once per distinct value by the one validator
(``unmetneed.inputs.validate``), and the rows are only ever integer codes: counted per batch with
``numpy.bincount`` and the counts added up (counts are additive). Memory is one batch plus
the counts, whatever the rows.

:class:`Scan` is the one path: ``load`` collects its batches into a frame
(:func:`read_frame`), ``compare`` and ``gap`` count them (:class:`Counter`,
:func:`collapse`). Failures name the line a person sees in the file (header = line 1: data
row i of a file read in blocks is line i + 2; a table cut out of a sheet or a CSV with
notes keeps each row's line). ``scan`` validates every column of the contract the file has,
not only those counted, so every consumer gives the same verdict.

Codes: a column's values are numbered by a :class:`Registry`. Code-list columns use the
list's order, flags ``True`` = 0 and ``False`` = 1, text (areas, periods, GSS codes) the
order first seen, put in sorted order by :meth:`Registry.remap` at the end. Missing is -1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from unmetneed.counting import groups_counted
from unmetneed.errors import Failure, InputError, UsageError, ValidationError
from unmetneed.inputs.readers import NotPlainError, Positions, dictionary_indices
from unmetneed.inputs.schemas import ColumnSpec, Contract, contract
from unmetneed.inputs.validate import (
    REQUIRED,
    Distinct,
    check_distinct,
    frame_rule_failures,
    normalise_distinct,
    show,
    with_missing,
)

BATCH_ROWS = 1 << 18
MAX_LISTED = 1000  # failures listed per column and rule; the rest are counted in one line
DENSE_KEYS = 1 << 22  # up to this many possible keys a batch is counted by bincount
FIRST_LINE = 2  # data row 0 is line 2 (the header is line 1)
_SPACE = re.compile(r"\s+")


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
@dataclass
class _Lookup:
    """A batch dictionary translated once: per entry (and a last entry for null) its
    normalised value (``distinct``), its code (-1 missing or not yet numbered), whether it
    breaks the rule, is missing where the contract requires a value, or carries a note.
    Entries are numbered in the registry only once a row uses them.
    """

    dictionary: pa.Array
    distinct: Distinct
    codes: np.ndarray
    numbered: np.ndarray
    required: np.ndarray
    bad: np.ndarray
    shown: list[str]

    @classmethod
    def of(cls, spec: ColumnSpec, registry: Registry, dictionary: pa.Array) -> _Lookup:
        """Every entry of ``dictionary`` normalised and checked by the one validator
        (``unmetneed.inputs.validate``), the null entry last (none numbered yet)."""
        d = normalise_distinct(spec, with_missing(dictionary.to_pylist()))
        bad, required = check_distinct(spec, d.values)
        missing = np.asarray(pd.isna(pd.Series(d.values, dtype=object)), dtype=bool)
        look = cls(
            dictionary,
            d,
            np.full(len(d.values), -1, dtype=np.int64),
            missing | bad,
            required,
            bad,
            d.shown.tolist(),
        )
        if registry.fixed:  # a code list: numbering an unused value adds no category
            look.number(registry, np.ones(len(d.values), dtype=bool))
        return look

    def __post_init__(self) -> None:
        # what ``clean`` needs, worked out once per dictionary rather than once per batch
        d = self.distinct
        self._noted = bool(self.bad.any() or d.bare.any() or d.not_gss.any())
        self._has_blank = bool(self.required[:-1].any())
        self._null_missing = bool(self.required[-1])

    def clean(self, nulls: int) -> bool:
        """Whether no row of a batch with this dictionary (``nulls`` rows null) can fail
        or carry a note."""
        return not self._noted and not self._has_blank and not (nulls and self._null_missing)

    def number(self, registry: Registry, used: np.ndarray) -> None:
        """Give a code to every used entry that has none yet, in the order of ``used``
        (entries, first used first; or a boolean mask)."""
        entries = np.flatnonzero(used) if used.dtype == bool else used
        values = self.distinct.values
        for i in entries[~self.numbered[entries]]:
            self.codes[i] = registry.code(values[i])
            self.numbered[i] = True


# --- one column of one batch ------------------------------------------------------------------


def _dictionary(array: pa.Array) -> pa.Array:
    """The column as a dictionary array (encoded here when the file did not)."""
    import pyarrow.compute as pc

    return array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)


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


@dataclass(frozen=True)
class _Where:
    """Where a batch's rows are in the file: ``offset`` is its first row (0-based) when
    ``positions`` is None (rows in order), else each row's position (line - 2)."""

    offset: int
    positions: Positions

    def lines(self, rows: np.ndarray) -> np.ndarray:
        """The file lines of ``rows`` (0-based in the batch)."""
        at = rows + self.offset if self.positions is None else self.positions[rows]
        return np.asarray(at, dtype=np.int64) + FIRST_LINE


CODES, ENTRIES = "codes", "entries"  # what a column of a batch is read as


@dataclass
class _Column:
    """A contract column being scanned: its registry, last lookup, failures and notes."""

    spec: ColumnSpec
    source: str
    registry: Registry
    listed: int | None = MAX_LISTED  # failures listed per rule (None: every one)
    lookup: _Lookup | None = None
    failures: list[Failure] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=dict)
    bare_rows: int = 0
    not_gss_rows: int = 0
    not_gss_values: set[str] = field(default_factory=set)
    not_gss_lines: list[int] = field(default_factory=list)

    def read(self, array: pa.Array, where: _Where, want: str | None) -> Any:
        """The batch's column checked (every used value, required rows), read as ``want``:
        ``CODES`` (-1 missing), ``ENTRIES`` (the normalised distinct values and each row's
        entry, null last) or None (only checked: no row is looked at when every value of
        the batch's dictionary is valid and no required value is missing).
        """
        if want != ENTRIES and pa.types.is_boolean(array.type) and self.spec.type == "flag":
            if want is None and (self.spec.nullable or not array.null_count):
                return None
            codes = _flag_codes(array)
            if not self.spec.nullable:
                self._required(codes < 0, where)
            return codes if want else None
        array = _dictionary(array)
        if self.lookup is None or not self.lookup.dictionary.equals(array.dictionary):
            self.lookup = _Lookup.of(self.spec, self.registry, array.dictionary)
        look = self.lookup
        clean = look.clean(array.null_count)
        if want is None and clean:
            return None
        idx = dictionary_indices(array)
        if want == CODES and clean and look.numbered.all():  # nothing to number or check
            result: np.ndarray = look.codes[idx]
            return result
        used = _used(array, len(look.codes))
        if want == CODES:
            look.number(self.registry, used)
        if not clean:
            self._notes(idx, look, used, where)
            if look.bad[used].any():  # (``used`` lists entries: indexes as a mask would)
                rows = np.flatnonzero(look.bad[idx])
                shown = [look.shown[i] for i in idx[rows[: self._room(self.spec.rule())]]]
                self._add(rows, where, self.spec.rule(), shown)
            self._required(look.required[idx], where)
        if want == ENTRIES:
            return look.distinct, idx
        return look.codes[idx] if want else None

    def _required(self, missing: np.ndarray, where: _Where) -> None:
        """Rows missing a value the contract requires (``missing``: per row)."""
        if not missing.any():
            return
        rows = np.flatnonzero(missing)
        self._add(rows, where, REQUIRED, [""] * min(len(rows), self._room(REQUIRED)))

    def _room(self, rule: str) -> int:
        """Failures of ``rule`` still to be listed."""
        if self.listed is None:
            return 1 << 62
        return max(self.listed - self.counted.get(rule, 0), 0)

    def _add(self, rows: np.ndarray, where: _Where, rule: str, shown: list[str]) -> None:
        """Failures for ``rows`` (0-based in the batch): the first ``listed`` per rule."""
        room = self._room(rule)
        lines = where.lines(rows[:room])
        self.failures += [
            Failure(int(line), self.spec.name, value, rule)
            for line, value in zip(lines, shown, strict=False)
        ]
        self.counted[rule] = self.counted.get(rule, 0) + len(rows)

    def _notes(self, idx: np.ndarray, look: _Lookup, used: np.ndarray, where: _Where) -> None:
        """Rows read with a note: bare years, area codes that are not GSS codes."""
        d = look.distinct
        if d.bare[used].any():
            self.bare_rows += int(d.bare[idx].sum())
        if d.not_gss[used].any():
            rows = np.flatnonzero(d.not_gss[idx])
            self.not_gss_rows += len(rows)
            shown = (look.shown[i] for i in np.unique(idx[rows]))
            self.not_gss_values |= {_SPACE.sub(" ", v.strip()).upper() for v in shown}
            if len(self.not_gss_lines) < 5:
                self.not_gss_lines += where.lines(rows[:5]).tolist()

    def overflow(self) -> list[Failure]:
        """One failure per rule saying how many more rows break it than are listed."""
        if self.listed is None:
            return []
        return [
            Failure(None, self.spec.name, "", f"{rule} ({n - self.listed:,} more row(s))")
            for rule, n in self.counted.items()
            if n > self.listed
        ]


# --- scanning a file --------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One record batch: ``offset`` is its first row (0-based) in the table read,
    ``positions`` each row's position in the file (line - 2; None: ``offset`` onwards),
    ``codes`` the codes of the columns wanted as codes, ``entries`` per column wanted as
    values its normalised distinct values and each row's entry, ``raw`` other columns as
    read."""

    offset: int
    rows: int
    codes: dict[str, np.ndarray]
    positions: Positions = None
    entries: dict[str, tuple[Distinct, np.ndarray]] = field(default_factory=dict)
    raw: dict[str, pa.Array] = field(default_factory=dict)

    def lines(self, rows: np.ndarray) -> np.ndarray:
        """The file lines of ``rows`` (0-based in the batch)."""
        return _Where(self.offset, self.positions).lines(rows)


class Scan:
    """An input of ``kind`` read in batches (``sources.open_source``), validated against its
    contract.

    ``columns``: contract name -> the file's name (``--column NEW=OLD``); other headers are
    matched by their key as ``load`` does. ``registries``: shared between the files of one
    table, so the same value gets the same code in each. ``how`` (``sources.InputOptions``),
    ``substance`` and ``whole`` say how the file is read; ``source``: one opened already.
    ``list_all``: every failing row listed (else ``MAX_LISTED`` per column and rule).
    """

    def __init__(
        self,
        path: Path | str,
        kind: str,
        columns: Mapping[str, str] | None = None,
        registries: dict[str, Registry] | None = None,
        batch_rows: int | None = None,
        *,
        how: Any = None,
        substance: str | None = None,
        whole: bool = False,
        source: Any = None,
        list_all: bool = False,
    ) -> None:
        from unmetneed.inputs.sources import open_source

        self.path = Path(path)
        self.kind = kind
        self.contract: Contract = contract(kind)
        self.registries = registries if registries is not None else {}
        self.batch_rows = batch_rows or BATCH_ROWS
        self.rows = 0
        self.listed = None if list_all else MAX_LISTED
        self.source = source or open_source(self.path, kind, columns, how, substance, whole)
        self.names: dict[str, str] = self.source.names
        self.notes: list[str] = list(self.source.notes)

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

    def batches(
        self, wanted: Sequence[str], entries: Sequence[str] = (), raw: Sequence[str] = ()
    ) -> Iterator[Batch]:
        """Every batch with the codes of the ``wanted`` columns (the normalised values of
        the ``entries`` columns, the ``raw`` columns as read); raises
        :class:`ValidationError` after the last batch if any value broke a rule (so a
        caller's counts are never used from a file that fails).
        """
        from unmetneed.inputs.sources import column_failures

        missing = [w for w in (*wanted, *entries, *raw) if w not in self.names]
        if missing:
            raise UsageError(f"{self.path} has no column {', '.join(missing)}")
        checked = [s.name for s in self.contract.columns if s.name in self.names]
        read = [*checked, *(w for w in (*wanted, *entries) if w not in checked)]
        cols = {name: self._column(name) for name in dict.fromkeys(read)}
        want = {**dict.fromkeys(cols), **dict.fromkeys(wanted, CODES)}
        want.update(dict.fromkeys(entries, ENTRIES))
        failures = column_failures(list(self.names), self.contract)
        offset = 0
        sources = [self.names[n] for n in (*cols, *raw)]
        for batch, positions in self._read(sources):
            where = _Where(offset, positions)
            out = {
                name: col.read(batch.column(i), where, want[name])
                for i, (name, col) in enumerate(cols.items())
            }
            yield Batch(
                offset,
                batch.num_rows,
                {w: out[w] for w in wanted},
                positions,
                {e: out[e] for e in entries},
                {r: batch.column(len(cols) + i) for i, r in enumerate(raw)},
            )
            offset += batch.num_rows
        self.rows = offset
        for col in cols.values():
            failures += [*col.failures, *col.overflow()]
            self.notes += _column_notes(col)
        if failures:
            raise ValidationError(self.path, self.kind, self._in_order(failures))

    def _in_order(self, failures: list[Failure]) -> list[Failure]:
        """Failures once each, by line (file-wide ones first) and the contract's order."""
        order = {name: i for i, name in enumerate(self.contract.names)}
        unique = list(dict.fromkeys(failures))
        return sorted(unique, key=lambda f: (f.line or 0, order.get(f.column, 99)))

    def _column(self, name: str) -> _Column:
        """A column to scan with the rules of this scan's contract (a registry may be
        another kind's)."""
        specs = {s.name: s for s in self.contract.columns}
        spec = specs.get(name, self.registry(name).spec)
        return _Column(spec, self.names[name], self.registry(name), self.listed)

    def _read(self, sources: list[str]) -> Iterator[tuple[pa.RecordBatch, Positions]]:
        try:
            yield from self.source.read(sources, self.batch_rows)
        except NotPlainError:
            raise
        except (OSError, pa.ArrowException) as exc:
            raise InputError(
                f"{self.path}: could not be read ({type(exc).__name__}: {exc})"
            ) from None


def _column_notes(col: _Column) -> list[str]:
    """The notes for the rows of a column read with a note."""
    from unmetneed.inputs.sources import bare_year_note, not_gss_note

    notes = []
    if col.bare_rows:
        notes.append(bare_year_note(col.bare_rows))
    if col.not_gss_rows:
        values = sorted(col.not_gss_values)
        notes.append(not_gss_note(col.spec.name, col.not_gss_rows, values, col.not_gss_lines))
    return notes


# --- a whole input as a frame -----------------------------------------------------------------


def read_frame(scan: Scan) -> tuple[pd.DataFrame, list[Failure]]:
    """Every row of ``scan`` with its contract columns normalised by the validator (values
    matching no spelling kept as in the file) and every failure, rules across columns
    (``lower`` above ``estimate``...) included; other columns as read. Indexed by each
    row's position (line - 2); a count column adds ``count_suppressed`` and ``count_upper``
    (the bound of ``<N``)."""
    names = list(scan.present)
    checked = [n for n in names if n in scan.contract.names]
    others = [n for n in names if n not in checked]
    parts: dict[str, list[Any]] = {n: [] for n in [*names, "count_suppressed", "count_upper"]}
    positions: list[np.ndarray] = []
    failures: list[Failure] = []
    try:
        for batch in scan.batches([], checked, others):
            rows = np.arange(batch.offset, batch.offset + batch.rows)
            positions.append(rows if batch.positions is None else batch.positions)
            for name, (d, idx) in batch.entries.items():
                parts[name].append(d.values[idx])
                if scan.contract.column(name).type == "count":
                    parts["count_suppressed"].append(d.suppressed[idx])
                    parts["count_upper"].append(d.upper.to_numpy(object)[idx])
            for name, array in batch.raw.items():
                parts[name].append(_as_read(array))
    except ValidationError as exc:
        failures = exc.failures
    index = pd.Index(np.concatenate(positions) if positions else np.zeros(0, np.int64))
    data: dict[str, Any] = {n: _joined(parts[n]) for n in names}
    if "count" in checked:
        data["count_suppressed"] = _joined(parts["count_suppressed"]).astype(bool)
        data["count_upper"] = pd.array(_joined(parts["count_upper"]), dtype="Int64")
    frame = pd.DataFrame(data, index=index)
    lines = index.to_numpy() + FIRST_LINE
    for row, column, rule in frame_rule_failures(frame, scan.contract):
        raw = frame[column].iloc[row] if column in frame else ""
        failures.append(Failure(int(lines[row]), column, show(raw), scan.contract.rules[rule]))
    return frame, scan._in_order(failures)


def _as_read(array: pa.Array) -> np.ndarray:
    """A column outside the contract as read (text decoded from a dictionary)."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return np.asarray(array.to_pandas(), dtype=object)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """One column's batches end to end (an object column when there are none)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype=object)


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
        positions: Positions = None,
    ) -> None:
        """Count one batch: ``keys`` and ``variables`` as (codes, number of codes) pairs;
        its rows are ``offset`` onwards, or at ``positions`` (``Batch.positions``)."""
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
        if positions is not None:  # row n (a key seen before) is past the batch's last
            at = np.append(positions, positions[-1] + 1 if len(positions) else offset)[first]
        else:
            at = first + offset
        self.parts.append((key_codes.astype(np.int64), sizes, at, counts))

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
    """The keys that occur, each row's key number and people per key (the counting kernel,
    :func:`unmetneed.counting.groups_counted`: one pass)."""
    if flat is None:
        return np.zeros(1, np.int64), np.zeros(n, np.int64), np.array([n], np.int64)
    return groups_counted(flat, int(np.prod(dims, dtype=np.float64)))


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
    path: Path | str,
    kind: str,
    keep: Sequence[str],
    columns: Mapping[str, str] | None = None,
    how: Any = None,
    whole: bool = False,
) -> Any:
    """A record file (any format) as a :class:`unmetneed.inputs.sources.Loaded` of people per
    distinct combination of the ``keep`` columns it has: typed as ``load`` types them, plus
    ``PEOPLE`` (people per row); each row's index is the position (line - 2) of its
    combination's first row, so line numbers in messages are the file's. Rows: at most the
    combinations, whatever the file. ``how`` and ``whole``: as :class:`Scan` reads it.
    """
    from unmetneed.inputs.sources import Loaded

    scan = Scan(path, kind, columns, how=how, whole=whole)
    names = [k for k in keep if k in scan.present]
    counter = Counter(len(names), 0, first_rows=True)
    for batch in scan.batches(names):
        pairs = [(batch.codes[n], scan.registry(n).size) for n in names]
        counter.add(batch.offset, pairs, positions=batch.positions)
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
