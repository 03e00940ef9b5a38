"""``unmetneed audit``: prove a written table's suppression survives an LP attacker."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from unmetneed.cli._app import app, guarded


@app.command()
@guarded
def audit(
    tables: Annotated[
        list[Path] | None,
        typer.Argument(help="tables the tool wrote, published together (all of a run's)"),
    ] = None,
    release: Annotated[
        Path | None,
        typer.Option("--release", help="a release folder: check its earlier tables too"),
    ] = None,
    width: Annotated[
        int | None, typer.Option("--width", help="protection width in people (default: stored)")
    ] = None,
    show: Annotated[int, typer.Option("--show", help="how many narrowest cells to print")] = 10,
    total_row: Annotated[
        bool, typer.Option("--total-row", help="no metadata: rows labelled Total sum the others")
    ] = False,
    total_label: Annotated[str, typer.Option("--total-label", help="the totals' label")] = "Total",
    hierarchy: Annotated[
        list[str] | None, typer.Option("--hierarchy", help="no metadata: CHILD=PARENT")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="no metadata: the threshold it used")] = 3,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="with --release: why each suppressed cell is hidden (primary, or the small "
            "counts it protects), from the restricted register; never publish this",
        ),
    ] = False,
) -> None:
    """For every suppressed cell, the range (min to max) an attacker holding every table given
    (and, with --release, everything published into that release) can narrow it to; exit 4 if
    any is narrower than the protection width, a shown zero gives a hidden group away, or a
    shown count is small.

    Example: unmetneed audit protected.csv
    """
    from unmetneed.api import audit as run_audit
    from unmetneed.cli import render as report
    from unmetneed.disclosure.audit_tables import Structure
    from unmetneed.errors import DisclosureError

    given = Structure(total_row, total_label, tuple(hierarchy or ()), k)
    tables = list(tables or [])
    if explain:
        _explain(release)
        return
    result = run_audit(
        tables, release=release, width=width, structure=given if total_row or hierarchy else None
    )
    title = str(tables[0]) if tables else f"release {release}"
    rows = result.narrowest(show)
    report.show_table(
        (
            [str(r.where), _num(r.low), _num(r.high), "yes" if r.ok else "NO"]
            for r in rows.itertuples()
        ),
        ["cell", "attacker min", "attacker max", f"width >= {result.width}"],
        title=f"{title}: {len(result.cells)} suppressed cell(s), narrowest first",
        right_align=["attacker min", "attacker max"],
    )
    if result.policy.off:
        report.warn("this table was written with suppression off (--k 0)")
    if not result.ok:
        raise DisclosureError(
            f"{title} failed the disclosure audit: " + " | ".join(result.problems)
        )
    report.info(
        f"{title}: passed (every suppressed cell keeps an interval of at least {result.width})"
    )


def _explain(release: Path | None) -> None:
    """Print why each suppressed cell of the release is hidden (restricted)."""
    from unmetneed.api import explain
    from unmetneed.cli import render as report
    from unmetneed.errors import UsageError

    if release is None:
        raise UsageError("--explain reads a release register: give --release DIR")
    found = explain(release)
    report.show_table(
        found.table.itertuples(index=False),
        ["table", "cell", "why"],
        title=f"release {release}: why {len(found.table)} suppressed cell(s) are hidden "
        "(restricted)",
    )
    if not found.complete:
        report.warn(f"{found.register}: written before explanations were kept (no 'why')")


def _num(value: Any) -> str:
    """An interval end: ``>=w`` proven without computing (NaN), ``inf``, or a whole number."""
    if value != value:
        return "(wide)"
    return "inf" if value == float("inf") else f"{value + 0.0:,.0f}"
