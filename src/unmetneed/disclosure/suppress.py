"""Protect a long table of counts from elsewhere: the library side of ``unmetneed suppress``.

A long table has dimension columns and a count column (people); with ``total_row``, rows
labelled ``total_label`` in a dimension sum the others, and a hierarchy names columns whose
parent rows sum their children. Small counts and enough others are suppressed that none
can be worked out from the totals (or, with ``release``, from earlier tables).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure import joint
from unmetneed.disclosure.model import Cells, Policy, Protection
from unmetneed.disclosure.public import public_cells
from unmetneed.disclosure.publish import Protected, protect_one
from unmetneed.disclosure.release import RAW, Def, Piece
from unmetneed.disclosure.tables import (
    LongSpec,
    counts_column,
    from_long,
    structure_failures,
    total_rows,
)
from unmetneed.errors import UsageError, ValidationError

__all__ = ["TOTAL_WORDS", "SuppressOptions", "Suppressed", "suppress_table"]

TOTAL_WORDS = ("total", "all", "all areas", "all persons", "persons", "england", "overall")


@dataclass(frozen=True)
class SuppressOptions:
    """How the table adds up and the disclosure policy (``count``: the count column;
    ``public``: totals published anyway, never hidden, as ``COLUMN=VALUE,...`` specs of the
    rows showing them: :mod:`unmetneed.disclosure.public`)."""

    policy: Policy = field(default_factory=lambda: Policy.named(k=3))
    total_row: bool = False
    total_label: str = "Total"
    hierarchy: Mapping[str, str] | None = None
    count: str = "count"
    public: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suppressed:
    """The protected table (suppressed counts missing, ``suppressed`` flags), its file
    metadata and remarks, the protection (``protected.record()`` adds it to its release
    once written) and notes for the user."""

    table: pd.DataFrame
    meta: dict[str, Any]
    protected: Protected
    notes: tuple[str, ...] = ()  # what the user is told (a table protected apart)

    @property
    def protection(self) -> Protection:
        """Which cells are suppressed and what is shown."""
        return self.protected.protection

    @property
    def remarks(self) -> list[str]:
        """What a reader is told about the suppression (the rule, never counts of cells)."""
        return list(self.protection.remarks)


def suppress_table(
    frame: pd.DataFrame,
    options: SuppressOptions | None = None,
    source: str = "table",
    release: Path | str | None = None,
    population: str | None = None,
) -> Suppressed:
    """``frame`` (a long table of counts, people) protected under ``options``.

    ``source``: the table's name in messages and metadata (a file path); ``release``: a
    release folder to protect against; ``population``: a name for the people it counts
    (default: a fingerprint of the table), the same in every run on the same table. In a
    release with earlier ``suppress`` tables it can be margins of, it counts their people
    (:func:`joint.join`): they are protected together.
    Raises ``ValidationError`` (counts or structure) and ``UsageError`` (a total-looking
    label not declared as one).
    """
    opts = options or SuppressOptions()
    values = counts_column(frame, source, opts.count)
    dims = tuple(c for c in frame.columns if c not in (opts.count, "suppressed"))
    _check_total_labels(frame, dims, opts, source)
    spec = LongSpec(dims, opts.total_row, opts.total_label, opts.hierarchy or None)
    cells = from_long(frame.rename(columns={opts.count: "count"}), values, spec)
    failures = structure_failures(frame, cells, spec, opts.count)
    if failures:
        raise ValidationError(source, "counts", failures)
    pop = population or _fingerprint(frame)
    piece, people = _piece(pop, frame, values, cells, spec)
    piece, people, note = joint.join(piece, people, release)
    if opts.public:
        totals = {d: opts.total_label for d in dims} if opts.total_row else None
        named = public_cells(frame, cells, "count", opts.public, opts.policy, totals)
        piece = replace(piece, public=named)
    done = protect_one(piece, people, opts.policy, release, weight="count")
    long = frame.assign(**{opts.count: values}).rename(columns={opts.count: "count"})
    result = done.protection.apply(long, cells).rename(columns={"count": opts.count})
    meta = {
        "table": "suppress",
        "source": source,
        "disclosure": done.meta(),
        "remarks": done.protection.remarks,
    }
    return Suppressed(result, meta, done, () if note is None else (note,))


def _check_total_labels(
    frame: pd.DataFrame, dims: tuple[str, ...], opts: SuppressOptions, source: str
) -> None:
    """A total not read as one would be published unprotected: refuse rows labelled like
    one (``TOTAL_WORDS``) unless they are the declared total label."""
    declared = opts.total_label.strip().casefold() if opts.total_row else None
    for word in (w for w in TOTAL_WORDS if w != declared):
        labelled = [d for d in dims if total_rows(frame, d, word).any()]
        if labelled:
            raise UsageError(
                f"{source}: rows labelled {word!r} in {', '.join(labelled)} look like totals; "
                f"say --total-row --total-label {word!r} so they are protected as totals "
                "(or rename them if they are not)"
            )


def _fingerprint(frame: pd.DataFrame) -> str:
    """16 hex digits of the table's sha256 (its CSV text), naming its people."""
    text = frame.to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _piece(
    pop: str, frame: pd.DataFrame, values: np.ndarray, cells: Cells, spec: LongSpec
) -> tuple[Piece, dict[str, pd.DataFrame]]:
    """The table as a release piece: each row counts the people of the table's inner rows
    that match its labels (a Total label: any value), so separate ``--release`` runs on
    the same table are one release. A hierarchy's rows are not defined (their cells are
    protected by the table's own relations only)."""
    n = len(frame)
    if spec.hierarchy:
        return Piece("suppress", cells, (None,) * n, blocks=True), {}
    is_total = {
        d: total_rows(frame, d, spec.total_label) if spec.totals else np.zeros(n, bool)
        for d in spec.dims
    }
    text = {d: frame[d].astype("string").fillna("not_stated").tolist() for d in spec.dims}
    defs = tuple(
        Def.of(pop, {RAW + d: [text[d][i]] for d in spec.dims if not is_total[d][i]})
        for i in range(n)
    )
    inner = (
        ~np.logical_or.reduce([is_total[d] for d in spec.dims]) if spec.dims else np.ones(n, bool)
    )
    people = frame.loc[inner, list(spec.dims)].assign(count=np.asarray(values)[inner])
    return Piece("suppress", cells, defs, blocks=True), {pop: people.reset_index(drop=True)}
