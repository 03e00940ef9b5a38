"""Areas: one id for an area in both inputs (GSS code, else name), and checks on them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from unmetneed.errors import Failure, Mention, Remarks, ValidationError
from unmetneed.inputs.variables import column_codes
from unmetneed.tables.gap.options import (
    AREA_NOT_STATED,
    MAX_NAMED,
    GapOptions,
    _Input,
    name_key,
)


@dataclass(frozen=True)
class _Areas:
    """Area identities shared by both inputs, and each input row's identity.

    ``names``/``codes``: display name and GSS code per area id. ``in_treatment``/
    ``in_prevalence``: which ids each input has. ``alias_ids``/``aliases``: areas known by
    several names, and those names (``Cornwall = Cornwall & Isles of Scilly``).
    """

    treat_ids: np.ndarray
    prev_ids: np.ndarray
    names: np.ndarray
    codes: np.ndarray
    in_treatment: np.ndarray
    in_prevalence: np.ndarray
    alias_ids: np.ndarray
    aliases: tuple[str, ...]


def _area_pairs(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's (area, area_code) pair number, and the distinct pairs (name, code, key).

    Works on the columns' integer codes, so a million rows cost one ``numpy.unique``.
    """
    names, name_values = column_codes(frame["area"])
    if (names < 0).any():  # an area blanked (e.g. by k-anonymising): one area of its own
        names = np.where(names < 0, len(name_values), names)
        name_values = np.append(name_values, AREA_NOT_STATED)
    if "area_code" in frame:
        codes, code_values = column_codes(frame["area_code"])
    else:
        codes, code_values = np.full(len(frame), -1, dtype=np.int64), np.zeros(0, dtype=object)
    width = len(code_values) + 1
    uniques, labels = np.unique(names * width + codes + 1, return_inverse=True)
    code_text = np.append(code_values, "")  # -1 (no code) reads as ""
    pairs = pd.DataFrame(
        {
            "name": name_values[uniques // width] if len(uniques) else np.zeros(0, dtype=object),
            "code": code_text[uniques % width - 1] if len(uniques) else np.zeros(0, dtype=object),
        }
    )
    pairs["key"] = [name_key(v) for v in pairs["name"]]  # distinct areas only, not rows
    return np.asarray(labels, dtype=np.int64), pairs


def _components(nodes: pd.DataFrame) -> np.ndarray:
    """Area id of each (name, code) node: linked by a shared GSS code, or by the same
    normalised name where at least one of the two has no code (codes decide when both
    have one, so two areas of one name with different codes stay apart).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    idx = pd.DataFrame({"i": np.arange(len(nodes)), "code": nodes["code"], "key": nodes["key"]})
    coded = idx[idx["code"] != ""]
    by_code = coded.merge(coded, on="code")
    uncoded = idx[idx["code"] == ""]
    by_name = uncoded.merge(idx, on="key")
    left = np.concatenate([by_code["i_x"], by_name["i_x"]]).astype(np.int64)
    right = np.concatenate([by_code["i_y"], by_name["i_y"]]).astype(np.int64)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(nodes), len(nodes)))
    _n, labels = connected_components(graph, directed=False)
    return np.asarray(labels)


def _match_areas(treat: pd.DataFrame, prev: pd.DataFrame) -> _Areas:
    """Give rows of both inputs one area id: by GSS code when both have one, else by name."""
    t_labels, t_pairs = _area_pairs(treat)
    p_labels, p_pairs = _area_pairs(prev)
    nodes = pd.concat([t_pairs.assign(src="t"), p_pairs.assign(src="p")], ignore_index=True)
    raw = _components(nodes)
    ids, _ = pd.factorize(raw, sort=True)
    nodes["id"] = ids
    n_ids = int(ids.max()) + 1 if len(ids) else 0
    # display: the treatment file's name and code, else the prevalence file's
    nodes["rank"] = (nodes["src"] == "p").astype(int)
    first = nodes.sort_values(["id", "rank", "name"], kind="stable").drop_duplicates("id")
    coded = nodes[nodes["code"] != ""].sort_values(["id", "rank", "code"], kind="stable")
    coded = coded.drop_duplicates("id")
    names = np.empty(n_ids, dtype=object)
    names[first["id"].to_numpy()] = first["name"].to_numpy()
    codes = np.full(n_ids, None, dtype=object)
    codes[coded["id"].to_numpy()] = coded["code"].to_numpy()
    keys = nodes.drop_duplicates(["id", "key"])
    several = keys[keys.groupby("id")["key"].transform("size") > 1].sort_values(["id", "name"])
    joined = several.groupby("id")["name"].agg(" = ".join)  # the few areas with several names
    t_ids = ids[: len(t_pairs)][t_labels] if len(t_labels) else np.zeros(0, np.int64)
    p_ids = ids[len(t_pairs) :][p_labels] if len(p_labels) else np.zeros(0, np.int64)
    return _Areas(
        treat_ids=np.asarray(t_ids, dtype=np.int64),
        prev_ids=np.asarray(p_ids, dtype=np.int64),
        names=names,
        codes=codes,
        in_treatment=np.isin(np.arange(n_ids), t_ids),
        in_prevalence=np.isin(np.arange(n_ids), p_ids),
        alias_ids=joined.index.to_numpy(dtype=np.int64),
        aliases=tuple(str(v) for v in joined.to_numpy()),
    )


def _check_duplicates(prev: pd.DataFrame, ids: np.ndarray, path: str) -> None:
    """Refuse two estimates for one area x period x substance, naming their lines."""
    keys = pd.DataFrame(
        {
            "id": ids,
            "period": prev["period"].astype(str).to_numpy(),
            "substance": prev["substance"].astype(str).to_numpy(),
            "line": prev.index.to_numpy() + 2,
            "area": prev["area"].astype(str).to_numpy(),
        }
    )
    dup = keys[keys.duplicated(["id", "period", "substance"], keep=False)]
    if dup.empty:
        return
    firsts = dup.groupby(["id", "period", "substance"])["line"].transform("min")
    failures = [
        Failure(
            int(line),
            "area",
            str(area),
            f"a second estimate for this area, {period} and {sub} (first on line {first}); "
            "keep one row per area, period and substance",
        )
        for line, area, period, sub, first in zip(
            dup["line"], dup["area"], dup["period"], dup["substance"], firsts, strict=True
        )
        if line != first
    ]
    raise ValidationError(path, "prevalence", sorted(failures, key=lambda f: f.line or 0))


def _check_strict(
    opts: GapOptions,
    areas: _Areas,
    treat: _Input,
    prev: _Input,
    treat_frame: pd.DataFrame,
    prev_frame: pd.DataFrame,
) -> None:
    """With ``--strict``, an area in one input only is a validation error (exit 3)."""
    if not opts.strict:
        return
    failures = _one_sided(treat_frame, areas.treat_ids, ~areas.in_prevalence, treat.path, prev.path)
    failures += _one_sided(prev_frame, areas.prev_ids, ~areas.in_treatment, prev.path, treat.path)
    if failures:
        raise ValidationError(f"{treat.path} and {prev.path}", "matching areas", failures)


def _one_sided(
    frame: pd.DataFrame, ids: np.ndarray, alone: np.ndarray, this: str, other: str
) -> list[Failure]:
    """One failure per lone area: the first line it is on, in the file that has it."""
    if not len(ids):
        return []
    hit = np.flatnonzero(alone[ids])
    first = pd.Series(hit).groupby(ids[hit]).min().sort_values().to_numpy()
    lines = frame.index.to_numpy()[first] + 2
    names = frame["area"].astype(str).to_numpy()[first]
    return [
        Failure.naming(
            int(line),
            "area",
            str(name),
            (f"in {this} but not in {other} (", Mention("strict"), ")"),
        )
        for line, name in zip(lines, names, strict=True)
    ]


def _prevalence_only(areas: _Areas, prev: _Input, remarks: Remarks) -> None:
    """A remark naming the areas with estimates but nobody in the treatment input."""
    alone = np.flatnonzero(areas.in_prevalence & ~areas.in_treatment)
    if not len(alone):
        return
    names = sorted(str(n) for n in areas.names[alone])
    shown = ", ".join(names[:MAX_NAMED]) + (
        f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    )
    remarks.add(
        f"{len(names)} area(s) in {prev.path} are not in the treatment input, so they have "
        f"no row (not in treatment is not the same as none in treatment): {shown}"
    )
