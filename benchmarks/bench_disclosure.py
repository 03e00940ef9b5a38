"""Benchmark: protect and audit the 4-D table area(150) x age(10) x substance(4) x sex(2).

With every margin the table has 151 x 11 x 5 x 3 = 24,915 cells and 15,718 additive
relations. Counts are synthetic but shaped like NDTMS (about 300,000 people a year: areas
of very different sizes, most people aged 30-54, more men than women), so a realistic share
of cells is small. Prints one markdown row per seed:

    | seed | cells | relations | primary | secondary | secondary people | margins hidden
    | protect s | audit s |

(margins: secondary cells that total other cells, which cost a thousand times more per
person hidden: ``unmetneed.disclosure.lean``).

Run: ``.venv/bin/python benchmarks/bench_disclosure.py [--seeds 3] [--k 3]``. Not a test.
For comparison, the disclosure issue quotes tau-Argus: it did not finish this table in
25 minutes, and on an 8,305-cell 3-way table its pattern let an LP attacker recover 41-49
of 934 primary cells exactly.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from unmetneed.disclosure import Policy, protect
from unmetneed.disclosure.attacker import knowledge, narrow
from unmetneed.disclosure.lean import margins
from unmetneed.disclosure.tables import cube

SHAPE = (150, 10, 4, 2)
PEOPLE = 300_000


def synthetic(seed: int) -> np.ndarray:
    """Counts of people of shape ``SHAPE``: area x age x substance x sex, ~300,000 in all."""
    rng = np.random.default_rng(seed)
    area = rng.lognormal(0.0, 0.8, SHAPE[0])
    age = np.array([4, 8, 11, 13, 13, 12, 10, 7, 4, 2], float)
    substance = np.array([50, 10, 13, 27], float)
    sex = np.array([70, 30], float)
    mean = np.einsum("a,b,c,d->abcd", area, age, substance, sex)
    mean *= PEOPLE / mean.sum()
    return rng.poisson(mean * rng.gamma(2.0, 0.5, SHAPE)).astype(np.int64)


def run(seed: int, k: int) -> str:
    """Protect and audit one synthetic table; the markdown row of its figures."""
    cells, _ = cube(synthetic(seed))
    policy = Policy.named(k=k)
    start = time.perf_counter()
    protection = protect(cells, policy)
    protect_s = time.perf_counter() - start
    start = time.perf_counter()
    know = knowledge(cells.matrix(), protection.shown, cells.published(), policy)
    found = narrow(know, np.flatnonzero(protection.suppressed), policy.protection_width)
    audit_s = time.perf_counter() - start
    if not found["ok"].all():
        raise SystemExit(f"seed {seed}: audit found {int((~found['ok']).sum())} narrow cells")
    people = int(cells.values[protection.secondary].sum())
    hidden_margins = int((protection.secondary & margins(cells, cells.published())).sum())
    return (
        f"| {seed} | {len(cells.values):,} | {len(cells.relations):,} "
        f"| {int(protection.primary.sum()):,} | {int(protection.secondary.sum()):,} "
        f"| {people:,} | {hidden_margins:,} | {protect_s:.1f} | {audit_s:.1f} |"
    )


def main() -> None:
    """Print the header and one row per seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    print(
        "| seed | cells | relations | primary | secondary | secondary people | margins hidden "
        "| protect s | audit s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed in range(args.seeds):
        print(run(seed, args.k), flush=True)


if __name__ == "__main__":
    main()
