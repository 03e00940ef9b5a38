"""The register of a release: what was already published from the same people.

A restricted folder (``--release DIR``, or ``release`` in a run's ``[disclosure]``) holding
``register.json``: for every table published into the release, its name, policy, what each
cell counts (definitions), each cell's TRUE value and what was shown (null: suppressed),
its relations and whether they are category blocks; for a table of published counts (no
records), what its exact cells count (``facts``: definitions once records of the same people
join the release, :mod:`identity`). True values make it restricted: keep it with the
records, never with what is published.

Each new table is protected against everything in it (earlier cells cannot change), and
``audit --release DIR`` rebuilds the whole release from it (and keeps ``audited.json``
beside it: digests of the groups of cells it proved, :mod:`unmetneed.disclosure.memo`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unmetneed.disclosure.identity import with_facts
from unmetneed.disclosure.model import Cells, Policy, Protection
from unmetneed.disclosure.release import Def, Piece
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
        pieces = with_facts([_piece(entry, i) for i, entry in enumerate(tables)])
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
    cells = Cells(true)
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
    name = f"{entry['table']}@{index}"
    return Piece(name, cells, defs, bool(entry.get("blocks")), shown, unshown, facts=facts)


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
                "guard": piece.guarded().tolist(),
            }
        )
        if piece.facts:
            out[-1]["facts"] = [None if d is None else d.to_meta() for d in piece.facts]
        if why is not None and piece.name in why:
            out[-1]["why"] = why[piece.name]
    return out


def append(folder: Path | str, new: list[dict[str, Any]]) -> Path:
    """Add ``new`` entries to the register in ``folder`` (created if needed), atomically."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / REGISTER
    old: list[dict[str, Any]] = []
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))["tables"]
    text = json.dumps({"format": FORMAT, "tables": old + new}, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".register.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
