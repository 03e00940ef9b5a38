"""Disclosure control: policies, hand cases of secondary suppression, linked tables, audit.

The attacker used to check patterns here is a separate, simple one (``scipy.optimize.linprog``
on every cell, no elimination or blocks), so it does not share code with the library's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from unmetneed.disclosure import Cells, Policy, Protection, protect
from unmetneed.disclosure.attacker import intervals, knowledge
from unmetneed.disclosure.audit import audit, gather
from unmetneed.disclosure.tables import LongSpec, cube, from_long
from unmetneed.errors import InputError
from unmetneed.outputs.write import read_meta, write_table


def simple_attacker(
    relations: list[tuple[int, list[int]]], shown: np.ndarray, floor: int
) -> dict[int, tuple[float, float]]:
    """[min, max] of every suppressed (NaN) cell by LP over all cells, dense, no tricks."""
    n = len(shown)
    a = np.zeros((max(len(relations), 1), n))
    for r, (total, parts) in enumerate(relations):
        a[r, total] -= 1
        for p in parts:
            a[r, p] += 1
    bounds = [(floor, None) if np.isnan(v) else (v, v) for v in shown]
    out = {}
    for c in np.flatnonzero(np.isnan(shown)).tolist():
        cost = np.zeros(n)
        cost[c] = 1
        low = linprog(cost, A_eq=a, b_eq=np.zeros(len(a)), bounds=bounds, method="highs")
        high = linprog(-cost, A_eq=a, b_eq=np.zeros(len(a)), bounds=bounds, method="highs")
        assert low.status == 0
        top = np.inf if high.status == 3 else -high.fun
        out[c] = (np.ceil(low.fun - 1e-6), np.floor(top + 1e-6))
    return out


def widths(cells: Cells, shown: np.ndarray, floor: int = 1) -> dict[int, float]:
    """Attacker width (max - min) of every suppressed cell."""
    return {c: hi - lo for c, (lo, hi) in simple_attacker(cells.relations, shown, floor).items()}


# --- policies ----------------------------------------------------------------------------


def test_named_policies_have_their_thresholds() -> None:
    assert Policy.named("k3").k == 3
    assert Policy.named("lt5").k == 4  # counts under 5
    nhs = Policy.named("nhs")
    assert (nhs.k, nhs.round_to) == (7, 5)
    assert Policy.named(k=5).name == "k5"
    with pytest.raises(ValueError, match="unknown policy"):
        Policy.named("k9x")


def test_primary_masks_small_counts_and_zeros_only_when_disclosive() -> None:
    values = np.array([0, 1, 3, 4, 5])
    assert Policy.named(k=3).primary(values).tolist() == [False, True, True, False, False]
    assert Policy.named(k=3, zeros=True).primary(values).tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert Policy.named("lt5").primary(values).tolist() == [False, True, True, True, False]


def test_k0_turns_suppression_off_and_says_so() -> None:
    cells = Cells([3, 1, 2])
    cells.add_relation(0, [1, 2])
    result = protect(cells, Policy.named(k=0))
    assert not result.suppressed.any()
    assert "turned off" in result.remarks[0]
    assert result.meta(cells)["policy"]["k"] == 0


def test_nhs_rounds_each_count_and_totals_from_unrounded_counts() -> None:
    # 24 = 8 + 8 + 8: parts round to 10 each, the total from its own 24 to 25 (not 30).
    cells = Cells([24, 8, 8, 8])
    cells.add_relation(0, [1, 2, 3])
    result = protect(cells, Policy.named("nhs"))
    assert result.shown.tolist() == [25.0, 10.0, 10.0, 10.0]
    assert not result.suppressed.any()


def test_policy_round_trips_through_metadata() -> None:
    policy = Policy.named("nhs", zeros=True, width=4)
    assert Policy.from_meta(policy.to_meta()) == policy
    assert policy.protection_width == 4
    assert Policy.named(k=3).protection_width == 3


# --- hand cases --------------------------------------------------------------------------


def test_lone_suppressed_cell_in_row_with_shown_total_gains_a_partner() -> None:
    # 27 = 2 + 10 + 15: the 2 alone could be worked out as 27 - 10 - 15.
    cells = Cells([27, 2, 10, 15])
    cells.add_relation(0, [1, 2, 3])
    result = protect(cells, Policy.named(k=3))
    assert result.primary.tolist() == [False, True, False, False]
    # the smallest partner with room to move down by 3 is the 10
    assert result.secondary.tolist() == [False, False, True, False]
    # attacker: x1 + x2 = 12 with both >= 1, so x1 in [1, 11]
    assert simple_attacker(cells.relations, result.shown, 1)[1] == (1, 11)


def test_two_ones_in_a_row_whose_total_is_two_are_not_left_alone() -> None:
    # 12 = 1 + 1 + 10: hiding only the 1s leaves x1 + x2 = 2 with both >= 1: both exactly 1.
    cells = Cells([12, 1, 1, 10])
    cells.add_relation(0, [1, 2, 3])
    result = protect(cells, Policy.named(k=3))
    assert result.suppressed.tolist() == [False, True, True, True]
    # x1 + x2 + x3 = 12, each >= 1: each in [1, 10]
    assert simple_attacker(cells.relations, result.shown, 1) == {1: (1, 10), 2: (1, 10), 3: (1, 10)}


def test_column_of_a_three_way_table_is_protected_by_a_cube_of_eight() -> None:
    # 2 x 2 x 2 with every margin (27 cells); one small count. Any pattern that keeps all
    # 19 margins shown needs a +-d move on all 8 inner cells, so 7 complements at least.
    cells, ids = cube(np.array([[[1, 20], [15, 12]], [[9, 30], [25, 14]]]))
    result = protect(cells, Policy.named(k=3))
    assert result.primary.sum() == 1
    assert result.secondary.sum() == 7
    assert set(np.flatnonzero(result.suppressed)) == set(ids[:2, :2, :2].ravel())
    # the 1 can move to 1 + 9 (its diagonal partner (1,0,0) of 9 bounds the moves at 8)
    found = widths(cells, result.shown)
    assert found[int(ids[0, 0, 0])] >= 3
    assert min(found.values()) >= 3


def test_zeros_are_never_complements_when_zeros_are_published() -> None:
    cells = Cells([12, 2, 0, 10])
    cells.add_relation(0, [1, 2, 3])
    result = protect(cells, Policy.named(k=3))
    assert not result.suppressed[2]
    assert result.suppressed.tolist() == [False, True, False, True]


def test_protect_is_deterministic_and_does_not_touch_its_input() -> None:
    inner = np.array([[1, 5, 9], [4, 2, 30], [7, 8, 3]])
    cells, _ = cube(inner)
    before = cells.values.copy()
    first = protect(cells, Policy.named(k=3)).suppressed
    second = protect(cells, Policy.named(k=3)).suppressed
    assert first.tolist() == second.tolist()
    assert cells.values.tolist() == before.tolist()


def test_nhs_rounding_alone_can_protect_a_small_count() -> None:
    # 40 = 4 + 20 + 16, shown 40, *, 20, 15. Rounded counts are known only to +-2:
    # x1 = x0 - x2 - x3 in [38 - 22 - 17, 42 - 18 - 13] = [-1, 11] -> [1, 11], width 10 >= 7,
    # so the 4 needs no complement.
    cells = Cells([40, 4, 20, 16])
    cells.add_relation(0, [1, 2, 3])
    policy = Policy.named("nhs")
    result = protect(cells, policy)
    assert result.suppressed.tolist() == [False, True, False, False]
    assert result.shown[[0, 2, 3]].tolist() == [40.0, 20.0, 15.0]
    know = knowledge(cells.matrix(), result.shown, cells.published(), policy)
    low, high = intervals(know, np.array([1]))
    assert (low[0], high[0]) == (1, 11)


# --- linked tables -----------------------------------------------------------------------


def linked() -> tuple[Cells, pd.DataFrame, pd.DataFrame]:
    """A gap-like frame (in treatment by area) and a compare-like frame (sex within area)
    sharing the area counts: cells 0-2 areas A, B, C; 3 England; 4-9 male/female by area.
    """
    values = [21, 27, 11, 59, 1, 20, 15, 12, 9, 2]
    cells = Cells(values)
    cells.add_relation(3, [0, 1, 2])
    for area, (male, female) in enumerate([(4, 5), (6, 7), (8, 9)]):
        cells.add_relation(area, [male, female])
    gap = pd.DataFrame({"area": ["A", "B", "C", "England"], "in_treatment": values[:4]})
    compare = pd.DataFrame(
        {
            "area": ["A", "A", "B", "B", "C", "C"],
            "category": ["male", "female"] * 3,
            "count": values[4:],
            "denominator": np.repeat(values[:3], 2),
        }
    ).assign(pct=lambda f: 100 * f["count"] / f["denominator"])
    cells.place("gap:in_treatment", np.arange(4), np.arange(4))
    cells.place("compare:count", np.arange(4, 10), np.arange(6))
    cells.place("compare:denominator", np.repeat(np.arange(3), 2), np.arange(6))
    return cells, gap, compare


# --- audit -------------------------------------------------------------------------------


def protected_long(tmp_path, name: str = "t.parquet"):
    frame = pd.DataFrame(
        {
            "area": ["A", "A", "A", "B", "B", "B", "C", "C", "C", "Total", "Total", "Total"],
            "sex": ["male", "female", "Total"] * 4,
            "count": [1, 20, 21, 15, 12, 27, 9, 2, 11, 25, 34, 59],
        }
    )
    spec = LongSpec(("area", "sex"), totals=True)
    cells = from_long(frame, frame["count"].to_numpy(), spec)
    result = protect(cells, Policy.named(k=3))
    out = result.apply(frame, cells)
    path = write_table(out, tmp_path / name, {"disclosure": result.meta(cells)})
    return path, frame, out, cells


def test_long_table_relations_come_from_total_rows(tmp_path) -> None:
    _, _, out, cells = protected_long(tmp_path)
    assert len(cells.relations) == 3 + 4  # three area rows, four sex columns (incl. Total)
    # the 1 (A male) and the 2 (C female) with A female and C male: a rectangle
    assert np.flatnonzero(out["count"].isna().to_numpy()).tolist() == [0, 1, 6, 7]


def test_audit_passes_what_protect_wrote_and_prints_exact_intervals(tmp_path) -> None:
    path, *_ = protected_long(tmp_path)
    result = audit(gather([path]))
    assert result.ok
    # A male: A male + C male = 25 - 15 = 10 with C male >= 1 -> [1, 9]
    first = result.cells.set_index("cell").loc[0]
    assert (first["low"], first["high"]) == (1, 9)


def test_audit_fails_a_doctored_table_with_secondary_cells_revealed(tmp_path) -> None:
    path, frame, out, _ = protected_long(tmp_path)
    meta = read_meta(path)
    doctored = out.copy()
    doctored.loc[[1, 6], "count"] = frame.loc[[1, 6], "count"].to_numpy()  # the complements
    write_table(doctored, path, meta)
    result = audit(gather([path]))
    assert not result.ok
    # A male = 21 - 20 exactly: interval [1, 1]
    assert "narrowed below 3" in result.problems[-1]
    assert "area=A, sex=male) to [1, 1]" in result.problems[-1]
    assert "can be narrowed below 3" in result.problems[-1]


def test_audit_refuses_a_table_without_metadata(tmp_path) -> None:
    path = tmp_path / "plain.csv"
    pd.DataFrame({"area": ["A"], "count": [3]}).to_csv(path, index=False)
    with pytest.raises(InputError, match="no disclosure metadata"):
        gather([path])


def test_audit_of_a_large_table_certifies_jointly_then_computes_the_rest(
    tmp_path, monkeypatch
) -> None:
    import unmetneed.disclosure.audit as audit_module

    monkeypatch.setattr(audit_module, "EXACT_LIMIT", 0)
    path, frame, out, _ = protected_long(tmp_path)
    assert audit(gather([path])).ok
    doctored = out.copy()
    doctored.loc[[1, 6], "count"] = frame.loc[[1, 6], "count"].to_numpy()
    write_table(doctored, path, read_meta(path))
    result = audit(gather([path]))
    assert not result.ok
    narrow = result.cells[~result.cells["ok"]]
    assert narrow[["low", "high"]].to_numpy().tolist() == [[1, 1], [2, 2]]


def test_audit_fails_a_percentage_left_beside_a_suppressed_count(tmp_path) -> None:
    path, frame, out, cells = protected_long(tmp_path)
    meta = read_meta(path)
    meta["disclosure"]["derived"] = {"": ["pct"]}
    leaked = out.assign(pct=100 * frame["count"] / 59)  # 100 x 1 / 59 gives the 1 away
    write_table(leaked, path, meta)
    found = audit(gather([path]))
    assert not found.ok
    assert "column 'pct' is shown on 4 row(s) that lost a count (first: row 1)" in " ".join(
        found.problems
    )


def test_audit_reports_a_hidden_group_that_shows_zeros_in_all_but_one_category(tmp_path) -> None:
    # a compare-like block: group size 2 hidden, male hidden, female/other/not_stated 0 shown
    frame = pd.DataFrame(
        {"category": ["male", "female", "other", "not_stated"], "count": [2, 0, 0, 0]}
    ).assign(denominator=2)
    cells = Cells([2, 2, 0, 0, 0])
    cells.add_relation(0, [1, 2, 3, 4])
    cells.place("denominator", np.zeros(4, dtype=np.int64), np.arange(4))
    cells.place("count", np.arange(1, 5), np.arange(4))
    hidden = np.array([True, True, False, False, False])
    none = np.zeros(5, bool)
    protection = Protection(Policy.named(k=3), hidden, none, np.where(hidden, np.nan, 0.0))
    shown = protection.apply(frame, cells)
    meta = {"disclosure": {**protection.meta(cells), "blocks": True}}
    path = write_table(shown, tmp_path / "t.parquet", meta)
    found = audit(gather([path]))
    assert any("group disclosure" in p for p in found.problems)


@pytest.mark.parametrize(
    "damage",
    [
        {"relations": [[0, [99]]]},
        {"placements": [{"column": "count"}]},
        {"n_cells": "x"},
        {"policy": None},
        {"defs": [["p", "not a dict"]]},
        {"defs": [None]},
        {"relations": []},  # edited: the structure no longer matches its fingerprint
    ],
)
def test_audit_of_malformed_metadata_is_an_input_error(tmp_path, damage) -> None:
    import json

    path, *_ = protected_long(tmp_path, "t.csv")
    sidecar = tmp_path / "t.csv.meta.json"
    meta = json.loads(sidecar.read_text())
    meta["disclosure"].update(damage)
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="metadata"):
        gather([path])


def test_a_cell_shown_because_it_was_pinned_is_hidden_again_when_a_primary_needs_it() -> None:
    # 27 = 2 + 10 + 15 with the 27, the 10 and the 15 locked (shown in an earlier round
    # because the attacker had pinned them): the 2 has no deviation, 27 - 10 - 15 gives it.
    from unmetneed.disclosure.secondary import State, repair
    from unmetneed.errors import DisclosureError

    cells = Cells([27, 2, 10, 15])
    cells.add_relation(0, [1, 2, 3])
    policy = Policy.named(k=3)
    values = np.asarray(cells.values)
    published = np.ones(4, dtype=bool)
    hidden = np.array([False, True, False, False])
    locked = np.array([True, False, True, True])
    strict = State.of(cells.matrix(), values, published, policy, None, locked)
    looser = State.of(cells.matrix(), values, published, policy, None, np.zeros(4, dtype=bool))
    with pytest.raises(DisclosureError):
        repair(strict, hidden, np.array([1]), np.array([2.0]))
    after = repair(strict, hidden, np.array([1]), np.array([2.0]), looser=looser)
    # the cheapest move is 3 people between the 2 and the 10 (the smaller count)
    assert after.tolist() == [False, True, True, False]
    shown = np.where(after, np.nan, values.astype(float))
    # attacker: x1 + x2 = 12 with both >= 1, so x1 in [1, 11]
    assert simple_attacker(cells.relations, shown, 1)[1] == (1, 11)
