"""The register of a release: what was already published from the same people.

A restricted folder (``--release DIR``, or ``release`` in a run's ``[disclosure]``) holding
``register.json``: for every table published into the release, its name, policy, what each
cell counts (definitions), each cell's TRUE value and what was shown (null: suppressed),
its relations and whether they are category blocks; for a table of published counts (no
records), what its exact cells count (``facts``: definitions once records of the same people
join the release, :mod:`identity`). True values make it restricted: keep it with the
records, never with what is published.

A counts file a gap was made from is published by someone else, but the attacker holds it
too: it is registered as an earlier table of its own (:func:`inherited`), each row a cell,
its ``*`` counts suppressed cells with their published range (``bounds``) and a true value
of -1 (not known) until records of the same people join the release; then the register
learns them (:func:`append`'s ``known``).

Each new table is protected against everything in it (earlier cells cannot change), and
``audit --release DIR`` rebuilds the whole release from it (and keeps ``audited.json``
beside it: digests of the groups of cells it proved, :mod:`unmetneed.disclosure.memo`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure.growth import first_waves, write_people
from unmetneed.disclosure.identity import with_facts
from unmetneed.disclosure.model import Cells, Policy, Protection
from unmetneed.disclosure.release import Def, Piece, flag
from unmetneed.errors import InputError

REGISTER = "register.json"
FORMAT = 1


def read(folder: Path | str) -> tuple[list[Piece], Policy | None]:
    """The earlier tables of the release in ``folder`` (as pieces with their shown values)
    and the policy they were published under (None for a new release).

    A missing folder or register is a new, empty release. A damaged register is an
    ``InputError`` (exit 2) naming the file.
    """
    if Path(folder).exists() and not Path(folder).is_dir():
        raise InputError(f"{folder}: is not a folder; --release names a release folder")
    path = Path(folder) / REGISTER
    if not path.exists():
        return [], None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tables = data["tables"]
        pieces = first_waves(with_facts([_piece(entry, i) for i, entry in enumerate(tables)]))
        policy = Policy.from_meta(tables[0]["policy"]) if tables else None
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise InputError(
            f"{path}: is not a release register unmetneed can read ({type(exc).__name__}: {exc})",
            hint="Restore it from a backup; publishing into a release without its register "
            "would leave the new tables unprotected against the old.",
        ) from None
    return pieces, policy


def _piece(entry: dict[str, Any], index: int) -> Piece:
    """One registered table as a piece (named ``<table>@<index>``: names are unique)."""
    defs = tuple(None if d is None else Def.from_meta(d) for d in entry["defs"])
    true = np.asarray(entry["true"], dtype=np.int64)
    shown = np.asarray([np.nan if v is None else float(v) for v in entry["shown"]])
    if not (len(defs) == len(true) == len(shown)):
        raise ValueError(f"table {index}: defs, true and shown differ in length")
    cells = Cells(np.maximum(true, 0))  # not known (-1): 0, below its range (Piece.unknown)
    n = len(true)
    for total, parts in entry.get("relations", []):
        ids = [int(total), *(int(p) for p in parts)]
        if min(ids) < 0 or max(ids) >= n:
            raise ValueError(f"table {index}: a relation names a cell outside 0..{n - 1}")
        cells.add_relation(ids[0], ids[1:])
    if any(not 0 <= int(c) < n for c in entry.get("guard", [])):
        raise ValueError(f"table {index}: a guarded cell outside 0..{n - 1}")
    unshown = tuple(int(c) for c in entry.get("guard", []))
    facts = tuple(None if d is None else Def.from_meta(d) for d in entry.get("facts", []))
    if facts and len(facts) != n:
        raise ValueError(f"table {index}: facts and true differ in length")
    bounds = tuple((int(c), int(lo), int(hi)) for c, lo, hi in entry.get("bounds", []))
    if any(not 0 <= c < n or lo > hi for c, lo, hi in bounds):
        raise ValueError(f"table {index}: a range outside 0..{n - 1}, or upside down")
    ranged = {c: (lo, hi) for c, lo, hi in bounds}
    for c, v in enumerate(true.tolist()):
        lo, hi = ranged.get(c, (0, np.inf))
        if not (lo <= v <= hi or (v == -1 and c in ranged and lo < hi)):
            raise ValueError(f"table {index}: cell {c}'s true value {v} is outside {lo}..{hi}")
    name = f"{entry['table']}@{index}"
    ours = entry.get("source") != "input"  # a table of ours says if a suppressed count may be 0
    blocks, zeros = flag(entry, "blocks"), flag(entry, "zeros", required=ours)
    return Piece(name, cells, defs, blocks, shown, unshown, facts=facts, bounds=bounds, zeros=zeros)


def check_policy(folder: Path | str, policy: Policy, earlier: Policy | None) -> None:
    """A release keeps one policy: a different one would make the attacker's rules differ
    between its tables (an ``InputError`` naming both)."""
    if earlier is not None and earlier.to_meta() != policy.to_meta():
        raise InputError(
            f"{folder}: this release was published under policy {earlier.to_meta()}, "
            f"not {policy.to_meta()}",
            hint="Use the release's policy, or start a new --release folder.",
        )


def entries(
    pieces: Sequence[Piece],
    protections: Sequence[Protection],
    why: Mapping[str, list[Any]] | None = None,
) -> list[dict[str, Any]]:
    """Register entries of newly published tables (``why``: per table, why each cell is
    hidden, :func:`explain.why`; restricted like the true values)."""
    out = []
    for piece, protection in zip(pieces, protections, strict=True):
        shown = [None if np.isnan(v) else float(v) for v in protection.shown.tolist()]
        out.append(
            {
                "table": piece.name,
                "policy": protection.policy.to_meta(),
                "defs": [None if d is None else d.to_meta() for d in piece.defs],
                "true": piece.cells.values.astype(int).tolist(),
                "shown": shown,
                "relations": [[t, list(p)] for t, p in piece.cells.relations],
                "blocks": piece.blocks,
                "zeros": piece.zeros,
                "guard": piece.guarded().tolist(),
            }
        )
        if piece.facts:
            out[-1]["facts"] = [None if d is None else d.to_meta() for d in piece.facts]
        if why is not None and piece.name in why:
            out[-1]["why"] = why[piece.name]
    return out


@dataclass(frozen=True)
class News:
    """What one command adds to a release register: ``entries`` of the tables it published
    (and of tables someone else published that they were made from), and the release's
    earlier tables as it now ``known``s them (true values learned from records)."""

    entries: list[dict[str, Any]]
    known: tuple[Piece, ...] = ()
    people: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # :func:`write_people`

    def __bool__(self) -> bool:
        return bool(self.entries)

    def add_to(self, folder: Path | str) -> Path:
        """Add it to the register in ``folder`` (:func:`append`), with the people of its
        populations (:func:`write_people`)."""
        write_people(folder, self.people)
        return append(folder, self.entries, self.known)


def with_inputs(earlier: Sequence[Piece], inputs: Sequence[Piece]) -> tuple[list[Piece], int]:
    """The release's ``earlier`` tables and, after them, the tables of ``inputs`` (published
    by someone else: a counts file) it has not registered yet; and how many those are."""
    new = unregistered(inputs, earlier)
    return [*earlier, *new], len(new)


def news(
    pieces: Sequence[Piece],
    protections: Sequence[Protection],
    why: Mapping[str, list[Any]] | None,
    earlier: Sequence[Piece],
    inputs: int,
    people: Mapping[str, pd.DataFrame],
) -> News:
    """What a command adds to its release: the last ``inputs`` of the ``earlier`` tables
    (someone else's, new to the register: :func:`with_inputs`), then ``pieces`` with their
    ``protections`` (a grown population's guard pieces among them); the release's tables
    as now known, and the populations' people."""
    policy = protections[0].policy
    added = [inherited(p, policy) for p in earlier[len(earlier) - inputs :]] if inputs else []
    return News(added + entries(pieces, protections, why), tuple(earlier), people)


def unregistered(inputs: Sequence[Piece], earlier: Sequence[Piece]) -> list[Piece]:
    """The tables of ``inputs`` (published by someone else: a counts file) that are not
    registered among ``earlier`` yet (the same cells, shown the same)."""
    return [p for p in inputs if not any(_same_table(p, e) for e in earlier)]


def _same_table(new: Piece, old: Piece) -> bool:
    """Whether ``old`` (registered) is the table ``new`` (the same published counts: cells
    counting the same, shown the same, with the same ranges)."""
    if old.shown is None or new.shown is None or _what(new) != _what(old):
        return False
    same = np.array_equal(old.shown, new.shown, equal_nan=True)
    return same and old.bounds == new.bounds


def _what(piece: Piece) -> list[str | None]:
    """What each cell of ``piece`` counts (its definition, else its fact), as keys."""
    facts = piece.facts or (None,) * len(piece.defs)
    return [
        None if (c := d or f) is None else c.key for d, f in zip(piece.defs, facts, strict=True)
    ]


def inherited(piece: Piece, policy: Policy) -> dict[str, Any]:
    """The register entry of a table someone else published (a counts file: ``piece``
    with its ``shown`` values, ``facts`` and ``bounds``), under the release's ``policy``."""
    assert piece.shown is not None
    entry: dict[str, Any] = {
        "table": piece.name,
        "policy": policy.to_meta(),
        "defs": [None if d is None else d.to_meta() for d in piece.defs],
        "true": np.where(piece.unknown(), -1, piece.cells.values).astype(int).tolist(),
        "shown": [None if np.isnan(v) else float(v) for v in piece.shown.tolist()],
        "relations": [[t, list(p)] for t, p in piece.cells.relations],
        "blocks": piece.blocks,
        "zeros": piece.zeros,
        "guard": [],
        "facts": [None if d is None else d.to_meta() for d in piece.facts],
        "bounds": [list(b) for b in piece.bounds],
        "source": "input",
    }
    return entry


def index_of(piece: Piece) -> int | None:
    """The register entry an earlier table was read from (None for a new one)."""
    head, sep, tail = piece.name.rpartition("@")
    return int(tail) if sep and head and tail.isdigit() else None


def _learn(old: list[dict[str, Any]], known: Sequence[Piece]) -> None:
    """Fill in the true values (-1: not known) of registered tables that ``known`` (the same
    tables, read back and counted from records since: :mod:`identity`) now knows."""
    for piece in known:
        at = index_of(piece)
        if at is None or at >= len(old):
            continue
        true = old[at]["true"]
        found = np.where(piece.unknown(), -1, piece.cells.values).astype(int).tolist()
        if len(found) == len(true) and any(v < 0 for v in true):
            old[at]["true"] = [f if t < 0 else t for t, f in zip(true, found, strict=True)]


def append(folder: Path | str, new: list[dict[str, Any]], known: Sequence[Piece] = ()) -> Path:
    """Add ``new`` entries to the register in ``folder`` (created if needed), atomically;
    with the true values registered tables did not know that ``known`` does."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / REGISTER
    old: list[dict[str, Any]] = []
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))["tables"]
    _learn(old, known)
    text = json.dumps({"format": FORMAT, "tables": old + new}, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".register.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
