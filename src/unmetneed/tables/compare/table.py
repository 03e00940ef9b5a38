"""Cohort comparison tables: people in treatment versus people outside it, with statistics.

``compare(cohorts, CompareOptions(by=("disability", "housing"), within=("area",)))`` returns
a :class:`Comparison` whose ``table`` is tidy, one row per cohort x within-group x variable x
category, with the pinned columns (contract 4.2)::

    cohort, <within...>, variable, category, count, denominator, pct, pct_lower, pct_upper,
    suppressed

followed by these extra columns:

- ``diff_vs``: the cohort this row is compared with (with two cohorts, the other one;
  with more, the reference cohort, the first given); ``diff_pp``, ``diff_lower``,
  ``diff_upper``: this row's pct minus that cohort's pct, in percentage points, with
  Newcombe's hybrid score 95% interval.
- ``test``, ``statistic``, ``dof``, ``p_value``: the test of difference between the cohorts'
  distributions over the variable's categories in this within-group (the same on every row
  of the block): ``chi2`` (Pearson, no continuity correction), ``fisher_exact`` (2x2) or
  ``fisher_monte_carlo`` (r x c) when an expected count is below 5, ``none`` when there is
  nothing to test, ``suppressed`` when the table it uses holds a suppressed count.
- ``p_value_bound``: ``<=`` where a Monte Carlo p-value is at its floor 1/(B+1) (an upper
  bound: shown ``<0.001``), ``=`` for every other p-value.

Units: ``count`` and ``denominator`` are people; ``pct`` and its interval are percent of
the denominator. By default the denominator is every person of the cohort group and
``not_stated`` is a category of its own (NDTMS convention); with ``exclude_not_stated``
it is the people with a stated value and ``not_stated`` rows are left out (tableone).

Counting is one ``numpy.bincount`` per variable over integer codes (no loop over rows or
groups). Disclosure control (``unmetneed.disclosure.protect``) runs before the table is
returned: counts and denominators in 1..k are suppressed, enough others to stop them being
worked out from the denominators, and every percentage, interval, difference and test that
uses a suppressed count is blanked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.disclosure import Cells, Policy, Protection
from unmetneed.disclosure.release import GROUP_PARTS_COLUMN
from unmetneed.errors import UsageError
from unmetneed.inputs.codes import NOT_STATED
from unmetneed.inputs.variables import (
    AgeBands,
    Coded,
    code_variable,
    parse_age_bands,
    source_columns,
)
from unmetneed.tables.compare.cohorts import combine_cohorts
from unmetneed.tables.compare.groups import Groups, count_by_group, group_rows
from unmetneed.tables.compare.options import (
    DERIVED,
    EXTRA_COLUMNS,
    PINNED_TAIL,
    CompareOptions,
    check_columns,
)
from unmetneed.tables.compare.remarks import _remarks
from unmetneed.tables.compare.stats import block_tests, newcombe, wilson


@dataclass(frozen=True)
class Comparison:
    """A protected comparison table and what was needed to build and check it.

    ``table``: the tidy table (module docstring). ``variables``: each variable with its
    categories in the order shown. ``cells``/``protection``: the disclosure structure and
    outcome (``protection.meta(cells)`` goes into the written metadata). ``remarks``:
    numbered caveats for under the table.
    """

    table: pd.DataFrame
    within: tuple[str, ...]
    cohorts: tuple[str, ...]
    variables: tuple[tuple[str, tuple[str, ...]], ...]
    cells: Cells
    protection: Protection
    remarks: tuple[str, ...]
    options: CompareOptions
    disclosure: dict[str, Any] | None = None
    protected: Any = None  # the release protection (``disclosure.publish.Protected``)

    def meta(self) -> dict[str, Any]:
        """Metadata for ``write_table``: table name, disclosure structure, remarks, options."""
        opts = self.options
        return {
            "table": "compare",
            "disclosure": self.disclosure or self.protection.meta(self.cells),
            "remarks": list(self.remarks),
            "options": {
                "cohorts": list(self.cohorts),
                "by": list(opts.variables),
                "within": list(self.within),
                "age_bands": list(opts.age_bands),
                "exclude_not_stated": opts.exclude_not_stated,
                "k": opts.k,
                "zeros_disclosive": opts.zeros_disclosive,
                "suppression": "off" if opts.k <= 0 else f"counts 1..{opts.k} suppressed",
                "reference": (opts.reference or self.cohorts[0]) if len(self.cohorts) > 2 else None,
                "intervals": "95% Wilson score (pct), Newcombe hybrid score (diff_pp)",
                "tests": "chi2 (Pearson, no continuity correction); fisher_exact (2x2) or "
                f"fisher_monte_carlo ({opts.resamples} tables, seed {opts.seed}) when an "
                "expected count is below 5",
            },
        }


@dataclass
class _Rows:
    """Row-level arrays of the table before it becomes a frame (one entry per row)."""

    group: list[np.ndarray] = field(default_factory=list)
    variable: list[np.ndarray] = field(default_factory=list)
    category: list[np.ndarray] = field(default_factory=list)
    count: list[np.ndarray] = field(default_factory=list)
    denominator: list[np.ndarray] = field(default_factory=list)
    denominator_cell: list[np.ndarray] = field(default_factory=list)
    count_cell: list[np.ndarray] = field(default_factory=list)

    def cat(self, name: str) -> np.ndarray:
        """One field's pieces joined into one int64 array."""
        return np.concatenate(getattr(self, name)).astype(np.int64)


def compare(
    cohorts: Mapping[str, pd.DataFrame] | pd.DataFrame | Tally,
    options: CompareOptions,
    *,
    populations: Mapping[str, str] | None = None,
    release: Path | str | None = None,
    frames: Mapping[str, pd.DataFrame] | None = None,
) -> Comparison:
    """The protected comparison table of ``cohorts`` (label -> frame, or one frame with a
    ``cohort`` column, or a :class:`Tally` already counted) over ``options.by`` within
    ``options.within``.

    Frames are as ``unmetneed.inputs.load.load`` returns them (treatment or cohort kind); they
    are not changed. ``populations``: a name for each cohort's people (default: a
    fingerprint of its people); ``release``: a release folder whose earlier tables this one is
    protected against (``result.protected.record()`` adds it once written). A Tally has no
    rows: give each cohort's records (``frames``, e.g. collapsed, with a ``_people``
    column) to protect it over the people, else it is protected by its own relations only.
    """
    from dataclasses import replace

    from unmetneed.disclosure.publish import protect_one
    from unmetneed.disclosure.release import Piece, fingerprint, population, separate
    from unmetneed.inputs.stream import PEOPLE

    build = prepare(cohorts, options)
    if frames is None:
        frames = {} if isinstance(cohorts, Tally) else _cohort_frames(cohorts, build.labels)
    if frames:
        default = {
            label: population(_kind(f), fingerprint(f, PEOPLE)) for label, f in frames.items()
        }
        pops = separate(populations or default, frames, PEOPLE)
        piece = build.piece("compare", pops)
        people = {pops[label]: f for label, f in frames.items()}
    else:
        piece = Piece(
            "compare", build.cells, (None,) * len(build.cells.values), blocks=True, zeros=True
        )
        people = {}
    done = protect_one(build.public(piece), people, build.policy, release, weight=PEOPLE)
    result = build.finish(done.protection)
    return replace(result, disclosure=done.meta(), protected=done)


def _kind(frame: pd.DataFrame) -> str:
    """``treatment`` when the frame has every column a treatment extract requires, none
    missing (as ``--kind auto`` reads a file), else ``cohort``."""
    required = ("period", "area", "drug_group", "crack", "age_band", "sex")
    whole = all(c in frame and not frame[c].isna().any() for c in required)
    return "treatment" if whole else "cohort"


def _cohort_frames(
    cohorts: Mapping[str, pd.DataFrame] | pd.DataFrame, labels: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """Each cohort's record frame by label (one frame split by its ``cohort`` column)."""
    if isinstance(cohorts, pd.DataFrame):
        text = cohorts["cohort"].astype("string")
        return {label: cohorts[(text == label).to_numpy(bool)] for label in labels}
    return {str(label): frame for label, frame in cohorts.items()}


@dataclass(frozen=True)
class CompareBuild:
    """A comparison table before disclosure control, with what protecting it needs.

    ``table``: the table with its statistics, nothing blanked. ``cells``: its counts and
    denominators (people), placed on the rows (columns ``count`` and ``denominator``) and
    related (each group x variable's denominator = the sum of its categories). ``derived``:
    the columns blanked with a suppressed count. ``finish`` applies a :class:`Protection`
    of ``cells`` (from ``protect``, or a release's sliced to them).
    """

    table: pd.DataFrame
    cells: Cells
    derived: tuple[str, ...]
    options: CompareOptions
    labels: tuple[str, ...]
    within: tuple[Coded, ...]
    coded: tuple[Coded, ...]
    groups: Groups
    row_cells: _RowCells
    bands: AgeBands | None
    sizes: tuple[int, ...]

    @property
    def policy(self) -> Policy:
        """The disclosure policy of the options (counts 1..k suppressed)."""
        return self.options.disclosure_policy()

    def finish(self, protection: Protection) -> Comparison:
        """The protected comparison: blanked table, remarks, cells and protection."""
        opts = self.options
        base = self.table
        if protection.policy.round_to:  # NHS Digital: percentages from the rounded counts
            base = _from_rounded(base, self.row_cells, protection, opts)
        table = _protect(base, self.row_cells, self.cells, protection, opts)
        remarks = _remarks(
            table, self.groups, self.labels, opts, self.bands, protection, self.coded
        )
        return Comparison(
            table=table,
            within=tuple(w.name for w in self.within),
            cohorts=self.labels,
            variables=tuple(
                (c.name, _shown_categories(c, opts.exclude_not_stated)) for c in self.coded
            ),
            cells=self.cells,
            protection=protection,
            remarks=remarks,
            options=opts,
        )

    def piece(
        self,
        name: str,
        pops: Mapping[str, str],
        extra: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
    ) -> Any:
        """This table as a release piece: what each count and denominator counts, of the
        population ``pops[label]`` of each cohort (``extra[label]``: filters every cell of
        that cohort has, e.g. the period its rows were chosen by).
        """
        from unmetneed.tables.compare.cells import compare_piece

        return compare_piece(self, name, pops, extra or {})

    def public(self, piece: Any) -> Any:
        """``piece`` with the options' public totals (``denominator`` cells) marked."""
        from dataclasses import replace

        from unmetneed.disclosure.public import public_cells

        if not self.options.public:
            return piece
        named = public_cells(
            self.table, self.cells, "denominator", self.options.public, self.policy
        )
        return replace(piece, public=named)


@dataclass(frozen=True)
class Tally:
    """People counted for a comparison, from record frames or counted in batches.

    ``labels``: the cohorts in order. ``within``/``coded``: the within columns and the
    variables with their categories (``codes`` per row where rows were given, else empty).
    ``groups``: the cohort x within-groups with people. ``counts``: per variable, people per
    group x category. ``sizes``: people per cohort.
    """

    labels: tuple[str, ...]
    within: tuple[Coded, ...]
    coded: tuple[Coded, ...]
    groups: Groups
    counts: tuple[np.ndarray, ...]
    sizes: tuple[int, ...]


def tally_frames(
    cohorts: Mapping[str, pd.DataFrame] | pd.DataFrame,
    options: CompareOptions,
    bands: AgeBands | None,
) -> Tally:
    """The :class:`Tally` of record frames (label -> frame, or one frame with ``cohort``);
    a frame with a ``PEOPLE`` column (collapsed records, a counts file) counts that many
    people per row."""
    from unmetneed.inputs.stream import PEOPLE

    variables, within = options.variables, options.within_columns
    columns = source_columns((*within, *variables))
    weighted = (
        PEOPLE in cohorts
        if isinstance(cohorts, pd.DataFrame)
        else any(PEOPLE in f for f in cohorts.values())
    )
    if weighted and not isinstance(cohorts, pd.DataFrame):
        cohorts = {k: f if PEOPLE in f else f.assign(**{PEOPLE: 1}) for k, f in cohorts.items()}
    frame = combine_cohorts(cohorts, (*columns, PEOPLE) if weighted else columns)
    weights = frame[PEOPLE].to_numpy(dtype=np.float64) if weighted else None
    labels = tuple(str(c) for c in frame["cohort"].cat.categories)
    cohort_codes = np.asarray(frame["cohort"].cat.codes, dtype=np.int64)
    within_coded = tuple(code_variable(frame, w, bands) for w in within)
    groups = group_rows(cohort_codes, len(labels), within_coded, weights)
    coded = tuple(code_variable(frame, v, bands) for v in variables)
    counts = tuple(count_by_group(groups, var, weights) for var in coded)
    sizes = np.bincount(cohort_codes, weights=weights, minlength=len(labels))
    return Tally(labels, within_coded, coded, groups, counts, tuple(int(n) for n in sizes))


def every_cohort(tally: Tally) -> Tally:
    """``tally`` with every cohort that has people listed in every within-group that some
    cohort has people in (0 people where it has none), in the same within-major,
    cohort-minor order. A cohort with nobody at all stays out (a remark says so).

    A table that left a cohort's empty group out would tell a reader it is empty (e.g.
    that all of a cohort's few people in one area share one sex): listed, it is a zero
    that disclosure control can suppress beside a suppressed group size.
    """
    g = tally.groups
    cohorts = np.flatnonzero(np.asarray(tally.sizes) > 0)
    n_blocks = int(g.block.max()) + 1 if g.n else 0
    if g.n == n_blocks * len(cohorts):
        return tally
    rank = np.searchsorted(cohorts, g.cohort)  # each group's cohort among those listed
    at = g.block * len(cohorts) + rank  # each group's place in the complete list
    first = np.unique(g.block, return_index=True)[1]
    size = np.zeros(n_blocks * len(cohorts), dtype=np.int64)
    size[at] = g.size
    groups = Groups(
        of_row=at[g.of_row] if len(g.of_row) else g.of_row,
        cohort=np.tile(cohorts.astype(np.int64), n_blocks),
        within=np.repeat(g.within[first], len(cohorts), axis=0),
        block=np.repeat(np.arange(n_blocks, dtype=np.int64), len(cohorts)),
        size=size,
    )
    counts = []
    for c in tally.counts:
        full = np.zeros((len(size), c.shape[1]), dtype=c.dtype)
        full[at] = c
        counts.append(full)
    return replace(tally, groups=groups, counts=tuple(counts))


def prepare(
    cohorts: Mapping[str, pd.DataFrame] | pd.DataFrame | Tally, options: CompareOptions
) -> CompareBuild:
    """The comparison table before disclosure control, and its cells (:class:`CompareBuild`).

    Same inputs as :func:`compare` (or a :class:`Tally` already counted); not changed.
    """
    check_columns(options.variables, options.within_columns)
    bands = parse_age_bands(options.age_bands) if options.age_bands else None
    tally = cohorts if isinstance(cohorts, Tally) else tally_frames(cohorts, options, bands)
    tally = every_cohort(tally)
    groups, labels = tally.groups, tally.labels
    rows, cells = _count_rows(groups, tally.coded, tally.counts, options.exclude_not_stated)
    order = np.lexsort(
        (
            rows.cat("category"),
            groups.cohort[rows.cat("group")],
            rows.cat("variable"),
            groups.block[rows.cat("group")],
        )
    )
    reference = _reference(labels, options.reference)
    table, row_cells = _frame(rows, order, groups, labels, tally.within, tally.coded, reference)
    table = _add_statistics(table, row_cells, options)
    rows_at = np.arange(len(table))
    cells.place("count", row_cells.count, rows_at)
    cells.place("denominator", row_cells.denominator, rows_at)
    return CompareBuild(
        table,
        cells,
        DERIVED,
        options,
        labels,
        tally.within,
        tally.coded,
        groups,
        row_cells,
        bands,
        tally.sizes,
    )


def _reference(labels: tuple[str, ...], reference: str | None) -> int:
    """Code of the cohort the others are compared with (the first unless named)."""
    if reference is None:
        return 0
    if reference not in labels:
        raise UsageError(f"reference cohort {reference!r} is not one of {', '.join(labels)}")
    return labels.index(reference)


def _shown_categories(variable: Coded, exclude_not_stated: bool) -> tuple[str, ...]:
    """Categories that get rows: all, or all but ``not_stated`` when excluding it."""
    if exclude_not_stated:
        return tuple(c for c in variable.categories if c != NOT_STATED)
    return variable.categories


@dataclass(frozen=True)
class _RowCells:
    """For each table row: its count cell, denominator cell, block and partner row (-1)."""

    count: np.ndarray
    denominator: np.ndarray
    block: np.ndarray
    group: np.ndarray
    partner: np.ndarray


def _count_rows(
    groups: Groups, coded: Sequence[Coded], counted: Sequence[np.ndarray], exclude: bool
) -> tuple[_Rows, Cells]:
    """Counts and denominators of every row, and the cells and relations for disclosure.

    Cell ids: the denominators first (one per group by default, shared by every variable;
    one per group x variable when excluding not stated), then one cell per row's count,
    then (excluding not stated) cells no row shows: each group's size, then its not stated
    count of each variable. Relations: per group x variable, its denominator = the sum of its
    categories' counts; excluding not stated, also group size = denominator + not stated
    (so two variables' denominators of one group cannot be differenced unseen).
    ``counted``: per variable, people per group x category.
    """
    rows = _Rows()
    denom_values: list[np.ndarray] = []
    relations: list[tuple[np.ndarray, np.ndarray]] = []
    not_stated: list[np.ndarray] = []
    n_denominators = 0
    n_counts = 0
    for v, var in enumerate(coded):
        shown = [i for i, c in enumerate(var.categories) if not (exclude and c == NOT_STATED)]
        counts = counted[v][:, shown]
        ncat = len(shown)
        if exclude or v == 0:
            denom_values.append(counts.sum(axis=1) if exclude else groups.size)
            denom_cell = n_denominators + np.arange(groups.n)
            n_denominators += groups.n
        if exclude:
            not_stated.append(groups.size - denom_values[-1])
        rows.group.append(np.repeat(np.arange(groups.n), ncat))
        rows.variable.append(np.full(groups.n * ncat, v))
        rows.category.append(np.tile(np.asarray(shown, dtype=np.int64), groups.n))
        rows.count.append(counts.reshape(-1))
        rows.denominator.append(np.repeat(denom_values[-1], ncat))
        rows.denominator_cell.append(np.repeat(denom_cell, ncat))
        count_cell = (n_counts + np.arange(groups.n * ncat)).reshape(groups.n, ncat)
        rows.count_cell.append(count_cell.reshape(-1))
        relations.append((denom_cell, count_cell))
        n_counts += groups.n * ncat
    hidden_parts = [groups.size, *not_stated] if exclude else []
    cells = Cells(np.concatenate([*denom_values, rows.cat("count"), *hidden_parts]))
    rows.count_cell = [rows.cat("count_cell") + n_denominators]
    for denom_cell, count_cell in relations:
        cells.add_relations(denom_cell, count_cell + n_denominators)
    if exclude:
        _tie_group_sizes(cells, groups.n, len(coded), n_denominators + n_counts)
    return rows, cells


def _tie_group_sizes(cells: Cells, n_groups: int, n_vars: int, first: int) -> None:
    """Excluding not stated: group size = variable v's denominator + its not stated count,
    for every group and variable. The sizes (ids from ``first``) and not stated counts
    (after them) are placed in pseudo columns: never shown, protected when small."""
    size = first + np.arange(n_groups)
    pseudo = np.arange(first, first + n_groups * (1 + n_vars))
    cells.place(GROUP_PARTS_COLUMN, pseudo, np.zeros(len(pseudo), dtype=np.int64))
    for v in range(n_vars):
        denominator = v * n_groups + np.arange(n_groups)
        missing = first + (1 + v) * n_groups + np.arange(n_groups)
        cells.add_relations(size, np.column_stack([denominator, missing]))


def _frame(
    rows: _Rows,
    order: np.ndarray,
    groups: Groups,
    labels: tuple[str, ...],
    within: Sequence[Coded],
    coded: Sequence[Coded],
    reference: int,
) -> tuple[pd.DataFrame, _RowCells]:
    """The tidy frame in display order (within, variable, cohort, category), no statistics."""
    g = rows.cat("group")[order]
    v = rows.cat("variable")[order]
    c = rows.cat("category")[order]
    data: dict[str, Any] = {"cohort": np.asarray(labels, dtype=object)[groups.cohort[g]]}
    for j, w in enumerate(within):
        data[w.name] = np.asarray(w.categories, dtype=object)[groups.within[g, j]]
    data["variable"] = np.asarray([x.name for x in coded], dtype=object)[v]
    cat_labels = np.empty(len(order), dtype=object)
    for i, var in enumerate(coded):
        hit = v == i
        cat_labels[hit] = np.asarray(var.categories, dtype=object)[c[hit]]
    data["category"] = cat_labels
    data["count"] = rows.cat("count")[order]
    data["denominator"] = rows.cat("denominator")[order]
    table = pd.DataFrame(data)
    partner = _partner_rows(groups.block[g], v, c, groups.cohort[g], len(labels), reference)
    row_cells = _RowCells(
        count=rows.cat("count_cell")[order],
        denominator=rows.cat("denominator_cell")[order],
        block=groups.block[g] * max(len(coded), 1) + v,
        group=g,
        partner=partner,
    )
    return table, row_cells


def _partner_rows(
    block: np.ndarray,
    variable: np.ndarray,
    category: np.ndarray,
    cohort: np.ndarray,
    n: int,
    reference: int = 0,
) -> np.ndarray:
    """Row each row's difference is taken against (-1: none).

    Two cohorts: the same category in the other cohort. More: the reference cohort (code
    ``reference``); its own rows have none. One: none.
    """
    if n < 2:
        return np.full(len(block), -1, dtype=np.int64)
    other = 1 - cohort if n == 2 else np.full_like(cohort, reference)
    keys = pd.MultiIndex.from_arrays([block, variable, category, cohort])
    wanted = pd.MultiIndex.from_arrays([block, variable, category, other])
    partner = np.asarray(keys.get_indexer(wanted), dtype=np.int64)
    if n > 2:
        partner[cohort == reference] = -1
    return partner


def _add_statistics(table: pd.DataFrame, rc: _RowCells, options: CompareOptions) -> pd.DataFrame:
    """The table with pct and its Wilson interval, differences and tests (not yet protected)."""
    count = table["count"].to_numpy(dtype=np.int64)
    denom = table["denominator"].to_numpy(dtype=np.int64)
    pct, lower, upper = wilson(count, denom)
    has = rc.partner >= 0
    p = np.where(has, rc.partner, 0)
    diff, dlo, dhi = newcombe(count, denom, count[p], denom[p])
    diff_vs = np.full(len(table), None, dtype=object)
    diff_vs[has] = table["cohort"].to_numpy(dtype=object)[p[has]]
    out = table.assign(
        pct=pct,
        pct_lower=lower,
        pct_upper=upper,
        suppressed=False,
        diff_vs=diff_vs,
        diff_pp=np.where(has, diff, np.nan),
        diff_lower=np.where(has, dlo, np.nan),
        diff_upper=np.where(has, dhi, np.nan),
    )
    return out


def _from_rounded(
    table: pd.DataFrame, rc: _RowCells, protection: Protection, options: CompareOptions
) -> pd.DataFrame:
    """The table with counts and denominators rounded as published and every percentage,
    interval and difference worked out again from them (so none gives the exact count)."""
    shown = np.nan_to_num(protection.shown, nan=0.0).astype(np.int64)
    rounded = table.assign(count=shown[rc.count], denominator=shown[rc.denominator])
    return _add_statistics(rounded, rc, options)


def _tests(
    count: np.ndarray,
    block: np.ndarray,
    cohort: np.ndarray,
    hidden: np.ndarray,
    options: CompareOptions,
) -> dict[str, np.ndarray]:
    """Test columns: one test per within-group x variable block, repeated on its rows.

    Rows of a block are contiguous, ordered by cohort then category, so each block's
    cohorts x categories table is a reshape of its counts. A block with a ``hidden`` row
    (a suppressed count or denominator) is not tested: ``test`` reads ``suppressed``.
    """
    return block_tests(count, block, cohort, hidden, resamples=options.resamples, seed=options.seed)


def _protect(
    table: pd.DataFrame,
    rc: _RowCells,
    cells: Cells,
    protection: Protection,
    options: CompareOptions,
) -> pd.DataFrame:
    """Suppressed counts and denominators blank, with everything derived from them, and
    the tests of the blocks that have nothing suppressed.

    ``protection.apply`` blanks the cells and the row's pct, interval and difference; here
    a difference is also blanked when its partner row lost a count or denominator, and a
    block with any such row is not tested (``test`` reads ``suppressed``). The cells must
    already be placed on the rows (``cells.place``).
    """
    out = protection.apply(table, cells, derived=DERIVED)
    hidden = protection.suppressed[rc.count] | protection.suppressed[rc.denominator]
    tests = _tests(
        table["count"].to_numpy(dtype=np.int64),
        rc.block,
        table["cohort"].to_numpy(dtype=object),
        hidden,
        options,
    )
    out = out.assign(**tests)
    partner_hidden = np.where(rc.partner >= 0, hidden[np.maximum(rc.partner, 0)], False)
    lose_diff = partner_hidden & ~hidden
    for name in ("diff_pp", "diff_lower", "diff_upper"):
        out[name] = out[name].astype("Float64").mask(lose_diff)
    for name in ("statistic", "dof", "p_value"):
        out[name] = out[name].astype("Float64")
    out["p_value_bound"] = p_value_bound(out["test"], out["p_value"], options.resamples)
    out["suppressed"] = out["suppressed"].to_numpy(dtype=bool) | lose_diff
    for name in ("count", "denominator"):
        out[name] = out[name].astype("Int64")
    for name in ("pct", "pct_lower", "pct_upper"):
        out[name] = out[name].astype("Float64")
    columns = [c for c in table.columns if c not in (*PINNED_TAIL, *EXTRA_COLUMNS)]
    return out.loc[:, [*columns, *PINNED_TAIL, *EXTRA_COLUMNS]]


def p_value_bound(test: pd.Series, p_value: pd.Series, resamples: int) -> pd.Series:
    """``<=`` where a Monte Carlo p-value is at its floor 1/(B+1) (no random table was as
    extreme: the true p-value may be far smaller), ``=`` for other p-values, null where
    there is none.

    >>> p_value_bound(pd.Series(["fisher_monte_carlo", "chi2", "none"]),
    ...               pd.Series([1 / 2001, 0.5, None], dtype="Float64"), 2000).tolist()
    ['<=', '=', <NA>]
    """
    p = p_value.astype("Float64")
    floor = (test.astype("string") == "fisher_monte_carlo") & (
        p <= 1.0 / (resamples + 1) * 1.000001
    )
    text = np.full(len(p), None, dtype=object)
    text[p.notna().to_numpy(dtype=bool)] = "="
    text[floor.fillna(False).to_numpy(dtype=bool)] = "<="
    return pd.Series(text, index=p.index, dtype="string")
