"""The compare statistics written out in numpy, checked against published figures, against
statsmodels and scipy.stats (the libraries they replace), against the Monte Carlo test as it
was before the lookup table, and block_tests against one cohort_test per block."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from scipy.special import gammaln
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from unmetneed.tables.compare.stats import (
    MIN_EXPECTED,
    RESAMPLES,
    SEED,
    block_tests,
    cohort_test,
    fisher_2xc_monte_carlo,
    newcombe,
    wilson,
)

COLUMNS = ("test", "statistic", "dof", "p_value")


@st.composite
def counts_of(draw: st.DrawFn, max_nobs: int = 400) -> tuple[int, int]:
    """(count, nobs) people, often at the edges: count 0, count == nobs, nobs 0."""
    nobs = draw(st.one_of(st.integers(0, 3), st.integers(0, max_nobs)))
    count = draw(st.one_of(st.just(0), st.just(nobs), st.integers(0, nobs)))
    return count, nobs


def as_arrays(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    count, nobs = zip(*pairs, strict=True)
    return np.array(count), np.array(nobs)


def reference_2xc_monte_carlo(table: np.ndarray, resamples: int = RESAMPLES) -> float:
    """fisher_2xc_monte_carlo as it was before the log-factorial table: gammaln on every
    draw of one multivariate_hypergeometric call."""
    t = np.asarray(table, dtype=np.int64)
    cols = t.sum(axis=0)
    rng = np.random.default_rng(SEED)
    draws = rng.multivariate_hypergeometric(cols, int(t[0].sum()), size=resamples)

    def log_prob(first_row: np.ndarray) -> np.ndarray:
        return np.asarray(-(gammaln(first_row + 1) + gammaln(cols - first_row + 1)).sum(axis=-1))

    observed = float(log_prob(t[0]))
    as_extreme = log_prob(draws) <= observed + 1e-7 * max(abs(observed), 1.0)
    return float((as_extreme.sum() + 1) / (resamples + 1))


def loop_tests(
    count: np.ndarray, block: np.ndarray, cohort: np.ndarray, hidden: np.ndarray
) -> dict[str, np.ndarray]:
    """compare.py's per-block loop (before block_tests): one cohort_test per block."""
    n = len(count)
    out = {"test": np.full(n, "none", dtype=object)}
    out |= {name: np.full(n, np.nan) for name in COLUMNS[1:]}
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], n], strict=True):
        n_cohorts = len(pd.unique(cohort[s:e]))
        if n_cohorts < 2:
            continue
        if hidden[s:e].any():
            out["test"][s:e] = "suppressed"
            continue
        res = cohort_test(count[s:e].reshape(n_cohorts, -1))
        for name in COLUMNS:
            out[name][s:e] = getattr(res, name)
    return out


def random_blocks(
    seed: int, n_blocks: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``n_blocks`` blocks: 1-3 cohorts (in no particular name order), 1-6
    categories, counts from none to hundreds with empty cells, rows and columns, and a
    few hidden rows; block ids shuffled (contiguous, not sorted)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n_blocks) * 7
    parts: list[tuple[np.ndarray, ...]] = []
    for b in ids:
        k = int(rng.choice([1, 2, 2, 2, 2, 2, 3]))
        c = int(rng.integers(1, 7))
        table = rng.poisson(rng.uniform(0, rng.choice([2, 8, 30, 300]), size=(k, c)))
        table[rng.random((k, c)) < 0.1] = 0
        names = rng.permutation(np.array(["opiate", "alcohol", "crack"], dtype=object))[:k]
        hidden = rng.random(k * c) < 0.01
        parts.append((table.ravel(), np.full(k * c, b), np.repeat(names, c), hidden))
    count, block, cohort, hidden = (np.concatenate(p) for p in zip(*parts, strict=True))
    return count, block, cohort, hidden


def assert_same_tests(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert list(got["test"]) == list(want["test"])
    for name in COLUMNS[1:]:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-12)
    monte_carlo = want["test"] == "fisher_monte_carlo"
    assert (got["p_value"][monte_carlo] == want["p_value"][monte_carlo]).all()


# --- intervals -------------------------------------------------------------------------------


def test_wilson_published_81_of_263() -> None:
    # Newcombe (1998) Stat Med 17:857: 81/263 = 30.80%, Wilson score 25.53% to 36.62%.
    pct, lower, upper = wilson(np.array([81]), np.array([263]))
    assert [round(float(x), 2) for x in (pct[0], lower[0], upper[0])] == [30.8, 25.53, 36.62]


def test_newcombe_published_56_of_70_minus_48_of_80() -> None:
    # Newcombe (1998) Stat Med 17:873, Table II, method 10: 20.00 pp (5.24 to 33.39).
    d, lo, hi = newcombe(np.array([56]), np.array([70]), np.array([48]), np.array([80]))
    assert [round(float(x), 2) for x in (d[0], lo[0], hi[0])] == [20.0, 5.24, 33.39]


@settings(max_examples=200)
@given(st.lists(counts_of(), min_size=1, max_size=30))
def test_wilson_agrees_with_statsmodels(pairs: list[tuple[int, int]]) -> None:
    count, nobs = as_arrays(pairs)
    pct, lower, upper = wilson(count, nobs)
    ok = nobs > 0
    assert np.isnan(np.stack([pct, lower, upper])[:, ~ok]).all()
    if ok.any():
        lo, hi = proportion_confint(count[ok], nobs[ok], method="wilson")
        np.testing.assert_allclose(pct[ok] / 100, count[ok] / nobs[ok], rtol=0, atol=1e-12)
        np.testing.assert_allclose(lower[ok] / 100, lo, rtol=0, atol=1e-9)
        np.testing.assert_allclose(upper[ok] / 100, hi, rtol=0, atol=1e-9)


@settings(max_examples=200)
@given(st.lists(st.tuples(counts_of(), counts_of()), min_size=1, max_size=30))
def test_newcombe_agrees_with_statsmodels(
    pairs: list[tuple[tuple[int, int], tuple[int, int]]],
) -> None:
    c1, n1 = as_arrays([a for a, _ in pairs])
    c2, n2 = as_arrays([b for _, b in pairs])
    diff, lower, upper = newcombe(c1, n1, c2, n2)
    ok = (n1 > 0) & (n2 > 0)
    assert np.isnan(np.stack([diff, lower, upper])[:, ~ok]).all()
    if ok.any():
        lo, hi = confint_proportions_2indep(
            c1[ok], n1[ok], c2[ok], n2[ok], method="newcomb", compare="diff"
        )
        np.testing.assert_allclose(diff[ok] / 100, c1[ok] / n1[ok] - c2[ok] / n2[ok], atol=1e-12)
        np.testing.assert_allclose(lower[ok] / 100, lo, rtol=0, atol=1e-9)
        np.testing.assert_allclose(upper[ok] / 100, hi, rtol=0, atol=1e-9)


# --- tests of one table against scipy.stats --------------------------------------------------


def without_empty(table: np.ndarray) -> np.ndarray:
    return table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]


def scipy_test(table: np.ndarray) -> tuple[str, float, float, float]:
    """The test cohort_test should choose, computed by scipy.stats (Fisher r x c aside)."""
    t = without_empty(table)
    if t.shape[0] < 2 or t.shape[1] < 2:
        return "none", np.nan, np.nan, np.nan
    if (stats.contingency.expected_freq(t) >= MIN_EXPECTED).all():
        res = stats.chi2_contingency(t, correction=False)
        return "chi2", float(res.statistic), float(res.dof), float(res.pvalue)
    if t.shape == (2, 2):
        return "fisher_exact", np.nan, np.nan, float(stats.fisher_exact(t).pvalue)
    return "fisher_monte_carlo", np.nan, np.nan, np.nan


@settings(max_examples=300)
@given(arrays(np.int64, (2, 2), elements=st.one_of(st.integers(0, 12), st.integers(0, 400))))
def test_2x2_tables_match_scipy(table: np.ndarray) -> None:
    res = cohort_test(table)
    want = scipy_test(table)
    assert res.test == want[0]
    np.testing.assert_allclose(
        [res.statistic, res.dof, res.p_value], want[1:], rtol=1e-9, atol=1e-9
    )


@settings(max_examples=200)
@given(
    st.tuples(st.integers(2, 4), st.integers(2, 6)).flatmap(
        lambda shape: arrays(np.int64, shape, elements=st.integers(0, 300))
    )
)
def test_chi_squared_tables_match_scipy(table: np.ndarray) -> None:
    res = cohort_test(table)
    want = scipy_test(table)
    assert res.test == want[0]
    if res.test == "chi2":
        np.testing.assert_allclose([res.statistic, res.dof], want[1:3], rtol=1e-9)
        assert res.p_value == pytest.approx(want[3], rel=0, abs=1e-9)


@pytest.mark.parametrize(
    "table",
    [
        [[8, 2], [1, 5]],
        [[3, 1], [1, 3]],  # symmetric: the mirrored table is a tie
        [[3000, 0], [2990, 4]],
        [[400, 3], [200, 0]],
        [[1, 120], [9, 4000]],
        [[0, 7], [5, 0]],
    ],
)
def test_fisher_exact_matches_scipy_including_ties_and_large_margins(
    table: list[list[int]],
) -> None:
    res = cohort_test(np.array(table))
    assert res.test == "fisher_exact"
    assert res.p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 8).flatmap(lambda c: arrays(np.int64, (2, c), elements=st.integers(0, 60))))
def test_2xc_monte_carlo_is_the_same_as_before(table: np.ndarray) -> None:
    assert fisher_2xc_monte_carlo(table) == reference_2xc_monte_carlo(table)
    t = without_empty(table)
    if cohort_test(table).test == "fisher_monte_carlo":
        assert cohort_test(table).p_value == reference_2xc_monte_carlo(t)


# --- many blocks -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_block_tests_equal_one_cohort_test_per_block(seed: int) -> None:
    data = random_blocks(seed, 300)
    got = block_tests(*data)
    assert {"chi2", "fisher_exact", "fisher_monte_carlo", "none", "suppressed"} <= set(got["test"])
    assert_same_tests(got, loop_tests(*data))


def test_block_tests_by_hand() -> None:
    # block 4: two cohorts, chi2 worked by hand (expected 25 everywhere: 4 x 25 / 25 = 4 on
    # 1 df); block 9: one cohort; block 2: a hidden row; block 6: the second cohort empty.
    count = np.array([30, 20, 20, 30, 5, 7, 8, 2, 1, 5, 3, 4, 0, 0])
    block = np.array([4, 4, 4, 4, 9, 9, 2, 2, 2, 2, 6, 6, 6, 6])
    cohort = np.array(list("aabb") + list("aa") + list("aabb") + list("aabb"))
    hidden = np.zeros(len(count), dtype=bool)
    hidden[7] = True
    got = block_tests(count, block, cohort, hidden)
    assert list(got["test"]) == ["chi2"] * 4 + ["none"] * 2 + ["suppressed"] * 4 + ["none"] * 4
    assert got["statistic"][:4] == pytest.approx([4.0] * 4)
    assert (got["dof"][:4] == 1.0).all()
    assert np.isnan(got["p_value"][4:]).all()


def test_block_tests_of_no_rows() -> None:
    empty = np.zeros(0, dtype=np.int64)
    got = block_tests(empty, empty, empty.astype(object), empty.astype(bool))
    assert all(len(got[name]) == 0 for name in COLUMNS)


def test_a_blocks_p_value_does_not_depend_on_the_other_blocks() -> None:
    count, block, cohort, hidden = random_blocks(5, 120)
    first = block == block[0]
    alone = block_tests(count[first], block[first], cohort[first], hidden[first])
    together = block_tests(count, block, cohort, hidden)
    assert_same_tests({k: v[first] for k, v in together.items()}, alone)


def test_block_tests_leave_their_inputs_alone() -> None:
    data = random_blocks(3, 40)
    copies = [a.copy() for a in data]
    block_tests(*data)
    for before, after in zip(copies, data, strict=True):
        assert (before == after).all()


def test_importing_loads_neither_scipy_stats_nor_statsmodels() -> None:
    code = (
        "import sys, unmetneed.tables.compare.stats; "
        "print(sorted(m for m in sys.modules if m.startswith(('scipy', 'statsmodels'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
