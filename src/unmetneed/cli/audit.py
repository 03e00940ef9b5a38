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
        list[Path], typer.Argument(help="a table the tool wrote (and any tables linked with it)")
    ],
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
) -> None:
    """For every suppressed cell, the range (min to max) an attacker can narrow it to; exit 4 if
    any is narrower than the protection width (default: the K it was written with).

    Example: unmetneed audit protected.csv
    """
    from unmetneed import report
    from unmetneed.disclosure.audit import audit as run_audit
    from unmetneed.disclosure.audit import gather
    from unmetneed.errors import DisclosureError
    from unmetneed.write import read_meta

    if not any(read_meta(t) for t in tables) and (total_row or hierarchy):
        frames, meta = _structure_from_options(tables[0], total_row, total_label, hierarchy, k)
    else:
        frames, meta = gather(tables)
    result = run_audit(frames, meta, width)
    rows = result.narrowest(show)
    report.show_table(
        (
            [str(r.where), _num(r.low), _num(r.high), "yes" if r.ok else "NO"]
            for r in rows.itertuples()
        ),
        ["cell", "attacker min", "attacker max", f"width >= {result.width}"],
        title=f"{tables[0]}: {len(result.cells)} suppressed cell(s), narrowest first",
        right_align=["attacker min", "attacker max"],
    )
    if result.policy.off:
        report.warn("this table was written with suppression off (--k 0)")
    if not result.ok:
        raise DisclosureError(
            f"{tables[0]} failed the disclosure audit: " + " | ".join(result.problems)
        )
    report.info(
        f"{tables[0]}: passed (every suppressed cell keeps an interval of at least {result.width})"
    )


def _num(value: Any) -> str:
    """An interval end: ``>=w`` proven without computing (NaN), ``inf``, or a whole number."""
    if value != value:
        return "(wide)"
    return "inf" if value == float("inf") else f"{value:,.0f}"


def _structure_from_options(
    path: Path, total_row: bool, label: str, hierarchy: list[str] | None, k: int
) -> tuple[dict[str | None, Any], dict[str, Any]]:
    """A long table from elsewhere (empty or marked counts suppressed), its structure given."""
    import numpy as np

    from unmetneed.cli.suppress import _hierarchy
    from unmetneed.disclosure import Policy
    from unmetneed.disclosure.model import Protection
    from unmetneed.disclosure.tables import LongSpec, from_long
    from unmetneed.load import read_table

    frame = read_table(path)
    if "count" not in frame:
        from unmetneed.errors import InputError

        raise InputError(f"{path}: has no count column to audit")
    dims = tuple(c for c in frame.columns if c not in ("count", "suppressed"))
    spec = LongSpec(dims, total_row, label, _hierarchy(hierarchy, dims))
    number = frame.assign(count=_counts_or_missing(frame["count"]))
    cells = from_long(number, np.zeros(len(frame), np.int64), spec)
    none = np.zeros(len(frame), dtype=bool)
    meta = Protection(Policy.named(k=k), none, none, np.zeros(len(frame))).meta(cells)
    return {None: number}, meta


def _counts_or_missing(column: Any) -> Any:
    """Counts as numbers; suppression markers, blanks and text as missing."""
    import pandas as pd

    text = column.astype("string").str.strip().str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce")
