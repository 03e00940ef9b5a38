"""A long table of counts from a file, protected (``unmetneed suppress``): read as the
command reads it (title lines, sheets, notes below it), its hierarchy checked against its
columns, then protected by :func:`unmetneed.disclosure.suppress.suppress_table`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from unmetneed.disclosure.suppress import Suppressed, SuppressOptions, suppress_table


@dataclass(frozen=True)
class SuppressedFile(Suppressed):
    """A protected table read from a file, with what reading it noted (title lines
    skipped, a sheet not used, lines below the table not read, in ``notes``)."""


def suppress_file(
    path: Path | str,
    options: SuppressOptions | None = None,
    *,
    hierarchy: Sequence[str] = (),
    reading: Any = None,
    release: Path | str | None = None,
) -> SuppressedFile:
    """The table in ``path`` protected under ``options`` (its people named by the file's
    sha256, the same in every run on the same file).

    ``hierarchy``: ``CHILD=PARENT`` pairs of the table's columns (rows named after a parent
    sum its children), checked once the file's columns are known; ``reading``: an
    ``InputOptions`` (sheet, header row, last row).
    """
    from unmetneed.inputs.load import InputOptions
    from unmetneed.inputs.readers import read_input
    from unmetneed.outputs.write import sha256_file

    how = reading or InputOptions()
    frame, notes = read_input(Path(path), how.sheet, how.header_row, how.last_row)
    opts = with_hierarchy(frame, options or SuppressOptions(), hierarchy)
    done = suppress_table(frame, opts, str(path), release, sha256_file(Path(path))[:16])
    return SuppressedFile(done.table, done.meta, done.protected, (*notes, *done.notes))


def with_hierarchy(
    frame: pd.DataFrame, options: SuppressOptions, hierarchy: Sequence[str]
) -> SuppressOptions:
    """``options`` with the ``CHILD=PARENT`` pairs as its hierarchy, each pair two of the
    table's dimension columns (a usage error naming them otherwise)."""
    if not hierarchy:
        return options
    from unmetneed.disclosure.audit_tables import hierarchy_of

    dims = tuple(str(c) for c in frame.columns if c not in (options.count, "suppressed"))
    return replace(options, hierarchy=hierarchy_of(hierarchy, dims))
