"""The unattended quarterly run: one config, every input validated first, every table
built, then all of it moved into place at once with a manifest.

Order of work (``run``):
1. resolve the period (command line, else the config);
2. read and validate every input, collecting every problem (exit 2/3, nothing written);
3. build the tables in memory: the k-anonymised extract, the gap table, the compare tables;
   every gap and compare table is protected together as one release over the people they
   count, both cohorts, with the earlier tables of the config's release folder, if any
   (``unmetneed.disclosure.release``), under the run's one policy;
4. write them into a temporary folder beside the destination: ``publish/`` (the tables and a
   manifest of publishable facts only) and ``restricted/`` (the extract, the run log with the
   inputs' paths, rows and sha256, and the release register);
5. swap that folder into place (``write.atomic_dir``): a failure anywhere leaves the
   destination exactly as it was; then add the tables to the config's release register.
``publish/`` is byte-identical for identical inputs (fixed row order, no times in it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from unmetneed.errors import InputsError, Mention, OptionError, UnmetneedError, UsageError
from unmetneed.inputs.codes import map_distinct, parse_period
from unmetneed.outputs.write import atomic_dir, sha256_file, write_table
from unmetneed.runs.config import InputSpec, RunConfig, key_spelling, keys_of
from unmetneed.runs.runlog import RunLog

if TYPE_CHECKING:
    from unmetneed.disclosure.model import Policy
    from unmetneed.disclosure.register import News
    from unmetneed.runs.config import CompareSpec
    from unmetneed.tables.compare import CompareBuild, Comparison
    from unmetneed.tables.gap import GapBuild, GapResult

MANIFEST = "manifest.json"
RUNLOG = "runlog.json"
PUBLISH = "publish"
RESTRICTED = "restricted"
WORKBOOK = "tables.xlsx"
REPORT = "report.html"
PER_TABLE = ("parquet", "csv")


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
    remarks: list[str] = field(default_factory=list)


def resolve_period(config: RunConfig, period: str | None) -> str:
    """The run's period: ``period`` (the command line's) wins over the config's; one of
    them is required."""
    chosen = period or config.period
    if chosen is None:
        give = ("no period: give ", Mention("period", "2024/25"))
        raise UsageError((*give, ' or period = "..." in the config'))
    parsed, _ = parse_period(chosen)
    if parsed is None:
        problem = "not a period like 2024/25 or 2024/25 Q2"
        raise OptionError("period", chosen, problem, quoted=True)
    return parsed


def _read(spec: InputSpec) -> tuple[Any, int]:
    """Load one input by kind; record files are read raw and prepared (validated)."""
    if spec.kind == "records":
        from unmetneed.extract.prepare import prepare, read_records

        raw, path = read_records(spec.path, columns=spec.columns, sheet=spec.sheet)
        prepare(raw, path=path)  # raises ValidationError with every failure
        return raw, len(raw)
    from unmetneed.inputs.load import load

    loaded = load(
        spec.path,
        spec.kind,
        columns=spec.columns,
        sheet=spec.sheet,
        substance=spec.substance,
        layout=spec.layout,
        header_row=spec.header_row,
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
            problems.append((name, exc.spelled_as(key_spelling(f"inputs.{name}"))))
            log.event("invalid", input=name, path=spec.path, exit=exc.exit_code)
            continue
        inputs[name] = Input(spec, data, rows, sha256_file(spec.path))
        log.event("validated", input=name)
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
        raise OptionError("period", period, f"input {name} has no rows of it (it has {have})")
    return frame[keep]


def build_extract(config: RunConfig, inputs: dict[str, Input], period: str) -> Table | None:
    """The k-anonymised extract of the period's records (or the given extract, as is)."""
    if config.extract is None:
        return None
    from unmetneed.extract.anonymise import anonymise

    source = inputs[config.extract.input]
    if source.spec.kind != "records":
        frame = in_period(source.data.frame, period, source.spec.name).reset_index(drop=True)
        return Table("extract", frame, {"table": "extract", "source": source.spec.name})
    records = in_period(source.data, period, source.spec.name)
    with keys_of("extract"):
        done = anonymise(records, config.extract.options, path=source.spec.path)
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
    config: RunConfig,
    inputs: dict[str, Input],
    extract: Table | None,
    period: str,
    policy: Policy,
) -> GapBuild | None:
    """The gap table for the period under the run's ``policy``, not yet protected (see
    ``gap.prepare``)."""
    if config.gap is None:
        return None
    from dataclasses import replace

    from unmetneed.tables.gap import prepare

    spec = config.gap
    options = replace(spec.options, periods=(period,)).with_policy(policy)
    treatment = _treatment_data(spec.treatment, inputs, extract)
    with keys_of("gap"):
        return prepare(treatment, inputs[spec.prevalence].data, options)


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
    config: RunConfig,
    inputs: dict[str, Input],
    extract: Table | None,
    period: str,
    policy: Policy,
) -> list[tuple[CompareSpec, CompareBuild]]:
    """One unprotected compare table per ``[[compare]]`` entry, each under the run's
    ``policy`` (see ``compare.prepare``)."""
    if not config.compare:
        return []
    from unmetneed.tables.compare import prepare

    builds = []
    for i, spec in enumerate(config.compare):
        cohorts = {
            label: _cohort_frame(ref, inputs, extract, period)
            for label, ref in spec.cohorts.items()
        }
        with keys_of(f"compare[{i}]"):
            builds.append((spec, prepare(cohorts, spec.options.with_policy(policy))))
    return builds


def _gap_table(result: GapResult) -> Table:
    """The gap table to write, with its metadata and remarks."""
    return Table("gap", result.table, result.meta(), [f"gap: {r}" for r in result.remarks])


def _compare_table(name: str, result: Comparison) -> Table:
    """A compare table to write, named ``compare-<name>``."""
    stem = f"compare-{name}"
    return Table(stem, result.table, result.meta(), [f"{stem}: {r}" for r in result.remarks])


@dataclass(frozen=True)
class Populations:
    """The people behind the run's tables: each gap/compare reference's population name
    (a fingerprint of its people, so the same people are one population in every release) and
    the records counted for it."""

    names: dict[str, str]
    frames: dict[str, pd.DataFrame]

    def of(self, ref: str) -> str:
        """The population of a reference (``extract`` or an input's name)."""
        return self.names[ref]


def populations(config: RunConfig, inputs: dict[str, Input], extract: Table | None) -> Populations:
    """Every reference a table counts, named and with its records."""
    from unmetneed.disclosure.release import fingerprint, population, separate

    refs = {config.gap.treatment} if config.gap is not None else set()
    refs |= {ref for spec in config.compare for ref in spec.cohorts.values()}
    names: dict[str, str] = {}
    records: dict[str, pd.DataFrame] = {}
    for ref in sorted(refs):
        if ref == "extract" and extract is not None:
            records[ref] = extract.frame
            names[ref] = population("treatment", fingerprint(extract.frame))
        else:
            data = inputs[ref].data
            records[ref] = data.frame if hasattr(data, "frame") else data
            kind = inputs[ref].spec.kind
            # a counts file counts people in treatment, as a gap command names them
            kind = "treatment" if kind == "counts" else kind
            names[ref] = population(kind, fingerprint(records[ref]))
    names = separate(names, records)
    return Populations(names, {names[ref]: records[ref] for ref in names})


def protect_tables(
    config: RunConfig,
    extract: Table | None,
    gap: GapBuild | None,
    compares: list[tuple[CompareSpec, CompareBuild]],
    people: Populations,
    period: str,
    policy: Policy,
    inputs: Mapping[str, Input] | None = None,
) -> tuple[list[Table], News, list[str]]:
    """Every gap and compare table of the run protected together as one release (with the
    earlier tables of ``config.release``, if any): returns the tables in order (gap, then
    compares), what they add to a register (``register.News``: a counts file the gap was
    made from too, :func:`_counts_inputs`) and the run's remarks about protection.
    """
    from unmetneed.disclosure import register
    from unmetneed.disclosure.release import (
        piece_meta,
        protect_pieces,
        published_names,
        sliced,
    )

    earlier: list[Any] = []
    if config.release is not None:
        earlier, was = register.read(config.release)
        register.check_policy(config.release, policy, was)
    pieces = []
    if gap is not None and config.gap is not None:
        pieces.append(gap.public(gap.piece(people.of(config.gap.treatment), "gap")))
    for spec, build in compares:
        pops = {label: people.of(ref) for label, ref in spec.cohorts.items()}
        extra = {
            label: {"period": (period,)}
            for label, ref in spec.cohorts.items()
            if not (ref == "extract" and extract is not None)
            and "period" in people.frames[people.of(ref)]
        }
        pieces.append(build.public(build.piece(f"compare-{spec.name}", pops, extra)))
    if not pieces:
        return [], register.News([]), []
    from unmetneed.disclosure.identity import same_people
    from unmetneed.inputs.stream import PEOPLE

    earlier, n_inputs = register.with_inputs(
        earlier, _counts_inputs(config, gap, people, inputs or {})
    )
    found = same_people(earlier, pieces, people.frames, PEOPLE, config.release)
    earlier = found.earlier
    pieces, guards = found.pieces[: len(pieces)], found.pieces[len(pieces) :]
    release, protection = protect_pieces(found.pieces, found.frames, policy, earlier, weight=PEOPLE)
    own = {p.name: sliced(release, protection, p.name) for p in pieces}
    tables: list[Table] = []
    if gap is not None:
        tables.append(_gap_table(gap.finish(own["gap"])))
    for spec, build in compares:
        name = f"compare-{spec.name}"
        tables.append(_compare_table(spec.name, build.finish(own[name])))
    where = str(config.release) if config.release is not None else None
    pops = published_names([*earlier, *pieces])
    for piece, table in zip(pieces, tables, strict=True):
        table.meta["disclosure"] = piece_meta(piece, own[piece.name], where, pops)
    names = ", ".join(p.name for p in pieces)
    note = (
        f"{names}: protected together as one release over the people they count"
        + (f", and against the earlier tables in {where}" if where else "")
        + f"; audit them together: unmetneed audit {' '.join(p.name + '.parquet' for p in pieces)}"
    )
    from unmetneed.disclosure.explain import why

    reasons = why(release, protection, pieces)
    everything = [*pieces, *guards]
    own.update({g.name: sliced(release, protection, g.name) for g in guards})
    protections = [own[p.name] for p in everything]
    news = register.news(everything, protections, reasons, earlier, n_inputs, found.people)
    return tables, news, [note, *found.notes]


def _counts_inputs(
    config: RunConfig, gap: GapBuild | None, people: Populations, inputs: Mapping[str, Input]
) -> list[Any]:
    """The counts file the gap was made from, as a table someone else published (when it
    has suppressed counts: ``GapBuild.inputs``); none for records."""
    if gap is None or config.gap is None or config.gap.treatment not in inputs:
        return []
    pop = people.of(config.gap.treatment)
    return list(gap.inputs(people.frames[pop], pop, inputs[config.gap.treatment].spec.path))


def build_tables(
    config: RunConfig, inputs: dict[str, Input], period: str, log: RunLog
) -> tuple[Table | None, list[Table], News, list[str]]:
    """The extract (restricted) and every published table the config asks for, protected
    together, in a fixed order; what they add to a register and the run's remarks.
    """
    extract = build_extract(config, inputs, period)
    if extract is not None:
        log.event("built", table="extract")
    policy = config.disclosure_policy()  # one object, handed to every table
    gap = prepare_gap(config, inputs, extract, period, policy)
    compares = prepare_compares(config, inputs, extract, period, policy)
    people = populations(config, inputs, extract)
    protected, entries, notes = protect_tables(
        config, extract, gap, compares, people, period, policy, inputs
    )
    for table in protected:
        log.event("built", table=table.name)
    return extract, protected, entries, notes


def _write(tables: list[Table], folder: Path, formats: tuple[str, ...]) -> list[dict[str, Any]]:
    """Write every table in every per-table format (parquet, csv); one manifest entry per
    file, in order. ``xlsx`` and ``html`` are one file for all tables (:func:`_write_joint`)."""
    entries = []
    for table in tables:
        for fmt in formats:
            if fmt not in PER_TABLE:
                continue
            path = folder / f"{table.name}.{fmt}"
            write_table(table.frame, path, meta=table.meta)
            entries.append(_entry(path, table.name, len(table.frame), table.meta))
    return entries


def _entry(path: Path, name: str, rows: int, meta: dict[str, Any]) -> dict[str, Any]:
    """A manifest entry: file, table, rows, sha256 and policy."""
    return {
        "path": path.name,
        "table": name,
        "rows": rows,
        "sha256": sha256_file(path),
        "policy": meta.get("disclosure", {}).get("policy", {}).get("name"),
    }


def _published(config: RunConfig, tables: list[Table]) -> list[Any]:
    """The run's tables as :class:`unmetneed.outputs.bundle.Published` (with the Table 1
    view of each compare table whose config asks for ``view = "table1"``)."""
    from unmetneed.outputs.bundle import Published, kind_of

    views = {f"compare-{c.name}": c.pct_digits for c in config.compare if c.view == "table1"}
    return [
        Published(
            t.name,
            kind_of(t.frame, t.meta),
            t.frame,
            tuple(str(r) for r in t.meta.get("remarks", ())),
            views.get(t.name),
        )
        for t in tables
    ]


def _write_joint(
    config: RunConfig, tables: list[Table], folder: Path, period: str
) -> list[dict[str, Any]]:
    """The files that hold every table at once: the Table 1 CSV views, ``tables.xlsx``
    (the accessible workbook) and ``report.html``, as the config's formats ask."""
    from unmetneed.outputs.workbook import Cover

    if not tables:
        return []
    items = _published(config, tables)
    entries: list[dict[str, Any]] = []
    meta = tables[0].meta
    policy = config.disclosure_policy()
    if "csv" in config.formats:
        from unmetneed.outputs.table1 import table1

        for item in items:
            if item.table1_digits is None:
                continue
            path = folder / f"{item.name}-table1.csv"
            view = table1(item.frame, item.table1_digits).shown()
            write_table(view, path, meta={"table": "compare_table1", "view_of": item.name})
            entries.append(_entry(path, f"{item.name}-table1", len(view), meta))
    cover = Cover.of(policy, config.publication, period)
    rows = sum(len(t.frame) for t in tables)
    if "xlsx" in config.formats:
        from unmetneed.outputs.bundle import publish_workbook

        path = publish_workbook(folder / WORKBOOK, items, cover)
        entries.append(_entry(path, "all tables", rows, meta))
    if "html" in config.formats:
        from unmetneed.outputs.report import publish_report

        path = publish_report(folder / REPORT, items, cover)
        entries.append(_entry(path, "all tables", rows, meta))
    return entries


def make_manifest(config: RunConfig, period: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The publishable manifest: tool, config fingerprint, period, policy, outputs.

    Nothing about the inputs (their sizes would give away counts no table shows).
    """
    from unmetneed.version import tool_version

    return {
        "tool": "unmetneed",
        "version": tool_version(),
        "period": period,
        "config_sha256": sha256_file(config.source),
        "policy": config.disclosure_policy().to_meta(),
        "outputs": outputs,
    }


def make_runlog(
    config: RunConfig,
    period: str,
    inputs: dict[str, Input],
    remarks: list[str],
    started: datetime,
) -> dict[str, Any]:
    """The restricted run log: resolved config, inputs (path, kind, rows, sha256), remarks
    (including the extract's), times."""
    return {
        "period": period,
        "config": config.resolved(),
        "config_sha256": sha256_file(config.source),
        "inputs": {
            name: {
                "path": str(i.spec.path),
                "kind": i.spec.kind,
                "rows": i.rows,
                "sha256": i.sha256,
            }
            for name, i in inputs.items()
        },
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
    """Run the quarterly job of ``config``; the destination changes only if all succeeded.

    ``DEST/publish/``: the tables in every format and ``manifest.json`` (publishable facts
    only). ``DEST/restricted/``: the extract, ``runlog.json`` and the release ``register.json``
    (true values: keep with the records). With ``release`` in the config, the release
    register there is updated too, after everything else is in place.
    """
    from unmetneed.disclosure import register

    log = log or RunLog()
    started = datetime.now(UTC)
    chosen = resolve_period(config, period)
    dest = Path(out_dir) if out_dir is not None else config.out_dir
    inputs = validate_inputs(config, log)
    extract, tables, entries, notes = build_tables(config, inputs, chosen, log)
    remarks = [r for t in ([extract] if extract else []) + tables for r in t.remarks] + notes
    with atomic_dir(dest) as tmp:
        publish, restricted = tmp / PUBLISH, tmp / RESTRICTED
        publish.mkdir()
        restricted.mkdir(mode=0o700)
        outputs = _write(tables, publish, config.formats)
        outputs += _write_joint(config, tables, publish, chosen)
        manifest = make_manifest(config, chosen, outputs)
        (publish / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if extract is not None:
            _write([extract], restricted, ("parquet",))
        runlog = make_runlog(config, chosen, inputs, remarks, started)
        (restricted / RUNLOG).write_text(json.dumps(runlog, indent=1, sort_keys=True) + "\n")
        if entries:
            register.append(restricted, entries.entries)
    if config.release is not None and entries:
        entries.add_to(config.release)
    log.event("ok", period=chosen, outputs=len(outputs), dir=dest)
    return RunResult(dest, manifest, remarks)
