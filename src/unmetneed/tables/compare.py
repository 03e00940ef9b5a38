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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from unmetneed.counting import count, groups_of, key_numbers
from unmetneed.disclosure import Cells, Policy, Protection
from unmetneed.disclosure.release import GROUP_PARTS_COLUMN
from unmetneed.errors import UsageError, ValidationError
from unmetneed.inputs.codes import NOT_STATED
from unmetneed.inputs.variables import (
    FLAG_CATEGORIES,
    SUBSTANCE_COHORTS,
    AgeBands,
    Coded,
    code_variable,
    derive_substance_cohort,
    parse_age_bands,
    source_columns,
    substance_cohort_codes,
)
from unmetneed.tables.compare_stats import RESAMPLES, SEED, block_tests, newcombe, wilson

if TYPE_CHECKING:
    from unmetneed.inputs.load import Loaded

__all__ = [
    "COHORT_KINDS",
    "DISABILITY_COLUMNS",
    "FLAG_CATEGORIES",
    "SUBSTANCE_COHORTS",
    "AgeBands",
    "Coded",
    "CompareBuild",
    "CompareOptions",
    "Comparison",
    "Groups",
    "Tally",
    "code_variable",
    "combine_cohorts",
    "compare",
    "count_by_group",
    "counts_as_people",
    "derive_substance_cohort",
    "expand_columns",
    "group_rows",
    "is_counts_file",
    "load_cohort_file",
    "load_cohorts",
    "p_value_bound",
    "parse_age_bands",
    "parse_cohort_spec",
    "parse_cohort_specs",
    "prepare",
    "require_columns",
    "source_columns",
    "substance_cohort_codes",
    "tally_frames",
    "unlabelled",
    "wide",
    "wide_suppressed",
]

DISABILITY_COLUMNS = ("disability_learning", "disability_mental_health", "disability_physical")
ALIASES: dict[str, tuple[str, ...]] = {"age": ("age_band",), "disability": DISABILITY_COLUMNS}
PINNED_HEAD = ("cohort",)
PINNED_TAIL = (
    "variable",
    "category",
    "count",
    "denominator",
    "pct",
    "pct_lower",
    "pct_upper",
    "suppressed",
)
EXTRA_COLUMNS = (
    "diff_vs",
    "diff_pp",
    "diff_lower",
    "diff_upper",
    "test",
    "statistic",
    "dof",
    "p_value",
    "p_value_bound",
)
DERIVED = ("pct", "pct_lower", "pct_upper", "diff_pp", "diff_lower", "diff_upper")
SMALL_DENOMINATOR = 30


@dataclass(frozen=True)
class CompareOptions:
    """What to compare and how.

    ``by``: variables to tabulate (``disability`` = the three disability columns, ``age`` =
    ``age_band``, ``substance_cohort`` derived). ``within``: columns that split the table.
    ``age_bands``: collapsed bands such as ``("18-29", "30-39", "40+")``.
    ``exclude_not_stated``: denominators of stated values only. ``k``: small-cell threshold
    (counts 1..k suppressed; 0 turns suppression off). ``zeros_disclosive``: zeros are
    suppressed too. ``policy``: a named policy (``k3``, ``lt5``, ``nhs``: counts rounded to
    5 and percentages made from the rounded counts). ``reference``: cohort the others are
    compared with when there are more than two (default: the first). ``resamples``/``seed``:
    the Monte Carlo Fisher test's random tables. ``disclosure``: the disclosure policy
    itself, when one is handed in (a run's, the same object for every table:
    :meth:`with_policy`); it then decides, not ``k``/``zeros_disclosive``/``policy``.
    the Monte Carlo Fisher test's random tables. ``public``: group sizes published anyway
    (a study's n), never suppressed: ``COLUMN=VALUE,...`` specs of the rows whose
    ``denominator`` they are, e.g. ``cohort=OOTU`` (:mod:`unmetneed.disclosure.public`).
    """

    by: tuple[str, ...]
    within: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    exclude_not_stated: bool = False
    k: int = 3
    zeros_disclosive: bool = False
    reference: str | None = None
    resamples: int = RESAMPLES
    seed: int = SEED
    policy: str | None = None
    disclosure: Policy | None = field(default=None, compare=False)

    def with_policy(self, policy: Policy) -> CompareOptions:
        """These options under ``policy`` (e.g. a run's one policy)."""
        return replace(
            self,
            k=policy.k,
            zeros_disclosive=policy.zeros_disclosive,
            policy=policy.name,
            disclosure=policy,
        )

    def disclosure_policy(self) -> Policy:
        """The disclosure policy these options ask for (the one handed in, if any)."""
        if self.disclosure is not None:
            return self.disclosure
        return Policy.named(self.policy, self.k, zeros=self.zeros_disclosive)

    public: tuple[str, ...] = ()

    @property
    def variables(self) -> tuple[str, ...]:
        """``by`` with aliases expanded, each column once, in the order given."""
        return expand_columns(self.by)

    @property
    def within_columns(self) -> tuple[str, ...]:
        """``within`` with aliases expanded, each column once, in the order given."""
        return expand_columns(self.within)


def expand_columns(names: Sequence[str]) -> tuple[str, ...]:
    """Column names with ``age`` -> ``age_band`` and ``disability`` -> its three columns.

    >>> expand_columns(["disability", "age", "age_band"])
    ('disability_learning', 'disability_mental_health', 'disability_physical', 'age_band')
    """
    out: list[str] = []
    for name in names:
        for col in ALIASES.get(name.strip(), (name.strip(),)):
            if col not in out:
                out.append(col)
    return tuple(out)


# --- cohorts and coded variables ------------------------------------------------------------


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
        raise UsageError("give at least one cohort (--cohort LABEL=FILE)")
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
        f"{rows} row(s) have no cohort label (lines {', '.join(map(str, lines[:5]))}); "
        "fill the cohort column or use --cohort LABEL=FILE"
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
            f"{what} has no column {', '.join(missing)} (its columns: "
            f"{', '.join(present)}); {hint}rename one with --column NEW=OLD "
            "or leave that variable out"
        )


# --- groups and counts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Groups:
    """The cohort x within-groups that have people, in within-major, cohort-minor order.

    ``of_row``: each input row's group. ``cohort``: each group's cohort code. ``within``:
    each group's code in every within column (groups x columns). ``block``: each group's
    within-group number (groups of the same within values share it). ``size``: people.
    """

    of_row: np.ndarray
    cohort: np.ndarray
    within: np.ndarray
    block: np.ndarray
    size: np.ndarray

    @property
    def n(self) -> int:
        """Number of groups."""
        return len(self.cohort)


def group_rows(
    cohort: np.ndarray,
    n_cohorts: int,
    within: Sequence[Coded],
    weights: np.ndarray | None = None,
) -> Groups:
    """Dense group numbers of the rows, from their cohort and within codes.

    The combinations that occur are found by ``counting.groups_of`` (one ``bincount``,
    or a sort when there are very many possible combinations). ``weights``: people per
    row (a collapsed frame or a counts file), else one each.
    """
    dims = (*(len(w.categories) for w in within), n_cohorts)
    flat = key_numbers((*(w.codes for w in within), cohort), dims)
    occupied, of_row = groups_of(flat, int(np.prod(dims, dtype=np.float64)))
    keys = np.unravel_index(occupied, dims)
    within_keys = np.column_stack(keys[:-1]) if within else np.zeros((len(occupied), 0), int)
    _, block = np.unique(occupied // n_cohorts, return_inverse=True)
    return Groups(
        of_row=of_row,
        cohort=np.asarray(keys[-1], dtype=np.int64),
        within=within_keys.astype(np.int64),
        block=block.astype(np.int64),
        size=count(of_row, len(occupied), weights),
    )


def count_by_group(
    groups: Groups, variable: Coded, weights: np.ndarray | None = None
) -> np.ndarray:
    """People per group x category (groups x categories), by one ``numpy.bincount``
    (``weights``: people per row, else one each)."""
    ncat = len(variable.categories)
    flat = groups.of_row * ncat + variable.codes
    return count(flat, groups.n * ncat, weights).reshape(groups.n, ncat)


# --- the table ------------------------------------------------------------------------------


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
        piece = Piece("compare", build.cells, (None,) * len(build.cells.values), blocks=True)
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
        from unmetneed.tables.compare_cells import compare_piece

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
    _check_columns(options.variables, options.within_columns)
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


def _check_columns(variables: tuple[str, ...], within: tuple[str, ...]) -> None:
    if not variables:
        raise UsageError("give at least one variable to compare (--by VARIABLE)")
    both = sorted(set(variables) & set(within))
    if both:
        raise UsageError(f"{', '.join(both)} is in both --by and --within; use it in one")
    reserved = {"cohort"} | set(PINNED_TAIL) | set(EXTRA_COLUMNS)
    bad = sorted((set(variables) | set(within)) & reserved)
    if bad:
        raise UsageError(f"{', '.join(bad)} cannot be compared or split by (a table column)")


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


def _remarks(
    table: pd.DataFrame,
    groups: Groups,
    labels: tuple[str, ...],
    options: CompareOptions,
    bands: AgeBands | None,
    protection: Protection,
    coded: Sequence[Coded],
) -> tuple[str, ...]:
    """Numbered caveats: suppression, small denominators, tests not done, conventions."""
    out: list[str] = list(protection.remarks) or _suppression_remarks(options, protection)
    if options.within and not protection.policy.off and not options.zeros_disclosive:
        out.append(
            "Every cohort is listed in every within-group that has people: a cohort's group "
            "with nobody in it shows 0, and is suppressed where that cohort's people across "
            "one within column are few, so a suppressed denominator may be 0."
        )
    if not protection.policy.off and not options.zeros_disclosive:
        # a count hidden as a zero of a hidden group in another table is hidden here too
        out.append("A suppressed count may be 0.")
    if protection.suppressed.any():
        out.append(
            "Suppressed counts are * in the terminal and blank in files; the percentages, "
            "intervals, differences and tests that use them are blank too."
        )
    people = np.bincount(groups.cohort, weights=groups.size, minlength=len(labels))
    for label, n in zip(labels, people, strict=True):
        if n == 0:
            out.append(f"Cohort {label} has no rows: it is not in the table.")
    small = _small_shown_groups(table)
    if small:
        out.append(
            f"{small} cohort group(s) have fewer than {SMALL_DENOMINATOR} people: their "
            "percentages are imprecise (see the 95% intervals)."
        )
    tests = {str(t) for t in pd.unique(table["test"].to_numpy(dtype=object))}
    if "none" in tests:
        out.append(
            "No test where only one cohort or only one category has people in the group "
            "(test = none)."
        )
    if "fisher_exact" in tests or "fisher_monte_carlo" in tests:
        out.append(
            "Where an expected count is below 5 the chi-squared test is not valid: Fisher's "
            "exact test is used instead (fisher_exact for 2x2; fisher_monte_carlo for larger "
            f"tables, a Monte Carlo p-value from {options.resamples:,} random tables, seeded "
            "so a rerun gives the same value)."
        )
    if options.exclude_not_stated:
        out.append("Not stated values are left out: denominators count people with a stated value.")
    else:
        with_ns = [c.name for c in coded if c.not_stated is not None]
        if with_ns:
            out.append(
                "not_stated is a category of its own and denominators count every person in "
                "the group (NDTMS convention), so stated categories may not add up to 100%."
            )
    if bands is not None:
        out.extend(bands.remarks)
    return tuple(out)


def _small_shown_groups(table: pd.DataFrame) -> int:
    """Cohort groups whose shown size is under ``SMALL_DENOMINATOR`` (a suppressed size is
    not counted: saying it is small would give it away)."""
    keys = list(table.columns[: table.columns.get_loc("variable")])
    denominator = pd.to_numeric(table["denominator"], errors="coerce")
    small = table.loc[(denominator > 0) & (denominator < SMALL_DENOMINATOR), keys]
    return len(small.drop_duplicates())


def _suppression_remarks(options: CompareOptions, protection: Protection) -> list[str]:
    """What suppression did, when ``protect`` gave no remark of its own."""
    if options.k <= 0:
        return [
            "Suppression is OFF (--k 0): small counts are shown; publish only counts you "
            "are allowed to publish as they are."
        ]
    if not protection.suppressed.any():
        return []
    from unmetneed.disclosure.protect import suppression_remark

    return [suppression_remark(protection.policy)]


# --- the wide view ----------------------------------------------------------------------------


def wide(comparison: Comparison, cells: str = "pct") -> pd.DataFrame:
    """The publication view: one row per within-group x cohort, one column per category.

    Columns are ``variable: category`` in the code lists' order. ``cells="pct"``: the
    percentage (blank where suppressed); ``cells="n-pct"``: text ``n (pct%)`` (blank where
    suppressed). ``denominator`` (people in the group) comes first when not stated values
    are kept; ``suppressed`` is true on rows with a cell blanked by suppression.
    """
    if cells not in ("pct", "n-pct"):
        raise UsageError(f"--cells {cells!r}: use pct or n-pct")
    t = comparison.table
    keys = [*comparison.within, "cohort"]
    if cells == "pct":
        values = t["pct"].astype("Float64")
    else:
        values = pd.Series(_n_pct(t), index=t.index, dtype=object)
    pivot = _pivot(comparison, values)
    out = pivot.reset_index()
    out.columns = [str(c) for c in out.columns]
    if cells == "pct":
        out[list(pivot.columns)] = out[list(pivot.columns)].astype("Float64")
    if not comparison.options.exclude_not_stated:
        denom = t.drop_duplicates(keys).set_index(keys)["denominator"].reindex(pivot.index)
        out.insert(len(keys), "denominator", denom.to_numpy())
        out["denominator"] = out["denominator"].astype("Int64")
    out["suppressed"] = wide_suppressed(comparison).any(axis=1).to_numpy(dtype=bool)
    return out


def wide_suppressed(comparison: Comparison) -> pd.DataFrame:
    """True for each cell of the wide view that is blank because of suppression (not
    because its group has no one with a stated value); indexed like the wide view."""
    t = comparison.table
    empty = t["denominator"].eq(0).fillna(False).astype(bool)
    blank = (t["pct"].isna() | t["count"].isna()) & ~empty
    return _pivot(comparison, blank.astype(bool)).fillna(False).astype(bool)


def _pivot(comparison: Comparison, values: pd.Series) -> pd.DataFrame:
    """``values`` (one per tidy row) as within-group x cohort rows by category columns."""
    t = comparison.table
    keys = [*comparison.within, "cohort"]
    column = t["variable"].astype(str) + ": " + t["category"].astype(str)
    long = t.loc[:, keys].assign(column=column, value=values)
    index = pd.MultiIndex.from_frame(t.loc[:, keys].drop_duplicates())
    pivot = long.set_index([*keys, "column"])["value"].unstack("column")
    order = [f"{v}: {c}" for v, cats in comparison.variables for c in cats]
    return pivot.reindex(index=index, columns=order)


def _n_pct(t: pd.DataFrame) -> np.ndarray:
    """``n (pct%)`` text per row, None where the count or pct is blank."""
    out = np.full(len(t), None, dtype=object)
    ok = (t["count"].notna() & t["pct"].notna()).to_numpy()
    counts = t["count"].to_numpy(dtype=object)[ok]
    pcts = t["pct"].to_numpy(dtype=object)[ok]
    out[ok] = [f"{int(n):,} ({float(p):.0f}%)" for n, p in zip(counts, pcts, strict=True)]
    return out


# --- inputs -----------------------------------------------------------------------------------

COHORT_KINDS = ("auto", "treatment", "cohort")


def parse_cohort_spec(text: str) -> tuple[str | None, Path]:
    """``LABEL=FILE`` as ``(label, path)``; a bare ``FILE`` (its rows labelled by a
    ``cohort`` column) as ``(None, path)``.

    >>> parse_cohort_spec("NDTMS=data/sample/extract.csv")
    ('NDTMS', PosixPath('data/sample/extract.csv'))
    """
    label, sep, rest = text.partition("=")
    if sep and label.strip() and "/" not in label and "\\" not in label:
        if not rest.strip():
            raise UsageError(f"--cohort {text!r}: write it as LABEL=FILE, e.g. OOTU=cohort.csv")
        return label.strip(), Path(rest.strip())
    return None, Path(text.strip())


def load_cohort_file(
    path: Path, kind: str = "auto", columns: Mapping[str, str] | None = None, how: Any = None
) -> Loaded:
    """One cohort's file, validated as a treatment extract or a cohort file.

    ``kind="auto"``: a treatment extract if it passes that contract (every required column
    present and valid), else a cohort file (2.3: every column optional). When it passes
    neither, the treatment failures are raised if it has the treatment's required columns
    (it looks like an extract), else the cohort failures. A counts file is read as one row
    per person (``counts_as_people``). ``how``: an ``InputOptions`` (layout, sheet, header
    row) for the file.
    """
    from functools import partial

    from unmetneed.inputs.load import InputOptions
    from unmetneed.inputs.load import load as load_any

    how = how or InputOptions()
    load = partial(
        load_any,
        layout=how.layout,
        sheet=how.sheet,
        header_row=how.header_row,
        last_row=how.last_row,
    )

    if kind not in COHORT_KINDS:
        from unmetneed.inputs.layouts import did_you_mean

        raise UsageError(f"--kind {kind!r}: {did_you_mean(kind, COHORT_KINDS)}")
    if is_counts_file(path, columns, how):
        return counts_as_people(load(path, "counts", columns=columns))
    if kind != "auto":
        return load(path, kind, columns=columns)
    try:
        return load(path, "treatment", columns=columns)
    except ValidationError as as_treatment:
        try:
            loaded = load(path, "cohort", columns=columns)
        except ValidationError as as_cohort:
            missing = [f for f in as_treatment.failures if f.line is None]
            raise (as_cohort if missing else as_treatment) from None
        loaded.notes.append(f"{path}: read as a cohort file (it is not a treatment extract)")
        return loaded


def is_counts_file(path: Path, columns: Mapping[str, str] | None = None, how: Any = None) -> bool:
    """Whether a cohort file is a counts file (contract 2.2: a ``count`` column, or a
    published counts layout such as NDTMS ViewIt): each row then counts ``count`` people."""
    from unmetneed.inputs import layouts
    from unmetneed.inputs.codes import key
    from unmetneed.inputs.readers import read_header

    if not path.is_file():
        return False
    sheet, row, forced = (how.sheet, how.header_row, how.layout) if how else (None, None, None)
    names = read_header(path, sheet, row)
    layout = layouts.resolve(forced, names, path) if forced or not columns else None
    if layout is not None:
        return layout.kind == "counts"
    renamed = {key(old): new for new, old in (columns or {}).items()}
    return "count" in {renamed.get(key(n), key(n)) for n in names}


def counts_as_people(loaded: Loaded) -> Loaded:
    """A counts file as one row per person (each row repeated ``count`` times), so it is a
    cohort like any other (contract 4.2). Rows with ``Total`` in a dimension are margins
    and left out (the cells count everyone once). Suppressed or rounded counts are refused
    (exit 3): they are not numbers of people, and a comparison would present them as such.
    """
    from unmetneed.errors import Failure
    from unmetneed.inputs.load import Loaded

    frame, path = loaded.frame, loaded.path
    hidden = frame.index[frame["count_suppressed"].to_numpy(dtype=bool)]
    rule = (
        "a suppressed count is not a number of people: compare needs exact counts (give "
        "the unsuppressed table, or the records)"
    )
    if len(hidden):
        failures = [Failure(int(i) + 2, "count", "suppressed", rule) for i in hidden[:20]]
        raise ValidationError(path, "counts as a cohort", failures)
    if loaded.rounded_to:
        areas = frame.loc[frame["count_rounding"] > 0, "area"].astype(str).unique()[:5]
        raise ValidationError(
            path,
            "counts as a cohort",
            [
                Failure(
                    None,
                    "count",
                    "",
                    f"the counts of {', '.join(areas)} are rounded to the nearest 5 (as "
                    "published): they are not numbers of people, so compare cannot count "
                    "them as a cohort; give exact counts, or the records",
                )
            ],
        )
    from unmetneed.inputs.stream import PEOPLE

    dims = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    margin = (frame[dims] == "total").any(axis=1).to_numpy() if dims else np.zeros(len(frame), bool)
    people = frame["count"].astype("Int64").fillna(0).to_numpy(dtype=np.int64)
    cells = frame.loc[~margin & (people > 0)].assign(**{PEOPLE: people[~margin & (people > 0)]})
    drop = ["count", "count_suppressed", "count_upper", "count_rounding"]
    out = cells.drop(columns=[c for c in drop if c in cells])
    for c in dims:
        if "total" in list(out[c].cat.categories):
            out[c] = out[c].cat.remove_categories(["total"])
    notes = [
        *(f"{path}: {n}" for n in loaded.notes),
        f"{path}: a counts file read as a cohort: each row counts `count` people "
        f"({int(out[PEOPLE].sum())} people in {len(out)} rows"
        + (
            f"; {int(margin.sum())} Total rows left out, the cells count everyone"
            if margin.any()
            else ""
        )
        + ")",
    ]
    return Loaded(out, path, "cohort", notes, None, loaded.layout)


def load_cohorts(
    specs: Sequence[str], kind: str = "auto", columns: Mapping[str, str] | None = None
) -> tuple[dict[str, pd.DataFrame] | pd.DataFrame, list[str]]:
    """The cohorts of ``--cohort`` options and the loader's notes.

    Every spec ``LABEL=FILE`` gives a label -> frame mapping; one bare ``FILE`` gives its
    frame, whose ``cohort`` column labels the rows. Mixing the two, or a label given
    twice, is a usage error.
    """
    parsed = parse_cohort_specs(specs)
    loaded = [load_cohort_file(p, kind, columns) for _, p in parsed]
    return _as_cohorts(parsed, loaded)


def _as_cohorts(
    parsed: Sequence[tuple[str | None, Path]], loaded: Sequence[Loaded]
) -> tuple[dict[str, pd.DataFrame] | pd.DataFrame, list[str]]:
    """Label -> frame (or the one frame with a ``cohort`` column) and the loaders' notes."""
    notes = [n for item in loaded for n in item.notes]
    if parsed[0][0] is None:
        return loaded[0].frame, notes
    return {str(label): item.frame for (label, _), item in zip(parsed, loaded, strict=True)}, notes


def parse_cohort_specs(specs: Sequence[str]) -> list[tuple[str | None, Path]]:
    """Every ``--cohort`` as ``(label, path)``: all ``LABEL=FILE``, or one bare ``FILE``.

    Mixing the two, or a label given twice, is a usage error.
    """
    parsed = [parse_cohort_spec(s) for s in specs]
    if not parsed:
        raise UsageError("give at least one --cohort LABEL=FILE")
    bare = [p for label, p in parsed if label is None]
    if bare and len(parsed) > 1:
        raise UsageError(
            f"--cohort {bare[0]}: give every cohort as LABEL=FILE, or one file with a cohort column"
        )
    labels = [label for label, _ in parsed]
    twice = sorted({x for x in labels if x is not None and labels.count(x) > 1})
    if twice:
        raise UsageError(f"--cohort: the label {', '.join(twice)} is given twice")
    return parsed
