"""The cohorts as one frame with a categorical ``cohort`` column, and column checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from unmetneed.errors import Mention, UsageError


def combine_cohorts(
    cohorts: Mapping[str, pd.DataFrame] | pd.DataFrame, columns: Sequence[str]
) -> pd.DataFrame:
    """One new frame of ``columns`` plus a categorical ``cohort`` (labels in the order given).

    ``cohorts``: label -> frame, or one frame with a ``cohort`` column. The inputs are not
    changed. A missing column or a row without a cohort label is a usage error.
    """
    if isinstance(cohorts, pd.DataFrame):
        return _split_by_column(cohorts, columns)
    if not cohorts:
        raise UsageError(("give at least one cohort (", Mention("cohorts", "LABEL=FILE"), ")"))
    parts = []
    for label, frame in cohorts.items():
        _require(frame, columns, f"cohort {label}")
        parts.append(frame.loc[:, list(columns)])
    combined = pd.concat(parts, ignore_index=True)
    codes = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    labels = [str(label) for label in cohorts]
    return combined.assign(cohort=pd.Categorical.from_codes(codes, categories=pd.Index(labels)))


def _split_by_column(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """A frame whose ``cohort`` column labels each row, checked and as a categorical."""
    _require(frame, ("cohort", *columns), "the table")
    labels = frame["cohort"]
    if labels.isna().any():
        lines = (np.flatnonzero(labels.isna().to_numpy())[:5] + 2).tolist()
        raise unlabelled(int(labels.isna().sum()), lines)
    order = [str(v) for v in pd.unique(labels.astype(str))]
    if isinstance(labels.dtype, pd.CategoricalDtype):
        order = [str(c) for c in labels.cat.categories if str(c) in set(order)]
    cohort = pd.Categorical(labels.astype(str), categories=order)
    return frame.loc[:, [c for c in columns if c != "cohort"]].assign(cohort=cohort)


def unlabelled(rows: int, lines: list[int]) -> UsageError:
    """The error for ``rows`` rows without a cohort label (``lines``: the first ones)."""
    return UsageError(
        (
            f"{rows} row(s) have no cohort label (lines {', '.join(map(str, lines[:5]))}); "
            "fill the cohort column or use ",
            Mention("cohorts", "LABEL=FILE"),
        )
    )


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    require_columns([str(c) for c in frame.columns], columns, what)


def require_columns(present: Sequence[str], columns: Sequence[str], what: str) -> None:
    """A usage error naming the ``columns`` that ``what`` (with ``present``) lacks."""
    missing = [c for c in columns if c not in present]
    if missing:
        import difflib

        close = difflib.get_close_matches(missing[0], list(present), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(
            (
                f"{what} has no column {', '.join(missing)} (its columns: "
                f"{', '.join(present)}); {hint}rename one with ",
                Mention("columns", "NEW=OLD"),
                " or leave that variable out",
            )
        )
