"""``protect``: primary and secondary suppression of a table's cells."""

from __future__ import annotations

import numpy as np

from unmetneed.disclosure.model import Cells, Policy, Protection

OFF_REMARK = (
    "Suppression was turned off (--k 0): small counts are published as they are. "
    "Only publish this table if every count may be shown."
)


def rounded(values: np.ndarray, base: int) -> np.ndarray:
    """Counts rounded to the nearest ``base`` (halves up), as NHS Digital publishes them.

    >>> rounded(np.array([7, 8, 12, 13]), 5).tolist()
    [5.0, 10.0, 10.0, 15.0]
    """
    return (np.floor(values / base + 0.5) * base).astype(np.float64)


def protect(cells: Cells, policy: Policy) -> Protection:
    """Suppress every cell the policy calls small, then enough others to protect them.

    Primary: counts in 1..k (0..k when zeros are disclosive). Secondary: complementary
    cells chosen so that an LP attacker who knows everything published cannot narrow any
    primary to an interval narrower than ``policy.protection_width`` people (see
    ``unmetneed.disclosure.secondary``). Under a rounding policy every shown count, totals
    included, is its own unrounded count rounded. Deterministic: same cells, same pattern.

    >>> cells = Cells([10, 2, 8])
    >>> cells.add_relation(0, [1, 2])
    >>> protect(cells, Policy.named(k=3)).suppressed.tolist()
    [False, True, True]
    """
    bad = cells.check_relations()
    if bad:
        raise ValueError(f"{len(bad)} relation(s) of the table do not add up (first: {bad[0]})")
    primary = policy.primary(cells.values)
    secondary = np.zeros_like(primary)
    if not policy.off and cells.relations:
        from unmetneed.disclosure.secondary import complement

        secondary = complement(cells, primary, policy)
    suppressed = primary | secondary
    shown = cells.values.astype(np.float64)
    if policy.round_to:
        shown = rounded(cells.values, policy.round_to)
    shown[suppressed] = np.nan
    protection = Protection(policy, primary, secondary & ~primary, shown)
    protection.remarks.extend(_remarks(protection))
    return protection


def _remarks(protection: Protection) -> list[str]:
    """The numbered-remark texts describing what suppression did."""
    policy = protection.policy
    if policy.off:
        return [OFF_REMARK]
    n_primary, n_secondary = int(protection.primary.sum()), int(protection.secondary.sum())
    if n_primary == 0:
        return []
    small = f"0..{policy.k}" if policy.zeros_disclosive else f"1..{policy.k}"
    text = (
        f"{n_primary} count(s) of {small} suppressed ({policy.name}), and {n_secondary} more "
        f"so that none can be worked out from the totals to within "
        f"{policy.protection_width} people."
    )
    if policy.round_to:
        text += f" Other counts are rounded to the nearest {policy.round_to}."
    return [text]
