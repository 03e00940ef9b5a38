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
    from unmetneed import report
    from unmetneed.disclosure.audit import audit as run_audit
    from unmetneed.disclosure.audit import gather
    from unmetneed.errors import DisclosureError, UsageError

    tables = list(tables or [])
    if explain:
        _explain(release)
        return
    if not tables and release is None:
        raise UsageError("give the tables to audit, or --release DIR (or both)")
    if tables and not any(_meta(t) for t in tables) and (total_row or hierarchy):
        written = [_structure_from_options(tables[0], total_row, total_label, hierarchy, k)]
    else:
        written = gather(tables, release)
        written = [_as_tidy(w, t) for w, t in zip(written, tables, strict=False)] + written[
            len(tables) :
        ]
    if not written:
        raise UsageError(f"{release}: the release holds no table yet")
    result = run_audit(written, width)
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
    import json

    from unmetneed import report
    from unmetneed.disclosure.explain import explain_register
    from unmetneed.disclosure.register import REGISTER
    from unmetneed.errors import InputError, UsageError

    if release is None:
        raise UsageError("--explain reads a release register: give --release DIR")
    path = release / REGISTER
    try:
        tables = json.loads(path.read_text(encoding="utf-8"))["tables"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: cannot read the release register ({exc})") from None
    found = explain_register(tables)
    report.show_table(
        found.itertuples(index=False),
        ["table", "cell", "why"],
        title=f"release {release}: why {len(found)} suppressed cell(s) are hidden (restricted)",
    )
    if not any("why" in t for t in tables):
        report.warn(f"{path}: written before explanations were kept (no 'why')")


def _as_tidy(written: Any, path: Path) -> Any:
    """A gap table written with ``--out-layout fingertips`` as the cells its protection
    placed: ``in_treatment`` = Denominator - Count (prevalence - not in treatment) where
    both are shown (blank elsewhere: not published), ``suppressed`` from the Value note."""
    meta = _meta(path)
    if not isinstance(meta, dict) or meta.get("layout") != "fingertips":
        return written
    from dataclasses import replace

    import pandas as pd

    frame = written.frame
    t = (frame["Denominator"] - frame["Count"]).round().astype("Int64")
    note = frame["Value note"].astype("string").fillna("")
    tidy = frame.assign(
        in_treatment=t, suppressed=note.str.startswith("Value suppressed").astype(bool)
    )
    return replace(written, frame=pd.DataFrame(tidy))


def _meta(path: Path) -> Any:
    """A table's metadata, or None when it has none or it cannot be read (``gather`` then
    names the problem)."""
    from unmetneed.write import read_meta

    try:
        return read_meta(path)
    except (OSError, ValueError):
        return None


def _num(value: Any) -> str:
    """An interval end: ``>=w`` proven without computing (NaN), ``inf``, or a whole number."""
    if value != value:
        return "(wide)"
    return "inf" if value == float("inf") else f"{value + 0.0:,.0f}"


def _structure_from_options(
    path: Path, total_row: bool, label: str, hierarchy: list[str] | None, k: int
) -> Any:
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
    from unmetneed.disclosure.audit import Written, piece_of

    name = path.stem
    return Written(name, number, meta, piece_of(name, meta))


def _counts_or_missing(column: Any) -> Any:
    """Counts as numbers; suppression markers, blanks and text as missing."""
    import pandas as pd

    text = column.astype("string").str.strip().str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce")
