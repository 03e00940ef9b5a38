"""Readable labels, GSS symbols ([c], [x]) and half-up rounding shared by every output."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
import yaml

from unmetneed.inputs.codes import schema_dir

CONFIDENTIAL = "[c]"
NOT_AVAILABLE = "[x]"
KEY = (
    (CONFIDENTIAL, "confidential: suppressed so that no one can be identified"),
    (NOT_AVAILABLE, "not available (for example no interval, or no test could be done)"),
)


@functools.cache
def _labels() -> dict[str, dict[str, str]]:
    """``schemas/labels.yaml``: variables, categories and column headings."""
    with open(schema_dir() / "labels.yaml", encoding="utf-8") as fh:
        data: dict[str, dict[str, str]] = yaml.safe_load(fh)
    return {part: {str(k): str(v) for k, v in data[part].items()} for part in data}


def _plain(code: str) -> str:
    """A code with ``_`` as a space."""
    return code.replace("_", " ")


def variable_label(name: str) -> str:
    """A variable's readable name.

    >>> variable_label("disability_mental_health")
    'Mental health disability'
    """
    return _labels()["variables"].get(name, _plain(name).capitalize())


def category_label(code: Any) -> str:
    """A category's readable name (a code without a label shows ``_`` as a space).

    >>> category_label("not_stated")
    'not stated'
    """
    text = str(code)
    return _labels()["categories"].get(text, _plain(text))


def column_label(name: str) -> str:
    """A published column's heading, with its unit.

    >>> column_label("unmet_need_pct")
    'Not in treatment (%)'
    """
    labels = _labels()
    return labels["columns"].get(name) or labels["variables"].get(name) or _plain(name).capitalize()


def round_half_up(numerator: Any, denominator: Any, digits: int = 0) -> np.ndarray:
    """100 x numerator / denominator rounded half up to ``digits`` decimals, exactly
    (integer arithmetic, so 6/48 = 12.5% is 13% and never 12% as half-to-even gives).

    >>> round_half_up([6, 1], [48, 3]).tolist()
    [13.0, 33.0]
    >>> round_half_up([1], [8], 1).tolist()
    [12.5]
    """
    n = np.asarray(numerator, dtype=np.int64)
    d = np.asarray(denominator, dtype=np.int64)
    scale = 100 * 10**digits
    safe = np.where(d > 0, d, 1)
    units = (2 * scale * n + safe) // (2 * safe)
    return np.where(d > 0, units / 10**digits, np.nan)


def p_text(value: Any, bound: Any = None) -> str | None:
    """A p-value as published: ``<0.001`` below 0.001, ``<=0.010`` for an upper bound,
    else three decimals; None when missing.

    >>> p_text(0.0004997), p_text(0.0123), p_text(0.00990099, "<=")
    ('<0.001', '0.012', '<=0.010')
    """
    if value is None or pd.isna(value):
        return None
    p = float(value)
    if p < 0.001:
        return "<0.001"
    if isinstance(bound, str) and bound == "<=":
        return f"<={p:.3f}"
    return f"{p:.3f}"


def hidden_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """True for each cell blank because of suppression: a missing number on a row whose
    ``suppressed`` flag is set (the only place a published table hides values)."""
    flag = (
        frame["suppressed"].fillna(False).astype(bool).to_numpy()
        if "suppressed" in frame
        else np.zeros(len(frame), dtype=bool)
    )
    out = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for name in frame.columns:
        col = frame[name]
        if name == "suppressed" or not pd.api.types.is_numeric_dtype(col):
            continue
        out[name] = col.isna().to_numpy() & flag
    return out
