"""Releases: every table published together is protected together, over one model of the
people behind them.

A *release* is everything published from the same people: the tables of one ``run``, or
tables of separate ``gap``/``compare``/``suppress`` commands sharing a ``--release DIR``,
including earlier quarters. The attacker (contract 4.3) holds all of it.

The model. Every published count is a number of people of one *population* (a cohort's
records, named by a fingerprint of the data, so the same extract read by two commands is
one population) who meet a filter: for some variables, a set of allowed codes (a
:class:`Def`). Per population, the people are counted in *atoms*:

- separator atoms: period x area x dgc (``dgc`` = drug_group x crack, e.g.
  ``opiate|yes``; substances, substance cohorts and drug groups are sets of dgc codes);
- one clique per group of other variables that some cell uses together (``age_band``;
  ``sex`` and ``age_band`` together for a table within sex by age; groups that share a
  variable are merged, so the cliques only meet in the separator): separator x clique;
- ties: each clique's atoms add up to their separator atom.

Because the cliques meet only in the separator, any table of atoms consistent with the
ties extends to a table of people, so the attacker's range of any cell over this model is
the range over the full cross-classification: the model is exact, and small. Each
variable's codes are those some cell names plus one ``~rest`` (people no cell singles out).
Every atom of every combination is in the model, empty or not: the published structure
says nothing about which groups are empty.

Each cell is then ``cell = sum of its atoms`` (a relation); a cell two tables share is one
cell. Protection chooses the suppressed cells over the whole release at once so that:

- every suppressed published cell has an attacker interval of at least the protection width
  (the attacker does not know which suppressed cells are small, so none may be narrow);
- every separator atom and every group a table counts but never shows (the gap's substance
  parts) whose range could be 1..K keeps that width too (no small group by difference);
- a zero is suppressed in every category block whose total is suppressed (group
  disclosure: "everyone in this hidden group is male"), and the attacker is told that a
  suppressed count in such a block may be 0 (compare tables say it of every suppressed
  count: ``audit`` reads them so, :func:`floors`); where a later table's shown zero would
  pin a zero an earlier table suppressed, a compare table's zero is suppressed as a last
  resort (``Release.zero_ok``); and where no suppression protects a new compare table
  against an attacker who knows that every other suppressed count is at least 1 (an earlier
  table's published total split into small parts), the table is protected again with every
  zero of a group that has a suppressed count suppressed too, and every suppressed count
  only compare tables publish taken to be possibly 0 (``Release.every_zero``,
  :func:`protect_pieces`): the attacker cannot tell those apart. A pattern that still
  leaves a new table's suppressed group size beside zeros in every category but one (zeros
  other tables pin) is refused (:func:`_no_group_told`), as ``audit`` would fail it;
- cells already published (earlier tables of the release, in its register) keep what they
  showed: the new tables carry the burden.

``audit`` builds the same model from the published files alone (each file's cell
definitions, never values) and checks the same conditions.

Quarter after quarter, the release grows but what a new table can reach does not: earlier
cells of other periods count other atoms (:func:`relevant` leaves them out unless a cell
counts every period), and a group of related cells the new tables leave as published
(:func:`unchanged`: a cohort without periods, shown again each quarter) is not checked
again. The attacker's LP splits into independent parts at both, and each part was checked
when it was published. ``audit --release`` checks every part (remembering, by digest, the
parts it proved: :mod:`memo`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from unmetneed.disclosure import attacker, lean, prune
from unmetneed.disclosure.model import Cells, Placement, Policy, Protection
from unmetneed.disclosure.protect import rounded, suppression_remark
from unmetneed.disclosure.secondary import (
    State,
    UnprotectableError,
    heuristic,
    repair,
    repair_jointly,
)
from unmetneed.disclosure.waves import of_version, version_of
from unmetneed.errors import DisclosureError, UsageError

WAVE = "_wave"  # people of a grown population by the file that added them (:mod:`growth`)
SEPARATOR = ("period", "area", "dgc", WAVE)
REST = "~rest"
RAW = "col:"  # a variable read as it is (``suppress`` tables' own columns)
NOT_STATED = "not_stated"
FLAGS = {True: "yes", False: "no"}
REGISTER_COLUMN = "_register"  # pseudo frame of earlier published cells
GROUP_PARTS_COLUMN = "_group_parts"  # pseudo cells: compare's group sizes, not stated counts
PRUNE_MAX_CELLS = 20_000  # releases up to this many cells and atoms are pruned
PART_CELLS = 600  # cells per part of areas (:func:`area_parts`), about
SPLIT_COLUMN = "_within_totals"  # pseudo cells: a cohort's groups summed over one within
ABSENT_COLUMN = "~absent"  # cells a table publishes as 0 by not listing them (no frame column)
ROUNDS = 12
EARLIER_HINT = (
    "Tables already in the release leave it no room (they cannot change): publish these"
    " tables together in one `unmetneed run`, where they are protected jointly; in separate"
    " commands, the gap first and finer tables before coarser ones leave more room."
)
EVERY_ZERO = (
    "unmetneed: no suppression protected the table with suppressed counts taken to be above 0;"
    " it is protected with every zero of a group that has a suppressed count suppressed too"
    " (a suppressed count may be 0, as the table says)"
)


# --- what a cell counts --------------------------------------------------------------------


@dataclass(frozen=True)
class Def:
    """What one published cell counts: people of population ``pop`` whose value of each
    variable in ``where`` is one of its codes (variables not named: any value).

    >>> Def.of("p1", {"area": ["B", "A"]}).to_meta()
    ['p1', {'area': ['A', 'B']}]
    """

    pop: str
    where: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, pop: str, where: Mapping[str, Iterable[Any]]) -> Def:
        """A definition with its filters in canonical order."""
        items = ((str(v), tuple(sorted({str(c) for c in codes}))) for v, codes in where.items())
        return cls(str(pop), tuple(sorted(items)))

    @functools.cached_property
    def key(self) -> str:
        """A canonical text of the definition (cells with equal keys are one cell)."""
        return json.dumps([self.pop, self.where], separators=(",", ":"))

    def variables(self) -> tuple[str, ...]:
        """The variables this definition filters on."""
        return tuple(v for v, _ in self.where)

    def to_meta(self) -> list[Any]:
        """JSON-able form: ``[pop, {variable: [codes]}]``."""
        return [self.pop, {v: list(c) for v, c in self.where}]

    @classmethod
    def from_meta(cls, item: Any) -> Def:
        """The definition back from :meth:`to_meta` (``ValueError`` if malformed)."""
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict)):
            raise ValueError(f"a cell definition must be [population, {{...}}], not {item!r}")
        pop, where = item
        for codes in where.values():
            if not isinstance(codes, list):
                raise ValueError(f"a cell definition's codes must be a list, not {codes!r}")
        return cls.of(str(pop), where)


FINGERPRINT = ("period", "area", "dgc", "age_band", "sex")  # what names a population


def fingerprint(frame: pd.DataFrame, weight: str | None = None) -> str:
    """A short name for the people of a frame, whatever file or format they came from: the
    sha256 (16 hex digits) of their counts by period x area x drug_group x crack x age band
    x sex (the columns an extract requires; records one each, or ``weight`` people per row).
    The same extract as CSV or Parquet, or its rows collapsed, are one population.

    >>> f = pd.DataFrame({"area": ["A", "B", "A"]})
    >>> fingerprint(f) == fingerprint(f.iloc[::-1])
    True
    """
    keys = pd.DataFrame({v: labels(frame, v) for v in FINGERPRINT if v in frame or v == "dgc"})
    if "cohort" in frame:  # cohorts told apart by a column are different people
        keys["cohort"] = frame["cohort"].astype("string").fillna(NOT_STATED).to_numpy(object)
    people = frame[weight].to_numpy(np.int64) if weight and weight in frame else 1
    counts = keys.assign(n=people).groupby(list(keys.columns), sort=True)["n"].sum()
    text = counts[counts > 0].reset_index().to_csv(index=False)  # rows of 0 people: nobody
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _whole(frame: pd.DataFrame, weight: str | None) -> str:
    """The sha256 of a frame's people over every column it has (raw text; ``weight``
    people per row): equal only for the same records, whatever their order."""
    columns = sorted(c for c in frame.columns if c != weight)
    keys = pd.DataFrame(
        {c: frame[c].astype("string").fillna(NOT_STATED).to_numpy(object) for c in columns}
    )
    people = frame[weight].to_numpy(np.int64) if weight and weight in frame else 1
    if not columns:
        return str(int(np.sum(np.broadcast_to(people, len(frame)))))
    counts = keys.assign(_n=people).groupby(columns, sort=True)["_n"].sum()
    return hashlib.sha256(counts.reset_index().to_csv(index=False).encode()).hexdigest()[:16]


def separate(
    names: Mapping[str, str], frames: Mapping[str, pd.DataFrame], weight: str | None = None
) -> dict[str, str]:
    """``names`` (label -> population) with labels that share a fingerprint but not their
    records told apart (``population/label``): two different groups of people can have the
    same counts by period x area x dgc x age band x sex, and one table's cohorts are then
    still two populations. The same records under two labels stay one population.

    >>> f = pd.DataFrame({"area": ["A"], "x": ["1"]})
    >>> separate({"a": "p", "b": "p"}, {"a": f, "b": f.assign(x="2")})
    {'a': 'p/a', 'b': 'p/b'}
    >>> separate({"a": "p", "b": "p"}, {"a": f, "b": f.copy()})
    {'a': 'p', 'b': 'p'}
    """
    out = dict(names)
    shared: dict[str, list[str]] = {}
    for label, name in names.items():
        shared.setdefault(name, []).append(label)
    for name, labels_ in shared.items():
        if len(labels_) > 1 and len({_whole(frames[x], weight) for x in labels_}) > 1:
            out.update({x: f"{name}/{x}" for x in labels_})
    return out


# --- dgc: drug group x crack ---------------------------------------------------------------


def _drug_groups() -> tuple[str, ...]:
    from unmetneed.inputs.codes import code_list

    return (*code_list("drug_group").codes, NOT_STATED)


def dgc_codes() -> tuple[str, ...]:
    """Every drug_group x crack code, ``opiate|yes`` ... ``not_stated|not_stated``."""
    return tuple(f"{d}|{c}" for d in _drug_groups() for c in ("yes", "no", NOT_STATED))


def dgc_labels(frame: pd.DataFrame) -> np.ndarray:
    """Each row's dgc code (drug_group and crack; missing as ``not_stated``)."""
    n = len(frame)
    if "drug_group" in frame:
        dg = frame["drug_group"].astype("string").fillna(NOT_STATED)
    else:
        dg = pd.Series([NOT_STATED] * n, dtype="string")
    if "crack" in frame:
        flag = frame["crack"].astype("boolean")
        crack = pd.Series(np.where(flag.fillna(False).to_numpy(bool), "yes", "no"), dtype="string")
        crack = crack.where(flag.notna().to_numpy(), NOT_STATED)
    else:
        crack = pd.Series([NOT_STATED] * n, dtype="string")
    return (dg.reset_index(drop=True) + "|" + crack.reset_index(drop=True)).to_numpy(object)


def dgc_set(rule: Callable[[pd.DataFrame], np.ndarray]) -> tuple[str, ...]:
    """The dgc codes whose people a row rule counts (``rule``: frame of drug_group and
    crack -> boolean mask), found by applying it to one row of each code."""
    rows = [c.split("|") for c in dgc_codes()]
    frame = pd.DataFrame(
        {
            "drug_group": pd.Series(
                [None if d == NOT_STATED else d for d, _ in rows], dtype="object"
            ),
            "crack": pd.Series(
                [{"yes": True, "no": False}.get(c) for _, c in rows], dtype="boolean"
            ),
        }
    )
    mask = np.asarray(rule(frame), dtype=bool)
    return tuple(c for c, hit in zip(dgc_codes(), mask, strict=True) if hit)


def distinct_labels(frame: pd.DataFrame, variable: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct :func:`labels` of ``variable`` that some row has, and each row's place
    among them (``labels(frame, variable) == distinct[codes]``), without a text per row
    where it can (categorical area and period, code lists and flags, dgc from its two
    columns)."""
    names, codes = _distinct(frame, variable)
    used = np.bincount(codes, minlength=len(names)) > 0
    if used.all():
        return names, codes
    return names[used], (np.cumsum(used) - 1)[codes]


def _distinct(frame: pd.DataFrame, variable: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`distinct_labels` before the labels no row has are dropped."""
    if variable == "dgc":
        groups, group = distinct_labels(frame, "drug_group")
        crack = _crack_codes(frame)  # yes, no, not_stated
        pairs, which = np.unique(group * 3 + crack, return_inverse=True)
        flags = np.asarray(["yes", "no", NOT_STATED], dtype=object)
        text = [f"{groups[p // 3]}|{flags[p % 3]}" for p in pairs.tolist()]
        return np.asarray(text, dtype=object), which.astype(np.int64)
    if variable.startswith(RAW) or variable not in frame:
        where, found = pd.factorize(labels(frame, variable))
        return np.asarray(found, dtype=object), np.asarray(where, np.int64)
    column = frame[variable]
    if variable in ("area", "period", "drug_group", WAVE):
        if not isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype("string").astype("category")
        names: np.ndarray = column.cat.categories.astype("string").to_numpy(object)
        codes: np.ndarray = column.cat.codes.to_numpy(np.int64)
        if (codes < 0).any():  # missing: its own label
            names, codes = np.append(names, NOT_STATED), np.where(codes < 0, len(names), codes)
        return names, codes
    from unmetneed.inputs.variables import code_variable

    coded = code_variable(frame, variable)
    names = np.asarray(coded.categories, dtype=object)
    return names, np.where(coded.codes < 0, len(names) - 1, coded.codes).astype(np.int64)


def _crack_codes(frame: pd.DataFrame) -> np.ndarray:
    """Each row's crack flag as 0 (yes), 1 (no) or 2 (not stated)."""
    if "crack" not in frame:
        return np.full(len(frame), 2, dtype=np.int64)
    flag = frame["crack"].astype("boolean")
    out = np.where(flag.fillna(False).to_numpy(bool), 0, 1)
    return np.where(flag.isna().to_numpy(), 2, out).astype(np.int64)


def labels(frame: pd.DataFrame, variable: str) -> np.ndarray:
    """Each row's code of ``variable`` as the cell definitions name it (missing:
    ``not_stated``): dgc codes, raw area names and periods, and the compare categories of
    any other variable (5-year age bands).
    """
    if variable == "dgc":
        return dgc_labels(frame)
    if variable.startswith(RAW):  # a column of a table from elsewhere, as it is
        column = variable[len(RAW) :]
        return frame[column].astype("string").fillna(NOT_STATED).to_numpy(object)
    if variable not in frame:
        return np.full(len(frame), NOT_STATED, dtype=object)
    if variable in ("area", "period", WAVE):
        return frame[variable].astype("string").fillna(NOT_STATED).to_numpy(object)
    from unmetneed.inputs.variables import code_variable

    coded = code_variable(frame, variable)
    result: np.ndarray = np.asarray(coded.categories, dtype=object)[coded.codes]
    return result


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pop:
    """One population's atoms: codes of each variable, the separator variables, the
    cliques, and where their atoms start (ids)."""

    domains: dict[str, tuple[str, ...]]
    sep: tuple[str, ...]
    cliques: tuple[tuple[str, ...], ...]
    first_sep: int
    first_clique: tuple[int, ...]
    positions: dict[str, dict[str, int]] = field(default_factory=dict, compare=False)

    def dims(self, variables: Sequence[str]) -> list[int]:
        """Number of codes of each variable."""
        return [len(self.domains[v]) for v in variables]

    @property
    def n_sep(self) -> int:
        """Separator atoms (1 when no separator variable is used)."""
        return int(np.prod(self.dims(self.sep), dtype=np.int64))

    def clique_size(self, i: int) -> int:
        """Codes of clique ``i`` (atoms per separator atom)."""
        return int(np.prod(self.dims(self.cliques[i]), dtype=np.int64))

    def size(self) -> int:
        """Atoms of this population."""
        return self.n_sep * (1 + sum(self.clique_size(i) for i in range(len(self.cliques))))

    def clique_of(self, variables: Sequence[str]) -> int:
        """The clique holding every non-separator variable of ``variables`` (-1: none)."""
        other = [v for v in variables if v not in self.sep]
        if not other:
            return -1
        return next(i for i, c in enumerate(self.cliques) if other[0] in c)

    def atoms(self, d: Def) -> np.ndarray:
        """Atom ids of definition ``d`` (every combination its filters allow)."""
        where = dict(d.where)
        i = self.clique_of(d.variables())
        variables = (*self.sep, *(self.cliques[i] if i >= 0 else ()))
        first = self.first_sep if i < 0 else self.first_clique[i]
        allowed = [self._allowed(v, where.get(v)) for v in variables]
        return first + _grid(allowed, self.dims(variables))

    def _allowed(self, variable: str, codes: tuple[str, ...] | None) -> np.ndarray:
        """Positions of ``codes`` among ``variable``'s (all positions when None)."""
        if codes is None:
            return np.arange(len(self.domains[variable]))
        if variable not in self.positions:
            self.positions[variable] = {c: i for i, c in enumerate(self.domains[variable])}
        position = self.positions[variable]
        return np.asarray(sorted(position[c] for c in codes if c in position), dtype=np.int64)

    def index(self, frame: pd.DataFrame, variables: Sequence[str]) -> np.ndarray:
        """Each row's combination of ``variables`` as a mixed-radix index."""
        out = np.zeros(len(frame), dtype=np.int64)
        for v in variables:
            found, codes = distinct_labels(frame, v)
            codes = pd.Index(self.domains[v]).get_indexer(pd.Index(found))[codes]
            if (codes < 0).any() and self.domains[v][-1] != REST:
                raise AssertionError(f"{v}: a value outside the model (a bug)")
            codes = np.where(codes < 0, len(self.domains[v]) - 1, codes)  # ~rest
            out = out * len(self.domains[v]) + codes
        return out


def population(kind: str, ident: str) -> str:
    """A population's name: its kind (``treatment``, ``cohort``, ``table``) and identity.

    >>> population("treatment", "ab12")
    'treatment:ab12'
    """
    return f"{kind}:{ident}"


STRUCTURAL = ("period", "area", "age_band", "dgc")  # required in a treatment extract (2.1)


def _seen(frame: pd.DataFrame, variable: str, domain: tuple[str, ...]) -> tuple[str, ...]:
    """``domain`` without the codes no row of ``frame`` has that an attacker may know are
    empty: ``~rest`` (a value outside every code no table shows), and ``not_stated`` of a
    column a treatment extract requires (never missing there). Optional columns keep it:
    that nobody's disability is missing is not public knowledge."""
    found = pd.Index(domain).get_indexer(pd.Index(distinct_labels(frame, variable)[0]))
    has = {domain[i] for i in found[found >= 0].tolist()}
    if (found < 0).any():
        has.add(REST)
    structural = variable in STRUCTURAL  # required columns: never missing in an extract
    maybe_empty = {REST, *(c for c in domain if structural and NOT_STATED in c.split("|"))}
    return tuple(c for c in domain if c in has or c not in maybe_empty)


def _grid(allowed: Sequence[np.ndarray], dims: Sequence[int]) -> np.ndarray:
    """Mixed-radix indices of every combination of ``allowed`` positions."""
    out = np.zeros(1, dtype=np.int64)
    for positions, dim in zip(allowed, dims, strict=True):
        out = (out[:, None] * dim + positions[None, :]).ravel()
    return out


def _cliques(defs: Sequence[Def]) -> tuple[tuple[str, ...], ...]:
    """Non-separator variables used together, merged until cliques share no variable."""
    groups: list[set[str]] = []
    for d in defs:
        other = {v for v in d.variables() if v not in SEPARATOR}
        if not other:
            continue
        touching = [g for g in groups if g & other]
        merged = other.union(*touching)
        groups = [g for g in groups if not g & other] + [merged]
    return tuple(sorted(tuple(sorted(g)) for g in groups))


@dataclass(frozen=True)
class Model:
    """Atoms of every population, after ``first`` (ids ``first..first + n``)."""

    pops: dict[str, _Pop]
    first: int
    n: int

    @classmethod
    def build(
        cls, defs: Sequence[Def], first: int, frames: Mapping[str, pd.DataFrame] | None = None
    ) -> Model:
        """The model of the populations and variables ``defs`` use.

        Given the populations' records (``frames``, when protecting), the ``not_stated``
        and ``~rest`` codes nobody has are left out, so their atoms are known to be 0: an
        attacker may know that an extract holds one period, or that its required columns
        are never missing; protection assumes the attacker knows. ``audit`` (no records)
        keeps them: it can only be more lenient where the data has such zeros.
        """
        pops: dict[str, _Pop] = {}
        at = first
        for pop in sorted({d.pop for d in defs}):
            mine = [d for d in defs if d.pop == pop]
            codes: dict[str, set[str]] = {}
            for d in mine:
                for v, c in d.where:
                    codes.setdefault(v, set()).update(c)
            domains = {v: (*sorted(c - {REST}), REST) for v, c in codes.items()}
            if frames is not None and pop in frames:
                domains = {v: _seen(frames[pop], v, d) for v, d in domains.items()}
            sep = tuple(v for v in SEPARATOR if v in domains)
            cliques = _cliques(mine)
            shell = _Pop(domains, sep, cliques, at, ())
            starts, nxt = [], at + shell.n_sep
            for i in range(len(cliques)):
                starts.append(nxt)
                nxt += shell.n_sep * shell.clique_size(i)
            pops[pop] = _Pop(domains, sep, cliques, at, tuple(starts))
            at = nxt
        return cls(pops, first, at - first)

    def ties(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Relations separator atom = sum of its clique atoms, as (totals, parts) arrays."""
        totals, parts = [], []
        for pop in self.pops.values():
            sep = pop.first_sep + np.arange(pop.n_sep)
            for i, start in enumerate(pop.first_clique):
                size = pop.clique_size(i)
                totals.append(sep)
                parts.append(start + np.arange(pop.n_sep * size).reshape(pop.n_sep, size))
        return totals, parts

    def separators(self) -> np.ndarray:
        """Ids of every separator atom."""
        pieces = [p.first_sep + np.arange(p.n_sep) for p in self.pops.values()]
        return np.concatenate(pieces) if pieces else np.zeros(0, np.int64)

    def count(self, frames: Mapping[str, pd.DataFrame], weight: str | None = None) -> np.ndarray:
        """People per atom (ids from 0 = ``first``) from each population's records.

        ``weight``: a column of people per row (collapsed records); else one each.
        """
        values = np.zeros(self.n, dtype=np.int64)
        for name, pop in self.pops.items():
            frame = frames.get(name)
            if frame is None:
                raise UsageError(f"no records for population {name} (a bug in the caller)")
            people = (
                frame[weight].to_numpy(np.int64)
                if weight and weight in frame
                else np.ones(len(frame), np.int64)
            )
            sep = pop.index(frame, pop.sep)
            at = pop.first_sep - self.first
            values[at : at + pop.n_sep] += np.bincount(sep, people, pop.n_sep).astype(np.int64)
            for i, clique in enumerate(pop.cliques):
                size = pop.clique_size(i)
                flat = sep * size + pop.index(frame, clique)
                at = pop.first_clique[i] - self.first
                values[at : at + pop.n_sep * size] += np.bincount(
                    flat, people, pop.n_sep * size
                ).astype(np.int64)
        return values


# --- a release ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One table of a release: its ``name`` (file stem), its own ``cells`` (placements
    without a frame prefix; pseudo columns starting ``_`` are groups it counts but never
    shows), what each cell counts (``defs``; None: not tied to the people) and whether its
    relations are category blocks (total = its categories), for group disclosure. A table
    of published counts (some suppressed or rounded) has no atoms of its own: its cells
    are untied, and ``facts`` says what each exact one counts.

    ``bounds``: cells published by someone else as a range, as ``(cell, least, most)``: a
    counts file's ``*`` is 1..4, its count 7 is 7..7 (the counts file itself is an earlier
    table of the release, its cells suppressed with their ranges: this release's rule
    does not judge them). The attacker knows them; their true values are not known
    (0, below the range: :meth:`unknown`) until records of the same people join the
    release (:mod:`identity`).
    """

    name: str
    cells: Cells
    defs: tuple[Def | None, ...]
    blocks: bool = False
    shown: np.ndarray | None = None  # published values (NaN suppressed): earlier tables only
    unshown: tuple[int, ...] = ()  # an earlier table's cells never shown (its pseudo columns)
    public: tuple[int, ...] = ()  # own cells published anyway (:mod:`public`): never hidden
    facts: tuple[Def | None, ...] = ()  # what untied cells count (published counts): see
    # :func:`same_people`; they become ``defs`` once records of those people join the release
    bounds: tuple[tuple[int, int, int], ...] = ()
    zeros: bool = False  # its text says that a suppressed count may be 0 (compare tables)

    def unknown(self) -> np.ndarray:
        """Mask of the cells whose true value is not known (published as a range, and
        no records of their people in the release yet)."""
        out = np.zeros(len(self.defs), dtype=bool)
        for cell, lo, _ in self.bounds:
            out[cell] = self.cells.values[cell] < lo
        return out

    def guarded(self) -> np.ndarray:
        """Own cells counted but never shown (pseudo columns, or ``unshown``)."""
        ids = {int(c) for p in self.cells.placements if p.column.startswith("_") for c in p.cells}
        return np.asarray(sorted(ids | set(self.unshown)), dtype=np.int64)


@dataclass
class Release:
    """The cells of every piece (unified where definitions are equal), then the atoms.

    ``ids``: per piece, the release id of each of its cells. ``guard``: cells never shown
    that are protected like shown counts (separator atoms, pseudo columns). ``locked``:
    cells of earlier tables that were shown (never hidden now); ``forced``: ones that
    were suppressed. ``blocks``: category blocks (total, parts) in release ids.
    ``least``/``most``: what the attacker knows each cell is at least and at most (people;
    0 and infinity, but for cells published as a range: :attr:`Piece.bounds`).
    """

    cells: Cells
    pieces: tuple[Piece, ...]
    ids: dict[str, np.ndarray]
    defs: list[Def]
    model: Model
    guard: np.ndarray
    locked: np.ndarray
    forced: np.ndarray
    blocks: list[tuple[int, list[int]]] = field(default_factory=list)
    part: np.ndarray | None = None  # each cell's part of areas (-1: none): :func:`area_parts`
    least: np.ndarray = field(default_factory=lambda: np.zeros(0))
    most: np.ndarray = field(default_factory=lambda: np.zeros(0))
    echo: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # :func:`_echoes`
    zero_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # :func:`floors`
    every_zero: bool = False  # the fallback of :func:`protect_pieces`: :func:`_settle_zeros`

    @property
    def names(self) -> list[str]:
        """The pieces' names."""
        return [p.name for p in self.pieces]

    @functools.cached_property
    def plain(self) -> np.ndarray:
        """Mask of the cells a table publishes whose text does not say that a suppressed
        count may be 0 (every table but compare's; :attr:`Piece.zeros`)."""
        out = np.zeros(len(self.cells.values), dtype=bool)
        for piece in self.pieces:
            if not piece.zeros:
                own = np.ones(len(piece.defs), dtype=bool)
                own[piece.guarded()] = False
                out[self.ids[piece.name][own]] = True
        return out


def assemble(pieces: Sequence[Piece], frames: Mapping[str, pd.DataFrame] | None = None) -> Release:
    """The release structure of ``pieces`` (values: the pieces' own; atoms zero until
    :func:`count_atoms`). Earlier tables are pieces with ``shown`` values.
    """
    key_id: dict[str, int] = {}
    defs: list[Def] = []
    for piece in pieces:
        for d in piece.defs:
            if d is not None and d.key not in key_id:
                key_id[d.key] = len(defs)
                defs.append(d)
    n_free = sum(sum(d is None for d in p.defs) for p in pieces)
    model = Model.build(defs, len(defs) + n_free, frames)
    n = len(defs) + n_free + model.n
    ids: dict[str, np.ndarray] = {}
    nxt = len(defs)
    for piece in pieces:
        own = np.empty(len(piece.defs), dtype=np.int64)
        for i, d in enumerate(piece.defs):
            if d is None:
                own[i], nxt = nxt, nxt + 1
            else:
                own[i] = key_id[d.key]
        ids[piece.name] = own
    values = _values(pieces, ids, n)
    cells = Cells(values)
    guard = np.zeros(n, dtype=bool)
    locked = np.zeros(n, dtype=bool)
    forced = np.zeros(n, dtype=bool)
    blocks: list[tuple[int, list[int]]] = []
    seen: set[tuple[int, tuple[int, ...]]] = set()
    for piece in pieces:
        own = ids[piece.name]
        for total, parts in piece.cells.relations:
            key = (int(own[total]), tuple(sorted(int(own[p]) for p in parts)))
            if key in seen:
                continue
            seen.add(key)
            cells.add_relation(key[0], list(key[1]))
            if piece.blocks:
                blocks.append((key[0], list(key[1])))
        _place(cells, piece, own, guard, locked, forced)
    for uid, d in enumerate(defs):
        cells.add_relation(uid, model.pops[d.pop].atoms(d).tolist())
    tie_totals, tie_parts = model.ties()
    for totals, atoms in zip(tie_totals, tie_parts, strict=True):
        cells.add_relations(totals, atoms)
    guard[model.separators()] = True
    part = area_parts(defs, model, n)
    least, most = _bounds(pieces, ids, n)
    echo = _echoes(defs, key_id, forced, n)
    return Release(
        cells, tuple(pieces), ids, defs, model, guard, locked, forced, blocks, part, least, most,
        echo,
    )  # fmt: skip


def _echoes(
    defs: Sequence[Def], key_id: Mapping[str, int], forced: np.ndarray, n: int
) -> np.ndarray:
    """The cells of a population that changed (:mod:`growth`) whose count in the file
    before was suppressed by an earlier table: they start suppressed too (last quarter's
    pattern), or a shown count of the newer file would bound the earlier hidden one: a
    hidden zero would be pinned."""
    echo = np.zeros(n, dtype=bool)
    universe: dict[str, set[str]] = {}
    for d in defs:
        if any(v == WAVE for v, _ in d.where):  # the many cells of other populations: no
            universe.setdefault(d.pop, set()).update(dict(d.where)[WAVE])
    before: dict[tuple[str, tuple[str, ...]], tuple[str, ...] | None] = {}
    for uid, d in enumerate(defs):
        if d.pop not in universe or not any(v == WAVE for v, _ in d.where):
            continue
        where = dict(d.where)
        seen = (d.pop, where[WAVE])
        if seen not in before:
            at = version_of(where[WAVE], universe[d.pop])
            before[seen] = of_version(at - 1, universe[d.pop]) if at else None
        if (codes := before[seen]) is not None:
            key = Def.of(d.pop, {**where, WAVE: codes}).key
            echo[uid] = key in key_id and bool(forced[key_id[key]])
    return echo


def _bounds(
    pieces: Sequence[Piece], ids: Mapping[str, np.ndarray], n: int
) -> tuple[np.ndarray, np.ndarray]:
    """What each release cell is known to be at least and at most (people), from the
    ranges the pieces published (:attr:`Piece.bounds`); 0 and infinity elsewhere."""
    least, most = np.zeros(n), np.full(n, np.inf)
    for piece in pieces:
        for cell, lo, hi in piece.bounds:
            at = int(ids[piece.name][cell])
            least[at], most[at] = max(least[at], lo), min(most[at], hi)
    return least, most


def pin_published_elsewhere(release: Release, policy: Policy) -> None:
    """Fix as ranges (``release.least``/``most``) what someone else's publication (ranges:
    a counts file) already tells of each cell narrower than the width: the attacker knows
    it before any table of this release (a record gap's Midford opiate users, 34, summed
    from a counts file's exact rows; its crack users without opiates, a sum with a '*'),
    so no suppression here can widen it, nor needs to: it keeps that range."""
    ranged = np.isfinite(release.most)
    if not ranged.any() or not release.cells.relations:
        return
    n = len(release.cells.values)
    floor = np.where(ranged, release.least, 0.0)
    know = attacker.knowledge(
        release.cells.matrix(), np.full(n, np.nan), np.ones(n, bool), policy, floor,
        part=release.part, ceiling=release.most,
    )  # fmt: skip
    targets = np.flatnonzero(~ranged)
    found = attacker.narrow(attacker.fitting(know), targets, float(policy.protection_width))
    low, high = found["low"], found["high"]
    known = ~found["ok"] & np.isfinite(high)
    release.least[targets[known]] = np.ceil(low[known] - attacker.TOL)
    release.most[targets[known]] = np.floor(high[known] + attacker.TOL)


def widths(release: Release, policy: Policy) -> np.ndarray:
    """The attacker interval each cell must keep (people): the protection width, or a
    cell's whole published range where that is narrower (a counts file's ``*``, 1..4, has
    a range of 3 whatever the policy: later tables must not narrow it, and cannot widen it).
    """
    width = float(policy.protection_width)
    result: np.ndarray = np.minimum(width, release.most - release.least)
    return result


def area_parts(defs: Sequence[Def], model: Model, n: int) -> np.ndarray | None:
    """Each of the ``n`` release cells' part: areas gathered in name order until a part
    holds about :data:`PART_CELLS` cells; -1 for a cell of no one area (national, or
    never tied to the people). None with fewer than four areas. The attacker and the
    complement search work on a large release part by part first (a certificate or
    deviation of a few areas' cells, national cells free, is one of the whole)."""
    area = _areas(defs, model, n)
    n_areas = int(area.max(initial=-1)) + 1
    if n_areas < 4:
        return None
    per_area = max(int((area >= 0).sum()) / n_areas, 1.0)
    size = max(2, int(np.ceil(PART_CELLS / per_area)))
    return np.where(area >= 0, area // size, -1)


def unchanged(release: Release, matrix: sparse.csr_matrix | None = None) -> np.ndarray:
    """Mask over cells: those of a group of cells tied by relations (a connected part of
    the release) that the new tables leave as the release's earlier tables had it. Every
    published cell there was published before (shown: locked; suppressed: forced), and the
    new tables bring no cell, relation or change of their population's model into it.

    Nothing there can be hidden or shown now, and the attacker's LP over it is independent
    of the rest and the same as when it was published: the quarter that published it
    checked it. Protection does not check it again; ``audit`` checks everything.
    ``matrix``: the release's relations, when already built.
    """
    n = len(release.cells.values)
    earlier = [p for p in release.pieces if p.shown is not None]
    if not earlier or not release.cells.relations:
        return np.zeros(n, dtype=bool)
    touched = release.cells.published() & ~(release.locked | release.forced)
    old = np.zeros(n, dtype=bool)
    for piece in earlier:
        old[release.ids[piece.name]] = True
    known = {key for p in earlier for key in _relation_keys(p, release.ids[p.name])}
    for piece in release.pieces:
        if piece.shown is None:
            own = release.ids[piece.name]
            touched[own[~old[own]]] = True
            for key in set(_relation_keys(piece, own)) - known:
                touched[[key[0], *key[1]]] = True
    touched |= _reshaped(release, earlier)
    labels = attacker.components(release.cells.matrix() if matrix is None else matrix)[:n]
    out: np.ndarray = ~np.isin(labels, labels[touched])
    return out


def _relation_keys(piece: Piece, own: np.ndarray) -> list[tuple[int, tuple[int, ...]]]:
    """The piece's relations in release ids: (total, sorted parts)."""
    return [
        (int(own[t]), tuple(sorted(int(own[p]) for p in parts)))
        for t, parts in piece.cells.relations
    ]


def _reshaped(release: Release, earlier: Sequence[Piece]) -> np.ndarray:
    """Mask over cells: every cell (definitions and atoms) of a population whose model
    (cliques, codes of variables other than the separator's) the new tables change. A new
    period, area or substance only adds atoms beside the old ones."""
    before = _shapes([d for p in earlier for d in p.defs if d is not None])
    now = _shapes(release.defs)
    out = np.zeros(len(release.cells.values), dtype=bool)
    for name, pop in release.model.pops.items():
        if before.get(name) != now[name]:
            out[pop.first_sep : pop.first_sep + pop.size()] = True
            out[[i for i, d in enumerate(release.defs) if d.pop == name]] = True
    return out


def _shapes(defs: Sequence[Def]) -> dict[str, tuple[Any, ...]]:
    """Per population: its cliques and the codes of each variable in them (what shapes
    the atoms within each separator atom)."""
    out: dict[str, tuple[Any, ...]] = {}
    for pop in {d.pop for d in defs}:
        mine = [d for d in defs if d.pop == pop]
        codes: dict[str, set[str]] = {}
        for d in mine:
            for v, c in d.where:
                if v not in SEPARATOR:
                    codes.setdefault(v, set()).update(c)
        out[pop] = (_cliques(mine), sorted((v, sorted(c)) for v, c in codes.items()))
    return out


def _areas(defs: Sequence[Def], model: Model, n: int) -> np.ndarray:
    """Each cell's area (index in name order), -1 when it counts no one area."""
    one = [dict(d.where).get("area", ()) for d in defs]
    names = {c[0] for c in one if len(c) == 1}
    for pop in model.pops.values():
        names.update(pop.domains.get("area", ()) if "area" in pop.sep else ())
    index = {name: i for i, name in enumerate(sorted(names))}
    area = np.full(n, -1, dtype=np.int64)
    area[: len(one)] = [index[c[0]] if len(c) == 1 else -1 for c in one]
    for pop in model.pops.values():
        if "area" not in pop.sep:
            continue
        dims = pop.dims(pop.sep)
        k = pop.sep.index("area")
        inner = int(np.prod(dims[k + 1 :], dtype=np.int64))
        codes = np.asarray([index[c] for c in pop.domains["area"]], np.int64)
        sep = codes[(np.arange(pop.n_sep) // inner) % dims[k]]
        area[pop.first_sep + np.arange(pop.n_sep)] = sep
        for i, start in enumerate(pop.first_clique):
            size = pop.clique_size(i)
            area[start + np.arange(pop.n_sep * size)] = np.repeat(sep, size)
    return area


def _values(pieces: Sequence[Piece], ids: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Each release cell's value from the pieces (atoms 0); a cell two pieces give
    different values is an error naming both."""
    values = np.full(n, -1, dtype=np.int64)
    owner = np.full(n, -1, dtype=np.int64)
    for k, piece in enumerate(pieces):
        own = ids[piece.name]
        mine = piece.cells.values
        _one_value_each(piece.name, own, mine)
        clash = (values[own] >= 0) & (values[own] != mine)
        if clash.any():
            other = pieces[int(owner[own[clash][0]])].name
            raise UsageError(
                f"{piece.name} and {other} count the same people differently "
                f"({int(clash.sum())} cell(s)): the data changed since {other} was published",
                hint="A release holds tables of the same data; start a new --release folder "
                "for corrected data, and withdraw what was published from the old.",
            )
        values[own], owner[own] = mine, k
    return np.maximum(values, 0)


def _one_value_each(name: str, own: np.ndarray, values: np.ndarray) -> None:
    """Cells of one table with one definition must have one value (else two groups of
    people were given one population name: a bug, never protected as if one)."""
    order = np.lexsort((values, own))
    same = own[order][1:] == own[order][:-1]
    if (same & (values[order][1:] != values[order][:-1])).any():
        raise DisclosureError(
            f"{name}: one cell definition has two values (two populations share a name)",
            hint="This is a bug in unmetneed: please report the command and its options.",
        )


def _place(
    cells: Cells,
    piece: Piece,
    own: np.ndarray,
    guard: np.ndarray,
    locked: np.ndarray,
    forced: np.ndarray,
) -> None:
    """The piece's placements in the release (``"piece:column"``), its pseudo columns as
    guarded cells, and an earlier table's cells as published, locked or forced."""
    guard[own[piece.guarded()]] = True
    locked[own[list(piece.public)]] = True  # public totals: shown whatever protection needs
    if piece.shown is not None:
        mine = np.ones(len(own), dtype=bool)
        mine[piece.guarded()] = False
        at = own[mine]
        cells.placements.append(Placement(f"{piece.name}:{REGISTER_COLUMN}", at, np.zeros_like(at)))
        hidden = np.isnan(piece.shown[mine])
        locked[at[~hidden]] = True
        forced[at[hidden]] = True
        return
    for p in piece.cells.placements:
        if p.column.startswith("_"):
            continue
        cells.placements.append(Placement(f"{piece.name}:{p.column}", own[p.cells], p.rows))


def count_atoms(release: Release, frames: Mapping[str, pd.DataFrame], weight: str | None) -> None:
    """Fill in the atoms' values from the populations' records, and check that every
    defined cell is the sum of its atoms (else the definitions are wrong: a bug)."""
    model = release.model
    release.cells.values[model.first : model.first + model.n] = model.count(frames, weight)
    bad = release.cells.check_relations()
    if bad:
        total, _ = release.cells.relations[bad[0]]
        where = release.defs[total].to_meta() if total < len(release.defs) else f"cell {total}"
        raise DisclosureError(
            f"{len(bad)} published count(s) are not the sum of the people they describe "
            f"(first: {where})",
            hint="This is a bug in unmetneed: please report the command and its options.",
        )


# --- protecting a release -------------------------------------------------------------------


# The release's deviation LP (tables joined through atoms): simplex solved it 2-4x faster
# than interior point at 30 and 75 areas (benchmarks/bench_release.py); one cube is the
# other way round (bench_disclosure.py), so plain tables keep secondary's choice.
DEVIATION = "simplex"


def protect_release(release: Release, policy: Policy) -> Protection:
    """Suppression over the whole release (module docstring). Deterministic.

    1. Small cells (and small guarded groups) and the earlier release's suppressed cells
       are hidden; every relation left with one hidden cell gets a complement (an inner
       cell before a margin); one min-cost deviation LP lifts every one of them by the
       width at once, hiding the shown cells it moves (``secondary``), at the cost of
       what each hides (people; margins, denominators and totals far dearer: :mod:`lean`).
    2. Zeros of groups whose size is suppressed are hidden (group disclosure); a
       complement group size beside shown zeros is shown again, never picked again.
    3. Rounds of checking as the attacker sees it: a complement it pins is shown (it gives
       nothing new); every other narrow cell gets a deviation of its own (up, else down,
       else both ways), hiding what it moves; until nothing is narrow. A proof stays
       while the attacker learns nothing new (hiding more, or showing what it had pinned,
       only widens its choice of tables), if it is one that cannot be undone: a range at
       least the width, or a never-shown group that can be 0, not one whose least value is
       above K (hiding more may lower it into 1..K). A floor that rises (a group size shown
       again) or a zero shown again drops every proof.
    """
    cells, values = release.cells, release.cells.values
    published = cells.published()
    n = len(values)
    if policy.off:
        shown = values.astype(np.float64)
        shown[release.forced] = np.nan
        return Protection(policy, np.zeros(n, bool), release.forced.copy(), shown)
    small = policy.primary(values) & (published | release.guard) & ~release.locked
    # zeros a compare table suppressed before, and those the last resort hides: may be 0
    release.zero_ok = release.forced & (values == 0) & ~release.plain
    if release.every_zero:  # every zero of a group with a suppressed count is suppressed too
        release.zero_ok = ~release.plain
    revealed = release.locked.copy()
    keep = np.zeros(n, dtype=bool)  # hidden again after being shown: never shown again
    matrix = cells.matrix()
    pin_published_elsewhere(release, policy)
    wanted = widths(release, policy)
    start = (small | release.forced) & (wanted > 0)  # a count published exactly elsewhere: 0
    weight = lean.weights(cells, published)
    state = _state(release, matrix, start, policy, revealed, weight)
    hidden = heuristic(state, start) | release.forced | small  # a small count known: hidden
    hidden |= release.echo & ~revealed  # a grown group's cells hidden last time: hidden
    hidden = _settle_zeros(release, hidden, values, revealed, policy)
    still = unchanged(release, matrix)  # as an earlier quarter published and checked it
    targets = np.flatnonzero(start & (published | release.guard) & ~still)
    # a group the tables never show can only be flagged when its count is below 2K (its
    # range, within 1..K at the bottom and narrower than K, holds it): the others are safe
    large = (release.guard & ~published & (values >= 2 * max(policy.k, 1))) | still
    proven = large.copy()
    if len(targets) and cells.relations:
        state = _state(release, matrix, hidden, policy, revealed, weight)
        need = wanted[targets]
        hidden, unproven, wide = repair_jointly(
            state, hidden, targets, need, DEVIATION, rival=prune.RIVAL
        )
        proven[np.setdiff1d(targets, unproven)] = True  # the deviation lifts them: wide
        proven |= wide  # and every cell it moves by the width or more
    before = hidden.copy()
    pruned = False
    reasons: dict[int, np.ndarray] = {}
    seen: set[bytes] = set()  # patterns found narrow: one met again is a cycle of rules
    last_floor = floors(release, hidden, policy)
    for _ in range(ROUNDS):
        hidden = _settle_zeros(release, hidden, values, revealed, policy)
        if (before & ~hidden & ~revealed).any():  # a zero shown again: the attacker knows more
            proven = large.copy()
        floor = floors(release, hidden, policy)
        if (floor > last_floor).any():  # a group size shown again: its categories are >= 1
            proven = large.copy()
        last_floor = floor
        shown = _shown(values, hidden, policy)
        narrow, pinned, low = exposed(release, shown, policy, floor, proven, 0.25, still)
        beside = _beside_zeros(release, hidden) & ~start & published
        if beside.any():  # a complement size over shown zeros: show it, never pick it again
            revealed |= beside
            hidden &= ~beside
            before, proven = hidden.copy(), large.copy()
            continue
        if not narrow.any():
            lean_ = None if pruned else _prune(release, hidden, start, policy, revealed, weight)
            pruned = True
            if lean_ is not None:
                reasons = lean_[2]
            if lean_ is None or (lean_[0] == hidden).all():
                _no_group_told(release, hidden, policy)
                return _protection(policy, small, hidden, values, reasons)
            hidden, wide = _settle_zeros(release, lean_[0], values, revealed, policy), lean_[1]
            before, proven = hidden.copy(), large | wide
            continue
        _no_cycle(release, hidden, narrow, seen)
        # hiding more (or showing what is pinned) never narrows a cell: a proof by width or
        # by a group that can be 0 stays good; not a group safe only as its least is above K
        proven |= (hidden | release.guard) & ~narrow & ~(low > max(policy.k, 0))
        # known anyway: show it (not the size of a group whose zeros are hidden: they
        # would have to be shown too, which tells the attacker more)
        reveal = pinned & ~start & published & (values > 0) & ~keep
        reveal &= ~_over_hidden_zeros(release, hidden)
        revealed |= reveal
        hidden &= ~reveal
        fix = np.flatnonzero(narrow & ~reveal)
        if len(fix):
            state = _state(release, matrix, hidden, policy, revealed, weight)
            zero = published & (values == 0) & ~start
            need = np.maximum(low[fix] + wanted[fix] - values[fix], 0.0)
            hidden, fix, wide = repair_jointly(state, hidden, fix, need, DEVIATION)  # all first
            proven |= wide
            state = _state(release, matrix, hidden, policy, revealed, weight)
            looser = _state(release, matrix, hidden, policy, release.locked, weight, True)
            was = hidden.copy()
            try:
                hidden = repair(state, hidden, fix, low[fix], zero, looser, wanted[fix])
            except UnprotectableError as err:
                raise UnprotectableError(err.cell, describe(release, err.cell)) from None
            release.zero_ok |= hidden & ~was & (values == 0) & ~release.plain
            # a cell shown because it was pinned may be needed hidden after all: keep it so
            back = hidden & revealed & ~release.locked
            revealed &= ~back
            keep |= back
            # a zero no suppression can protect is known to be 0 from the other tables:
            # show it (hiding it tells nothing; its group may need more, found next round)
            stuck = _narrow_again(release, hidden, policy, fix[zero[fix]])
            revealed |= stuck
            hidden &= ~stuck
        before = hidden.copy()
    raise RoundsError(
        f"the release could not be protected in {ROUNDS} rounds",
        hint="This is a bug in unmetneed: please report the tables and their options.",
    )


def _refused(err: UnprotectableError, earlier: Sequence[Piece]) -> UnprotectableError:
    """The refusal a person can act on: where tables already in the release pin the cell,
    the way to publish the tables that does not (exit 4)."""
    if earlier:
        err.hint = EARLIER_HINT
    return err


class RoundsError(DisclosureError):
    """The rounds of :func:`protect_release` ended with cells still narrow (exit 4)."""


def _no_group_told(release: Release, hidden: np.ndarray, policy: Policy) -> None:
    """Raise :class:`UnprotectableError` (exit 4, naming the group size) when a new table's
    group whose size is suppressed shows zeros in every category but one (group
    disclosure, as ``audit`` finds it): zeros other tables pin at 0 are shown, and the
    size they sit beside is one the rounds could not show (a small count, or needed
    suppressed). Groups all of whose cells earlier tables published are theirs."""
    if policy.off or policy.zeros_disclosive or not release.blocks:
        return
    parts, block, sizes, zero, total = _shown_zeros(release, hidden)
    earlier = release.locked | release.forced
    new = np.bincount(block, weights=(~earlier[parts]).astype(np.float64), minlength=len(sizes))
    told = (sizes > 1) & (zero == sizes - 1) & hidden[total] & ((new > 0) | ~earlier[total])
    if told.any():
        cell = int(total[np.flatnonzero(told)[0]])
        raise UnprotectableError(cell, describe(release, cell))


def _no_cycle(release: Release, hidden: np.ndarray, narrow: np.ndarray, seen: set[bytes]) -> None:
    """Raise :class:`UnprotectableError` (exit 4, naming the first narrow cell) when the
    suppression pattern ``hidden`` was found narrow before: the rules undo each other's
    work there (a group size hidden to protect a cell, shown again because its other
    categories are shown zeros), and more rounds would only go round."""
    key = np.packbits(hidden).tobytes()
    if key in seen:
        cell = int(np.flatnonzero(narrow)[0])
        raise UnprotectableError(cell, describe(release, cell))
    seen.add(key)


def describe(release: Release, cell: int) -> str:
    """A cell as a person finds it: the first table row showing it, and what it counts
    (never its value), e.g. ``compare-sex-by-area row 12 (denominator: area=Eastbury,
    sex=other)``."""
    what = ""
    if cell < len(release.defs):
        what = ", ".join(_said(v, c) for v, c in release.defs[cell].where)
    for piece in release.pieces:
        local = np.flatnonzero(release.ids[piece.name] == cell)
        for p in piece.cells.placements:
            at = np.flatnonzero(np.isin(p.cells, local))
            if len(at) and not p.column.startswith(("_", "~")):
                row = int(p.rows[at[0]]) + 1
                return f"{piece.name} row {row} ({p.column}{': ' + what if what else ''})"
    return f"a group the tables count ({what or 'no definition'})"


def _said(variable: str, codes: Sequence[str]) -> str:
    """One condition of a cell as a person reads it: ``area=Midford``; the drug group and
    crack codes as ``drug_group=opiate with crack=no or alcohol_only`` (a group named
    alone where every crack code of it is counted)."""
    if variable != "dgc":
        return f"{variable.removeprefix(RAW)}={'|'.join(codes)}"
    cracks: dict[str, list[str]] = {}
    for code in codes:
        group, crack = code.split("|")
        cracks.setdefault(group, []).append(crack)
    every = {"yes", "no", NOT_STATED}
    said = [g if set(c) >= every else f"{g} with crack={'|'.join(c)}" for g, c in cracks.items()]
    return "drug_group=" + " or ".join(said)


def _prune(
    release: Release,
    hidden: np.ndarray,
    start: np.ndarray,
    policy: Policy,
    revealed: np.ndarray,
    weight: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]] | None:
    """``hidden`` without the complements no small count needs (:func:`prune.prune`), the
    cells the pruning proved wide and per small count the cells its certificate moves;
    None when not pruned.
    Not pruned under rounding (shown counts are not exact) nor with zeros disclosive: there
    a hidden group is taken to be possibly empty, while a compare table's listed groups
    are known to have people (the red team narrowed a pruned pattern that way). Nor
    beyond :data:`PRUNE_MAX_CELLS` cells and atoms: its reasons grow with the release
    (a 30-area quarterly run took 145 s pruned, 23 s not). Nor where a cell was published
    as a range (a counts file's ``*``): the pruning's certificates know floors, not ceilings.
    """
    cells, values = release.cells, release.cells.values
    published = cells.published()
    if policy.round_to or policy.zeros_disclosive or len(values) > PRUNE_MAX_CELLS:
        return None
    if np.isfinite(release.most).any():
        return None
    floor = floors(release, hidden, policy)
    targets = np.flatnonzero(start & (hidden | (release.guard & ~published)))
    candidates = hidden & published & ~start & ~revealed & (values > 0)
    width = float(policy.protection_width)
    return prune.prune(
        cells.matrix(),
        values,
        hidden,
        published,
        floor,
        targets,
        candidates,
        weight,
        width,
        _opens(release, hidden, candidates),
        float(policy.floor),
    )


def _opens(release: Release, hidden: np.ndarray, candidates: np.ndarray) -> dict[int, np.ndarray]:
    """Per candidate group size (a block total) over hidden groups, the hidden categories
    showing it opens: its zeros are shown again and its other categories known to be at
    least the policy's floor again (:func:`in_hidden_groups`)."""
    inside = in_hidden_groups(release.blocks, hidden) & hidden
    out: dict[int, list[int]] = {}
    for total, parts in release.blocks:
        if candidates[total]:
            at = np.asarray(parts, np.int64)
            out.setdefault(total, []).extend(at[inside[at]].tolist())
    return {t: np.unique(np.asarray(p, np.int64)) for t, p in out.items() if p}


def _narrow_again(
    release: Release, hidden: np.ndarray, policy: Policy, cells: np.ndarray
) -> np.ndarray:
    """Mask of ``cells`` still pinned at their value after a repair (people)."""
    out = np.zeros(len(hidden), dtype=bool)
    if not len(cells):
        return out
    shown = _shown(release.cells.values, hidden, policy)
    know = attacker.knowledge(
        release.cells.matrix(),
        shown,
        release.cells.published(),
        policy,
        floors(release, hidden, policy),
        ceiling=release.most,
    )
    found = attacker.narrow(know, cells, 1.0)  # only whether a range is 0 wide
    out[cells[~found["ok"]]] = True
    return out


def _beside_zeros(release: Release, hidden: np.ndarray) -> np.ndarray:
    """Mask of the suppressed group sizes (block totals) all of whose categories but at
    most one are shown zeros: the zeros tell that the group shares one category, which a
    suppressed size must not hide behind (group disclosure)."""
    out = np.zeros(len(hidden), dtype=bool)
    _, _, sizes, zeros, total = _shown_zeros(release, hidden)
    out[total[(sizes > 1) & (zeros >= sizes - 1) & hidden[total]]] = True
    return out


def _shown_zeros(
    release: Release, hidden: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per category block (group) of the release: the part cells and their block index
    (:func:`_memberships`, :func:`_block_of`), then each block's number of categories,
    of categories shown as 0 when ``hidden`` is suppressed, and its total cell."""
    parts, _ = _memberships(release.blocks)
    block = _block_of(release.blocks)
    sizes = np.bincount(block, minlength=len(release.blocks))
    shown_zero = ~hidden[parts] & (release.cells.values[parts] == 0)
    zeros = np.bincount(block, weights=shown_zero.astype(np.float64), minlength=len(sizes))
    total = np.asarray([t for t, _ in release.blocks], np.int64)
    return parts, block, sizes, zeros, total


def _over_hidden_zeros(release: Release, hidden: np.ndarray) -> np.ndarray:
    """Mask of the group sizes (block totals) one of whose categories is a hidden zero."""
    parts, totals = _memberships(release.blocks)
    out = np.zeros(len(hidden), dtype=bool)
    zero = hidden[parts] & (release.cells.values[parts] == 0)
    out[totals[zero]] = True
    return out


def _state(
    release: Release,
    matrix: Any,
    hidden: np.ndarray,
    policy: Policy,
    locked: np.ndarray,
    weight: np.ndarray | None = None,
    zeros: bool = False,
) -> State:
    """The facts a complement search needs when ``hidden`` is suppressed (``weight``: what
    hiding each cell costs, :func:`lean.weights`). ``zeros``: the zero counts only
    compare tables publish may be moved from 0 (suppressed, they may be 0: the tables say
    so); the last resort for a zero an earlier table suppressed, which a later table's
    shown zero would pin."""
    cells = release.cells
    floor = floors(release, hidden, policy)
    if zeros:
        floor[~release.plain & (cells.values == 0)] = 0.0
    published = cells.published()
    return State.of(
        matrix, cells.values, published, policy, floor, locked, weight, release.part, release.most
    )


def _settle_zeros(
    release: Release, hidden: np.ndarray, values: np.ndarray, revealed: np.ndarray, policy: Policy
) -> np.ndarray:
    """``hidden`` with every zero of a group whose size is suppressed (in every table)
    suppressed, and no zero suppressed beside a shown size; no LP, a few passes."""
    for _ in range(ROUNDS):
        add = block_zeros(release.blocks, hidden, values) & ~revealed & ~hidden
        if release.every_zero:
            add |= _zeros_of_groups_with_hidden(release, hidden) & ~revealed & ~hidden
        floor = floors(release, hidden | add, policy)
        wrong = (hidden | add) & (values < floor) & ~release.forced
        new = (hidden | add) & ~wrong
        if (new == hidden).all():
            return hidden
        hidden = new
    return hidden


def _zeros_of_groups_with_hidden(release: Release, hidden: np.ndarray) -> np.ndarray:
    """Mask of the zero counts, published by compare tables only, of every category block
    (group) with a suppressed category or size: suppressed, they leave the attacker no way
    to tell a suppressed zero from a suppressed count above 0 in that group."""
    parts, totals = _memberships(release.blocks)
    out = np.zeros(len(hidden), dtype=bool)
    if not len(parts):
        return out
    block = _block_of(release.blocks)
    touched = np.zeros(len(release.blocks), dtype=bool)
    touched[block[hidden[parts] | hidden[totals]]] = True  # a suppressed category or size
    out[parts[touched[block]]] = True
    result: np.ndarray = out & (release.cells.values == 0) & ~release.plain
    return result


def _shown(values: np.ndarray, hidden: np.ndarray, policy: Policy) -> np.ndarray:
    """Published value of each cell: NaN if suppressed, rounded under a rounding policy."""
    shown = rounded(values, policy.round_to) if policy.round_to else values.astype(np.float64)
    return np.where(hidden, np.nan, shown)


def _protection(
    policy: Policy,
    small: np.ndarray,
    hidden: np.ndarray,
    values: np.ndarray,
    reasons: dict[int, np.ndarray] | None = None,
) -> Protection:
    """The outcome: ``primary`` the small cells, ``secondary`` every other hidden one, and
    the pruning's reasons (restricted: :mod:`explain`)."""
    shown = _shown(values, hidden, policy)
    return Protection(policy, small & hidden, hidden & ~small, shown, reasons=reasons or {})


def _memberships(blocks: Sequence[tuple[int, list[int]]]) -> tuple[np.ndarray, np.ndarray]:
    """Every (part, total) pair of the category blocks, as two arrays of cell ids."""
    if not blocks:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    parts = np.concatenate([np.asarray(p, np.int64) for _, p in blocks])
    totals = np.repeat(np.asarray([t for t, _ in blocks], np.int64), [len(p) for _, p in blocks])
    return parts, totals


def _block_of(blocks: Sequence[tuple[int, list[int]]]) -> np.ndarray:
    """The block index of every (part, total) pair of :func:`_memberships`, in its order."""
    sizes = [len(p) for _, p in blocks]
    result: np.ndarray = np.repeat(np.arange(len(sizes)), sizes)
    return result


def in_hidden_groups(blocks: Sequence[tuple[int, list[int]]], hidden: np.ndarray) -> np.ndarray:
    """Mask of the cells that are a category of some group (in any table) whose size is
    suppressed: a zero among them would tell that the group's people share the other
    categories, so it is suppressed too, and a suppressed count there may be 0."""
    parts, totals = _memberships(blocks)
    out = np.zeros(len(hidden), dtype=bool)
    out[parts[hidden[totals]]] = True
    return out


def floors(
    release: Release, hidden: np.ndarray, policy: Policy, shown: np.ndarray | None = None
) -> np.ndarray:
    """What the attacker knows each suppressed cell is at least (people): the policy's
    floor, or 0 for a category of a group whose size is suppressed (its zeros are
    suppressed too, so a suppressed count there may be 0); its least where someone else
    published it as a range (``release.least``: a counts file's 0 is 0..0).

    ``shown``: each cell's published value, when the true ones are not known (``audit``):
    a cell only compare tables publish may then be 0 whatever it is (they say that a
    suppressed count may be 0). Protecting, only the zeros a last-resort search hid
    (``release.zero_ok``) are taken to be possibly 0: the attacker assumed knows the
    other suppressed counts are at least the floor, which is true, and narrows no less
    than one reading the tables' text."""
    floor = np.full(len(release.cells.values), float(policy.floor))
    floor[in_hidden_groups(release.blocks, hidden)] = 0.0
    if shown is not None:
        floor[~release.plain] = 0.0
    elif len(release.zero_ok):
        floor[release.zero_ok] = 0.0
    ranged = np.isfinite(release.most)  # published by someone else as least..most
    result: np.ndarray = np.where(ranged, release.least, floor)
    return result


def block_zeros(
    blocks: Sequence[tuple[int, list[int]]], hidden: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Zero counts of a group whose size is suppressed (to be suppressed)."""
    result: np.ndarray = in_hidden_groups(blocks, hidden) & (values == 0)
    return result


def exposed(
    release: Release,
    shown: np.ndarray,
    policy: Policy,
    floor: np.ndarray,
    proven: np.ndarray | None = None,
    min_gain: float = 0.1,
    apart: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks over cells: narrower than the width to the attacker, and of those, pinned;
    and each narrow cell's attacker minimum (people; NaN elsewhere). ``proven``: cells
    already shown to be wide under less knowledge (not checked again); ``min_gain``: when
    the joint certification stops for exact intervals (``attacker.certify``); ``apart``:
    whole groups of related cells checked before (:func:`unchanged`, or the audit's
    :mod:`memo`): their LPs are independent of the rest, so they are left out.

    Narrow: a suppressed published cell whose interval is below the width, or a guarded
    group known to be at least 1 and at most K within less than the width. The minimum is
    given for every cell whose interval is below the width, narrow or not (a guarded group
    whose minimum is above K is safe now, but hiding more may lower it into 1..K).
    """
    cells = release.cells
    published = cells.published()
    width = policy.protection_width
    hidden = published & np.isnan(shown)
    skip = np.zeros(len(shown), bool) if proven is None else proven.copy()
    matrix = cells.matrix()
    if apart is not None and apart.any():
        skip |= apart
        matrix = _left_out(matrix, apart)
    wanted = widths(release, policy)
    targets = np.flatnonzero((hidden | release.guard) & ~skip & (wanted > 0))
    narrow = np.zeros(len(shown), dtype=bool)
    pinned = np.zeros(len(shown), dtype=bool)
    least = np.full(len(shown), np.nan)
    if not len(targets) or not cells.relations:
        return narrow, pinned, least
    point = cells.values if apart is None else np.where(apart, 0, cells.values)
    know = attacker.knowledge(
        matrix, shown, published, policy, floor, point, release.part, release.most
    )
    if apart is not None:
        know.lower[apart] = know.upper[apart] = 0.0  # tied to nothing now: known, not asked
    know = attacker.fitting(know)  # audit: no true counts; one table found for every search
    targets = targets[~_can_be_zero(know, targets, release.guard & ~hidden)]
    if not len(targets):
        return narrow, pinned, least
    found = attacker.narrow(know, targets, width, min_gain)
    low, high, ok = found["low"], found["high"], found["ok"]
    ok |= (high - low) >= wanted[targets] - attacker.TOL  # a range published narrower
    in_small = (low >= 1) & (low <= max(policy.k, 0))
    bad = ~ok & (hidden[targets] | in_small)
    narrow[targets[bad]] = True
    pinned[targets[bad & ((high - low) < 0.5)]] = True
    least[targets[~ok]] = low[~ok]
    return narrow, pinned, least


def _left_out(matrix: sparse.csr_matrix, apart: np.ndarray) -> sparse.csr_matrix:
    """``matrix`` without the relations of the ``apart`` cells (whole groups of related
    cells, so no relation holds both an apart cell and another)."""
    touch = np.flatnonzero(np.diff(matrix[:, np.flatnonzero(apart)].tocsr().indptr) == 0)
    return sparse.csr_matrix(matrix[touch])


def _can_be_zero(know: attacker.Knowledge, targets: np.ndarray, unshown: np.ndarray) -> np.ndarray:
    """Mask over ``targets``: unshown groups an attacker's table can make 0
    (:func:`attacker.can_be_zero`); a group that can be 0 is never known to be 1..K."""
    pick = np.flatnonzero(unshown[targets])
    out = np.zeros(len(targets), dtype=bool)
    if len(pick):
        out[pick] = attacker.can_be_zero(know, targets[pick])
    return out


def sliced(release: Release, protection: Protection, name: str) -> Protection:
    """The release's protection restricted to table ``name``'s own cells, with the
    remark a reader may see (the rule, never counts of cells)."""
    own = release.ids[name]
    others = [n for n in release.names if n != name and "~" not in n]  # not guard pieces
    remark = suppression_remark(protection.policy, ", ".join(others))
    remarks = [] if protection.policy.off or not protection.suppressed[own].any() else [remark]
    if protection.policy.off:
        from unmetneed.disclosure.protect import OFF_REMARK

        remarks = [OFF_REMARK]
    return Protection(
        protection.policy,
        protection.primary[own],
        protection.secondary[own],
        protection.shown[own],
        remarks=remarks,
    )


def published_names(pieces: Sequence[Piece]) -> dict[str, str]:
    """A name for each population ``pieces`` count, for published metadata: its kind and
    its place among the release's populations of that kind, in the order the tables were
    published (``treatment:1``, ``cohort:2``, ``table:1``). Never the population's own name:
    that is a fingerprint of its people, and a hash of counts can be searched for (hash
    every table the published totals allow until one matches)."""
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    for p in pieces:
        for d in (*p.defs, *p.facts):
            if d is not None and d.pop not in out:
                kind = d.pop.split(":", 1)[0] if ":" in d.pop else "table"
                seen[kind] = seen.get(kind, 0) + 1
                out[d.pop] = f"{kind}:{seen[kind]}"
    return out


def renamed_pops(piece: Piece, names: Mapping[str, str]) -> Piece:
    """``piece`` with its populations named by ``names`` (those it does not name keep
    theirs): published names (:func:`published_names`), or an earlier population's."""
    if not names:
        return piece

    def name(d: Def | None) -> Def | None:
        return None if d is None else Def(names.get(d.pop, d.pop), d.where)

    facts = tuple(name(f) for f in piece.facts)
    return replace(piece, defs=tuple(name(d) for d in piece.defs), facts=facts)


def flag(meta: Mapping[str, Any], key: str, required: bool = False) -> bool:
    """A true/false key of a table's disclosure block or a register entry (missing: false,
    unless ``required``); anything else is a hand edit: ValueError."""
    if required and key not in meta:
        raise ValueError(
            f"{key!r} is missing: written by an older unmetneed, or edited by hand; publish"
            " the tables again into a new --release folder"
        )
    value = meta.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"{key!r} must be true or false, not {value!r}")
    return value


def piece_meta(
    piece: Piece,
    protection: Protection,
    release_name: str | None,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``"disclosure"`` block of one table's file: its own structure and what each
    cell counts (never a value, never which suppressed cells are small), its populations
    named by ``names`` (default: :func:`published_names` of the table alone)."""
    shown = [p for p in piece.cells.placements if not p.column.startswith("_")]
    written = Cells(piece.cells.values, list(piece.cells.relations), shown)
    meta = protection.meta(written, table=piece.name)
    public = renamed_pops(piece, names or published_names([piece]))
    meta["defs"] = [None if d is None else d.to_meta() for d in public.defs]
    meta["guard"] = piece.guarded().tolist()
    meta["blocks"] = piece.blocks
    meta["zeros"] = piece.zeros
    meta["release"] = release_name
    return meta


def relevant(earlier: Sequence[Piece], pieces: Sequence[Piece]) -> list[Piece]:
    """The ``earlier`` tables cut down to the cells that can tell anything about the new
    ``pieces``' cells: of their populations, and tied to them through a period they share
    (a cell of other periods counts other atoms), a cell of every period, or a relation.
    The rest are independent of the new cells (the attacker's LP splits there), and were
    checked when they were published."""
    nodes: dict[tuple[str, str], int] = {}
    edges: list[tuple[int, int]] = []
    first = np.cumsum([0, *(len(p.defs) for p in earlier)])
    n = int(first[-1])
    every = {  # populations with a cell of every period: it meets every period's cells
        d.pop
        for p in (*earlier, *pieces)
        for d in p.defs
        if d is not None and "period" not in dict(d.where)
    }

    def node(pop: str, period: str) -> int:
        if (pop, period) not in nodes:
            nodes[(pop, period)] = n + len(nodes)
            if period != "*" and pop in every:
                edges.append((nodes[(pop, period)], node(pop, "*")))
        return nodes[(pop, period)]

    def periods(d: Def) -> list[int]:
        return [node(d.pop, p) for p in dict(d.where).get("period", ("*",))]

    for i, piece in enumerate(earlier):
        for j, d in enumerate(piece.defs):
            if d is not None:
                edges += [(int(first[i]) + j, at) for at in periods(d)]
        for total, parts in piece.cells.relations:
            edges += [(int(first[i]) + total, int(first[i]) + part) for part in parts]
    seeds = [at for p in pieces for d in p.defs if d is not None for at in periods(d)]
    keep = _reached(edges, n + len(nodes), seeds)[:n]
    out = [restrict(p, keep[first[i] : first[i + 1]]) for i, p in enumerate(earlier)]
    return [p for p in out if p is not None]


def _reached(edges: Sequence[tuple[int, int]], n: int, seeds: Sequence[int]) -> np.ndarray:
    """Mask over ``n`` nodes: those joined by ``edges`` to one of ``seeds``."""
    if not seeds:
        return np.zeros(n, dtype=bool)
    pairs = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    from scipy.sparse import csgraph

    _, labels = csgraph.connected_components(graph, directed=False)
    out: np.ndarray = np.isin(labels, labels[np.asarray(seeds)])
    return out


def restrict(piece: Piece, keep: np.ndarray) -> Piece | None:
    """An earlier table cut down to its cells ``keep`` (a mask: cells tied to people, see
    :func:`relevant`); None if none is left."""
    keep = keep & np.asarray([d is not None for d in piece.defs], dtype=bool)
    if not keep.any():
        return None
    new_id = np.full(len(keep), -1, dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    cells = Cells(piece.cells.values[keep])
    for total, parts in piece.cells.relations:
        if keep[total] and keep[parts].all():
            cells.add_relation(int(new_id[total]), new_id[parts].tolist())
    shown = None if piece.shown is None else piece.shown[keep]
    defs = tuple(d for d, k in zip(piece.defs, keep, strict=True) if k)
    unshown = tuple(int(new_id[c]) for c in piece.guarded().tolist() if keep[c])
    bounds = tuple((int(new_id[c]), lo, hi) for c, lo, hi in piece.bounds if keep[c])
    return Piece(
        piece.name, cells, defs, piece.blocks, shown, unshown, bounds=bounds, zeros=piece.zeros
    )


def protect_pieces(
    pieces: Sequence[Piece],
    frames: Mapping[str, pd.DataFrame],
    policy: Policy,
    earlier: Sequence[Piece] = (),
    weight: str | None = None,
) -> tuple[Release, Protection]:
    """Protect ``pieces`` together, against the ``earlier`` tables of the release, over the
    atoms of the populations' records ``frames`` (population -> records)."""
    mine = [p for p in earlier if any(d is not None and d.pop in frames for d in p.defs)]
    before = relevant(mine, pieces)
    release = assemble([*before, *pieces], frames)
    count_atoms(release, frames, weight)
    try:
        return release, protect_release(release, policy)
    except UnprotectableError as err:
        refusal = _refused(err, before)
        if all(not p.zeros for p in pieces):
            raise refusal from None
    # the last resort: in the new compare tables every zero of a group with a suppressed
    # count is suppressed too, so a suppressed count may be 0, as those tables say
    release = assemble([*before, *pieces], frames)
    count_atoms(release, frames, weight)
    release.every_zero = True
    try:
        protection = protect_release(release, policy)
    except (UnprotectableError, RoundsError, attacker.InconsistentError):  # none that way
        raise refusal from None
    print(EVERY_ZERO, file=sys.stderr)
    return release, protection
