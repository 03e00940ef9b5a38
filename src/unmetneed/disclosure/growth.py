"""A cohort that grew: last quarter's people and more, published into one release.

An out-of-treatment cohort file that gains people each quarter is not the population its
earlier tables counted (another fingerprint), yet the attacker holding both quarters'
tables subtracts them: Northton's denominator 38, then 40, and its no_problem count 30,
then 32, say that the 2 people added live in Northton and have no housing problem.

The release keeps each population's people (restricted, beside the register:
:func:`write_people`). When a new file holds every one of an
earlier population's people (same columns, every combination at least as many), it is
that population grown: its people get a *wave* (``_wave``: 0 for the first file's people,
1 for those the next added, ...), a separator variable like period, so

- an earlier cell counts the waves of its time (0..j), a new cell every wave so far;
- the people added are groups of their own, counted but never shown: for every new cell,
  the same people of its latest waves (the newest, the two newest, ...: whatever earlier
  cell the attacker subtracts, the difference is one of them; ``<table>~added``, guarded
  like the gap's substance parts), so no difference between quarters pins a small group;
- a new cell whose count before the newest wave was suppressed starts suppressed
  (:func:`unmetneed.disclosure.release._echoes`): last quarter's pattern.

A file that lost people as well as gaining some is not recognised (other people: their
tables are protected apart, and the user is told). The same file again is the same
population (no new wave); an older file after a newer one is refused (exit 4).

The model stays exact (waves are in the separator; cliques meet only there), and protection
and ``audit --release`` see the same cells.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from unmetneed.disclosure.model import Cells
from unmetneed.disclosure.release import WAVE, Def, Model, Piece
from unmetneed.errors import InputError

PEOPLE = "people"  # DIR/people/<population>.parquet: each cohort's people (restricted)
ADDED = "~added"  # the guard piece of a table of a grown population: ``<table>~added``
COLUMN = "_added"  # its pseudo column (never shown)


def grown(
    stored: pd.DataFrame | None, frame: pd.DataFrame, weight: str
) -> tuple[pd.DataFrame, str | None] | None:
    """``frame``'s people (``weight`` people a row) with their wave: the ``stored`` people's
    waves, and the people beyond them as the next wave (its code, None if there are none);
    None unless the two have the same columns and ``frame`` holds at least the stored
    people of every combination of them."""
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
    new_total = new.groupby("_key")[weight].sum()
    old_total = old.groupby("_key")[weight].sum()
    have = new_total.reindex(old_total.index).fillna(-1)
    if (have < old_total).any():
        return None
    first = new.groupby("_key")["_row"].first()
    rows = frame.iloc[first.reindex(old["_key"]).to_numpy()][columns].reset_index(drop=True)
    kept = rows.copy()
    kept[WAVE] = old[WAVE].to_numpy()
    kept[weight] = old[weight].to_numpy()
    extra = (new_total - old_total.reindex(new_total.index).fillna(0)).astype(np.int64)
    extra = extra[extra > 0]
    wave = str(max((int(w) for w in stored[WAVE].astype(str)), default=-1) + 1)
    added = frame.iloc[first.reindex(extra.index).to_numpy()][columns].reset_index(drop=True)
    added[WAVE] = wave
    added[weight] = extra.to_numpy()
    return pd.concat([kept, added], ignore_index=True), (wave if len(extra) else None)


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
    """The waves of a grown population's people, in order."""
    return sorted({str(w) for w in frame[WAVE].tolist()}, key=int)


def first_wave(pieces: Sequence[Piece], pop: str) -> list[Piece]:
    """``pieces`` with every cell of ``pop`` that names no wave counting wave 0 only (the
    tables published before the population grew)."""
    return [_filtered(p, pop, ("0",), only_unwaved=True) for p in pieces]


def first_waves(pieces: Sequence[Piece]) -> list[Piece]:
    """``pieces`` (a release's tables, as registered or as their files' metadata say) with
    the cells of each population that grew that name no wave counting its first wave only:
    they were published before it grew."""
    out = list(pieces)
    grew = {d.pop for p in out for d in (*p.defs, *p.facts) if d and WAVE in d.variables()}
    for pop in sorted(grew):
        out = first_wave(out, pop)
    return out


def every_wave(pieces: Sequence[Piece], pop: str, codes: Sequence[str]) -> list[Piece]:
    """``pieces`` with every cell of ``pop`` counting the waves ``codes``."""
    return [_filtered(p, pop, tuple(codes), only_unwaved=False) for p in pieces]


def _filtered(piece: Piece, pop: str, codes: tuple[str, ...], only_unwaved: bool) -> Piece:
    """``piece`` with its cells of ``pop`` restricted to the waves ``codes``."""

    def wave(d: Def | None) -> Def | None:
        if d is None or d.pop != pop or (only_unwaved and WAVE in d.variables()):
            return d
        return Def.of(pop, {**{v: c for v, c in d.where}, WAVE: codes})

    if not any(d is not None and d.pop == pop for d in (*piece.defs, *piece.facts)):
        return piece
    return replace(
        piece,
        defs=tuple(wave(d) for d in piece.defs),
        facts=tuple(wave(f) for f in piece.facts),
    )


def added_piece(piece: Piece, pop: str, frame: pd.DataFrame, weight: str) -> Piece | None:
    """The guard piece of ``piece`` (a new table of a population with waves): for each of
    its cells of ``pop``, the people of every run of latest waves (the newest; the two
    newest; ...; all but the first), counted from the waved people ``frame`` and never
    shown. Whatever earlier table of the same cell (waves 0..j) the attacker subtracts
    from it, the difference is one of these groups."""
    codes = waves(frame)
    latest = [codes[i:] for i in range(1, len(codes))]
    defs = [
        Def.of(pop, {**{v: c for v, c in d.where if v != WAVE}, WAVE: tuple(run)})
        for d in piece.defs
        if d is not None and d.pop == pop
        for run in latest
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
    that grew would otherwise be protected apart from its earlier tables, unnoticed.
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
            "a cohort file that grew apart from its earlier tables, showing the people added.",
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
