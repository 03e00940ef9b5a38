"""Reading the gap's inputs: which file is which, several read as one, renames routed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.errors import Mention, OptionError, Remarks, Said, UsageError
from unmetneed.inputs.stream import PEOPLE
from unmetneed.tables.gap.options import (
    SUBSTANCES,
    GapOptions,
    _Input,
    name_key,
)
from unmetneed.tables.gap.treatment import _drop_margins


def _layout_of(path: Path, columns: Mapping[str, str] | None, how: Any) -> Any:
    """The published layout ``path`` is read as (None: its own column names)."""
    from unmetneed.inputs import layouts
    from unmetneed.inputs.readers import read_header

    if columns and how.layout is None:
        return None
    return layouts.resolve(how.layout, read_header(path, how.sheet, how.header_row), path)


def _treatment_kind(
    path: Path, columns: Mapping[str, str] | None, how: Any, prevalence: Path | str
) -> str:
    """``counts`` or ``treatment`` for a treatment file; a usage error for an estimates file
    (the inputs swapped, or the wrong file), naming what to do."""
    layout = _layout_of(path, columns, how)
    swapped: Said = (
        "did you mean ",
        Mention("prevalence", str(path)),
        "? (",
        Mention("prevalence", str(prevalence)),
        " was given)",
    )
    if layout is not None and layout.kind == "prevalence":
        problem = (f"is {layout.title}, estimates, not people in treatment; ", *swapped)
        raise OptionError("treatment", path, problem)
    if layout is not None:
        return str(layout.kind)
    names = _header(path, columns, how)
    if "estimate" in names and "count" not in names:
        problem = ("has an estimate column, as a prevalence file does; ", *swapped)
        raise OptionError("treatment", path, problem)
    return "counts" if "count" in names else "treatment"


def _not_people(
    path: Path, columns: Mapping[str, str] | None, how: Any, treatment: list[Path]
) -> None:
    """A usage error for a prevalence file that is people in treatment (records or
    counts, no estimate): the inputs swapped, most likely."""
    names = _header(path, columns, how)
    if "estimate" not in names and ({"count", "drug_group"} & names):
        given: list[str | Mention] = []
        for i, t in enumerate(treatment):
            given += [" ", Mention("treatment", str(t))] if i else [Mention("treatment", str(t))]
        problem: Said = (
            f"has no estimate column but {'a count' if 'count' in names else 'a drug_group'} "
            "column, as a treatment file does; did you mean ",
            Mention("treatment", str(path)),
            "? (",
            *given,
            " was given)",
        )
        raise OptionError("prevalence", path, problem)


def _together(loaded: list[Any]) -> Any:
    """Several treatment inputs as one: their rows stacked, each keeping its rounding, and
    refused where two files count the same area and period (they would be counted twice).
    """
    from unmetneed.inputs.load import Loaded

    kinds = {item.kind for item in loaded}
    if len(kinds) > 1:
        raise OptionError(
            "treatment",
            None,
            "the files are of different kinds ("
            + ", ".join(f"{item.path}: {item.kind}" for item in loaded)
            + "); give record extracts or counts files, not both",
        )
    seen: dict[tuple[str, str], str] = {}
    for item in loaded:
        frame = item.frame
        names = frame["area"].astype(str)
        pairs = pd.DataFrame(
            {"area": names.map(name_key), "period": frame["period"].astype(str), "name": names}
        ).drop_duplicates(["area", "period"])
        for area, period, name in pairs.itertuples(index=False):  # distinct area x period
            if (area, period) in seen:
                raise OptionError(
                    "treatment",
                    None,
                    f"{item.path} and {seen[(area, period)]} both count area {name!r} in "
                    f"{period}; give each area and period in one file only",
                )
        seen.update(
            {(a, p): str(item.path) for a, p in zip(pairs["area"], pairs["period"], strict=True)}
        )
    frames = [item.frame.reset_index(drop=True) for item in loaded]
    notes = [f"{item.path}: {n}" for item in loaded for n in item.notes]
    combined = pd.concat(frames, ignore_index=True)
    rounded = max((item.rounded_to or 0) for item in loaded) or None
    path = Path(" + ".join(str(item.path) for item in loaded))
    return Loaded(combined, path, loaded[0].kind, notes, rounded, "several")


def _counted_rows(treatment: Any, kind: str) -> pd.DataFrame:
    """The treatment rows the table counts people from: a counts file without the rows
    ``_drop_margins`` leaves out (a Total beside its breakdown counts nobody new)."""
    frame = _frame_of(treatment)
    if kind != "counts":
        return frame
    return _drop_margins(_Input(frame, "", kind), Remarks())


def _people_frame(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The treatment input as people per row (``PEOPLE``): records as they are; a counts
    file's exact counts (a suppressed or rounded one makes the people unknown: no column)."""
    if kind != "counts" or "count" not in frame:
        return frame
    if frame.get("count_suppressed", pd.Series(False, index=frame.index)).any():
        return frame
    from unmetneed.inputs.load import rounded_to

    if "count_rounding" in frame and bool((frame["count_rounding"] > 0).any()):
        return frame
    if "count_rounding" not in frame and rounded_to(frame):
        return frame
    return frame.assign(**{PEOPLE: frame["count"].astype("Int64").fillna(0).astype(np.int64)})


def _frame_of(obj: Any) -> pd.DataFrame:
    return obj if isinstance(obj, pd.DataFrame) else obj.frame


def _as_input(obj: Any, kind: str, opts: GapOptions | None = None) -> _Input:
    """A ``Loaded`` or a typed frame as an :class:`_Input` (a prevalence frame without a
    ``substance`` column takes the one substance of the options).
    """
    if isinstance(obj, pd.DataFrame):
        from unmetneed.inputs.load import rounded_to

        one = _Input(obj, kind, kind, [], rounded_to(obj) if kind == "counts" else None)
    else:
        one = _Input(obj.frame, str(obj.path), kind, list(obj.notes), obj.rounded_to)
    if kind == "prevalence" and "substance" not in one.frame:
        if opts is None or len(opts.substances) != 1:
            raise UsageError(f"{one.path}: has no substance column; name its one substance")
        one.frame = one.frame.assign(substance=opts.substances[0])
    return one


def route_columns(
    pairs: Iterable[tuple[str, str]],
    treatment: Path | str | Sequence[Path | str],
    prevalence: Path | str,
) -> tuple[dict[str, str], dict[str, str]]:
    """Split ``NEW=OLD`` renames (``columns``) between the two files: each goes to every file
    that has a column ``OLD`` (names compared as the loader does), so ``area=Area_Data``
    and ``area=Local_Authority`` can both be given; a usage error if neither file has it.
    """
    from unmetneed.inputs.codes import key

    paths = [treatment] if isinstance(treatment, (str, Path)) else list(treatment)
    _require_files(*paths, prevalence)
    t_cols = [c for path in paths for c in _raw_columns(Path(path))]
    p_cols = _raw_columns(Path(prevalence))
    t_keys, p_keys = {key(c) for c in t_cols}, {key(c) for c in p_cols}
    to_t: dict[str, str] = {}
    to_p: dict[str, str] = {}
    for new, old in pairs:
        in_t, in_p = key(old) in t_keys, key(old) in p_keys
        if not (in_t or in_p):
            from unmetneed.inputs.layouts import did_you_mean

            close = did_you_mean(old, [*t_cols, *p_cols], "the columns are").split("? ")[0]
            hint = f"{close}? " if close.startswith("did you mean") else ""
            raise OptionError(
                "columns",
                f"{new}={old}",
                f"neither file has a column {old!r}; {hint}{' + '.join(map(str, paths))} has "
                f"{', '.join(t_cols)}; {prevalence} has {', '.join(p_cols)}",
            )
        if in_t:
            to_t[new] = old
        if in_p:
            to_p[new] = old
    return to_t, to_p


def _require_files(*paths: Path | str) -> None:
    """An input error for the first path that is not a readable file."""
    from unmetneed.inputs.readers import read_table

    for path in map(Path, paths):
        if not path.is_file():
            read_table(path)  # raises the input error naming the path


def _header(path: Path, columns: Mapping[str, str] | None, how: Any = None) -> set[str]:
    """The contract names of a file's columns after ``NEW=OLD`` renames (header only)."""
    from unmetneed.inputs.codes import key

    names = _raw_columns(path, how)
    renamed = {old: new for new, old in (columns or {}).items()}
    by_key = {key(o): n for o, n in renamed.items()}
    return {renamed.get(c, by_key.get(key(c), key(c))) for c in names}


def _raw_columns(path: Path, how: Any = None) -> list[str]:
    """A file's column names, reading only its header where the format allows."""
    from unmetneed.inputs.readers import read_header

    if not path.is_file():
        return []  # the loader says what is wrong with the path
    sheet, header_row = (how.sheet, how.header_row) if how is not None else (None, None)
    return read_header(path, sheet, header_row)


def _one_substance(
    path: Path, columns: Mapping[str, str] | None, opts: GapOptions, how: Any = None
) -> str | None:
    """The substance to fill into a prevalence file that has no ``substance`` column."""
    if "substance" in _header(path, columns, how):
        return None
    if len(opts.substances) != 1:
        raise UsageError(
            (
                f"{path}: has no substance column; name its one substance with ",
                Mention("substances"),
                f" (one of {', '.join(SUBSTANCES)}), or map a column with ",
                Mention("prevalence_columns", "substance=NAME"),
            )
        )
    return opts.substances[0]
