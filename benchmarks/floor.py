"""The floor: read the columns a compare table needs and count every cell with bincount.

This is the least any tool can do for `compare` (6 variables, 2 cohorts, within area x
substance_cohort): read the dictionary-encoded columns and count, nothing else. Timed as a
whole process by ``benchmarks/run.py``.

    python benchmarks/floor.py benchmarks/data/extract_1000000.parquet
"""

from __future__ import annotations

import sys

import numpy as np
import pyarrow.parquet as pq

VARIABLES = [
    "disability_learning",
    "disability_mental_health",
    "disability_physical",
    "housing",
    "sex",
    "age_band",
]


def codes(column) -> tuple[np.ndarray, int]:  # type: ignore[no-untyped-def]
    """Dictionary indices of a column (booleans as 0/1, missing as 2) and their count."""
    column = column.combine_chunks()
    if hasattr(column, "indices"):
        return np.asarray(column.indices.fill_null(-1)), len(column.dictionary)
    values = np.asarray(column.cast("int8").fill_null(2))
    return values, 3


def main(path: str) -> int:
    """Count cohort x area x substance_cohort x category for each variable; return cells."""
    return count(pq.read_table(path, columns=["cohort", "area", "drug_group", "crack", *VARIABLES]))


def count(table) -> int:  # type: ignore[no-untyped-def]
    """Cells of the table (cohort, area, drug_group, crack and the variables) counted."""
    cohort, n_cohort = codes(table["cohort"])
    area, n_area = codes(table["area"])
    group, _ = codes(table["drug_group"])
    crack = np.asarray(table["crack"]).astype(np.int64)
    sub = np.where(group == 0, crack, np.where(crack == 1, 2, np.where(group == 3, 3, 4)))
    stem = (cohort.astype(np.int64) * n_area + area) * 5 + sub
    cells = 0
    for name in VARIABLES:
        values, n = codes(table[name])
        counts = np.bincount(stem * n + values, minlength=n_cohort * n_area * 5 * n)
        cells += int((counts > 0).sum())
    return cells


if __name__ == "__main__":
    print(main(sys.argv[1]))
