"""Entry points: compute, compute_files and prepare, and the GapBuild before protection."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure import Cells, Policy, Protection
from unmetneed.errors import OptionError, Remarks
from unmetneed.inputs.stream import PEOPLE
from unmetneed.tables.gap.areas import (
    _Areas,
    _check_duplicates,
    _check_strict,
    _match_areas,
    _prevalence_only,
)
from unmetneed.tables.gap.benchmark import with_benchmark
from unmetneed.tables.gap.inputs import (
    _as_input,
    _counted_rows,
    _frame_of,
    _layout_of,
    _not_people,
    _one_substance,
    _people_frame,
    _require_files,
    _together,
    _treatment_kind,
    route_columns,
)
from unmetneed.tables.gap.options import (
    DERIVED,
    NAMING,
    RECORD_COLUMNS,
    GapOptions,
    GapResult,
    _Input,
)
from unmetneed.tables.gap.prevalence import _prevalence_means
from unmetneed.tables.gap.remarks import _with_remarks
from unmetneed.tables.gap.table import (
    _add_total,
    _apply,
    _as_written,
    _assemble,
    _cells,
    _counted,
    _flags,
    _sort,
)
from unmetneed.tables.gap.treatment import (
    _drop_margins,
    _in_treatment,
    _note_missing_groups,
    _select_periods,
    _substance_parts,
    _substances,
)


def compute(
    treatment: Any,
    prevalence: Any,
    options: GapOptions | None = None,
    *,
    population: str | None = None,
    release: Path | str | None = None,
) -> GapResult:
    """The protected gap table for a loaded treatment input and prevalence input.

    ``treatment``: a :class:`unmetneed.inputs.load.Loaded` (or typed frame) of kind ``treatment``
    (records) or ``counts`` (a ``count`` column). ``prevalence``: a ``Loaded`` (or typed
    frame) of kind ``prevalence``. Neither is modified. ``population``: a name for the
    people of the treatment input (default: a fingerprint of its people); ``release``: a
    release folder whose earlier tables this one is protected against (its register entry
    is added by ``result.protected.record()`` once the table is written).
    """
    from dataclasses import replace

    from unmetneed.disclosure.publish import protect_one
    from unmetneed.disclosure.release import fingerprint
    from unmetneed.disclosure.release import population as named

    build = prepare(treatment, prevalence, options)
    frame = _people_frame(_counted_rows(treatment, build.kind), build.kind)
    pop = population or named("treatment", fingerprint(frame, PEOPLE))
    piece = build.public(build.piece(pop))
    inputs = build.inputs(frame, pop, getattr(treatment, "path", None))
    done = protect_one(piece, {pop: frame}, build.policy, release, PEOPLE, inputs)
    result = build.finish(done.protection)
    return replace(result, disclosure=done.meta(), protected=done)


@dataclass(frozen=True)
class GapBuild:
    """A gap table before disclosure control, with what protecting it needs.

    ``table``: the unprotected table (sorted; internal columns such as ``area_id``).
    ``cells``: its disclosure cells: one ``in_treatment`` count (people) per row whose T is
    known, placed on its row, related to the total rows and to the substance parts (placed
    in the pseudo column ``PARTS_COLUMN``, which no frame has). ``derived``: the columns
    blanked with a suppressed count. ``counted``: the treatment rows counted (area id and
    area name of each), ``kind``: the input's kind; :meth:`piece` says what each cell counts
    for protecting it in a release. ``finish`` applies a :class:`Protection` of ``cells``
    (from ``protect``, or a release's sliced to them).
    """

    table: pd.DataFrame
    cells: Cells
    derived: tuple[str, ...]
    options: GapOptions
    flags: dict[str, np.ndarray]
    counted: pd.DataFrame
    kind: str
    columns: tuple[str, ...]
    areas: _Areas
    used: pd.DataFrame
    prev: _Input
    remarks: Remarks
    exact: bool = True  # every count of the treatment input is exact (in every period)

    @property
    def policy(self) -> Policy:
        """The disclosure policy of the options."""
        return self.options.disclosure_policy()

    def piece(self, pop: str, name: str = "gap") -> Any:
        """This table as a piece of a release (``unmetneed.disclosure.release``): what each
        ``in_treatment`` cell and substance part counts of population ``pop``. A counts
        input is tied to people only where its counts are exact, by drug_group and crack.
        """
        from unmetneed.tables.gap.cells import gap_piece

        return gap_piece(self, pop, name)

    def inputs(self, frame: pd.DataFrame, pop: str, path: Any = None) -> tuple[Any, ...]:
        """The counts file ``frame`` (read from ``path``; its margins are left out) as a
        table someone else published, for the release (its ``*`` counts are cells the
        attacker knows a range of), when the gap from it is not tied to people; else
        nothing (:func:`cells.counts_piece`)."""
        from unmetneed.tables.gap.cells import counts_piece

        if self.kind != "counts":
            return ()
        name = Path(str(path)).name if path else "counts"
        found = counts_piece(self, _counted_rows(frame, self.kind), pop, name)
        return () if found is None else (found,)

    def public(self, piece: Any) -> Any:
        """``piece`` with the options' public totals (``in_treatment`` cells) marked."""
        from dataclasses import replace

        from unmetneed.disclosure.public import public_cells

        if not self.options.public:
            return piece
        named = public_cells(
            self.table, self.cells, "in_treatment", self.options.public, self.policy
        )
        return replace(piece, public=named)

    def finish(self, protection: Protection) -> GapResult:
        """The protected table: suppressed counts and what derives from them blank, with
        its remarks; the metadata records ``cells`` (parts unplaced) for ``audit``.
        """
        rows = np.flatnonzero(self.table["in_treatment"].notna().to_numpy())
        protected = _apply(self.table, rows, self.cells, protection)
        flags = self.flags
        hidden = protected["suppressed"].to_numpy(dtype=bool) & ~flags["t_unknown"]
        flags = {**flags, "disclosure": hidden}
        for name in ("negative", "maybe_negative"):  # would say something about a hidden count
            flags[name] = flags[name] & ~hidden
        remarks = Remarks(list(self.remarks.items))  # finishing twice adds nothing twice
        _prevalence_only(self.areas, self.prev, remarks)
        final = _with_remarks(
            protected, flags, remarks, self.options, protection, self.used, self.areas
        )
        final = with_benchmark(final, self.options.benchmark, remarks)
        meta = protection.meta(_as_written(self.cells))
        return GapResult(final, tuple(remarks.items), meta, self.options)


def _released_by(release: Path | str | None) -> tuple[str, ...]:
    """Columns the release's earlier tables count people by (housing, disability...): the
    records are kept by them too, so that those tables' cells add up over this table's
    people (a table of the same extract counted by fewer columns is the same people)."""
    if release is None:
        return ()
    from unmetneed.disclosure import register

    earlier, _ = register.read(release)
    used = {v for p in earlier for d in p.defs if d is not None for v in d.variables()}
    return tuple(sorted(v for v in used if v not in ("dgc", "period", "area")))


def prepare(
    treatment: Any,
    prevalence: Any,
    options: GapOptions | None = None,
) -> GapBuild:
    """The gap table before disclosure control, and its cells (see :class:`GapBuild`).

    Same inputs as :func:`compute`; neither is modified.
    """
    opts = options or GapOptions()
    opts.check()
    treat = _as_input(treatment, "counts" if "count" in _frame_of(treatment) else "treatment")
    prev = _as_input(prevalence, "prevalence", opts)
    remarks = Remarks()
    remarks.extend(list(opts.periods_noted))
    several = getattr(treatment, "layout", None) == "several"  # notes name their files
    remarks.extend([n if several else f"{treat.path}: {n}" for n in treat.notes])
    remarks.extend([f"{prev.path}: {n}" for n in prev.notes])
    table, flags, areas, used, parts, chosen = _unprotected(treat, prev, opts, remarks)
    cells = _cells(table, parts)
    return GapBuild(
        table,
        cells,
        DERIVED,
        opts,
        flags,
        chosen,
        treat.kind,
        tuple(str(c) for c in treat.frame.columns),
        areas,
        used,
        prev,
        remarks,
        treat.kind != "counts" or PEOPLE in _people_frame(treat.frame, treat.kind),
    )


def _unprotected(
    treat: _Input, prev: _Input, opts: GapOptions, remarks: Remarks
) -> tuple[pd.DataFrame, dict[str, np.ndarray], _Areas, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The table before disclosure control, sorted, with its row flags, areas, the
    estimate years used, the substance parts (never shown to a reader: they may hold small
    counts) and the treatment rows counted (``row``: position in the input, ``period``,
    ``area_id``, ``drug_group``/``crack``/``substance`` where the input has them).
    """
    kept = _drop_margins(treat, remarks)
    _note_missing_groups(treat, kept, remarks)
    treat_frame = _select_periods(kept, opts, treat.path)
    substances = _substances(treat, prev, opts, remarks)
    prev_frame = prev.frame[prev.frame["substance"].isin(substances)]
    areas = _match_areas(treat_frame, prev_frame)
    _check_duplicates(prev_frame, areas.prev_ids, prev.path)
    _check_strict(opts, areas, treat, prev, treat_frame, prev_frame)
    counts = _in_treatment(treat, treat_frame, areas.treat_ids, substances, opts)
    parts = _substance_parts(treat, treat_frame, areas.treat_ids)
    means, used = _prevalence_means(prev_frame, areas.prev_ids, counts, opts)
    table = _assemble(counts, means, used, areas)
    flags = _flags(table, areas, used)
    if opts.total is not None:
        table, flags = _add_total(table, flags, opts.total)
    table, flags = _sort(table, flags)
    return table, flags, areas, used, parts, _counted(treat, treat_frame, areas.treat_ids)


def compute_files(
    treatment: Path | str | Sequence[Path | str],
    prevalence: Path | str,
    options: GapOptions | None = None,
    *,
    treatment_columns: Mapping[str, str] | None = None,
    prevalence_columns: Mapping[str, str] | None = None,
    columns: Iterable[tuple[str, str]] = (),
    release: Path | str | None = None,
    reading: Mapping[str, Any] | None = None,
) -> GapResult:
    """Load the files and compute the gap table.

    ``treatment``: one file or several (read together: e.g. ViewIt's England export and a
    local authority's); a ``count`` column, or a counts layout such as NDTMS ViewIt, makes a
    file a counts file. A prevalence file without a ``substance`` column takes the one
    substance of its layout or of ``options.substances``. ``reading``: per input
    (``treatment``, ``prevalence``) a :class:`unmetneed.inputs.load.InputOptions` (layout, sheet,
    header row). ``columns``: ``(NEW, OLD)`` renames for whichever file has a column OLD
    (both, if both have it), before the ``*_columns`` of one file; a file given twice is
    refused (it would be counted twice).
    """
    from functools import partial

    from unmetneed.inputs.load import InputOptions, load, streamed_or_whole
    from unmetneed.inputs.stream import collapse

    opts = options or GapOptions()
    paths = [Path(treatment)] if isinstance(treatment, (str, Path)) else list(map(Path, treatment))
    if not paths:
        raise OptionError("treatment", None, "give at least one file")
    _no_repeats(paths)
    pairs = list(columns)
    if pairs:
        to_t, to_p = route_columns(pairs, paths, prevalence)
        treatment_columns = {**to_t, **(treatment_columns or {})}
        prevalence_columns = {**to_p, **(prevalence_columns or {})}
    _require_files(*paths, prevalence)
    how = {"treatment": InputOptions(), "prevalence": InputOptions(), **(reading or {})}
    t_how, p_how = how["treatment"], how["prevalence"]
    p_layout = _layout_of(Path(prevalence), prevalence_columns, p_how)
    loaded = []
    for path in paths:
        kind = _treatment_kind(path, treatment_columns, t_how, prevalence)
        if kind == "treatment":  # records (any format): counted in batches, never held
            keep = (*RECORD_COLUMNS, *NAMING, *_released_by(release))
            count = partial(collapse, path, kind, keep, treatment_columns, t_how)
            loaded.append(streamed_or_whole(count))
            continue
        loaded.append(
            load(
                path,
                kind,
                columns=treatment_columns,
                layout=t_how.layout,
                sheet=t_how.sheet,
                header_row=t_how.header_row,
                rounded_to=t_how.rounded_to,
                last_row=t_how.last_row,
            )
        )
    treat = loaded[0] if len(loaded) == 1 else _together(loaded)
    if p_layout is None:
        _not_people(Path(prevalence), prevalence_columns, p_how, paths)
        one = _one_substance(Path(prevalence), prevalence_columns, opts, p_how)
    else:  # the layout names it, or the file (Fingertips: the indicator name)
        one = opts.substances[0] if len(opts.substances) == 1 and not p_layout.substance else None
    prev = load(
        prevalence,
        "prevalence",
        columns=prevalence_columns,
        substance=one,
        layout=p_how.layout,
        sheet=p_how.sheet,
        header_row=p_how.header_row,
        last_row=p_how.last_row,
    )
    return compute(treat, prev, opts, release=release)


def _no_repeats(paths: list[Path]) -> None:
    """An option error for a file given twice as treatment (it would be counted twice)."""
    seen = set()
    for path in paths:
        resolved = path.resolve()
        if resolved in seen:
            raise OptionError("treatment", path, "given twice; give each file once")
        seen.add(resolved)
