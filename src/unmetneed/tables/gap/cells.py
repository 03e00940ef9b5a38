"""What each cell of a gap table counts, for protecting it in a release.

A gap ``in_treatment`` cell (period P, area A, substance S) counts the treatment records of
period P whose area is one of A's names in the extract and whose drug_group x crack is in
S's set (contract 4.1: ``opiate_crack`` = opiate or crack, ...); a total row counts its
areas' names together; the substance parts (opiate without crack, opiate with crack, crack
without opiate) count their sets of one area. The sets are found by applying the gap's own
row rule (``variables.substance_masks``) to one row of each drug_group x crack code, so the
definitions cannot drift from the counting.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from unmetneed.disclosure.model import Cells
from unmetneed.disclosure.release import Def, Piece, dgc_codes, dgc_labels, dgc_set

if TYPE_CHECKING:
    from unmetneed.tables.gap.build import GapBuild


@cache
def substance_dgc(substance: str) -> tuple[str, ...]:
    """The drug_group x crack codes a gap substance counts.

    >>> substance_dgc("opiate")
    ('opiate|yes', 'opiate|no', 'opiate|not_stated')
    """
    from unmetneed.inputs.variables import substance_masks

    return dgc_set(lambda f: substance_masks(f, (substance,))[substance])


@lru_cache(maxsize=1)
def part_dgc() -> tuple[tuple[str, ...], ...]:
    """The codes of the three substance parts: onc, oac, cno (``treatment._substance_parts``)."""
    from unmetneed.inputs.variables import substance_masks

    def part(i: int) -> tuple[str, ...]:
        def rule(frame: pd.DataFrame) -> np.ndarray:
            m = substance_masks(frame, ("opiate", "crack"))
            result: np.ndarray = [
                m["opiate"] & ~m["crack"],
                m["opiate"] & m["crack"],
                ~m["opiate"] & m["crack"],
            ][i]
            return result

        return dgc_set(rule)

    return part(0), part(1), part(2)


def gap_piece(build: GapBuild, pop: str, name: str = "gap") -> Piece:
    """The gap table ``build`` as a release piece of population ``pop``. A counts input
    with suppressed counts is not tied to people, but what its exact cells count is kept
    (``facts``: a later table of the records counts them, :mod:`identity`)."""
    cells = build.cells
    n = len(cells.values)
    if not cells.placements:
        return Piece(name, cells, (None,) * n)
    if not _tied(build):
        if build.flags["t_rounded"].any():  # rounded counts: not one value of people
            return Piece(name, cells, (None,) * n)
        return Piece(name, cells, (None,) * n, facts=tuple(_shown_defs(build, pop)))
    names = _area_names(build.counted)
    defs = _shown_defs(build, pop)
    _part_defs(build, defs, names, pop)
    return Piece(name, cells, tuple(defs))


def counts_piece(build: GapBuild, frame: pd.DataFrame, pop: str, name: str) -> Piece | None:
    """The counts file ``frame`` (its rows less margins) as a table published by someone
    else, when the gap from it is not tied to people (some ``*`` counts): a cell per
    period x area x drug_group x crack (or substance), its count shown, a ``*`` (or
    ``<N``) suppressed with its range, 1..``suppressed_max`` (1..N-1), and true value not
    known until records of the same people join the release. None where the gap is tied,
    has no suppressed count, or has rounded ones (not one value of people: not modelled).
    """
    if _tied(build) or build.flags["t_rounded"].any() or "count_suppressed" not in frame:
        return None
    star = frame["count_suppressed"].to_numpy(dtype=bool)
    if not star.any() or int(frame.get("count_rounding", pd.Series([0])).max()) > 0:
        return None
    count = frame["count"].astype("Int64").to_numpy(dtype=np.int64, na_value=0)
    most = (
        frame["count_upper"]
        .astype("Int64")
        .to_numpy(dtype=np.int64, na_value=build.options.star_max)
    )
    keys = pd.DataFrame(
        {
            "period": frame["period"].astype("string").to_numpy(object),
            "area": frame["area"].astype("string").to_numpy(object),
            "what": _row_codes(frame),
            "lo": np.where(star, 1, count),
            "hi": np.where(star, most, count),
            "star": star,
        }
    )
    rows = keys.groupby(["period", "area", "what"], sort=True, dropna=False).agg(
        lo=("lo", "sum"), hi=("hi", "sum"), star=("star", "any")
    )
    rows = rows.reset_index()
    return _range_piece(pd.concat([rows, _unlisted(rows)], ignore_index=True), pop, name)


def _unlisted(rows: pd.DataFrame) -> pd.DataFrame:
    """Per period and area of the counts file, a row of 0 people in the drug_group x crack
    codes it lists no row for: the file counts everyone in treatment there (the attacker
    reads a group left out as empty), so records of other people there are not these."""
    every = set(dgc_codes())
    listed = rows.groupby(["period", "area"], sort=True, dropna=False)["what"].agg("+".join)
    left = ["+".join(sorted(every - set(codes.split("+")))) for codes in listed.tolist()]
    out = listed.index.to_frame(index=False).assign(what=left, lo=0, hi=0, star=False)
    result: pd.DataFrame = out[out["what"] != ""]
    return result


def _row_codes(frame: pd.DataFrame) -> np.ndarray:
    """Each counts row's dgc codes, joined by ``+`` (one code by drug_group and crack; a
    substance's codes in a file by substance)."""
    if "substance" in frame:
        names = frame["substance"].astype("string").to_numpy(object)
        return np.asarray(["+".join(substance_dgc(str(s))) for s in names], dtype=object)
    return dgc_labels(frame)


def _range_piece(rows: pd.DataFrame, pop: str, name: str) -> Piece:
    """A piece of published counts, one cell per row of ``rows`` (period, area, what: its
    dgc codes joined by ``+``, lo, hi, star), each a range the attacker knows it is in: a
    count ``v`` is ``v..v``, a ``*`` ``1..4``. None is shown by this tool (its rule does
    not judge them: a 5 is not a small count of this release's under ``--k 5``, nor a
    rounded one under ``nhs``)."""
    star = rows["star"].to_numpy(dtype=bool)
    lo, hi = rows["lo"].to_numpy(np.int64), rows["hi"].to_numpy(np.int64)
    facts = tuple(
        Def.of(pop, {"period": [p], "area": [a], "dgc": str(w).split("+")})
        for p, a, w in zip(rows["period"], rows["area"], rows["what"], strict=True)
    )
    shown = np.full(len(rows), np.nan)
    bounds = tuple(zip(range(len(rows)), lo.tolist(), hi.tolist(), strict=True))
    cells = Cells(np.where(star, 0, lo))  # a '*' not known yet: 0, below its range
    return Piece(name, cells, (None,) * len(rows), shown=shown, facts=facts, bounds=bounds)


def _shown_defs(build: GapBuild, pop: str) -> list[Def | None]:
    """What each shown ``in_treatment`` cell counts (None for the substance parts)."""
    table, cells = build.table, build.cells
    shown = cells.placements[0]
    names = _area_names(build.counted)
    defs: list[Def | None] = [None] * len(cells.values)
    for cell, row in zip(shown.cells.tolist(), shown.rows.tolist(), strict=True):
        defs[cell] = Def.of(
            pop,
            {
                "period": [table["period"].iloc[row]],
                "area": _row_areas(table, row, names),
                "dgc": substance_dgc(str(table["substance"].iloc[row])),
            },
        )
    return defs


def _tied(build: GapBuild) -> bool:
    """Whether the table's counts are sums of known people: records, or an exact counts
    file by drug_group and crack (no suppressed or rounded count in any period, no
    substance column: its rows are then people, ``PEOPLE`` a row)."""
    if build.kind == "treatment":
        return True
    flags = build.flags
    exact = build.exact and not (flags["t_unknown"].any() or flags["t_rounded"].any())
    by_group = {"drug_group", "crack"} <= set(build.columns) and "substance" not in build.columns
    return exact and by_group and build.kind == "counts"


def _area_names(counted: pd.DataFrame) -> dict[int, tuple[str, ...]]:
    """The extract's area names of each area id."""
    pairs = counted[["area_id", "area_name"]].drop_duplicates()
    out: dict[int, tuple[str, ...]] = {}
    for area_id, name in zip(pairs["area_id"].tolist(), pairs["area_name"].tolist(), strict=True):
        out[int(area_id)] = tuple(sorted({*out.get(int(area_id), ()), str(name)}))
    return out


def _row_areas(table: pd.DataFrame, row: int, names: dict[int, tuple[str, ...]]) -> list[str]:
    """Names of the area of table row ``row``; of all its areas for a total row."""
    if "is_total" in table and bool(table["is_total"].iloc[row]):
        group = table["total_group"].to_numpy()
        is_total = table["is_total"].to_numpy(dtype=bool)
        mine = np.flatnonzero((group == group[row]) & ~is_total)
        ids = table["area_id"].to_numpy()[mine]
    else:
        ids = np.asarray([table["area_id"].iloc[row]])
    return sorted({a for i in ids.tolist() for a in names.get(int(i), ())})


def _part_defs(
    build: GapBuild, defs: list[Def | None], names: dict[int, tuple[str, ...]], pop: str
) -> None:
    """Definitions of the substance parts (ids after the shown cells, three per area),
    each placed by a relation to a shown cell of its period and area."""
    cells, table = build.cells, build.table
    shown = cells.placements[0]
    row_of = dict(zip(shown.cells.tolist(), shown.rows.tolist(), strict=True))
    first = len(shown.cells)
    sets = part_dgc()
    for total, parts in cells.relations:
        if total not in row_of:
            continue
        row = row_of[total]
        for p in parts:
            if p >= first and defs[p] is None:
                defs[p] = Def.of(
                    pop,
                    {
                        "period": [table["period"].iloc[row]],
                        "area": _row_areas(table, row, names),
                        "dgc": sets[(p - first) % 3],
                    },
                )
