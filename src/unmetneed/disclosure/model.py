"""The table model of disclosure control: cells, the additive relations among them, policies.

A published table is a set of *cells* (distinct counts of people; a cell may be shown in
several places, e.g. one denominator repeated on every row of its group) and *relations*
``value[total] == sum(value[parts])`` that a reader can use. ``locations`` say where in the
published frame each cell is shown, so suppression can blank it there and ``audit`` can read
it back from a written file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

POLICIES = ("k3", "lt5", "nhs")


@dataclass(frozen=True)
class Policy:
    """A primary suppression rule.

    ``k``: counts in 1..k are suppressed (k3: k=3; lt5: k=4; nhs: k=7 and every other count
    rounded to the nearest ``round_to``). ``zeros_disclosive``: zeros are suppressed too.
    ``k=0`` turns suppression off.
    """

    name: str = "k3"
    k: int = 3
    zeros_disclosive: bool = False
    round_to: int = 0

    @classmethod
    def named(cls, name: str | None = None, k: int | None = None, zeros: bool = False) -> Policy:
        """The policy for ``--policy NAME`` and/or ``--k K`` (``--k`` alone: threshold K)."""
        if name is None or name == "k":
            kk = 3 if k is None else k
            return cls(name=f"k{kk}", k=kk, zeros_disclosive=zeros)
        if name == "k3":
            return cls(name="k3", k=3 if k is None else k, zeros_disclosive=zeros)
        if name == "lt5":
            return cls(name="lt5", k=4, zeros_disclosive=zeros)
        if name == "nhs":
            return cls(name="nhs", k=7, zeros_disclosive=zeros, round_to=5)
        raise ValueError(f"unknown policy {name!r}; use one of {', '.join(POLICIES)}")

    @property
    def off(self) -> bool:
        """True when suppression is turned off (``--k 0``)."""
        return self.k <= 0 and not self.zeros_disclosive

    def primary(self, values: np.ndarray) -> np.ndarray:
        """Mask of the cells this rule suppresses on their own (counts in 1..k, or 0..k)."""
        low = 0 if self.zeros_disclosive else 1
        return (values >= low) & (values <= self.k) if not self.off else np.zeros(len(values), bool)

    def to_meta(self) -> dict[str, Any]:
        """The policy as JSON-able metadata."""
        return {"name": self.name, "k": self.k, "zeros_disclosive": self.zeros_disclosive,
                "round_to": self.round_to}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Policy:
        """The policy back from its metadata."""
        return cls(**meta)


@dataclass(frozen=True)
class Placement:
    """Where cells are shown: in ``column``, cell ``cells[i]`` is on frame row ``rows[i]``.

    A linked table's placements name it as ``"table:column"``.
    """

    column: str
    cells: np.ndarray
    rows: np.ndarray


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

    def place(self, column: str, cells: np.ndarray, rows: np.ndarray) -> None:
        """Record that ``column`` shows cell ``cells[i]`` on frame row ``rows[i]``."""
        self.placements.append(
            Placement(column, np.asarray(cells, dtype=np.int64), np.asarray(rows, dtype=np.int64))
        )

    def check_relations(self) -> list[int]:
        """Indices of relations that do not hold (a bug in the table builder if any)."""
        return [
            i for i, (t, parts) in enumerate(self.relations)
            if self.values[t] != self.values[parts].sum()
        ]

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


@dataclass
class Protection:
    """The outcome of ``protect``: which cells are suppressed, and why.

    ``primary``: small counts (1..k). ``secondary``: complementary cells suppressed so the
    primaries cannot be worked out from totals. ``shown``: the published value of each cell
    (NaN when suppressed; rounded under a rounding policy).
    """

    policy: Policy
    primary: np.ndarray
    secondary: np.ndarray
    shown: np.ndarray
    remarks: list[str] = field(default_factory=list)

    def meta(self, cells: Cells) -> dict[str, Any]:
        """What ``audit`` needs to check a written table: policy, cells' places, relations.

        Kept under the key ``"disclosure"`` of the table's metadata (see ``write.write_table``).
        """
        return {"policy": self.policy.to_meta(), **cells.to_meta()}

    @property
    def suppressed(self) -> np.ndarray:
        """Mask of every suppressed cell, primary or secondary."""
        return self.primary | self.secondary

    def apply(self, frame: pd.DataFrame, cells: Cells, derived: tuple[str, ...] = ()) -> pd.DataFrame:
        """A new frame with suppressed cells blank, ``derived`` columns blank on their rows,
        and a boolean ``suppressed`` column true on every row that lost a value.
        """
        out = frame.reset_index(drop=True).copy()
        row_hit = np.zeros(len(out), dtype=bool)
        for p in cells.placements:
            if p.column not in out:
                continue
            hidden = self.suppressed[p.cells]
            col = out[p.column].astype("Float64" if out[p.column].dtype.kind == "f" else "Int64")
            if self.policy.round_to:
                col.iloc[p.rows] = self.shown[p.cells]
            col.iloc[p.rows[hidden]] = pd.NA
            out[p.column] = col
            row_hit[p.rows[hidden]] = True
        for name in derived:
            if name in out:
                col = out[name].astype("Float64") if out[name].dtype.kind in "fiu" else out[name]
                col = col.copy()
                col.iloc[np.flatnonzero(row_hit)] = pd.NA
                out[name] = col
        previous = out["suppressed"].to_numpy(dtype=bool) if "suppressed" in out else False
        out["suppressed"] = row_hit | previous
        return out
