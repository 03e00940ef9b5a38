"""The quasi-identifier columns, and their values as integer codes for the solver."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from unmetneed.counting import row_groups
from unmetneed.errors import OptionError
from unmetneed.inputs.codes import NOT_STATED, code_list, map_distinct
from unmetneed.inputs.schemas import contract

DEFAULT_QUASI = ("area", "age_band", "sex", "ethnicity", "sexuality", "religion", "nationality")


def resolve_quasi(frame: pd.DataFrame, quasi: tuple[str, ...] | None) -> tuple[str, ...]:
    """The quasi-identifier columns to protect; a named column that is absent is an error.

    The default list silently skips optional columns the input does not have.
    """
    c = contract("treatment")
    if quasi is None:
        return tuple(q for q in DEFAULT_QUASI if q in frame)
    names = tuple(dict.fromkeys("age_band" if q == "age" else q for q in quasi))
    for name in names:
        if name not in c.names:
            problem = f"not a treatment extract column; use one of {', '.join(c.names)}"
            raise OptionError("quasi", name, problem)
        if name not in frame:
            raise OptionError("quasi", name, f"the records have no {name} column")
    return names


def suppressible(column: str) -> bool:
    """Whether a column's value can be set to not stated (codes with ``not_stated``, flags)."""
    spec = contract("treatment").column(column)
    if spec.type == "flag":
        return True
    return spec.type == "code" and NOT_STATED in code_list(str(spec.codes)).codes


@dataclass(frozen=True)
class Encoded:
    """Quasi-identifier columns as integer codes (rows x columns) for fast group-bys.

    ``ns[j]`` is the code that means not stated in column ``j``, or ``-1`` where the
    column cannot be suppressed. ``score[r, j]`` ranks how willingly row ``r`` gives up
    its value in column ``j``: the number of rows sharing that value (plus a bonus for
    ``suppress_first`` columns). ``width`` is the number of values a released row carries
    (all its columns, not only the quasi-identifiers): what keeping a row is worth.
    ``origin`` numbers each row's whole content (every column): rows equal in it are
    interchangeable, so ties are broken on it and never on row order.
    """

    codes: np.ndarray
    ns: tuple[int, ...]
    score: np.ndarray
    width: int
    origin: np.ndarray


def encode(
    frame: pd.DataFrame, quasi: Sequence[str], suppress_first: Sequence[str] = ()
) -> Encoded:
    """Integer codes of the quasi columns, not-stated codes and suppression scores.

    The row width is the frame's number of columns (at least the quasi columns).
    """
    n = len(frame)
    codes = np.zeros((n, len(quasi)), dtype=np.int64)
    score = np.zeros((n, len(quasi)), dtype=np.int64)
    ns: list[int] = []
    for j, name in enumerate(quasi):
        values = _category_labels(frame[name])
        labels, uniques = pd.factorize(values, sort=True)
        ns_code = (
            int(np.flatnonzero(uniques == NOT_STATED)[0])
            if NOT_STATED in set(uniques)
            else len(uniques)
        )
        codes[:, j] = labels
        ns.append(ns_code if suppressible(name) else -1)
        bonus = (
            (len(suppress_first) - list(suppress_first).index(name)) * (n + 1)
            if name in suppress_first
            else 0
        )
        score[:, j] = np.bincount(labels, minlength=len(uniques))[labels] + bonus
    return Encoded(codes, tuple(ns), score, max(frame.shape[1], len(quasi)), _origin(frame))


def _origin(frame: pd.DataFrame) -> np.ndarray:
    """A number per row for its whole content, independent of row order."""
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.int64)
    columns = [pd.factorize(_category_labels(frame[name]), sort=True)[0] for name in frame.columns]
    return row_groups(np.column_stack(columns).astype(np.int64))


def _label(value: object) -> object:
    """One distinct value as a report label: flags as yes/no."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    return value


def _category_labels(values: pd.Series) -> pd.Series:
    """Values as report labels: flags as yes/no, missing as not_stated (per distinct value)."""
    text = map_distinct(values, _label)
    return text.astype(object).where(values.notna(), NOT_STATED).astype(str)
