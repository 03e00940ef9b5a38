"""tableone on a benchmark extract: the 6 compare variables by cohort (bench only)."""

from __future__ import annotations

import sys

import pandas as pd
from tableone import TableOne

VARIABLES = [
    "disability_learning",
    "disability_mental_health",
    "disability_physical",
    "housing",
    "sex",
    "age_band",
]


def main(path: str) -> None:
    """Read the columns as strings (as an analyst's frame would be) and build Table 1."""
    frame = pd.read_parquet(path, columns=["cohort", *VARIABLES])
    frame = frame.astype(str)
    table = TableOne(frame, columns=VARIABLES, categorical=VARIABLES, groupby="cohort", pval=True)
    print(len(table.tableone))


if __name__ == "__main__":
    main(sys.argv[1])
