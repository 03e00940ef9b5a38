"""Time and measure whole processes; write benchmarks/RESULTS.md.

Every figure is a whole process (interpreter start, imports, reading, work, writing),
timed several times (min and median of wall seconds) with its peak resident memory
(GNU time's maximum RSS). Ratios are against the floor (``floor.py``: read the columns
and bincount every cell) and against tableone where it is installed (bench only:
``pip install -r benchmarks/requirements.txt``; never a runtime dependency).

    python benchmarks/run.py            # 100k, 1M, 2M, 5M rows (and the disclosure and
                                        # release benchmarks; the release at 30 areas)
    BENCH_FULL=1 python benchmarks/run.py   # also 20M rows; the release at 30, 75, 150 areas
                                            # and over 4 quarters at 150
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
SIZES = [100_000, 1_000_000, 2_000_000, 5_000_000]
FULL_SIZES = [20_000_000]
TABLEONE_MAX = 1_000_000  # tableone's time grows with rows: 62 s at 1M rows here
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
    found: dict[tuple[str, int], Measure | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for rows in sizes:
            path = data_for(rows)
            floor = found["floor", rows] = measure(
                [sys.executable, str(HERE / "floor.py"), str(path)]
            )
            lines.append(row("floor (read + bincount)", rows, floor, None))
            found["compare", rows] = measure(compare_argv(path, out / "c.parquet"))
            lines.append(row("unmetneed compare", rows, found["compare", rows], floor))
            found["gap", rows] = measure(gap_argv(path, out / "g.parquet"))
            lines.append(row("unmetneed gap", rows, found["gap", rows], floor))
            t1 = tableone_argv(path) if rows <= TABLEONE_MAX else None
            if t1:
                found["tableone", rows] = measure(t1, runs=1)
                lines.append(row("tableone (by cohort only)", rows, found["tableone", rows], floor))
            print("\n".join(lines[-4:]), flush=True)
    gap_compute = _gap_compute(data_for(sizes[-1]))
    startup = measure([str(BIN / "unmetneed"), "--help"])
    disclosure = subprocess.run(
        [sys.executable, str(HERE / "bench_disclosure.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    lean = subprocess.run(
        [sys.executable, str(HERE / "bench_lean.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    csv = subprocess.run(
        [sys.executable, str(HERE / "bench_csv.py")],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    releases = [
        subprocess.run(
            [sys.executable, str(HERE / "bench_release.py"), *args],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        for args in release_args()
    ]
    text = [
        "# Benchmark results",
        "",
        "Made by `make bench` (benchmarks/run.py) on this machine: "
        f"{os.cpu_count()} cores. Whole processes, {RUNS} runs each (tableone: 1).",
        "",
        *lines,
        "",
        "## Targets (benchmark issue)",
        "",
        *targets(found, sizes, gap_compute, startup),
        "",
        "## Secondary suppression (benchmarks/bench_disclosure.py)",
        "",
        disclosure.stdout.strip() or f"failed: {disclosure.stderr[-500:]}",
        "",
        "## What protection hides: table A beside tau-Argus (benchmarks/bench_lean.py)",
        "",
        lean.stdout.strip() or f"failed: {lean.stderr[-500:]}",
        "",
        "## CSV input, streamed (benchmarks/bench_csv.py)",
        "",
        CSV_NOTE,
        "",
        csv.stdout.strip() or f"failed (exit {csv.returncode})",
        "",
        "## Whole release: gap + 8 compare tables (benchmarks/bench_release.py)",
        "",
        RELEASE_NOTE,
        "",
        *(
            line
            for r in releases
            for line in (r.stdout.strip() or f"failed (exit {r.returncode})", "")
        ),
    ]
    (HERE / "RESULTS.md").write_text("\n".join(text))
    print((HERE / "RESULTS.md").read_text())


CSV_NOTE = (
    "The same seeded extract written as CSV (every value as text). The CSV floor reads "
    "the 10 columns the table needs with `pyarrow.csv` (all cores) and counts with "
    "bincount; the engine streams the file in 16 MiB blocks (`pyarrow.csv.open_csv`), "
    "checks all 17 contract columns on their distinct values and counts; `compare` is the "
    "whole command (it reads the file twice: the counts, then people per combination for "
    "the protection model)."
)
RELEASE_SIZES = [["--areas", "30", "--people", "60000", "--cohort", "600"]]
RELEASE_FULL = [
    ["--areas", "30", "75", "150", "--people", "300000", "--cohort", "3000"],
    ["--areas", "150", "--people", "300000", "--cohort", "3000", "--quarters", "4"],
]
RELEASE_NOTE = (
    "`unmetneed run` of one quarter (2024/25 Q4) with k = 3 and again with k = 0, then "
    "`unmetneed audit` of its publish/*.parquet; whole processes, one run each (timeout "
    "1,800 s each), CPU seconds (user + system) in brackets. With 4 quarters each quarter "
    "is run with --period into one release folder and audited with --release (times "
    "summed, the slowest quarter judged). Target (benchmark issue): protect and audit "
    "within 60 s on 2 cores, at most 10x the run with k = 0, under 2 GiB, at 150 areas, "
    "300,000 people, a cohort of 3,000, and 4 quarters (`BENCH_FULL=1`; people scaled "
    "with areas below that). Hidden counts: gap in_treatment and compare count cells left "
    "empty."
)


def release_args() -> list[list[str]]:
    """Runs of the release benchmark: a few minutes by default, national with BENCH_FULL."""
    return RELEASE_FULL if os.environ.get("BENCH_FULL") else RELEASE_SIZES


def _gap_compute(path: Path) -> float | None:
    """Seconds of ``gap`` compute on the largest extract (``gap_compute.py``), or None."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "gap_compute.py"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    return float(proc.stdout.split()[-1]) if proc.returncode == 0 else None


def _why_fixed(found: dict[tuple[str, int], Measure | None], sizes: list[int]) -> list[str]:
    """A row saying what compare costs per extra row against the floor (largest sizes)."""
    a, b = sorted(sizes)[-2:] if len(sizes) > 1 else (0, 0)
    ca, cb, fa, fb = (found.get((k, n)) for k in ("compare", "floor") for n in (a, b))
    if not (ca and cb and fa and fb) or fb.best <= fa.best:
        return []
    marginal = (cb.best - ca.best) / (fb.best - fa.best)
    return [
        f"| (why) | from {a:,} to {b:,} rows compare takes {marginal:.1f}x the floor's extra "
        "time: per row it is within the target; what is over is a cost that does not grow "
        "with rows: imports (about 0.6 s), the suppression LP and the seeded Monte Carlo "
        "Fisher tests of a 40,500-row table (about 0.4 s and 0.3 s) | |"
    ]


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "**not met**")


def targets(
    found: dict[tuple[str, int], Measure | None],
    sizes: list[int],
    gap_compute: float | None,
    startup: Measure | None,
) -> list[str]:
    """The issue's targets, each with the figure measured and whether it is met."""
    out = ["| target | measured | verdict |", "|---|---|---|"]
    for rows in (2_000_000, 5_000_000):
        c, f = found.get(("compare", rows)), found.get(("floor", rows))
        ratio = c.best / f.best if c and f else None
        out.append(
            f"| compare within 2.5x of the floor at {rows:,} rows | "
            + (f"{ratio:.2f}x ({c.best:.2f} s vs {f.best:.2f} s)" if c and f and ratio else "")
            + f" | {_verdict(None if ratio is None else ratio <= 2.5)} |"
        )
    out += _why_fixed(found, sizes)
    t1, c1, f1 = (found.get((k, 1_000_000)) for k in ("tableone", "compare", "floor"))
    if t1 and c1 and f1:
        out.append(
            f"| compare at least 100x faster than tableone at 1,000,000 rows | "
            f"{t1.best / c1.best:.0f}x ({c1.best:.2f} s vs {t1.best:.1f} s); the floor itself is "
            f"{t1.best / f1.best:.0f}x | {_verdict(t1.best / c1.best >= 100)} |"
        )
        out.append(
            "| (why) | a whole process pays Python start-up and imports (pandas, pyarrow, "
            "scipy.special, HiGHS: about 0.6 s) before it reads a row, so at 1M rows even the "
            "floor is about 100x tableone; compare adds tests and suppression of 40,000 rows | |"
        )
    big = max(sizes)
    peak, small = found.get(("compare", big)), found.get(("compare", 2_000_000))
    if peak and small:
        out.append(
            f"| compare peak memory under 2 GiB at {big:,} rows, flat as rows grow | "
            f"{peak.peak_mib:,.0f} MiB ({small.peak_mib:,.0f} MiB at 2,000,000) | "
            f"{_verdict(peak.peak_mib < 2048)} |"
        )
    if gap_compute is not None:
        out.append(
            f"| gap under 1 s of compute ({big:,} rows, 150 areas x 4 substances x 12 "
            f"quarters) | {gap_compute:.2f} s | {_verdict(gap_compute < 1.0)} |"
        )
    if startup:
        out.append(
            f"| `unmetneed --help` under 0.5 s | {startup.best:.2f} s | "
            f"{_verdict(startup.best < 0.5)} |"
        )
    return out


if __name__ == "__main__":
    main()
