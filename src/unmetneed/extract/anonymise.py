"""k-anonymising a record-level treatment extract, with a report of what was lost.

The input is one row per person, possibly still carrying direct identifiers and finer codes
(date of birth, NDTMS ethnicity letters, full religion and sexuality lists). The output is
a treatment extract (CONTRACT.md section 2.1) in which every combination of the
quasi-identifier columns occurs at least K times.

**What "occurs" means.** Groups are formed on the published values exactly as they stand:
``not_stated`` (or a blank flag) is a value like any other, so a group whose ethnicity is
``not_stated`` must also hold K or more rows. No value is read as a wildcard, so the
property can be checked by anyone with one group-by on the released file
(:func:`smallest_group`).

This module is the whole step; its parts are modules of ``unmetneed.extract``: ``codemaps``
(fine codes and alternatives), ``options``, ``prepare`` (raw records to contract codes),
``quasi`` (the quasi columns as codes), ``suppression`` (the solver, and how loss is kept
small), ``loss`` (the report) and ``plan`` (``--plan``). The names other modules and tests
use are importable from here too (``__all__``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from unmetneed.extract.codemaps import alternatives, code_map
from unmetneed.extract.loss import Loss, _facts, loss_by_group
from unmetneed.extract.options import AnonymiseOptions, Method, _check_options
from unmetneed.extract.plan import plan
from unmetneed.extract.prepare import period_end, prepare, read_records
from unmetneed.extract.quasi import encode, resolve_quasi
from unmetneed.extract.suppression import Solution, delete_small_groups, smallest_group, solve
from unmetneed.inputs.codes import NOT_STATED
from unmetneed.inputs.load import type_frame
from unmetneed.inputs.schemas import contract

__all__ = [
    "AnonymiseOptions",
    "Anonymised",
    "Method",
    "alternatives",
    "anonymise",
    "code_map",
    "delete_small_groups",
    "encode",
    "period_end",
    "plan",
    "prepare",
    "read_records",
    "smallest_group",
]


@dataclass(frozen=True)
class Anonymised:
    """The released extract (typed, sorted, identifiers gone) and what it cost.

    ``notes`` are what loading noticed and fixed (bare years, placeholder area codes).
    """

    extract: pd.DataFrame
    loss: Loss
    quasi: tuple[str, ...]
    k: int
    solution: Solution
    notes: tuple[str, ...] = ()

    def meta(self) -> dict[str, Any]:
        """What the extract was made with, for the file's metadata (no paths, no times)."""
        from unmetneed.version import tool_version

        return {
            "tool": "unmetneed",
            "version": tool_version(),
            "anonymise": {
                "k": self.k,
                "quasi": list(self.quasi),
                "method": self.solution.method,
                "fell_back": self.solution.fell_back,
                "not_stated_semantics": "a value of its own: not_stated groups also hold k+ rows",
                "rows_released": self.solution.rows_kept,
                "rows_removed": int(self.solution.removed.sum()),
                "values_suppressed": int(self.solution.suppressed.sum()),
                "dropped_rows": dict(self.loss.dropped_rows),
            },
        }


def anonymise(
    records: pd.DataFrame,
    options: AnonymiseOptions | None = None,
    *,
    path: Path | str = "records",
) -> Anonymised:
    """Drop identifiers, collapse codes, k-anonymise, and report the loss.

    ``records`` holds one row per person with contract column names (rename first with
    :func:`read_records`); it is not changed. Raises :class:`ValidationError` for bad
    values and :class:`UsageError` for bad options.
    """
    opts = options or AnonymiseOptions()
    _check_options(opts)
    prep = prepare(records, path=path)
    quasi = resolve_quasi(prep.frame, opts.quasi)
    enc = encode(prep.frame, quasi, opts.suppress_first)
    sol = solve(enc, opts.k, opts.method)
    extract = _release(prep.frame, quasi, sol)
    if opts.k > 1 and not extract.empty and smallest_group(extract, quasi) < opts.k:
        raise RuntimeError("bug: the released extract is not k-anonymous")  # never expected
    baseline = delete_small_groups(enc, opts.k)
    loss = Loss(
        _facts(prep, quasi, sol, baseline, opts.k),
        loss_by_group(prep.frame, quasi, sol),
        int(baseline.removed.sum()),
        dict(prep.dropped_rows),
    )
    return Anonymised(extract, loss, quasi, opts.k, sol, prep.notes)


def _release(frame: pd.DataFrame, quasi: Sequence[str], sol: Solution) -> pd.DataFrame:
    """The kept rows with suppressed cells set to not stated, typed and sorted.

    Sorted on every column (stable) so row order says nothing about the input's order.
    """
    out = frame.copy()
    c = contract("treatment")
    for j, name in enumerate(quasi):
        cells = sol.suppressed[:, j]
        if cells.any():
            blank = None if c.column(name).type == "flag" else NOT_STATED
            out[name] = out[name].astype(object).where(~cells, blank)
    kept = out.loc[~sol.removed]
    typed = type_frame(kept, c)
    typed = typed[[s.name for s in c.columns if s.name in typed]]
    return typed.sort_values(list(typed.columns), kind="mergesort", na_position="last").reset_index(
        drop=True
    )
