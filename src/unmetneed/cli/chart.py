"""``unmetneed chart``: draw a published gap or compare table as SVG, PNG or HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unmetneed.cli._app import app, guarded


@app.command()
@guarded
def chart(
    table: Annotated[Path, typer.Argument(help="a gap or compare table the tool wrote")],
    out: Annotated[Path, typer.Option("--out", help="the chart: .svg, .png or .html")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="caterpillar (gap by area, 95% intervals), trend (gap over periods) or bars "
            "(each cohort's % by category); default caterpillar for gap, bars for compare",
        ),
    ] = None,
    substance: Annotated[
        str | None, typer.Option("--substance", help="gap: the substance (default: the first)")
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="caterpillar: the period (default: the first)")
    ] = None,
    variable: Annotated[
        str | None, typer.Option("--variable", help="bars: the variable (default: the first)")
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="bars: the within-group, COLUMN=VALUE (repeatable)"),
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option("--sheet", help="a workbook's table sheet (default: its first table)"),
    ] = None,
) -> None:
    r"""Draw a published table: suppressed values are never drawn (a \[c] label instead);
    colour-blind-safe colours, titles, axis labels with units and alt text.

    Example: unmetneed chart out/quarterly/publish/gap.parquet --kind caterpillar \
--substance opiate_crack --out out/gap.svg
    """
    from unmetneed.api import chart as draw
    from unmetneed.cli import render as report
    from unmetneed.errors import UsageError
    from unmetneed.outputs.charts import SUFFIXES, save
    from unmetneed.spelling import column_values

    if out.suffix.lower() not in SUFFIXES:
        raise UsageError(f"--out {out}: use a file ending in {', '.join(SUFFIXES)}")
    if not out.parent.exists():
        raise UsageError(f"--out {out}: the folder {out.parent} does not exist")
    chosen = column_values(group, "group")
    drawn = draw(
        table,
        kind,
        substance=substance,
        period=period,
        variable=variable,
        group=chosen,
        sheet=sheet,
    )
    save(drawn, out)
    report.info(f"Wrote {drawn.title!r} to {out}")
