"""Lean protection: what hiding a cell costs the reader.

Complements are chosen by a min-cost deviation LP (:mod:`secondary`). Its cost per person
moved in a shown cell is what hiding that cell loses, spread over the protection width it
moves: ``weight * (count + 1) / width``, so a cycle of cells moved by the width costs the
people it hides. A margin (a total, a denominator, a group size, an area total: the counts
readers need most) weighs :data:`MARGIN` times more, so it is hidden only where no set of
inner cells protects the small counts at a cost a thousand times lower.
"""

from __future__ import annotations

import numpy as np

from unmetneed.disclosure.model import Cells

MARGIN = 1000.0  # a margin (total, denominator, group size) costs this many inner cells


def margins(cells: Cells, published: np.ndarray) -> np.ndarray:
    """Mask of the published cells that total other published cells (a table's margins,
    denominators, group sizes and area totals): the counts readers need most.

    >>> c = Cells(np.array([3, 1, 2]))
    >>> c.add_relation(0, [1, 2])
    >>> margins(c, np.ones(3, bool)).tolist()
    [True, False, False]
    """
    out = np.zeros(len(cells.values), dtype=bool)
    if not cells.relations:
        return out
    totals = np.fromiter((t for t, _ in cells.relations), np.int64, len(cells.relations))
    sizes = np.fromiter((len(p) for _, p in cells.relations), np.int64, len(cells.relations))
    parts = np.concatenate([np.asarray(p, np.int64) for _, p in cells.relations])
    unpublished = np.add.reduceat((~published[parts]).astype(np.int64), np.cumsum(sizes) - sizes)
    whole = published[totals] & (sizes > 0) & (unpublished == 0)
    out[totals[whole]] = True
    return out


def weights(cells: Cells, published: np.ndarray) -> np.ndarray:
    """Each cell's cost weight per person hidden: 1, or :data:`MARGIN` for a margin."""
    return np.where(margins(cells, published), MARGIN, 1.0)
