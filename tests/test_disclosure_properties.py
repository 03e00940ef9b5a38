"""Laws of ``protect`` on random tables with totals (hypothesis, kept small to stay fast).

1. No shown count is small (1..k, or 0..k when zeros are disclosive).
2. An attacker who knows every shown value, every relation and that suppressed counts are
   at least 1 (when zeros are shown) cannot narrow any primary below the width. The attacker
   here is written independently of the library: one dense ``scipy.optimize.linprog`` per
   bound over every cell.
3. Protect does not mutate its input and gives the same pattern twice.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linprog

from unmetneed.disclosure import Cells, Policy, protect
from unmetneed.disclosure.tables import cube

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def attacker_bounds(cells: Cells, shown: np.ndarray, policy: Policy) -> list[tuple]:
    """Per-cell bounds an attacker knows: exact, rounded +-2 (nhs), or suppressed >= floor."""
    bounds = []
    for v in shown.tolist():
        if np.isnan(v):
            bounds.append((policy.floor, None))
        elif policy.round_to:
            lo, hi = max(v - 2, 0), v + 2
            if lo <= policy.k and v > 0:  # a shown rounded count is not small
                lo = policy.k + 1
            if v == 0:
                hi = 0 if policy.k >= 2 else hi
            bounds.append((lo, hi))
        else:
            bounds.append((v, v))
    return bounds


def narrowest(cells: Cells, shown: np.ndarray, policy: Policy, targets: np.ndarray) -> float:
    """The smallest attacker width (max - min, integers) over ``targets``."""
    n = len(shown)
    a = np.zeros((len(cells.relations), n))
    for r, (total, parts) in enumerate(cells.relations):
        a[r, total] -= 1
        np.add.at(a[r], parts, 1)
    bounds = attacker_bounds(cells, shown, policy)
    best = np.inf
    for c in targets.tolist():
        cost = np.zeros(n)
        cost[c] = 1
        low = linprog(cost, A_eq=a, b_eq=np.zeros(len(a)), bounds=bounds, method="highs")
        high = linprog(-cost, A_eq=a, b_eq=np.zeros(len(a)), bounds=bounds, method="highs")
        assert low.status == 0, "the true table must be feasible for the attacker"
        top = np.inf if high.status == 3 else np.floor(-high.fun + 1e-6)
        best = min(best, top - np.ceil(low.fun - 1e-6))
    return best


tables_2d = arrays(
    np.int64,
    st.tuples(st.integers(2, 4), st.integers(2, 4)),
    elements=st.integers(0, 12),
)
tables_3d = arrays(
    np.int64,
    st.tuples(st.integers(2, 3), st.integers(2, 3), st.integers(2, 2)),
    elements=st.integers(0, 9),
)
policies = st.sampled_from(
    [Policy.named(k=3), Policy.named("lt5"), Policy.named(k=3, zeros=True), Policy.named("nhs")]
)


def check(inner: np.ndarray, policy: Policy) -> None:
    cells, _ = cube(inner)
    before = cells.values.copy()
    result = protect(cells, policy)
    shown = result.shown[~np.isnan(result.shown)]
    if policy.round_to:
        assert not (shown % policy.round_to).any()
    small = (cells.values >= policy.floor) & (cells.values <= policy.k)
    assert not (small & ~np.isnan(result.shown)).any(), "a small count is shown"
    primaries = np.flatnonzero(result.primary)
    if len(primaries):
        assert narrowest(cells, result.shown, policy, primaries) >= policy.protection_width
    assert cells.values.tolist() == before.tolist()
    again = protect(cells, policy)
    assert again.suppressed.tolist() == result.suppressed.tolist()


@SETTINGS
@given(tables_2d, policies)
def test_two_way_tables_with_margins(inner: np.ndarray, policy: Policy) -> None:
    check(inner, policy)


@SETTINGS
@given(tables_3d, st.sampled_from([Policy.named(k=3), Policy.named(k=3, zeros=True)]))
def test_three_way_tables_with_margins(inner: np.ndarray, policy: Policy) -> None:
    check(inner, policy)


@SETTINGS
@given(st.lists(st.integers(0, 15), min_size=2, max_size=6), st.integers(1, 5))
def test_one_row_with_a_total_and_any_threshold(parts: list[int], k: int) -> None:
    cells = Cells([sum(parts), *parts])
    cells.add_relation(0, list(range(1, len(parts) + 1)))
    policy = Policy.named(k=k)
    result = protect(cells, policy)
    primaries = np.flatnonzero(result.primary)
    if len(primaries):
        assert narrowest(cells, result.shown, policy, primaries) >= k
