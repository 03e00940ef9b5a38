"""Which tables of a release count the same people, whatever their population's name.

A population is named by a fingerprint of its records, so the same people read another
way get another name: a gap made from a counts file (its counts published, some
suppressed: no records, no fingerprint of people) and a gap made from the extract those
counts were counted from; an extract and the k-anonymised extract a run wrote. A release
holds tables of the same people (contract 4.4) and the attacker ties them through every
cell they share: the counts gap shows Midford's opiate users (34) that the record gap
hid to keep Midford's crack users without opiates (2) from being 36 - 34.

:func:`same_people` names new tables after an earlier population of the release when the
new records count every cell of it exactly (then they are protected together, over the
new records' atoms), and refuses a new table that shares cells with an earlier population
it cannot be protected against (every shared cell agrees, but the new records cannot
count the earlier cells: a counts file after tables of the records, say).

A counts file's suppressed counts (``*``: 1..4) are cells of the release too (the counts
file is public, :func:`register.inherited`): records match them when they count each
within its range, and once they join, those cells' true values are counted from them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from unmetneed.disclosure import growth
from unmetneed.disclosure.release import RAW, WAVE, Def, Model, Piece, renamed_pops
from unmetneed.errors import DisclosureError

GROWS = "cohort"  # the kind of population whose file may grow between quarters (:mod:`growth`)


def with_facts(pieces: Sequence[Piece]) -> list[Piece]:
    """``pieces`` with the facts of untied cells made definitions where some table of the
    same people has definitions of its own (their records joined the release)."""
    tied = {d.pop for p in pieces for d in p.defs if d is not None}
    out = []
    for p in pieces:
        if p.facts and any(f is not None and f.pop in tied for f in p.facts):
            defs = tuple(d if d is not None else f for d, f in zip(p.defs, p.facts, strict=True))
            p = replace(p, defs=defs, facts=())
        out.append(p)
    return out


@dataclass
class Identified:
    """What :func:`same_people` found: the earlier tables and the new ones (populations
    renamed; the guard pieces of a grown population's new tables among them), the
    records, notes for the user, and the people to keep in the release."""

    earlier: list[Piece]
    pieces: list[Piece]
    frames: dict[str, pd.DataFrame]
    notes: list[str] = field(default_factory=list)
    people: dict[str, pd.DataFrame] = field(default_factory=dict)


def same_people(
    earlier: Sequence[Piece],
    pieces: Sequence[Piece],
    frames: Mapping[str, pd.DataFrame],
    weight: str | None = None,
    folder: Path | str | None = None,
) -> Identified:
    """The ``earlier`` tables (facts made definitions where now tied), the new ``pieces``
    and their records ``frames``, with each new population not yet in the release renamed
    after the first earlier one (of its kind) whose every cell its records count exactly,
    or, with the release ``folder``, whose people its records share at least half of (a
    cohort that changed: :mod:`growth`); notes for the user (tables of other people that
    share cells with earlier ones); and the populations' people to keep in the release.

    Raises ``DisclosureError`` (exit 4) for a new table that shares cells with an earlier
    population it is not protected with, when every shared cell has the same value.
    """
    frames = _records(frames, pieces)
    before = _pops(earlier)
    names: dict[str, str] = {}
    only: dict[str, tuple[str, ...]] = {}  # a population whose records hold some periods
    unkept: list[str] = []  # earlier cohorts the release keeps no people of
    for pop, frame in list(frames.items()):
        if pop in before and folder is not None and weight and _kind(pop) == GROWS:
            frames[pop] = _changed(pop, frame, weight, folder)
        if pop in before or not _kind(pop):  # known, or a table's own people: ``joint``
            continue
        others = [q for q in before if _kind(q) == _kind(pop) and q not in frames]
        known = _cells(earlier, set(others))
        seen = _periods(frame)
        match = next(
            (q for q in others if _counts(_within(known[q], seen), pop, frame, weight)), None
        )
        if match is None and folder is not None and weight and _kind(pop) == GROWS:
            match, frame = _grown_from(others, frame, weight, folder, unkept)
        if match is not None:
            names[pop] = match
            frames.pop(pop)
            frames[match] = frame
            if seen is not None and len(_within(known[match], seen)) < len(known[match]):
                only[match] = seen
    pieces = [_in_periods(renamed_pops(p, names), only) for p in pieces]
    earlier, pieces = _waved(list(earlier), pieces, frames, weight)
    tied = with_facts([*earlier, *pieces])
    earlier = tied[: len(earlier)]
    pieces = [  # published counts of people whose records are here now: counted from them
        t if any(f is not None and f.pop in frames for f in p.facts) else p
        for p, t in zip(pieces, tied[len(earlier) :], strict=True)
    ]
    earlier = [_learned(p, frames, weight) for p in earlier]
    _refuse_uncountable(earlier, pieces, frames)
    notes = _refuse_shared(earlier, pieces, before)
    if notes and unkept:
        notes.append(_unkept(folder))
    people = {p: f for p, f in frames.items() if _kind(p) == GROWS}
    return Identified(earlier, pieces, frames, notes, people)


def _grown_from(
    others: Sequence[str],
    frame: pd.DataFrame,
    weight: str,
    folder: Path | str,
    unkept: list[str],
) -> tuple[str | None, pd.DataFrame]:
    """The first of the earlier populations ``others`` whose kept people ``frame`` holds
    and more, and ``frame`` with their waves (:mod:`growth`); ``unkept`` gets those the
    release keeps no people of."""
    for q in others:
        stored = growth.read_people(folder, q)
        if stored is None:
            unkept.append(q)
        found = growth.grown(stored, frame, weight)
        if found is not None:
            return q, found[0]
    return None, frame


def _changed(pop: str, frame: pd.DataFrame, weight: str, folder: Path | str) -> pd.DataFrame:
    """``frame``, a cohort file named as the earlier population ``pop`` (the same counts by
    the fingerprint's columns), with its people's waves where the release keeps waves of
    ``pop`` or the file changed in another column (:mod:`growth`); as it is otherwise."""
    stored = growth.read_people(folder, pop)
    found = growth.grown(stored, frame, weight)
    if stored is None or found is None or (found[1] is None and WAVE not in stored):
        return frame
    return found[0]


def _waved(
    earlier: list[Piece],
    pieces: list[Piece],
    frames: Mapping[str, pd.DataFrame],
    weight: str | None,
) -> tuple[list[Piece], list[Piece]]:
    """Tables of a population with waves (it changed): earlier cells naming no wave count the
    first, and every earlier cell the waves split since from those it names; new cells count
    the waves the newest file holds; and each new table's people added or gone since each
    earlier file are a guard piece of their own (:mod:`growth`)."""
    for pop, frame in frames.items():
        if WAVE not in frame:
            continue
        earlier = growth.first_wave(earlier, pop, frame[WAVE].astype(str))
        mine = growth.every_wave(pieces, pop, growth.waves(frame))
        guards = [growth.added_piece(p, pop, frame, weight or "") for p in mine]
        pieces = mine + [g for g in guards if g is not None]
    return earlier, pieces


def _unkept(folder: Path | str | None) -> str:
    """What the user is told when a cohort's earlier tables have no people kept in the
    release (it was made before releases kept them, or the files were deleted)."""
    return (
        f"note: the release {folder} keeps no people of an earlier cohort's tables (its "
        "people/ folder), so a cohort file that changed since cannot be recognised as the "
        "same people changed. Start a new release."
    )


def _records(
    frames: Mapping[str, pd.DataFrame], pieces: Sequence[Piece]
) -> dict[str, pd.DataFrame]:
    """``frames`` less those of populations no new table counts records of (a counts file
    with suppressed counts, read as its rows: not people), so that records of the same
    people among them, or later, can be named after them."""
    counted = {d.pop for p in pieces for d in p.defs if d is not None}
    return {pop: f for pop, f in frames.items() if pop in counted or not _kind(pop)}


def _periods(frame: pd.DataFrame) -> tuple[str, ...] | None:
    """The periods records ``frame`` hold people of (None: no period column)."""
    if "period" not in frame:
        return None
    return tuple(sorted({str(p) for p in frame["period"].dropna().unique().tolist()}))


def _within(cells: Mapping[str, Cell], periods: tuple[str, ...] | None) -> dict[str, Cell]:
    """The ``cells`` of the ``periods`` records hold (all, when they have no period): a
    quarter's extract is the people of a counts file's quarter, not of its other years."""
    return {key: cell for key, cell in cells.items() if _held(cell[0], periods)}


def _in_periods(piece: Piece, only: Mapping[str, tuple[str, ...]]) -> Piece:
    """``piece`` with its cells of a population whose records hold some of its periods
    only (``only``) counting those periods (a cell naming no period counts every period
    of its population, and the records are the people of some)."""
    if not only:
        return piece

    def limited(d: Def | None) -> Def | None:
        if d is None or d.pop not in only or "period" in d.variables():
            return d
        return Def.of(d.pop, {**dict(d.where), "period": only[d.pop]})

    facts = tuple(limited(f) for f in piece.facts)
    return replace(piece, defs=tuple(limited(d) for d in piece.defs), facts=facts)


def _kind(pop: str) -> str:
    """A population's kind (``treatment``, ``cohort``; a table's own: '')."""
    return pop.split(":", 1)[0] if ":" in pop else ""


def _pops(pieces: Sequence[Piece]) -> list[str]:
    """The populations ``pieces`` count (definitions and facts), in order."""
    found = {d.pop: None for p in pieces for d in (*p.defs, *p.facts) if d is not None}
    return list(found)


Cell = tuple[Def, int, int]  # what a cell counts, and the least and most it is (people)


def _cells(pieces: Sequence[Piece], pops: set[str] | None = None) -> dict[str, dict[str, Cell]]:
    """Per population (of ``pops``; default all), its cells (definitions and facts) by
    key, with their values (least and most: a counts file's ``*`` is 1..4 until known)."""
    out: dict[str, dict[str, Cell]] = {}
    for p in pieces:
        facts = p.facts or (None,) * len(p.defs)
        ranges = {c: (lo, hi) for c, lo, hi in p.bounds}
        for i, (d, f, v) in enumerate(zip(p.defs, facts, p.cells.values.tolist(), strict=True)):
            cell = d if d is not None else f
            if cell is not None and (pops is None or cell.pop in pops):
                lo, hi = ranges[i] if i in ranges and v < ranges[i][0] else (int(v), int(v))
                out.setdefault(cell.pop, {})[cell.key] = (cell, lo, hi)
    return out


def _counted(defs: Sequence[Def], pop: str, frame: pd.DataFrame, weight: str | None) -> np.ndarray:
    """People of the records ``frame`` (as population ``pop``) in each of ``defs``."""
    defs = [Def(pop, d.where) for d in defs]
    model = Model.build(defs, 0, {pop: frame})
    atoms = model.count({pop: frame}, weight)
    found = model.pops[pop]
    return np.asarray([int(atoms[found.atoms(d)].sum()) for d in defs], dtype=np.int64)


def _held(d: Def, periods: tuple[str, ...] | None) -> bool:
    """Whether records of ``periods`` (None: any) hold every person cell ``d`` counts."""
    return periods is None or set(dict(d.where).get("period", periods)) <= set(periods)


def _counts(cells: Mapping[str, Cell], pop: str, frame: pd.DataFrame, weight: str | None) -> bool:
    """Whether the records ``frame`` count every one of ``cells`` (as population ``pop``)
    exactly, or within its range where only a range was published."""
    if not cells:  # nothing in common: not the same people
        return False
    got = _counted([d for d, _, _ in cells.values()], pop, frame, weight)
    lo = np.asarray([lo for _, lo, _ in cells.values()], dtype=np.int64)
    hi = np.asarray([hi for _, _, hi in cells.values()], dtype=np.int64)
    return bool(((got >= lo) & (got <= hi)).all())


def _learned(piece: Piece, frames: Mapping[str, pd.DataFrame], weight: str | None) -> Piece:
    """``piece`` with its cells' unknown true values (a counts file's ``*``) counted from
    the records of their people, where those joined the release."""
    values = piece.cells.values
    todo = [c for c in np.flatnonzero(piece.unknown()).tolist() if piece.defs[c] is not None]
    pops = {d.pop for c in todo if (d := piece.defs[c]) is not None}
    if not todo or len(pops) != 1 or next(iter(pops)) not in frames:
        return piece
    pop = next(iter(pops))
    seen = _periods(frames[pop])  # only the periods the records hold people of
    todo = [c for c in todo if (d := piece.defs[c]) is not None and _held(d, seen)]
    if not todo:
        return piece
    defs = [d for c in todo if (d := piece.defs[c]) is not None]
    cells = copy.deepcopy(piece.cells)
    cells.values = values.copy()
    cells.values[todo] = _counted(defs, pop, frames[pop], weight)
    return replace(piece, cells=cells)


def _refuse_uncountable(
    earlier: Sequence[Piece], pieces: Sequence[Piece], frames: Mapping[str, pd.DataFrame]
) -> None:
    """Refuse a new table of a population the release has tables of records of, when it
    cannot count their cells: published counts (untied), or records without a column
    those tables count by."""
    tied: dict[str, set[str]] = {}
    for p in earlier:
        for d in p.defs:
            if d is not None:
                tied.setdefault(d.pop, set()).update(d.variables())
    for piece in pieces:
        if any(f is not None and f.pop in tied for f in piece.facts):
            raise _cannot(piece.name, "it is published counts, not records")
    for pop, frame in frames.items():
        missing = sorted(v for v in tied.get(pop, ()) if not _counted_by(frame, v))
        if WAVE in missing:
            raise _cannot(
                ", ".join(p.name for p in pieces),
                "it is made from an older file of people the release has since counted more "
                "of (a cohort that grew): make it from the latest file",
            )
        if missing:
            names = ", ".join(p.name for p in pieces)
            raise _cannot(names, f"its records have no {', '.join(missing)}")


def _counted_by(frame: pd.DataFrame, variable: str) -> bool:
    """Whether records ``frame`` can be counted by ``variable`` (a column it needs)."""
    if variable == WAVE:  # an older file of a population that grew since
        return WAVE in frame
    if variable == "dgc":
        return "drug_group" in frame
    return (variable[len(RAW) :] if variable.startswith(RAW) else variable) in frame


def _cannot(name: str, why: str) -> DisclosureError:
    """The refusal of a table that counts the release's people but cannot be protected
    against its earlier tables (``why``: what it lacks)."""
    return DisclosureError(
        f"{name}: counts the same people as earlier tables of this release, but cannot be "
        f"protected against them: {why}",
        hint="Make this table from the records the earlier tables were made from (a gap "
        "from the extract, not from published counts), or publish it in another release.",
    )


def _refuse_shared(
    earlier: Sequence[Piece], pieces: Sequence[Piece], pops: Sequence[str]
) -> list[str]:
    """Refuse a new table whose cells, under another population's name, are earlier cells
    of the release with the same values (the same people, not protected together);
    ``pops``: the earlier tables' populations. Returns a note for each new table sharing
    cells with earlier ones of other people (some values differ)."""
    notes: list[str] = []
    for piece in pieces:
        mine = _cells([piece])
        kinds = {_kind(p) for p in mine}
        others = {q for q in pops if _kind(q) and _kind(q) in kinds and q not in mine}
        if not others:
            continue
        before = _cells(earlier, others)
        for pop, cells in mine.items():
            for other, theirs in before.items():
                if _kind(other) != _kind(pop):
                    continue
                shared = [  # exact values only (not a '*' of a counts file)
                    (lo, theirs[key][1])
                    for d, lo, hi in cells.values()
                    if (key := Def(other, d.where).key) in theirs
                    and lo == hi
                    and theirs[key][1] == theirs[key][2]
                ]
                if shared and all(a == b for a, b in shared):
                    raise _cannot(
                        piece.name,
                        "the cells they share have the same values, and what it "
                        "was made from does not count their cells (published counts, or an "
                        "extract without the columns they count by)",
                    )
                if shared:
                    notes.append(_apart(piece.name))
    return notes


def _apart(name: str) -> str:
    """What the user is told of a table of other people beside earlier ones (never how
    many cells differ: that would say something of the suppressed ones)."""
    return (
        f"note: {name} counts other people than earlier tables of this release (cells they "
        "share differ), so it is protected apart from them. A cohort file that shares at "
        "least half its people with the earlier one is recognised as those people changed "
        "and protected with its earlier tables; one that shares fewer is not, and the "
        "differences between the tables show the people who changed: keep one cohort file "
        "per release, or publish a new cohort into a new release."
    )
