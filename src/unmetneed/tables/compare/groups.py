"""Cohort x within-groups of the rows, and people counted per group x category."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from unmetneed.counting import count, groups_of, key_numbers
from unmetneed.inputs.variables import Coded


@dataclass(frozen=True)
class Groups:
    """The cohort x within-groups that have people, in within-major, cohort-minor order.

    ``of_row``: each input row's group. ``cohort``: each group's cohort code. ``within``:
    each group's code in every within column (groups x columns). ``block``: each group's
    within-group number (groups of the same within values share it). ``size``: people.
    """

    of_row: np.ndarray
    cohort: np.ndarray
    within: np.ndarray
    block: np.ndarray
    size: np.ndarray

    @property
    def n(self) -> int:
        """Number of groups."""
        return len(self.cohort)


def group_rows(
    cohort: np.ndarray,
    n_cohorts: int,
    within: Sequence[Coded],
    weights: np.ndarray | None = None,
) -> Groups:
    """Dense group numbers of the rows, from their cohort and within codes.

    The combinations that occur are found by ``counting.groups_of`` (one ``bincount``,
    or a sort when there are very many possible combinations). ``weights``: people per
    row (a collapsed frame or a counts file), else one each.
    """
    dims = (*(len(w.categories) for w in within), n_cohorts)
    flat = key_numbers((*(w.codes for w in within), cohort), dims)
    occupied, of_row = groups_of(flat, int(np.prod(dims, dtype=np.float64)))
    keys = np.unravel_index(occupied, dims)
    within_keys = np.column_stack(keys[:-1]) if within else np.zeros((len(occupied), 0), int)
    _, block = np.unique(occupied // n_cohorts, return_inverse=True)
    return Groups(
        of_row=of_row,
        cohort=np.asarray(keys[-1], dtype=np.int64),
        within=within_keys.astype(np.int64),
        block=block.astype(np.int64),
        size=count(of_row, len(occupied), weights),
    )


def count_by_group(
    groups: Groups, variable: Coded, weights: np.ndarray | None = None
) -> np.ndarray:
    """People per group x category (groups x categories), by one ``numpy.bincount``
    (``weights``: people per row, else one each)."""
    ncat = len(variable.categories)
    flat = groups.of_row * ncat + variable.codes
    return count(flat, groups.n * ncat, weights).reshape(groups.n, ncat)
