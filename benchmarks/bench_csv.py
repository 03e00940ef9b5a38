"""compare on a CSV extract against a CSV floor: streamed, within 2.5x, flat memory.

Writes ``benchmarks/data/extract_<rows>.csv`` from the seeded Parquet extract (the same
rows as text, as an analyst's export would hold them) and times, as whole processes under
GNU time (min and median of ``BENCH_RUNS`` runs, peak RSS):

- the CSV floor (``floor_csv.py``): ``pyarrow.csv`` reads the columns compare needs and
  ``numpy.bincount`` counts every cell, nothing else;
- the input engine alone (``csv_engine.py``: read, validate every contract column on its
  distinct values, count the cells), on the CSV and on the same rows in Parquet;
- ``unmetneed compare`` on the CSV and on the Parquet file, the table ``run.py`` times
  (one run each: the suppression LP takes most of its time, whatever the format).

Prints a markdown section for RESULTS.md (``run.py`` includes it).

    python benchmarks/bench_csv.py             # 1M and 2M rows
    python benchmarks/bench_csv.py 2000000
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from run import DATA, HERE, Measure, compare_argv, data_for, measure

SIZES = [1_000_000, 2_000_000]
TARGET = 2.5


def csv_for(rows: int) -> Path:
    """The benchmark extract of ``rows`` rows as CSV (made once from the Parquet file)."""
    path = DATA / f"extract_{rows}.csv"
    if not path.exists():
        source = pq.ParquetFile(data_for(rows))
        part = path.with_suffix(".part")
        with pacsv.CSVWriter(part, source.schema_arrow) as writer:
            for batch in source.iter_batches(batch_size=1 << 18):
                writer.write_batch(batch)
        part.rename(path)
    return path


def row(name: str, rows: int, m: Measure | None, floor: Measure | None) -> str:
    if m is None:
        return f"| {name} | {rows:,} | failed | | | |"
    ratio = f"{m.best / floor.best:.2f}x" if floor else ""
    return f"| {name} | {rows:,} | {m.best:.2f} | {m.median:.2f} | {m.peak_mib:,.0f} | {ratio} |"


def main(sizes: list[int]) -> None:
    lines = [
        "| what | rows | min s | median s | peak MiB | vs CSV floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    found: dict[tuple[str, int], Measure | None] = {}
    engine = [sys.executable, str(HERE / "csv_engine.py")]
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            path, parquet = csv_for(rows), data_for(rows)
            floor = found["floor", rows] = measure(
                [sys.executable, str(HERE / "floor_csv.py"), str(path)]
            )
            found["engine", rows] = measure([*engine, str(path)])
            found["engine pq", rows] = measure([*engine, str(parquet)])
            out = Path(tmp) / "c.parquet"
            found["compare", rows] = measure(compare_argv(path, out), runs=1)
            found["compare pq", rows] = measure(compare_argv(parquet, out), runs=1)
            lines += [
                row("CSV floor (pyarrow.csv read + bincount)", rows, floor, None),
                row("engine: read + validate + count (CSV)", rows, found["engine", rows], floor),
                row("engine: the same on Parquet", rows, found["engine pq", rows], floor),
                row("unmetneed compare --k 3 (CSV; 1 run)", rows, found["compare", rows], floor),
                row(
                    "unmetneed compare --k 3 (Parquet; 1 run)",
                    rows,
                    found["compare pq", rows],
                    floor,
                ),
            ]
            print("\n".join(lines[-5:]), flush=True)
    big, small = max(sizes), min(sizes)
    print("\n".join([*lines, "", *verdicts(found, big, small)]))


def verdicts(found: dict[tuple[str, int], Measure | None], big: int, small: int) -> list[str]:
    """The issue's CSV target, for the engine and for the whole command."""
    out = ["| target | measured | verdict |", "|---|---|---|"]
    f = found.get(("floor", big))
    for what, name in (
        ("engine", "the input engine (read + validate + count)"),
        ("compare", "`unmetneed compare` as a whole"),
    ):
        c = found.get((what, big))
        if c and f:
            ratio = c.best / f.best
            out.append(
                f"| {name} on a {big:,}-row CSV within {TARGET}x of the CSV floor | "
                f"{ratio:.2f}x ({c.best:.2f} s vs {f.best:.2f} s) | "
                + ("met" if ratio <= TARGET else "**not met**")
                + " |"
            )
    for what, name in (("engine", "the input engine"), ("compare", "`unmetneed compare`")):
        c, c0 = found.get((what, big)), found.get((what, small))
        if c and c0 and big != small:
            out.append(
                f"| {name}'s memory flat as CSV rows grow | {c0.peak_mib:,.0f} MiB at "
                f"{small:,}, {c.peak_mib:,.0f} MiB at {big:,} (the file: "
                f"{csv_for(big).stat().st_size / 2**20:,.0f} MiB) | "
                + ("met" if c.peak_mib < 1.25 * c0.peak_mib else "**not met**")
                + " |"
            )
    return out


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or SIZES)
