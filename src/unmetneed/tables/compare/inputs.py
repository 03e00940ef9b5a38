"""The cohorts' files (``(label, path)`` pairs): cohort or counts files read as cohorts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from unmetneed.errors import OptionError, ValidationError

if TYPE_CHECKING:
    from unmetneed.inputs.load import Loaded


COHORT_KINDS = ("auto", "treatment", "cohort")


def load_cohort_file(
    path: Path, kind: str = "auto", columns: Mapping[str, str] | None = None, how: Any = None
) -> Loaded:
    """One cohort's file, validated as a treatment extract or a cohort file.

    ``kind="auto"``: a treatment extract if it passes that contract (every required column
    present and valid), else a cohort file (2.3: every column optional). When it passes
    neither, the treatment failures are raised if it has the treatment's required columns
    (it looks like an extract), else the cohort failures. A counts file is read as one row
    per person (``counts_as_people``). ``how``: an ``InputOptions`` (layout, sheet, header
    row) for the file.
    """
    from functools import partial

    from unmetneed.inputs.load import InputOptions
    from unmetneed.inputs.load import load as load_any

    how = how or InputOptions()
    load = partial(
        load_any,
        layout=how.layout,
        sheet=how.sheet,
        header_row=how.header_row,
        last_row=how.last_row,
    )

    if kind not in COHORT_KINDS:
        from unmetneed.inputs.layouts import did_you_mean

        raise OptionError("kind", kind, did_you_mean(kind, COHORT_KINDS), quoted=True)
    if is_counts_file(path, columns, how):
        return counts_as_people(load(path, "counts", columns=columns))
    if kind != "auto":
        return load(path, kind, columns=columns)
    try:
        return load(path, "treatment", columns=columns)
    except ValidationError as as_treatment:
        try:
            loaded = load(path, "cohort", columns=columns)
        except ValidationError as as_cohort:
            missing = [f for f in as_treatment.failures if f.line is None]
            raise (as_cohort if missing else as_treatment) from None
        loaded.notes.append(f"{path}: read as a cohort file (it is not a treatment extract)")
        return loaded


def is_counts_file(path: Path, columns: Mapping[str, str] | None = None, how: Any = None) -> bool:
    """Whether a cohort file is a counts file (contract 2.2: a ``count`` column, or a
    published counts layout such as NDTMS ViewIt): each row then counts ``count`` people."""
    from unmetneed.inputs import layouts
    from unmetneed.inputs.codes import key
    from unmetneed.inputs.readers import read_header

    if not path.is_file():
        return False
    sheet, row, forced = (how.sheet, how.header_row, how.layout) if how else (None, None, None)
    names = read_header(path, sheet, row)
    layout = layouts.resolve(forced, names, path) if forced or not columns else None
    if layout is not None:
        return layout.kind == "counts"
    renamed = {key(old): new for new, old in (columns or {}).items()}
    return "count" in {renamed.get(key(n), key(n)) for n in names}


def counts_as_people(loaded: Loaded) -> Loaded:
    """A counts file as one row per person (each row repeated ``count`` times), so it is a
    cohort like any other (contract 4.2). Rows with ``Total`` in a dimension are margins
    and left out (the cells count everyone once). Suppressed or rounded counts are refused
    (exit 3): they are not numbers of people, and a comparison would present them as such.
    """
    from unmetneed.errors import Failure
    from unmetneed.inputs.load import Loaded

    frame, path = loaded.frame, loaded.path
    hidden = frame.index[frame["count_suppressed"].to_numpy(dtype=bool)]
    rule = (
        "a suppressed count is not a number of people: compare needs exact counts (give "
        "the unsuppressed table, or the records)"
    )
    if len(hidden):
        failures = [Failure(int(i) + 2, "count", "suppressed", rule) for i in hidden[:20]]
        raise ValidationError(path, "counts as a cohort", failures)
    if loaded.rounded_to:
        areas = frame.loc[frame["count_rounding"] > 0, "area"].astype(str).unique()[:5]
        raise ValidationError(
            path,
            "counts as a cohort",
            [
                Failure(
                    None,
                    "count",
                    "",
                    f"the counts of {', '.join(areas)} are rounded to the nearest 5 (as "
                    "published): they are not numbers of people, so compare cannot count "
                    "them as a cohort; give exact counts, or the records",
                )
            ],
        )
    from unmetneed.inputs.stream import PEOPLE

    dims = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    margin = (frame[dims] == "total").any(axis=1).to_numpy() if dims else np.zeros(len(frame), bool)
    people = frame["count"].astype("Int64").fillna(0).to_numpy(dtype=np.int64)
    cells = frame.loc[~margin & (people > 0)].assign(**{PEOPLE: people[~margin & (people > 0)]})
    drop = ["count", "count_suppressed", "count_upper", "count_rounding"]
    out = cells.drop(columns=[c for c in drop if c in cells])
    for c in dims:
        if "total" in list(out[c].cat.categories):
            out[c] = out[c].cat.remove_categories(["total"])
    notes = [
        *(f"{path}: {n}" for n in loaded.notes),
        f"{path}: a counts file read as a cohort: each row counts `count` people "
        f"({int(out[PEOPLE].sum())} people in {len(out)} rows"
        + (
            f"; {int(margin.sum())} Total rows left out, the cells count everyone"
            if margin.any()
            else ""
        )
        + ")",
    ]
    return Loaded(out, path, "cohort", notes, None, loaded.layout)


def load_cohorts(
    parsed: Sequence[tuple[str | None, Path]],
    kind: str = "auto",
    columns: Mapping[str, str] | None = None,
) -> tuple[dict[str, pd.DataFrame] | pd.DataFrame, list[str]]:
    """The cohorts' files loaded, and the loader's notes.

    ``(label, path)`` pairs give a label -> frame mapping; one ``(None, path)`` gives its
    frame, whose ``cohort`` column labels the rows (``spelling.parse_cohort_specs`` reads
    ``LABEL=FILE`` text as these). Mixing the two, or a label given twice, is an option
    error.
    """
    from unmetneed.spelling import check_cohorts

    check_cohorts(parsed)
    loaded = [load_cohort_file(p, kind, columns) for _, p in parsed]
    return _as_cohorts(parsed, loaded)


def _as_cohorts(
    parsed: Sequence[tuple[str | None, Path]], loaded: Sequence[Loaded]
) -> tuple[dict[str, pd.DataFrame] | pd.DataFrame, list[str]]:
    """Label -> frame (or the one frame with a ``cohort`` column) and the loaders' notes."""
    notes = [n for item in loaded for n in item.notes]
    if parsed[0][0] is None:
        return loaded[0].frame, notes
    return {str(label): item.frame for (label, _), item in zip(parsed, loaded, strict=True)}, notes
