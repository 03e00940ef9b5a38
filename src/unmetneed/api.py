"""The library's front door: every command as one call, on files or DataFrames.

Each function takes paths (read, renamed and validated as the command reads them) or
pandas DataFrames in the contract's columns (normalised and validated the same way: a
frame that fails raises :class:`unmetneed.errors.ValidationError` naming its rows as
lines, the header being line 1; read a CSV file as text, ``pd.read_csv(f, dtype=str,
keep_default_na=False)``, to keep values pandas would read as missing, such as the
religion ``None``), and returns the command's typed result with its
numbered remarks. Nothing here prints or writes a file, except :func:`run`, whose job is
writing its folder. The command line (``unmetneed.cli``) is one client of these.

=============================  =========================================================
``gap(treatment, prevalence)``  :class:`unmetneed.tables.gap.GapResult` (``.table``, ``.remarks``)
``compare(cohorts, options)``   :class:`unmetneed.tables.compare.Comparison`
``suppress_table(table)``       :class:`unmetneed.disclosure.suppress.Suppressed`
``audit(tables)``               :class:`unmetneed.disclosure.audit.Audit` (``.ok``)
``explain(release)``            :class:`Explanation` (why each suppressed cell is hidden)
``anonymise(records)``          :class:`unmetneed.extract.anonymise.Anonymised` (``anonymise_plan``)
``validate(file, kind)``        :class:`Validated` (the typed frame, notes, a summary)
``chart(table)``                :class:`unmetneed.outputs.charts.Chart`
``run(config)``                 :class:`unmetneed.runs.pipeline.RunResult`
=============================  =========================================================

A bad option is an :class:`unmetneed.errors.OptionError` (a ``UsageError``, exit 2 on the
command line) with ``option`` (the parameter or field: ``k``, ``periods``...), ``value``
(the text given, or None) and ``problem``; ``str(error)`` reads ``k=-1: use 0 ...``.

>>> import pandas as pd
>>> from unmetneed.api import GapOptions, gap
>>> treated = pd.DataFrame({"period": ["2024/25"] * 2, "area": ["Eastbury"] * 2,
...                         "substance": ["opiate_crack"] * 2, "count": [100, 60]})
>>> estimate = pd.DataFrame({"period": ["2024/25"], "area": ["Eastbury"],
...                          "substance": ["opiate_crack"], "estimate": [400.0]})
>>> result = gap(treated, estimate, GapOptions(prevalence_years=1))
>>> result.table[["in_treatment", "unmet_need_pct"]].to_dict("records")
[{'in_treatment': 160, 'unmet_need_pct': 60.0}]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, overload

import pandas as pd

from unmetneed.errors import OptionError, ValidationError

if TYPE_CHECKING:
    from unmetneed.disclosure.audit import Audit
    from unmetneed.disclosure.audit_tables import Structure
    from unmetneed.disclosure.suppress import Suppressed, SuppressOptions
    from unmetneed.extract.anonymise import Anonymised
    from unmetneed.extract.options import AnonymiseOptions
    from unmetneed.inputs.load import InputOptions, Loaded
    from unmetneed.outputs.charts import Chart
    from unmetneed.runs.config import RunConfig
    from unmetneed.runs.pipeline import RunResult
    from unmetneed.runs.runlog import RunLog
    from unmetneed.tables.compare import CompareOptions, Comparison
    from unmetneed.tables.gap import GapOptions, GapResult
    from unmetneed.tables.suppressed import SuppressedFile

__all__ = [
    "AnonymiseOptions",
    "CompareOptions",
    "GapOptions",
    "Explanation",
    "InputOptions",
    "Source",
    "Validated",
    "anonymise",
    "anonymise_plan",
    "audit",
    "chart",
    "compare",
    "explain",
    "gap",
    "run",
    "suppress_table",
    "validate",
]

# The options classes, imported when first asked for (a command pays only for its own).
_OPTIONS = {
    "AnonymiseOptions": "unmetneed.extract.options",
    "CompareOptions": "unmetneed.tables.compare",
    "GapOptions": "unmetneed.tables.gap",
    "InputOptions": "unmetneed.inputs.load",
}


def __getattr__(name: str) -> Any:
    """``GapOptions`` and the other options classes, imported when first asked for."""
    if name not in _OPTIONS:
        raise AttributeError(f"module 'unmetneed.api' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_OPTIONS[name]), name)


Source: TypeAlias = str | Path | pd.DataFrame
"""An input: a file's path, or a DataFrame in the contract's columns."""


def gap(
    treatment: Source | Sequence[Source],
    prevalence: Source,
    options: GapOptions | None = None,
    *,
    treatment_columns: Mapping[str, str] | None = None,
    prevalence_columns: Mapping[str, str] | None = None,
    columns: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    reading: Mapping[str, InputOptions] | None = None,
    release: Path | str | None = None,
) -> GapResult:
    """The protected gap table: percent of each area's estimated people (prevalence)
    not in treatment, per substance and period, with remarks.

    ``treatment``: a record extract or counts (``count`` column) file or frame, or several
    read together; ``prevalence``: the estimates. ``*_columns``: ``NEW=OLD`` renames of a
    file's columns; ``columns``: renames (``(NEW, OLD)`` pairs, a NEW possibly twice) for
    whichever file has a column OLD, both if both have it; ``reading``: per input
    (``treatment``, ``prevalence``) a sheet, header row, layout. ``release``: a folder of
    tables published earlier, protected together (``result.protected.record()`` adds this
    table once it is published).
    """
    from unmetneed.tables import gap as gap_module
    from unmetneed.tables.gap.inputs import _together

    several = not isinstance(treatment, (str, Path, pd.DataFrame))
    items: list[Source] = (
        [treatment] if isinstance(treatment, (str, Path, pd.DataFrame)) else list(treatment)
    )
    if all(isinstance(t, (str, Path)) for t in items) and isinstance(prevalence, (str, Path)):
        paths = [Path(t) for t in items]  # type: ignore[arg-type]
        return gap_module.compute_files(
            paths if several else paths[0],
            prevalence,
            options,
            treatment_columns=treatment_columns,
            prevalence_columns=prevalence_columns,
            columns=list(columns.items() if isinstance(columns, Mapping) else columns or ()),
            release=release,
            reading=reading,
        )
    frames = [_frame_input(t, "counts" if _has_count(t) else "treatment") for t in items]
    treat = frames[0] if len(frames) == 1 else _together(frames)
    prev = _frame_input(prevalence, "prevalence", _one_substance(options))
    return gap_module.compute(treat, prev, options, release=release)


def compare(
    cohorts: Mapping[str, Source] | Source,
    options: CompareOptions,
    *,
    kind: str = "auto",
    columns: Mapping[str, str] | None = None,
    reading: InputOptions | None = None,
    release: Path | str | None = None,
) -> Comparison:
    """The protected comparison of cohorts (label -> file or frame; or one file or frame
    whose ``cohort`` column labels its rows): each category's count and percent of its
    group (denominator: the group's people) with intervals, differences and tests.

    ``remarks`` start with what reading the files noted. ``kind``: ``auto``,
    ``treatment`` or ``cohort`` (how to read files); ``columns``: ``NEW=OLD`` renames.
    """
    from unmetneed.inputs.load import InputOptions
    from unmetneed.tables import compare as compare_module
    from unmetneed.tables.compare.files import compare_files

    named = dict(cohorts) if isinstance(cohorts, Mapping) else {None: cohorts}
    if all(isinstance(v, (str, Path)) for v in named.values()):
        files: list[tuple[str | None, Path]] = [
            (None if k is None else str(k), Path(v))
            for k, v in named.items()
            if isinstance(v, (str, Path))
        ]
        how = reading or InputOptions()
        result, notes = compare_files(files, options, kind, columns, release=release, how=how)
        return replace(result, remarks=(*notes, *result.remarks))
    frames = {k: _frame_input(v, _cohort_kind(v, kind)).frame for k, v in named.items()}
    if None in frames:
        return compare_module.compare(frames[None], options, release=release)
    return compare_module.compare({str(k): f for k, f in frames.items()}, options, release=release)


@overload
def suppress_table(
    table: pd.DataFrame,
    options: SuppressOptions | None = None,
    *,
    hierarchy: Sequence[str] = (),
    reading: InputOptions | None = None,
    release: Path | str | None = None,
) -> Suppressed: ...


@overload
def suppress_table(
    table: str | Path,
    options: SuppressOptions | None = None,
    *,
    hierarchy: Sequence[str] = (),
    reading: InputOptions | None = None,
    release: Path | str | None = None,
) -> SuppressedFile: ...


def suppress_table(
    table: Source,
    options: SuppressOptions | None = None,
    *,
    hierarchy: Sequence[str] = (),
    reading: InputOptions | None = None,
    release: Path | str | None = None,
) -> Suppressed:
    """A long table of counts (dimension columns + ``count``) with its small counts, and
    enough others that none can be worked out, suppressed (``suppress.suppress_table``).

    ``hierarchy``: ``CHILD=PARENT`` pairs of the table's columns (rows named after a parent
    sum its children), checked against its columns once it is read (or set
    ``options.hierarchy``). From a file, the result is a
    :class:`unmetneed.tables.suppressed.SuppressedFile`: ``.notes`` say what reading it noted.
    """
    from unmetneed.disclosure.suppress import SuppressOptions, suppress_table
    from unmetneed.tables.suppressed import suppress_file, with_hierarchy

    opts = options or SuppressOptions()
    if isinstance(table, pd.DataFrame):
        return suppress_table(table, with_hierarchy(table, opts, hierarchy), release=release)
    return suppress_file(table, opts, hierarchy=hierarchy, reading=reading, release=release)


def audit(
    tables: Sequence[Path | str | GapResult | Comparison | Suppressed] = (),
    *,
    release: Path | str | None = None,
    width: int | None = None,
    structure: Structure | None = None,
) -> Audit:
    """Audit tables published together: for every suppressed count the range an
    attacker holding them all (and the ``release`` folder's earlier tables) can narrow it
    to; ``result.ok`` is False (with ``result.problems``) when one is narrower than the
    protection width, a small count is shown, or a shown zero gives a hidden group away.

    ``tables``: files the tool wrote, or results of this module (``gap``, ``compare``,
    ``suppress_table``) before writing them. ``structure``: how a file written elsewhere
    adds up (``audit_tables.Structure``), for a file without the tool's metadata.
    """
    from unmetneed.disclosure.audit_tables import audit_tables

    return audit_tables(tables, release=release, width=width, structure=structure)


@dataclass(frozen=True)
class Explanation:
    """Why each suppressed cell of a release is hidden (restricted: never publish it):
    ``table`` (columns ``table``, ``cell``, ``why``), the ``register`` it was read from, and
    ``complete``: False when the register was written before explanations were kept."""

    table: pd.DataFrame
    register: Path
    complete: bool


def explain(release: Path | str) -> Explanation:
    """Why each suppressed cell of the release folder's tables is hidden: ``primary`` (a
    small count), ``earlier`` (hidden by an earlier table) or the small counts it protects,
    read from the folder's restricted register."""
    import json

    from unmetneed.disclosure.explain import explain_register
    from unmetneed.disclosure.register import REGISTER
    from unmetneed.errors import InputError

    path = Path(release) / REGISTER
    try:
        tables = json.loads(path.read_text(encoding="utf-8"))["tables"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: cannot read the release register ({exc})") from None
    found = explain_register(tables)
    return Explanation(found, path, any("why" in t for t in tables))


def anonymise(
    records: Source,
    options: AnonymiseOptions | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | None = None,
) -> Anonymised:
    """A k-anonymised treatment extract from record-level data (identifiers dropped,
    codes collapsed; every quasi-identifier group K or more rows) and what it cost."""
    from unmetneed.extract.anonymise import anonymise as run_anonymise

    frame, path = _records(records, columns, sheet)
    return run_anonymise(frame, options, path=path)


def anonymise_plan(
    records: Source,
    options: AnonymiseOptions | None = None,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | None = None,
) -> pd.DataFrame:
    """What each alternative collapsing would lose (one row per plan), writing nothing."""
    from unmetneed.extract.plan import plan

    frame, path = _records(records, columns, sheet)
    return plan(frame, options, path=path)


@dataclass(frozen=True)
class Validated:
    """An input that passed its contract: the typed ``frame``, the ``notes`` of reading it
    and a ``summary`` of what it holds ((what, value) pairs: rows, periods, codes...)."""

    frame: pd.DataFrame
    kind: str
    notes: tuple[str, ...]
    summary: tuple[tuple[str, str], ...]


def validate(
    file: Source,
    kind: str,
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | None = None,
    substance: str | None = None,
    layout: str | None = None,
    header_row: int | None = None,
    last_row: int | None = None,
) -> Validated:
    """One input checked against its data contract (``treatment``, ``counts``, ``cohort``,
    ``prevalence``): a :class:`ValidationError` names every failure, else the typed frame.

    ``columns``: ``NEW=OLD`` renames; ``substance``: for a prevalence file of one substance
    without that column; ``layout``, ``sheet``, ``header_row``, ``last_row``: how to read
    the file (as ``load``).
    """
    from unmetneed.inputs.load import load
    from unmetneed.inputs.summary import summarise

    if isinstance(file, pd.DataFrame):
        loaded = _frame_input(file, kind, substance)
    else:
        loaded = load(
            file,
            kind,
            columns=columns,
            sheet=sheet,
            substance=substance,
            layout=layout,
            header_row=header_row,
            last_row=last_row,
        )
    facts = tuple(summarise(loaded.frame))
    return Validated(loaded.frame, loaded.kind, tuple(loaded.notes), facts)


def chart(
    table: Source,
    kind: str | None = None,
    *,
    substance: str | None = None,
    period: str | None = None,
    variable: str | None = None,
    group: Mapping[str, str] | None = None,
    sheet: str | None = None,
) -> Chart:
    """A published gap or compare table (a file the tool wrote, or its frame) drawn:
    ``caterpillar`` (gap by area), ``trend`` (gap over periods) or ``bars`` (each cohort's
    percentage by category; default caterpillar for gap, bars for compare). Suppressed
    values are never drawn. Save it with ``unmetneed.outputs.charts.save``.
    """
    from unmetneed.outputs.charts import draw

    if isinstance(table, pd.DataFrame):
        frame = table
    else:
        from unmetneed.disclosure.audit import read_written

        frame = read_written(table, sheet)
    chosen = dict(group or {})
    return draw(frame, kind, substance=substance, period=period, variable=variable, group=chosen)


def run(
    config: RunConfig | Path | str,
    *,
    period: str | None = None,
    out_dir: Path | str | None = None,
    log: RunLog | None = None,
) -> RunResult:
    """The quarterly job of a TOML config (a path, or a parsed ``RunConfig``): every
    table built, protected together and written atomically into ``out_dir`` (default: the
    config's), with its manifest. ``log``: where progress goes (default: nowhere)."""
    from unmetneed.runs.config import RunConfig, read_config
    from unmetneed.runs.pipeline import run as run_job
    from unmetneed.runs.runlog import RunLog

    parsed = config if isinstance(config, RunConfig) else read_config(config)
    dest = Path(out_dir) if out_dir is not None else None
    return run_job(parsed, period=period, out_dir=dest, log=log or RunLog(quiet=True))


# --------------------------------------------------------------------------- frames


def _frame_input(obj: Source, kind: str, substance: str | None = None) -> Loaded:
    """A DataFrame as a validated input of ``kind`` (a path is loaded as a file)."""
    from unmetneed.inputs.load import Loaded, load

    if not isinstance(obj, pd.DataFrame):
        return load(obj, kind, substance=substance)
    from unmetneed.inputs.load import check_frame, rounding_by_area, type_frame
    from unmetneed.inputs.schemas import contract

    c = contract(kind)
    frame = obj if substance is None or "substance" in obj else obj.assign(substance=substance)
    normalised, notes, failures = check_frame(frame.reset_index(drop=True), c, "DataFrame")
    if failures:
        raise ValidationError("DataFrame", kind, failures)
    typed = type_frame(normalised, c)
    rounded = None
    if "count" in typed:
        typed = typed.assign(count_rounding=rounding_by_area(typed, None))
        rounded = int(typed["count_rounding"].max()) if len(typed) else None
    return Loaded(typed, Path("DataFrame"), kind, notes, rounded or None)


def _has_count(obj: Source) -> bool:
    """True for a counts input (a ``count`` column)."""
    if isinstance(obj, pd.DataFrame):
        return "count" in obj
    from unmetneed.inputs.readers import read_header

    return "count" in read_header(Path(obj))


def _cohort_kind(obj: Source, kind: str) -> str:
    """``treatment`` or ``cohort``: as given, or (``auto``) by the columns a treatment
    extract requires being present and filled."""
    if kind in ("treatment", "cohort"):
        return kind
    if kind != "auto":
        raise OptionError("kind", kind, "use auto, treatment or cohort", quoted=True)
    from unmetneed.tables.compare.table import _kind

    return _kind(obj) if isinstance(obj, pd.DataFrame) else "cohort"


def _one_substance(options: GapOptions | None) -> str | None:
    """The one substance the options name (for a prevalence frame without the column)."""
    if options is not None and len(options.substances) == 1:
        return options.substances[0]
    return None


def _records(
    records: Source, columns: Mapping[str, str] | None, sheet: str | None
) -> tuple[pd.DataFrame, Path]:
    """Record-level rows with ``NEW=OLD`` renames applied, and where they came from."""
    from unmetneed.extract.prepare import read_records

    if isinstance(records, pd.DataFrame):
        if columns:
            raise OptionError("columns", None, "rename a DataFrame's columns before giving it")
        return records, Path("records")
    return read_records(records, columns=columns, sheet=sheet)
