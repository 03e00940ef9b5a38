"""Count a comparison from record files of any format in batches (``unmetneed.inputs.stream``).

``tally_files`` gives the :class:`unmetneed.tables.compare.Tally` that ``table.tally_frames``
gives for the same rows, without holding them: per batch, each within column and variable
becomes codes in its categories (``substance_cohort`` derived, age bands collapsed),
people are counted per cohort x within-group and per group x category with
``numpy.bincount``, and the counts of all batches added up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unmetneed.errors import OptionError, ValidationError
from unmetneed.inputs.codes import NOT_STATED, code_list
from unmetneed.inputs.schemas import contract
from unmetneed.inputs.stream import Batch, Counted, Counter, Registry, Scan
from unmetneed.inputs.variables import (
    FLAG_CATEGORIES,
    SUBSTANCE_COHORTS,
    AgeBands,
    Coded,
    source_columns,
    substance_cohort_codes,
)
from unmetneed.tables.compare.cohorts import require_columns, unlabelled
from unmetneed.tables.compare.groups import Groups
from unmetneed.tables.compare.inputs import COHORT_KINDS
from unmetneed.tables.compare.options import CompareOptions
from unmetneed.tables.compare.table import Tally

Codes = tuple[np.ndarray, int]  # codes (-1 missing) and how many codes there are


@dataclass(frozen=True)
class _Coder:
    """How one table column is coded from a batch: its codes, and at the end its
    categories (before ``not_stated`` is added for missing values) and final order."""

    name: str
    codes: Callable[[Batch], Codes]
    categories: Callable[[], tuple[str, ...]]
    remap: Callable[[], np.ndarray | None]


def _coder(
    name: str,
    scan_registry: Callable[[str], Registry],
    bands: AgeBands | None,
    first_seen: bool = False,
) -> _Coder:
    """The coder of a within column or variable, as ``compare.code_variable`` codes it
    (text in sorted order, or with ``first_seen`` in the order first seen)."""
    if name == "substance_cohort":
        return _Coder(name, _substance_cohort, lambda: SUBSTANCE_COHORTS, lambda: None)
    reg = scan_registry(name)
    if reg.spec.type == "flag":  # yes 0, no 1; not_stated (2) a category even if nobody
        return _Coder(name, lambda b: (b.codes[name], 3), lambda: FLAG_CATEGORIES, lambda: None)
    if reg.spec.type == "code":
        cats = tuple(str(c) for c in reg.values)
        if name == "age_band" and bands is not None:
            lookup = np.append(np.asarray(bands.source_to_band, dtype=np.int64), -1)
            labels = tuple(bands.labels)
            return _Coder(
                name, lambda b: (lookup[b.codes[name]], len(labels)), lambda: labels, lambda: None
            )
        return _Coder(name, lambda b: (b.codes[name], len(cats)), lambda: cats, lambda: None)
    return _Coder(
        name,
        lambda b: (b.codes[name], reg.size),
        lambda: tuple(str(v) for v in reg.categories(first_seen)),
        lambda: reg.remap(first_seen),
    )


def _substance_cohort(batch: Batch) -> Codes:
    """Substance cohort codes from the batch's drug group and crack flag codes: the rule
    (``compare.substance_cohort_codes``) worked out once per drug group x crack code pair,
    then looked up per row."""
    groups = len(code_list("drug_group").codes)
    dg, crack = np.meshgrid(np.arange(-1, groups), np.arange(-1, 2), indexing="ij")
    table = substance_cohort_codes(dg.ravel(), crack.ravel() >= 0, crack.ravel() == 0)
    pair = (batch.codes["drug_group"] + 1) * 3 + batch.codes["crack"] + 1
    return table[pair], len(SUBSTANCE_COHORTS)


@dataclass
class _Labels:
    """Rows without a cohort label (a one-file comparison): how many, first lines."""

    missing: int = 0
    lines: list[int] = field(default_factory=list)

    def check(self, batch: Batch) -> None:
        rows = np.flatnonzero(batch.codes["cohort"] < 0)
        self.missing += len(rows)
        self.lines += batch.lines(rows[:5]).tolist()

    def raise_if_missing(self) -> None:
        if self.missing:
            raise unlabelled(self.missing, self.lines)


def tally_files(
    files: Sequence[tuple[str | None, Path]],
    options: CompareOptions,
    bands: AgeBands | None,
    kind: str = "auto",
    columns: Mapping[str, str] | None = None,
    kinds: list[str] | None = None,
    how: Any = None,
    whole: bool = False,
) -> tuple[Tally, list[str]]:
    """The :class:`Tally` of record files (``(label, path)``; one ``(None, path)`` whose
    ``cohort`` column labels its rows) and the notes of reading them. ``kinds``, if given,
    receives the kind each file was read as (treatment or cohort). ``how`` and ``whole``:
    how each file is read (``stream.Scan``).
    """
    if kind not in COHORT_KINDS:
        raise OptionError("kind", kind, f"use one of {', '.join(COHORT_KINDS)}", quoted=True)
    within, variables = options.within_columns, options.variables
    registries: dict[str, Registry] = {}
    counter = Counter(len(within) + 1, len(variables))
    notes: list[str] = []
    read_as = kinds if kinds is not None else []
    for number, (label, path) in enumerate(files):
        count = _File(
            counter, registries, options, bands, columns, number, len(files), label, how, whole
        )
        notes += count.file(path, kind)
        read_as.append(count.kind)
    coders = [_coder(name, registries.__getitem__, bands) for name in (*within, *variables)]
    bare = files[0][0] is None
    # labels in a cohort column outside the contract keep the order first seen (as loaded)
    first_seen = "cohort" not in contract(read_as[0]).names
    cohort = _coder("cohort", registries.__getitem__, None, first_seen) if bare else None
    labels = cohort.categories() if cohort else tuple(str(lbl) for lbl, _ in files)
    return _tally(counter, coders[: len(within)], coders[len(within) :], cohort, labels), notes


@dataclass
class _File:
    """Counting one file into the shared counter (cohort ``number`` of ``n_files``, or
    labelled by its ``cohort`` column when ``label`` is None)."""

    counter: Counter
    registries: dict[str, Registry]
    options: CompareOptions
    bands: AgeBands | None
    columns: Mapping[str, str] | None
    number: int
    n_files: int
    label: str | None
    how: Any = None
    whole: bool = False
    kind: str = "auto"

    def _scan(self, path: Path, kind: str) -> Scan:
        """The file read as ``kind`` (values numbered in the table's shared registries)."""
        return Scan(path, kind, self.columns, self.registries, how=self.how, whole=self.whole)

    def file(self, path: Path, kind: str) -> list[str]:
        """Count the file and return its notes; ``auto`` reads it as ``load_cohort_file``
        does: a treatment extract if it passes that contract, else a cohort file."""
        if kind != "auto":
            return self.count(self._scan(path, kind))
        from unmetneed.inputs.sources import column_failures

        treatment = self._scan(path, "treatment")
        as_cohort = [f"{path}: read as a cohort file (it is not a treatment extract)"]
        if column_failures(list(treatment.present), treatment.contract):
            return self.count(self._scan(path, "cohort")) + as_cohort
        mark = len(self.counter.parts)
        try:
            return self.count(treatment)
        except ValidationError as failed:
            del self.counter.parts[mark:]  # counts of a file that failed are never used
            try:
                return self.count(self._scan(path, "cohort")) + as_cohort
            except ValidationError:
                raise failed from None

    def count(self, scan: Scan) -> list[str]:
        """Every batch of ``scan`` counted; its notes (raises if a value breaks a rule)."""
        self.kind = scan.kind
        within, variables = self.options.within_columns, self.options.variables
        names = (*within, *variables)
        wanted = [*source_columns(names), *(["cohort"] if self.label is None else [])]
        require_columns(scan.present, wanted, str(scan.path))
        coders = [_coder(name, scan.registry, self.bands) for name in names]
        cohort = _coder("cohort", scan.registry, None) if self.label is None else None
        labels = _Labels()
        for batch in scan.batches(wanted):
            if cohort is None:
                who = (np.full(batch.rows, self.number, dtype=np.int64), self.n_files)
            else:
                labels.check(batch)
                who = cohort.codes(batch)
            keys = [c.codes(batch) for c in coders[: len(within)]]
            values = [c.codes(batch) for c in coders[len(within) :]]
            self.counter.add(batch.offset, [*keys, who], values, batch.positions)
        labels.raise_if_missing()
        return scan.notes


def _tally(
    counter: Counter,
    within: Sequence[_Coder],
    variables: Sequence[_Coder],
    cohort: _Coder | None,
    labels: tuple[str, ...],
) -> Tally:
    """The Tally of the counts: within codes with ``not_stated`` for missing, groups in
    ``compare.group_rows`` order, per variable people per group x category."""
    remaps = [c.remap() for c in within] + [cohort.remap() if cohort is not None else None]
    widths = [len(c.categories()) for c in variables]
    counted = counter.result(remaps, widths, [c.remap() for c in variables])
    within_coded, keys = _within(within, counted)
    cohort_codes = counted.keys[:, -1]
    dims = (*(len(w.categories) for w in within_coded), len(labels))
    flat = (
        np.ravel_multi_index((*keys.T, cohort_codes), dims) if len(cohort_codes) else cohort_codes
    )
    order = np.argsort(flat, kind="stable")
    _, block = np.unique(flat[order] // len(labels), return_inverse=True)
    groups = Groups(
        of_row=np.zeros(0, dtype=np.int64),
        cohort=cohort_codes[order],
        within=keys[order].reshape(len(order), len(within_coded)),
        block=block.astype(np.int64),
        size=counted.sizes[order],
    )
    coded, counts = zip(
        *(_variable(c, m[order]) for c, m in zip(variables, counted.counts, strict=True)),
        strict=True,
    )
    sizes = tuple(
        int(n) for n in np.bincount(groups.cohort, weights=groups.size, minlength=len(labels))
    )
    return Tally(labels, within_coded, tuple(coded), groups, tuple(counts), sizes)


def _within(within: Sequence[_Coder], counted: Counted) -> tuple[tuple[Coded, ...], np.ndarray]:
    """Within columns as Coded (``not_stated`` added last where a key is missing) and the
    keys' codes with missing as ``not_stated``."""
    coded, keys = [], counted.keys[:, : len(within)].copy()
    for j, c in enumerate(within):
        cats = list(c.categories())
        if (keys[:, j] < 0).any() or NOT_STATED in cats:
            if NOT_STATED not in cats:
                cats.append(NOT_STATED)
            keys[:, j] = np.where(keys[:, j] < 0, cats.index(NOT_STATED), keys[:, j])
        coded.append(Coded(c.name, tuple(cats), np.zeros(0, dtype=np.int64)))
    return tuple(coded), keys


def _variable(c: _Coder, counts: np.ndarray) -> tuple[Coded, np.ndarray]:
    """A variable as Coded and its people per group x category: the missing column (last)
    joins ``not_stated`` (added last when the categories have none and someone is missing).
    """
    cats = list(c.categories())
    known, missing = counts[:, :-1], counts[:, -1]
    if NOT_STATED in cats:
        known = known.copy()
        known[:, cats.index(NOT_STATED)] += missing
    elif missing.any():
        cats.append(NOT_STATED)
        known = counts
    return Coded(c.name, tuple(cats), np.zeros(0, dtype=np.int64)), known
