"""Benchmark: what protection hides on "table A", beside tau-Argus (the lean issue's anchor).

Table A is area(150) x age(10) x substance(4) with every margin (8,305 cells): the counts of
``bench_disclosure.synthetic(seed).sum(axis=3)``, written as a long table with ``Total``
rows and protected as ``unmetneed suppress TABLE --total-row`` does (K3, width 3),
through the library call behind it (``unmetneed.disclosure.suppress.suppress_table``).
Prints one markdown row per seed: primaries (shown counts of 1..3 in the true table),
complements, people hidden in complements, margins hidden, area totals hidden, the grand
total hidden, primaries the tool's own LP attacker narrows below 3 (0 when safe), seconds.

tau-Argus on the same tables (pytauargus MOD(1), FREQ(4,10); measured for the issue):
seed 0 hides 3,597 people in 370 complements, seed 1 3,660 in 350; 3 margins, no area
total; its pattern is not safe (29 / 28 primaries recovered exactly by an LP attacker that
knows hidden cells are >= 1). The issue's target: <= 1.5x tau's people (5,400 / 5,490), no
area or grand total hidden, 0 narrowed. "narrowed" is checked by the tool's own LP attacker;
tests/test_lean.py checks small tables with an independent one.

Run: ``.venv/bin/python benchmarks/bench_lean.py [--seeds 2]``. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_disclosure import synthetic  # noqa: E402  (beside this file)
from unmetneed.disclosure.attacker import knowledge, narrow  # noqa: E402
from unmetneed.disclosure.suppress import SuppressOptions, suppress_table  # noqa: E402
from unmetneed.disclosure.tables import LongSpec, from_long  # noqa: E402

DIMS = ("area", "age", "substance")
TAU = {0: (3597, 370), 1: (3660, 350)}  # people hidden, complements (the figures)


def table_a(seed: int) -> pd.DataFrame:
    """Table A as a long table with ``Total`` rows (counts of people)."""
    full = synthetic(seed).sum(axis=3)
    for axis in range(full.ndim):
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    labels = [
        [*(f"Area {i:03d}" for i in range(full.shape[0] - 1)), "Total"],
        [*(f"age {i}" for i in range(full.shape[1] - 1)), "Total"],
        [*("opiate", "crack", "opiate_crack", "alcohol")[: full.shape[2] - 1], "Total"],
    ]
    index = pd.MultiIndex.from_product(labels, names=list(DIMS))
    return pd.DataFrame({"count": full.ravel()}, index=index).reset_index()


def run(seed: int) -> str:
    """Protect table A of ``seed``; the markdown row of what it hid."""
    frame = table_a(seed)
    start = time.perf_counter()
    done = suppress_table(frame, SuppressOptions(total_row=True), f"table A seed {seed}")
    seconds = time.perf_counter() - start
    x = frame["count"].to_numpy(np.int64)
    hidden = done.table["suppressed"].to_numpy(bool)
    primary = hidden & (x >= 1) & (x <= 3)
    complement = hidden & ~primary
    total = {d: (frame[d] == "Total").to_numpy() for d in DIMS}
    margin = total["area"] | total["age"] | total["substance"]
    area_total = ~total["area"] & total["age"] & total["substance"]
    grand = total["area"] & total["age"] & total["substance"]
    cells = from_long(frame, x, LongSpec(DIMS, True, "Total"))
    shown = np.where(hidden, np.nan, x.astype(np.float64))
    policy = done.protection.policy
    # the remark: a suppressed count in a group whose size is suppressed may be 0
    floor = np.full(len(x), float(policy.floor))
    for total, parts in cells.relations:
        if hidden[total]:
            floor[parts] = 0.0
    know = knowledge(cells.matrix(), shown, cells.published(), policy, floor)
    found = narrow(know, np.flatnonzero(primary), policy.protection_width)
    people, count = TAU.get(seed, (0, 0))
    tau = f"{people:,} in {count:,}" if people else "-"
    return (
        f"| {seed} | {int(primary.sum()):,} | {int(complement.sum()):,} "
        f"| {int(x[complement].sum()):,} | {tau} | {int((complement & margin).sum()):,} "
        f"| {int((hidden & area_total).sum())} | {int((hidden & grand).sum())} "
        f"| {int((~found['ok']).sum())} | {seconds:.1f} |"
    )


def main() -> None:
    """Print the header and one row per seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    print(
        "| seed | primaries | complements | people in complements | tau-Argus (people in "
        "complements) | margins hidden | area totals hidden | grand total hidden | "
        "primaries narrowed below 3 | protect s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed in range(args.seeds):
        print(run(seed), flush=True)


if __name__ == "__main__":
    main()
