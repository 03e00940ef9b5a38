"""Public totals: counts the user publishes anyway (a study's sample size, an area's total in
treatment), declared so protection never hides them.

A public total is named by the rows of the table that show it, as ``COLUMN=VALUE`` pairs
joined by commas, with the values as the table prints them: ``area=Eastbury`` (in a
``suppress`` table with total rows, the other dimensions are then their total label: the
area's total), ``area=Eastbury,sex=Total``, ``cohort=OOTU``. Every *size* cell shown on a
matching row is public: the count of a ``suppress`` table, ``in_treatment`` of a gap table,
the denominator (the group's n) of a compare table.

A public cell is never a complement. It is shown, so the attacker knows it like any shown
count. A public cell that is itself small (1..K) is refused (exit 4): it cannot be both
published and suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from unmetneed.disclosure.model import Cells, Policy
from unmetneed.errors import DisclosureError, UsageError


def parse(spec: str) -> dict[str, str]:
    """The ``COLUMN=VALUE`` pairs of one ``--public`` spec (``UsageError`` if malformed).

    >>> parse("area=Eastbury, sex=Total")
    {'area': 'Eastbury', 'sex': 'Total'}
    """
    pairs: dict[str, str] = {}
    for part in spec.split(","):
        column, sep, value = part.partition("=")
        if not sep or not column.strip() or not value.strip():
            raise UsageError(
                f"--public {spec!r}: write COLUMN=VALUE pairs joined by commas, "
                'e.g. --public "area=Eastbury" or --public "cohort=OOTU"'
            )
        pairs[column.strip()] = value.strip()
    return pairs


def public_cells(
    frame: pd.DataFrame,
    cells: Cells,
    column: str,
    specs: Sequence[str],
    policy: Policy,
    totals: Mapping[str, str] | None = None,
) -> tuple[int, ...]:
    """Ids of the cells shown in ``column`` on the rows of ``frame`` each spec names.

    ``totals``: dimension -> its total label, for columns a spec leaves out (they must
    be the total). A spec naming an unknown column, or no row, is a ``UsageError`` (exit
    2); one naming a small count (1..K under ``policy``) a ``DisclosureError`` (exit 4).

    >>> f = pd.DataFrame({"area": ["A", "B", "Total"], "count": [5, 7, 12]})
    >>> c = Cells(f["count"].to_numpy())
    >>> c.place("count", np.arange(3), np.arange(3))
    >>> public_cells(f, c, "count", ["area=Total"], Policy.named(k=3))
    (2,)
    """
    out: set[int] = set()
    for spec in specs:
        pairs = parse(spec)
        unknown = [c for c in pairs if c not in frame.columns]
        if unknown:
            raise UsageError(
                f"--public {spec!r}: no column {', '.join(map(repr, unknown))}; the table's "
                f"columns are {', '.join(map(str, frame.columns))}"
            )
        wanted = {**{d: t for d, t in (totals or {}).items() if d not in pairs}, **pairs}
        rows = np.ones(len(frame), dtype=bool)
        for col, value in wanted.items():
            rows &= (frame[col].astype("string").fillna("") == value).to_numpy(bool)
        found = _placed(cells, column, np.flatnonzero(rows))
        if not len(found):
            raise UsageError(f"--public {spec!r}: no row of the table has those values")
        if policy.primary(cells.values[found]).any():
            raise DisclosureError(
                f"--public {spec!r} names a count the rule suppresses ({_small(policy)}): "
                "it cannot be published as a public total",
                hint="Leave it out of --public; it stays suppressed.",
            )
        out.update(found.tolist())
    return tuple(sorted(out))


def _placed(cells: Cells, column: str, rows: np.ndarray) -> np.ndarray:
    """Ids of the cells shown in ``column`` on ``rows`` (frame positions)."""
    found = [p.cells[np.isin(p.rows, rows)] for p in cells.placements if p.name == column]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


def _small(policy: Policy) -> str:
    """The suppressed range as text, e.g. ``1..3``."""
    return f"{policy.floor}..{policy.k}"
