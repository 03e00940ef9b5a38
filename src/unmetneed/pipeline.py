"""The unattended quarterly run: one config, every input validated first, every table
built, then all of it moved into place at once with a manifest.

Order of work (``run``):
1. resolve the period (command line, else the config);
2. read and validate every input, collecting every problem (exit 2/3, nothing written);
3. build the tables in memory: the k-anonymised extract, the gap table, the compare tables;
4. write them into a temporary folder beside the destination, with ``manifest.json``;
5. swap that folder into place (``write.atomic_dir``): a failure anywhere leaves the
   destination exactly as it was.
Outputs are byte-identical for identical inputs (fixed row order, no times inside data
files); only the manifest's ``run`` times differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from unmetneed.codes import map_distinct, parse_period
from unmetneed.config import InputSpec, RunConfig
from unmetneed.errors import InputsError, UnmetneedError, UsageError
from unmetneed.runlog import RunLog
from unmetneed.write import atomic_dir, sha256_file, write_table

MANIFEST = "manifest.json"


@dataclass
class Input:
    """A validated input: its frame (typed, or raw record rows), size and fingerprint."""

    spec: InputSpec
    data: Any
    rows: int
    sha256: str


@dataclass
class Table:
    """A built, protected table ready to write: file stem, frame and metadata."""

    name: str
    frame: pd.DataFrame
    meta: dict[str, Any]
    remarks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunResult:
    """What a run wrote: the destination folder and its manifest."""

    dest: Path
    manifest: dict[str, Any]


def resolve_period(config: RunConfig, period: str | None) -> str:
    """The run's period: ``--period`` wins over the config's; one of them is required."""
    chosen = period or config.period
    if chosen is None:
        raise UsageError('no period: give --period 2024/25 or period = "..." in the config')
    parsed, _ = parse_period(chosen)
    if parsed is None:
        raise UsageError(f"--period {chosen!r}: not a period like 2024/25 or 2024/25 Q2")
    return parsed


def _read(spec: InputSpec) -> tuple[Any, int]:
    """Load one input by kind; record files are read raw and prepared (validated)."""
    if spec.kind == "records":
        from unmetneed.anonymise import prepare, read_records

        raw, path = read_records(spec.path, columns=spec.columns, sheet=spec.sheet)
        prepare(raw, path=path)  # raises ValidationError with every failure
        return raw, len(raw)
    from unmetneed.load import load

    loaded = load(
        spec.path, spec.kind, columns=spec.columns, sheet=spec.sheet, substance=spec.substance
    )
    return loaded, len(loaded.frame)


def validate_inputs(config: RunConfig, log: RunLog) -> dict[str, Input]:
    """Every input read and validated; every problem collected into one InputsError."""
    inputs: dict[str, Input] = {}
    problems: list[tuple[str, UnmetneedError]] = []
    for name, spec in config.inputs.items():
        try:
            data, rows = _read(spec)
        except UnmetneedError as exc:
            problems.append((name, exc))
            log.event("invalid", input=name, path=spec.path, exit=exc.exit_code)
            continue
        inputs[name] = Input(spec, data, rows, sha256_file(spec.path))
        log.event("validated", input=name, rows=rows)
    if problems:
        raise InputsError(problems)
    return inputs


def in_period(frame: pd.DataFrame, period: str, name: str = "") -> pd.DataFrame:
    """Rows of ``period`` (all rows when the frame has no period column).

    With ``name``, an input that has no row of the period is a UsageError naming the
    periods it does have (a cron job pointed at last quarter's file must not publish
    empty tables).
    """
    if "period" not in frame:
        return frame
    parsed = map_distinct(frame["period"].astype("string"), lambda v: parse_period(v)[0])
    keep = (parsed == period).to_numpy()
    if name and not keep.any():
        have = ", ".join(sorted({str(p) for p in parsed.dropna().unique()})) or "none"
        raise UsageError(f"--period {period}: input {name} has no rows of it (it has {have})")
    return frame[keep]


def build_extract(config: RunConfig, inputs: dict[str, Input], period: str) -> Table | None:
    """The k-anonymised extract of the period's records (or the given extract, as is)."""
    if config.extract is None:
        return None
    from unmetneed.anonymise import AnonymiseOptions, anonymise

    source = inputs[config.extract.input]
    if source.spec.kind != "records":
        frame = in_period(source.data.frame, period, source.spec.name).reset_index(drop=True)
        return Table("extract", frame, {"table": "extract", "source": source.spec.name})
    records = in_period(source.data, period, source.spec.name)
    done = anonymise(
        records,
        AnonymiseOptions(k=config.extract.k, quasi=config.extract.quasi),
        path=source.spec.path,
    )
    sol = done.solution
    remark = (
        f"extract: {sol.rows_kept:,} rows released at k={done.k}, "
        f"{int(sol.removed.sum()):,} removed, "
        f"{int(sol.suppressed.sum()):,} values set to not_stated"
    )
    return Table(
        "extract",
        done.extract.reset_index(drop=True),
        {"table": "extract", **done.meta()},
        [remark],
    )


def _treatment_data(ref: str, inputs: dict[str, Input], extract: Table | None) -> Any:
    """A gap/compare reference: the made extract, or a loaded input."""
    if ref == "extract" and extract is not None:
        return extract.frame
    return inputs[ref].data


def build_gap(
    config: RunConfig, inputs: dict[str, Input], extract: Table | None, period: str
) -> Table | None:
    """The protected gap table for the period."""
    if config.gap is None:
        return None
    from unmetneed.gap import GapOptions, compute

    spec = config.gap
    options = GapOptions(
        periods=(period,),
        prevalence_years=spec.prevalence_years,
        substances=spec.substances or (),
        k=config.k,
        policy=config.policy,
        zeros_disclosive=config.zeros_disclosive,
        total=spec.total,
    )
    result = compute(
        _treatment_data(spec.treatment, inputs, extract), inputs[spec.prevalence].data, options
    )
    return Table("gap", result.table, result.meta(), [f"gap: {r}" for r in result.remarks])


def _cohort_frame(
    ref: str, inputs: dict[str, Input], extract: Table | None, period: str
) -> pd.DataFrame:
    """A compare cohort: the made extract, or an input's rows of the period (cohort files
    without a period column are taken whole)."""
    if ref == "extract" and extract is not None:
        return extract.frame
    frame: pd.DataFrame = inputs[ref].data.frame
    return in_period(frame, period, ref).reset_index(drop=True)


def build_compares(
    config: RunConfig, inputs: dict[str, Input], extract: Table | None, period: str
) -> list[Table]:
    """One protected compare table per ``[[compare]]`` entry, named ``compare-<name>``."""
    if not config.compare:
        return []
    from unmetneed.compare import CompareOptions, compare
    from unmetneed.disclosure import Policy

    k = Policy.named(config.policy, config.k, config.zeros_disclosive).k
    tables = []
    for spec in config.compare:
        cohorts = {
            label: _cohort_frame(ref, inputs, extract, period)
            for label, ref in spec.cohorts.items()
        }
        bands = tuple(b.strip() for b in spec.age_bands.split(",")) if spec.age_bands else ()
        options = CompareOptions(
            by=spec.by,
            within=spec.within,
            age_bands=bands,
            exclude_not_stated=spec.exclude_not_stated,
            k=k,
            zeros_disclosive=config.zeros_disclosive,
        )
        result = compare(cohorts, options)
        tables.append(
            Table(
                f"compare-{spec.name}",
                result.table,
                result.meta(),
                [f"compare-{spec.name}: {r}" for r in result.remarks],
            )
        )
    return tables


def build_tables(
    config: RunConfig, inputs: dict[str, Input], period: str, log: RunLog
) -> list[Table]:
    """Every table the config asks for, protected, in a fixed order."""
    tables: list[Table] = []
    extract = build_extract(config, inputs, period)
    if extract is not None:
        tables.append(extract)
        log.event("built", table="extract", rows=len(extract.frame))
    gap = build_gap(config, inputs, extract, period)
    if gap is not None:
        tables.append(gap)
        log.event("built", table="gap", rows=len(gap.frame))
    for table in build_compares(config, inputs, extract, period):
        tables.append(table)
        log.event("built", table=table.name, rows=len(table.frame))
    return tables


def _write(tables: list[Table], folder: Path, formats: tuple[str, ...]) -> list[dict[str, Any]]:
    """Write every table in every format; one manifest entry per file, in order."""
    entries = []
    for table in tables:
        for fmt in formats:
            path = folder / f"{table.name}.{fmt}"
            write_table(table.frame, path, meta=table.meta)
            entries.append(
                {
                    "path": path.name,
                    "table": table.name,
                    "rows": len(table.frame),
                    "columns": [str(c) for c in table.frame.columns],
                    "sha256": sha256_file(path),
                }
            )
    return entries


def make_manifest(
    config: RunConfig,
    period: str,
    inputs: dict[str, Input],
    outputs: list[dict[str, Any]],
    remarks: list[str],
    started: datetime,
) -> dict[str, Any]:
    """The manifest: tool, resolved config, period, disclosure, inputs, outputs, remarks."""
    from unmetneed import __version__

    return {
        "tool": "unmetneed",
        "version": __version__,
        "period": period,
        "config": config.resolved(),
        "config_sha256": sha256_file(config.source),
        "disclosure": {
            "k": config.k,
            "policy": config.policy,
            "zeros_disclosive": config.zeros_disclosive,
        },
        "inputs": {
            name: {
                "path": str(i.spec.path),
                "kind": i.spec.kind,
                "rows": i.rows,
                "sha256": i.sha256,
            }
            for name, i in inputs.items()
        },
        "outputs": outputs,
        "remarks": remarks,
        "run": {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }


def run(
    config: RunConfig,
    *,
    period: str | None = None,
    out_dir: Path | None = None,
    log: RunLog | None = None,
) -> RunResult:
    """Run the quarterly job of ``config``; the destination changes only if all succeeded."""
    log = log or RunLog()
    started = datetime.now(UTC)
    chosen = resolve_period(config, period)
    dest = Path(out_dir) if out_dir is not None else config.out_dir
    inputs = validate_inputs(config, log)
    tables = build_tables(config, inputs, chosen, log)
    remarks = [r for t in tables for r in t.remarks]
    with atomic_dir(dest) as tmp:
        outputs = _write(tables, tmp, config.formats)
        manifest = make_manifest(config, chosen, inputs, outputs, remarks, started)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    log.event("ok", period=chosen, outputs=len(outputs), dir=dest)
    return RunResult(dest, manifest)
