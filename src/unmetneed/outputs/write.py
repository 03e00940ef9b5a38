"""Write tables as Parquet, CSV or Excel by suffix, atomically (temp file + rename).

A CSV cell that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``,
tab or carriage return, and not a plain number) is written with a leading ``'``.
Metadata (the disclosure structure, options, remarks) goes into the Parquet schema
metadata, or into a sidecar ``<file>.meta.json`` beside a CSV or Excel file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from unmetneed.errors import OptionError

OUT_SUFFIXES = (".parquet", ".csv", ".xlsx")
META_KEY = b"unmetneed"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_out_path(path: Path | str) -> Path:
    """An output path with a known suffix whose folder exists (checked before any work)."""
    out = Path(path)
    if out.suffix.lower() not in OUT_SUFFIXES:
        raise OptionError("out", out, f"use a file ending in {', '.join(OUT_SUFFIXES)}")
    if not out.parent.exists():
        raise OptionError("out", out, f"the folder {out.parent} does not exist")
    return out


def sidecar(path: Path) -> Path:
    """Where the metadata of a CSV or Excel table is kept: ``<file>.meta.json``."""
    return path.with_name(path.name + ".meta.json")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it only if the block succeeds."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # as an ordinary new file would be (mkstemp gives 0600)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula, prefixed with ``'`` (new frame)."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if not (
            pd.api.types.is_object_dtype(col)
            or pd.api.types.is_string_dtype(col)
            or isinstance(col.dtype, pd.CategoricalDtype)
        ):
            continue
        text = col.astype("string")
        risky = text.str.startswith(_FORMULA_START).fillna(False).astype(bool)
        risky &= pd.to_numeric(text, errors="coerce").isna()
        if risky.any():
            out[name] = text.where(~risky, "'" + text)
    return out


def write_table(
    frame: pd.DataFrame, path: Path | str, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write ``frame`` to ``path`` by suffix, with ``meta`` kept beside it; returns the path."""
    out = check_out_path(path)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        _write_parquet(frame, out, meta)
    else:
        safe = neutralise_formulas(frame)
        with atomic_path(out) as tmp:
            if suffix == ".csv":
                safe.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
            elif _accessible(meta):
                _write_workbook(safe, tmp, out.stem, meta or {})
            else:
                safe.to_excel(tmp, index=False, engine="openpyxl")
        if meta is not None:
            with atomic_path(sidecar(out)) as tmp:
                tmp.write_text(json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")
    return out


def _accessible(meta: Mapping[str, Any] | None) -> bool:
    """A published table (one with metadata, not the record-level extract) goes into an
    accessible workbook; a plain data sheet otherwise (e.g. an extract to load again)."""
    return meta is not None and meta.get("table") != "extract"


def _write_workbook(frame: pd.DataFrame, tmp: Path, name: str, meta: Mapping[str, Any]) -> None:
    """One published table as an accessible workbook (cover, contents, notes, the table)."""
    from unmetneed.disclosure.model import Policy
    from unmetneed.outputs.bundle import Published, kind_of, publish_workbook
    from unmetneed.outputs.workbook import Cover

    kind = kind_of(frame, dict(meta))
    remarks = tuple(str(r) for r in meta.get("remarks", ()))
    digits = 0 if kind == "compare" else None
    raw = meta.get("disclosure", {}).get("policy")
    policy = Policy.from_meta(dict(raw)) if raw else Policy.named(k=3)
    publish_workbook(tmp, [Published(name, kind, frame, remarks, digits)], Cover.of(policy))


def _write_parquet(frame: pd.DataFrame, out: Path, meta: Mapping[str, Any] | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if meta is not None:
        merged = dict(table.schema.metadata or {})
        merged[META_KEY] = json.dumps(meta, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(merged)
    with atomic_path(out) as tmp:
        pq.write_table(table, tmp)


def read_meta(path: Path | str) -> dict[str, Any] | None:
    """The metadata a table was written with (Parquet schema or CSV/Excel sidecar), if any."""
    p = Path(path)
    if p.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        raw = (pq.read_schema(p).metadata or {}).get(META_KEY)
        return json.loads(raw) if raw else None
    side = sidecar(p)
    return json.loads(side.read_text()) if side.exists() else None


@contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``dest`` that replaces ``dest`` only if the block succeeds.

    On any failure the temporary folder is removed and ``dest`` is left exactly as it was.
    An existing ``dest`` is swapped out by renames (never deleted before the new one is in).
    """
    import shutil

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # as mkdir would make it (mkdtemp gives 0700)
    try:
        yield tmp
        old = None
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
            os.rmdir(old)
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    """The process's file-creation mask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex (read in 1 MiB blocks)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_failures(failures: list[Any], path: Path | str) -> Path:
    """Every validation failure as a CSV (``line, column, value, rule``), for
    ``--failures-out``; a path without ``.csv`` gets it. Returns the path written."""
    out = Path(path)
    out = out if out.suffix.lower() == ".csv" else out.with_suffix(".csv")
    frame = pd.DataFrame(
        [(f.line, f.column, f.value, f.rule) for f in failures],
        columns=["line", "column", "value", "rule"],
    ).astype({"line": "Int64"})
    return write_table(frame, out)
