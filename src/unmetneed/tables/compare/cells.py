"""What each cell of a compare table counts, for protecting it in a release.

A count (cohort C, within-group G, variable V, category c) counts the people of C's
population in G with V = c; a denominator counts everyone in G (or, with
``--exclude-not-stated``, everyone in G whose V is stated). Variables made of drug group
and crack (``substance_cohort``, ``drug_group``, ``crack``) are sets of dgc codes, found by
applying compare's own rule (``derive_substance_cohort``) to one row of each code; a
collapsed age band is the set of 5-year bands it takes in.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from unmetneed.disclosure.model import Cells
from unmetneed.disclosure.release import (
    ABSENT_COLUMN,
    GROUP_PARTS_COLUMN,
    SPLIT_COLUMN,
    Def,
    Piece,
    dgc_codes,
    dgc_set,
)
from unmetneed.inputs.codes import NOT_STATED, code_list

if TYPE_CHECKING:
    from unmetneed.inputs.variables import AgeBands
    from unmetneed.tables.compare.table import CompareBuild

Where = dict[str, set[str]]


@cache
def cohort_dgc(category: str) -> tuple[str, ...]:
    """The drug_group x crack codes of a substance cohort (or ``not_stated``)."""
    from unmetneed.inputs.variables import SUBSTANCE_COHORTS, derive_substance_cohort

    code = SUBSTANCE_COHORTS.index(category) if category in SUBSTANCE_COHORTS else -1

    def rule(frame: pd.DataFrame) -> np.ndarray:
        result: np.ndarray = derive_substance_cohort(frame["drug_group"], frame["crack"]) == code
        return result

    return dgc_set(rule)


def _filter(variable: str, category: str, bands: AgeBands | None) -> tuple[str, set[str]]:
    """The (model variable, codes) of ``variable == category``.

    >>> _filter("crack", "yes", None)[1] >= {"opiate|yes"}
    True
    """
    if variable == "substance_cohort":
        return "dgc", set(cohort_dgc(category))
    if variable == "drug_group":
        return "dgc", {c for c in dgc_codes() if c.split("|")[0] == category}
    if variable == "crack":
        return "dgc", {c for c in dgc_codes() if c.split("|")[1] == category}
    if variable == "age_band" and bands is not None and category != NOT_STATED:
        five = code_list("age_band").codes
        band = bands.labels.index(category)
        return "age_band", {f for f, b in zip(five, bands.source_to_band, strict=True) if b == band}
    return variable, {category}


def _add(where: Where, variable: str, codes: set[str]) -> Where:
    """``where`` with one more filter (intersected with one already on the variable)."""
    out = dict(where)
    out[variable] = out[variable] & codes if variable in out else set(codes)
    return out


def _union(where: Where, filters: list[tuple[str, set[str]]]) -> Where:
    """``where`` and the variable of ``filters`` in any of their codes (one variable)."""
    if not filters:
        return _add(where, "~none", set())
    codes = set().union(*(c for _, c in filters))
    return _add(where, filters[0][0], codes)


def compare_piece(
    build: CompareBuild,
    name: str,
    pops: Mapping[str, str],
    extra: Mapping[str, Mapping[str, tuple[str, ...]]],
) -> Piece:
    """The compare table ``build`` as a release piece (module docstring)."""
    groups, bands, exclude = build.groups, build.bands, build.options.exclude_not_stated
    groups_where = [_group_where(build, g, pops, extra) for g in range(groups.n)]
    defs: list[Def | None] = []
    if exclude:
        for var in build.coded:
            stated = [_filter(var.name, c, bands) for c in var.categories if c != NOT_STATED]
            defs.extend(Def.of(pop, _union(where, stated)) for pop, where in groups_where)
    else:
        defs.extend(Def.of(pop, where) for pop, where in groups_where)
    for var in build.coded:
        shown = [c for c in var.categories if not (exclude and c == NOT_STATED)]
        filters = [_filter(var.name, c, bands) for c in shown]
        for pop, where in groups_where:
            defs.extend(Def.of(pop, _add(where, v, codes)) for v, codes in filters)
    if exclude:  # the pseudo cells: group sizes, then each variable's not stated count
        defs.extend(Def.of(pop, where) for pop, where in groups_where)
        for var in build.coded:
            missing = [_filter(var.name, NOT_STATED, bands)]
            defs.extend(Def.of(pop, _union(where, missing)) for pop, where in groups_where)
    if len(defs) != len(build.cells.values):
        raise AssertionError("compare cells and their definitions are out of step")
    absent = _absent_groups(build, pops, extra)
    cells = build.cells
    if absent:  # groups the table does not list have nobody: a reader knows they are 0
        first = len(cells.values)
        cells = Cells(np.concatenate([cells.values, np.zeros(len(absent), np.int64)]))
        cells.relations.extend(build.cells.relations)
        cells.placements.extend(build.cells.placements)
        ids = np.arange(first, first + len(absent))
        cells.place(ABSENT_COLUMN, ids, np.zeros(len(absent), dtype=np.int64))
        defs.extend(absent)
    cells, within_defs = _within_totals(build, cells, pops, extra)
    defs.extend(within_defs)
    return Piece(name, cells, tuple(defs), blocks=True, zeros=True)


def _group_where(
    build: CompareBuild,
    g: int,
    pops: Mapping[str, str],
    extra: Mapping[str, Mapping[str, tuple[str, ...]]],
    skip: int | None = None,
) -> tuple[str, Where]:
    """The population and filters of group ``g`` (without within column ``skip``)."""
    groups, bands = build.groups, build.bands
    label = build.labels[int(groups.cohort[g])]
    where: Where = {v: set(c) for v, c in extra.get(label, {}).items()}
    for j, w in enumerate(build.within):
        if j != skip:
            variable, codes = _filter(w.name, w.categories[int(groups.within[g, j])], bands)
            where = _add(where, variable, codes)
    return pops[label], where


def _within_totals(
    build: CompareBuild,
    cells: Cells,
    pops: Mapping[str, str],
    extra: Mapping[str, Mapping[str, tuple[str, ...]]],
) -> tuple[Cells, list[Def | None]]:
    """``cells`` with, for each within column, each cohort's groups summed over it (people,
    never shown) as category blocks: total = the group sizes it sums. A zero group beside
    such a total that is small is then suppressed (group disclosure: "all of this cohort's
    2 people in Westmere are male" from the zero rows of the other sexes)."""
    groups = build.groups
    if not build.within or not groups.n:
        return cells, []
    sizes = _size_cells(build, cells)
    totals: list[tuple[int, np.ndarray]] = []
    for j in range(len(build.within)):
        keys = np.column_stack([groups.cohort, np.delete(groups.within, j, axis=1)])
        _, first, block = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        block = block.reshape(-1)
        order = np.argsort(block, kind="stable")  # each block's groups together, in order
        split = np.split(order, np.cumsum(np.bincount(block))[:-1])
        totals += [(j * groups.n + int(first[b]), g) for b, g in enumerate(split) if len(g) > 1]
    if not totals:
        return cells, []
    start = len(cells.values)
    values = [int(groups.size[parts].sum()) for _, parts in totals]
    out = Cells(np.concatenate([cells.values, np.asarray(values, np.int64)]))
    out.relations.extend(cells.relations)
    out.placements.extend(cells.placements)
    ids = start + np.arange(len(totals))
    out.place(SPLIT_COLUMN, ids, np.zeros(len(totals), dtype=np.int64))
    for cell, (_, parts) in zip(ids.tolist(), totals, strict=True):
        out.add_relation(cell, sizes[parts].tolist())
    defs: list[Def | None] = [
        Def.of(*_group_where(build, at % groups.n, pops, extra, skip=at // groups.n))
        for at, _ in totals
    ]
    return out, defs


def _size_cells(build: CompareBuild, cells: Cells) -> np.ndarray:
    """The cell counting each group's size: its denominator, or (excluding not stated)
    its pseudo size cell."""
    n = build.groups.n
    if not build.options.exclude_not_stated:
        return np.arange(n, dtype=np.int64)
    pseudo = next(p for p in cells.placements if p.column == GROUP_PARTS_COLUMN)
    return np.sort(pseudo.cells)[:n]


MAX_ABSENT = 200_000  # within-group combinations listed as empty at most (per table)


def _absent_groups(
    build: CompareBuild, pops: Mapping[str, str], extra: Mapping[str, Mapping[str, tuple[str, ...]]]
) -> list[Def | None]:
    """What each cohort x within-group the table could list but does not counts (nobody).

    Groups are listed only when they have people, so an unlisted one is a published 0.
    """
    groups, bands = build.groups, build.bands
    dims = [len(w.categories) for w in build.within] + [len(build.labels)]
    total = int(np.prod(dims, dtype=np.int64))
    if total > MAX_ABSENT or total == groups.n:
        return []
    present = np.zeros(total, dtype=bool)
    present[np.ravel_multi_index((*groups.within.T, groups.cohort), dims)] = True
    out: list[Def | None] = []
    for flat in np.flatnonzero(~present).tolist():
        *codes, cohort = np.unravel_index(flat, dims)
        label = build.labels[int(cohort)]
        where: Where = {v: set(c) for v, c in extra.get(label, {}).items()}
        for w, code in zip(build.within, codes, strict=True):
            variable, chosen = _filter(w.name, w.categories[int(code)], bands)
            where = _add(where, variable, chosen)
        out.append(Def.of(pops[label], where))
    return out
