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
    if protection.policy.off:
        return [OFF_REMARK]
    if not protection.suppressed.any():
        return []
    return [suppression_remark(protection.policy)]


def suppression_remark(policy: Policy, together: str = "") -> str:
    """What a reader may know about suppression: the rule, never how many cells are small.

    A count of small (primary) cells would let an attacker pin them (contract 4.3), so the
    remark states the rule only. ``together``: the tables protected with this one.

    >>> suppression_remark(Policy.named(k=3))[:45]
    'Counts of 1..3 are suppressed (k3), and other'
    """
    small = f"0..{policy.k}" if policy.zeros_disclosive else f"1..{policy.k}"
    text = (
        f"Counts of {small} are suppressed ({policy.name}), and other counts where needed, so "
        f"that no suppressed count can be worked out to within {policy.protection_width} "
        "people from the totals"
    )
    text += f" or from the tables published with it ({together})." if together else "."
    if not policy.zeros_disclosive:
        text += (
            " Where a group's size is suppressed, its zero counts are suppressed too (so a "
            "suppressed count may be 0)."
        )
    if policy.round_to:
        text += f" Other counts are rounded to the nearest {policy.round_to}."
    return text
