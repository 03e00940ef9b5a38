"""The table model of disclosure control: cells, the additive relations among them, policies.

A published table is a set of *cells*: distinct counts of people. A cell may be shown in
several places (one denominator repeated on every row of its group is one cell) and in
several published frames. *Relations* ``value[total] == sum(value[parts])`` are the sums a
reader can use: within-group counts to their denominator, area rows to a total row, areas to
their region (hierarchies), and any other margin. Two relations with the same total and
different parts are fine (a denominator shared by several variables: each variable's
categories add up to it).

*Placements* say where each cell is shown: in column ``column`` of the published frame,
cell ``cells[i]`` is on row ``rows[i]`` (0-based position in the frame as written). Cells
never placed are not published; the attacker does not know them.

Tables published together are protected as one release (``unmetneed.disclosure.release``):
their cells and the people behind them make one :class:`Cells` whose placements name their
frame as ``"frame:column"`` (e.g. ``"gap:in_treatment"``); ``Protection.apply(frame, cells,
table="gap")`` blanks one frame. Placements without a ``frame:`` prefix belong to the one
frame of a table on its own; pseudo columns (names starting ``_``) are groups a table
counts but never shows.

The structure (never the values, which may be secret) is kept with every written table under
the metadata key ``"disclosure"``: ``policy``, ``width``, ``n_cells``, ``relations`` (lists
``[total, [parts...]]``), ``placements`` (``{"column", "cells", "rows"}``), ``table``,
``derived`` (columns blanked with a suppressed value on their row), and for a release piece
``defs`` (what each cell counts), ``guard``, ``blocks`` and ``release``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

POLICIES = ("k3", "lt5", "nhs")


@dataclass(frozen=True)
class Policy:
    """A primary suppression rule and the protection every suppressed small count needs.

    ``k``: counts in 1..k are suppressed (k3: k=3; lt5: k=4; nhs: k=7 and every other count
    rounded to the nearest ``round_to``, totals rounded from their unrounded value).
    ``zeros_disclosive``: zeros are suppressed too. ``k=0`` turns suppression off.
    ``width``: the protection width, in people: the attacker's feasible interval
    ``max - min`` for each small count must be at least this (0 means ``k``).
    """

    name: str = "k3"
    k: int = 3
    zeros_disclosive: bool = False
    round_to: int = 0
    width: int = 0

    @classmethod
    def named(
        cls,
        name: str | None = None,
        k: int | None = None,
        zeros: bool = False,
        width: int | None = None,
    ) -> Policy:
        """The policy for ``--policy NAME`` and/or ``--k K`` (``--k`` alone: threshold K).

        >>> Policy.named("nhs").k, Policy.named(k=5).name
        (7, 'k5')
        """
        w = 0 if width is None else int(width)
        if w < 0 or (k is not None and k < 0):
            raise ValueError("--k and --width must be 0 or more")
        if name is None or name == "k":
            kk = 3 if k is None else k
            return cls(name=f"k{kk}", k=kk, zeros_disclosive=zeros, width=w)
        if name == "k3":
            return cls(name="k3", k=3 if k is None else k, zeros_disclosive=zeros, width=w)
        if name == "lt5":
            return cls(name="lt5", k=4, zeros_disclosive=zeros, width=w)
        if name == "nhs":
            return cls(name="nhs", k=7, zeros_disclosive=zeros, round_to=5, width=w)
        raise ValueError(f"unknown policy {name!r}; use one of {', '.join(POLICIES)}")

    @property
    def off(self) -> bool:
        """True when suppression is turned off (``--k 0``)."""
        return self.k <= 0 and not self.zeros_disclosive

    @property
    def protection_width(self) -> int:
        """People: the narrowest attacker interval allowed for a small count (default k)."""
        return self.width if self.width > 0 else max(self.k, 0)

    @property
    def floor(self) -> int:
        """What an attacker knows a suppressed count is at least: 1 when zeros are shown."""
        return 0 if self.zeros_disclosive else 1

    def primary(self, values: np.ndarray) -> np.ndarray:
        """Mask of the cells this rule suppresses on their own (counts in 1..k, or 0..k)."""
        if self.off:
            return np.zeros(len(values), bool)
        return (values >= self.floor) & (values <= self.k)

    def to_meta(self) -> dict[str, Any]:
        """The policy as JSON-able metadata."""
        return {
            "name": self.name,
            "k": self.k,
            "zeros_disclosive": self.zeros_disclosive,
            "round_to": self.round_to,
            "width": self.width,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Policy:
        """The policy back from its metadata."""
        known = {"name", "k", "zeros_disclosive", "round_to", "width"}
        return cls(**{key: value for key, value in meta.items() if key in known})


@dataclass(frozen=True)
class Placement:
    """Where cells are shown: in ``column``, cell ``cells[i]`` is on frame row ``rows[i]``.

    A linked table's placements name their frame as ``"frame:column"``.
    """

    column: str
    cells: np.ndarray
    rows: np.ndarray

    @property
    def table(self) -> str | None:
        """The frame this placement is in (``None``: the one frame of an unlinked table)."""
        frame, sep, _ = self.column.partition(":")
        return frame if sep else None

    @property
    def name(self) -> str:
        """The column's name inside its frame."""
        return self.column.partition(":")[2] or self.column


@dataclass
class Cells:
    """The counts a table publishes and how they add up.

    ``values``: one non-negative integer count per cell. ``relations``: pairs
    ``(total, parts)`` of cell indices meaning ``values[total] == values[parts].sum()``.
    ``placements``: where each cell is shown in the published frame (a cell may be shown
    on many rows, e.g. a denominator repeated on each category's row).
    """

    values: np.ndarray
    relations: list[tuple[int, list[int]]] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.int64)
        if (self.values < 0).any():
            raise ValueError("cell counts must be non-negative")

    def add_relation(self, total: int, parts: list[int]) -> None:
        """Record that cell ``total`` is the sum of cells ``parts``."""
        self.relations.append((int(total), [int(p) for p in parts]))

    def add_relations(self, totals: np.ndarray, parts: np.ndarray) -> None:
        """Record that cell ``totals[i]`` is the sum of cells ``parts[i]`` (a row each)."""
        pairs = zip(np.asarray(totals).tolist(), np.asarray(parts).tolist(), strict=True)
        self.relations.extend(pairs)

    def place(self, column: str, cells: np.ndarray, rows: np.ndarray) -> None:
        """Record that ``column`` shows cell ``cells[i]`` on frame row ``rows[i]``."""
        self.placements.append(
            Placement(column, np.asarray(cells, dtype=np.int64), np.asarray(rows, dtype=np.int64))
        )

    def check_relations(self) -> list[int]:
        """Indices of relations that do not hold (a bug in the table builder if any)."""
        if not self.relations:
            return []
        residual = self.matrix() @ self.values
        return np.flatnonzero(residual != 0).tolist()

    def matrix(self) -> sparse.csr_matrix:
        """The relations as a sparse matrix ``R`` with ``R @ values == 0``.

        One row per relation: +1 on each part, -1 on the total (a part listed twice counts
        twice).
        """
        n_rel = len(self.relations)
        if n_rel == 0:
            return sparse.csr_matrix((0, len(self.values)), dtype=np.float64)
        sizes = np.fromiter((len(p) + 1 for _, p in self.relations), np.int64, n_rel)
        rows = np.repeat(np.arange(n_rel), sizes)
        cols = np.fromiter(
            (c for t, parts in self.relations for c in (t, *parts)), np.int64, int(sizes.sum())
        )
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        data = np.ones(len(cols))
        data[starts] = -1.0
        return sparse.csr_matrix(
            (data, (rows, cols)), shape=(n_rel, len(self.values)), dtype=np.float64
        )

    def published(self) -> np.ndarray:
        """Mask of cells shown somewhere (every cell when no placements are recorded)."""
        if not self.placements:
            return np.ones(len(self.values), dtype=bool)
        shown = np.zeros(len(self.values), dtype=bool)
        for p in self.placements:
            shown[p.cells] = True
        return shown

    def tables(self) -> list[str]:
        """Names of the linked frames the placements are in (empty for one unnamed frame)."""
        return sorted({p.table for p in self.placements if p.table is not None})

    def to_meta(self) -> dict[str, Any]:
        """The structure as JSON-able metadata (values are *not* included: they may be secret)."""
        return {
            "n_cells": int(len(self.values)),
            "relations": [[t, parts] for t, parts in self.relations],
            "placements": [
                {"column": p.column, "cells": p.cells.tolist(), "rows": p.rows.tolist()}
                for p in self.placements
            ],
        }

    @staticmethod
    def structure_id(meta: dict[str, Any]) -> str:
        """A short fingerprint of a structure's relations and cell count (links frames)."""
        core = json.dumps([meta["n_cells"], meta["relations"]], separators=(",", ":"))
        return hashlib.sha256(core.encode()).hexdigest()[:16]


@dataclass
class Protection:
    """The outcome of ``protect``: which cells are suppressed, and why.

    ``primary``: small counts (1..k). ``secondary``: complementary cells suppressed so the
    primaries cannot be worked out from totals. ``shown``: the published value of each cell
    (NaN when suppressed; rounded under a rounding policy). ``derived``: per frame (``""``
    for an unlinked one), the columns ``apply`` blanked with a suppressed value.
    """

    policy: Policy
    primary: np.ndarray
    secondary: np.ndarray
    shown: np.ndarray
    remarks: list[str] = field(default_factory=list)
    derived: dict[str, list[str]] = field(default_factory=dict)
    # restricted: per complement, the small counts (cells) it protects (explain)
    reasons: dict[int, np.ndarray] = field(default_factory=dict)

    def meta(self, cells: Cells, table: str | None = None) -> dict[str, Any]:
        """What ``audit`` needs to check a written table: policy, cells' places, relations.

        Kept under the key ``"disclosure"`` of the table's metadata (see ``write.write_table``).
        ``table``: which of linked frames this file holds.
        """
        structure = cells.to_meta()
        return {
            "policy": self.policy.to_meta(),
            "width": self.policy.protection_width,
            **structure,
            "structure_id": Cells.structure_id(structure),
            "table": table,
            "tables": cells.tables(),
            "derived": {name: list(cols) for name, cols in self.derived.items()},
        }

    @property
    def suppressed(self) -> np.ndarray:
        """Mask of every suppressed cell, primary or secondary."""
        result: np.ndarray = self.primary | self.secondary
        return result

    def apply(
        self,
        frame: pd.DataFrame,
        cells: Cells,
        derived: tuple[str, ...] = (),
        table: str | None = None,
    ) -> pd.DataFrame:
        """A new frame with suppressed cells blank, ``derived`` columns blank on their rows,
        and a boolean ``suppressed`` column true on every row that lost a value.

        ``table``: for linked tables, the frame's name (its placements are ``"table:col"``).
        """
        out = frame.reset_index(drop=True).copy()
        row_hit = np.zeros(len(out), dtype=bool)
        for p in cells.placements:
            if p.table != table or p.name not in out:
                continue
            hidden = self.suppressed[p.cells]
            source = out[p.name]
            col = source.astype("Float64" if source.dtype.kind == "f" else "Int64")
            if self.policy.round_to:
                col.iloc[p.rows] = self.shown[p.cells]
            col.iloc[p.rows[hidden]] = None
            out[p.name] = col
            row_hit[p.rows[hidden]] = True
        for name in derived:
            if name in out:
                col = out[name].astype("Float64") if out[name].dtype.kind in "fiu" else out[name]
                col = col.copy()
                col.iloc[np.flatnonzero(row_hit)] = None
                out[name] = col
        self.derived[table or ""] = [name for name in derived if name in out]
        previous = out["suppressed"].to_numpy(dtype=bool) if "suppressed" in out else False
        out["suppressed"] = row_hit | previous
        return out
