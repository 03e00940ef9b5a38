"""Building :class:`Cells` for common table shapes.

- :func:`cube`: a d-way table of counts with every margin (the benchmark's shape).
- :func:`from_long`: a long-format table from elsewhere (dimension columns + ``count``),
  with the totals it holds: rows whose value in a dimension is the total label (``Total``)
  are the sum over that dimension; with a hierarchy ``area=region``, rows whose ``area`` is
  a region's name are the sum of that region's areas.

Each row of a long table is one cell, placed in column ``count`` on its own row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure.model import Cells


def cube(inner: np.ndarray) -> tuple[Cells, np.ndarray]:
    """Cells of a d-way table with all margins; returns them and their index array.

    ``inner``: counts of shape ``(n1, ..., nd)``. The table has shape ``(n1+1, ...)``; index
    ``ni`` along axis ``i`` is that dimension's total. ``ids[i, j, ...]`` is a cell's index.

    >>> cells, ids = cube(np.array([[1, 2], [3, 4]]))
    >>> cells.values.reshape(ids.shape).tolist()
    [[1, 2, 3], [3, 4, 7], [4, 6, 10]]
    """
    full = np.asarray(inner, dtype=np.int64)
    for axis in range(full.ndim):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    ids = np.arange(full.size).reshape(full.shape)
    cells = Cells(full.ravel())
    for axis in range(full.ndim):
        lines = np.moveaxis(ids, axis, -1).reshape(-1, full.shape[axis])
        for line in lines:
            cells.add_relation(int(line[-1]), line[:-1].tolist())
    return cells, ids


@dataclass(frozen=True)
class LongSpec:
    """How a long table's rows add up: its dimensions, total label and hierarchies.

    ``hierarchy``: child column -> parent column (``{"area": "region"}``).
    """

    dims: tuple[str, ...]
    totals: bool = False
    total_label: str = "Total"
    hierarchy: Mapping[str, str] | None = None


def total_rows(frame: pd.DataFrame, column: str, label: str) -> np.ndarray:
    """Mask of rows whose ``column`` is the total label (case and spaces ignored)."""
    text = frame[column].astype("string").str.strip().str.casefold()
    return (text == label.strip().casefold()).fillna(False).to_numpy(dtype=bool)


def from_long(frame: pd.DataFrame, values: np.ndarray, spec: LongSpec) -> Cells:
    """One cell per row of ``frame`` (counts ``values``), with the relations ``spec`` says.

    Relations are not checked here (see ``Cells.check_relations``).
    """
    cells = Cells(values)
    cells.place("count", np.arange(len(frame)), np.arange(len(frame)))
    hierarchy = dict(spec.hierarchy or {})
    parents = set(hierarchy.values())
    for dim in spec.dims:
        if dim in parents:
            continue
        if spec.totals:
            _total_relations(cells, frame, spec, dim, hierarchy.get(dim))
        if dim in hierarchy:
            _region_relations(cells, frame, spec, dim, hierarchy[dim])
    return cells


def _keys(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Group number of each row by ``columns`` (one group when there are none)."""
    if not columns:
        return np.zeros(len(frame), dtype=np.int64)
    text = frame[columns].astype("string").fillna("")
    return text.groupby(columns, sort=True).ngroup().to_numpy(dtype=np.int64)


def _relations_by_group(
    cells: Cells, groups: np.ndarray, is_total: np.ndarray, is_part: np.ndarray
) -> None:
    """For each group with one total row and some part rows: total == sum(parts)."""
    rows = np.arange(len(groups))
    totals = pd.Series(rows[is_total]).groupby(groups[is_total]).agg(list).to_dict()
    parts = pd.Series(rows[is_part]).groupby(groups[is_part]).agg(list).to_dict()
    for group, total in totals.items():
        if len(total) == 1 and group in parts:
            cells.add_relation(total[0], parts[group])


def _total_relations(
    cells: Cells, frame: pd.DataFrame, spec: LongSpec, dim: str, parent: str | None
) -> None:
    """Rows with the total label in ``dim`` sum the leaf rows that agree on the others."""
    others = [d for d in spec.dims if d not in (dim, parent)]
    is_total = total_rows(frame, dim, spec.total_label)
    is_part = ~is_total
    if parent is not None:
        is_part &= ~_is_parent_row(frame, dim, parent, spec.total_label)
    _relations_by_group(cells, _keys(frame, others), is_total, is_part)


def _is_parent_row(frame: pd.DataFrame, child: str, parent: str, label: str) -> np.ndarray:
    """Rows whose ``child`` value is the name of a ``parent`` (a region's subtotal row)."""
    names = frame[parent].astype("string").str.strip()
    names = names[~total_rows(frame, parent, label) & names.notna() & (names != "")]
    text = frame[child].astype("string").str.strip()
    return text.isin(set(names)).fillna(False).to_numpy(dtype=bool)


def _region_relations(
    cells: Cells, frame: pd.DataFrame, spec: LongSpec, child: str, parent: str
) -> None:
    """A region's subtotal row (``child`` == region name) sums that region's leaf rows."""
    others = [d for d in spec.dims if d not in (child, parent)]
    is_sub = _is_parent_row(frame, child, parent, spec.total_label)
    leaf = ~is_sub & ~total_rows(frame, child, spec.total_label)
    region = (
        frame[parent]
        .astype("string")
        .str.strip()
        .where(~is_sub, frame[child].astype("string").str.strip())
    )
    keyed = frame[others].astype("string").fillna("").assign(_region=region.fillna(""))
    groups = keyed.groupby([*others, "_region"], sort=True).ngroup().to_numpy(dtype=np.int64)
    _relations_by_group(cells, groups, is_sub, leaf)


def counts_column(frame: pd.DataFrame, path: object, column: str = "count") -> np.ndarray:
    """The ``count`` column of a long table as whole numbers of people (>= 0).

    Raises ``ValidationError`` (exit 3) naming every bad line (header = line 1): a missing
    column, a blank or suppressed value (``suppress`` needs the unsuppressed counts), text,
    a fraction or a negative number.
    """
    from unmetneed.errors import Failure, ValidationError

    if column not in frame:
        raise ValidationError(str(path), "counts", [Failure(None, column, "", "column is missing")])
    text = frame[column].astype("string").str.strip().str.replace(",", "", regex=False)
    number = pd.to_numeric(text, errors="coerce")
    bad = number.isna() | (number < 0) | (number != np.floor(number.fillna(0)))
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy(dtype=bool))
        raw = frame[column].astype("string").fillna("").to_numpy()[rows]
        failures = [
            Failure(
                int(r) + 2,
                column,
                str(v),
                "must be a whole number of people, 0 or more (give the unsuppressed counts)",
            )
            for r, v in zip(rows.tolist(), raw.tolist(), strict=True)
        ]
        raise ValidationError(str(path), "counts", failures)
    return number.to_numpy(dtype=np.float64).astype(np.int64)


def structure_failures(
    frame: pd.DataFrame, cells: Cells, spec: LongSpec, column: str = "count"
) -> list[Any]:
    """Duplicate rows and totals that are not the sum of their parts, as failures."""
    from unmetneed.errors import Failure

    failures = []
    dup = frame.duplicated(list(spec.dims), keep="first").to_numpy(dtype=bool)
    for r in np.flatnonzero(dup).tolist():
        failures.append(
            Failure(r + 2, ", ".join(spec.dims), "", "the same cell is on an earlier line")
        )
    for i in cells.check_relations():
        total, parts = cells.relations[i]
        failures.append(
            Failure(
                total + 2,
                column,
                str(cells.values[total]),
                f"a total must equal the sum of its {len(parts)} parts "
                f"({int(cells.values[parts].sum())}; first part on line {parts[0] + 2})",
            )
        )
    return failures
