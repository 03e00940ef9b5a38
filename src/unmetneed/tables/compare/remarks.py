"""The numbered caveats printed under a comparison table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from unmetneed.disclosure import Protection
from unmetneed.inputs.variables import AgeBands, Coded
from unmetneed.tables.compare.groups import Groups
from unmetneed.tables.compare.options import SMALL_DENOMINATOR, CompareOptions


def _remarks(
    table: pd.DataFrame,
    groups: Groups,
    labels: tuple[str, ...],
    options: CompareOptions,
    bands: AgeBands | None,
    protection: Protection,
    coded: Sequence[Coded],
) -> tuple[str, ...]:
    """Numbered caveats: suppression, small denominators, tests not done, conventions."""
    out: list[str] = list(protection.remarks) or _suppression_remarks(options, protection)
    if options.within and not protection.policy.off and not options.zeros_disclosive:
        out.append(
            "Every cohort is listed in every within-group that has people: a cohort's group "
            "with nobody in it shows 0, and is suppressed where that cohort's people across "
            "one within column are few, so a suppressed denominator may be 0."
        )
    if not protection.policy.off and not options.zeros_disclosive:
        # a count hidden as a zero of a hidden group in another table is hidden here too
        out.append("A suppressed count may be 0.")
    if protection.suppressed.any():
        out.append(
            "Suppressed counts are * in the terminal and blank in files; the percentages, "
            "intervals, differences and tests that use them are blank too."
        )
    people = np.bincount(groups.cohort, weights=groups.size, minlength=len(labels))
    for label, n in zip(labels, people, strict=True):
        if n == 0:
            out.append(f"Cohort {label} has no rows: it is not in the table.")
    small = _small_shown_groups(table)
    if small:
        out.append(
            f"{small} cohort group(s) have fewer than {SMALL_DENOMINATOR} people: their "
            "percentages are imprecise (see the 95% intervals)."
        )
    tests = {str(t) for t in pd.unique(table["test"].to_numpy(dtype=object))}
    if "none" in tests:
        out.append(
            "No test where only one cohort or only one category has people in the group "
            "(test = none)."
        )
    if "fisher_exact" in tests or "fisher_monte_carlo" in tests:
        out.append(
            "Where an expected count is below 5 the chi-squared test is not valid: Fisher's "
            "exact test is used instead (fisher_exact for 2x2; fisher_monte_carlo for larger "
            f"tables, a Monte Carlo p-value from {options.resamples:,} random tables, seeded "
            "so a rerun gives the same value)."
        )
    if options.exclude_not_stated:
        out.append("Not stated values are left out: denominators count people with a stated value.")
    else:
        with_ns = [c.name for c in coded if c.not_stated is not None]
        if with_ns:
            out.append(
                "not_stated is a category of its own and denominators count every person in "
                "the group (NDTMS convention), so stated categories may not add up to 100%."
            )
    if bands is not None:
        out.extend(bands.remarks)
    return tuple(out)


def _small_shown_groups(table: pd.DataFrame) -> int:
    """Cohort groups whose shown size is under ``SMALL_DENOMINATOR`` (a suppressed size is
    not counted: saying it is small would give it away)."""
    keys = list(table.columns[: table.columns.get_loc("variable")])
    denominator = pd.to_numeric(table["denominator"], errors="coerce")
    small = table.loc[(denominator > 0) & (denominator < SMALL_DENOMINATOR), keys]
    return len(small.drop_duplicates())


def _suppression_remarks(options: CompareOptions, protection: Protection) -> list[str]:
    """What suppression did, when ``protect`` gave no remark of its own."""
    if options.k <= 0:
        return [
            "Suppression is OFF (--k 0): small counts are shown; publish only counts you "
            "are allowed to publish as they are."
        ]
    if not protection.suppressed.any():
        return []
    from unmetneed.disclosure.protect import suppression_remark

    return [suppression_remark(protection.policy)]
