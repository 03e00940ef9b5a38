"""Secondary suppression: complementary cells chosen so primaries cannot be recovered.

This first version closes the plain arithmetic hole: in every relation where exactly one
cell is hidden, the smallest other non-zero cell of that relation is hidden too, repeated
until no relation has a lone hidden cell. The disclosure issue replaces it with the
LP-verified search.
"""

from __future__ import annotations

import numpy as np

from unmetneed.disclosure.model import Cells, Policy


def complement(cells: Cells, primary: np.ndarray, policy: Policy) -> np.ndarray:
    """Mask of the complementary cells (excluding the primaries) for ``cells``."""
    hidden = primary.copy()
    changed = True
    while changed:
        changed = False
        for total, parts in cells.relations:
            members = np.array([total, *parts])
            if hidden[members].sum() != 1:
                continue
            candidates = members[~hidden[members] & (cells.values[members] > 0)]
            if len(candidates) == 0:
                continue
            pick = candidates[np.argmin(cells.values[candidates])]
            hidden[pick] = True
            changed = True
    return hidden & ~primary
