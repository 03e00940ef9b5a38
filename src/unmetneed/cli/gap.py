"""``unmetneed gap``: the proportion of people needing treatment who are not in it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from unmetneed.cli._app import (
    HeaderRow,
    LastRow,
    Layout,
    Public,
    Release,
    Sheet,
    ZerosDisclosive,
    app,
    guarded,
    reading,
    release_note,
)

if TYPE_CHECKING:
    import pandas as pd


HEADERS = (
    "area",
    "period",
    "substance",
    "prevalence",
    "treated",
    "not treated",
    "unmet %",
    "vs benchmark",
    "see",
)
RIGHT = ("prevalence", "treated", "not treated", "unmet %")
TITLE = "Proportion not in treatment (95% interval in brackets; see: remarks below)"


@app.command()
@guarded
def gap(
    treatment: Annotated[
        list[Path],
        typer.Option(
            "--treatment",
            help="treatment extract (one row per person) or counts file (a count column, or a "
            "published layout such as NDTMS ViewIt); repeatable: the files are read together",
        ),
    ],
    prevalence: Annotated[Path, typer.Option("--prevalence", help="prevalence estimates")],
    period: Annotated[
        list[str] | None,
        typer.Option("--period", help="treatment period(s) to show, e.g. 2024/25 or 2024/25 Q2"),
    ] = None,
    prevalence_years: Annotated[
        int,
        typer.Option(
            "--prevalence-years",
            help="average each area's N most recent estimate years at or before each period "
            "(OHID: 3)",
        ),
    ] = 3,
    substance: Annotated[
        list[str] | None,
        typer.Option(
            "--substance",
            help="opiate_crack, opiate, crack, alcohol_dependent (repeatable; default: those "
            "in the prevalence file; names the substance of a file without that column)",
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="suppress counts of 1..K (0: no suppression)")] = 3,
    total: Annotated[
        str | None, typer.Option("--total", help="add a row NAME summing the areas")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="an area in one file only is an error (exit 3)")
    ] = False,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column", help="rename NEW=OLD in whichever file has column OLD (repeatable)"
        ),
    ] = None,
    prevalence_column: Annotated[
        list[str] | None,
        typer.Option(
            "--prevalence-column", help="rename NEW=OLD in the prevalence file only (repeatable)"
        ),
    ] = None,
    suppressed_max: Annotated[
        int | None,
        typer.Option(
            "--suppressed-max",
            help="a count shown as * in a counts file is 1..N (default: 4, or K if larger)",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="write .parquet, .csv or .xlsx instead of showing")
    ] = None,
    release: Annotated[Path | None, Release] = None,
    public: Annotated[list[str] | None, Public] = None,
    zeros_disclosive: Annotated[bool, ZerosDisclosive] = False,
    layout: Annotated[list[str] | None, Layout] = None,
    sheet: Annotated[list[str] | None, Sheet] = None,
    header_row: Annotated[list[str] | None, HeaderRow] = None,
    last_row: Annotated[list[str] | None, LastRow] = None,
    rounded_to: Annotated[
        int | None,
        typer.Option(
            "--rounded-to",
            help="the treatment counts are published rounded to N (5 or 10; 0: exact), "
            "whatever their layout says or the counts look like",
        ),
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option(
            "--benchmark",
            help="compare each area with this area's value (vs_benchmark; default: England "
            "where the table has it)",
        ),
    ] = None,
    out_layout: Annotated[
        str,
        typer.Option(
            "--out-layout",
            help="tidy (the contract's columns) or fingertips (Fingertips export columns)",
        ),
    ] = "tidy",
    failures_out: Annotated[
        Path | None,
        typer.Option("--failures-out", help="on a validation failure, write every one to this CSV"),
    ] = None,
) -> None:
    """Proportion not in treatment per area, substance and period (OHID's method).

    unmet need % = 100 x (prevalence - in treatment) / prevalence; the interval uses the
    estimate's 95% bounds. Counts of 1..K are suppressed with what they could be worked out
    from.

    Published files are read as they are (NDTMS ViewIt, the PHE alcohol estimates,
    Fingertips): recognised by their header, or --layout NAME / INPUT=NAME.

    Example: unmetneed gap --treatment data/sample/extract.csv \\
    --prevalence data/sample/prevalence.csv --total "All areas"
    """
    from unmetneed.api import gap as compute
    from unmetneed.cli import render as report
    from unmetneed.errors import UnmetneedError, spell
    from unmetneed.outputs.write import check_out_path, write_table
    from unmetneed.spelling import (
        column_pairs,
        normalise_periods,
        normalise_substances,
        parse_column_mapping,
        period_notes,
    )
    from unmetneed.tables.gap import GapOptions, fingertips_table

    if out is not None:
        check_out_path(out)
    if out_layout not in ("tidy", "fingertips"):
        from unmetneed.errors import UsageError
        from unmetneed.inputs.layouts import did_you_mean

        raise UsageError(
            f"--out-layout {out_layout!r}: {did_you_mean(out_layout, ('tidy', 'fingertips'))}"
        )
    options = GapOptions(
        periods=normalise_periods(period),
        prevalence_years=prevalence_years,
        substances=normalise_substances(substance),
        k=k,
        total=total,
        strict=strict,
        suppressed_max=suppressed_max,
        zeros_disclosive=zeros_disclosive,
        benchmark=benchmark,
        periods_noted=tuple(spell(n, report.spelling) for n in period_notes(period)),
        public=tuple(public or ()),
    )
    renames = column_pairs(column)
    prevalence_only = parse_column_mapping(prevalence_column)  # its errors say --column
    how = reading(("treatment", "prevalence"), layout, sheet, header_row, last_row)
    how = _with_rounding(how, rounded_to)
    if k == 0:
        report.warn("suppression is off (--k 0): counts of 1 and more are shown as they are")
    try:
        result = compute(
            treatment,
            prevalence,
            options,
            columns=renames,
            prevalence_columns=prevalence_only,
            release=release,
            reading=how,
        )
    except UnmetneedError as exc:
        report.save_failures(exc, failures_out)
        raise
    if out is None:
        report.show_table(
            _rows(result.table),
            HEADERS,
            title=TITLE,
            remarks=result.remarks,
            right_align=RIGHT,
        )
        result.protected.record()
        release_note(release)
        return
    if out_layout == "fingertips":  # audit reads in_treatment back as Denominator - Count
        write_table(
            fingertips_table(result.table), out, meta={**result.meta(), "layout": "fingertips"}
        )
    else:
        write_table(result.table, out, meta=result.meta())
    result.protected.record()
    release_note(release)
    report.info(f"Wrote {len(result.table)} rows to {out}")
    for number, text in enumerate(result.remarks, start=1):
        report.info(f"{number}. {text}")


def _with_rounding(how: dict[str, Any], rounded_to: int | None) -> dict[str, Any]:
    """The treatment input's reading options with ``--rounded-to`` (checked: 0, 5 or 10)."""
    if rounded_to is None:
        return how
    from dataclasses import replace

    from unmetneed.errors import UsageError

    if rounded_to not in (0, 5, 10):
        raise UsageError(f"--rounded-to {rounded_to}: use 5 or 10 (0: the counts are exact)")
    return {**how, "treatment": replace(how["treatment"], rounded_to=rounded_to)}


def _rows(table: pd.DataFrame) -> list[list[str]]:
    """The table's rows as terminal cells: intervals as ``78.2 (72.5-83.4)``, ``*`` where
    suppressed, a count known only within bounds as ``35-39``.
    """
    from unmetneed.cli.render import SUPPRESSED, cell

    rows = []
    for r in table.itertuples(index=False):  # display only: one rich row per table row
        bounded = r.in_treatment is None or _missing(r.in_treatment)
        hidden = bounded and _missing(r.in_treatment_min)
        if hidden:
            treated = SUPPRESSED
        elif bounded:
            treated = f"{cell(_int(r.in_treatment_min))}-{cell(_int(r.in_treatment_max))}"
        else:
            treated = cell(_int(r.in_treatment))
        rows.append(
            [
                str(r.area),
                str(r.period),
                str(r.substance),
                _interval(r.prevalence, r.prevalence_lower, r.prevalence_upper, digits=0),
                treated,
                SUPPRESSED if hidden else cell(_float(r.not_in_treatment), digits=0),
                SUPPRESSED
                if hidden
                else _interval(r.unmet_need_pct, r.unmet_need_pct_lower, r.unmet_need_pct_upper),
                "" if r.vs_benchmark == "not_compared" else str(r.vs_benchmark),
                "" if _missing(r.remarks) else str(r.remarks),
            ]
        )
    return rows


def _missing(value: object) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))  # type: ignore[call-overload]


def _int(value: object) -> int | None:
    return None if _missing(value) else int(value)  # type: ignore[call-overload]


def _float(value: object) -> float | None:
    return None if _missing(value) else float(value)  # type: ignore[arg-type]


def _interval(point: object, lower: object, upper: object, digits: int = 1) -> str:
    """``78.2 (72.5-83.4)``; the point alone without bounds; the bounds alone without it."""
    from unmetneed.cli.render import cell

    shown = cell(_float(point), digits=digits)
    if _missing(lower) or _missing(upper):
        return shown
    bounds = f"({cell(_float(lower), digits=digits)}-{cell(_float(upper), digits=digits)})"
    return f"{shown} {bounds}" if shown else bounds
