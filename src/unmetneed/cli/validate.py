"""``unmetneed validate``: check one input file against its data contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unmetneed.cli._app import HeaderRow, LastRow, Layout, app, guarded

Kind = Annotated[str, typer.Option("--kind", help="treatment, counts, cohort or prevalence")]
Columns = Annotated[
    list[str] | None,
    typer.Option("--column", help="rename a column on the way in: NEW=OLD (repeatable)"),
]


@app.command()
@guarded
def validate(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet, Excel or SPSS file")],
    kind: Kind,
    column: Columns = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet (default: the first)")] = None,
    substance: Annotated[
        str | None, typer.Option(help="prevalence file of one substance without that column")
    ] = None,
    failures_out: Annotated[
        Path | None, typer.Option("--failures-out", help="write every failure to this CSV")
    ] = None,
    layout: Annotated[str | None, Layout] = None,
    header_row: Annotated[int | None, HeaderRow] = None,
    last_row: Annotated[int | None, LastRow] = None,
) -> None:
    """Check a file against its contract; print a summary, or every failure (exit 3).

    Example: unmetneed validate data/sample/extract.csv --kind treatment
    """
    from unmetneed.api import validate as check
    from unmetneed.cli import render as report
    from unmetneed.errors import UnmetneedError
    from unmetneed.spelling import parse_column_mapping

    mapping = parse_column_mapping(column)
    try:
        valid = check(
            file,
            kind,
            columns=mapping,
            sheet=sheet,
            substance=substance,
            layout=layout,
            header_row=header_row,
            last_row=last_row,
        )
    except UnmetneedError as exc:
        report.save_failures(exc, failures_out)
        raise
    report.show_summary(f"{file}: valid {kind}", list(valid.summary))
    report.show_remarks(valid.notes)
