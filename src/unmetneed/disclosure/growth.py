"""A cohort that changed: last quarter's people, less some, and more, in one release.

An out-of-treatment cohort file that gains or loses people each quarter is not the
population its earlier tables counted (another fingerprint), yet the attacker holding both
quarters' tables subtracts them: Northton's denominator 38, then 40, and its no_problem
count 30, then 32, say that the 2 people added live in Northton and have no housing
problem; 38, then 37, and no_problem 30, then 29, say the same of the one who left.

The release keeps each population's people (restricted, beside the register:
:func:`write_people`). When a new file has the same columns and shares at least half its
people with the earlier population's latest file (people alike in every column are
interchangeable: per combination, the fewer of the two counts are kept), it is that
population changed, and its people get a *wave* (``_wave``), a separator variable like
period, that says which files held them:

- ``0`` the first file's people, ``1`` those the next file added, ...: a file that only
  gained people adds a wave ``v`` (the file's *version*);
- a file that lost people of wave ``c`` splits it: those kept become ``c.v``, those gone
  ``c-v`` (gone for good: a person back later is a person added). A cell that named ``c``
  counts ``c`` and every code under it (``c.v``, ``c-v``, ``c.v.w``...): whatever the file of
  its time held (:func:`closed`);
- an earlier cell counts the waves of its time, a new cell the waves the newest file holds;
- the people added and the people gone are groups of their own, counted but never shown:
  for every new cell, those added since each earlier version and those gone since
  (``<table>~added``, guarded like the gap's substance parts), so no difference between
  quarters pins a small group;
- a new cell whose count in the file before was suppressed starts suppressed
  (:func:`unmetneed.disclosure.release._echoes`): last quarter's pattern.

A file sharing fewer people is other people: its tables are protected apart, and the user is
told. The same file again is the same population (no new wave).

The model stays exact (waves are in the separator; cliques meet only there), and protection
and ``audit --release`` see the same cells.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from unmetneed.disclosure.model import Cells
from unmetneed.disclosure.release import WAVE, Def, Model, Piece
from unmetneed.disclosure.waves import changes, closed, order, present, version
from unmetneed.errors import InputError

PEOPLE = "people"  # DIR/people/<population>.parquet: each cohort's people (restricted)
ADDED = "~added"  # the guard piece of a table of a grown population: ``<table>~added``
COLUMN = "_added"  # its pseudo column (never shown)


def grown(
    stored: pd.DataFrame | None, frame: pd.DataFrame, weight: str
) -> tuple[pd.DataFrame, str | None] | None:
    """``frame``'s people (``weight`` people a row) with their waves, beside the ``stored``
    people the newest file no longer holds: the stored people's waves, kept people of a
    wave that lost some split from those gone, the people beyond them as the next wave; and
    the new version (None: the same people). None unless the two have the same columns and,
    where people are gone, share at least half of the people of each (the newest stored
    file's and ``frame``'s): people alike in every column are interchangeable, so per
    combination the fewer of the two counts are kept."""
    if stored is None:
        return None
    if WAVE not in stored:
        stored = stored.assign(**{WAVE: "0"})
    columns = [c for c in stored.columns if c not in (WAVE, weight)]
    mine = [c for c in frame.columns if c != weight]
    if sorted(columns) != sorted(mine) or not columns:
        return None
    new = _keyed(frame, columns, weight)
    old = _keyed(stored, columns, weight)
    held = old[WAVE].isin(present(old[WAVE]))
    new_total = new.groupby("_key")[weight].sum()
    old_total = old[held].groupby("_key")[weight].sum()
    kept = new_total.reindex(old_total.index).fillna(0).clip(upper=old_total)
    shared, gone = int(kept.sum()), int((old_total - kept).sum())
    if gone and 2 * shared < max(int(new_total.sum()), int(old_total.sum())):
        return None
    extra = (new_total - kept.reindex(new_total.index).fillna(0)).astype(np.int64)
    extra = extra[extra > 0]
    first = new.groupby("_key")["_row"].first()  # each combination's first row in frame
    rows = _rows(frame, first, stored, old, columns, weight)
    if not gone and not len(extra):
        return rows, None
    made = max(version(str(c)) for c in old[WAVE]) + 1
    people = _split(rows, old, held, kept, made, weight) if gone else rows
    added = frame.iloc[first.reindex(extra.index).to_numpy()][columns].reset_index(drop=True)
    added[WAVE] = str(made)
    added[weight] = extra.to_numpy()
    return pd.concat([people, added], ignore_index=True), str(made)


def _rows(
    frame: pd.DataFrame,
    first: pd.Series,
    stored: pd.DataFrame,
    old: pd.DataFrame,
    columns: list[str],
    weight: str,
) -> pd.DataFrame:
    """The ``stored`` people (``old``: keyed), each row written as ``frame`` writes its
    combination (as stored where ``frame`` has nobody of it; ``first``: each combination's
    first row in ``frame``), with its wave and people."""
    text = frame.iloc[first.to_numpy()][columns].set_axis(first.index)
    lost = old.loc[~old["_key"].isin(first.index)].drop_duplicates("_key")
    if len(lost):
        mine = stored.iloc[lost["_row"].to_numpy()][columns].set_axis(lost["_key"].to_numpy())
        text = pd.concat([text.astype(object), mine.astype(object)])
    rows = text.loc[old["_key"].to_numpy()].reset_index(drop=True)
    rows[WAVE] = old[WAVE].to_numpy()
    rows[weight] = old[weight].to_numpy()
    return rows


def _split(
    rows: pd.DataFrame,
    old: pd.DataFrame,
    held: pd.Series,
    kept: pd.Series,
    made: int,
    weight: str,
) -> pd.DataFrame:
    """``rows`` (the stored people) with the newest file's people of each combination
    (``kept`` of them; oldest waves first) apart from those gone: in a wave that lost
    anyone, the kept become ``<wave>.<made>`` and the gone ``<wave>-<made>`` (``made``:
    the new file's version)."""
    ranked = old.assign(_order=old[WAVE].map(order), _at=np.arange(len(old)))
    ranked = ranked[held.to_numpy()].sort_values(["_key", "_order", "_at"], kind="stable")
    before = ranked.groupby("_key")[weight].cumsum() - ranked[weight]
    room = kept.reindex(ranked["_key"]).to_numpy() - before.to_numpy()
    stay = np.clip(room, 0, ranked[weight].to_numpy()).astype(np.int64)
    leave = ranked[weight].to_numpy() - stay
    split = set(ranked[WAVE][leave > 0].tolist())
    at, codes = ranked["_at"].to_numpy(), ranked[WAVE].to_numpy(object)
    splits = np.isin(codes, list(split))
    still = rows.iloc[at[splits & (stay > 0)]].assign(**{weight: stay[splits & (stay > 0)]})
    still[WAVE] = [f"{w}.{made}" for w in codes[splits & (stay > 0)]]
    went = rows.iloc[at[leave > 0]].assign(**{weight: leave[leave > 0]})
    went[WAVE] = [f"{w}-{made}" for w in codes[leave > 0]]
    same = np.ones(len(rows), dtype=bool)
    same[at[splits]] = False
    out: pd.DataFrame = pd.concat([rows[same], still, went], ignore_index=True)
    return out


def _keyed(frame: pd.DataFrame, columns: list[str], weight: str) -> pd.DataFrame:
    """``frame`` with each row's combination of ``columns`` as one text key (``_key``), its
    position (``_row``) and its people (``weight``; 1 each without the column)."""
    text = frame[columns].astype("string").fillna("\x00")
    key = text[columns[0]]
    if len(columns) > 1:
        key = key.str.cat(text[columns[1:]], sep="\x1f")
    people = frame[weight] if weight in frame else pd.Series(1, index=frame.index)
    out = pd.DataFrame({"_key": key.to_numpy(), "_row": np.arange(len(frame))})
    out[weight] = people.to_numpy(np.int64)
    if WAVE in frame:
        out[WAVE] = frame[WAVE].astype(str).to_numpy()
    return out


def waves(frame: pd.DataFrame) -> list[str]:
    """The waves of the people the newest file of a population with waves holds, in order."""
    return present(frame[WAVE].astype(str))


def first_wave(pieces: Sequence[Piece], pop: str, universe: Iterable[str] = ()) -> list[Piece]:
    """``pieces`` with every cell of ``pop`` that names no wave counting wave 0 (the tables
    published before the population changed), and every cell counting the waves split
    since from those it names (of ``universe`` and the waves the cells name)."""
    out = [_filtered(p, pop, lambda _: ("0",), only_unwaved=True) for p in pieces]
    every = {str(u) for u in universe}
    for d in (d for p in out for d in _cells_of(p, pop)):
        every.update(dict(d.where).get(WAVE, ()))
    return [_filtered(p, pop, lambda codes: closed(codes, every), only_unwaved=False) for p in out]


def first_waves(pieces: Sequence[Piece]) -> list[Piece]:
    """``pieces`` (a release's tables, as registered or as their files' metadata say) with
    the cells of each population that changed that name no wave counting its first wave:
    they were published before it changed; and every cell the waves split since."""
    out = list(pieces)
    grew = {d.pop for p in out for d in (*p.defs, *p.facts) if d and WAVE in d.variables()}
    for pop in sorted(grew):
        out = first_wave(out, pop)
    return out


def every_wave(pieces: Sequence[Piece], pop: str, codes: Sequence[str]) -> list[Piece]:
    """``pieces`` with every cell of ``pop`` counting the waves ``codes``."""
    return [_filtered(p, pop, lambda _: tuple(codes), only_unwaved=False) for p in pieces]


def _cells_of(piece: Piece, pop: str) -> list[Def]:
    """The definitions and facts of ``piece`` that count people of ``pop``."""
    return [d for d in (*piece.defs, *piece.facts) if d is not None and d.pop == pop]


def _filtered(
    piece: Piece,
    pop: str,
    codes: Callable[[tuple[str, ...]], tuple[str, ...]],
    only_unwaved: bool,
) -> Piece:
    """``piece`` with its cells of ``pop`` counting the waves ``codes`` gives for those they
    name (none: ``()``)."""

    def wave(d: Def | None) -> Def | None:
        if d is None or d.pop != pop or (only_unwaved and WAVE in d.variables()):
            return d
        where = dict(d.where)
        return Def.of(pop, {**where, WAVE: codes(tuple(where.get(WAVE, ())))})

    if not _cells_of(piece, pop):
        return piece
    return replace(
        piece,
        defs=tuple(wave(d) for d in piece.defs),
        facts=tuple(wave(f) for f in piece.facts),
    )


def added_piece(piece: Piece, pop: str, frame: pd.DataFrame, weight: str) -> Piece | None:
    """The guard piece of ``piece`` (a new table of a population with waves): for each of
    its cells of ``pop`` and each earlier version of the file, the people added since and
    the people gone since, counted from the waved people ``frame`` and never shown. Whatever
    earlier table of the same cell the attacker subtracts from it, the difference is the one
    group less the other."""
    groups = changes(frame[WAVE].astype(str))
    defs = [
        Def.of(pop, {**{v: c for v, c in d.where if v != WAVE}, WAVE: group})
        for d in piece.defs
        if d is not None and d.pop == pop
        for group in groups
    ]
    unique = list({d.key: d for d in defs}.values())
    if not unique:
        return None
    model = Model.build(unique, 0, {pop: frame})
    atoms = model.count({pop: frame}, weight)
    found = model.pops[pop]
    values = np.asarray([int(atoms[found.atoms(d)].sum()) for d in unique], dtype=np.int64)
    cells = Cells(values)
    cells.place(COLUMN, np.arange(len(unique)), np.arange(len(unique)))
    return Piece(piece.name + ADDED, cells, tuple(unique))


def people_path(folder: Path | str, pop: str) -> Path:
    """Where the release keeps population ``pop``'s people."""
    name = hashlib.sha256(pop.encode()).hexdigest()[:16]
    return Path(folder) / PEOPLE / f"{name}.parquet"


def read_people(folder: Path | str, pop: str) -> pd.DataFrame | None:
    """Population ``pop``'s people as the release kept them (None: not kept: a release made
    before it kept people, or another kind of population).

    Raises ``InputError`` (exit 2) for a file that is there but cannot be read: a cohort
    that changed would otherwise be protected apart from its earlier tables, unnoticed.
    """
    path = people_path(folder, pop)
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(
            f"{path}: the release's people of an earlier cohort cannot be read ({exc})",
            hint="Restore the release folder from its backup. Deleting the file would protect "
            "a cohort file that changed apart from its earlier tables, showing the people "
            "added or gone.",
        ) from None


def write_people(folder: Path | str, people: Mapping[str, pd.DataFrame]) -> None:
    """Keep each population's people in the release (restricted, like the register),
    atomically; a population's people already kept are replaced only by more columns
    or by a grown population's waves."""
    for pop, frame in people.items():
        path = people_path(folder, pop)
        try:
            old = read_people(folder, pop)
        except InputError:  # unreadable: these people replace it
            old = None
        if old is not None and WAVE not in frame and set(frame.columns) <= set(old.columns):
            continue
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".people.", suffix=".tmp")
        os.close(fd)
        frame.reset_index(drop=True).to_parquet(tmp, index=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
