"""The protected comparison of ``--cohort`` files: record files counted in batches
(``compare_stream``: memory flat in the rows), anything else loaded whole (``compare``);
either way the same table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from unmetneed.compare import (
    CompareOptions,
    Comparison,
    _as_cohorts,
    _check_columns,
    compare,
    is_counts_file,
    load_cohort_file,
    parse_age_bands,
    parse_cohort_specs,
    source_columns,
)
from unmetneed.errors import ValidationError

if TYPE_CHECKING:
    from unmetneed.load import Loaded

__all__ = ["compare_files"]


def compare_files(
    specs: Sequence[str],
    options: CompareOptions,
    kind: str = "auto",
    columns: Mapping[str, str] | None = None,
    release: Path | str | None = None,
    how: Any = None,
) -> tuple[Comparison, list[str]]:
    """The protected comparison of the ``--cohort`` files and the notes of reading them.

    Parquet files, and CSV files whose header is line 1, are counted in record batches
    (``unmetneed.compare_stream``: memory does not grow with rows); other files are loaded
    whole, as is a CSV file that fails or has blank or note lines further down (so its
    verdict and notes are ``load``'s). Either way the table is the same.
    """
    from unmetneed.load import InputOptions
    from unmetneed.stream import CSV_SUFFIXES, NotPlainError, streamable

    parsed = parse_cohort_specs(specs)
    csv = [p for _, p in parsed if p.suffix.lower() in CSV_SUFFIXES]
    plain = how is None or how == InputOptions()  # (a sheet, header row or layout: whole)
    streamed = all(
        streamable(p, "cohort", csv=plain) and not is_counts_file(p, columns, how)
        for _, p in parsed
    )
    if release is None and streamed:
        from unmetneed.compare_stream import tally_files

        _check_columns(options.variables, options.within_columns)
        bands = parse_age_bands(options.age_bands) if options.age_bands else None
        kinds: list[str] = []
        try:
            tally, notes = tally_files(parsed, options, bands, kind, columns, kinds)
            frames, pops = _collapsed(parsed, kinds, options, columns)
        except NotPlainError:
            pass  # a CSV file with a blank or note line further down: read whole below
        except ValidationError:
            if not csv:
                raise
            # a CSV file read whole gives load's verdict: lines it leaves out (notes,
            # blank lines) said, values shown as load shows them
        else:
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
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Each cohort's records collapsed to people per distinct combination of the columns
    its cells use (``stream.collapse``: one more pass, flat memory), and its population
    name, for protecting a table counted in batches over the same model as a loaded one."""
    from unmetneed.disclosure.release import fingerprint, population
    from unmetneed.stream import PEOPLE, collapse

    used = source_columns((*options.within_columns, *options.variables))
    keep: tuple[str, ...] = ("period", "area", "drug_group", "crack", "age_band", "sex", *used)
    frames: dict[str, pd.DataFrame] = {}
    pops: dict[str, str] = {}
    for (label, path), kind in zip(parsed, kinds, strict=True):
        if label is not None:
            frames[label] = collapse(path, kind, keep, columns).frame
            pops[label] = population(kind, fingerprint(frames[label], PEOPLE))
            continue
        whole = collapse(path, kind, (*keep, "cohort"), columns).frame
        text = whole["cohort"].astype("string")
        for name in text.dropna().unique().tolist():
            frames[str(name)] = whole[(text == name).to_numpy(bool)]
            pops[str(name)] = population(kind, fingerprint(frames[str(name)], PEOPLE))
    return frames, pops


def _file_populations(
    parsed: Sequence[tuple[str | None, Path]], loaded: Sequence[Loaded]
) -> dict[str, str]:
    """Each cohort's population name: its kind and a fingerprint of its people (the same
    people in every command of a release, whatever the file's format); a cohort column's
    labels within one file each their own."""
    from unmetneed.disclosure.release import fingerprint, population
    from unmetneed.stream import PEOPLE

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
