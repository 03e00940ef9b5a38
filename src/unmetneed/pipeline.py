"""The unattended quarterly run: one config, every input validated first, every table
built, then all of it moved into place at once with a manifest.

Order of work (``run``):
1. resolve the period (command line, else the config);
2. read and validate every input, collecting every problem (exit 2/3, nothing written);
3. build the tables in memory: the k-anonymised extract, the gap table, the compare tables;
   the gap and compare tables that count people of the made extract are protected together
   as linked tables (``unmetneed.linked``), so no suppressed count in one can be worked out
   from another; each is written with the whole linked structure, for
   ``unmetneed audit gap.parquet compare-*.parquet``;
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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from unmetneed.codes import map_distinct, parse_period
from unmetneed.config import InputSpec, RunConfig
from unmetneed.errors import InputsError, UnmetneedError, UsageError
from unmetneed.runlog import RunLog
from unmetneed.write import atomic_dir, sha256_file, write_table

if TYPE_CHECKING:
    from unmetneed.compare import CompareBuild, Comparison
    from unmetneed.config import CompareSpec
    from unmetneed.disclosure import Policy
    from unmetneed.gap import GapBuild, GapResult

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


def prepare_gap(
    config: RunConfig, inputs: dict[str, Input], extract: Table | None, period: str
) -> GapBuild | None:
    """The gap table for the period, not yet protected (see ``gap.prepare``)."""
    if config.gap is None:
        return None
    from unmetneed.gap import GapOptions, prepare

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
    return prepare(
        _treatment_data(spec.treatment, inputs, extract), inputs[spec.prevalence].data, options
    )


def _cohort_frame(
    ref: str, inputs: dict[str, Input], extract: Table | None, period: str
) -> pd.DataFrame:
    """A compare cohort: the made extract, or an input's rows of the period (cohort files
    without a period column are taken whole)."""
    if ref == "extract" and extract is not None:
        return extract.frame
    frame: pd.DataFrame = inputs[ref].data.frame
    return in_period(frame, period, ref).reset_index(drop=True)


def prepare_compares(
    config: RunConfig, inputs: dict[str, Input], extract: Table | None, period: str
) -> list[tuple[CompareSpec, CompareBuild]]:
    """One unprotected compare table per ``[[compare]]`` entry (see ``compare.prepare``)."""
    if not config.compare:
        return []
    from unmetneed.compare import CompareOptions, prepare
    from unmetneed.disclosure import Policy

    k = Policy.named(config.policy, config.k, config.zeros_disclosive).k
    builds = []
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
        builds.append((spec, prepare(cohorts, options)))
    return builds


def _gap_table(result: GapResult) -> Table:
    """The gap table to write, with its metadata and remarks."""
    return Table("gap", result.table, result.meta(), [f"gap: {r}" for r in result.remarks])


def _compare_table(name: str, result: Comparison) -> Table:
    """A compare table to write, named ``compare-<name>``."""
    stem = f"compare-{name}"
    return Table(stem, result.table, result.meta(), [f"{stem}: {r}" for r in result.remarks])


def protect_tables(
    config: RunConfig,
    extract: Table | None,
    gap: GapBuild | None,
    compares: list[tuple[CompareSpec, CompareBuild]],
) -> tuple[list[Table], list[str]]:
    """Every gap and compare table protected: those that count people of the made extract
    together as linked tables (``unmetneed.linked``), the others each on its own. Returns
    the tables in order (gap, then compares) and the run's remarks about linking.
    """
    from unmetneed.disclosure import Policy, protect

    policy = Policy.named(config.policy, config.k, config.zeros_disclosive)
    chosen, notes = _linkable(config, extract, gap, compares, policy)
    done: dict[str, Table] = {}
    if len(chosen) >= 2 and extract is not None:
        done, note = _protect_linked(extract.frame, gap, compares, chosen, policy)
        notes.insert(0, note)
    if gap is not None and "gap" not in done:
        done["gap"] = _gap_table(gap.finish(protect(gap.cells, gap.policy)))
    for spec, build in compares:
        name = f"compare-{spec.name}"
        if name not in done:
            done[name] = _compare_table(spec.name, build.finish(protect(build.cells, build.policy)))
    order = (["gap"] if gap is not None else []) + [f"compare-{s.name}" for s, _ in compares]
    return [done[name] for name in order], notes


def _linkable(
    config: RunConfig,
    extract: Table | None,
    gap: GapBuild | None,
    compares: list[tuple[CompareSpec, CompareBuild]],
    policy: Policy,
) -> tuple[list[str], list[str]]:
    """The tables to protect together (those counting people of the made extract of the
    period: gap when its treatment is ``extract``, compares with an ``extract`` cohort),
    and a remark for each table that shares people but is protected on its own.
    """
    if extract is None or policy.round_to:
        why = (
            "the run makes no extract"
            if extract is None
            else f"the {policy.name} policy rounds counts, which linked protection does not cover"
        )
        shares = _sharing(config, compares)
        return [], [f"{n}: protected on its own, not linked ({why})" for n in shares]
    chosen: list[str] = []
    notes: list[str] = []
    if gap is not None and config.gap is not None:
        if config.gap.treatment == "extract":
            chosen.append("gap")
        else:
            notes.append(
                f"gap: protected on its own (its treatment input {config.gap.treatment!r} is "
                "not the run's extract, so it is not linked with the compare tables)"
            )
    for spec, _build in compares:
        name = f"compare-{spec.name}"
        if "extract" in spec.cohorts.values():
            chosen.append(name)
        elif any(ref == _gap_ref(config) for ref in spec.cohorts.values()):
            notes.append(
                f"{name}: protected on its own: its cohorts are not the run's extract, though "
                "one is the gap's treatment input (audit it, and publish it, with care)"
            )
    return chosen, notes


def _gap_ref(config: RunConfig) -> str | None:
    """The gap's treatment reference, if the run makes a gap table."""
    return config.gap.treatment if config.gap is not None else None


def _sharing(config: RunConfig, compares: list[tuple[CompareSpec, CompareBuild]]) -> list[str]:
    """Tables that count people of the extract (named for a remark when not linked)."""
    out = ["gap"] if config.gap is not None and config.gap.treatment == "extract" else []
    out += [f"compare-{s.name}" for s, _ in compares if "extract" in s.cohorts.values()]
    return out if len(out) >= 2 else []


def _protect_linked(
    extract: pd.DataFrame,
    gap: GapBuild | None,
    compares: list[tuple[CompareSpec, CompareBuild]],
    chosen: list[str],
    policy: Policy,
) -> tuple[dict[str, Table], str]:
    """The chosen tables protected as one linked set; each written with the whole linked
    structure in its metadata. Returns them by name and a remark saying so.
    """
    from unmetneed.linked import Part, link, sliced

    no_members = pd.DataFrame({"row": np.zeros(0, np.int64), "cell": np.zeros(0, np.int64)})
    parts: list[Part] = []
    if gap is not None and "gap" in chosen:
        parts.append(Part("gap", gap.cells, gap.members))
    for spec, build in compares:
        name = f"compare-{spec.name}"
        if name in chosen:
            mine = [build.members(label) for label, ref in spec.cohorts.items() if ref == "extract"]
            parts.append(Part(name, build.cells, pd.concat([no_members, *mine], ignore_index=True)))
    linked = link(extract, parts)
    protection = linked.protect(policy)
    slices = {name: sliced(linked, protection, name) for name in linked.names}
    done: dict[str, Table] = {}
    if gap is not None and "gap" in slices:
        done["gap"] = _gap_table(gap.finish(slices["gap"]))
    for spec, build in compares:
        name = f"compare-{spec.name}"
        if name in slices:
            done[name] = _compare_table(spec.name, build.finish(slices[name]))
    for name, own in slices.items():  # every table finished: its derived columns are known
        protection.derived[name] = own.derived.get("", [])
    for name, table in done.items():
        table.meta["disclosure"] = linked.meta(protection, name)
    files = " ".join(f"{n}.parquet" for n in linked.names)
    note = (
        f"{', '.join(linked.names)}: protected together as linked tables ({linked.n_links} "
        f"cells tied to the {linked.n_atoms} extract groups of area x drug_group x crack they "
        f"count); audit them together: unmetneed audit {files}"
    )
    return done, note


def build_tables(
    config: RunConfig, inputs: dict[str, Input], period: str, log: RunLog
) -> tuple[list[Table], list[str]]:
    """Every table the config asks for, protected (linked where they share people), in a
    fixed order, and the run's remarks about how they were protected together.
    """
    tables: list[Table] = []
    extract = build_extract(config, inputs, period)
    if extract is not None:
        tables.append(extract)
        log.event("built", table="extract", rows=len(extract.frame))
    gap = prepare_gap(config, inputs, extract, period)
    compares = prepare_compares(config, inputs, extract, period)
    protected, notes = protect_tables(config, extract, gap, compares)
    for table in protected:
        tables.append(table)
        log.event("built", table=table.name, rows=len(table.frame))
    return tables, notes


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
    tables, notes = build_tables(config, inputs, chosen, log)
    remarks = [r for t in tables for r in t.remarks] + notes
    with atomic_dir(dest) as tmp:
        outputs = _write(tables, tmp, config.formats)
        manifest = make_manifest(config, chosen, inputs, outputs, remarks, started)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    log.event("ok", period=chosen, outputs=len(outputs), dir=dest)
    return RunResult(dest, manifest)
