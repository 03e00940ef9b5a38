"""Why is this cell hidden? A restricted explanation, kept in the release register only.

For every suppressed cell of a table: ``primary`` (a small count, 1..K), ``earlier`` (hidden
by an earlier table of the release), or the small counts it protects: the small count that
lost its *certificate* when the pruning tried to show it, or those whose last certificate
moves it (where the pruning did not run: those whose own certificate moves it). A
certificate is a deviation of the true table over the hidden and
unpublished cells that moves the small count by the protection width (or both ways), the
attacker unable to rule it out (:mod:`prune`). A complement no certificate needs protects
no small count directly: it is hidden for a group rule (zeros of a hidden group size), or
to keep another complement's range wide.

This names which suppressed cells are small: it is written to the register (``why`` of
each table's entry, beside the true values), never to a published file.
``unmetneed audit --explain --release DIR`` prints it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure import prune
from unmetneed.disclosure.attacker import TOL
from unmetneed.disclosure.model import Protection
from unmetneed.disclosure.release import PRUNE_MAX_CELLS, Piece, Release, floors

PRIMARY, EARLIER = "primary", "earlier"
#: most small counts x release cells and atoms worked out by :func:`_certified` (one LP over
#: the whole release per small count: a 10-area quarter of a cohort that changed, 753 small
#: counts over some 15,000 cells and atoms, spent 287 s of its 375 s run there)
CERTIFY_MAX_WORK = 4_000_000


def protects(release: Release, protection: Protection) -> dict[int, list[int]]:
    """For each suppressed published cell that is not small (release ids), the small counts
    (release ids) it protects: as the pruning found them (``protection.reasons``, no LP:
    the small count left without a certificate when showing it was tried, else those
    whose certificate moves it), else those whose certificate moves it
    (:func:`_certified`): a complement the pruning never saw (hidden by a repair round
    after it) gets its reason that way too."""
    if not protection.reasons:
        return _certified(release, protection)
    published = release.cells.published()
    small = protection.primary & published
    out: dict[int, list[int]] = {}
    for cell, protected in protection.reasons.items():
        if protection.suppressed[cell] and published[cell] and not small[cell]:
            out[cell] = [int(p) for p in protected if small[p]]
    unexplained = protection.suppressed & published & ~small & ~release.forced
    unexplained[list(out)] = False
    if unexplained.any():
        found = _certified(release, protection)
        out.update({c: found[c] for c in np.flatnonzero(unexplained).tolist() if c in found})
    return out


def _certified(release: Release, protection: Protection) -> dict[int, list[int]]:
    """For each suppressed published cell that is not small, the small counts whose
    certificate (one LP each) moves it. Empty under a rounding policy (shown counts are not
    exact there, so certificates over hidden cells alone say too little), and for a release
    of more than ``PRUNE_MAX_CELLS`` cells and atoms (a 30-area quarterly run spent 196 s
    here) or more small counts times cells and atoms than ``CERTIFY_MAX_WORK``, or where a
    cell was published as a range (a counts file's ``*``: certificates know floors, not
    ceilings); the register then says only which are primary."""
    policy = protection.policy
    cells, values = release.cells, release.cells.values
    published = cells.published()
    hidden = protection.suppressed
    small = protection.primary & published
    if policy.round_to or not small.any() or not cells.relations:
        return {}
    if len(values) > PRUNE_MAX_CELLS or np.isfinite(release.most).any():  # ceilings: see _prune
        return {}
    if int(small.sum()) * len(values) > CERTIFY_MAX_WORK:
        return {}
    floor = np.where(published, floors(release, hidden, policy), 0.0)  # unpublished: >= 0
    free = prune.free_columns(cells.matrix(), values, hidden | ~published, floor)
    other = hidden & published & ~small
    cost = np.zeros(free.n)
    at = np.flatnonzero(other & (free.group >= 0))
    np.add.at(cost, free.group[at], 1.0 + values[at])
    certifier = prune.Certifier(free, cost, float(policy.protection_width))
    member = free.group[np.flatnonzero(other)]
    out: dict[int, list[int]] = {}
    for p in np.flatnonzero(small).tolist():
        col = int(free.group[p])
        moved = None if col < 0 else certifier.certificate(col)
        if moved is None:
            continue
        hit = np.flatnonzero(other)[(member >= 0) & (moved[np.maximum(member, 0)] > TOL)]
        for c in hit.tolist():
            out.setdefault(c, []).append(p)
    return out


def why(
    release: Release,
    protection: Protection,
    pieces: Sequence[Piece],
    reasons: Mapping[int, list[int]] | None = None,
) -> dict[str, list[Any]]:
    """Per piece name, per own cell: None (shown, or never shown), or ``{"at": place,
    "why": reason}``: its first place (``table:column row N``, N from 1) and
    ``"primary"``, ``"earlier"`` or the places of the small counts it protects
    (``reasons``: :func:`protects`, found if not given)."""
    found = protects(release, protection) if reasons is None else reasons
    place = _places(release)
    out: dict[str, list[Any]] = {}
    for piece in pieces:
        own = release.ids[piece.name]
        out[piece.name] = [_one(int(c), release, protection, found, place) for c in own]
    return out


def _one(
    cell: int,
    release: Release,
    protection: Protection,
    found: Mapping[int, list[int]],
    place: Mapping[int, str],
) -> Any:
    """The explanation of one release cell (see :func:`why`)."""
    if not protection.suppressed[cell]:
        return None
    reason: Any = [place.get(p, f"cell {p}") for p in sorted(set(found.get(cell, [])))]
    if protection.primary[cell]:
        reason = PRIMARY
    elif release.forced[cell]:
        reason = EARLIER
    return {"at": place.get(cell, f"cell {cell}"), "why": reason}


def _places(release: Release) -> dict[int, str]:
    """Each placed release cell's first place, ``table:column row N`` (N from 1)."""
    out: dict[int, str] = {}
    for p in release.cells.placements:
        if p.column.startswith("_") or p.name.startswith("_"):
            continue
        for cell, row in zip(p.cells.tolist(), p.rows.tolist(), strict=True):
            out.setdefault(int(cell), f"{p.column} row {int(row) + 1}")
    return out


def explain_register(tables: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The explanations kept in register entries (``tables``: the register's ``"tables"``):
    one row per suppressed cell: its table, where it is shown first and why it is hidden."""
    rows = []
    for entry in tables:
        for item in entry.get("why") or []:
            if item is None:
                continue
            reason = item["why"]
            text = reason if isinstance(reason, str) else _protects_text(reason)
            rows.append({"table": entry["table"], "cell": item["at"], "why": text})
    return pd.DataFrame(rows, columns=["table", "cell", "why"])


def _protects_text(places: Sequence[str]) -> str:
    """``protects: A; B`` or what a complement protecting no small count directly is."""
    if not places:
        return "complement: a group rule, or another complement's range"
    return "protects: " + "; ".join(places)
