"""A group made of zeros: when a suppressed count may be 0 (release.made_of_zeros).

The picture, one compare table's category blocks: group T = a + b + c, and a is also a
category of group G = a + x. Where G's size is suppressed, a zero a would be suppressed
with it (group disclosure), so a suppressed a may be 0. If b and c are shown as 0, T has
nobody but a's people: suppressed, T may be 0 as well, and its own zero categories with
it. Without that, a later table showing T = 0 would pin an a that an earlier table
suppressed, and no suppression of the later table could protect it (the red team's
three compare commands, tests/test_redteam_joint.py).
"""

from __future__ import annotations

import numpy as np

from unmetneed.disclosure import Cells, Policy, release
from unmetneed.disclosure.release import Def, Piece

T, A, B, C, G, X = range(6)


def _release(
    values: list[int], blocks: bool = True, plain_shows_t: bool = False
) -> release.Release:
    """The two blocks T = a + b + c and G = a + x as one table (``blocks``: a compare
    table's category blocks), and, ``plain_shows_t``, a gap-like table showing T too."""
    defs = tuple(Def.of("P", {"area": [name]}) for name in "TABCGX")
    cells = Cells(np.asarray(values, np.int64))
    cells.add_relation(T, [A, B, C])
    cells.add_relation(G, [A, X])
    cells.place("count", np.arange(6), np.arange(6))
    pieces = [Piece("compare", cells, defs, blocks=blocks)]
    if plain_shows_t:
        own = Cells(np.asarray([values[T]], np.int64))
        own.place("count", np.array([0]), np.array([0]))
        pieces.append(Piece("gap", own, (defs[T],)))
    return release.assemble(pieces)


def _hidden(rel: release.Release, *cells: int) -> np.ndarray:
    out = np.zeros(len(rel.cells.values), dtype=bool)
    out[list(cells)] = True
    return out


def test_a_group_of_shown_zeros_and_a_zero_of_a_suppressed_group_may_be_0() -> None:
    """a = 2 suppressed in G (size 5, suppressed); b = c = 0 shown: T may be 0."""
    rel = _release([2, 2, 0, 0, 5, 3])
    found = release.made_of_zeros(rel, _hidden(rel, A, G))
    assert np.flatnonzero(found).tolist() == [T]


def test_a_shown_count_above_0_makes_the_group_at_least_that() -> None:
    """c = 1 is shown: T is at least 1."""
    rel = _release([3, 2, 0, 1, 5, 3])
    assert not release.made_of_zeros(rel, _hidden(rel, A, G)).any()


def test_a_group_is_not_made_of_zeros_by_its_own_suppressed_size() -> None:
    """T suppressed makes its zero categories suppressed, which must not make T possibly
    0 in turn (a is in no other suppressed group: G is shown)."""
    rel = _release([2, 2, 0, 0, 5, 3])
    assert not release.made_of_zeros(rel, _hidden(rel, T, A, B, C)).any()


def test_only_compare_tables_say_that_a_suppressed_count_may_be_0() -> None:
    """A table without category blocks (gap) showing T: its text does not say so."""
    apart = _release([2, 2, 0, 0, 5, 3], blocks=False)
    assert not release.made_of_zeros(apart, _hidden(apart, A, G)).any()
    rel = _release([2, 2, 0, 0, 5, 3], plain_shows_t=True)
    assert not release.made_of_zeros(rel, _hidden(rel, A, G)).any()


def test_protecting_only_a_zero_is_taken_to_be_possibly_0_auditing_any() -> None:
    """Protection knows the truth: a suppressed T of 2 is at least 1 (policy floor), one
    of 0 may be 0. The audit does not: T may be 0 whatever it is."""
    policy = Policy.named(k=3)
    two = _release([2, 2, 0, 0, 5, 3])
    hidden = _hidden(two, T, A, G)
    assert release.floors(two, hidden, policy)[T] == policy.floor == 1
    shown = np.where(hidden, np.nan, two.cells.values.astype(float))
    assert release.floors(two, hidden, policy, shown)[T] == 0
    zero = _release([0, 0, 0, 0, 3, 3])
    assert release.floors(zero, _hidden(zero, T, A, G), policy)[T] == 0
