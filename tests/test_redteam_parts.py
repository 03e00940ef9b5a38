"""Red team on part-by-part protection (commits 400e43c..d9c3730).

What the attacker certifies part by part, and what the complement search claims it proved
part by part, is checked against exact intervals over the whole table (scipy's linprog,
apart from ``disclosure/``) on cubes of areas with every margin (national margins in every
part), parts cut as the release cuts them and at random, with no table known to fit
(``fitting`` finds one), floors of 0 and 1 and the nhs rounding. The scenarios of
``tests/redteam/scenarios.py`` not yet run with parts (``parts_cli.py``) are attacked by
the red team's own attacker.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from redteam import scenarios as sc
from unmetneed.disclosure import Policy, attacker, secondary

PARTS_CLI = Path(__file__).parent / "redteam" / "parts_cli.py"


def cube(inner: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """An area x A x B cube with every margin: ``matrix @ x == 0`` (a margin cell minus the
    cells it sums over one collapsed dimension), the true cells and each cell's part (two
    areas a part; -1 for a cell summed over the areas: national)."""
    dims = inner.shape
    keys: list[tuple[int | None, ...]] = []
    for kept in itertools.product((True, False), repeat=3):
        ranges = [range(d) if k else [None] for d, k in zip(dims, kept, strict=True)]
        keys += list(itertools.product(*ranges))
    index = {k: i for i, k in enumerate(keys)}

    def value(key: tuple[int | None, ...]) -> int:
        sel = tuple(slice(None) if k is None else k for k in key)
        return int(np.sum(inner[sel]))

    rows, cols, data = [], [], []
    r = 0
    for key in keys:
        for axis in range(3):
            if key[axis] is not None:
                continue
            # the margin = sum over ``axis`` of the cells one level finer
            rows.append(r)
            cols.append(index[key])
            data.append(-1.0)
            for v in range(dims[axis]):
                finer = key[:axis] + (v,) + key[axis + 1 :]
                rows.append(r)
                cols.append(index[finer])
                data.append(1.0)
            r += 1
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=(r, len(keys)))
    values = np.array([value(k) for k in keys], dtype=np.float64)
    part = np.array([-1 if k[0] is None else k[0] // 2 for k in keys], dtype=np.int64)
    return matrix, values, part


def exact(
    matrix: sparse.csr_matrix, lower: np.ndarray, upper: np.ndarray, cell: int
) -> tuple[float, float]:
    """The attacker's [min, max] of ``cell`` over the whole table (rounded inwards)."""
    cost = np.zeros(matrix.shape[1])
    cost[cell] = 1.0
    tops = [None if np.isinf(u) else float(u) for u in upper]
    bounds = list(zip(lower.tolist(), tops, strict=True))
    zero = np.zeros(matrix.shape[0])
    low = linprog(cost, A_eq=matrix, b_eq=zero, bounds=bounds, method="highs")
    high = linprog(-cost, A_eq=matrix, b_eq=zero, bounds=bounds, method="highs")
    assert low.status == 0 and high.status in (0, 3)
    top = np.inf if high.status == 3 else -high.fun
    return float(np.ceil(low.fun - 1e-6)), float(np.floor(top + 1e-6))


POLICIES = [Policy.named(k=3, zeros=True), Policy.named(k=3), Policy.named("nhs")]


def _world(seed: int) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(4, 7)), int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    inner = rng.integers(0, 9, size=shape) * (rng.random(shape) < 0.8)
    matrix, values, part = cube(inner)
    if seed % 2:  # parts at random (a certificate of any part must hold over the whole)
        part = np.where(part >= 0, rng.integers(0, 4, len(part)), part)
        part[rng.random(len(part)) < 0.1] = -1
    return matrix, values, part, rng


@pytest.mark.parametrize("seed", range(12))
def test_part_certificates_hold_over_the_whole_cube(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """narrow (certify by parts, then exact intervals) and can_be_zero with parts on, with
    and without the true table as the start (``fitting``), every policy: a cell said wide
    has an exact interval of the width, an interval given is the exact one, a cell said
    possibly 0 has an exact minimum of 0."""
    monkeypatch.setattr(attacker, "PARTS_FROM", 0)
    monkeypatch.setattr(attacker, "PART_MOST", 40)  # some levels stop: exact intervals
    matrix, values, part, rng = _world(seed)
    for policy, with_truth in itertools.product(POLICIES, (True, False)):
        width = policy.protection_width
        hidden = ((values >= 1) & (values <= policy.k)) | (rng.random(len(values)) < 0.3)
        shown = values.copy()
        if policy.round_to:
            shown = np.floor(values / policy.round_to + 0.5) * policy.round_to
        shown[hidden] = np.nan
        published = rng.random(len(values)) < 0.95
        floor = np.where((values == 0) | (rng.random(len(values)) < 0.5), 0.0, 1.0)
        point = values if with_truth else None
        know = attacker.knowledge(matrix, shown, published, policy, floor, point, part)
        know = attacker.fitting(know)
        targets = np.flatnonzero(hidden & published)
        if not len(targets):
            continue
        found = attacker.narrow(know, targets, width)
        zero = attacker.can_be_zero(know, targets)
        for i, cell in enumerate(targets.tolist()):
            low, high = exact(matrix, know.lower, know.upper, cell)
            assert low <= values[cell] <= high
            if found["ok"][i]:
                assert high - low >= width, (policy.name, with_truth, cell, low, high)
            if not np.isnan(found["low"][i]):
                assert (found["low"][i], found["high"][i]) == (low, high), (policy.name, cell)
            if zero[i]:
                assert low == 0, (policy.name, with_truth, cell, low)


@pytest.mark.parametrize("seed", range(20))
def test_what_part_deviations_prove_holds_over_the_whole_cube(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """repair_jointly part by part (parts of a level from one hidden set, a rival
    deviation or none): every small count it does not list as unproven, and every hidden
    cell it says it moved by the width, has an exact interval of the width under the
    hidden set it returns; so has every cell repair's ladder protects."""
    monkeypatch.setattr(secondary, "PARTS_FROM", 0)
    monkeypatch.setattr(attacker, "PARTS_FROM", 0)
    matrix, values, part, rng = _world(seed)
    policy = Policy.named(k=3)
    width = policy.protection_width
    published = np.ones(len(values), dtype=bool)
    state = secondary.State.of(matrix, values.astype(np.int64), published, policy, part=part)
    primary = policy.primary(values) & published
    if not primary.any():
        return
    hidden = secondary.heuristic(state, primary)
    cells = np.flatnonzero(primary)
    need = np.full(len(cells), float(width))
    rival = 3.0 if seed % 3 == 0 else 0.0
    out, unproven, wide = secondary.repair_jointly(state, hidden.copy(), cells, need, rival=rival)
    assert not (hidden & ~out).any()
    know = state.knowledge(out)
    claims = np.union1d(np.setdiff1d(cells, unproven), np.flatnonzero(wide & out))
    for cell in claims.tolist():
        low, high = exact(matrix, know.lower, know.upper, cell)
        assert high - low >= width, (cell, values[cell], low, high)
    # the ladder on whatever the attacker still narrows
    targets = np.flatnonzero(out)
    found = attacker.narrow(know, targets, width)
    failing = targets[~found["ok"]]
    if len(failing):
        after = secondary.repair(state, out.copy(), failing, found["low"][~found["ok"]])
        know = state.knowledge(after)
        for cell in failing.tolist():
            low, high = exact(matrix, know.lower, know.upper, cell)
            assert high - low >= width, ("ladder", cell, low, high)


def test_parts_on_two_threads_decide_as_on_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The part LPs side by side (in_parallel) certify what they certify one at a time."""
    monkeypatch.setattr(attacker, "PARTS_FROM", 0)
    matrix, values, part, rng = _world(3)
    policy = Policy.named(k=3)
    hidden = ((values >= 1) & (values <= 3)) | (rng.random(len(values)) < 0.4)
    shown = np.where(hidden, np.nan, values)
    floor = np.where(values == 0, 0.0, 1.0)  # a hidden zero may be 0
    published = np.ones(len(values), bool)
    know = attacker.knowledge(matrix, shown, published, policy, floor, values, part)
    targets = np.flatnonzero(hidden)
    results = []
    for workers in (1, 2, 4):
        monkeypatch.setattr(attacker, "WORKERS", workers)
        found = attacker.narrow(know, targets, 3)
        results.append((found["ok"].tolist(), attacker.can_be_zero(know, targets).tolist()))
    assert results[0] == results[1] == results[2]


def _separate_two(tmp: Path) -> sc.Outcome:
    return sc.separate_commands(tmp, periods=(sc.PREVIOUS, sc.PERIOD), name="two")


@pytest.mark.parametrize(
    "scenario",
    [sc.separate_commands, _separate_two, sc.exclude_not_stated, sc.nhs_policy],
    ids=["separate", "two-periods", "exclude-not-stated", "nhs"],
)
def test_scenarios_protected_part_by_part_resist_the_red_team(
    scenario: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The red team's scenarios 3-6 with parts of two areas from any size."""
    monkeypatch.setenv("REDTEAM_CLI", f"{sys.executable} {PARTS_CLI}")
    out = scenario(tmp_path)  # type: ignore[operator]
    report = out.attack(use_manifest=True)
    assert report.hidden
    assert not report.exact and not report.narrow, report.summary(15)
    assert not report.group_disclosures and not report.small_shown, report.summary(15)
