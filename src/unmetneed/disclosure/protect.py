"""``protect``: primary and secondary suppression of a table's cells."""

from __future__ import annotations

import numpy as np

from unmetneed.disclosure.model import Cells, Policy, Protection


def _round(values: np.ndarray, base: int) -> np.ndarray:
    """Counts rounded to the nearest ``base`` (halves up), as NHS Digital publishes them."""
    return (np.floor(values / base + 0.5) * base).astype(np.float64)


def protect(cells: Cells, policy: Policy) -> Protection:
    """Suppress every cell the policy calls small, then enough others to protect them.

    Primary: counts in 1..k (0..k when zeros are disclosive). Secondary: complementary
    cells so no primary can be worked out from the table's relations (see
    ``unmetneed.disclosure.secondary``).
    """
    primary = policy.primary(cells.values)
    secondary = np.zeros_like(primary)
    if not policy.off and cells.relations:
        from unmetneed.disclosure.secondary import complement

        secondary = complement(cells, primary, policy)
    suppressed = primary | secondary
    shown = cells.values.astype(np.float64)
    if policy.round_to:
        shown = _round(cells.values, policy.round_to)
    shown[suppressed] = np.nan
    return Protection(policy, primary, secondary & ~primary, shown)
