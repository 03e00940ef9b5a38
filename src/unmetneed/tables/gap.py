"""The treatment gap: the proportion of people who need treatment and are not in it.

OHID's "proportion not in treatment" for each area x substance x treatment period:

- ``in_treatment`` T: people in structured treatment in the period (CONTRACT 4.1 substance
  mapping: ``opiate_crack`` = drug group opiate or crack cited; ``opiate``; ``crack``;
  ``alcohol_dependent`` = alcohol only + non-opiate and alcohol), counted from a record
  extract (one row per person) or summed from a counts file.
- ``prevalence`` D: the mean of the N most recent published estimate years at or before the
  treatment period's financial year (people); ``prevalence_lower/upper`` the means of the
  bounds, missing when any year used lacks a bound.
- ``unmet_need_pct`` = 100 (D - T) / D, a percentage of the estimated population;
  ``unmet_need_pct_lower`` = 100 (1 - T / mean lower), ``unmet_need_pct_upper`` =
  100 (1 - T / mean upper). A gap below zero (T > D) is kept and flagged, never clipped.

When T is only known within bounds (suppressed or rounded counts), ``in_treatment_min`` and
``in_treatment_max`` carry the bounds and the percentage interval is widened to cover them.
The table then goes through disclosure control (:func:`unmetneed.disclosure.protect`)
before :func:`compute` returns it.

>>> round(unmet_need_pct(5029.33, 1011), 2)
79.9
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmetneed.counting import count, groups_of
from unmetneed.disclosure import Cells, Policy, Protection
from unmetneed.errors import Failure, Remarks, UsageError, ValidationError
from unmetneed.inputs.codes import NOT_STATED, code_list, parse_period, period_start
from unmetneed.inputs.stream import PEOPLE
from unmetneed.inputs.variables import column_codes, substance_masks

SUBSTANCES = ("opiate_crack", "opiate", "crack", "alcohol_dependent")
COLUMNS = (
    "area",
    "area_code",
    "period",
    "substance",
    "prevalence",
    "prevalence_lower",
    "prevalence_upper",
    "in_treatment",
    "not_in_treatment",
    "unmet_need_pct",
    "unmet_need_pct_lower",
    "unmet_need_pct_upper",
    "suppressed",
)
EXTRA_COLUMNS = (  # benchmark_area, vs_benchmark pinned (contract 4.1); then ours
    "benchmark_area",
    "vs_benchmark",
    "in_treatment_min",
    "in_treatment_max",
    "prevalence_periods",
    "remarks",
)
# Columns from which a suppressed in_treatment count could be worked out, given the
# prevalence columns that stay shown.
DERIVED = (
    "not_in_treatment",
    "unmet_need_pct",
    "unmet_need_pct_lower",
    "unmet_need_pct_upper",
    "in_treatment_min",
    "in_treatment_max",
)
DEFAULT_K = 3
NAMED_POLICIES = ("lt5", "nhs")  # policies whose name says more than their threshold k
STAR_MAX = 4  # '*' in a published counts file: 1..4 (NDTMS, and data/sample/counts.csv)
AREA_NOT_STATED = "Area not stated"
RECORD_COLUMNS = ("period", "area", "area_code", "drug_group", "crack")  # what T is counted by
NAMING = ("age_band", "sex")  # kept too: they name the population (release.fingerprint)
PARTS_COLUMN = "_substance_parts"  # not a column of the table: see _cells
ROUNDING_HALF_WIDTH = {5: 2, 10: 5}  # a count rounded to 5 is within +-2 of the truth
_NAME_RE = re.compile(r"[^a-z0-9]+")
MAX_NAMED = 8


@dataclass(frozen=True)
class GapOptions:
    """Options of a gap table.

    ``periods``: treatment periods to keep (empty: all in the treatment input).
    ``prevalence_years``: N, the number of most recent estimate years averaged, per area
    (default 3, OHID's method for alcohol and opiate/crack).
    ``substances``: prevalence substances (empty: those in the prevalence input).
    ``k``: counts in 1..k are suppressed (0 turns suppression off).
    ``total``: name of a row summing the areas, per substance x period (None: no total).
    ``strict``: an area in one input only is an error instead of a remark.
    ``suppressed_max``: a count shown as ``*`` (or ``c``, ``~``...) in a counts file is read
    as 1..this (None: 1..4, as NDTMS and the sample publish counts under 5, or 1..K where K
    is larger). ``<N`` is always 1..N-1.
    ``benchmark``: the area each row is compared with (``vs_benchmark``); None: England
    where the table has it. ``periods_noted``: remarks on how ``--period`` spellings were
    read (a bare year ``2019`` is 2019/20).
    ``policy``/``zeros_disclosive``: a named disclosure policy (``k3``, ``lt5``, ``nhs``:
    K = 7 and other counts rounded to 5) instead of plain ``k``, as in a run config.
    ``disclosure``: the disclosure policy itself, when one is handed in (a run's, the same
    object for every table: :meth:`with_policy`); it then decides, not the fields above.
    ``public``: counts published anyway, never suppressed: ``COLUMN=VALUE,...`` specs of
    the rows whose ``in_treatment`` they are (:mod:`unmetneed.disclosure.public`).
    """

    periods: tuple[str, ...] = ()
    prevalence_years: int = 3
    substances: tuple[str, ...] = ()
    k: int = DEFAULT_K
    total: str | None = None
    strict: bool = False
    suppressed_max: int | None = None
    policy: str | None = None
    zeros_disclosive: bool = False
    benchmark: str | None = None
    periods_noted: tuple[str, ...] = ()
    disclosure: Policy | None = field(default=None, compare=False)

    def with_policy(self, policy: Policy) -> GapOptions:
        """These options under ``policy`` (e.g. a run's one policy): its threshold, zeros
        rule and name (where it says more than the threshold: ``lt5``, ``nhs``)."""
        return replace(
            self,
            k=policy.k,
            policy=policy.name if policy.name in NAMED_POLICIES else None,
            zeros_disclosive=policy.zeros_disclosive,
            disclosure=policy,
        )

    public: tuple[str, ...] = ()

    def disclosure_policy(self) -> Policy:
        """The disclosure policy these options ask for (the one handed in, if any)."""
        if self.disclosure is not None:
            return self.disclosure
        try:
            return Policy.named(self.policy, k=self.k, zeros=self.zeros_disclosive)
        except ValueError as exc:
            raise UsageError(f"--policy {self.policy}: {exc}") from None

    @property
    def star_max(self) -> int:
        """The largest value a suppressed count (``*``) of the treatment input may hide."""
        if self.suppressed_max is not None:
            return self.suppressed_max
        return max(self.k, STAR_MAX)

    def to_meta(self) -> dict[str, Any]:
        """The options as JSON-able metadata."""
        return {
            "periods": list(self.periods),
            "prevalence_years": self.prevalence_years,
            "substances": list(self.substances),
            "k": self.k,
            "total": self.total,
            "strict": self.strict,
            "suppressed_max": self.star_max,
            "policy": self.policy,
            "zeros_disclosive": self.zeros_disclosive,
            "benchmark": self.benchmark,
        }


@dataclass(frozen=True)
class GapResult:
    """A protected gap table, its numbered remarks and what ``audit`` needs to check it."""

    table: pd.DataFrame
    remarks: tuple[str, ...]
    disclosure: dict[str, Any]
    options: GapOptions
    protected: Any = None  # the release protection (``disclosure.publish.Protected``)

    def meta(self) -> dict[str, Any]:
        """Metadata to write with the table (see ``unmetneed.outputs.write.write_table``)."""
        return {
            "table": "gap",
            "disclosure": self.disclosure,
            "remarks": list(self.remarks),
            "options": self.options.to_meta(),
        }


@dataclass
class _Input:
    """One input frame with where it came from (for messages) and its loader's notes."""

    frame: pd.DataFrame
    path: str
    kind: str
    notes: list[str] = field(default_factory=list)
    rounded_to: int | None = None


def unmet_need_pct(prevalence: float, in_treatment: float) -> float:
    """Percent of the estimated population (``prevalence``, people) not in treatment.

    >>> round(unmet_need_pct(5029.33, 1011), 2)
    79.9
    >>> unmet_need_pct(100, 120)
    -20.0
    """
    return 100.0 * (prevalence - in_treatment) / prevalence


def name_key(name: object) -> str:
    """An area name for matching: case, spaces and punctuation ignored, ``&`` = ``and``.

    >>> name_key("Cornwall & Isles of Scilly") == name_key("cornwall and isles-of-scilly")
    True
    """
    return _NAME_RE.sub("", str(name).lower().replace("&", " and "))


# ---------------------------------------------------------------------------------------
# Entry points


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
    done = protect_one(piece, {pop: frame}, build.policy, release, weight=PEOPLE)
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

    @property
    def policy(self) -> Policy:
        """The disclosure policy of the options."""
        return self.options.disclosure_policy()

    def piece(self, pop: str, name: str = "gap") -> Any:
        """This table as a piece of a release (``unmetneed.disclosure.release``): what each
        ``in_treatment`` cell and substance part counts of population ``pop``. A counts
        input is tied to people only where its counts are exact, by drug_group and crack.
        """
        from unmetneed.tables.gap_cells import gap_piece

        return gap_piece(self, pop, name)

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


def prepare(
    treatment: Any,
    prevalence: Any,
    options: GapOptions | None = None,
) -> GapBuild:
    """The gap table before disclosure control, and its cells (see :class:`GapBuild`).

    Same inputs as :func:`compute`; neither is modified.
    """
    opts = options or GapOptions()
    _check_options(opts)
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
    release: Path | str | None = None,
    reading: Mapping[str, Any] | None = None,
) -> GapResult:
    """Load the files and compute the gap table.

    ``treatment``: one file or several (read together: e.g. ViewIt's England export and a
    local authority's); a ``count`` column, or a counts layout such as NDTMS ViewIt, makes a
    file a counts file. A prevalence file without a ``substance`` column takes the one
    substance of its layout or of ``options.substances``. ``reading``: per input
    (``treatment``, ``prevalence``) a :class:`unmetneed.inputs.load.InputOptions` (layout, sheet,
    header row).
    """
    from functools import partial

    from unmetneed.inputs.load import InputOptions, load, streamed_or_whole
    from unmetneed.inputs.stream import collapse

    opts = options or GapOptions()
    paths = [Path(treatment)] if isinstance(treatment, (str, Path)) else list(map(Path, treatment))
    if not paths:
        raise UsageError("--treatment: give at least one file")
    _require_files(*paths, prevalence)
    how = {"treatment": InputOptions(), "prevalence": InputOptions(), **(reading or {})}
    t_how, p_how = how["treatment"], how["prevalence"]
    p_layout = _layout_of(Path(prevalence), prevalence_columns, p_how)
    loaded = []
    for path in paths:
        kind = _treatment_kind(path, treatment_columns, t_how, prevalence)
        if kind == "treatment":  # records (any format): counted in batches, never held
            keep = (*RECORD_COLUMNS, *NAMING)
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


def _layout_of(path: Path, columns: Mapping[str, str] | None, how: Any) -> Any:
    """The published layout ``path`` is read as (None: its own column names)."""
    from unmetneed.inputs import layouts
    from unmetneed.inputs.readers import read_header

    if columns and how.layout is None:
        return None
    return layouts.resolve(how.layout, read_header(path, how.sheet, how.header_row), path)


def _treatment_kind(
    path: Path, columns: Mapping[str, str] | None, how: Any, prevalence: Path | str
) -> str:
    """``counts`` or ``treatment`` for a treatment file; a usage error for an estimates file
    (the inputs swapped, or the wrong file), naming what to do."""
    layout = _layout_of(path, columns, how)
    if layout is not None and layout.kind == "prevalence":
        raise UsageError(
            f"--treatment {path}: is {layout.title}, estimates, not people in treatment; "
            f"did you mean --prevalence {path}? (--prevalence {prevalence} was given)"
        )
    if layout is not None:
        return str(layout.kind)
    names = _header(path, columns, how)
    if "estimate" in names and "count" not in names:
        raise UsageError(
            f"--treatment {path}: has an estimate column, as a prevalence file does; did you "
            f"mean --prevalence {path}? (--prevalence {prevalence} was given)"
        )
    return "counts" if "count" in names else "treatment"


def _not_people(
    path: Path, columns: Mapping[str, str] | None, how: Any, treatment: list[Path]
) -> None:
    """A usage error for a prevalence file that is people in treatment (records or
    counts, no estimate): the inputs swapped, most likely."""
    names = _header(path, columns, how)
    if "estimate" not in names and ({"count", "drug_group"} & names):
        given = " ".join(f"--treatment {t}" for t in treatment)
        raise UsageError(
            f"--prevalence {path}: has no estimate column but "
            f"{'a count' if 'count' in names else 'a drug_group'} column, as a treatment "
            f"file does; did you mean --treatment {path}? ({given} was given)"
        )


def _together(loaded: list[Any]) -> Any:
    """Several treatment inputs as one: their rows stacked, each keeping its rounding, and
    refused where two files count the same area and period (they would be counted twice).
    """
    from unmetneed.inputs.load import Loaded

    kinds = {item.kind for item in loaded}
    if len(kinds) > 1:
        raise UsageError(
            "--treatment: the files are of different kinds ("
            + ", ".join(f"{item.path}: {item.kind}" for item in loaded)
            + "); give record extracts or counts files, not both"
        )
    seen: dict[tuple[str, str], str] = {}
    for item in loaded:
        frame = item.frame
        names = frame["area"].astype(str)
        pairs = pd.DataFrame(
            {"area": names.map(name_key), "period": frame["period"].astype(str), "name": names}
        ).drop_duplicates(["area", "period"])
        for area, period, name in pairs.itertuples(index=False):  # distinct area x period
            if (area, period) in seen:
                raise UsageError(
                    f"--treatment: {item.path} and {seen[(area, period)]} both count area "
                    f"{name!r} in {period}; give each area and period in one file only"
                )
        seen.update(
            {(a, p): str(item.path) for a, p in zip(pairs["area"], pairs["period"], strict=True)}
        )
    frames = [item.frame.reset_index(drop=True) for item in loaded]
    notes = [f"{item.path}: {n}" for item in loaded for n in item.notes]
    combined = pd.concat(frames, ignore_index=True)
    rounded = max((item.rounded_to or 0) for item in loaded) or None
    path = Path(" + ".join(str(item.path) for item in loaded))
    return Loaded(combined, path, loaded[0].kind, notes, rounded, "several")


def _counted_rows(treatment: Any, kind: str) -> pd.DataFrame:
    """The treatment rows the table counts people from: a counts file without the rows
    ``_drop_margins`` leaves out (a Total beside its breakdown counts nobody new)."""
    frame = _frame_of(treatment)
    if kind != "counts":
        return frame
    return _drop_margins(_Input(frame, "", kind), Remarks())


def _people_frame(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The treatment input as people per row (``PEOPLE``): records as they are; a counts
    file's exact counts (a suppressed or rounded one makes the people unknown: no column)."""
    if kind != "counts" or "count" not in frame:
        return frame
    if frame.get("count_suppressed", pd.Series(False, index=frame.index)).any():
        return frame
    from unmetneed.inputs.load import rounded_to

    if "count_rounding" in frame and bool((frame["count_rounding"] > 0).any()):
        return frame
    if "count_rounding" not in frame and rounded_to(frame):
        return frame
    return frame.assign(**{PEOPLE: frame["count"].astype("Int64").fillna(0).astype(np.int64)})


def _frame_of(obj: Any) -> pd.DataFrame:
    return obj if isinstance(obj, pd.DataFrame) else obj.frame


def _as_input(obj: Any, kind: str, opts: GapOptions | None = None) -> _Input:
    """A ``Loaded`` or a typed frame as an :class:`_Input` (a prevalence frame without a
    ``substance`` column takes the one substance of the options).
    """
    if isinstance(obj, pd.DataFrame):
        from unmetneed.inputs.load import rounded_to

        one = _Input(obj, kind, kind, [], rounded_to(obj) if kind == "counts" else None)
    else:
        one = _Input(obj.frame, str(obj.path), kind, list(obj.notes), obj.rounded_to)
    if kind == "prevalence" and "substance" not in one.frame:
        if opts is None or len(opts.substances) != 1:
            raise UsageError(f"{one.path}: has no substance column; name its one substance")
        one.frame = one.frame.assign(substance=opts.substances[0])
    return one


def _check_options(opts: GapOptions) -> None:
    if opts.prevalence_years < 1:
        raise UsageError(f"--prevalence-years {opts.prevalence_years}: use 1 or more")
    if opts.k < 0:
        raise UsageError(f"--k {opts.k}: use 0 (no suppression) or more")
    bad = [s for s in opts.substances if s not in SUBSTANCES]
    if bad:
        raise UsageError(f"--substance {bad[0]!r}: use one of {', '.join(SUBSTANCES)}")
    if opts.suppressed_max is not None and opts.suppressed_max < 1:
        raise UsageError(f"--suppressed-max {opts.suppressed_max}: use 1 or more")
    if opts.total is not None and not opts.total.strip():
        raise UsageError("--total: give the total row a name, e.g. --total England")


def normalise_substances(values: list[str] | None) -> tuple[str, ...]:
    """``--substance`` spellings (``Opiates``, ``OCU``...) as codes; a usage error if unknown."""
    codes = code_list("substance")
    out: list[str] = []
    for value in values or []:
        code = codes.lookup(value)
        if not isinstance(code, str):
            from unmetneed.inputs.layouts import did_you_mean

            raise UsageError(f"--substance {value!r}: {did_you_mean(value, SUBSTANCES)}")
        out += [code] if code not in out else []
    return tuple(out)


def normalise_periods(values: list[str] | None) -> tuple[str, ...]:
    """``--period`` spellings (``2019-20``, ``2024/25 Q2``) as periods; usage error if not."""
    out: list[str] = []
    for value in values or []:
        period, _note = parse_period(value)
        if period is None:
            raise UsageError(
                f"--period {value!r}: write a financial year like 2019/20 or 2024/25 Q2"
            )
        out += [period] if period not in out else []
    return tuple(out)


def period_notes(values: list[str] | None) -> tuple[str, ...]:
    """Remarks on ``--period`` spellings that needed a rule: a bare year ``2019`` is read as
    the financial year starting in it (2019/20), which may not be what was meant."""
    out = []
    for value in values or []:
        period, note = parse_period(value)
        if period is not None and note == "bare year":
            year = int(period[:4])
            out.append(
                f"--period {value} is read as the financial year {period} (April {year} to "
                f"March {year + 1}); write {year - 1}/{year % 100:02d} for the year ending in "
                f"March {year}"
            )
    return tuple(out)


def route_columns(
    pairs: Iterable[tuple[str, str]],
    treatment: Path | str | Sequence[Path | str],
    prevalence: Path | str,
) -> tuple[dict[str, str], dict[str, str]]:
    """Split ``--column NEW=OLD`` renames between the two files: each goes to every file
    that has a column ``OLD`` (names compared as the loader does), so ``area=Area_Data``
    and ``area=Local_Authority`` can both be given; a usage error if neither file has it.
    """
    from unmetneed.inputs.codes import key

    paths = [treatment] if isinstance(treatment, (str, Path)) else list(treatment)
    _require_files(*paths, prevalence)
    t_cols = [c for path in paths for c in _raw_columns(Path(path))]
    p_cols = _raw_columns(Path(prevalence))
    t_keys, p_keys = {key(c) for c in t_cols}, {key(c) for c in p_cols}
    to_t: dict[str, str] = {}
    to_p: dict[str, str] = {}
    for new, old in pairs:
        in_t, in_p = key(old) in t_keys, key(old) in p_keys
        if not (in_t or in_p):
            from unmetneed.inputs.layouts import did_you_mean

            close = did_you_mean(old, [*t_cols, *p_cols], "the columns are").split("? ")[0]
            hint = f"{close}? " if close.startswith("did you mean") else ""
            raise UsageError(
                f"--column {new}={old}: neither file has a column {old!r}; {hint}"
                f"{' + '.join(map(str, paths))} has "
                f"{', '.join(t_cols)}; {prevalence} has {', '.join(p_cols)}"
            )
        if in_t:
            to_t[new] = old
        if in_p:
            to_p[new] = old
    return to_t, to_p


def _require_files(*paths: Path | str) -> None:
    """An input error for the first path that is not a readable file."""
    from unmetneed.inputs.readers import read_table

    for path in map(Path, paths):
        if not path.is_file():
            read_table(path)  # raises the input error naming the path


def _header(path: Path, columns: Mapping[str, str] | None, how: Any = None) -> set[str]:
    """The contract names of a file's columns after ``NEW=OLD`` renames (header only)."""
    from unmetneed.inputs.codes import key

    names = _raw_columns(path, how)
    renamed = {old: new for new, old in (columns or {}).items()}
    by_key = {key(o): n for o, n in renamed.items()}
    return {renamed.get(c, by_key.get(key(c), key(c))) for c in names}


def _raw_columns(path: Path, how: Any = None) -> list[str]:
    """A file's column names, reading only its header where the format allows."""
    from unmetneed.inputs.readers import read_header

    if not path.is_file():
        return []  # the loader says what is wrong with the path
    sheet, header_row = (how.sheet, how.header_row) if how is not None else (None, None)
    return read_header(path, sheet, header_row)


def _one_substance(
    path: Path, columns: Mapping[str, str] | None, opts: GapOptions, how: Any = None
) -> str | None:
    """The substance to fill into a prevalence file that has no ``substance`` column."""
    if "substance" in _header(path, columns, how):
        return None
    if len(opts.substances) != 1:
        raise UsageError(
            f"{path}: has no substance column; name its one substance with --substance "
            f"(one of {', '.join(SUBSTANCES)}), or map a column with --prevalence-column "
            "substance=NAME"
        )
    return opts.substances[0]


# ---------------------------------------------------------------------------------------
# Treatment input


ASKED = ("drug_group", "crack", "substance")  # the dimensions gap splits T by
NOT_DIMENSIONS = (
    "count",
    "count_suppressed",
    "count_upper",
    "count_rounding",
    "period",
    "area",
    "area_code",
)


def _drop_margins(treat: _Input, remarks: Remarks) -> pd.DataFrame:
    """The rows of a counts frame that count everyone once (contract 2.5).

    For a dimension gap splits by (drug_group, crack, substance), rows reading ``Total``
    beside that dimension's breakdown are left out: the breakdown is used. For any other
    dimension (sex, age group, ethnicity...), the published ``Total`` row is used where the
    file has one for the row's other values, and its breakdown left out: a published total
    is more exact than a sum of rounded cells (Barnet 2017/18: 265 + 150, not 12 cells).
    A dimension that only ever reads ``Total`` splits nothing and is kept.
    """
    frame = treat.frame
    if treat.kind != "counts":
        return frame
    from unmetneed.inputs.codes import key, map_distinct

    dims = [str(c) for c in frame.columns if c not in NOT_DIMENSIONS and _is_dimension(frame[c])]
    is_total = {
        d: (map_distinct(frame[d].astype(object), key) == "total").to_numpy(bool) for d in dims
    }
    split = [d for d in dims if is_total[d].any() and not is_total[d].all()]
    keep = np.ones(len(frame), dtype=bool)
    for d in split:
        if d in ASKED:
            keep &= ~is_total[d]
        else:
            keep &= is_total[d] | ~_has_published_total(frame, d, dims, is_total[d])
    if not keep.all():
        asked = [d for d in split if d in ASKED]
        other = [d for d in split if d not in ASKED]
        said = []
        if asked:
            said.append(f"total rows over {', '.join(asked)} (the breakdown is used)")
        if other:
            said.append(
                f"the breakdown by {', '.join(other)} where the file publishes its Total (the "
                "published total is used, not a sum of cells)"
            )
        remarks.add(
            f"{treat.path}: {int((~keep).sum())} row(s) left out so nobody is counted twice: "
            + "; ".join(said)
        )
    return frame.loc[keep]


def _is_dimension(column: pd.Series) -> bool:
    """Whether a column of a counts file splits its rows (text categories), not another
    measure (numbers, e.g. ViewIt's counts by ethnicity beside the count)."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    from unmetneed.inputs.codes import key, not_stated_keys

    values = pd.Series(pd.unique(column.astype(object).dropna()), dtype=object)
    text = values.astype(str).str.replace(",", "", regex=False).str.strip()
    blank = text.map(key).isin(not_stated_keys())
    numeric = pd.to_numeric(text, errors="coerce").notna()
    return not bool((numeric | blank).all())


def _has_published_total(
    frame: pd.DataFrame, dim: str, dims: list[str], total: np.ndarray
) -> np.ndarray:
    """Per row, whether a row with the same period, area and other dimensions (``dims``)
    has ``dim`` = Total."""
    others = [c for c in ("period", "area", "area_code", *dims) if c in frame and c != dim]
    keys = frame[others].astype(str).apply(lambda c: pd.factorize(c)[0]).to_numpy()
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = np.asarray(group).ravel()
    has = np.bincount(group, weights=total, minlength=int(group.max()) + 1 if len(group) else 0)
    return has[group] > 0


def _note_missing_groups(treat: _Input, frame: pd.DataFrame, remarks: Remarks) -> None:
    """A remark when rows lack the period, drug group or crack flag (e.g. blanked by
    k-anonymising): such a row counts towards no period, or no substance that needs it.
    """
    people = _people(frame) if treat.kind == "treatment" else np.ones(len(frame), np.int64)
    no_period = int(people[frame["period"].isna().to_numpy()].sum())
    if no_period:
        remarks.add(f"{treat.path}: {no_period} row(s) have no period: left out")
    for name in ("drug_group", "crack"):
        if name in frame and "substance" not in frame:
            n = int(people[frame[name].isna().to_numpy()].sum())
            if n:
                remarks.add(
                    f"{treat.path}: {n} row(s) have no {name}, so they are not counted in "
                    "the substances that need it: in_treatment may be too low there"
                )


def _select_periods(frame: pd.DataFrame, opts: GapOptions, path: str) -> pd.DataFrame:
    """The rows of the chosen treatment periods (all when none are chosen; never a row
    without a period, which no estimate year can match).
    """
    frame = frame[frame["period"].notna()]
    if not opts.periods:
        return frame
    present = set(frame["period"].dropna().astype(str).unique())
    missing = [p for p in opts.periods if p not in present]
    if missing:
        raise UsageError(
            f"--period {missing[0]}: not in {path}; its periods are "
            + ", ".join(sorted(present, key=_period_order))
        )
    return frame[frame["period"].astype(str).isin(opts.periods)]


def _period_order(period: str) -> tuple[int, str]:
    return period_start(period), period


def _derivable(treat: _Input, frame: pd.DataFrame) -> tuple[str, ...]:
    """Substances the treatment input can give T for (records: all four)."""
    if treat.kind == "treatment" or "substance" in frame:
        return SUBSTANCES
    has_group, has_crack = "drug_group" in frame, "crack" in frame
    out = []
    if has_group and has_crack:
        out += ["opiate_crack"]
    if has_group:
        out += ["opiate"]
    if has_crack:
        out += ["crack"]
    if has_group:
        out += ["alcohol_dependent"]
    return tuple(s for s in SUBSTANCES if s in out)


def _substances(treat: _Input, prev: _Input, opts: GapOptions, remarks: Remarks) -> tuple[str, ...]:
    """The substances of the table: chosen ones, else those of the prevalence input."""
    can = _derivable(treat, treat.frame)
    if opts.substances:
        cannot = [s for s in opts.substances if s not in can]
        if cannot:
            raise UsageError(
                f"--substance {cannot[0]}: {treat.path} cannot give it (a counts file needs "
                "drug_group and crack columns, or a substance column)"
            )
        return opts.substances
    in_prev = set(prev.frame["substance"].dropna().astype(str))
    chosen = tuple(s for s in SUBSTANCES if s in in_prev and s in can)
    left = [s for s in SUBSTANCES if s in in_prev and s not in can]
    if left:
        remarks.add(
            f"{treat.path} cannot give the number in treatment for {', '.join(left)} "
            "(a counts file needs drug_group and crack, or a substance column): left out"
        )
    if not chosen:
        raise UsageError(f"{prev.path}: no estimates for a substance {treat.path} can give")
    return chosen


def _row_bounds(treat: _Input, frame: pd.DataFrame, opts: GapOptions) -> dict[str, np.ndarray]:
    """Per input row: people counted (``t``), their bounds and whether the count is unknown.

    A record is one person. A count is that many people; a suppressed count (``*``) is
    1..``options.star_max``, ``<N`` is 1..N-1; a count rounded to 5 is +-2.
    """
    n = len(frame)
    if treat.kind == "treatment":
        one = _people(frame)
        return {"t": one, "lo": one, "hi": one, "unknown": np.zeros(n, bool)}
    count = frame["count"].astype("Int64").to_numpy(dtype=np.int64, na_value=0)
    unknown = frame["count_suppressed"].to_numpy(dtype=bool)
    upper = frame["count_upper"].astype("Int64").to_numpy(dtype=np.int64, na_value=opts.star_max)
    half = _half_widths(treat, frame)
    lo = np.where(unknown, 1, np.maximum(count - half, 0))
    hi = np.where(unknown, upper, count + half)
    return {"t": np.where(unknown, 0, count), "lo": lo, "hi": hi, "unknown": unknown}


def _half_widths(treat: _Input, frame: pd.DataFrame) -> np.ndarray:
    """Per row, how far a shown count may be from the truth (people): +-2 where rounded to
    5 (per row, as the loader read it for each area), 0 where exact."""
    if "count_rounding" in frame:
        base = frame["count_rounding"].to_numpy(dtype=np.int64)
    else:
        base = np.full(len(frame), treat.rounded_to or 0, dtype=np.int64)
    return np.select(
        [base == b for b in ROUNDING_HALF_WIDTH], list(ROUNDING_HALF_WIDTH.values()), 0
    )


def _people(frame: pd.DataFrame) -> np.ndarray:
    """People per row of a record frame: one, or ``PEOPLE`` where records were collapsed."""
    if PEOPLE in frame:
        return frame[PEOPLE].to_numpy(dtype=np.int64)
    return np.ones(len(frame), dtype=np.int64)


def _in_treatment(
    treat: _Input,
    frame: pd.DataFrame,
    area_ids: np.ndarray,
    substances: tuple[str, ...],
    opts: GapOptions,
) -> pd.DataFrame:
    """T per (period, area id, substance): one pass of ``numpy.bincount`` per measure.

    Columns: period, area_id, substance, in_treatment (people; 0 where only bounds are
    known), in_treatment_min, in_treatment_max, t_unknown (a suppressed count contributed).
    """
    masks = substance_masks(frame, substances)
    bounds = _row_bounds(treat, frame, opts)
    groups, inverse, periods, n_area = _grouping(frame, area_ids)
    blocks = []
    for s, mask in masks.items():  # four substances at most

        def total(values: np.ndarray, m: np.ndarray = mask) -> np.ndarray:
            return count(inverse, len(groups), np.where(m, values, 0).astype(np.float64))

        blocks.append(
            pd.DataFrame(
                {
                    "period": periods[groups // n_area],
                    "area_id": groups % n_area,
                    "substance": s,
                    "in_treatment": total(bounds["t"]),
                    "in_treatment_min": total(bounds["lo"]),
                    "in_treatment_max": total(bounds["hi"]),
                    "t_unknown": total(bounds["unknown"].astype(np.int64)) > 0,
                    "rows": total(np.ones(len(frame), dtype=np.int64)),
                }
            )
        )
    long = pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=_T_COLUMNS)
    if "substance" in frame:  # a substance-split counts file: only combinations it gives
        long = long[long["rows"] > 0]
    return long.drop(columns="rows").reset_index(drop=True)


def _substance_parts(treat: _Input, frame: pd.DataFrame, area_ids: np.ndarray) -> pd.DataFrame:
    """People per (period, area id) in the three disjoint groups the drug substances are
    made of: ``onc`` opiate without crack, ``oac`` opiate and crack, ``cno`` crack without
    opiate (opiate = onc + oac, crack = oac + cno, opiate_crack = onc + oac + cno).

    Only where they are known exactly (records, or counts by drug_group and crack with no
    suppressed count); empty otherwise. Disclosure control needs them: a difference such as
    opiate_crack - opiate shows ``cno`` even though no row shows it.
    """
    empty = pd.DataFrame(columns=["period", "area_id", "onc", "oac", "cno"])
    if "substance" in frame or "drug_group" not in frame or "crack" not in frame:
        return empty
    masks = substance_masks(frame, ("opiate", "crack"))
    opiate, crack = masks["opiate"], masks["crack"]
    bounds = _row_bounds(treat, frame, GapOptions())
    groups, inverse, periods, n_area = _grouping(frame, area_ids)

    def total(mask: np.ndarray) -> np.ndarray:
        return count(inverse, len(groups), np.where(mask, bounds["t"], 0).astype(np.float64))

    unknown = count(inverse, len(groups), bounds["unknown"] & (opiate | crack))
    parts = pd.DataFrame(
        {
            "period": periods[groups // n_area],
            "area_id": groups % n_area,
            "onc": total(opiate & ~crack),
            "oac": total(opiate & crack),
            "cno": total(~opiate & crack),
        }
    )
    result: pd.DataFrame = parts[unknown == 0].reset_index(drop=True)
    return result


def _grouping(
    frame: pd.DataFrame, area_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Group numbers of (period, area id) for ``bincount``: the distinct keys, each row's
    group, the period labels and the key's area width (key = period code x width + area).
    """
    period_codes, periods = column_codes(frame["period"])
    n_area = int(area_ids.max()) + 1 if len(area_ids) else 1
    groups, inverse = groups_of(period_codes * n_area + area_ids, len(periods) * n_area)
    return groups, inverse, periods, n_area


_T_COLUMNS = [
    "period",
    "area_id",
    "substance",
    "in_treatment",
    "in_treatment_min",
    "in_treatment_max",
    "t_unknown",
    "rows",
]


# ---------------------------------------------------------------------------------------
# Areas


@dataclass(frozen=True)
class _Areas:
    """Area identities shared by both inputs, and each input row's identity.

    ``names``/``codes``: display name and GSS code per area id. ``in_treatment``/
    ``in_prevalence``: which ids each input has. ``alias_ids``/``aliases``: areas known by
    several names, and those names (``Cornwall = Cornwall & Isles of Scilly``).
    """

    treat_ids: np.ndarray
    prev_ids: np.ndarray
    names: np.ndarray
    codes: np.ndarray
    in_treatment: np.ndarray
    in_prevalence: np.ndarray
    alias_ids: np.ndarray
    aliases: tuple[str, ...]


def _area_pairs(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's (area, area_code) pair number, and the distinct pairs (name, code, key).

    Works on the columns' integer codes, so a million rows cost one ``numpy.unique``.
    """
    names, name_values = column_codes(frame["area"])
    if (names < 0).any():  # an area blanked (e.g. by k-anonymising): one area of its own
        names = np.where(names < 0, len(name_values), names)
        name_values = np.append(name_values, AREA_NOT_STATED)
    if "area_code" in frame:
        codes, code_values = column_codes(frame["area_code"])
    else:
        codes, code_values = np.full(len(frame), -1, dtype=np.int64), np.zeros(0, dtype=object)
    width = len(code_values) + 1
    uniques, labels = np.unique(names * width + codes + 1, return_inverse=True)
    code_text = np.append(code_values, "")  # -1 (no code) reads as ""
    pairs = pd.DataFrame(
        {
            "name": name_values[uniques // width] if len(uniques) else np.zeros(0, dtype=object),
            "code": code_text[uniques % width - 1] if len(uniques) else np.zeros(0, dtype=object),
        }
    )
    pairs["key"] = [name_key(v) for v in pairs["name"]]  # distinct areas only, not rows
    return np.asarray(labels, dtype=np.int64), pairs


def _components(nodes: pd.DataFrame) -> np.ndarray:
    """Area id of each (name, code) node: linked by a shared GSS code, or by the same
    normalised name where at least one of the two has no code (codes decide when both
    have one, so two areas of one name with different codes stay apart).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    idx = pd.DataFrame({"i": np.arange(len(nodes)), "code": nodes["code"], "key": nodes["key"]})
    coded = idx[idx["code"] != ""]
    by_code = coded.merge(coded, on="code")
    uncoded = idx[idx["code"] == ""]
    by_name = uncoded.merge(idx, on="key")
    left = np.concatenate([by_code["i_x"], by_name["i_x"]]).astype(np.int64)
    right = np.concatenate([by_code["i_y"], by_name["i_y"]]).astype(np.int64)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(nodes), len(nodes)))
    _n, labels = connected_components(graph, directed=False)
    return np.asarray(labels)


def _match_areas(treat: pd.DataFrame, prev: pd.DataFrame) -> _Areas:
    """Give rows of both inputs one area id: by GSS code when both have one, else by name."""
    t_labels, t_pairs = _area_pairs(treat)
    p_labels, p_pairs = _area_pairs(prev)
    nodes = pd.concat([t_pairs.assign(src="t"), p_pairs.assign(src="p")], ignore_index=True)
    raw = _components(nodes)
    ids, _ = pd.factorize(raw, sort=True)
    nodes["id"] = ids
    n_ids = int(ids.max()) + 1 if len(ids) else 0
    # display: the treatment file's name and code, else the prevalence file's
    nodes["rank"] = (nodes["src"] == "p").astype(int)
    first = nodes.sort_values(["id", "rank", "name"], kind="stable").drop_duplicates("id")
    coded = nodes[nodes["code"] != ""].sort_values(["id", "rank", "code"], kind="stable")
    coded = coded.drop_duplicates("id")
    names = np.empty(n_ids, dtype=object)
    names[first["id"].to_numpy()] = first["name"].to_numpy()
    codes = np.full(n_ids, None, dtype=object)
    codes[coded["id"].to_numpy()] = coded["code"].to_numpy()
    keys = nodes.drop_duplicates(["id", "key"])
    several = keys[keys.groupby("id")["key"].transform("size") > 1].sort_values(["id", "name"])
    joined = several.groupby("id")["name"].agg(" = ".join)  # the few areas with several names
    t_ids = ids[: len(t_pairs)][t_labels] if len(t_labels) else np.zeros(0, np.int64)
    p_ids = ids[len(t_pairs) :][p_labels] if len(p_labels) else np.zeros(0, np.int64)
    return _Areas(
        treat_ids=np.asarray(t_ids, dtype=np.int64),
        prev_ids=np.asarray(p_ids, dtype=np.int64),
        names=names,
        codes=codes,
        in_treatment=np.isin(np.arange(n_ids), t_ids),
        in_prevalence=np.isin(np.arange(n_ids), p_ids),
        alias_ids=joined.index.to_numpy(dtype=np.int64),
        aliases=tuple(str(v) for v in joined.to_numpy()),
    )


def _check_duplicates(prev: pd.DataFrame, ids: np.ndarray, path: str) -> None:
    """Refuse two estimates for one area x period x substance, naming their lines."""
    keys = pd.DataFrame(
        {
            "id": ids,
            "period": prev["period"].astype(str).to_numpy(),
            "substance": prev["substance"].astype(str).to_numpy(),
            "line": prev.index.to_numpy() + 2,
            "area": prev["area"].astype(str).to_numpy(),
        }
    )
    dup = keys[keys.duplicated(["id", "period", "substance"], keep=False)]
    if dup.empty:
        return
    firsts = dup.groupby(["id", "period", "substance"])["line"].transform("min")
    failures = [
        Failure(
            int(line),
            "area",
            str(area),
            f"a second estimate for this area, {period} and {sub} (first on line {first}); "
            "keep one row per area, period and substance",
        )
        for line, area, period, sub, first in zip(
            dup["line"], dup["area"], dup["period"], dup["substance"], firsts, strict=True
        )
        if line != first
    ]
    raise ValidationError(path, "prevalence", sorted(failures, key=lambda f: f.line or 0))


def _check_strict(
    opts: GapOptions,
    areas: _Areas,
    treat: _Input,
    prev: _Input,
    treat_frame: pd.DataFrame,
    prev_frame: pd.DataFrame,
) -> None:
    """With ``--strict``, an area in one input only is a validation error (exit 3)."""
    if not opts.strict:
        return
    failures = _one_sided(treat_frame, areas.treat_ids, ~areas.in_prevalence, treat.path, prev.path)
    failures += _one_sided(prev_frame, areas.prev_ids, ~areas.in_treatment, prev.path, treat.path)
    if failures:
        raise ValidationError(f"{treat.path} and {prev.path}", "matching areas", failures)


def _one_sided(
    frame: pd.DataFrame, ids: np.ndarray, alone: np.ndarray, this: str, other: str
) -> list[Failure]:
    """One failure per lone area: the first line it is on, in the file that has it."""
    if not len(ids):
        return []
    hit = np.flatnonzero(alone[ids])
    first = pd.Series(hit).groupby(ids[hit]).min().sort_values().to_numpy()
    lines = frame.index.to_numpy()[first] + 2
    names = frame["area"].astype(str).to_numpy()[first]
    return [
        Failure(int(line), "area", str(name), f"in {this} but not in {other} (--strict)")
        for line, name in zip(lines, names, strict=True)
    ]


def _prevalence_only(areas: _Areas, prev: _Input, remarks: Remarks) -> None:
    """A remark naming the areas with estimates but nobody in the treatment input."""
    alone = np.flatnonzero(areas.in_prevalence & ~areas.in_treatment)
    if not len(alone):
        return
    names = sorted(str(n) for n in areas.names[alone])
    shown = ", ".join(names[:MAX_NAMED]) + (
        f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    )
    remarks.add(
        f"{len(names)} area(s) in {prev.path} are not in the treatment input, so they have "
        f"no row (not in treatment is not the same as none in treatment): {shown}"
    )


# ---------------------------------------------------------------------------------------
# Prevalence


def _years_used(
    prev: pd.DataFrame, ids: np.ndarray, counts: pd.DataFrame, n_years: int
) -> pd.DataFrame:
    """For each treatment financial year x substance x area, that area's N most recent
    published estimate years at or before it (``fy``, ``substance``, ``area_id``,
    ``period``, ``complete``): chosen per area, so a year only some areas have (England a
    year ahead of the local authorities) is used for them and blanks nobody else.
    """
    published = pd.DataFrame(
        {
            "area_id": ids,
            "substance": prev["substance"].astype(str).to_numpy(),
            "period": prev["period"].astype(str).to_numpy(),
        }
    ).drop_duplicates()
    wanted = pd.DataFrame(
        {
            "fy": counts["period"].str.slice(0, 7),
            "substance": counts["substance"],
            "area_id": counts["area_id"],
        }
    ).drop_duplicates()
    keys = ["fy", "substance", "area_id"]
    pairs = wanted.merge(published, on=["substance", "area_id"])
    start = pairs["period"].str.slice(0, 4).astype(int)
    pairs = pairs[start <= pairs["fy"].str.slice(0, 4).astype(int)]
    pairs = pairs.sort_values([*keys, "period"], ascending=[True, True, True, False])
    pairs = pairs[pairs.groupby(keys).cumcount() < n_years]
    got = pairs.groupby(keys)["period"].transform("size")
    pairs = pairs.assign(complete=got == n_years)
    return wanted.merge(pairs, on=keys, how="left").reset_index(drop=True)


def _prevalence_means(
    prev: pd.DataFrame, ids: np.ndarray, counts: pd.DataFrame, opts: GapOptions
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean estimate and bounds (people) per (fy, substance, area id) over the area's
    years used (see ``_years_used``).

    A mean needs all N years for that area (else missing); the interval needs both bounds
    in all N years (else both bounds are missing). Returns the means and the years used.
    """
    n = opts.prevalence_years
    used = _years_used(prev, ids, counts, n)
    rows = pd.DataFrame(
        {
            "area_id": ids,
            "period": prev["period"].astype(str).to_numpy(),
            "substance": prev["substance"].astype(str).to_numpy(),
            "estimate": prev["estimate"].astype(float).to_numpy(),
            "lower": _numbers(prev, "lower"),
            "upper": _numbers(prev, "upper"),
        }
    )
    chosen = used[used["complete"].fillna(False).astype(bool)]
    joined = chosen[["fy", "substance", "area_id", "period"]].merge(
        rows, on=["substance", "period", "area_id"]
    )
    agg = joined.groupby(["fy", "substance", "area_id"], sort=True).agg(
        years=("estimate", "size"),
        estimate=("estimate", "sum"),
        lower=("lower", "sum"),
        lower_n=("lower", "count"),
        upper=("upper", "sum"),
        upper_n=("upper", "count"),
    )
    full = agg["years"] == n
    interval = full & (agg["lower_n"] == n) & (agg["upper_n"] == n)
    means = pd.DataFrame(
        {
            "prevalence": (agg["estimate"] / n).where(full),
            "prevalence_lower": (agg["lower"] / n).where(interval),
            "prevalence_upper": (agg["upper"] / n).where(interval),
            "years_found": agg["years"],
        }
    ).reset_index()
    return means, used


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column]).astype(float).to_numpy()


# ---------------------------------------------------------------------------------------
# The table


def _assemble(
    counts: pd.DataFrame, means: pd.DataFrame, used: pd.DataFrame, areas: _Areas
) -> pd.DataFrame:
    """T joined to D by (financial year, substance, area id), with the gap columns."""
    table = counts.assign(fy=counts["period"].str.slice(0, 7))
    table = table.merge(means, on=["fy", "substance", "area_id"], how="left")
    periods = (
        used.dropna(subset=["period"])
        .sort_values("period")
        .groupby(["fy", "substance", "area_id"])["period"]
        .agg(",".join)
        .rename("prevalence_periods")
        .reset_index()
    )
    table = table.merge(periods, on=["fy", "substance", "area_id"], how="left")
    ids = table["area_id"].to_numpy()
    table["area"] = areas.names[ids]
    table["area_code"] = areas.codes[ids]
    return _gap_columns(table)


def _gap_columns(table: pd.DataFrame) -> pd.DataFrame:
    """not_in_treatment (people) and the three percentages (of the estimate), new frame.

    A T known only within bounds leaves the point values missing and widens the interval:
    lower = 100 (1 - T max / mean lower), upper = 100 (1 - T min / mean upper).
    """
    d = table["prevalence"].astype(float)
    lo = table["prevalence_lower"].astype(float)
    hi = table["prevalence_upper"].astype(float)
    known = ~table["t_unknown"].to_numpy(dtype=bool)
    t = table["in_treatment"].astype(float).where(known)
    t_min = table["in_treatment_min"].astype(float)
    t_max = table["in_treatment_max"].astype(float)
    return table.assign(
        in_treatment=table["in_treatment"].astype("Int64").where(known),
        not_in_treatment=d - t,
        unmet_need_pct=(100.0 * (d - t) / d).where(d > 0),
        unmet_need_pct_lower=(100.0 * (1.0 - t_max / lo)).where(lo > 0),
        unmet_need_pct_upper=(100.0 * (1.0 - t_min / hi)).where(hi > 0),
    )


def _flags(table: pd.DataFrame, areas: _Areas, used: pd.DataFrame) -> dict[str, np.ndarray]:
    """Row masks for each remark a row can carry (aligned with ``table``)."""
    ids = table["area_id"].to_numpy()
    d = table["prevalence"].to_numpy(dtype=float, na_value=np.nan)
    has_d = ~np.isnan(d)
    t_max = table["in_treatment_max"].to_numpy(dtype=float)
    t_min = table["in_treatment_min"].to_numpy(dtype=float)
    complete = (
        used.assign(complete=used["complete"].fillna(False).astype(bool))
        .groupby(["fy", "substance", "area_id"], as_index=False)["complete"]
        .max()
    )
    fy_ok = (
        table[["fy", "substance", "area_id"]]
        .merge(complete, on=["fy", "substance", "area_id"], how="left")["complete"]
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    unmatched = ~areas.in_prevalence[ids]
    return {
        "unmatched": unmatched,
        "too_few_years": ~unmatched & ~fy_ok,
        "no_interval": has_d
        & (table["prevalence_lower"].isna() | table["prevalence_upper"].isna()).to_numpy(),
        "negative": has_d & (t_min > d),
        "maybe_negative": has_d & (t_min <= d) & (t_max > d),
        "t_unknown": table["t_unknown"].to_numpy(dtype=bool),
        "t_rounded": ~table["t_unknown"].to_numpy(dtype=bool) & (t_min != t_max),
        "alias": np.isin(ids, areas.alias_ids),
        "total": np.zeros(len(table), bool),
    }


def _add_total(
    table: pd.DataFrame, flags: dict[str, np.ndarray], name: str
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A row per period x substance summing the areas that have an estimate.

    Estimates and bounds are summed (people; a bound is missing if any area's is); T and its
    bounds are summed. ``total_group`` ties each total row (``is_total``) to its parts, for
    the disclosure relation total = sum of parts.
    """
    if (table["area"].astype(str).map(name_key) == name_key(name)).any():
        raise UsageError(f"--total {name}: an area of that name is in the table; choose another")
    summed = table["prevalence"].notna().to_numpy() & ~is_national_or_region(
        table["area"], table["area_code"]
    )
    has_d = summed
    group = table.groupby(["period", "substance"], sort=True).ngroup().to_numpy()
    base = table.assign(total_group=np.where(has_d, group, -1), is_total=False)
    parts = base[has_d].assign(
        lower_missing=lambda f: f["prevalence_lower"].isna(),
        upper_missing=lambda f: f["prevalence_upper"].isna(),
        in_treatment=lambda f: f["in_treatment"].fillna(0),
    )
    if parts.empty:
        return base, flags
    sums = (
        parts.groupby(["period", "substance", "total_group"], sort=True)
        .agg(
            fy=("fy", "first"),
            prevalence_periods=("prevalence_periods", _distinct_years),
            prevalence=("prevalence", "sum"),
            prevalence_lower=("prevalence_lower", "sum"),
            prevalence_upper=("prevalence_upper", "sum"),
            lower_missing=("lower_missing", "any"),
            upper_missing=("upper_missing", "any"),
            in_treatment=("in_treatment", "sum"),
            in_treatment_min=("in_treatment_min", "sum"),
            in_treatment_max=("in_treatment_max", "sum"),
            t_unknown=("t_unknown", "any"),
        )
        .reset_index()
    )
    sums = sums.assign(
        prevalence_lower=sums["prevalence_lower"].where(~sums["lower_missing"]),
        prevalence_upper=sums["prevalence_upper"].where(~sums["upper_missing"]),
        area=name,
        area_code=None,
        area_id=-1,
        is_total=True,
    ).drop(columns=["lower_missing", "upper_missing"])
    total = _gap_columns(sums)
    out = pd.concat([base, total], ignore_index=True)
    n, m = len(total), len(table)
    new_flags = {k: np.concatenate([v, np.zeros(n, bool)]) for k, v in flags.items()}
    d = total["prevalence"].to_numpy(dtype=float)
    t_min = total["in_treatment_min"].to_numpy(dtype=float)
    t_max = total["in_treatment_max"].to_numpy(dtype=float)
    new_flags["total"][m:] = True
    new_flags["t_unknown"][m:] = total["t_unknown"].to_numpy(dtype=bool)
    new_flags["t_rounded"][m:] = ~total["t_unknown"].to_numpy(dtype=bool) & (t_min != t_max)
    new_flags["no_interval"][m:] = (
        total["prevalence_lower"].isna() | total["prevalence_upper"].isna()
    ).to_numpy()
    new_flags["negative"][m:] = t_min > d
    new_flags["maybe_negative"][m:] = (t_min <= d) & (t_max > d)
    return out, new_flags


def _distinct_years(values: pd.Series) -> str | None:
    """A total row's estimate years: its areas' (``;`` between areas' different choices)."""
    years = sorted({str(v) for v in values.dropna()})
    return ";".join(years) if years else None


def _sort(
    table: pd.DataFrame, flags: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Rows by area (case-insensitive; the total last), code, period, substance order."""
    is_total = table["is_total"] if "is_total" in table else pd.Series(False, index=table.index)
    order_frame = pd.DataFrame(
        {
            "total": is_total.to_numpy(dtype=bool),
            "area": table["area"].astype(str).str.casefold(),
            "code": table["area_code"].fillna("").astype(str),
            "start": table["period"].str.slice(0, 4).astype(int),
            "period": table["period"],
            "substance": table["substance"].map({s: i for i, s in enumerate(SUBSTANCES)}),
        }
    )
    order = order_frame.sort_values(list(order_frame.columns), kind="stable").index.to_numpy()
    out = table.iloc[order].reset_index(drop=True)
    return out, {k: v[order] for k, v in flags.items()}


def _cells(table: pd.DataFrame, parts: pd.DataFrame) -> Cells:
    """The disclosure cells of ``in_treatment`` (one per row whose T is known, numbered in
    row order), with each total the sum of its areas and each drug substance the sum of its
    parts (placed in ``PARTS_COLUMN`` so no small part shows by difference).
    """
    known = table["in_treatment"].notna().to_numpy()
    rows = np.flatnonzero(known)
    cell_of_row = np.full(len(table), -1, dtype=np.int64)
    cell_of_row[rows] = np.arange(len(rows))
    values = table["in_treatment"].to_numpy(dtype=np.int64, na_value=0)[rows]
    rel, part_values = _part_relations(table, parts, cell_of_row, len(rows))
    cells = Cells(np.concatenate([values, part_values]))
    cells.place("in_treatment", np.arange(len(rows)), rows)
    if len(part_values):  # not shown anywhere; placed so protect guards them like counts
        cells.place(
            PARTS_COLUMN, np.arange(len(rows), len(cells.values)), np.zeros(len(part_values))
        )
    if "is_total" in table:
        _relate(cells, table, cell_of_row)
    cells.relations.extend(rel)
    return cells


def _apply(table: pd.DataFrame, rows: np.ndarray, cells: Cells, prot: Protection) -> pd.DataFrame:
    """``prot`` applied: suppressed ``in_treatment`` blank with the derived columns, and
    the derived columns worked out from rounded counts under a rounding policy.
    """
    base = table.assign(suppressed=table["in_treatment"].isna())  # suppressed in the input
    protected = prot.apply(base, cells, derived=DERIVED)
    if prot.policy.round_to:
        protected = _from_rounded(protected, rows, prot.policy.round_to)
    return protected


def _counted(treat: _Input, frame: pd.DataFrame, area_ids: np.ndarray) -> pd.DataFrame:
    """The treatment rows the table counts: position in the input frame, period, area id
    and the substance columns (for linking the table's cells to the people in them).
    """
    position = pd.Series(np.arange(len(treat.frame)), index=treat.frame.index)
    rows = (
        position.loc[frame.index].to_numpy()
        if treat.frame.index.is_unique
        else np.full(len(frame), -1, dtype=np.int64)
    )
    names = frame["area"].astype("string").fillna(NOT_STATED) if "area" in frame else None
    out = pd.DataFrame(
        {
            "row": rows,
            "period": frame["period"].astype(str).to_numpy(),
            "area_id": area_ids,
            "area_name": np.asarray(names, dtype=object)
            if "area" in frame
            else np.full(len(frame), NOT_STATED, dtype=object),
        }
    )
    masks = substance_masks(frame, SUBSTANCES)
    return out.assign(**{f"in_{s}": m for s, m in masks.items()})


def _part_relations(
    table: pd.DataFrame, parts: pd.DataFrame, cell_of_row: np.ndarray, first: int
) -> tuple[list[tuple[int, list[int]]], np.ndarray]:
    """Relations drug substance = sum of its parts, for each area x period showing at least
    two of opiate, crack and opiate_crack, with the parts as new cells numbered from
    ``first``: returns the relations and the parts' values (onc, oac, cno per area).
    """
    if parts.empty:
        return [], np.zeros(0, dtype=np.int64)
    shown = pd.DataFrame(
        {
            "period": table["period"].to_numpy(),
            "area_id": table["area_id"].to_numpy(),
            "substance": table["substance"].to_numpy(),
            "cell": cell_of_row,
        }
    )
    shown = shown[(shown["cell"] >= 0) & (shown["area_id"] >= 0)]
    wide = shown.pivot_table(
        index=["period", "area_id"], columns="substance", values="cell", aggfunc="first"
    )
    wide = wide.reindex(columns=["opiate", "crack", "opiate_crack"]).reset_index()
    merged = parts.merge(wide, on=["period", "area_id"], how="inner")
    cols = ["opiate", "crack", "opiate_crack"]
    merged = merged[merged[cols].notna().sum(axis=1) >= 2].reset_index(drop=True)
    if merged.empty:
        return [], np.zeros(0, dtype=np.int64)
    ids = first + 3 * np.arange(len(merged))
    onc, oac, cno = ids, ids + 1, ids + 2
    members = {"opiate": (onc, oac), "crack": (oac, cno), "opiate_crack": (onc, oac, cno)}
    rel = [
        (int(total), [int(p[i]) for p in members[s]])
        for s in cols
        for i, total in enumerate(merged[s].to_numpy())
        if not pd.isna(total)
    ]
    values = merged[["onc", "oac", "cno"]].to_numpy(dtype=np.int64).ravel()
    return rel, values


def _as_written(cells: Cells) -> Cells:
    """The structure written with the table: the substance parts stay unplaced (no column
    shows them), as a reader of the file knows them."""
    real = [p for p in cells.placements if p.column != PARTS_COLUMN]
    return Cells(cells.values, list(cells.relations), real)


def _from_rounded(table: pd.DataFrame, rows: np.ndarray, base: int) -> pd.DataFrame:
    """Under a rounding policy, the columns derived from T worked out again from the shown
    (rounded) T, so they do not give the unrounded count away; T is then known within
    +- base/2, which the percentage interval covers.
    """
    shown = table["in_treatment"].astype("Float64")
    on = np.zeros(len(table), dtype=bool)
    on[rows] = True
    on &= shown.notna().to_numpy()
    half = base // 2
    redo = table.assign(
        in_treatment_min=(shown - half).clip(lower=0),
        in_treatment_max=shown + half,
        t_unknown=False,
    )
    redone = _gap_columns(redo.assign(in_treatment=shown.fillna(0).astype("Int64")))
    out = table.copy()
    for col in ("in_treatment_min", "in_treatment_max", *DERIVED[:4]):
        out[col] = table[col].astype("Float64").where(~on, redone[col].astype("Float64"))
    return out


def _relate(cells: Cells, table: pd.DataFrame, cell_of_row: np.ndarray) -> None:
    """Add total = sum of parts for each total row whose T is known (then all parts are)."""
    group = table["total_group"].fillna(-1).to_numpy(dtype=np.int64)
    if not len(group) or group.max() < 0:
        return
    is_total = table["is_total"].to_numpy(dtype=bool)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(group.max() + 2))
    for g in range(group.max() + 1):  # one relation per period x substance (the API's unit)
        rows = order[bounds[g] : bounds[g + 1]]
        total, parts = rows[is_total[rows]], rows[~is_total[rows]]
        if len(total) == 1 and cell_of_row[total[0]] >= 0 and (cell_of_row[parts] >= 0).all():
            cells.add_relation(int(cell_of_row[total[0]]), cell_of_row[parts].tolist())


# ---------------------------------------------------------------------------------------
# Benchmark and the Fingertips layout

NATIONAL_CODE = "E92000001"
REGION_PREFIX = "E12"
REGIONS = (
    "England",
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
)
VS = {"similar": "Similar", "higher": "Higher", "lower": "Lower", "not_compared": "Not compared"}
FINGERTIPS_COLUMNS = (
    "Indicator ID",
    "Indicator Name",
    "Area Code",
    "Area Name",
    "Time period",
    "Value",
    "Lower CI 95.0 limit",
    "Upper CI 95.0 limit",
    "Count",
    "Denominator",
    "Value note",
    "Compared to benchmark",
)
INDICATOR_NAMES = {
    "opiate_crack": "Proportion of people who use opiates and/or crack not in treatment (%)",
    "opiate": "Proportion of people who use opiates not in treatment (%)",
    "crack": "Proportion of people who use crack cocaine not in treatment (%)",
    "alcohol_dependent": "Proportion of dependent drinkers not in treatment (%)",
}


def is_national_or_region(names: pd.Series, codes: pd.Series) -> np.ndarray:
    """Rows that are England (E92000001) or an English region (E12...), by code or name:
    never summed into a ``--total`` of areas."""
    code = codes.astype("string").fillna("").str.upper()
    by_code = code.eq(NATIONAL_CODE) | code.str.startswith(REGION_PREFIX)
    by_name = names.astype(str).map(name_key).isin({name_key(r) for r in REGIONS})
    return (by_code | (code.eq("") & by_name)).to_numpy(dtype=bool)


def with_benchmark(table: pd.DataFrame, benchmark: str | None, remarks: Remarks) -> pd.DataFrame:
    """``benchmark_area`` and ``vs_benchmark`` after ``suppressed`` (contract 4.1).

    Fingertips' rule for a proportion with a 95% interval: ``similar`` when the benchmark's
    unmet_need_pct lies inside the area's interval (bounds included), ``higher`` when the
    interval is above it, ``lower`` when below; ``not_compared`` when the area's interval or
    the benchmark's value is missing or suppressed, or the benchmark is not in the table.
    Only shown values are compared. ``benchmark``: an area's name or GSS code; None:
    England, where the table has it.
    """
    keys = table["area"].astype(str).map(name_key)
    if benchmark is None:
        national = (table["area_code"].astype("string") == NATIONAL_CODE).fillna(False)
        name = table.loc[national | (keys == "england"), "area"]
        chosen = str(name.iloc[0]) if len(name) else None
    else:  # a name, or a GSS code (E92000001)
        by_code = table.loc[table["area_code"].astype("string").str.upper() == benchmark.upper()]
        chosen = str(by_code["area"].iloc[0]) if len(by_code) else benchmark
    is_bench = keys == name_key(chosen) if chosen else pd.Series(False, index=table.index)
    if chosen and not is_bench.any():
        remarks.add(f"--benchmark {chosen}: not an area of the table, so nothing is compared")
    value = table["unmet_need_pct"].where(is_bench & ~table["suppressed"])
    bench = (
        pd.DataFrame({"period": table["period"], "substance": table["substance"], "v": value})
        .dropna(subset=["v"])
        .drop_duplicates(["period", "substance"])
    )
    v = (
        table[["period", "substance"]]
        .merge(bench, how="left")["v"]
        .to_numpy(dtype=float, na_value=np.nan)
    )
    lo = table["unmet_need_pct_lower"].to_numpy(dtype=float, na_value=np.nan)
    hi = table["unmet_need_pct_upper"].to_numpy(dtype=float, na_value=np.nan)
    vs = np.select(
        [lo > v, hi < v, (lo <= v) & (v <= hi)], ["higher", "lower", "similar"], "not_compared"
    )
    out = table.copy()
    at = list(out.columns).index("suppressed") + 1
    out.insert(at, "benchmark_area", pd.Series(chosen, index=out.index, dtype="string"))
    out.insert(at + 1, "vs_benchmark", pd.Series(vs, index=out.index, dtype="string"))
    if chosen and is_bench.any():
        remarks.add(
            f"vs_benchmark: each area's unmet_need_pct interval against {chosen}'s value, as "
            "Fingertips compares a proportion: similar when the value lies inside the 95% "
            "interval, higher or lower when the interval lies above or below it; not_compared "
            "where either is missing or suppressed"
        )
    return out


def fingertips_table(table: pd.DataFrame) -> pd.DataFrame:
    """A gap table in the Fingertips export's columns (contract 4.1 ``--out-layout
    fingertips``): Value = unmet_need_pct, Count = not_in_treatment (people), Denominator =
    prevalence (people), numbers unrounded; suppressed values stay blank."""
    note = np.where(
        table["suppressed"].to_numpy(dtype=bool),
        "Value suppressed for disclosure control",
        np.where(table["prevalence"].isna(), "No estimate for this period", ""),
    )
    return pd.DataFrame(
        {
            "Indicator ID": pd.Series(pd.NA, index=table.index, dtype="Int64"),
            "Indicator Name": table["substance"].map(INDICATOR_NAMES).astype("string"),
            "Area Code": table["area_code"],
            "Area Name": table["area"],
            "Time period": table["period"],
            "Value": table["unmet_need_pct"],
            "Lower CI 95.0 limit": table["unmet_need_pct_lower"],
            "Upper CI 95.0 limit": table["unmet_need_pct_upper"],
            "Count": table["not_in_treatment"],
            "Denominator": table["prevalence"],
            "Value note": pd.Series(note, index=table.index, dtype="string").replace("", pd.NA),
            "Compared to benchmark": table["vs_benchmark"].map(VS).astype("string"),
        }
    )


# ---------------------------------------------------------------------------------------
# Remarks


def _names(table: pd.DataFrame, mask: np.ndarray) -> str:
    """Up to MAX_NAMED distinct area names of the masked rows, then how many more."""
    names = pd.unique(table.loc[mask, "area"].astype(str))
    shown = ", ".join(names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


def _remark_texts(opts: GapOptions, prot: Protection, aliases: tuple[str, ...]) -> dict[str, str]:
    """The text of each row-level remark (only used where some row is flagged)."""
    k, star = opts.k, opts.star_max
    return {
        "unmatched": "no prevalence estimate for these areas (not in the prevalence file): {names}",
        "too_few_years": (
            f"fewer than {opts.prevalence_years} published estimate year(s) at or before the "
            "treatment year for these areas: prevalence left missing, not averaged over fewer "
            "years ({names})"
        ),
        "no_interval": (
            "no interval: an estimate year used has no lower or upper bound, so the interval "
            "is left missing rather than averaged over fewer years ({names})"
        ),
        "negative": (
            "more people in treatment than the estimate: a negative gap, kept as it is (the "
            "estimate may be too low or people may travel in for treatment): {names}"
        ),
        "maybe_negative": (
            "the number in treatment is known only within bounds that straddle the estimate: "
            "the gap may be negative ({names})"
        ),
        "t_unknown": (
            "a count is suppressed in the treatment file, so in_treatment is only known within "
            f"in_treatment_min..in_treatment_max (a '*' read as 1..{star}, '<N' as 1..N-1); "
            "the percentage interval is widened to cover those bounds ({names})"
        ),
        "t_rounded": (
            "treatment counts look rounded to the nearest 5: each read as within +-2, given in "
            "in_treatment_min..in_treatment_max, and the percentage interval widened to cover "
            "them ({names})"
        ),
        "alias": (
            "areas known by several names in the inputs, matched as one (by GSS code, or by "
            "name where a row has no code): " + "; ".join(aliases)
        ),
        "total": (
            f"{opts.total}: the sum of the areas with an estimate (England and region rows "
            "are never added in); its bounds are the sums of the areas' bounds, which is "
            "conservative (wider than a proper interval of a total)"
        ),
        "disclosure": (
            f"* suppressed: an in_treatment count of 1..{k}, or one that would let a small "
            "count be worked out from the total, from another table or by a difference between "
            "substances (e.g. opiate_crack - opiate = crack without opiates); the prevalence is "
            "still shown: {names}"
        ),
    }


def _with_remarks(
    table: pd.DataFrame,
    flags: dict[str, np.ndarray],
    remarks: Remarks,
    opts: GapOptions,
    prot: Protection,
    used: pd.DataFrame,
    areas: _Areas,
) -> pd.DataFrame:
    """The final table (pinned columns, then extras) with each row's remark numbers
    (``remarks``: e.g. ``"3,5"``, the numbers of the remarks printed under the table).
    """
    aliases = areas.aliases
    remarks.extend(_years_remarks(used, opts, areas.names))
    ids = pd.Series("", index=table.index, dtype=object)
    for name, text in _remark_texts(opts, prot, aliases).items():
        mask = flags.get(name, np.zeros(len(table), bool))
        if not mask.any():
            continue
        filled = text.replace("{names}", _names(table, mask))
        remarks.add(filled)
        number = str(remarks.items.index(filled) + 1)
        ids = ids.where(~mask, (ids + ",").where(ids != "", "") + number)
    remarks.extend(prot.remarks)
    if prot.policy.round_to:
        base = prot.policy.round_to
        remarks.add(
            f"in_treatment is rounded to the nearest {base} ({prot.policy.name} policy); the "
            f"other columns are worked out from the rounded count, so in_treatment_min..max "
            f"are +-{base // 2} around it and the percentage interval covers them"
        )
    if opts.k == 0 and not any("--k 0" in text for text in prot.remarks):
        remarks.add("suppression is off (--k 0): every count is shown as it is")
    out = table.assign(remarks=ids.mask(ids == "").astype("string"))
    return _typed(out)


def _years_remarks(used: pd.DataFrame, opts: GapOptions, names: np.ndarray) -> list[str]:
    """Which estimate years each treatment year's prevalence is the mean of; where areas
    differ (years are chosen per area), the areas of each choice but the commonest."""
    done = used.dropna(subset=["period"])
    done = done[done["complete"].astype(bool)]
    if done.empty:
        return []
    per_area = (
        done.sort_values("period")
        .groupby(["fy", "substance", "area_id"])["period"]
        .agg(", ".join)
        .rename("years")
        .reset_index()
    )
    what = "the estimate for" if opts.prevalence_years == 1 else "the mean of the estimates for"
    choices = per_area.groupby(["fy", "substance", "years"], sort=True)["area_id"].agg(list)
    sizes = choices.map(len)
    commonest = set(sizes.groupby(level=[0, 1]).idxmax().tolist())
    lines: dict[tuple[str, str, str], list[str]] = {}
    for index, ids in choices.items():  # a handful of year choices, not rows
        fy, sub, years = (str(x) for x in index)  # type: ignore[attr-defined]
        where = ""
        if sizes.loc[(fy, sub)].size > 1:
            named = sorted(str(names[i]) for i in ids)
            where = (
                " for the other areas"
                if (fy, sub, years) in commonest
                else " for "
                + ", ".join(named[:MAX_NAMED])
                + (f" and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else "")
            )
        lines.setdefault((fy, years, where), []).append(sub)
    return [
        f"prevalence for treatment year {fy} ({', '.join(subs)}): {what} {years}{where}"
        for (fy, years, where), subs in sorted(lines.items())
    ]


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Pinned columns then extras, with stable dtypes for Parquet and CSV."""
    out = pd.DataFrame(
        {
            "area": table["area"].astype("string"),
            "area_code": table["area_code"].astype("string"),
            "period": table["period"].astype("string"),
            "substance": table["substance"].astype("string"),
            "prevalence": table["prevalence"].astype("Float64"),
            "prevalence_lower": table["prevalence_lower"].astype("Float64"),
            "prevalence_upper": table["prevalence_upper"].astype("Float64"),
            "in_treatment": table["in_treatment"].astype("Int64"),
            "not_in_treatment": table["not_in_treatment"].astype("Float64"),
            "unmet_need_pct": table["unmet_need_pct"].astype("Float64"),
            "unmet_need_pct_lower": table["unmet_need_pct_lower"].astype("Float64"),
            "unmet_need_pct_upper": table["unmet_need_pct_upper"].astype("Float64"),
            "suppressed": table["suppressed"].astype(bool),
            "in_treatment_min": table["in_treatment_min"].astype("Int64"),
            "in_treatment_max": table["in_treatment_max"].astype("Int64"),
            "prevalence_periods": table["prevalence_periods"].astype("string"),
            "remarks": table["remarks"].astype("string"),
        }
    )
    return out.reset_index(drop=True)
