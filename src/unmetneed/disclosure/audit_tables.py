"""The tables an audit reads: files the tool wrote (a Fingertips-layout gap table read
back as its cells), results still in memory, or a long table from elsewhere whose
structure is given, then audited together (``disclosure.audit.audit``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure.audit import Audit, Written
from unmetneed.errors import InputError, UsageError

__all__ = ["Structure", "audit_tables", "hierarchy_of"]


@dataclass(frozen=True)
class Structure:
    """How a long table of counts written elsewhere adds up, for a file without the
    tool's metadata: rows labelled ``total_label`` sum the others (``total_row``), rows
    named after a parent sum its children (``hierarchy``: ``CHILD=PARENT`` pairs), and the
    threshold ``k`` its suppression used."""

    total_row: bool = False
    total_label: str = "Total"
    hierarchy: tuple[str, ...] = ()
    k: int = 3


def audit_tables(
    tables: Sequence[Any],
    *,
    release: Path | str | None = None,
    width: int | None = None,
    structure: Structure | None = None,
) -> Audit:
    """Audit ``tables`` (paths or in-memory results with ``.table`` and ``.meta``) and
    the earlier tables of ``release`` together; ``width``: the protection width in people
    (default: the one stored with the tables)."""
    from unmetneed.disclosure.audit import audit

    tables = list(tables)
    if not tables and release is None:
        raise UsageError("give the tables to audit, or --release DIR (or both)")
    paths = [Path(t) for t in tables if isinstance(t, (str, Path))]
    plain = structure is not None and len(paths) == len(tables) and bool(tables)
    if plain and not any(_meta(p) for p in paths):
        assert structure is not None
        return audit([_from_structure(paths[0], structure)], width)
    written = _gathered(tables, release)
    if not written:
        raise UsageError(f"{release}: the release holds no table yet")
    return audit(written, width, folder=release)


def _gathered(tables: list[Any], release: Path | str | None) -> list[Written]:
    """Every table as ``audit`` reads it, in the order given, then the release's."""
    from unmetneed.disclosure.audit import _with_register, gather

    paths = [Path(t) for t in tables if isinstance(t, (str, Path))]
    if len(paths) == len(tables):
        read = gather(paths, release)
        return [_as_tidy(w, p) for w, p in zip(read, paths, strict=False)] + read[len(paths) :]
    each = iter(gather(paths))
    written: list[Written] = []
    names: set[str] = set()
    for t in tables:
        one = _as_tidy(next(each), Path(t)) if isinstance(t, (str, Path)) else _in_memory(t)
        while one.name in names:
            one = replace(one, name=one.name + "'")
        names.add(one.name)
        written.append(one)
    if len({json.dumps(w.meta["policy"], sort_keys=True) for w in written}) > 1:
        raise InputError("the tables were made under different policies")
    return _with_register(written, release) if release is not None else written


def _in_memory(result: Any) -> Written:
    """A result of ``unmetneed.api`` (gap, compare, suppress_table) as its written table."""
    from unmetneed.disclosure.audit import piece_of

    meta = result.meta() if callable(result.meta) else result.meta
    block = meta.get("disclosure") if isinstance(meta, Mapping) else None
    if not block:
        raise UsageError(f"{type(result).__name__}: has no disclosure metadata to audit")
    name = str(block.get("table") or meta.get("table") or "table")
    return Written(name, result.table, dict(block), piece_of(name, block))


def _as_tidy(written: Written, path: Path) -> Written:
    """A gap table written with ``--out-layout fingertips`` as the cells its protection
    placed: ``in_treatment`` = Denominator - Count (prevalence - not in treatment) where
    both are shown (blank elsewhere: not published), ``suppressed`` from the Value note."""
    meta = _meta(path)
    if not isinstance(meta, dict) or meta.get("layout") != "fingertips":
        return written
    frame = written.frame
    assert frame is not None
    t = (frame["Denominator"] - frame["Count"]).round().astype("Int64")
    note = frame["Value note"].astype("string").fillna("")
    tidy = frame.assign(
        in_treatment=t, suppressed=note.str.startswith("Value suppressed").astype(bool)
    )
    return replace(written, frame=pd.DataFrame(tidy))


def _meta(path: Path) -> Any:
    """A table's metadata, or None when it has none or it cannot be read (``gather`` then
    names the problem)."""
    from unmetneed.outputs.write import read_meta

    try:
        return read_meta(path)
    except (OSError, ValueError):
        return None


def _from_structure(path: Path, structure: Structure) -> Written:
    """A long table from elsewhere (empty or marked counts suppressed), its structure given."""
    from unmetneed.disclosure import Policy
    from unmetneed.disclosure.audit import piece_of
    from unmetneed.disclosure.model import Protection
    from unmetneed.disclosure.tables import LongSpec, from_long
    from unmetneed.inputs.readers import read_table

    frame = read_table(path)
    if "count" not in frame:
        raise InputError(f"{path}: has no count column to audit")
    dims = tuple(c for c in frame.columns if c not in ("count", "suppressed"))
    tree = hierarchy_of(structure.hierarchy, dims)
    spec = LongSpec(dims, structure.total_row, structure.total_label, tree)
    number = frame.assign(count=_counts_or_missing(frame["count"]))
    cells = from_long(number, np.zeros(len(frame), np.int64), spec)
    none = np.zeros(len(frame), dtype=bool)
    policy = Policy.named(k=structure.k)
    meta = Protection(policy, none, none, np.zeros(len(frame))).meta(cells)
    return Written(path.stem, number, meta, piece_of(path.stem, meta))


def _counts_or_missing(column: pd.Series) -> pd.Series:
    """Counts as numbers; suppression markers, blanks and text as missing."""
    text = column.astype("string").str.strip().str.replace(",", "", regex=False)
    return pd.to_numeric(text, errors="coerce")


def hierarchy_of(pairs: Sequence[str], dims: tuple[str, ...]) -> dict[str, str]:
    """``["area=region"]`` as ``{"area": "region"}``, both columns of the table.

    >>> hierarchy_of(["area = region"], ("area", "region", "sex"))
    {'area': 'region'}
    """
    tree: dict[str, str] = {}
    for pair in pairs:
        child, sep, parent = pair.partition("=")
        child, parent = child.strip(), parent.strip()
        if not sep or child not in dims or parent not in dims:
            raise UsageError(
                f"--hierarchy {pair!r}: write CHILD=PARENT with two of the table's columns "
                f"({', '.join(dims)})"
            )
        tree[child] = parent
    return tree
