"""Seconds of compute of ``unmetneed gap`` on the national quarterly table, inputs read.

The inputs are read first (the extract counted in batches, the estimates loaded); then
``unmetneed.tables.gap.compute`` (area matching, prevalence means, intervals, suppression,
remarks) is timed in-process, the best of three.

    python benchmarks/gap_compute.py benchmarks/data/extract_1000000.parquet
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from unmetneed.inputs.load import load
from unmetneed.inputs.stream import collapse
from unmetneed.tables.gap import RECORD_COLUMNS, GapOptions, compute

HERE = Path(__file__).resolve().parent


def main(path: str) -> float:
    """Best of three timings (s) of ``compute`` on the extract at ``path``."""
    treatment = collapse(path, "treatment", RECORD_COLUMNS)
    prevalence = load(HERE / "data" / "prevalence.parquet", "prevalence")
    options = GapOptions(k=3)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        compute(treatment, prevalence, options)
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    print(f"{main(sys.argv[1]):.3f}")
