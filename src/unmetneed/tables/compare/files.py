"""The protected comparison of the cohorts' files: record files counted in batches
(``stream``: memory flat in the rows), anything else loaded whole (``table.compare``);
either way the same table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from unmetneed.inputs.variables import parse_age_bands, source_columns
from unmetneed.spelling import check_cohorts
from unmetneed.tables.compare.inputs import (
    _as_cohorts,
    is_counts_file,
    load_cohort_file,
)
from unmetneed.tables.compare.options import CompareOptions, check_columns
from unmetneed.tables.compare.table import Comparison, compare

if TYPE_CHECKING:
    from unmetneed.inputs.load import Loaded

__all__ = ["compare_files"]


def compare_files(
    parsed: Sequence[tuple[str | None, Path]],
    options: CompareOptions,
    kind: str = "auto",
    columns: Mapping[str, str] | None = None,
    release: Path | str | None = None,
    how: Any = None,
) -> tuple[Comparison, list[str]]:
    """The protected comparison of the cohorts' files and the notes of reading them.

    ``parsed``: ``(label, path)`` pairs, or one ``(None, path)`` whose ``cohort`` column
    labels its rows (``spelling.parse_cohort_specs`` reads ``LABEL=FILE`` text as these).

    Record files of any format are counted in record batches (``unmetneed.tables.compare.stream``
    over ``stream.Scan``: memory does not grow with the rows of a Parquet or plain CSV
    file); a counts file, or a run for a ``release`` (which protects the rows themselves),
    is loaded whole. Either way the table is the same.
    """
    from unmetneed.inputs.load import streamed_or_whole

    check_cohorts(parsed)
    if release is None and not any(is_counts_file(p, columns, how) for _, p in parsed):
        from unmetneed.tables.compare.stream import tally_files

        check_columns(options.variables, options.within_columns)
        bands = parse_age_bands(options.age_bands) if options.age_bands else None

        def counted(whole: bool) -> tuple[Any, list[str], dict[str, pd.DataFrame], dict[str, str]]:
            kinds: list[str] = []
            tally, notes = tally_files(parsed, options, bands, kind, columns, kinds, how, whole)
            frames, pops = _collapsed(parsed, kinds, options, columns, how, whole)
            return tally, notes, frames, pops

        tally, notes, frames, pops = streamed_or_whole(counted)
        return compare(tally, options, populations=pops, frames=frames), notes
    loaded = [load_cohort_file(p, kind, columns, how) for _, p in parsed]
    cohorts, notes = _as_cohorts(parsed, loaded)
    pops = _file_populations(parsed, loaded)
    return compare(cohorts, options, populations=pops, release=release), notes


def _collapsed(
    parsed: Sequence[tuple[str | None, Path]],
    kinds: Sequence[str],
    options: CompareOptions,
    columns: Mapping[str, str] | None,
    how: Any = None,
    whole: bool = False,
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Each cohort's records collapsed to people per distinct combination of the columns
    its cells use (``stream.collapse``: one more pass, flat memory), and its population
    name, for protecting a table counted in batches over the same model as a loaded one."""
    from unmetneed.disclosure.release import fingerprint, population
    from unmetneed.inputs.stream import PEOPLE, collapse

    used = source_columns((*options.within_columns, *options.variables))
    keep: tuple[str, ...] = ("period", "area", "drug_group", "crack", "age_band", "sex", *used)
    frames: dict[str, pd.DataFrame] = {}
    pops: dict[str, str] = {}
    for (label, path), kind in zip(parsed, kinds, strict=True):
        if label is not None:
            frames[label] = collapse(path, kind, keep, columns, how, whole).frame
            pops[label] = population(kind, fingerprint(frames[label], PEOPLE))
            continue
        rows = collapse(path, kind, (*keep, "cohort"), columns, how, whole).frame
        text = rows["cohort"].astype("string")
        for name in text.dropna().unique().tolist():
            frames[str(name)] = rows[(text == name).to_numpy(bool)]
            pops[str(name)] = population(kind, fingerprint(frames[str(name)], PEOPLE))
    return frames, pops


def _file_populations(
    parsed: Sequence[tuple[str | None, Path]], loaded: Sequence[Loaded]
) -> dict[str, str]:
    """Each cohort's population name: its kind and a fingerprint of its people (the same
    people in every command of a release, whatever the file's format); a cohort column's
    labels within one file each their own."""
    from unmetneed.disclosure.release import fingerprint, population
    from unmetneed.inputs.stream import PEOPLE

    def name(item: Loaded, frame: pd.DataFrame) -> str:
        # a counts file (people per row) counts treatment people, as gap reads it
        kind = "treatment" if PEOPLE in frame else item.kind
        return population(kind, fingerprint(frame, PEOPLE))

    if parsed[0][0] is None:
        frame = loaded[0].frame
        text = frame["cohort"].astype("string")
        return {
            str(x): name(loaded[0], frame[(text == x).to_numpy(bool)])
            for x in text.dropna().unique().tolist()
        }
    return {
        str(label): name(item, item.frame) for (label, _), item in zip(parsed, loaded, strict=True)
    }
