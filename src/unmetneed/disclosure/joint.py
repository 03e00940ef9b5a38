"""People known only from published cells: tables of counts from elsewhere in one release.

``suppress`` protects tables of counts that come without records. A release holds tables
of the same people (contract 4.4), so two of them that share a column (the a x b and a x c
margins of one table) or a grand total are tied: the attacker works out a hidden cell of
one from the cells the other shows. They are protected together when they can be margins
of one table of people: :func:`join` names the new table's people after the release's
earlier ``suppress`` tables it shares the most cells with (two as good: refused, exit 4),
and finds a table of people (whole numbers, by every column
any of them uses) that every cell of them counts exactly, by an integer program.

That table stands in for the records. Protection needs the cells' true values (the
tables') and some table of people behind them for its searches to start from, not the
true one: any table the cells agree with is a point the attacker's LP can reach too.

Tables whose counts cannot be margins of one table (the same cell counted differently, a
margin the others contradict) count other people: they are protected apart, as before,
and the user is told so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, sparse

from unmetneed.disclosure.release import RAW, REST, Def, Model, Piece, renamed_pops
from unmetneed.errors import DisclosureError

SECONDS = 60.0  # for the integer program; a release of margins that big is refused
WEIGHT = "count"


def join(
    piece: Piece, people: Mapping[str, pd.DataFrame], release: Path | str | None
) -> tuple[Piece, dict[str, pd.DataFrame], str | None]:
    """``piece`` (a ``suppress`` table, its own population ``people``) named after the
    people of the release's earlier ``suppress`` tables it can be a margin of, with a table
    of people every cell of theirs and its own counts; unchanged when there is no such
    table. The third value is a note for the user when earlier tables were found but the
    counts disagree (then it is protected apart)."""
    if release is None or any(d is None for d in piece.defs):
        return piece, dict(people), None
    from unmetneed.disclosure import register

    earlier, _ = register.read(release)
    candidates = _counted_pops(earlier)
    fits = []  # (cells shared, population, table renamed, people)
    for pop in candidates:
        mine = renamed_pops(piece, {d.pop: pop for d in piece.defs if d is not None})
        theirs = [p for p in earlier if _of(p, pop)]
        defs, values = _cells([*theirs, mine])
        if defs is None:
            continue
        frame = people_of(defs, values)
        if frame is not None:
            fits.append((_shared(theirs, mine), pop, mine, frame))
    if fits:
        return _best(fits, release)
    if not candidates:
        return piece, dict(people), None
    note = (
        f"its counts cannot be margins of one table with the earlier suppress tables of "
        f"{release}, so it is taken to count other people and protected apart from them "
        "(a release is for tables of the same people: use another --release folder)"
    )
    return piece, dict(people), note


def _shared(earlier: Sequence[Piece], piece: Piece) -> int:
    """How many of ``piece``'s cells the ``earlier`` tables publish too (same definition)."""
    before = {d.key for p in earlier for d in p.defs if d is not None}
    return len({d.key for d in piece.defs if d is not None} & before)


def _best(
    fits: list[tuple[int, str, Piece, pd.DataFrame]], release: Path | str
) -> tuple[Piece, dict[str, pd.DataFrame], None]:
    """The population a new table can be a margin of that it shares the most cells with;
    a ``DisclosureError`` when two share as many (which people it counts is unknown, and
    it cannot be protected against both)."""
    fits.sort(key=lambda f: -f[0])
    if len(fits) > 1 and fits[0][0] == fits[1][0]:
        raise DisclosureError(
            f"its counts can be margins of the tables of two groups of people in {release} "
            "(they share as many cells with each), so it cannot be protected against the "
            "right ones",
            hint="Publish it into the release folder of the tables it is a margin of.",
        )
    _, pop, mine, frame = fits[0]
    return mine, {pop: frame}, None


def _counted_pops(earlier: Sequence[Piece]) -> list[str]:
    """Populations of the earlier ``suppress`` tables (every cell defined, every variable a
    column read as it is), in the order they were published."""
    out: dict[str, None] = {}
    for p in earlier:
        if p.defs and all(d is not None and _raw(d) for d in p.defs):
            out.update({d.pop: None for d in p.defs if d is not None})
    return list(out)


def _raw(d: Def) -> bool:
    """Whether every variable of ``d`` is a table's own column."""
    return all(v.startswith(RAW) for v in d.variables())


def _of(piece: Piece, pop: str) -> bool:
    """Whether ``piece`` counts people of ``pop``."""
    return any(d is not None and d.pop == pop for d in piece.defs)


def _cells(pieces: Sequence[Piece]) -> tuple[list[Def] | None, np.ndarray]:
    """The distinct cell definitions of ``pieces`` and their values (people); None when
    one definition has two values (the tables count different people)."""
    value: dict[str, int] = {}
    defs: list[Def] = []
    for piece in pieces:
        for d, v in zip(piece.defs, piece.cells.values.tolist(), strict=True):
            if d is None:
                continue
            if d.key in value and value[d.key] != int(v):
                return None, np.zeros(0, np.int64)
            if d.key not in value:
                value[d.key] = int(v)
                defs.append(d)
    return defs, np.asarray([value[d.key] for d in defs], dtype=np.int64)


def people_of(defs: Sequence[Def], values: np.ndarray) -> pd.DataFrame | None:
    """A table of people (one column per variable, ``count`` people per row) of which each
    cell ``defs[i]`` counts exactly ``values[i]``; None when there is none. Every variable
    must be a table's own column (``col:`` ...); people outside every code the cells name
    are avoided where the cells allow. Raises ``DisclosureError`` when the integer program
    does not end in ``SECONDS``."""
    model = Model.build(defs, 0)
    (pop,) = model.pops.values()
    rows = [pop.atoms(d) for d in defs]
    tie_totals, tie_parts = model.ties()
    matrix, rhs = _equations(rows, values, tie_totals, tie_parts, model.n)
    rest = _rest_atoms(model)
    solved = optimize.milp(
        c=rest.astype(np.float64),
        constraints=optimize.LinearConstraint(matrix, rhs, rhs),
        integrality=np.ones(model.n),
        bounds=optimize.Bounds(0, np.inf),
        options={"time_limit": SECONDS},
    )
    if solved.x is None:
        if solved.status == 1:
            raise DisclosureError(
                f"the release's tables of counts could not be tied together in {SECONDS:.0f} s",
                hint="Suppress fewer or smaller tables into this --release folder.",
            )
        return None
    return _frame(model, np.rint(solved.x).astype(np.int64))


def _equations(
    rows: Sequence[np.ndarray],
    values: np.ndarray,
    tie_totals: Sequence[np.ndarray],
    tie_parts: Sequence[np.ndarray],
    n: int,
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Each cell as the sum of its atoms (= its value), and each separator atom as the sum
    of each clique's atoms over it (= 0 after moving it across)."""
    r, c, v = [], [], []
    for i, atoms in enumerate(rows):
        r.append(np.full(len(atoms), i))
        c.append(atoms)
        v.append(np.ones(len(atoms)))
    at = len(rows)
    for totals, parts in zip(tie_totals, tie_parts, strict=True):
        k = np.arange(at, at + len(totals))
        r += [k, np.repeat(k, parts.shape[1])]
        c += [totals, parts.ravel()]
        v += [np.ones(len(totals)), -np.ones(parts.size)]
        at += len(totals)
    matrix = sparse.csr_matrix(
        (np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(at, n)
    )
    rhs = np.concatenate([np.asarray(values, np.float64), np.zeros(at - len(rows))])
    return matrix, rhs


def _codes(model: Model) -> tuple[list[list[str]], list[np.ndarray], list[np.ndarray]]:
    """Per block of atoms (the separator, then each clique): its variables, each atom's
    first id, and each atom's position among each variable's codes (columns)."""
    (pop,) = model.pops.values()
    names, starts, positions = [], [], []
    blocks = [(pop.sep, pop.first_sep)] + [
        ((*pop.sep, *c), pop.first_clique[i]) for i, c in enumerate(pop.cliques)
    ]
    for variables, first in blocks:
        dims = pop.dims(variables)
        size = int(np.prod(dims, dtype=np.int64))
        where = np.unravel_index(np.arange(size), dims) if dims else ()
        names.append(list(variables))
        starts.append(np.asarray([first]))
        positions.append(np.column_stack(where) if dims else np.zeros((size, 0), np.int64))
    return names, starts, positions


def _rest_atoms(model: Model) -> np.ndarray:
    """1 for each atom of a ``~rest`` code (people outside every code the cells name)."""
    (pop,) = model.pops.values()
    out = np.zeros(model.n)
    for variables, first, where in zip(*_codes(model), strict=True):
        rest = np.zeros(len(where), dtype=bool)
        for j, v in enumerate(variables):
            rest |= np.asarray(pop.domains[v])[where[:, j]] == REST
        out[int(first[0]) : int(first[0]) + len(where)] = rest
    return out


def _frame(model: Model, atoms: np.ndarray) -> pd.DataFrame:
    """People of the atoms: each clique's people lined up against the others' over each
    separator atom (any such line-up counts every atom exactly), as rows of ``count``."""
    (pop,) = model.pops.values()
    variables, starts, codes = _codes(model)
    counts = [atoms[int(f[0]) : int(f[0]) + len(w)] for f, w in zip(starts, codes, strict=True)]
    ends = [np.cumsum(c) for c in counts]
    cuts = np.unique(np.concatenate([[0], *ends]))
    begin, length = cuts[:-1], np.diff(cuts)
    begin, length = begin[length > 0], length[length > 0]
    columns: dict[str, np.ndarray] = {}
    for names, end, where in zip(variables, ends, codes, strict=True):
        row = np.searchsorted(end, begin, side="right")
        for j, v in enumerate(names):
            columns[v[len(RAW) :]] = np.asarray(pop.domains[v], dtype=object)[where[row, j]]
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(begin)))
    return frame.assign(**{WEIGHT: length.astype(np.int64)})
