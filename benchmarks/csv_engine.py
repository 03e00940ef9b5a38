"""The input engine alone: read, validate and count a compare table's cells, nothing else.

``compare.stream.tally_files`` on one file (CSV or Parquet): every batch read, every column
of the contract checked on its distinct values, the cells counted with bincount. This is
the part of ``compare`` the CSV floor (``floor_csv.py``) stands for; the rest of the
command (statistics, the suppression LP, writing) does not depend on the file's format.

    python benchmarks/csv_engine.py benchmarks/data/extract_1000000.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

from unmetneed.tables.compare import CompareOptions
from unmetneed.tables.compare.stream import tally_files

OPTIONS = CompareOptions(
    by=("disability", "housing", "sex", "age"), within=("area", "substance_cohort")
)


def main(path: str) -> int:
    """People counted in the file (the tally's cohort sizes added up)."""
    tally, _notes = tally_files([(None, Path(path))], OPTIONS, None)
    return sum(tally.sizes)


if __name__ == "__main__":
    print(main(sys.argv[1]))
