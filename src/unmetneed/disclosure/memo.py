"""What ``audit --release`` proved before: groups of cells it need not solve again.

A release's cells fall into groups tied by relations (connected parts: in a quarterly
release, each period's treatment cells, and a cohort without periods); the attacker's LP
over one group is independent of the others. ``audit --release DIR`` keeps in DIR
(``audited.json``) a digest of each group whose LP check it passed: the sha256 of all that
check reads of the group (its relations; each cell's published value or suppression,
whether it is published, guarded and its floor; the policy and width). A group whose
digest is there is the same LP, cell for cell, proven before: it is not solved again.
Anything changed in it gives another digest, and it is checked in full.

Only the LP check is remembered: shown small counts, derived values and group disclosure
are checked on every table every time. The digests tell nothing about the people (hashes
of what is published), but they sit with the restricted register.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from scipy import sparse

from unmetneed.disclosure import attacker
from unmetneed.disclosure.model import Policy

FILE = "audited.json"


def digests(
    matrix: sparse.csr_matrix, cells: np.ndarray, policy: Policy
) -> tuple[np.ndarray, list[str]]:
    """Each cell's group (a label) and each group's digest (sha256, hex).

    ``cells``: one row per cell of what the check reads (e.g. shown value with NaN for
    suppressed, published, guarded, floor), as float64. Cells are numbered within their
    group in id order and relations kept in release order, so a group keeps its digest
    while other groups are added beside it.
    """
    n = matrix.shape[1]
    labels = attacker.components(matrix)[:n] if matrix.shape[0] else np.arange(n)
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.repeat(first, sizes)
    coo = matrix.tocoo()
    rows = np.lexsort((rank[coo.col], coo.row, labels[coo.col]))
    entries = np.column_stack([coo.row, rank[coo.col], coo.data])[rows]
    entry_group = labels[coo.col][rows]
    row_rank = _rank_in_group(entries[:, 0].astype(np.int64), entry_group)
    entries[:, 0] = row_rank
    per_cell = np.nan_to_num(cells[order], nan=-1.0)
    cut_cells = np.cumsum(sizes)[:-1]
    cut_entries = np.searchsorted(entry_group, np.arange(1, len(sizes)))
    head = (
        json.dumps(policy.to_meta(), sort_keys=True).encode()
        + str(policy.protection_width).encode()
    )
    keys = [
        hashlib.sha256(head + a.tobytes() + b.tobytes()).hexdigest()
        for a, b in zip(np.split(per_cell, cut_cells), np.split(entries, cut_entries), strict=True)
    ]
    return labels, keys


def _rank_in_group(row: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Each entry's row renumbered 0, 1, ... within its group (entries sorted by group,
    then row)."""
    if not len(row):
        return row
    new_row = np.concatenate([[True], (row[1:] != row[:-1]) | (group[1:] != group[:-1])])
    count = np.cumsum(new_row) - 1
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    base = np.repeat(count[starts], np.diff(np.append(starts, len(group))))
    out: np.ndarray = count - base
    return out


def read(folder: Path | str) -> set[str]:
    """The digests proven before in the release ``folder`` (none when there is no file, or
    it cannot be read: then everything is checked)."""
    try:
        data = json.loads((Path(folder) / FILE).read_text(encoding="utf-8"))
        return {str(d) for d in data["proven"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def remember(folder: Path | str, proven: set[str]) -> None:
    """Write ``proven`` into the release ``folder``, atomically; a folder that cannot be
    written to only means the next audit checks everything again."""
    root = Path(folder)
    try:
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".audited.", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"proven": sorted(proven)}, handle)
        os.replace(tmp, root / FILE)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
