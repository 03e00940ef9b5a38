"""The CSV floor: ``pyarrow.csv`` reads the columns a compare table needs, bincount counts.

The least any tool can do for ``compare`` on a CSV file (6 variables, 2 cohorts, within
area x substance_cohort): parse the columns as dictionary-encoded text and booleans, and
count every cell (``floor.count``), nothing else. Timed as a whole process by
``bench_csv.py``.

    python benchmarks/floor_csv.py benchmarks/data/extract_1000000.csv
"""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.csv as pacsv

from floor import VARIABLES, count

TEXT = ["cohort", "area", "drug_group", "housing", "sex", "age_band"]
FLAGS = ["crack", "disability_learning", "disability_mental_health", "disability_physical"]


def main(path: str) -> int:
    """Count cohort x area x substance_cohort x category for each variable; return cells."""
    types = {
        **dict.fromkeys(TEXT, pa.dictionary(pa.int32(), pa.string())),
        **dict.fromkeys(FLAGS, pa.bool_()),
    }
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            include_columns=["cohort", "area", "drug_group", "crack", *VARIABLES],
            column_types=types,
        ),
    )
    return count(table)


if __name__ == "__main__":
    print(main(sys.argv[1]))
