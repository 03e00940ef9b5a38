"""``unmetneed suppress``: protect a long table of counts from elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from unmetneed.cli._app import HeaderRow, LastRow, Release, Sheet, app, guarded, release_note


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
    from unmetneed import report
    from unmetneed.disclosure import Policy
    from unmetneed.disclosure.publish import protect_one
    from unmetneed.disclosure.tables import (
        LongSpec,
        counts_column,
        from_long,
        structure_failures,
        total_rows,
    )
    from unmetneed.errors import UsageError, ValidationError
    from unmetneed.load import read_input
    from unmetneed.write import check_out_path, write_table

    if out is not None:
        out = check_out_path(out)
    chosen = _policy(Policy, policy, k if policy is None else None, zeros_disclosive, width)
    frame, read_notes = read_input(table, sheet, header_row, last_row)
    for note in read_notes:
        report.info(f"{table}: {note}")
    try:
        values = counts_column(frame, table, count)
    except ValidationError as exc:
        _save_failures(exc, failures_out)
        raise
    dims = tuple(c for c in frame.columns if c not in (count, "suppressed"))
    tree = _hierarchy(hierarchy, dims)
    looks = [w for w in TOTAL_WORDS if not (total_row and w == total_label.strip().casefold())]
    for word in looks:  # a total not read as one would be published unprotected
        labelled = [d for d in dims if total_rows(frame, d, word).any()]
        if labelled:
            raise UsageError(
                f"{table}: rows labelled {word!r} in {', '.join(labelled)} look like totals; "
                f"say --total-row --total-label {word!r} so they are protected as totals "
                "(or rename them if they are not)"
            )
    spec = LongSpec(dims, total_row, total_label, tree)
    cells = from_long(frame.rename(columns={count: "count"}), values, spec)
    failures = structure_failures(frame, cells, spec, count)
    if failures:
        invalid = ValidationError(str(table), "counts", failures)
        _save_failures(invalid, failures_out)
        raise invalid
    if chosen.off:
        report.warn("--k 0: suppression is off; every count is published as it is")
    piece, people = _piece(table, frame, values, cells, spec)
    done = protect_one(piece, people, chosen, release, weight="count")
    protection = done.protection
    result = protection.apply(
        frame.assign(**{count: values}).rename(columns={count: "count"}), cells
    )
    result = result.rename(columns={"count": count})
    meta = {
        "table": "suppress",
        "source": str(table),
        "disclosure": done.meta(),
        "remarks": protection.remarks,
    }
    if out is None:
        shown = result.assign(**{count: result[count].astype("string").fillna("*")})
        report.show_frame(shown, title=str(table), remarks=protection.remarks)
        done.record()
        release_note(release)
        return
    write_table(result, out, meta=meta)
    report.info(
        f"wrote {out}: {int(protection.suppressed.sum())} count(s) suppressed "
        "(small ones and those that would give them away)"
    )
    report.show_remarks(protection.remarks)
    done.record()
    release_note(release)


TOTAL_WORDS = ("total", "all", "all areas", "all persons", "persons", "england", "overall")


def _piece(table: Path, frame: Any, values: Any, cells: Any, spec: Any) -> tuple[Any, Any]:
    """The table as a release piece: each row counts the people of the table's inner rows
    that match its labels (a Total label: any value), so separate ``suppress --release``
    runs on the same table are one release. A hierarchy's rows are not defined (their
    cells are protected by the table's own relations only)."""
    import numpy as np

    from unmetneed.disclosure.release import RAW, Def, Piece
    from unmetneed.disclosure.tables import total_rows
    from unmetneed.write import sha256_file

    n = len(frame)
    if spec.hierarchy:
        return Piece("suppress", cells, (None,) * n, blocks=True), {}
    pop = sha256_file(table)[:16]
    is_total = {
        d: total_rows(frame, d, spec.total_label) if spec.totals else np.zeros(n, bool)
        for d in spec.dims
    }
    text = {d: frame[d].astype("string").fillna("not_stated").tolist() for d in spec.dims}
    defs = tuple(
        Def.of(pop, {RAW + d: [text[d][i]] for d in spec.dims if not is_total[d][i]})
        for i in range(n)
    )
    inner = (
        ~np.logical_or.reduce([is_total[d] for d in spec.dims]) if spec.dims else np.ones(n, bool)
    )
    people = frame.loc[inner, list(spec.dims)].assign(count=np.asarray(values)[inner])
    return Piece("suppress", cells, defs, blocks=True), {pop: people.reset_index(drop=True)}


def _save_failures(exc: Exception, path: Path | None) -> None:
    """Every failure to ``path`` as CSV when asked (``--failures-out``)."""
    if path is not None:
        from unmetneed.errors import ValidationError
        from unmetneed.write import write_failures

        assert isinstance(exc, ValidationError)
        write_failures(exc.failures, path)


def _policy(cls: Any, name: str | None, k: int | None, zeros: bool, width: int | None) -> Any:
    """The policy, or a UsageError naming the bad option."""
    from unmetneed.errors import UsageError

    try:
        return cls.named(name, k, zeros=zeros, width=width)
    except ValueError as exc:
        raise UsageError(f"--policy/--k: {exc}") from None


def _hierarchy(pairs: list[str] | None, dims: tuple[str, ...]) -> dict[str, str]:
    """``["area=region"]`` as ``{"area": "region"}``, both columns of the table."""
    from unmetneed.errors import UsageError

    tree: dict[str, str] = {}
    for pair in pairs or []:
        child, sep, parent = pair.partition("=")
        child, parent = child.strip(), parent.strip()
        if not sep or child not in dims or parent not in dims:
            raise UsageError(
                f"--hierarchy {pair!r}: write CHILD=PARENT with two of the table's columns "
                f"({', '.join(dims)})"
            )
        tree[child] = parent
    return tree
