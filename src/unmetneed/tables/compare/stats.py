"""Statistics of the compare table: Wilson and Newcombe intervals, and tests between cohorts.

Every function here works on counts of people and returns percentages (0-100) or
percentage points; intervals are 95% and uncorrected (no continuity correction), as
PHEindicatormethods computes them. The formulae are statsmodels' and scipy's, written out
in numpy so that importing this module costs only numpy: scipy.special is imported by the
functions that need it, and scipy.stats only for the rare r x c Monte Carlo test.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05
Z = 1.9599639845400545  # the 97.5% quantile of the standard normal: 95% two-sided intervals
MIN_EXPECTED = 5.0
RESAMPLES = 2000  # as R's fisher.test(simulate.p.value = TRUE)
SEED = 2025
RELATIVE_TIE = 1e-7  # a table this close to the observed probability is a tie (R's relErr)
TEST_NAMES = ("chi2", "fisher_exact", "fisher_monte_carlo", "none")

Tests = dict[str, np.ndarray]


# --- intervals ------------------------------------------------------------------------------


def wilson(count: np.ndarray, nobs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percent ``100 * count / nobs`` with its 95% Wilson score interval (percent).

    ``count`` people of ``nobs`` (the denominator); all three results are NaN where
    ``nobs`` is 0.

    >>> pct, lower, upper = wilson(np.array([81]), np.array([263]))
    >>> [round(float(x), 2) for x in (pct[0], lower[0], upper[0])]
    [30.8, 25.53, 36.62]
    """
    nobs = np.asarray(nobs, dtype=np.float64)
    limits = _wilson_limits(np.asarray(count, dtype=np.float64), nobs)
    return _percent_where(nobs > 0, limits)


def newcombe(
    count1: np.ndarray, nobs1: np.ndarray, count2: np.ndarray, nobs2: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference ``p1 - p2`` in percentage points with Newcombe's hybrid score 95% interval.

    Newcombe (1998) method 10: Wilson intervals of each proportion combined; no
    continuity correction. NaN where either denominator (people) is 0.

    >>> d, lo, hi = newcombe(np.array([56]), np.array([70]), np.array([48]), np.array([80]))
    >>> [round(float(x), 2) for x in (d[0], lo[0], hi[0])]
    [20.0, 5.24, 33.39]
    """
    c1, n1, c2, n2 = (np.asarray(a, dtype=np.float64) for a in (count1, nobs1, count2, nobs2))
    p1, l1, u1 = _wilson_limits(c1, n1)
    p2, l2, u2 = _wilson_limits(c2, n2)
    diff = p1 - p2
    lower = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return _percent_where((n1 > 0) & (n2 > 0), (diff, lower, upper))


def _wilson_limits(
    count: np.ndarray, nobs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proportion (0-1) and its Wilson score limits, clipped to [0, 1] as statsmodels does;
    meaningless where ``nobs`` is 0."""
    z2 = Z**2
    with np.errstate(divide="ignore", invalid="ignore"):
        p = count / nobs
        shrink = 1 + z2 / nobs
        centre = (p + z2 / (2 * nobs)) / shrink
        half = Z * np.sqrt(p * (1.0 - p) / nobs + z2 / (4.0 * nobs**2)) / shrink
    return p, np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def _percent_where(
    ok: np.ndarray, values: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Proportions as percent (or differences as percentage points) where ``ok``, else NaN."""
    pct, lower, upper = (np.where(ok, 100.0 * v, np.nan) for v in values)
    return pct, lower, upper


# --- one table ------------------------------------------------------------------------------


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
    if t.ndim != 2:
        return NO_TEST
    res = _test_tables(t[None], resamples, seed)
    return CohortTest(
        str(res["test"][0]),
        float(res["statistic"][0]),
        float(res["dof"][0]),
        float(res["p_value"][0]),
    )


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
    return float(_monte_carlo_2xc(t[None], resamples, seed)[0])


# --- many blocks ----------------------------------------------------------------------------


def block_tests(
    count: np.ndarray,
    block: np.ndarray,
    cohort: np.ndarray,
    hidden: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Tests:
    """One :func:`cohort_test` per block of a table's rows, repeated on the block's rows.

    ``count`` is people per row; rows of a ``block`` are contiguous and ordered by
    ``cohort`` then category, so each block's cohorts x categories table is a reshape of
    its counts. A block with fewer than two cohorts reads ``none``; one with a ``hidden``
    row (a suppressed count or denominator) is not tested and reads ``suppressed``.
    Returns the columns ``test``, ``statistic``, ``dof`` and ``p_value`` (NaN where
    untested), each as long as ``count``. Blocks of one shape are tested together, and
    each Monte Carlo block has its own generator seeded with ``seed``, so every p-value
    equals its block's :func:`cohort_test`.
    """
    count = np.asarray(count, dtype=np.int64)
    block, hidden = np.asarray(block), np.asarray(hidden, dtype=bool)
    if len(count) == 0:
        return _no_tests(0)
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    lengths = np.diff(np.r_[starts, len(count)])
    cohorts = _cohorts_per_block(np.asarray(cohort), starts)
    out = _no_tests(len(starts))
    compared = cohorts >= 2
    suppressed = compared & np.logical_or.reduceat(hidden, starts)
    out["test"][suppressed] = "suppressed"
    tested = compared & ~suppressed
    categories = lengths // cohorts
    if (cohorts[tested] * categories[tested] != lengths[tested]).any():
        raise ValueError("each block needs the same categories for every cohort")
    for r, c in np.unique(np.column_stack([cohorts, categories])[tested], axis=0):
        which = np.flatnonzero(tested & (cohorts == r) & (categories == c))
        tables = count[starts[which, None] + np.arange(r * c)].reshape(-1, r, c)
        _fill(out, which, _test_tables(tables, resamples, seed))
    row_block = np.repeat(np.arange(len(starts)), lengths)
    return {name: values[row_block] for name, values in out.items()}


def _cohorts_per_block(cohort: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Number of cohorts in each block: 1 + the cohort changes inside it (rows are in
    cohort order within a block)."""
    change = np.r_[False, cohort[1:] != cohort[:-1]]
    change[starts] = False
    return 1 + np.add.reduceat(change.astype(np.int64), starts)


def _no_tests(n: int) -> Tests:
    """``n`` untested results: test ``none`` and NaN statistic, dof and p-value."""
    test = np.full(n, "none", dtype=object)
    return {
        "test": test,
        "statistic": np.full(n, np.nan),
        "dof": np.full(n, np.nan),
        "p_value": np.full(n, np.nan),
    }


def _fill(out: Tests, where: np.ndarray, part: Tests) -> None:
    """Write ``part``'s results into ``out`` at ``where`` (indices or a mask)."""
    for name, values in part.items():
        out[name][where] = values


# --- tables of one shape --------------------------------------------------------------------


def _test_tables(tables: np.ndarray, resamples: int, seed: int) -> Tests:
    """:func:`cohort_test` of each of ``tables`` (k x cohorts x categories, people), grouped
    by their shape once empty rows and columns are dropped."""
    rows_kept = tables.sum(axis=2) > 0
    cols_kept = tables.sum(axis=1) > 0
    r_kept, c_kept = rows_kept.sum(axis=1), cols_kept.sum(axis=1)
    out = _no_tests(len(tables))
    for r, c in np.unique(np.column_stack([r_kept, c_kept]), axis=0):
        if r < 2 or c < 2:
            continue
        which = np.flatnonzero((r_kept == r) & (c_kept == c))
        kept = _drop_empty(tables[which], rows_kept[which], cols_kept[which], r, c)
        _fill(out, which, _test_kept(kept, resamples, seed))
    return out


def _drop_empty(
    tables: np.ndarray, rows_kept: np.ndarray, cols_kept: np.ndarray, r: int, c: int
) -> np.ndarray:
    """``tables`` without their empty rows and columns; every table keeps ``r`` rows and
    ``c`` columns, in their order."""
    row_order = np.argsort(~rows_kept, axis=1, kind="stable")[:, :r]
    col_order = np.argsort(~cols_kept, axis=1, kind="stable")[:, :c]
    kept = np.take_along_axis(tables, row_order[:, :, None], axis=1)
    return np.take_along_axis(kept, col_order[:, None, :], axis=2)


def _test_kept(tables: np.ndarray, resamples: int, seed: int) -> Tests:
    """Tests of r x c ``tables`` (r, c >= 2) with people in every row and column:
    chi-squared where every expected count is at least 5, else the Fisher test."""
    expected = _expected(tables)
    chi2 = np.asarray((expected >= MIN_EXPECTED).all(axis=(1, 2)))
    out = _no_tests(len(tables))
    if chi2.any():
        _fill(out, chi2, _chi2(tables[chi2], expected[chi2]))
    if not chi2.all():
        _fill(out, ~chi2, _fisher(tables[~chi2], resamples, seed))
    return out


def _fisher(tables: np.ndarray, resamples: int, seed: int) -> Tests:
    """Fisher tests of r x c ``tables`` (people): exact for 2x2, else Monte Carlo."""
    k, r, c = tables.shape
    if (r, c) == (2, 2):
        test, p_value = "fisher_exact", _fisher_2x2(tables)
    elif r == 2:
        test, p_value = "fisher_monte_carlo", _monte_carlo_2xc(tables, resamples, seed)
    else:
        test, p_value = "fisher_monte_carlo", _monte_carlo_rxc(tables, resamples, seed)
    out = _no_tests(k)
    out["test"][:] = test
    out["p_value"][:] = p_value
    return out


def _expected(tables: np.ndarray) -> np.ndarray:
    """Expected people per cell under independence, as ``scipy.stats.contingency.expected_freq``."""
    rows = tables.sum(axis=2, dtype=np.float64)
    cols = tables.sum(axis=1, dtype=np.float64)
    total = rows.sum(axis=1)
    result: np.ndarray = rows[:, :, None] * cols[:, None, :] / total[:, None, None]
    return result


def _chi2(tables: np.ndarray, expected: np.ndarray) -> Tests:
    """Pearson's chi-squared test without continuity correction, as
    ``scipy.stats.chi2_contingency(correction=False)``."""
    from scipy.special import chdtrc

    k, r, c = tables.shape
    statistic = ((tables - expected) ** 2 / expected).sum(axis=(1, 2))
    dof = np.full(k, float((r - 1) * (c - 1)))
    test = np.full(k, "chi2", dtype=object)
    return {"test": test, "statistic": statistic, "dof": dof, "p_value": chdtrc(dof, statistic)}


def _fisher_2x2(tables: np.ndarray) -> np.ndarray:
    """Two-sided Fisher exact p-values of 2x2 ``tables`` (people, no empty row or column).

    As ``scipy.stats.fisher_exact``: the hypergeometric probability of every table with the
    observed margins no more probable than the observed one, summed. Each table's support
    is padded to the longest in the batch. A table within a relative ``RELATIVE_TIE`` of
    the observed probability is a tie, as in R's ``fisher.test``: scipy's 1e-14 is finer
    than log-factorial arithmetic resolves, and exact ties are what either means to catch.
    """
    first = tables[:, 0, 0]
    row1, row2 = tables[:, 0].sum(axis=1), tables[:, 1].sum(axis=1)
    col1 = tables[:, :, 0].sum(axis=1)
    low, high = np.maximum(0, col1 - row2), np.minimum(col1, row1)
    x = low[:, None] + np.arange((high - low).max() + 1)
    in_support = x <= high[:, None]
    x = np.minimum(x, high[:, None])
    log_factorial = _log_factorials(int((row1 + row2).max()))

    def log_pmf(a: np.ndarray) -> np.ndarray:
        # log P(first cell = a) up to the table's constant log_norm
        lf, r1, r2, c1 = log_factorial, row1[:, None], row2[:, None], col1[:, None]
        result: np.ndarray = -(lf[a] + lf[r1 - a] + lf[c1 - a] + lf[r2 - c1 + a])
        return result

    log_norm = (
        log_factorial[row1 + row2]
        - log_factorial[col1]
        - log_factorial[row1 + row2 - col1]
        - log_factorial[row1]
        - log_factorial[row2]
    )
    logp = log_pmf(x)
    as_extreme = in_support & (logp <= log_pmf(first[:, None]) + np.log1p(RELATIVE_TIE))
    p = np.where(as_extreme, np.exp(logp - log_norm[:, None]), 0.0).sum(axis=1)
    result: np.ndarray = np.minimum(p, 1.0)
    return result


def _monte_carlo_2xc(tables: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """:func:`fisher_2xc_monte_carlo` of each of 2 x c ``tables`` (people).

    Each table gets its own generator seeded with ``seed``, so its random tables, and
    p-value, are those of the table tested alone; tables with the same margins share
    their draws. The draws (numpy's sampler, which releases the GIL) run on a thread per
    CPU, and their log-probabilities are looked up in a table of log-factorials.
    """
    cols = tables.sum(axis=1)
    first = tables[:, 0]
    margins, which = np.unique(
        np.column_stack([cols, first.sum(axis=1)]), axis=0, return_inverse=True
    )
    which = which.reshape(-1)
    log_factorial = _log_factorials(int(cols.sum(axis=1).max()))
    observed = _log_prob_2xc(first, cols, log_factorial)
    threshold = observed + 1e-7 * np.maximum(np.abs(observed), 1.0)
    order = np.argsort(which, kind="stable")
    thresholds = np.split(threshold[order], np.cumsum(np.bincount(which))[:-1])

    def as_extreme(margin: np.ndarray, limits: np.ndarray) -> np.ndarray:
        first_rows = _draws(margin[:-1], int(margin[-1]), resamples, seed)
        drawn = _log_prob_2xc(first_rows, margin[:-1], log_factorial)
        return np.asarray((drawn[:, None] <= limits).sum(axis=0))

    count = np.empty(len(tables), dtype=np.int64)
    count[order] = np.concatenate(_thread_map(as_extreme, list(margins), thresholds))
    return (count + 1) / (resamples + 1)


def _log_prob_2xc(first_row: np.ndarray, cols: np.ndarray, log_factorial: np.ndarray) -> np.ndarray:
    """Log-probability of 2 x c tables given their margins (column totals ``cols``), up to
    the constant ``-log C(N, first row total)``: ``log prod_j C(col_j, x_j)``."""
    result: np.ndarray = -(log_factorial[first_row] + log_factorial[cols - first_row]).sum(axis=-1)
    return result


def _draws(cols: np.ndarray, row_total: int, resamples: int, seed: int) -> np.ndarray:
    """``resamples`` first rows of random 2 x c tables with column totals ``cols`` and first
    row total ``row_total`` (people), from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.multivariate_hypergeometric(cols, row_total, size=resamples)


def _thread_map(
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray], *args: list[np.ndarray]
) -> list[np.ndarray]:
    """``fn`` over ``args``, in order, on a thread per CPU when there is more than one call."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if len(args[0]) < 2 or (cpus or 1) < 2:
        return list(map(fn, *args))
    with ThreadPoolExecutor(max_workers=cpus) as pool:
        return list(pool.map(fn, *args))


def _monte_carlo_rxc(tables: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Monte Carlo Fisher p-values of r x c ``tables`` (r > 2, people), one
    ``scipy.stats.fisher_exact(method=MonteCarloMethod)`` each (rare in practice)."""
    from scipy import stats

    def p_value(table: np.ndarray) -> float:
        method = stats.MonteCarloMethod(n_resamples=resamples, rng=np.random.default_rng(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            # scipy returns a 1-element array for some small tables
            p = stats.fisher_exact(table, method=method).pvalue
        return float(np.asarray(p).reshape(-1)[0])

    return np.array([p_value(t) for t in tables], dtype=np.float64)


def _log_factorials(n: int) -> np.ndarray:
    """``log(i!)`` for i = 0..n, by ``gammaln`` (the same values it gives table by table)."""
    from scipy.special import gammaln

    return np.asarray(gammaln(np.arange(n + 1) + 1.0))
