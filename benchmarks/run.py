"""Time and measure whole processes; write benchmarks/RESULTS.md.

Every figure is a whole process (interpreter start, imports, reading, work, writing),
timed several times (min and median of wall seconds) with its peak resident memory
(GNU time's maximum RSS). Ratios are against the floor (``floor.py``: read the columns
and bincount every cell) and against tableone where it is installed (bench only:
``pip install -r benchmarks/requirements.txt``; never a runtime dependency).

    python benchmarks/run.py            # 100k, 1M, 2M rows (and the disclosure benchmark)
    BENCH_FULL=1 python benchmarks/run.py   # also 5M and 20M rows
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
BIN = Path(sys.executable).parent
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SIZES = [100_000, 1_000_000, 2_000_000]
FULL_SIZES = [5_000_000, 20_000_000]
COMPARE_BY = ["--by", "disability", "--by", "housing", "--by", "sex", "--by", "age"]


@dataclass(frozen=True)
class Measure:
    """Wall seconds of each run and the largest peak RSS (MiB) seen."""

    seconds: list[float]
    peak_mib: float

    @property
    def best(self) -> float:
        """The fastest run (s)."""
        return min(self.seconds)

    @property
    def median(self) -> float:
        """The median run (s)."""
        return statistics.median(self.seconds)


def measure(argv: list[str], runs: int = RUNS) -> Measure | None:
    """Run ``argv`` ``runs`` times under GNU time; None if it fails."""
    seconds, peak = [], 0.0
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            proc = subprocess.run(
                ["/usr/bin/time", "-f", "%e %M", "-o", tf.name, *argv],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(
                    f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr[-2000:]}",
                    file=sys.stderr,
                )
                return None
            wall, rss_kib = tf.read().split()[-2:]
        seconds.append(float(wall))
        peak = max(peak, int(rss_kib) / 1024)
    return Measure(seconds, peak)


def data_for(rows: int) -> Path:
    """The benchmark extract of ``rows`` rows (generated once, seeded)."""
    path = DATA / f"extract_{rows}.parquet"
    if not path.exists():
        subprocess.run(
            [sys.executable, str(HERE / "generate.py"), str(rows)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def compare_argv(path: Path, out: Path) -> list[str]:
    """``unmetneed compare``: 6 variables, 2 cohorts, within area x substance_cohort, K3."""
    return [
        str(BIN / "unmetneed"),
        "compare",
        "--cohort",
        str(path),
        *COMPARE_BY,
        "--within",
        "area",
        "--within",
        "substance_cohort",
        "--k",
        "3",
        "--out",
        str(out),
    ]


def gap_argv(path: Path, out: Path) -> list[str]:
    """``unmetneed gap``: 150 areas x 4 substances x 12 quarters."""
    return [
        str(BIN / "unmetneed"),
        "gap",
        "--treatment",
        str(path),
        "--prevalence",
        str(DATA / "prevalence.parquet"),
        "--k",
        "3",
        "--out",
        str(out),
    ]


def tableone_argv(path: Path) -> list[str] | None:
    """tableone over the same 6 variables by cohort (no within groups: less work than ours)."""
    try:
        import tableone  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, str(HERE / "with_tableone.py"), str(path)]


def row(name: str, rows: int, m: Measure | None, floor: Measure | None) -> str:
    """One markdown row: what, rows, min/median seconds, peak MiB, ratio to the floor."""
    if m is None:
        return f"| {name} | {rows:,} | failed | | | |"
    ratio = f"{m.best / floor.best:.1f}x" if floor else ""
    return f"| {name} | {rows:,} | {m.best:.2f} | {m.median:.2f} | {m.peak_mib:,.0f} | {ratio} |"


def main() -> None:
    """Run every benchmark and write RESULTS.md."""
    sizes = SIZES + (FULL_SIZES if os.environ.get("BENCH_FULL") else [])
    lines = [
        "| what | rows | min s | median s | peak MiB | vs floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for rows in sizes:
            path = data_for(rows)
            floor = measure([sys.executable, str(HERE / "floor.py"), str(path)])
            lines.append(row("floor (read + bincount)", rows, floor, None))
            lines.append(
                row(
                    "unmetneed compare", rows, measure(compare_argv(path, out / "c.parquet")), floor
                )
            )
            lines.append(
                row("unmetneed gap", rows, measure(gap_argv(path, out / "g.parquet")), floor)
            )
            t1 = tableone_argv(path) if rows <= 1_000_000 else None
            if t1:
                lines.append(row("tableone (by cohort only)", rows, measure(t1, runs=1), floor))
            print("\n".join(lines[-4:]), flush=True)
    disclosure = subprocess.run(
        [sys.executable, str(HERE / "bench_disclosure.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    text = [
        "# Benchmark results",
        "",
        "Made by `make bench` (benchmarks/run.py) on this machine: "
        f"{os.cpu_count()} cores. Whole processes, {RUNS} runs each (tableone: 1).",
        "",
        *lines,
        "",
        "## Secondary suppression (benchmarks/bench_disclosure.py)",
        "",
        disclosure.stdout.strip() or f"failed: {disclosure.stderr[-500:]}",
        "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(text))
    print((HERE / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
