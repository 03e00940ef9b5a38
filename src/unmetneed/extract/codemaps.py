"""Fine codes collapsed to contract codes, and the coarser alternatives, by ``codemaps.yaml``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml

from unmetneed.inputs.codes import code_list, key, schema_dir


@dataclass(frozen=True)
class Alternative:
    """A coarser collapsing of one column's contract codes, compared by ``--plan``."""

    column: str
    name: str
    description: str
    mapping: Mapping[str, str]


@cache
def _codemaps_raw() -> dict[str, Any]:
    with open(schema_dir() / "codemaps.yaml", encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


@cache
def code_map(column: str) -> dict[str, str]:
    """The fine-code map of one column: matching key of a spelling -> contract code.

    >>> code_map("ethnicity")["r"]
    'other'
    """
    entries = _codemaps_raw()["maps"].get(column) or {}
    codes = code_list(column).codes
    out: dict[str, str] = {}
    for code, spellings in entries.items():
        if code not in codes:
            raise ValueError(f"codemaps.yaml {column}: {code!r} is not a code of {column}")
        for spelling in spellings:
            out[key(spelling)] = str(code)
    return out


def mapped_columns() -> tuple[str, ...]:
    """Columns that ``schemas/codemaps.yaml`` gives a fine-code map for."""
    return tuple(_codemaps_raw()["maps"])


@cache
def alternatives() -> tuple[Alternative, ...]:
    """Every alternative collapsing in ``schemas/codemaps.yaml``, in the file's order."""
    out = []
    for column, options in (_codemaps_raw().get("alternatives") or {}).items():
        for name, spec in options.items():
            mapping = {str(k): str(v) for k, v in spec["map"].items()}
            missing = set(code_list(column).codes) - set(mapping)
            if missing:
                raise ValueError(f"codemaps.yaml {column} {name}: no mapping for {sorted(missing)}")
            out.append(Alternative(column, str(name), str(spec.get("description", "")), mapping))
    return tuple(out)


def _mapper(cmap: Mapping[str, str], *, by_key: bool = True) -> Callable[[object], object]:
    """A function mapping one value (by its matching key, or exactly) to its code by
    ``cmap``, or leaving it as it was."""

    def one(value: object) -> object:
        return cmap.get(key(value) if by_key else str(value), value)

    return one
