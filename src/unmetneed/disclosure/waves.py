"""Waves: which files of a population that changed held which people (:mod:`growth`).

A wave is a code: ``0`` the first file's people, ``v`` those file ``v`` added; when people of
wave ``c`` are gone in file ``v``, those kept are ``c.v`` and those gone ``c-v`` (gone for
good). A cell that named ``c`` counts every wave under it. Text only: no tables here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def present(codes: Iterable[str], at: int | None = None) -> list[str]:
    """Of the waves ``codes`` (and the waves they were split from), those whose people the
    file of version ``at`` held (default: the newest), in order: a wave of that version or
    before, not split by then, and not of people gone."""
    known = [c for c in family(codes) if at is None or version(c) <= at]
    split = {parent(c) for c in known}
    return sorted((c for c in known if c not in split and "-" not in c), key=order)


def closed(codes: Iterable[str], universe: Iterable[str]) -> tuple[str, ...]:
    """The waves of ``universe`` that a cell naming ``codes`` counts: each code and every
    wave split from it since (``0`` counts ``0.2``, ``0-2``, ``0.2.3``...), less a wave whose
    people gone are a wave of the universe (all its people are in the waves split from it;
    where they are not, as in published files, the wave stands for its people gone)."""
    tops = set(codes)
    every = family(universe) | tops
    emptied = {parent(c) for c in every if gone(c)}
    found = {u for u in every if u not in emptied and any(under(u, t) for t in tops)}
    return tuple(sorted(found, key=order))


def gone(code: str) -> bool:
    """Whether wave ``code`` is of people gone (``c-v``)."""
    up = parent(code)
    return bool(up) and code[len(up)] == "-"


def family(codes: Iterable[str]) -> set[str]:
    """``codes`` and every wave they were split from."""
    out: set[str] = set()
    for code in {str(c) for c in codes}:
        while code and code not in out:
            out.add(code)
            code = parent(code)
    return out


def parent(code: str) -> str:
    """The wave ``code`` was split from ('' for a wave of people added)."""
    cut = max(code.rfind("."), code.rfind("-"))
    return code[:cut] if cut > 0 else ""


def under(code: str, top: str) -> bool:
    """Whether wave ``code`` is ``top`` or was split from it."""
    return code == top or code.startswith((top + ".", top + "-"))


def version(code: str) -> int:
    """The version of the file that made wave ``code`` (its last number)."""
    return int(re.split(r"[.-]", code)[-1])


def order(code: str) -> tuple[tuple[int, ...], str]:
    """A sort key for waves: by their numbers, then as text (``0``, ``0-2``, ``0.2``,
    ``1``, ``10``)."""
    return tuple(int(n) for n in re.split(r"[.-]", code)), code


def changes(codes: Iterable[str]) -> list[tuple[str, ...]]:
    """For each earlier version of a population's file, the waves (of ``codes``) of the
    people added since and of the people gone since (each where there are any)."""
    universe = family(codes)
    now = present(universe)
    newest = max(version(c) for c in universe)
    out = []
    for at in range(newest):
        then = closed(present(universe, at), universe)
        added = tuple(c for c in now if c not in then)
        left = tuple(c for c in then if c not in now and not any(under(n, c) for n in now))
        out += [g for g in (added, left) if g]
    return list(dict.fromkeys(out))


def version_of(codes: Iterable[str], universe: Iterable[str]) -> int | None:
    """The version of the file whose people a cell counting the waves ``codes`` counts
    (None: no file's: a group added or gone), of a population with waves ``universe``."""
    every = family(universe) | set(codes)
    want = set(codes)
    for at in range(max(version(c) for c in every) + 1):
        if set(closed(present(every, at), every)) == want:
            return at
    return None


def of_version(at: int, universe: Iterable[str]) -> tuple[str, ...]:
    """The waves a cell of the file of version ``at`` counts now (of ``universe``)."""
    every = family(universe)
    return closed(present(every, at), every)
