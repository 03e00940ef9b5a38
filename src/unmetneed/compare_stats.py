"""Statistics of the compare table: Wilson and Newcombe intervals, and tests between cohorts.

Every function here works on counts of people and returns percentages (0-100) or
percentage points; intervals are 95% and uncorrected (no continuity correction), as
PHEindicatormethods computes them. The formulae are statsmodels' and scipy's, not ours.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import gammaln
from scipy.stats.contingency import expected_freq
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

ALPHA = 0.05
MIN_EXPECTED = 5.0
RESAMPLES = 2000  # as R's fisher.test(simulate.p.value = TRUE)
SEED = 2025
TEST_NAMES = ("chi2", "fisher_exact", "fisher_monte_carlo", "none")


def wilson(count: np.ndarray, nobs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percent ``100 * count / nobs`` with its 95% Wilson score interval (percent).

    ``count`` people of ``nobs`` (the denominator); all three results are NaN where
    ``nobs`` is 0.

    >>> pct, lower, upper = wilson(np.array([81]), np.array([263]))
    >>> [round(float(x), 2) for x in (pct[0], lower[0], upper[0])]
    [30.8, 25.53, 36.62]
    """
    count = np.asarray(count, dtype=np.float64)
    nobs = np.asarray(nobs, dtype=np.float64)
    pct, lower, upper = (np.full(count.shape, np.nan) for _ in range(3))
    ok = nobs > 0
    if ok.any():
        lo, hi = proportion_confint(count[ok], nobs[ok], alpha=ALPHA, method="wilson")
        pct[ok] = 100.0 * count[ok] / nobs[ok]
        lower[ok] = 100.0 * np.asarray(lo)
        upper[ok] = 100.0 * np.asarray(hi)
    return pct, lower, upper


def newcombe(
    count1: np.ndarray, nobs1: np.ndarray, count2: np.ndarray, nobs2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference ``p1 - p2`` in percentage points with Newcombe's hybrid score 95% interval.

    Newcombe (1998) method 10: Wilson intervals of each proportion combined; no
    continuity correction. NaN where either denominator is 0.

    >>> d, lo, hi = newcombe(np.array([56]), np.array([70]), np.array([48]), np.array([80]))
    >>> [round(float(x), 2) for x in (d[0], lo[0], hi[0])]
    [20.0, 5.24, 33.39]
    """
    c1, n1, c2, n2 = (np.asarray(a, dtype=np.float64) for a in (count1, nobs1, count2, nobs2))
    diff, lower, upper = (np.full(c1.shape, np.nan) for _ in range(3))
    ok = (n1 > 0) & (n2 > 0)
    if ok.any():
        lo, hi = confint_proportions_2indep(
            c1[ok], n1[ok], c2[ok], n2[ok], method="newcomb", compare="diff", alpha=ALPHA
        )
        diff[ok] = 100.0 * (c1[ok] / n1[ok] - c2[ok] / n2[ok])
        lower[ok] = 100.0 * np.asarray(lo)
        upper[ok] = 100.0 * np.asarray(hi)
    return diff, lower, upper


@dataclass(frozen=True)
class CohortTest:
    """A test of difference between cohorts' distributions over one variable's categories.

    ``test``: ``chi2`` (Pearson, no continuity correction), ``fisher_exact`` (2x2, two-sided),
    ``fisher_monte_carlo`` (r x c Fisher-Freeman-Halton statistic, Monte Carlo p-value) or
    ``none`` (fewer than two cohorts or categories with people). ``statistic`` and ``dof``
    are the chi-squared statistic and its degrees of freedom (NaN for the Fisher tests).
    """

    test: str
    statistic: float
    dof: float
    p_value: float


NO_TEST = CohortTest("none", np.nan, np.nan, np.nan)


def cohort_test(table: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED) -> CohortTest:
    """Chi-squared, or Fisher's exact when any expected count is below 5, for a cohorts x
    categories table of people.

    Rows (cohorts) and columns (categories) with no people are dropped first. The Monte
    Carlo p-value of a larger table uses ``resamples`` random tables with the observed
    margins from a generator seeded with ``seed``, so a rerun gives the same p-value: for
    two cohorts drawn at once (:func:`fisher_2xc_monte_carlo`), for more by
    ``scipy.stats.fisher_exact(method=MonteCarloMethod)``.

    >>> round(cohort_test(np.array([[8, 2], [1, 5]])).p_value, 4)
    0.035
    """
    t = np.asarray(table, dtype=np.int64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    if t.ndim != 2 or t.shape[0] < 2 or t.shape[1] < 2:
        return NO_TEST
    if (expected_freq(t) >= MIN_EXPECTED).all():
        res = stats.chi2_contingency(t, correction=False)
        return CohortTest("chi2", float(res.statistic), float(res.dof), float(res.pvalue))
    if t.shape == (2, 2):
        return CohortTest("fisher_exact", np.nan, np.nan, float(stats.fisher_exact(t).pvalue))
    if t.shape[0] == 2:
        p = fisher_2xc_monte_carlo(t, resamples=resamples, seed=seed)
        return CohortTest("fisher_monte_carlo", np.nan, np.nan, p)
    method = stats.MonteCarloMethod(n_resamples=resamples, rng=np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # scipy returns a 1-element array for some small tables
        p = float(np.asarray(stats.fisher_exact(t, method=method).pvalue).reshape(-1)[0])
    return CohortTest("fisher_monte_carlo", np.nan, np.nan, p)


def fisher_2xc_monte_carlo(
    table: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED
) -> float:
    """Monte Carlo p-value of the Fisher-Freeman-Halton test for a 2 x c table of people.

    The statistic is the table's probability given its margins (multivariate
    hypergeometric: the first row drawn from the column totals); the p-value is
    ``(1 + B) / (1 + resamples)`` where B random tables (all drawn in one call of
    ``numpy.random.Generator.multivariate_hypergeometric``) are no more probable than the
    observed one, the same definition as ``scipy.stats.fisher_exact(method=
    MonteCarloMethod(...))`` and R's ``fisher.test(simulate.p.value = TRUE)``.
    """
    t = np.asarray(table, dtype=np.int64)
    cols = t.sum(axis=0)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_hypergeometric(cols, int(t[0].sum()), size=resamples)

    def log_prob(first_row: np.ndarray) -> np.ndarray:
        # log of prod_j C(col_j, x_j), up to the constant -log C(N, row total)
        return np.asarray(-(gammaln(first_row + 1) + gammaln(cols - first_row + 1)).sum(axis=-1))

    observed = float(log_prob(t[0]))
    as_extreme = log_prob(draws) <= observed + 1e-7 * max(abs(observed), 1.0)
    return float((as_extreme.sum() + 1) / (resamples + 1))
