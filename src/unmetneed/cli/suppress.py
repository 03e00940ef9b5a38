"""``unmetneed suppress``: protect a long table of counts from elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from unmetneed.cli._app import (
    HeaderRow,
    LastRow,
    Public,
    Release,
    Sheet,
    app,
    guarded,
    release_note,
)


@app.command()
@guarded
def suppress(
    table: Annotated[Path, typer.Argument(help="long table: dimension columns + count")],
    k: Annotated[int, typer.Option("--k", help="suppress counts in 1..K (0: off)")] = 3,
    policy: Annotated[
        str | None, typer.Option("--policy", help="k3, lt5 (under 5) or nhs (1-7, round to 5)")
    ] = None,
    zeros_disclosive: Annotated[
        bool, typer.Option("--zeros-disclosive", help="suppress zeros too")
    ] = False,
    width: Annotated[
        int | None, typer.Option("--width", help="protection width in people (default: K)")
    ] = None,
    total_row: Annotated[
        bool, typer.Option("--total-row", help="rows labelled Total sum the others")
    ] = False,
    total_label: Annotated[str, typer.Option("--total-label", help="the totals' label")] = "Total",
    hierarchy: Annotated[
        list[str] | None,
        typer.Option(
            "--hierarchy", help="CHILD=PARENT: rows named after a parent sum its children"
        ),
    ] = None,
    count: Annotated[str, typer.Option("--count", help="the count column")] = "count",
    out: Annotated[Path | None, typer.Option("--out", help=".parquet, .csv or .xlsx")] = None,
    release: Annotated[Path | None, Release] = None,
    public: Annotated[list[str] | None, Public] = None,
    failures_out: Annotated[
        Path | None, typer.Option("--failures-out", help="write every input failure to this CSV")
    ] = None,
    sheet: Annotated[str | None, Sheet] = None,
    header_row: Annotated[int | None, HeaderRow] = None,
    last_row: Annotated[int | None, LastRow] = None,
) -> None:
    """Suppress small counts and enough others that none can be worked out from the totals.

    Example: unmetneed suppress data/sample/counts_by_area.csv --k 3 --total-row --out protected.csv
    """
    from unmetneed.api import suppress_table
    from unmetneed.cli import render as report
    from unmetneed.disclosure import Policy
    from unmetneed.disclosure.suppress import SuppressOptions
    from unmetneed.errors import UnmetneedError
    from unmetneed.inputs.load import InputOptions
    from unmetneed.outputs.write import check_out_path, write_table

    if out is not None:
        out = check_out_path(out)
    chosen = _policy(Policy, policy, k if policy is None else None, zeros_disclosive, width)
    options = SuppressOptions(chosen, total_row, total_label, None, count, tuple(public or ()))
    how = InputOptions(sheet=sheet, header_row=header_row, last_row=last_row)
    try:
        done = suppress_table(
            table, options, hierarchy=tuple(hierarchy or ()), reading=how, release=release
        )
    except UnmetneedError as exc:
        report.save_failures(exc, failures_out)
        raise
    for note in done.notes:
        report.info(f"{table}: {note}")
    if chosen.off:
        report.warn("--k 0: suppression is off; every count is published as it is")
    if out is None:
        shown = done.table.assign(**{count: done.table[count].astype("string").fillna("*")})
        report.show_frame(shown, title=str(table), remarks=done.remarks)
    else:
        write_table(done.table, out, meta=done.meta)
        report.info(
            f"wrote {out}: {int(done.protection.suppressed.sum())} count(s) suppressed "
            "(small ones and those that would give them away)"
        )
        report.show_remarks(done.remarks)
    done.protected.record()
    release_note(release)


def _policy(cls: Any, name: str | None, k: int | None, zeros: bool, width: int | None) -> Any:
    """The policy, or a UsageError naming the bad option."""
    from unmetneed.errors import UsageError

    try:
        return cls.named(name, k, zeros=zeros, width=width)
    except ValueError as exc:
        raise UsageError(f"--policy/--k: {exc}") from None
