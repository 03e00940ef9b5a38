"""``unmetneed anonymise``: a k-anonymised treatment extract from record-level data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from unmetneed.cli._app import app, guarded

if TYPE_CHECKING:
    from unmetneed.extract.anonymise import Anonymised
    from unmetneed.extract.options import AnonymiseOptions, Method

Columns = Annotated[
    list[str] | None,
    typer.Option("--column", help="rename a column on the way in: NEW=OLD (repeatable)"),
]
Quasi = Annotated[
    list[str] | None,
    typer.Option(
        "--quasi",
        help="a quasi-identifier column (repeatable, or comma-separated); default: area, "
        "age_band, sex, ethnicity, sexuality, religion, nationality",
    ),
]
SHOWN_GROUPS = 15


@app.command()
@guarded
def anonymise(
    records: Annotated[Path, typer.Argument(help="record-level CSV, Parquet, Excel or SPSS file")],
    k: Annotated[int, typer.Option("--k", help="every quasi-identifier group keeps K+ rows")] = 3,
    quasi: Quasi = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="the extract: .parquet, .csv or .xlsx")
    ] = None,
    report_out: Annotated[
        Path | None,
        typer.Option("--report", help="write the loss by group (or the --plan table) here"),
    ] = None,
    plan: Annotated[
        bool,
        typer.Option("--plan", help="compare alternative collapsings by their loss; no extract"),
    ] = False,
    method: Annotated[
        str,
        typer.Option(
            help="local: suppress single values first, then rows; rows: delete small groups"
        ),
    ] = "local",
    suppress_first: Annotated[
        list[str] | None,
        typer.Option("--suppress-first", help="give up this column's values first (repeatable)"),
    ] = None,
    column: Columns = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet (default: the first)")] = None,
    failures_out: Annotated[
        Path | None, typer.Option("--failures-out", help="write every validation failure here")
    ] = None,
) -> None:
    """Drop identifiers, collapse codes and k-anonymise; print what was lost, by group.

    Every combination of the quasi-identifier columns in the extract occurs K or more
    times (not_stated counts as a value of its own). Single values are set to not_stated
    first; whole rows are removed only where that cannot work.

    Example: unmetneed anonymise data/sample/raw_records.csv --k 3 --out extract.parquet
    """
    from unmetneed.api import anonymise as run
    from unmetneed.cli import render as report
    from unmetneed.errors import UnmetneedError, UsageError
    from unmetneed.extract.options import AnonymiseOptions
    from unmetneed.outputs.write import check_out_path, write_table
    from unmetneed.spelling import listed, parse_column_mapping

    if plan and out is not None:
        raise UsageError("--plan compares collapsings and writes no extract: drop --out")
    if not plan and out is None:
        raise UsageError("--out FILE is required (or use --plan to compare collapsings)")
    out_path = check_out_path(out) if out is not None else None
    report_path = check_out_path(report_out) if report_out is not None else None
    if (
        out_path is not None
        and report_path is not None
        and out_path.resolve() == report_path.resolve()
    ):
        raise UsageError("--report and --out must be different files")
    options = AnonymiseOptions(
        k=k,
        quasi=listed(quasi),
        method=_method(method),
        suppress_first=listed(suppress_first) or (),
    )
    if 0 <= k <= 1:
        report.warn(f"--k {k}: no k-anonymity; identifiers are removed, nothing else is")
    columns = parse_column_mapping(column)
    try:
        if plan:
            _plan(records, options, columns, sheet, report_path)
            return
        result = run(records, options, columns=columns, sheet=sheet)
    except UnmetneedError as exc:
        report.save_failures(exc, failures_out)
        raise
    assert out_path is not None
    write_table(result.extract, out_path, meta=result.meta())
    if report_path is not None:
        write_table(result.loss.by_group, report_path, meta=result.meta())
    _show(result, out_path, report_path)


def _plan(
    path: Path,
    options: AnonymiseOptions,
    columns: dict[str, str],
    sheet: str | None,
    report_path: Path | None,
) -> None:
    """Print (and with --report write) what each alternative collapsing would lose."""
    from unmetneed.api import anonymise_plan
    from unmetneed.cli import render as report
    from unmetneed.outputs.write import write_table

    table = anonymise_plan(path, options, columns=columns, sheet=sheet)
    report.show_frame(table.drop(columns="description"), title=f"{path}: k={options.k}, by plan")
    report.show_remarks(
        [f"{p}: {d}" for p, d in zip(table["plan"], table["description"], strict=True)]
    )
    if report_path is not None:
        write_table(table, report_path)


def _method(value: str) -> Method:
    from unmetneed.errors import UsageError

    if value == "local":
        return "local"
    if value == "rows":
        return "rows"
    raise UsageError(f"--method {value!r}: use local or rows")


def _show(result: Anonymised, out: Path, report_path: Path | None) -> None:
    """The summary, then the groups losing the largest share, with remarks."""
    from unmetneed.cli import render as rep

    rep.show_summary(f"{out}: k-anonymised extract", list(result.loss.facts))
    groups = result.loss.by_group
    affected = groups[(groups["variable"] != "all") & (groups["pct_affected"] > 0)]
    if not affected.empty:
        rows = [
            (
                f"{g.variable}={g.category}",
                f"{g.rows_lost_value:,} of {g.rows:,}",
                f"{g.rows_removed:,}",
                f"{g.values_suppressed:,}",
                f"{g.pct_affected:.1f}",
            )
            for g in affected.head(SHOWN_GROUPS).itertuples(index=False)
        ]
        headers = ["group", "rows lost a value", "rows removed", "own values suppressed", "%"]
        rep.show_table(
            rows, headers, title="loss by group, largest share first", right_align=headers[1:]
        )
    remarks = [
        "rows lost a value: rows kept with at least one value set to not_stated (in any "
        "column), of the group's rows; own values suppressed: cells of that column and "
        "category set to not_stated; % = 100 x (lost a value + removed) / rows",
        *result.notes,
    ]
    if len(affected) > SHOWN_GROUPS:
        remarks.append(
            f"{len(affected) - SHOWN_GROUPS} more group(s) lost data"
            + (f": see {report_path}" if report_path else ": use --report F.csv for all")
        )
    rep.show_remarks(remarks)
