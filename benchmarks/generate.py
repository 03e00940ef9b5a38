"""Seeded generator of NDTMS-shaped extracts for the benchmarks (dictionary-encoded Parquet).

Writes ``benchmarks/data/extract_<rows>.parquet`` (people in treatment and an
out-of-treatment cohort, told apart by a ``cohort`` column; 150 areas; 12 quarters) and
``benchmarks/data/prevalence.parquet`` (150 areas x 4 substances x 4 financial years).
Rows are made and written in chunks of one million, so memory stays flat at any size.

    python benchmarks/generate.py 100000 1000000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CHUNK = 1_000_000
SEED = 20261122
N_AREAS = 150
QUARTERS = [f"{y}/{(y + 1) % 100:02d} Q{q}" for y in (2022, 2023, 2024) for q in (1, 2, 3, 4)]

# (values, probabilities) in the contract's code order; shaped like NDTMS adult statistics
COLUMNS: dict[str, tuple[list[str], list[float]]] = {
    "drug_group": (
        ["opiate", "non_opiate_only", "non_opiate_and_alcohol", "alcohol_only"],
        [0.47, 0.09, 0.07, 0.37],
    ),
    "age_band": (
        ["18-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54", "55-59", "60-64", "65+"],
        [0.05, 0.08, 0.12, 0.16, 0.17, 0.15, 0.12, 0.08, 0.04, 0.03],
    ),
    "sex": (["male", "female", "other", "not_stated"], [0.67, 0.32, 0.005, 0.005]),
    "ethnicity": (
        ["white", "mixed", "asian", "black", "other", "not_stated"],
        [0.85, 0.03, 0.03, 0.03, 0.01, 0.05],
    ),
    "sexuality": (["heterosexual", "other", "not_stated"], [0.9, 0.05, 0.05]),
    "religion": (["christian", "muslim", "other_none", "not_stated"], [0.3, 0.03, 0.5, 0.17]),
    "nationality": (["british", "not_british", "not_stated"], [0.9, 0.07, 0.03]),
    "housing": (
        ["no_problem", "housing_problem", "urgent_housing_problem", "not_stated"],
        [0.72, 0.15, 0.08, 0.05],
    ),
    "employment": (["regular", "not_regular", "not_stated"], [0.2, 0.75, 0.05]),
}
FLAGS = {
    "disability_learning": 0.04,
    "disability_mental_health": 0.5,
    "disability_physical": 0.2,
    "lives_with_children": 0.2,
}
CRACK_RATE = np.array([0.45, 0.2, 0.2, 0.0])  # by drug_group, in COLUMNS order
OOTU_SHARE = 0.02  # rows that belong to the out-of-treatment cohort


def areas() -> list[str]:
    """150 fictional area names, Area 001 .. Area 150."""
    return [f"Area {i:03d}" for i in range(1, N_AREAS + 1)]


def _dict(codes: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    dtype = np.int8 if len(values) < 128 else np.int16
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(dtype)), pa.array(values))


def _flag(rng: np.random.Generator, n: int, p: float) -> pa.Array:
    """True/false with 6% missing (not stated)."""
    value = rng.random(n) < p
    missing = rng.random(n) < 0.06
    return pa.array(value, mask=missing)


def chunk(rng: np.random.Generator, n: int) -> pa.Table:
    """``n`` rows of the extract (codes drawn independently, crack by drug group)."""
    names = areas()
    cols: dict[str, pa.Array] = {
        "cohort": _dict((rng.random(n) < OOTU_SHARE).astype(np.int8), ["NDTMS", "OOTU"]),
        "period": _dict(rng.integers(0, len(QUARTERS), n), QUARTERS),
        "area": _dict(rng.integers(0, N_AREAS, n).astype(np.int16), names),
    }
    group = rng.choice(4, size=n, p=COLUMNS["drug_group"][1])
    for name, (values, probs) in COLUMNS.items():
        codes = group if name == "drug_group" else rng.choice(len(values), size=n, p=probs)
        cols[name] = _dict(codes, values)
    cols["crack"] = pa.array(rng.random(n) < CRACK_RATE[group])
    for name, p in FLAGS.items():
        cols[name] = _flag(rng, n, p)
    return pa.table(cols)


def write_extract(rows: int, out: Path) -> Path:
    """Write ``rows`` rows in chunks; the same ``rows`` always gives the same file."""
    rng = np.random.default_rng(SEED + rows)
    path = out / f"extract_{rows}.parquet"
    writer = None
    try:
        for start in range(0, rows, CHUNK):
            table = chunk(rng, min(CHUNK, rows - start))
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=CHUNK)
    finally:
        if writer is not None:
            writer.close()
    return path


def write_prevalence(out: Path) -> Path:
    """150 areas x 4 substances x 4 financial years of estimates with 95% bounds."""
    rng = np.random.default_rng(SEED)
    years = ["2021/22", "2022/23", "2023/24", "2024/25"]
    subs = ["opiate_crack", "opiate", "crack", "alcohol_dependent"]
    grid = np.array([(a, y, s) for a in areas() for y in years for s in subs], dtype=object)
    base = {"opiate_crack": 2000, "opiate": 1700, "crack": 1400, "alcohol_dependent": 5000}
    estimate = np.round(np.array([base[s] for s in grid[:, 2]]) * rng.uniform(0.5, 2.0, len(grid)))
    table = pa.table(
        {
            "area": grid[:, 0].astype(str),
            "period": grid[:, 1].astype(str),
            "substance": grid[:, 2].astype(str),
            "estimate": estimate,
            "lower": np.round(estimate * 0.8),
            "upper": np.round(estimate * 1.3),
        }
    )
    path = out / "prevalence.parquet"
    pq.write_table(table, path)
    return path


def main() -> None:
    """Write the requested sizes (skipping files that exist) and the prevalence file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rows", nargs="+", type=int)
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_prevalence(args.out)
    for rows in args.rows:
        path = args.out / f"extract_{rows}.parquet"
        if not path.exists():
            write_extract(rows, args.out)
        print(path)


if __name__ == "__main__":
    main()
