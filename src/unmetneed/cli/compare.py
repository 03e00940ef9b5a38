"""``unmetneed compare``: cohort tables (in treatment versus not) with their statistics."""

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
    release_note,
)

if TYPE_CHECKING:
    import pandas as pd

    from unmetneed.tables.compare import Comparison

Cohorts = Annotated[
    list[str],
    typer.Option(
        "--cohort",
        help="LABEL=FILE, a treatment extract or cohort file (repeatable); or one FILE "
        "whose cohort column labels its rows",
    ),
]
By = Annotated[
    list[str],
    typer.Option(
        "--by",
        help="variable to tabulate (repeatable): a column such as housing or sex; "
        "disability (its three columns), age (age_band) or substance_cohort",
    ),
]
Within = Annotated[
    list[str] | None,
    typer.Option("--within", help="split the table by this column (repeatable), e.g. area"),
]
Columns = Annotated[
    list[str] | None,
    typer.Option("--column", help="rename a column on the way in: NEW=OLD (repeatable)"),
]


@app.command()
@guarded
def compare(
    cohort: Cohorts,
    by: By,
    within: Within = None,
    age_bands: Annotated[
        str | None,
        typer.Option(
            "--age-bands",
            help="collapse the 5-year bands, e.g. 18-29,30-39,40+ (an upper age of 65 or "
            "more takes in 65+)",
        ),
    ] = None,
    exclude_not_stated: Annotated[
        bool,
        typer.Option(
            "--exclude-not-stated",
            help="denominators of stated values only (default: not_stated is a category "
            "and denominators count everyone)",
        ),
    ] = False,
    k: Annotated[
        int, typer.Option("--k", help="suppress counts 1..K (default 3; 0 turns it off)")
    ] = 3,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="with 3+ cohorts, the one the others are compared with (default: the first)",
        ),
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="auto, treatment or cohort: how to read the files")
    ] = "auto",
    column: Columns = None,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="publication view: rows within-group x cohort, columns the categories "
            "(with --out, also written beside it as NAME_wide.SUFFIX)",
        ),
    ] = False,
    cells: Annotated[
        str, typer.Option("--cells", help="wide view cells: pct or n-pct ('n (pct%)')")
    ] = "pct",
    table1: Annotated[
        bool,
        typer.Option(
            "--table1",
            help="Table 1 view: variables down the side, cohorts across, n (%) cells rounded "
            "half up and a p-value column (with --out, also written as NAME_table1.SUFFIX)",
        ),
    ] = False,
    pct_digits: Annotated[
        int, typer.Option("--pct-digits", help="Table 1 percentages: 0 or 1 decimals")
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="write the tidy table (.parquet, .csv or .xlsx)"),
    ] = None,
    release: Annotated[Path | None, Release] = None,
    public: Annotated[list[str] | None, Public] = None,
    zeros_disclosive: Annotated[bool, ZerosDisclosive] = False,
    layout: Annotated[str | None, Layout] = None,
    sheet: Annotated[str | None, Sheet] = None,
    header_row: Annotated[int | None, HeaderRow] = None,
    last_row: Annotated[int | None, LastRow] = None,
) -> None:
    """Compare cohorts (e.g. people in treatment and an out-of-treatment sample) by their
    characteristics: counts, percentages with 95% Wilson intervals, differences with
    Newcombe intervals and a chi-squared or Fisher test, after small-cell suppression.

    Example: unmetneed compare --cohort NDTMS=data/sample/extract.csv \
--cohort OOTU=data/sample/cohort_ootu.csv --by disability --by housing \
--within area --within substance_cohort
    """
    from unmetneed.api import compare as compare_cohorts
    from unmetneed.cli import render as report
    from unmetneed.errors import UsageError
    from unmetneed.inputs.load import InputOptions
    from unmetneed.outputs.write import check_out_path
    from unmetneed.spelling import age_band_list, parse_cohort_specs, parse_column_mapping
    from unmetneed.tables.compare import CompareOptions

    if k < 0:
        raise UsageError(f"--k {k}: use 0 or more (0 turns suppression off)")
    if cells not in ("pct", "n-pct"):
        raise UsageError(f"--cells {cells!r}: use pct or n-pct")
    if pct_digits not in (0, 1):
        raise UsageError(f"--pct-digits {pct_digits}: use 0 or 1")
    if wide and table1:
        raise UsageError("--wide and --table1: choose one view")
    target = check_out_path(out) if out is not None else None
    wide_target = check_out_path(_wide_path(target)) if target is not None and wide else None
    t1_target = (
        check_out_path(_wide_path(target, "table1")) if target is not None and table1 else None
    )
    options = CompareOptions(
        by=tuple(by),
        within=tuple(within or ()),
        age_bands=age_band_list(age_bands),
        exclude_not_stated=exclude_not_stated,
        k=k,
        reference=reference,
        zeros_disclosive=zeros_disclosive,
        public=tuple(public or ()),
    )
    result = compare_cohorts(
        _cohorts(parse_cohort_specs(cohort)),
        options,
        kind=kind,
        columns=parse_column_mapping(column),
        reading=InputOptions(layout, sheet, header_row, last_row=last_row),
        release=release,
    )
    remarks = list(result.remarks)
    if k == 0:
        report.warn("suppression is off (--k 0): counts of 1 to 3 will be shown as they are")
    if target is None and table1:
        _show_table1(result, remarks, pct_digits)
    elif target is None:
        _show(result, remarks, wide=wide, cells=cells)
    else:
        _write(result, target, wide_target, cells, remarks)
        if t1_target is not None:
            _write_table1(result, t1_target, target, pct_digits, remarks)
    result.protected.record()
    release_note(release)


def _cohorts(parsed: list[tuple[str | None, Path]]) -> dict[str, Path] | Path:
    """``--cohort`` values as the library takes them: label -> file, or one file whose
    ``cohort`` column labels its rows."""
    if len(parsed) == 1 and parsed[0][0] is None:
        return parsed[0][1]
    return {str(label): path for label, path in parsed}


def _wide_path(path: Path, view: str = "wide") -> Path:
    """Where ``--wide`` (or ``--table1``) writes its view beside ``--out``:
    ``NAME_wide.SUFFIX``."""
    return path.with_name(f"{path.stem}_{view}{path.suffix}")


def _write_table1(
    result: Comparison, target: Path, of: Path, digits: int, remarks: list[str]
) -> None:
    """Write the Table 1 view (``[c]`` in suppressed cells), then say so on stderr."""
    from unmetneed.cli import render as report
    from unmetneed.outputs.table1 import table1
    from unmetneed.outputs.write import write_table

    view = table1(result.table, digits).shown()
    meta = {"table": "compare_table1", "view_of": of.name, "remarks": remarks}
    write_table(view, target, meta=meta)
    report.info(f"Wrote the Table 1 view ({len(view):,} rows) to {target}")


def _show_table1(result: Comparison, remarks: list[str], digits: int) -> None:
    """Print the Table 1 view (``*`` where suppressed, as every terminal table)."""
    from unmetneed.cli import render as report
    from unmetneed.outputs.table1 import table1

    view = table1(result.table, digits)
    shown = view.shown(report.SUPPRESSED)
    rows = [["" if v == "[x]" else str(v) for v in rec] for rec in shown.itertuples(index=False)]
    title = "Table 1: " + " vs ".join(result.cohorts)
    right = [*view.cohort_columns, "p-value"]
    report.show_table(rows, list(shown.columns), title=title, remarks=remarks, right_align=right)


def _write(
    result: Comparison, target: Path, wide_target: Path | None, cells: str, remarks: list[str]
) -> None:
    """Write the tidy table (and the wide view beside it), then say so on stderr."""
    from unmetneed.cli import render as report
    from unmetneed.outputs.write import write_table
    from unmetneed.tables.compare import wide

    meta = {**result.meta(), "remarks": remarks}
    if wide_target is not None:
        view = wide(result, cells)
        write_table(
            view,
            wide_target,
            meta={
                "table": "compare_wide",
                "view_of": target.name,
                "cells": cells,
                "remarks": remarks,
                "options": meta["options"],
            },
        )
        report.info(f"Wrote the wide view ({len(view):,} rows) to {wide_target}")
    write_table(result.table, target, meta=meta)
    report.info(f"Wrote {len(result.table):,} rows to {target}")


def _show(result: Comparison, remarks: list[str], *, wide: bool, cells: str) -> None:
    """Print the tidy table, or the wide view, with numbered remarks under it."""
    from unmetneed.cli import render as report

    title = "Cohort comparison: " + " vs ".join(result.cohorts)
    if wide:
        headers, rows, right = _wide_rows(result, cells)
    else:
        headers, rows, right = _tidy_rows(result)
    report.show_table(rows, headers, title=title, remarks=remarks, right_align=right)


def _pct(value: Any, suppressed: bool, digits: int = 1) -> str:
    from unmetneed.cli import render as report

    shown = None if _is_na(value) else float(value)
    return report.cell(shown, digits=digits, suppressed=suppressed)


def _is_na(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _tidy_rows(result: Comparison) -> tuple[list[str], list[list[str]], list[str]]:
    """Headers, formatted rows and right-aligned headers of the tidy view."""
    from unmetneed.cli import render as report

    t = result.table
    two = len(result.cohorts) >= 2
    headers = ["cohort", *result.within, "variable", "category", "n", "of", "% (95% CI)"]
    if two:
        headers += ["vs", "diff pp (95% CI)"]
    headers += ["test", "p"]
    rows = []
    for rec in t.to_dict("records"):
        hid = bool(rec["suppressed"])
        row = [str(rec["cohort"]), *(str(rec[w]) for w in result.within)]
        row += [str(rec["variable"]), str(rec["category"])]
        row.append(report.cell(_int(rec["count"]), suppressed=_is_na(rec["count"])))
        row.append(report.cell(_int(rec["denominator"]), suppressed=_is_na(rec["denominator"])))
        empty_group = not _is_na(rec["denominator"]) and int(rec["denominator"]) == 0
        blank_pct = _is_na(rec["pct"]) and not empty_group
        row.append(_estimate(rec["pct"], rec["pct_lower"], rec["pct_upper"], blank_pct))
        if two:
            has_vs = not _is_na(rec["diff_vs"])
            blank_diff = has_vs and hid and _is_na(rec["diff_pp"])
            row.append(str(rec["diff_vs"]) if has_vs else "")
            row.append(
                _estimate(rec["diff_pp"], rec["diff_lower"], rec["diff_upper"], blank_diff, "+")
            )
        test = str(rec["test"])
        row.append("*" if test == "suppressed" else test)
        row.append(_p(rec["p_value"], test == "suppressed", rec.get("p_value_bound")))
        rows.append(row)
    right = ["n", "of", "% (95% CI)", "diff pp (95% CI)", "p"]
    return headers, rows, right


def _int(value: Any) -> int | None:
    return None if _is_na(value) else int(value)


def _estimate(value: Any, lower: Any, upper: Any, suppressed: bool, sign: str = "") -> str:
    """``12.3 (8.1 to 17.0)``: a percentage or difference with its interval, 1 decimal."""
    if suppressed:
        return "*"
    if _is_na(value):
        return ""
    text = f"{float(value):{sign}.1f}"
    if _is_na(lower) or _is_na(upper):
        return text
    return f"{text} ({float(lower):{sign}.1f} to {float(upper):{sign}.1f})"


def _p(value: Any, suppressed: bool, bound: Any = None) -> str:
    from unmetneed.outputs.labels import p_text

    if suppressed:
        return "*"
    return p_text(value, None if _is_na(bound) else bound) or ""


def _wide_rows(result: Comparison, cells: str) -> tuple[list[str], list[list[str]], list[str]]:
    """Headers, formatted rows and right-aligned headers of the publication view.

    Percentages to whole numbers, as published; a blank cell of a suppressed value is ``*``.
    """
    from unmetneed.cli import render as report
    from unmetneed.tables.compare import wide, wide_suppressed

    view: pd.DataFrame = wide(result, cells)
    hidden = wide_suppressed(result).to_numpy(dtype=bool)
    keys = [*result.within, "cohort"]
    value_cols = [c for c in view.columns if c not in (*keys, "denominator", "suppressed")]
    headers = [*keys, *(["n"] if "denominator" in view else []), *value_cols]
    rows = []
    for i, rec in enumerate(view.to_dict("records")):
        row = [str(rec[c]) for c in keys]
        if "denominator" in view:
            row.append(report.cell(_int(rec["denominator"]), suppressed=_is_na(rec["denominator"])))
        for j, c in enumerate(value_cols):
            v = rec[c]
            if cells == "pct":
                row.append(_pct(v, bool(hidden[i, j]), digits=0))
            else:
                row.append("*" if hidden[i, j] else "" if _is_na(v) else str(v))
        rows.append(row)
    return headers, rows, ["n", *value_cols]
