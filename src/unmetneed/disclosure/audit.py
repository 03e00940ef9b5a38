"""``audit``: prove a written table safe, from what it publishes and its stored structure.

For every suppressed cell the attacker of :mod:`unmetneed.disclosure.attacker` gets the
feasible ``[min, max]`` (people) from the published values (read back from the written
frames through the placements: an empty value is suppressed), the relations and the
policy in the table's ``"disclosure"`` metadata. The table passes when every interval is
at least the protection width, no shown count is small (1..k), and every derived column
(percentages, intervals) is empty on a row that lost a count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure import attacker, memo
from unmetneed.disclosure.growth import first_waves
from unmetneed.disclosure.model import Cells, Policy
from unmetneed.disclosure.release import (
    ABSENT_COLUMN,
    Def,
    Piece,
    Release,
    assemble,
    exposed,
    flag,
    floors,
    pin_published_elsewhere,
    published_names,
    renamed_pops,
)

EXACT_LIMIT = 400  # suppressed cells up to which every interval is computed exactly
EXACT_CELLS = 5_000  # ... in a model of at most this many cells (else narrow ones only)


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
    frames: Mapping[str, pd.DataFrame], cells_meta: Cells
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
        if p.name == ABSENT_COLUMN:  # groups a table does not list: published as 0
            published[p.cells] = True
            value[p.cells] = np.where(np.isnan(value[p.cells]), 0.0, value[p.cells])
            continue
        frame = frames.get(p.table or "")
        if frame is None:  # an earlier table of the release: its values come from the register
            continue
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


def _changed(
    name: str,
    frames: Mapping[str, pd.DataFrame],
    structure: Cells,
    cells: np.ndarray,
    said: np.ndarray,
    value: np.ndarray,
    in_files: np.ndarray,
) -> list[str]:
    """The problem, if any, of files that show ``cells`` otherwise than the release's
    register says table ``name`` published them (``said``: people, NaN if suppressed): a
    table changed after it was written (a suppressed count filled in, a count edited)."""
    there, now = in_files[cells], value[cells]
    same = (np.isnan(now) & np.isnan(said)) | np.isclose(now, said, rtol=0.0, atol=1e-9)
    bad = cells[there & ~same]
    if not len(bad):
        return []
    places = _where(frames, structure, bad[:3])
    return [
        f"{len(bad)} cell(s) differ from what the release's register says {name} published "
        f"(a table changed after it was written?): {'; '.join(places)}"
        + (" ..." if len(bad) > 3 else "")
    ]


def small_shown(value: np.ndarray, policy: Policy) -> np.ndarray:
    """Cells whose shown value is (or, rounded, can only be) a small count."""
    if policy.off:
        return np.zeros(len(value), bool)
    seen = ~np.isnan(value)
    lo, hi = attacker.shown_bounds(np.where(seen, value, 0.0), policy)
    if policy.round_to:
        off_grid: np.ndarray = seen & (lo > hi)
        return off_grid
    result: np.ndarray = seen & (value >= policy.floor) & (value <= policy.k)
    return result


def derived_leaks(
    name: str, frame: pd.DataFrame, structure: Cells, derived: Mapping[str, list[str]]
) -> list[str]:
    """Derived columns shown on a row that lost a count (a suppressed value could be rebuilt)."""
    problems = []
    lost = np.zeros(len(frame), dtype=bool)
    for p in structure.placements:
        if p.name in frame and not p.column.startswith("_"):
            lost[p.rows[frame[p.name].isna().to_numpy()[p.rows]]] = True
    for columns in derived.values():
        for column in columns:
            if column in frame:
                leak = lost & frame[column].notna().to_numpy()
                if leak.any():
                    first = int(np.flatnonzero(leak)[0])
                    problems.append(
                        f"{name}: column {column!r} is shown on {int(leak.sum())} row(s) "
                        f"that lost a count (first: row {first + 1})"
                    )
    return problems


def structure_from_meta(meta: Mapping[str, Any]) -> Cells:
    """The :class:`Cells` structure (values unknown: zeros) stored in a disclosure block.

    Raises ``ValueError``/``KeyError``/``TypeError`` when the block is malformed.
    """
    n = int(meta["n_cells"])
    cells = Cells(np.zeros(n, dtype=np.int64))
    for total, parts in meta.get("relations") or []:
        ids = [int(total), *(int(p) for p in parts)]
        if min(ids, default=0) < 0 or max(ids, default=0) >= n:
            raise ValueError(f"a relation names a cell outside 0..{n - 1}")
        cells.add_relation(ids[0], ids[1:])
    for p in meta.get("placements") or []:
        at, rows = np.asarray(p["cells"], np.int64), np.asarray(p["rows"], np.int64)
        if len(at) != len(rows) or (len(at) and (at.min() < 0 or at.max() >= n)):
            raise ValueError(f"placement {p.get('column')!r} does not fit the {n} cells")
        if len(rows) and rows.min() < 0:
            raise ValueError(f"placement {p.get('column')!r} has a negative row")
        cells.place(str(p["column"]), at, rows)
    return cells


@dataclass(frozen=True)
class Written:
    """One written table as ``audit`` reads it: its name, frame, disclosure block and the
    piece it makes in the release model."""

    name: str
    frame: pd.DataFrame | None
    meta: dict[str, Any]
    piece: Piece


def piece_of(
    name: str, meta: Mapping[str, Any], shown: np.ndarray | None = None, written: bool = False
) -> Piece:
    """A written table's disclosure block as a release piece (values unknown); ``written``:
    read from a file, which says whether its suppressed counts may be 0 (``zeros``) when
    it was written as a table of a release (``release`` kept: the key came before it)."""
    cells = structure_from_meta(meta)
    raw = meta.get("defs") or [None] * len(cells.values)
    if len(raw) != len(cells.values):
        raise ValueError("its cell definitions do not match its cells")
    defs = tuple(None if d is None else Def.from_meta(d) for d in raw)
    ours = written and "release" in meta
    blocks, zeros = flag(meta, "blocks"), flag(meta, "zeros", required=ours)
    return Piece(name, cells, defs, blocks, shown, zeros=zeros)


def audit(
    written: Sequence[Written],
    width: int | None = None,
    policy: Policy | None = None,
    folder: Any = None,
) -> Audit:
    """Audit tables published together: every table given (and earlier tables of their
    release) rebuilt in one model from what they publish and what their cells count.

    Passes when no shown count is small, no derived value is shown beside a suppressed
    count, no shown zero gives a suppressed group away, and every suppressed count (and
    every small group a table counts) keeps an attacker interval of at least the width.
    The audit does not know, and does not need, which suppressed counts were small.
    ``folder``: the release folder, where the groups of cells proven are remembered
    (:mod:`memo`): a group proven before, unchanged, is not solved again.
    """
    policy = policy or Policy.from_meta(written[0].meta["policy"])
    w = int(width if width is not None else written[0].meta.get("width", policy.protection_width))
    if w != policy.protection_width:
        policy = replace(policy, width=w)
    release = assemble(first_waves([t.piece for t in written]))
    pin_published_elsewhere(release, policy)
    frames = {t.name: t.frame for t in written if t.frame is not None}
    value, published, problems = published_values(frames, release.cells)
    in_files = published.copy()
    for t in written:
        if t.frame is None and t.piece.shown is not None:
            own = release.ids[t.name]
            keep = np.ones(len(own), dtype=bool)
            keep[t.piece.guarded()] = False
            cells, registered = own[keep], t.piece.shown[keep]
            problems += _changed(t.name, frames, release.cells, cells, registered, value, in_files)
            fresh = ~in_files[cells]  # what the files show is what is published
            value[cells[fresh]] = registered[fresh]
            published[cells] = True
    small = small_shown(np.where(published, value, np.nan), policy)
    if small.any():
        problems.append(f"{int(small.sum())} shown count(s) are small (in the suppressed range)")
    for t in written:
        if t.frame is not None:
            problems += derived_leaks(t.name, t.frame, t.piece.cells, t.meta.get("derived", {}))
    shown = np.where(published, value, np.nan)
    hidden_mask = published & np.isnan(value)
    problems += group_disclosures(release.blocks, shown, hidden_mask, policy)
    floor = floors(release, hidden_mask, policy, shown)
    try:
        narrow = _narrow(release, shown, published, floor, policy, folder)
    except attacker.InconsistentError as exc:
        problems.append(f"the published values contradict the tables' totals ({exc})")
        narrow = hidden_mask.copy()
    hidden = np.flatnonzero(hidden_mask)
    where = _where(frames, release.cells, hidden)
    small_model = len(release.cells.values) <= EXACT_CELLS
    every = len(hidden) <= EXACT_LIMIT and small_model
    exact = hidden if every else np.flatnonzero(narrow & hidden_mask)
    low, high = _intervals_of(release, shown, published, policy, floor, hidden, exact)
    table = pd.DataFrame(
        {"cell": hidden, "where": where, "low": low, "high": high, "ok": ~narrow[hidden]}
    ).assign(width=w)
    bad = np.flatnonzero(narrow)
    if len(bad):
        said = dict(zip(hidden.tolist(), where, strict=True))
        ends = {int(c): (lo, hi) for c, lo, hi in zip(hidden.tolist(), low, high, strict=True)}
        named = [
            _named(said.get(int(c)) or _atom_name(release, int(c)), ends.get(int(c)))
            for c in bad[:10]
        ]
        problems.append(
            f"{len(bad)} suppressed count(s) or small group(s) can be narrowed below {w}: "
            + "; ".join(named)
            + (" ..." if len(bad) > 10 else "")
        )
    return Audit(table, w, policy, problems)


def _narrow(
    release: Release,
    shown: np.ndarray,
    published: np.ndarray,
    floor: np.ndarray,
    policy: Policy,
    folder: Any,
) -> np.ndarray:
    """Mask over cells: narrower than the width to the attacker (:func:`exposed`), with
    the groups of cells proven before in ``folder`` left out and those proven now kept."""
    if folder is None or not release.cells.relations:
        return exposed(release, shown, policy, floor, min_gain=0.25)[0]
    matrix = release.cells.matrix()
    columns = [shown, published, release.guard, floor]
    if np.isfinite(release.most).any():  # ranges published (a counts file's '*')
        columns.append(release.most)
    what = np.column_stack(columns).astype(np.float64)
    labels, keys = memo.digests(matrix, what, policy)
    proven = memo.read(folder)
    before = np.asarray([k in proven for k in keys], dtype=bool)
    narrow = exposed(release, shown, policy, floor, None, 0.25, before[labels])[0]
    failed = np.zeros(len(keys), dtype=bool)
    failed[labels[narrow]] = True
    now = {k for k, bad in zip(keys, failed, strict=True) if not bad}
    if not now <= proven:
        memo.remember(folder, proven | now)
    return narrow


def _intervals_of(
    release: Release,
    shown: np.ndarray,
    published: np.ndarray,
    policy: Policy,
    floor: np.ndarray,
    hidden: np.ndarray,
    exact: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The attacker's [min, max] (people) of the ``exact`` cells among ``hidden``, for the
    report (NaN for the others, or if the published values are inconsistent)."""
    low, high = np.full(len(hidden), np.nan), np.full(len(hidden), np.nan)
    if not len(exact) or not release.cells.relations:
        return low, high
    know = attacker.knowledge(
        release.cells.matrix(), shown, published, policy, floor, ceiling=release.most
    )
    try:
        lo, hi = attacker.intervals(know, exact)
    except attacker.InconsistentError:
        return low, high
    at = np.searchsorted(hidden, exact)
    low[at], high[at] = lo, hi
    return low, high


def _named(where: str, ends: tuple[float, float] | None) -> str:
    """A cell's place, and its interval when known (``to [1, 1]``)."""
    if ends is None or np.isnan(ends[0]):
        return where
    return f"{where} to [{ends[0] + 0.0:g}, {ends[1] + 0.0:g}]"


def _atom_name(release: Release, cell: int) -> str:
    """A readable name of a cell no table shows (a group of people of the model)."""
    if cell < len(release.defs):
        return f"the group {release.defs[cell].to_meta()[1]}"
    return f"a group of people of the model (cell {cell})"


def group_disclosures(
    blocks: Sequence[tuple[int, list[int]]], shown: np.ndarray, hidden: np.ndarray, policy: Policy
) -> list[str]:
    """Blocks whose total is suppressed (or small) and whose categories are all shown as
    zero but one: everyone in the hidden group has that category."""
    if policy.off or policy.zeros_disclosive:
        return []
    found = 0
    for total, parts in blocks:
        small_total = hidden[total] or (shown[total] <= policy.k and shown[total] >= 1)
        if not small_total or len(parts) < 2:
            continue
        zero = np.asarray([shown[p] == 0 for p in parts])
        if zero.sum() == len(parts) - 1:
            found += 1
    if not found:
        return []
    return [
        f"{found} group(s) whose size is suppressed show zeros in every category but one "
        "(group disclosure: everyone in the group has that category)"
    ]


def _where(frames: Mapping[str, pd.DataFrame], structure: Cells, cells: np.ndarray) -> list[str]:
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
        frame = frames.get(p.table or "")
        if frame is None:  # a table published earlier into the release
            out[mine] = [f"{p.table}: a count published earlier" for _ in rows.tolist()]
            continue
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
    result: list[str] = out.tolist()
    return result


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


def read_written(path: Any, sheet: str | None = None) -> pd.DataFrame:
    """A table as the tool wrote it (empty cells as missing), by suffix; ``sheet``: a
    workbook's sheet (default: its first table)."""
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
            from unmetneed.outputs.workbook import is_accessible, read_workbook_table

            if is_accessible(p):
                return read_workbook_table(p, sheet)
            return pd.read_excel(p, sheet_name=sheet or 0, engine="openpyxl")
    except Exception as exc:  # a damaged file is an input problem
        raise InputError(f"{p}: could not be read ({type(exc).__name__}: {exc})") from None
    raise InputError(f"{p}: unknown table type {suffix or '(none)'}; use .parquet, .csv or .xlsx")


def gather(paths: Sequence[Any], release: Any = None) -> list[Written]:
    """The tables to audit together, read with their disclosure blocks, and the earlier
    tables of ``release`` (a register folder), if given.

    Raises ``InputError`` (exit 2) when a file has no disclosure metadata, when its metadata
    is malformed, or when the files were written under different policies.
    """
    from pathlib import Path

    from unmetneed.errors import InputError
    from unmetneed.outputs.write import read_meta

    out: list[Written] = []
    names: set[str] = set()
    for path in paths:
        try:
            meta = read_meta(path) or {}
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: its metadata cannot be read ({exc})") from None
        block = meta.get("disclosure") if isinstance(meta, dict) else None
        if not block:
            raise InputError(
                f"{path}: has no disclosure metadata, so it cannot be audited "
                "(it was not written by unmetneed, or its .meta.json sidecar is missing)",
                hint="For a long table of counts from elsewhere, give its structure: "
                "unmetneed audit TABLE --total-row [--hierarchy area=region] --k K",
            )
        name = str(block.get("table") or Path(path).stem)
        while name in names:
            name += "'"
        names.add(name)
        frame = read_written(path)
        try:
            piece = piece_of(name, block, written=True)
            _check_block(block, piece, len(frame))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise InputError(
                f"{path}: its disclosure metadata is damaged ({type(exc).__name__}: {exc})",
                hint="Write the table again with unmetneed: edited metadata cannot be trusted.",
            ) from None
        out.append(Written(name, frame, dict(block), piece))
    policies = {json.dumps(w.meta["policy"], sort_keys=True) for w in out}
    if len(policies) > 1:
        raise InputError(f"{paths[0]}: the tables were written under different policies")
    if release is not None:
        out = _with_register(out, release)
    return out


def _check_block(block: Mapping[str, Any], piece: Piece, rows: int) -> None:
    """``ValueError`` unless the block is as the tool wrote it: its policy well typed, its
    structure matching its fingerprint, its placements inside the table's rows."""
    policy = block["policy"]
    for key in ("k", "round_to", "width"):
        if not isinstance(policy.get(key, 0), int) or policy.get(key, 0) < 0:
            raise ValueError(f"policy {key} must be a whole number >= 0")
    if not isinstance(block.get("width", 0), int) or block.get("width", 0) < 0:
        raise ValueError("width must be a whole number >= 0")
    Policy.from_meta(policy)
    if "structure_id" in block and block["structure_id"] != Cells.structure_id(dict(block)):
        raise ValueError("its relations do not match their fingerprint (structure_id)")
    for p in piece.cells.placements:
        if len(p.rows) and not p.name.startswith(("_", "~")) and p.rows.max() >= rows:
            raise ValueError(f"placement {p.column!r} names a row the table does not have")


def _with_register(written: list[Written], folder: Any) -> list[Written]:
    """``written`` and the earlier tables of the release in ``folder``."""
    from unmetneed.disclosure import register

    earlier, policy = register.read(folder)
    mine = {w.name for w in written}
    meta = written[0].meta if written else {}
    if not meta and policy is not None:
        meta = {"policy": policy.to_meta(), "width": policy.protection_width}
    extra = []
    names = published_names(earlier)  # as the release's files name its populations
    for p in earlier:  # values unknown to the audit: what was shown is all it uses
        if p.name in mine:
            continue
        cells = Cells(np.zeros(len(p.cells.values), np.int64), list(p.cells.relations))
        defs = renamed_pops(p, names).defs
        piece = Piece(
            p.name, cells, defs, p.blocks, p.shown, p.unshown, bounds=p.bounds, zeros=p.zeros
        )
        extra.append(Written(p.name, None, dict(meta), piece))
    return written + extra
