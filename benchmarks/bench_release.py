"""Benchmark: protect and audit a whole release (gap + 8 compare tables) at national size.

The benchmark issue asks: "a release of gap + 8 compare tables over a 300,000-person
extract and a 3,000-person cohort, 150 areas (and 4 quarters): protect and audit within
60 s on 2 cores, at most 10x the same run with k = 0, under 2 GiB".

For each size this generates, seeded, with the helpers of ``generate.py``: a treatment
extract of N people a quarter (one quarter, 2024/25 Q4, or four, 2024/25 Q1..Q4), an
out-of-treatment cohort of M people (no period) and the prevalence file; writes a run
config (inputs ``extract``, or ``ndtms`` with 4 quarters, see ``run_size``; ``ootu``,
``prevalence``; ``[gap]``; 8 ``[[compare]]`` tables, below); then times whole processes,
each in its own session with a timeout (a timeout is a result, and ends that chain of
quarters):

- ``unmetneed run CONFIG --out-dir D --quiet`` with k = 3 (every table protected together,
  written to D/publish) and the same run with ``[disclosure] k = 0``;
- ``unmetneed audit D/publish/*.parquet`` (with 4 quarters, each quarter is run with
  ``--period`` into one release folder, ``[disclosure] release``, so it is protected
  against the quarters before it, and audited as ``audit --release`` of the whole release
  so far: what an attacker holding every quarter published would see). Times and hidden
  counts are summed over the quarters; the targets are judged on the slowest quarter.

Wall seconds come from the clock around each child; peak RSS is the child's own
``ru_maxrss`` from ``os.wait4`` (what GNU time's ``%M`` reports in ``run.py``). Prints one
markdown table (areas, people, cohort, quarters, the times, the ratio to k = 0, peak
memory, hidden counts, verdict against the targets). Not a test.

    .venv/bin/python benchmarks/bench_release.py --areas 30 --people 60000 --cohort 600
    .venv/bin/python benchmarks/bench_release.py --areas 30 75 150 --people 300000 \\
        --cohort 3000 --quarters 1 --timeout 1800

With several ``--areas`` and one ``--people``/``--cohort`` the people are those at the
largest area count, scaled in proportion to the areas (30 of 150 areas: a fifth of them);
or give one ``--people``/``--cohort`` per ``--areas``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402  (benchmarks/generate.py, beside this file)

DATA = HERE / "data"
BIN = Path(sys.executable).parent
SEED = 20261123
LAST_QUARTER = "2024/25 Q4"
QUARTERS = [f"2024/25 Q{q}" for q in (1, 2, 3, 4)]
TARGET_SECONDS = 60.0
TARGET_RATIO = 10.0
TARGET_MIB = 2048.0
AGE_BANDS = "18-29,30-39,40-49,50+"

# name, by, within (and age bands where the table has them): the 8 compare tables
COMPARES: list[tuple[str, list[str], list[str], str | None]] = [
    ("disability-by-area", ["disability"], ["area"], None),
    ("housing-by-area", ["housing"], ["area"], None),
    ("age-by-area", ["age"], ["area"], AGE_BANDS),
    ("sex-by-area", ["sex"], ["area"], None),
    ("disability-housing-by-substance", ["disability", "housing"], ["substance_cohort"], None),
    ("age-sex-by-substance", ["age", "sex"], ["substance_cohort"], None),
    ("housing-by-area-substance", ["housing"], ["area", "substance_cohort"], None),
    ("sex-by-area-substance", ["sex"], ["area", "substance_cohort"], None),
]


@dataclass(frozen=True)
class Child:
    """One child process: wall and CPU (user + system) seconds, its peak RSS (MiB), exit
    code (None: timed out)."""

    seconds: float
    cpu: float
    peak_mib: float
    code: int | None
    stderr: str

    @property
    def ok(self) -> bool:
        """Exited 0 within the timeout."""
        return self.code == 0


def child(argv: list[str], timeout: float) -> Child:
    """Run ``argv`` in a session of its own; kill the whole session after ``timeout`` s."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        err.seek(0)
        text = err.read()
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    return Child(seconds, cpu, peak, None if killed.is_set() else proc.returncode, text)


def _dict(values: list[str], n: int) -> pa.DictionaryArray:
    """A constant dictionary column (every row the first of ``values``)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int8)), pa.array(values))


def write_inputs(
    folder: Path, areas: int, people: int, cohort: int, quarters: int, changed: float = 0.0
) -> None:
    """The extract (``people`` a quarter), the cohort and the prevalence file, seeded; with
    ``changed``, a cohort file for each later quarter: the last one's people less that share
    of them (at random), and as many new people."""
    generate.N_AREAS = areas
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED + areas * 1_000_003 + people + cohort)
    periods = QUARTERS if quarters == 4 else [LAST_QUARTER]
    writer = None
    try:
        for period in periods:
            for start in range(0, people, generate.CHUNK):
                n = min(generate.CHUNK, people - start)
                table = generate.chunk(rng, n).drop_columns(["cohort", "period"])
                table = table.add_column(0, "period", _dict([period], n))
                if writer is None:
                    writer = pq.ParquetWriter(folder / "extract.parquet", table.schema)
                writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    ootu = generate.chunk(rng, cohort).drop_columns(["cohort", "period"])
    pq.write_table(ootu, folder / "ootu.parquet")
    for quarter in range(2, quarters + 1) if changed else ():
        churn = round(changed * ootu.num_rows)
        kept = np.sort(rng.choice(ootu.num_rows, ootu.num_rows - churn, replace=False))
        new = generate.chunk(rng, churn).drop_columns(["cohort", "period"])
        ootu = pa.concat_tables([ootu.take(kept), new.cast(ootu.schema)])
        pq.write_table(ootu, folder / f"ootu-Q{quarter}.parquet")
    generate.write_prevalence(folder)


def _toml(value: object) -> str:
    """A TOML value: strings and lists of strings (JSON's quoting is valid TOML here)."""
    return json.dumps(value)


def write_config(
    folder: Path, k: int, release: Path | None, out: Path, treatment: str, ootu: str = "ootu"
) -> Path:
    """The run config: 3 inputs, the gap table and the 8 compare tables, at ``k``; the
    extract is the input named ``treatment``, the cohort the file ``ootu``."""
    lines = [f"period = {_toml(LAST_QUARTER)}", "", "[disclosure]", f"k = {k}"]
    if release is not None:
        lines.append(f"release = {_toml(str(release))}")
    lines += ["", "[output]", f"dir = {_toml(str(out))}", 'formats = ["parquet"]', ""]
    for name, file, kind in ((treatment, "extract", "treatment"), ("ootu", ootu, "cohort")):
        path = folder / f"{file}.parquet"
        lines += [f"[inputs.{name}]", f"path = {_toml(str(path))}", f'kind = "{kind}"', ""]
    lines += [
        "[inputs.prevalence]",
        f"path = {_toml(str(folder / 'prevalence.parquet'))}",
        'kind = "prevalence"',
        "",
        "[gap]",
        f"treatment = {_toml(treatment)}",
        'prevalence = "prevalence"',
        "prevalence_years = 3",
        'total = "England"',
        "",
    ]
    for name, by, within, bands in COMPARES:
        lines += [
            "[[compare]]",
            f"name = {_toml(name)}",
            f'cohorts = {{ NDTMS = "{treatment}", OOTU = "ootu" }}',
            f"by = {_toml(by)}",
            f"within = {_toml(within)}",
        ]
        if bands:
            lines.append(f"age_bands = {_toml(bands)}")
        lines.append("")
    path = folder / f"release-k{k}-{ootu}.toml"
    path.write_text("\n".join(lines))
    return path


def hidden(publish: Path) -> tuple[int, int]:
    """Hidden counts (null) and all counts in D/publish: gap ``in_treatment``, compare
    ``count`` (each category's count; denominators repeat on every row, so not added)."""
    shown_hidden, total = 0, 0
    for path in sorted(publish.glob("*.parquet")):
        names = pq.read_schema(path).names
        column = "in_treatment" if "in_treatment" in names else "count"
        if column not in names:
            continue
        values = pq.read_table(path, columns=[column]).column(column)
        shown_hidden += values.null_count
        total += len(values)
    return shown_hidden, total


@dataclass
class Result:
    """The figures of one size (times summed over quarters; the slowest quarter kept)."""

    areas: int
    people: int
    cohort: int
    quarters: int
    protect: list[Child]
    plain: list[Child]
    audit: list[Child]
    hidden: int = 0
    counts: int = 0

    def _seconds(self, runs: list[Child]) -> str:
        """Wall (CPU) seconds, summed over quarters; a timeout or a failure says where."""
        where = f" in quarter {len(runs)}" if self.quarters > 1 else ""
        last = runs[-1]
        if last.code is None:
            return f"timeout{where} (> {last.seconds:,.0f})"
        if not last.ok:
            return f"failed{where} (exit {last.code}, after {last.seconds:,.0f} s)"
        text = f"{sum(c.seconds for c in runs):.1f} ({sum(c.cpu for c in runs):.1f})"
        if len(runs) > 1:
            text += f", slowest {max(c.seconds for c in runs):.1f}"
        if len(runs) < self.quarters:
            text += f", {len(runs)} of {self.quarters} quarters"
        return text

    def ratio(self) -> tuple[float, bool] | None:
        """The largest k = 3 / k = 0 wall-time ratio over the quarters, and whether it is
        only a lower bound (the k = 3 run timed out); None without a pair to compare."""
        pairs = [
            (p, q)
            for p, q in zip(self.protect, self.plain, strict=False)
            if q.ok and (p.ok or p.code is None)
        ]
        if not pairs:
            return None
        return max(p.seconds / q.seconds for p, q in pairs), any(p.code is None for p, _ in pairs)

    def row(self) -> str:
        """The markdown row of this size."""
        ratio = self.ratio()
        peak_run = max((c.peak_mib for c in self.protect), default=0.0)
        peak_audit = max((c.peak_mib for c in self.audit), default=0.0)
        share = f" ({100 * self.hidden / self.counts:.1f}%)" if self.counts else ""
        return (
            f"| {self.areas} | {self.people:,} | {self.cohort:,} | {self.quarters} "
            f"| {self._seconds(self.protect)} | {self._seconds(self.plain)} "
            f"| {_ratio(ratio)} "
            f"| {self._seconds(self.audit) if self.audit else 'not run'} "
            f"| {peak_run:,.0f} / {peak_audit:,.0f} "
            f"| {f'{self.hidden:,} of {self.counts:,}{share}' if self.counts else ''} "
            f"| {self.verdict(ratio)} |"
        )

    def verdict(self, ratio: tuple[float, bool] | None) -> str:
        """Each target met or not: 60 s (run + audit, the slowest quarter), 10x k = 0, 2 GiB.
        After a timeout the time and ratio are lower bounds (``>``), the memory so far."""
        if not self.protect:
            return "not run"
        runs = self.protect + self.audit
        bad = next((c for c in runs + self.plain if c.code not in (0, None)), None)
        if bad is not None:
            return f"**not met** (failed: exit {bad.code})"
        cut = any(c.code is None for c in runs)
        audits: list[Child | None] = [*self.audit, *[None] * (len(self.protect) - len(self.audit))]
        quarter = max(
            p.seconds + (a.seconds if a else 0.0) for p, a in zip(self.protect, audits, strict=True)
        )
        peak = max(c.peak_mib for c in runs)
        parts = [
            f"{'> ' if cut else ''}{quarter:,.0f} s "
            + (
                "**over 60 s**"
                if quarter > TARGET_SECONDS
                else ("**not finished**" if cut else "ok")
            ),
            "k=0 did not finish"
            if ratio is None
            else f"{_ratio(ratio)} {'ok' if ratio[0] <= TARGET_RATIO else '**over 10x**'}",
            f"{peak:,.0f} MiB{' at the timeout' if cut else ''} "
            + ("ok" if peak < TARGET_MIB else "**over 2 GiB**"),
        ]
        met = "**not met**" if "**" in "".join(parts) else "met"
        return f"{met}: " + "; ".join(parts)


def _ratio(ratio: tuple[float, bool] | None) -> str:
    """``12.3x`` (``> 12.3x`` when the k = 3 run timed out), or nothing."""
    if ratio is None:
        return ""
    return f"{'> ' if ratio[1] else ''}{ratio[0]:.1f}x"


def run_size(
    areas: int, people: int, cohort: int, quarters: int, timeout: float, changed: float = 0.0
) -> Result:
    """Generate (once), then run with k = 3, with k = 0, and audit; every quarter (with
    ``changed``, each quarter's own cohort file)."""
    folder = DATA / f"release_{areas}_{people}_{cohort}_{quarters}"
    folder = folder.with_name(folder.name + (f"_changed{changed:g}" if changed else ""))
    if not (folder / "prevalence.parquet").exists():
        write_inputs(folder, areas, people, cohort, quarters, changed)
    result = Result(areas, people, cohort, quarters, [], [], [])
    periods = QUARTERS if quarters == 4 else [LAST_QUARTER]
    # With 4 quarters in the file the input is named "ndtms": at 13af2e2 the run takes a
    # cohort named "extract" for the extract it made of one period (pipeline.protect_tables
    # adds no period to its cells), even with no [extract] table, and stops (exit 4: counts
    # not the sum of the people they describe). One quarter in the file is not affected.
    treatment = "ndtms" if quarters == 4 else "extract"
    with tempfile.TemporaryDirectory(prefix="bench_release_") as tmp:
        work = Path(tmp)
        for k in (3, 0):
            release = work / f"release-k{k}" if quarters == 4 else None
            for q, period in enumerate(periods, 1):
                ootu = f"ootu-Q{q}" if changed and q > 1 else "ootu"
                config = write_config(folder, k, release, work / "unused", treatment, ootu)
                out = work / f"out-k{k}-{period[-2:]}"
                argv = [str(BIN / "unmetneed"), "run", str(config), "--out-dir", str(out)]
                argv += ["--quiet", *(["--period", period] if quarters == 4 else [])]
                ran = child(argv, timeout)
                (result.protect if k else result.plain).append(ran)
                _progress(f"{areas} areas, k={k}, {period}: run", ran)
                if not ran.ok:
                    break
                if k == 0:
                    continue
                found, total = hidden(out / "publish")
                result.hidden, result.counts = result.hidden + found, result.counts + total
                tables = sorted(str(p) for p in (out / "publish").glob("*.parquet"))
                audit = [str(BIN / "unmetneed"), "audit"]
                audit += ["--release", str(release)] if release is not None else tables
                checked = child(audit, timeout)
                result.audit.append(checked)
                _progress(f"{areas} areas, k={k}, {period}: audit", checked)
                shutil.rmtree(out, ignore_errors=True)
                if checked.code is None:  # later quarters audit more: they would too
                    break
    return result


def _progress(what: str, ran: Child) -> None:
    state = "timeout" if ran.code is None else f"exit {ran.code}"
    print(
        f"{what}: {ran.seconds:.1f} s ({ran.cpu:.1f} s CPU), {ran.peak_mib:,.0f} MiB, {state}",
        file=sys.stderr,
    )
    if ran.code not in (0, None):
        print(ran.stderr[-2000:], file=sys.stderr)


def _scaled(given: list[int], areas: list[int]) -> list[int]:
    """One figure per area count: as given, or one figure scaled from the largest areas."""
    if len(given) == len(areas):
        return given
    if len(given) != 1:
        raise SystemExit("give one --people/--cohort, or one per --areas")
    return [round(given[0] * a / max(areas)) for a in areas]


HEADER = [
    "| areas | people | cohort | quarters | run k=3 s (CPU s) | run k=0 s (CPU s) "
    "| ratio | audit s (CPU s) | peak MiB (run / audit) | hidden counts "
    "| verdict (60 s; 10x; 2 GiB) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
]


def measured_code() -> str:
    """Which unmetneed the children run: this repository's commit (and whether src/ has
    uncommitted changes), or the folder it is imported from (e.g. through PYTHONPATH)."""
    found = subprocess.run(
        [str(BIN / "python"), "-c", "import unmetneed; print(unmetneed.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    src = Path(found).resolve().parents[1] if found else None
    repo = HERE.parent
    if src != repo / "src":
        return f"unmetneed imported from {src}"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = " + uncommitted changes to src/" if git("status", "--porcelain", "--", "src") else ""
    return f"unmetneed at {git('rev-parse', '--short', 'HEAD')}{dirty}"


def main() -> None:
    """Print the markdown table, one row per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, nargs="+", default=[150])
    parser.add_argument("--people", type=int, nargs="+", default=[300_000])
    parser.add_argument("--cohort", type=int, nargs="+", default=[3_000])
    parser.add_argument("--quarters", type=int, choices=(1, 4), default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child")
    parser.add_argument(
        "--changed",
        type=float,
        default=0.0,
        help="with 4 quarters, the share of the cohort gone (and as many added) each quarter",
    )
    args = parser.parse_args()
    people, cohort = _scaled(args.people, args.areas), _scaled(args.cohort, args.areas)
    code = measured_code()
    print("\n".join(HEADER), flush=True)
    for a, n, m in zip(args.areas, people, cohort, strict=True):
        print(run_size(a, n, m, args.quarters, args.timeout, args.changed).row(), flush=True)
    print(f"\nMeasured: {code}; {os.cpu_count()} cores; one run of each.")


if __name__ == "__main__":
    main()
