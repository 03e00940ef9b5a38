"""``audit``: prove a written table safe, from what it publishes and its stored structure.

For every suppressed cell the attacker of :mod:`unmetneed.disclosure.attacker` gets the
feasible ``[min, max]`` (people) from the published values (read back from the written
frames through the placements: an empty value is suppressed), the relations and the
policy in the table's ``"disclosure"`` metadata. The table passes when every interval is
at least the protection width, no shown count is small (1..k), and every derived column
(percentages, intervals) is empty on a row that lost a count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure import attacker
from unmetneed.disclosure.model import Cells, Policy

EXACT_LIMIT = 400  # suppressed cells up to which every interval is computed exactly


@dataclass
class Audit:
    """The outcome of an audit.

    ``cells``: one row per suppressed cell: ``cell``, ``where`` (frame, column, row and the
    row's labels), ``low``, ``high`` (NaN when certified wide enough without computing them),
    ``width`` and ``ok``. ``problems``: every failure as a sentence.
    """

    cells: pd.DataFrame
    width: int
    policy: Policy
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the table passed."""
        return not self.problems

    def narrowest(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` cells with the narrowest computed intervals, narrowest first."""
        span = self.cells["high"] - self.cells["low"]
        order = np.lexsort((self.cells["cell"].to_numpy(), span.fillna(np.inf).to_numpy()))
        return self.cells.iloc[order[:n]].reset_index(drop=True)


def published_values(
    frames: Mapping[str | None, pd.DataFrame], cells_meta: Cells
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Each cell's published value (NaN if suppressed), the published mask, and conflicts.

    ``frames`` maps a frame's name (``None`` for an unlinked table) to the frame as written.
    A cell shown anywhere is known; two different shown values for one cell are a problem.
    """
    n = len(cells_meta.values)
    value = np.full(n, np.nan)
    published = np.zeros(n, dtype=bool)
    problems: list[str] = []
    for p in cells_meta.placements:
        frame = frames[p.table]
        if p.name not in frame:
            problems.append(f"column {p.column!r} is missing from the table")
            continue
        if len(p.rows) and p.rows.max() >= len(frame):
            problems.append(f"column {p.column!r}: the table has fewer rows than its metadata")
            continue
        shown = pd.to_numeric(frame[p.name], errors="coerce").to_numpy(dtype=float)[p.rows]
        published[p.cells] = True
        seen = ~np.isnan(shown)
        clash = seen & ~np.isnan(value[p.cells]) & (value[p.cells] != shown)
        if clash.any():
            problems.append(
                f"column {p.column!r} shows {int(clash.sum())} cell(s) with "
                "different values in different places"
            )
        value[p.cells[seen]] = shown[seen]
    return value, published, problems


def small_shown(value: np.ndarray, policy: Policy) -> np.ndarray:
    """Cells whose shown value is (or, rounded, can only be) a small count."""
    if policy.off:
        return np.zeros(len(value), bool)
    seen = ~np.isnan(value)
    lo, hi = attacker.shown_bounds(np.where(seen, value, 0.0), policy)
    if policy.round_to:
        return seen & (lo > hi)
    return seen & (value >= policy.floor) & (value <= policy.k)


def derived_leaks(
    frames: Mapping[str | None, pd.DataFrame], structure: Cells, derived: Mapping[str, list[str]]
) -> list[str]:
    """Derived columns shown on a row that lost a count (a suppressed value could be rebuilt)."""
    problems = []
    for name, columns in derived.items():
        table = name or None
        frame = frames.get(table)
        if frame is None or not columns:
            continue
        lost = np.zeros(len(frame), dtype=bool)
        for p in structure.placements:
            if p.table == table and p.name in frame:
                lost[p.rows[frame[p.name].isna().to_numpy()[p.rows]]] = True
        for column in columns:
            if column in frame:
                leak = lost & frame[column].notna().to_numpy()
                if leak.any():
                    first = int(np.flatnonzero(leak)[0])
                    problems.append(
                        f"column {column!r} is shown on {int(leak.sum())} row(s) "
                        f"that lost a count (first: row {first + 1})"
                    )
    return problems


def structure_from_meta(meta: Mapping[str, Any]) -> Cells:
    """The :class:`Cells` structure (values unknown: zeros) stored in a disclosure block."""
    cells = Cells(np.zeros(int(meta["n_cells"]), dtype=np.int64))
    for total, parts in meta["relations"]:
        cells.add_relation(total, parts)
    for p in meta["placements"]:
        cells.place(p["column"], np.asarray(p["cells"]), np.asarray(p["rows"]))
    return cells


def audit(
    frames: Mapping[str | None, pd.DataFrame],
    meta: Mapping[str, Any],
    width: int | None = None,
) -> Audit:
    """Audit published ``frames`` against their ``"disclosure"`` metadata block."""
    policy = Policy.from_meta(meta["policy"])
    w = int(width if width is not None else meta.get("width", policy.protection_width))
    structure = structure_from_meta(meta)
    value, published, problems = published_values(frames, structure)
    small = small_shown(value, policy)
    if small.any():
        problems.append(f"{int(small.sum())} shown count(s) are small (in the suppressed range)")
    problems += derived_leaks(frames, structure, meta.get("derived", {}))
    hidden = np.flatnonzero(published & np.isnan(value))
    know = attacker.knowledge(structure.matrix(), value, published, policy)
    try:
        found = _intervals(know, hidden, w)
    except attacker.InconsistentError as exc:
        problems.append(f"the published values contradict the table's totals ({exc})")
        found = {
            "cell": hidden,
            "low": np.full(len(hidden), np.nan),
            "high": np.full(len(hidden), np.nan),
            "ok": np.zeros(len(hidden), bool),
        }
    table = pd.DataFrame(found).assign(width=w)
    table.insert(1, "where", _where(frames, structure, hidden))
    narrow = table[~table["ok"]]
    if len(narrow):
        problems.append(
            f"{len(narrow)} suppressed cell(s) can be narrowed below {w}: "
            + "; ".join(
                f"{r.where} to [{r.low:g}, {r.high:g}]" for r in narrow.head(10).itertuples()
            )
            + (" ..." if len(narrow) > 10 else "")
        )
    return Audit(table, w, policy, problems)


def _intervals(know: attacker.Knowledge, hidden: np.ndarray, width: int) -> dict[str, np.ndarray]:
    """Exact intervals for small tables; joint certification first for large ones."""
    if len(hidden) <= EXACT_LIMIT:
        low, high = attacker.intervals(know, hidden)
        return {"cell": hidden, "low": low, "high": high, "ok": (high - low) >= width}
    return attacker.narrow(know, hidden, width)


def _where(
    frames: Mapping[str | None, pd.DataFrame], structure: Cells, cells: np.ndarray
) -> list[str]:
    """A readable place for each cell: frame, column, 1-based row and that row's labels.

    A cell shown in several places is named by its first placement (first row there).
    """
    place, row = _first_places(structure)
    out = np.array([f"cell {c}" for c in cells.tolist()], dtype=object)
    for i, p in enumerate(structure.placements):
        mine = np.flatnonzero(place[cells] == i)
        if len(mine) == 0:
            continue
        rows = row[cells[mine]]
        frame = frames[p.table]
        labels = [
            k
            for k in frame.columns
            if not pd.api.types.is_numeric_dtype(frame[k]) and k != "suppressed"
        ][:4]
        text = pd.Series([f"{p.column} row "] * len(rows)) + pd.Series(rows + 1).map(str)
        if labels:
            pairs = [k + "=" + frame[k].iloc[rows].map(str).reset_index(drop=True) for k in labels]
            joined = pairs[0]
            for pair in pairs[1:]:
                joined = joined + ", " + pair
            text = text + " (" + joined + ")"
        out[mine] = text.to_numpy(dtype=object)
    return out.tolist()


def _first_places(structure: Cells) -> tuple[np.ndarray, np.ndarray]:
    """For every cell, the index of the first placement showing it (-1: none) and its row."""
    n = len(structure.values)
    place, row = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    for i, p in enumerate(structure.placements):
        unique, first = np.unique(p.cells, return_index=True)
        fresh = place[unique] < 0
        place[unique[fresh]] = i
        row[unique[fresh]] = p.rows[first[fresh]]
    return place, row


def read_written(path: Any) -> pd.DataFrame:
    """A table as the tool wrote it (empty cells as missing), by suffix."""
    from pathlib import Path

    from unmetneed.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(p)
        if suffix == ".csv":
            return pd.read_csv(p, encoding="utf-8")
        if suffix == ".xlsx":
            return pd.read_excel(p, engine="openpyxl")
    except Exception as exc:  # a damaged file is an input problem
        raise InputError(f"{p}: could not be read ({type(exc).__name__}: {exc})") from None
    raise InputError(f"{p}: unknown table type {suffix or '(none)'}; use .parquet, .csv or .xlsx")


def gather(paths: list[Any]) -> tuple[dict[str | None, pd.DataFrame], dict[str, Any]]:
    """Frames and the shared disclosure block of one table, or of linked tables together.

    Raises ``InputError`` (exit 2) when a file has no disclosure metadata, when linked
    files disagree on their structure, or when a linked frame's file is not given.
    """
    from unmetneed.errors import InputError
    from unmetneed.write import read_meta

    frames: dict[str | None, pd.DataFrame] = {}
    block: dict[str, Any] | None = None
    for path in paths:
        meta = read_meta(path) or {}
        this = meta.get("disclosure")
        if not this:
            raise InputError(
                f"{path}: has no disclosure metadata, so it cannot be audited "
                "(it was not written by unmetneed, or its .meta.json sidecar is missing)",
                hint="For a long table of counts from elsewhere, give its structure: "
                "unmetneed audit TABLE --total-row [--hierarchy area=region] --k K",
            )
        if block is not None and this.get("structure_id") != block.get("structure_id"):
            raise InputError(f"{path}: is not linked with {paths[0]} (different structure)")
        block = block or this
        frames[this.get("table")] = read_written(path)
    assert block is not None
    missing = [name for name in block.get("tables", []) if name not in frames]
    if missing:
        raise InputError(
            f"{paths[0]}: shares cells with the table(s) {', '.join(missing)}, "
            "published with it; audit them together",
            hint="Give every linked file: unmetneed audit gap.parquet compare.parquet",
        )
    return frames, block
