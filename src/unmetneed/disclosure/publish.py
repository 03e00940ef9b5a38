"""One command's table protected as part of a release (``--release DIR``) or on its own.

Every table a command writes goes through here: the table is a release piece (what its
cells count), protected with the earlier tables of the release if one is given, and its
register entry is added only after the table itself was written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from unmetneed.disclosure import explain, register
from unmetneed.disclosure.identity import same_people
from unmetneed.disclosure.model import Policy, Protection
from unmetneed.disclosure.release import (
    Piece,
    piece_meta,
    protect_pieces,
    published_names,
    sliced,
)

ALONE = (
    "note: this table is protected on its own only. Tables published together (the same "
    "people counted in several tables, or this table and another command's) must be "
    "protected together: give every command the same --release DIR, or make them in one "
    "`unmetneed run`."
)


@dataclass(frozen=True)
class Protected:
    """A table's protection, its piece and release, for ``finish`` and the metadata."""

    protection: Protection
    piece: Piece
    release: Path | None
    names: Mapping[str, str] | None = None  # populations' published names (release order)
    news: register.News | None = None  # what it adds to its release's register

    def meta(self) -> dict[str, Any]:
        """The table's ``"disclosure"`` block (call after ``finish``: derived columns)."""
        where = None if self.release is None else str(self.release)
        return piece_meta(self.piece, self.protection, where, self.names)

    def record(self) -> None:
        """Add the table to its release's register (after it was written)."""
        if self.release is not None and self.news is not None:
            self.news.add_to(self.release)


def protect_one(
    piece: Piece,
    frames: Mapping[str, pd.DataFrame],
    policy: Policy,
    release: Path | str | None = None,
    weight: str | None = None,
    inputs: Sequence[Piece] = (),
) -> Protected:
    """Protect one table (``piece``, counting the people of ``frames``) on its own, or
    against everything already in the release folder ``release`` (named after the people
    of earlier tables its records count exactly: :func:`identity.same_people`).
    ``inputs``: tables someone else published that it was made from (a counts file): the
    attacker holds them, so they join the release as earlier tables (once)."""
    earlier: list[Piece] = []
    folder = Path(release) if release is not None else None
    n_inputs = 0
    if folder is not None:
        earlier, was = register.read(folder)
        register.check_policy(folder, policy, was)
        earlier, n_inputs = register.with_inputs(earlier, inputs)
    found = same_people(earlier, [piece], frames, weight, folder)
    for note in found.notes:
        print(note, file=sys.stderr)
    piece, *guards = found.pieces
    rel, protection = protect_pieces(found.pieces, found.frames, policy, found.earlier, weight)
    reasons = None if folder is None else explain.why(rel, protection, [piece])[piece.name]
    names = published_names([*found.earlier, piece])
    own = sliced(rel, protection, piece.name)
    news = None
    if folder is not None:
        why = {piece.name: reasons} if reasons is not None else None
        protections = [own, *(sliced(rel, protection, g.name) for g in guards)]
        news = register.news(found.pieces, protections, why, found.earlier, n_inputs, found.people)
    return Protected(own, piece, folder, names, news)


def say_alone(write: Callable[[str], None] | None = None) -> None:
    """Tell the user that a table was protected on its own (once per command)."""
    (write or (lambda text: print(text, file=sys.stderr)))(ALONE)
