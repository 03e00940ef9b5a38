"""A red-team attacker on everything unmetneed publishes together.

It is written apart from the protection code (it imports nothing of ``unmetneed``) and
reads only published files: tables (Parquet, or CSV with an optional ``.meta.json``
sidecar), the manifest, remarks and terminal text. It does not use the tool's disclosure
metadata: what each published number counts is rebuilt from the table's own labelled rows
(CONTRACT 4.1, 4.2; design/release-model.md).

The model (the design note's clique model)
------------------------------------------
People are split into *populations*: a cohort label (``NDTMS`` for the treatment
population that the gap table counts, ``OOTU``, ...) x a period (only for "periodic"
labels, by default the treatment label; a cohort file has no period).

* Separator atoms ``y[pop, area, dgc]``: area x (drug_group, crack). drug_group is one of
  the four NDTMS codes or missing, crack true/false/missing: 15 combinations.
* One clique per group of non-separator variables used together in a cell (overlapping
  groups merged): atoms ``x[clique, pop, area, dgc, v1, v2...]`` with ties
  ``sum_v x[.., v] = y[..]``.
* Every value set is refined to the classes the published cells can tell apart (e.g. age
  5-year bands that are always shown together are one class); every variable also has a
  ``not_stated`` value and, where the contract does not close its code list, a
  ``__rest__`` value for anything no table shows (an area no table names, ...).

Each published cell is a 0/1 row over atoms. Knowledge:

* a shown count is exact (``nhs``: within v-2..v+2 and never 1..7),
* a hidden count is ``>= hidden_floor`` (1 when zeros are shown; 0 where the remarks say
  hidden cells may be zero, or as given),
* a compare block's denominator is the sum of its categories (default convention: the
  whole group, so atoms of categories the block does not show are empty; with
  ``--exclude-not-stated`` the stated ones); groups a compare table does not list for a
  cohort are empty (it lists the groups that have people),
* gap derived columns (not_in_treatment, unmet_need_pct..., in_treatment_min/max) and
  compare percentages (pct with a shown count or denominator, Wilson bounds, diff_pp)
  pin or bound the count they were computed from,
* public totals given by the caller, and (``use_manifest=True``) cohort sizes readable
  from the manifest (input rows, the extract's rows, "N rows released" remarks).

For every hidden count the attacker solves min and max over the atoms (scipy linprog,
HiGHS), rounds inwards and reports ``exact`` (low == high) and ``narrow``
(high - low < width). It also reports group disclosures (all categories but one shown 0 beside
a hidden or small group size), separator atoms pinned to a small non-zero range, shown
small counts, derived values shown beside hidden counts, and text side channels.

The self check (``truth_from_records`` + ``self_check``; ``attack(..., truth=...)``)
counts the true atoms from the restricted records and raises ``SelfCheckError`` if any
equality, bound or forced zero the attacker built is false for the truth: a parsing
mistake fails loudly instead of making the attacker blind.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from scipy import sparse
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

# --------------------------------------------------------------------------------------
# Vocabulary (CONTRACT 2.1, 4.1, 4.2)

DRUG_GROUPS = ("opiate", "non_opiate_only", "non_opiate_and_alcohol", "alcohol_only")
NON_OPIATE = ("non_opiate_only", "non_opiate_and_alcohol")
DGC: tuple[tuple[str | None, bool | None], ...] = tuple(
    (d, c) for d in (*DRUG_GROUPS, None) for c in (True, False, None)
)
AGE_BANDS = (
    "18-24",
    "25-29",
    "30-34",
    "35-39",
    "40-44",
    "45-49",
    "50-54",
    "55-59",
    "60-64",
    "65+",
)
FLAGS = (
    "disability_learning",
    "disability_mental_health",
    "disability_physical",
    "lives_with_children",
)
NOT_STATED = "not_stated"
REST = "__rest__"
#: closed code lists (without not_stated, which every variable has)
CODE_LISTS: dict[str, tuple[str, ...]] = {
    "sex": ("male", "female", "other"),
    "ethnicity": ("white", "mixed", "asian", "black", "other"),
    "sexuality": ("heterosexual", "other"),
    "religion": ("christian", "muslim", "other_none"),
    "nationality": ("british", "not_british"),
    "housing": ("no_problem", "housing_problem", "urgent_housing_problem"),
    "employment": ("regular", "not_regular"),
    "age_band": AGE_BANDS,
    **{f: ("yes", "no") for f in FLAGS},
}
SEPARATOR_VARS = ("area", "drug_group", "crack", "substance_cohort")
GAP_SUBSTANCES = ("opiate_crack", "opiate", "crack", "alcohol_dependent")
SUBSTANCE_COHORTS = (
    "opiate_no_crack",
    "opiate_and_crack",
    "crack_no_opiate",
    "alcohol_only",
    "other_non_opiate",
)
TOTAL_NAME = re.compile(r"^\s*(all\b.*|total\b.*|england|all)\s*$", re.IGNORECASE)
GAP_DERIVED = (
    "not_in_treatment",
    "unmet_need_pct",
    "unmet_need_pct_lower",
    "unmet_need_pct_upper",
    "in_treatment_min",
    "in_treatment_max",
)
COMPARE_DERIVED = ("pct", "pct_lower", "pct_upper", "diff_pp", "diff_lower", "diff_upper")
COMPARE_TESTS = ("statistic", "p_value")
Z95 = 1.959963984540054


class ParseError(ValueError):
    """A published file the attacker cannot read as the contract says."""


class ModelInconsistentError(RuntimeError):
    """The published values contradict each other under the attacker's model."""


class SelfCheckError(AssertionError):
    """The true records break a constraint the attacker built: its parse is wrong."""


# --------------------------------------------------------------------------------------
# Policy


@dataclass(frozen=True)
class Policy:
    """What a shown count says about the truth, and the protection width K.

    ``k``: counts 1..k are hidden; ``rounding``: shown counts are rounded to the nearest
    ``rounding`` (0: exact); ``width``: a hidden count narrowed to high - low < width is
    a finding.
    """

    name: str = "k3"
    k: int = 3
    rounding: int = 0
    width: int = 3

    @classmethod
    def from_name(cls, name: str | None = None, k: int | None = None) -> Policy:
        if name in (None, "", "k3", "k"):
            kk = 3 if k is None else k
            return cls(f"k{kk}", kk, 0, kk)
        if name == "lt5":
            return cls("lt5", 4, 0, 4)
        if name == "nhs":
            return cls("nhs", 7, 5, 7)
        raise ValueError(f"unknown policy {name!r}")

    def shown_bounds(self, v: float) -> tuple[float, float]:
        """The range of true values a shown count ``v`` allows (a count that is not a
        multiple of the rounding base was not rounded: it is exact)."""
        if not self.rounding or v % self.rounding:
            return v, v
        if v == 0:
            return 0.0, 0.0
        half = self.rounding // 2
        return max(v - half, self.k + 1), v + half

    def is_small_shown(self, v: float) -> bool:
        """A shown count that the policy should never have shown (1..k, or not rounded
        under a rounding policy)."""
        if v != int(v) or v < 0:
            return True
        if self.rounding and int(v) % self.rounding:
            return True
        return 1 <= v <= self.k


# --------------------------------------------------------------------------------------
# Reading published files

NUMERIC = {
    "count",
    "denominator",
    "pct",
    "pct_lower",
    "pct_upper",
    "diff_pp",
    "diff_lower",
    "diff_upper",
    "statistic",
    "dof",
    "p_value",
    "prevalence",
    "prevalence_lower",
    "prevalence_upper",
    "in_treatment",
    "not_in_treatment",
    "unmet_need_pct",
    "unmet_need_pct_lower",
    "unmet_need_pct_upper",
    "in_treatment_min",
    "in_treatment_max",
}
RECORD_COLUMNS = {"drug_group", "crack", "age_band", "area"}


@dataclass
class Table:
    """One published table as the attacker reads it."""

    name: str
    kind: str  # "gap", "compare", "records" or "other"
    frame: pd.DataFrame
    remarks: list[str] = field(default_factory=list)
    metadata_text: str = ""
    #: for compare tables: the period their periodic cohorts cover (None: every period)
    period: str | None = None
    #: per cohort label, the periods its cells cover where not ``period`` alone (a cohort
    #: file that grew: label it periodic by wave, and each quarter's tables cover its waves)
    covers: dict[str, frozenset[str]] | None = None
    #: None: inferred from the rows (a not_stated category => the default convention)
    exclude_not_stated: bool | None = None
    path: Path | None = None


def _kind(columns: Iterable[str]) -> str:
    cols = set(columns)
    if {"substance", "in_treatment", "area"} <= cols:
        return "gap"
    if {"cohort", "variable", "category", "count", "denominator"} <= cols:
        return "compare"
    if cols >= RECORD_COLUMNS and "count" not in cols:
        return "records"
    return "other"


def _remarks_in(obj: Any) -> list[str]:
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "remarks" and isinstance(v, list):
                out.extend(str(x) for x in v if isinstance(x, str))
            else:
                out.extend(_remarks_in(v))
    elif isinstance(obj, list):
        for v in obj:
            out.extend(_remarks_in(v))
    return out


def _clean_frame(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    out = {}
    for col in frame.columns:
        s = frame[col]
        if col in NUMERIC:
            if s.dtype == object or pd.api.types.is_string_dtype(s):
                txt = s.astype(object)
                blank = txt.isna() | (txt.astype(str).str.strip() == "")
                num = pd.to_numeric(txt.where(~blank, None), errors="coerce")
                bad = num.isna() & ~blank
                if bad.any():
                    i = int(np.flatnonzero(bad.to_numpy())[0])
                    raise ParseError(
                        f"{path}: column {col} row {i}: {txt.iloc[i]!r} is neither a number "
                        "nor empty (a suppressed value must be empty)"
                    )
                out[col] = num.astype(float)
            else:
                out[col] = pd.to_numeric(s).astype(float)
        elif col == "suppressed":
            out[col] = s.astype(object).map(
                lambda v: (
                    None
                    if v is None or (isinstance(v, float) and math.isnan(v))
                    else (v if isinstance(v, bool | np.bool_) else str(v).strip().lower() == "true")
                )
            )
        else:
            vals = s.astype(object)
            out[col] = [None if _isna(v) else _label(v) for v in vals]
    return pd.DataFrame(out, index=range(len(frame)))


def _isna(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip() == ""


def _label(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    return str(v).strip()


def read_table(
    path: str | Path,
    *,
    name: str | None = None,
    period: str | None = None,
    exclude_not_stated: bool | None = None,
) -> Table:
    """A published table: Parquet (metadata from its schema) or CSV (+ ``.meta.json``)."""
    path = Path(path)
    meta: dict[str, Any] = {}
    meta_text = ""
    if path.suffix == ".parquet":
        pt = pq.read_table(path)
        raw = pt.schema.metadata or {}
        for k, v in raw.items():
            if k == b"pandas":
                continue
            text = v.decode("utf-8", "replace")
            meta_text += text + "\n"
            try:
                meta[k.decode()] = json.loads(text)
            except ValueError:
                meta[k.decode()] = text
        frame = pt.to_pandas()
    elif path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        side = path.with_name(path.name + ".meta.json")
        if side.exists():
            meta_text = side.read_text(encoding="utf-8")
            meta = {"sidecar": json.loads(meta_text)}
    else:
        raise ParseError(f"{path}: not a .parquet or .csv table")
    kind = _kind(frame.columns)
    return Table(
        name=name or path.name,
        kind=kind,
        frame=_clean_frame(frame, path) if kind in ("gap", "compare") else frame,
        remarks=_remarks_in(meta),
        metadata_text=meta_text,
        period=period,
        exclude_not_stated=exclude_not_stated,
        path=path,
    )


@dataclass
class Publication:
    """Everything in one published folder."""

    tables: list[Table]
    manifest: dict[str, Any] | None
    texts: dict[str, str]
    record_files: list[Path]


def read_published_dir(
    folder: str | Path, *, period: str | None = "auto", formats: Sequence[str] = ("parquet", "csv")
) -> Publication:
    """Every table in ``folder`` (both formats, so a CSV that shows more than its Parquet
    twin is caught), its manifest and text. ``period='auto'``: compare tables cover the
    manifest's period."""
    folder = Path(folder)
    manifest = None
    texts: dict[str, str] = {}
    mpath = folder / "manifest.json"
    if mpath.exists():
        texts["manifest.json"] = mpath.read_text(encoding="utf-8")
        manifest = json.loads(texts["manifest.json"])
    cperiod = manifest.get("period") if (period == "auto" and manifest) else period
    if cperiod == "auto":
        cperiod = None
    tables: list[Table] = []
    records: list[Path] = []
    for p in sorted(folder.iterdir()):
        if p.suffix.lstrip(".") not in formats or p.name.endswith("_wide.csv"):
            continue
        t = read_table(p, period=cperiod)
        texts[p.name + " (metadata)"] = t.metadata_text
        if t.kind == "records":
            records.append(p)
        elif t.kind in ("gap", "compare"):
            tables.append(t)
    for p in sorted(folder.glob("*.meta.json")):
        texts.setdefault(p.name, p.read_text(encoding="utf-8"))
    return Publication(tables, manifest, texts, records)


# --------------------------------------------------------------------------------------
# Category labels -> sets of fine values


def _dgc_set(pred: Any) -> frozenset[tuple[str | None, bool | None]]:
    return frozenset(x for x in DGC if pred(x[0], x[1]))


SUBSTANCE_SETS = {
    "opiate_crack": _dgc_set(lambda d, c: d == "opiate" or c is True),
    "opiate": _dgc_set(lambda d, c: d == "opiate"),
    "crack": _dgc_set(lambda d, c: c is True),
    "alcohol_dependent": _dgc_set(lambda d, c: d in ("alcohol_only", "non_opiate_and_alcohol")),
}
SUBSTANCE_COHORT_SETS = {
    "opiate_no_crack": _dgc_set(lambda d, c: d == "opiate" and c is False),
    "opiate_and_crack": _dgc_set(lambda d, c: d == "opiate" and c is True),
    "crack_no_opiate": _dgc_set(lambda d, c: d in NON_OPIATE and c is True),
    "alcohol_only": _dgc_set(lambda d, c: d == "alcohol_only"),
    "other_non_opiate": _dgc_set(lambda d, c: d in NON_OPIATE and c is False),
    NOT_STATED: _dgc_set(lambda d, c: d is None or (d != "alcohol_only" and c is None)),
}
DGC_MISSING = _dgc_set(lambda d, c: d is None or c is None)


def age_band_set(label: str) -> frozenset[str]:
    """The 5-year bands a published age category is made of (18-29, 50+, 40-65 = 40+)."""
    if label in AGE_BANDS or label == NOT_STATED:
        return frozenset([label])
    lo_hi = [(int(b[:2]), 200 if b.endswith("+") else int(b[3:])) for b in AGE_BANDS]
    m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", label)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        top = 200 if b >= 65 else b
    else:
        m = re.fullmatch(r"(\d+)\s*\+", label)
        if not m:
            raise ParseError(f"age band {label!r} is not a band the attacker can read")
        a, top = int(m.group(1)), 200
    inside = [
        band for band, (lo, hi) in zip(AGE_BANDS, lo_hi, strict=True) if lo >= a and hi <= top
    ]
    covered = [lo_hi[AGE_BANDS.index(x)] for x in inside]
    if not inside or covered[0][0] != a or (covered[-1][1] != top and not (top == 200)):
        raise ParseError(f"age band {label!r} does not line up with the 5-year bands")
    return frozenset(inside)


def category_set(variable: str, label: str) -> frozenset[Any]:
    """The fine values (dgc tuples for separator variables) a category label stands for."""
    if variable == "substance_cohort":
        if label not in SUBSTANCE_COHORT_SETS:
            raise ParseError(f"substance_cohort {label!r} is not a contract code")
        return SUBSTANCE_COHORT_SETS[label]
    if variable == "drug_group":
        if label == NOT_STATED:
            return _dgc_set(lambda d, c: d is None)
        if label not in DRUG_GROUPS:
            raise ParseError(f"drug_group {label!r} is not a contract code")
        return _dgc_set(lambda d, c: d == label)
    if variable == "crack":
        want = {"yes": True, "no": False, NOT_STATED: None}
        if label not in want:
            raise ParseError(f"crack {label!r} is not yes/no/not_stated")
        return _dgc_set(lambda d, c: c is want[label])
    if variable == "age_band":
        return age_band_set(label)
    return frozenset([label])


def _dim_of(variable: str) -> str:
    return "dgc" if variable in ("substance_cohort", "drug_group", "crack") else variable


# --------------------------------------------------------------------------------------
# Selections of people, before the universes are known


@dataclass(frozen=True)
class Sel:
    """People of one cohort label restricted on some dimensions.

    ``dims``: (dimension, fine value set, negate); dimensions are ``period``, ``area``,
    ``dgc`` or a variable name. Several restrictions on one dimension intersect.
    """

    label: str
    dims: tuple[tuple[str, frozenset[Any], bool], ...] = ()

    def plus(self, dim: str, values: frozenset[Any], negate: bool = False) -> Sel:
        return Sel(self.label, (*self.dims, (dim, frozenset(values), negate)))

    def describe(self) -> str:
        parts = [self.label]
        for d, vals, neg in self.dims:
            shown = ",".join(sorted(_fine_name(v) for v in vals))
            if len(shown) > 60:
                shown = shown[:57] + "..."
            parts.append(f"{d}{'!=' if neg else '='}{{{shown}}}")
        return " ".join(parts)


def _fine_name(v: Any) -> str:
    if isinstance(v, tuple):
        d, c = v
        crack = {True: "crack", False: "nocrack", None: "NA"}[c]
        return f"{d or 'NA'}/{crack}"
    return str(v)


@dataclass
class Knowledge:
    sel: Sel
    lo: float
    hi: float
    source: str


@dataclass
class HiddenCell:
    sel: Sel
    floor: float
    table: str
    row: int
    column: str
    label: str


@dataclass
class Block:
    """A compare block: one cohort x within-group x variable of one table."""

    table: str
    label: str
    cohort: str
    variable: str
    rows: list[int]
    categories: list[str]
    counts: list[float | None]
    denominator: float | None
    den_row: int


@dataclass
class ZeroOutside:
    """Everyone of ``scope`` outside the union of ``groups`` is absent (forced zero)."""

    scope: Sel
    groups: list[Sel]
    source: str


@dataclass
class Finding:
    table: str
    row: int
    column: str
    label: str
    low: float
    high: float
    lp_min: float
    lp_max: float
    true: float | None = None
    #: False: not solved to the end, its range is at least low..high (wide enough)
    solved: bool = True
    also: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        truth = "" if self.true is None else f" (true {self.true:g})"
        wide = "" if self.solved else " or wider"
        return (
            f"{self.table} row {self.row} {self.column} [{self.label}]: "
            f"{self.low:g}..{self.high:g}{wide}{truth}"
        )


# --------------------------------------------------------------------------------------
# Remarks: what a table says about itself

ZERO_HIDDEN = re.compile(
    r"(suppressed|hidden|blank|\*)[^.]*\bmay be (0|zero)|\b(0|zero)s?\b[^.]*\b(are|is) "
    r"(also )?(suppressed|hidden)|zero counts are suppressed",
    re.IGNORECASE,
)
# "... so a suppressed denominator may be 0": a listed empty group of a cohort may be hidden
DENOMINATOR_MAY_BE_ZERO = re.compile(
    r"(suppressed|hidden|blank)\s+denominators?\b[^.]*\bmay be (0|zero)", re.IGNORECASE
)
ZERO_HIDDEN_WHERE_GROUP = re.compile(
    r"(group'?s?|denominator'?s?)[^.]*(size )?[^.]*(is |are )?(suppressed|hidden)", re.IGNORECASE
)


def _table_floor(table: Table, hidden_floor: int | str) -> tuple[int, bool]:
    """(floor, only_in_hidden_groups): the lower bound of a hidden count in ``table``."""
    if hidden_floor != "auto":
        return int(hidden_floor), False
    text = " ".join(table.remarks)
    if ZERO_HIDDEN.search(text):
        sentences = re.split(r"(?<=[.;])\s", text)
        if any(ZERO_HIDDEN.search(s) and not ZERO_HIDDEN_WHERE_GROUP.search(s) for s in sentences):
            return 0, False  # said of every suppressed count, not only a hidden group's
        for sentence in sentences:
            if ZERO_HIDDEN.search(sentence) and ZERO_HIDDEN_WHERE_GROUP.search(sentence):
                return 0, True
        return 0, False
    return 1, False


def _exclude_mode(table: Table) -> bool:
    """Whether a compare table's denominators leave not_stated out (``--exclude-not-
    stated``). Without a declaration: a not_stated category row means the default
    convention; none at all is read as 'excluded' (weaker, and true either way)."""
    if table.exclude_not_stated is not None:
        return table.exclude_not_stated
    f = table.frame
    if (f["category"] == NOT_STATED).any():
        return False
    text = " ".join(table.remarks).lower()
    return not ("denominators count every person" in text or "not_stated is a category" in text)


# --------------------------------------------------------------------------------------
# Collecting what the tables say


@dataclass
class Collected:
    knowledge: list[Knowledge] = field(default_factory=list)
    hidden: list[HiddenCell] = field(default_factory=list)
    zeros: list[Sel] = field(default_factory=list)
    zero_outside: list[ZeroOutside] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    small_shown: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)


def _close(x: float, tol: float = 1e-6) -> int | None:
    r = round(x)
    return int(r) if abs(x - r) <= tol * max(1.0, abs(x)) else None


def wilson(c: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval in percent."""
    c = np.asarray(c, float)
    n = np.asarray(n, float)
    p = c / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(np.maximum(p * (1 - p) / n + z * z / (4 * n * n), 0)) / denom
    return 100 * (centre - half), 100 * (centre + half)


def invert_pct(
    pct: float,
    lower: float | None,
    upper: float | None,
    c_range: tuple[float, float],
    n_range: tuple[float, float],
    n_max: int = 1_000_000,
) -> list[tuple[int, int]]:
    """Every (count, denominator) within the ranges that gives the shown percentage and
    Wilson interval."""
    n_lo = max(1, int(math.ceil(n_range[0])))
    n_hi = int(min(n_max, n_range[1]))
    if n_hi < n_lo:
        return []
    n = np.arange(n_lo, n_hi + 1, dtype=float)
    c = np.round(pct * n / 100)
    ok = np.abs(100 * c / n - pct) <= 1e-7 * max(1.0, pct)
    ok &= (c >= c_range[0]) & (c <= c_range[1])
    idx = np.flatnonzero(ok)
    if lower is not None or upper is not None:
        lo, hi = wilson(c[idx], n[idx])
        keep = np.ones(len(idx), bool)
        if lower is not None:
            keep &= np.abs(lo - lower) <= 1e-6 * max(1.0, abs(lower))
        if upper is not None:
            keep &= np.abs(hi - upper) <= 1e-6 * max(1.0, abs(upper))
        idx = idx[keep]
    return [(int(c[j]), int(n[j])) for j in idx[:100000]]


def _collect_gap(
    t: Table, out: Collected, policy: Policy, label: str, floor: int, add_known: Any
) -> None:
    f = t.frame
    has_code = "area_code" in f.columns
    is_total = np.array(
        [
            bool(TOTAL_NAME.match(str(a))) and (not has_code or _isna(code))
            for a, code in zip(
                f["area"], f["area_code"] if has_code else [None] * len(f), strict=True
            )
        ]
    )
    out.labels.add(label)
    for i in range(len(f)):
        r = f.iloc[i]
        sub = r["substance"]
        if sub not in SUBSTANCE_SETS:
            raise ParseError(f"{t.name} row {i}: substance {sub!r} is not a contract code")
        period = r["period"]
        if is_total[i]:
            same = (f["period"] == period) & (f["substance"] == sub) & ~is_total
            if "prevalence" in f.columns:
                same &= f["prevalence"].notna()
            areas = frozenset(f.loc[same, "area"])
        else:
            areas = frozenset([r["area"]])
        sel = Sel(label).plus("period", frozenset([period])).plus("area", areas)
        sel = sel.plus("dgc", SUBSTANCE_SETS[sub])
        where = f"{t.name} row {i} in_treatment"
        desc = f"{r['area']}/{period}/{sub}"
        v = r["in_treatment"]
        shown = not pd.isna(v)
        if shown:
            lo, hi = policy.shown_bounds(float(v))
            add_known(sel, lo, hi, where)
            if policy.is_small_shown(float(v)):
                out.small_shown.append(f"{where} [{desc}] = {v:g}")
        else:
            out.hidden.append(HiddenCell(sel, floor, t.name, i, "in_treatment", desc))
        # derived columns: what they say about T. not_in_treatment = D - T and
        # unmet_need_pct = 100 (D - T) / D give T (the shown, rounded T when they were
        # computed from it); the interval columns use T's upper / lower bound.
        d = r.get("prevalence")
        point: list[tuple[str, float]] = []
        if (
            "not_in_treatment" in f.columns
            and not pd.isna(r["not_in_treatment"])
            and not pd.isna(d)
        ):
            point.append(("not_in_treatment", d - r["not_in_treatment"]))
        if "unmet_need_pct" in f.columns and not pd.isna(r["unmet_need_pct"]) and not pd.isna(d):
            point.append(("unmet_need_pct", d * (1 - r["unmet_need_pct"] / 100)))
        for colname, value in point:
            k = _close(value, 1e-6)
            if k is None:
                continue
            if not shown or (policy.rounding and k != float(v)):
                add_known(sel, k, k, f"{t.name} row {i} {colname}")
                out.derived.append(
                    f"{t.name} row {i} [{desc}]: {colname} gives in_treatment = {k}"
                    + ("" if shown else " (in_treatment hidden)")
                )
        for colname, bound, side in (
            ("unmet_need_pct_lower", "prevalence_lower", "max"),
            ("unmet_need_pct_upper", "prevalence_upper", "min"),
        ):
            if colname in f.columns and not pd.isna(r[colname]) and not pd.isna(r.get(bound)):
                k = _close(r[bound] * (1 - r[colname] / 100), 1e-6)
                if k is None:
                    continue
                lo_k, hi_k = (-np.inf, k) if side == "max" else (k, np.inf)
                add_known(sel, lo_k, hi_k, f"{t.name} row {i} {colname} (T {side} = {k})")
                if not shown:
                    out.derived.append(
                        f"{t.name} row {i} [{desc}]: {colname} shown beside a "
                        f"hidden in_treatment (its {side} = {k})"
                    )
        lo_b = r.get("in_treatment_min")
        hi_b = r.get("in_treatment_max")
        if lo_b is not None and not pd.isna(lo_b) or hi_b is not None and not pd.isna(hi_b):
            lo_v = -np.inf if pd.isna(lo_b) else float(lo_b)
            hi_v = np.inf if pd.isna(hi_b) else float(hi_b)
            add_known(sel, lo_v, hi_v, f"{t.name} row {i} in_treatment_min/max")
            if not shown:
                out.derived.append(
                    f"{t.name} row {i} [{desc}]: in_treatment hidden but bounds "
                    f"{lo_v:g}..{hi_v:g} shown"
                )


def _cover(t: Table, label: str, periodic: set[str]) -> frozenset[str] | None:
    """The periods table ``t``'s cells of cohort ``label`` cover (None: every period)."""
    if t.covers is not None and label in t.covers:
        return t.covers[label]
    if t.period is not None and label in periodic:
        return frozenset([t.period])
    return None


def _collect_compare(
    t: Table,
    out: Collected,
    policy: Policy,
    periodic: set[str],
    floor: int,
    floor_only_hidden_groups: bool,
    add_known: Any,
    absent_groups_are_empty: bool,
) -> None:
    f = t.frame
    cols = list(f.columns)
    within = cols[cols.index("cohort") + 1 : cols.index("variable")]
    exclude = _exclude_mode(t)
    present: dict[str, list[Sel]] = {}
    keys = ["cohort", *within, "variable"]
    order = f[keys].astype(str).agg("\x1f".join, axis=1)
    first_seen: dict[str, list[int]] = {}
    for i, k in enumerate(order):
        first_seen.setdefault(k, []).append(i)
    seen_groups: set[tuple[str, tuple[str, ...]]] = set()
    for rows in first_seen.values():
        r0 = f.iloc[rows[0]]
        label = str(r0["cohort"])
        out.labels.add(label)
        group = Sel(label)
        wdesc = []
        for w in within:
            val = r0[w]
            val = NOT_STATED if val is None else str(val)
            wdesc.append(f"{w}={val}")
            if w == "period":
                group = group.plus("period", frozenset([val]))
            else:
                group = group.plus(_dim_of(w), category_set(w, val))
        if "period" not in within and (cover := _cover(t, label, periodic)) is not None:
            group = group.plus("period", cover)
        gkey = (label, tuple(wdesc))
        if gkey not in seen_groups:
            seen_groups.add(gkey)
            present.setdefault(label, []).append(group)
        var = str(r0["variable"])
        dim = _dim_of(var)
        cats = [str(f.iloc[i]["category"]) for i in rows]
        sets = [category_set(var, c) for c in cats]
        union = frozenset().union(*sets)
        dens = [f.iloc[i]["denominator"] for i in rows]
        shown_dens = {float(d) for d in dens if not pd.isna(d)}
        if len(shown_dens) > 1 and not policy.rounding:
            raise ModelInconsistentError(
                f"{t.name} rows {rows}: one block shows denominators {shown_dens}"
            )
        den_val = min(shown_dens) if shown_dens else None
        den_sel = group if not exclude else group.plus(dim, union)
        base = f"{t.name} {label} {' '.join(wdesc) or '(all)'} {var}"
        # every cohort is listed in every within-group with people, so a denominator may
        # be 0: hidden, it is >= 1 only where zeros are shown and the remarks say nothing
        den_floor = floor if exclude or not floor_only_hidden_groups else 1
        if DENOMINATOR_MAY_BE_ZERO.search(" ".join(t.remarks)):
            den_floor = 0
        if den_val is not None:
            lo, hi = policy.shown_bounds(den_val)
            add_known(den_sel, lo, hi, f"{t.name} row {rows[0]} denominator")
            if policy.is_small_shown(den_val):
                out.small_shown.append(f"{t.name} row {rows[0]} denominator [{base}] = {den_val:g}")
        else:
            out.hidden.append(
                HiddenCell(
                    den_sel, den_floor, t.name, rows[0], "denominator", f"{base} denominator"
                )
            )
        # the block's categories are all its people (default) or all its stated people
        if exclude:
            allowed = union | category_set(var, NOT_STATED)
            out.zeros.append(group.plus(dim, allowed, negate=True))
        else:
            out.zeros.append(group.plus(dim, union, negate=True))
        cell_floor = (
            0
            if (floor_only_hidden_groups and den_val is None)
            else (1 if floor_only_hidden_groups else floor)
        )
        counts: list[float | None] = []
        for i, cat, cset in zip(rows, cats, sets, strict=True):
            r = f.iloc[i]
            sel = group.plus(dim, cset)
            v = r["count"]
            where = f"{t.name} row {i} count"
            desc = f"{base}={cat}"
            if not pd.isna(v):
                counts.append(float(v))
                lo, hi = policy.shown_bounds(float(v))
                add_known(sel, lo, hi, where)
                if policy.is_small_shown(float(v)):
                    out.small_shown.append(f"{where} [{desc}] = {v:g}")
            else:
                counts.append(None)
                out.hidden.append(HiddenCell(sel, cell_floor, t.name, i, "count", desc))
            _compare_derived(t, f, i, r, sel, den_sel, v, den_val, policy, out, add_known, desc)
        # tests over a block with hidden counts
        out.blocks.append(Block(t.name, base, label, var, rows, cats, counts, den_val, rows[0]))
    if absent_groups_are_empty:
        for label, groups in present.items():
            scope = Sel(label)
            if "period" not in within and (cover := _cover(t, label, periodic)) is not None:
                scope = scope.plus("period", cover)
            out.zero_outside.append(
                ZeroOutside(scope, groups, f"{t.name}: groups listed for {label}")
            )
    # a test statistic shown over a hidden count
    for c in COMPARE_TESTS:
        if c not in f.columns:
            continue
        bkeys = f[[*within, "variable"]].astype(str).agg("\x1f".join, axis=1)
        for _, idx in f.groupby(bkeys, sort=False).groups.items():
            sub = f.loc[idx]
            hidden = sub["count"].isna().any() or sub["denominator"].isna().any()
            if hidden and sub[c].notna().any():
                out.derived.append(
                    f"{t.name} rows {list(idx)[:4]}...: {c} shown over a hidden count"
                )


def _compare_derived(
    t: Table,
    f: pd.DataFrame,
    i: int,
    r: pd.Series,
    sel: Sel,
    den_sel: Sel,
    v: Any,
    den_val: float | None,
    policy: Policy,
    out: Collected,
    add_known: Any,
    desc: str,
) -> None:
    """Percentages, Wilson bounds and differences shown beside a count that is hidden (or
    rounded): the count and denominator they were computed from."""
    count_exact = not pd.isna(v) and not policy.rounding
    den_exact = den_val is not None and not policy.rounding
    pct = r.get("pct")
    if (
        pd.isna(pct)
        and "diff_pp" in f.columns
        and not pd.isna(r.get("diff_pp"))
        and r.get("diff_vs")
    ):
        # pct = diff_pp + the other cohort's pct in the same place
        within_cols = list(
            f.columns[list(f.columns).index("cohort") + 1 : list(f.columns).index("variable")]
        )
        m = (
            (f["cohort"] == r["diff_vs"])
            & (f["variable"] == r["variable"])
            & (f["category"] == r["category"])
        )
        for w in within_cols:
            m &= f[w] == r[w]
        other = f.loc[m, "pct"].dropna()
        if len(other) == 1:
            pct = float(r["diff_pp"]) + float(other.iloc[0])
            out.derived.append(
                f"{t.name} row {i} [{desc}]: pct hidden but diff_pp + {r['diff_vs']}'s "
                f"pct = {pct:g}"
            )
    if pct is None or pd.isna(pct):
        if not (count_exact and den_exact) and any(
            c in f.columns and not pd.isna(r.get(c)) for c in ("pct_lower", "pct_upper")
        ):
            out.derived.append(f"{t.name} row {i} [{desc}]: interval shown beside a hidden count")
        return
    pct = float(pct)
    if count_exact and den_exact:
        return
    lower = r.get("pct_lower")
    upper = r.get("pct_upper")
    lower = None if lower is None or pd.isna(lower) else float(lower)
    upper = None if upper is None or pd.isna(upper) else float(upper)
    c_rng = policy.shown_bounds(float(v)) if not pd.isna(v) else (0.0, np.inf)
    n_rng = policy.shown_bounds(den_val) if den_val is not None else (1.0, np.inf)
    if n_rng[1] == np.inf and lower is None and upper is None:
        if count_exact and pct > 0:
            k = _close(float(v) * 100 / pct, 1e-6)
            if k is not None:
                add_known(den_sel, k, k, f"{t.name} row {i} pct (count/pct)")
                out.derived.append(
                    f"{t.name} row {i} [{desc}]: count / pct gives the hidden denominator {k}"
                )
        return
    got = invert_pct(pct, lower, upper, c_rng, n_rng)
    if not got:
        return
    if policy.rounding and not pd.isna(v) and den_val is not None and (int(v), int(den_val)) in got:
        return  # computed from the rounded count and denominator: nothing more
    cs = [c for c, _n in got]
    ns = [n for _c, n in got]
    add_known(sel, min(cs), max(cs), f"{t.name} row {i} pct/interval -> count")
    add_known(den_sel, min(ns), max(ns), f"{t.name} row {i} pct/interval -> denominator")
    out.derived.append(
        f"{t.name} row {i} [{desc}]: pct {pct:g} (with its interval) beside a "
        f"{'hidden' if pd.isna(v) or den_val is None else 'rounded'} count gives count "
        f"{min(cs)}..{max(cs)}, denominator {min(ns)}..{max(ns)}"
    )


# --------------------------------------------------------------------------------------
# The model over atoms


def _refine(
    universe: Sequence[Any], sets: Iterable[frozenset[Any]], singletons: Iterable[Any] = ()
) -> list[frozenset[Any]]:
    """The coarsest partition of ``universe`` in which every set is a union of classes."""
    sets = list({s for s in sets})
    single = set(singletons)
    sig: dict[tuple[Any, ...], list[Any]] = {}
    for u in universe:
        key = (tuple(u in s for s in sets), u if u in single else None)
        sig.setdefault(key, []).append(u)
    return [frozenset(v) for v in sig.values()]


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, a: str) -> str:
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


@dataclass
class AtomBlock:
    vars: tuple[str, ...]
    offset: int
    size: int
    pop: np.ndarray
    area: np.ndarray
    dgc: np.ndarray
    var_cls: dict[str, np.ndarray]


@dataclass
class Model:
    """Atoms, the rows of every published cell over them, and the attacker's knowledge."""

    policy: Policy
    treatment_label: str
    periodic: set[str]
    pops: list[tuple[str, int | None]]
    classes: dict[str, list[frozenset[Any]]]
    universe: dict[str, list[Any]]
    blocks: list[AtomBlock]  # blocks[0]: separator atoms y; then one per clique
    clique_of: dict[str, int]
    n: int
    ub: np.ndarray
    cons_rows: list[np.ndarray]
    cons_lo: list[float]
    cons_hi: list[float]
    cons_src: list[str]
    n_ties: int
    hidden: list[tuple[HiddenCell, np.ndarray]]
    zero_src: list[tuple[np.ndarray, str]]
    collected: Collected

    # ---- class lookups
    def class_of(self, dim: str, value: Any) -> int:
        for j, cl in enumerate(self.classes[dim]):
            if value in cl:
                return j
        for j, cl in enumerate(self.classes[dim]):
            if REST in cl:
                return j
        raise SelfCheckError(f"value {value!r} of {dim} is in no class the attacker built")

    def _cls_set(self, dim: str, values: frozenset[Any], negate: bool) -> set[int]:
        out = set()
        for j, cl in enumerate(self.classes[dim]):
            inside = cl <= values
            if not inside and cl & values:
                raise ParseError(f"internal: class {set(cl)} of {dim} straddles {set(values)}")
            if inside != negate:
                out.add(j)
        return out

    def indices(self, sel: Sel) -> np.ndarray:
        """The atoms counting ``sel`` (on separator atoms when it has no variable)."""
        allowed: dict[str, set[int]] = {}
        for dim, values, neg in sel.dims:
            s = self._cls_set(dim, values, neg)
            allowed[dim] = allowed[dim] & s if dim in allowed else s
        pops = {
            j
            for j, (lab, per) in enumerate(self.pops)
            if lab == sel.label
            and (per is None or "period" not in allowed or per in allowed["period"])
        }
        var_dims = [d for d in allowed if d not in ("period", "area", "dgc")]
        if var_dims:
            q = {self.clique_of[d] for d in var_dims}
            if len(q) != 1:
                raise ParseError(f"internal: {var_dims} are in different cliques")
            blk = self.blocks[q.pop()]
        else:
            blk = self.blocks[0]
        m = np.isin(blk.pop, list(pops))
        if "area" in allowed:
            m &= np.isin(blk.area, list(allowed["area"]))
        if "dgc" in allowed:
            m &= np.isin(blk.dgc, list(allowed["dgc"]))
        for d in var_dims:
            m &= np.isin(blk.var_cls[d], list(allowed[d]))
        return blk.offset + np.flatnonzero(m)

    def describe_atom(self, j: int) -> str:
        blk = next(b for b in self.blocks if b.offset <= j < b.offset + b.size)
        k = j - blk.offset
        lab, per = self.pops[blk.pop[k]]
        parts = [lab]
        if per is not None:
            parts.append("period=" + "+".join(sorted(map(str, self.classes["period"][per]))))
        parts.append("area=" + "+".join(sorted(map(str, self.classes["area"][blk.area[k]]))))
        parts.append(
            "dgc=" + "+".join(sorted(_fine_name(v) for v in self.classes["dgc"][blk.dgc[k]]))
        )
        for d, arr in blk.var_cls.items():
            parts.append(f"{d}=" + "+".join(sorted(map(str, self.classes[d][arr[k]]))))
        return " ".join(parts)


def build_model(
    tables: Sequence[Table],
    *,
    policy: Policy | None = None,
    treatment_label: str = "NDTMS",
    periodic_labels: Iterable[str] | None = None,
    hidden_floor: int | str = "auto",
    public_totals: Sequence[tuple[str, str | None, float]] = (),
    absent_groups_are_empty: bool = True,
    treatment_fields_required: bool = True,
) -> Model:
    """The clique model of every person behind ``tables``, with the attacker's knowledge.

    ``public_totals``: (cohort label, period or None for every period, size).
    """
    policy = policy or Policy.from_name()
    periodic = set(periodic_labels) if periodic_labels is not None else {treatment_label}
    col = Collected()
    known_raw: list[Knowledge] = []

    def add_known(sel: Sel, lo: float, hi: float, src: str) -> None:
        known_raw.append(Knowledge(sel, lo, hi, src))

    for t in tables:
        floor, only_hidden_groups = _table_floor(t, hidden_floor)
        if t.kind == "gap":
            # "zeros hidden where a group's size is hidden" does not reach a gap table
            gap_floor = 1 if only_hidden_groups else floor
            _collect_gap(t, col, policy, treatment_label, gap_floor, add_known)
        elif t.kind == "compare":
            _collect_compare(
                t,
                col,
                policy,
                periodic,
                floor,
                only_hidden_groups,
                add_known,
                absent_groups_are_empty,
            )
    for label, period, value in public_totals:
        sel = Sel(label) if period is None else Sel(label).plus("period", frozenset([period]))
        col.labels.add(label)
        add_known(
            sel, float(value), float(value), f"public total {label} {period or 'all periods'}"
        )
    col.knowledge = known_raw

    # ---- universes and classes
    all_sels: list[Sel] = [k.sel for k in known_raw] + [h.sel for h in col.hidden] + col.zeros
    for z in col.zero_outside:
        all_sels.append(z.scope)
        all_sels.extend(z.groups)
    sets: dict[str, list[frozenset[Any]]] = {}
    for s in all_sels:
        for dim, vals, _neg in s.dims:
            sets.setdefault(dim, []).append(vals)
    universe: dict[str, list[Any]] = {}
    seen_areas = sorted({a for v in sets.get("area", []) for a in v if a not in (NOT_STATED, REST)})
    universe["area"] = [*seen_areas, NOT_STATED, REST]
    seen_periods = sorted({p for v in sets.get("period", []) for p in v if p != REST})
    universe["period"] = [*seen_periods, REST]
    universe["dgc"] = list(DGC)
    for dim in sets:
        if dim in ("area", "period", "dgc"):
            continue
        seen = sorted({v for s in sets[dim] for v in s} - {NOT_STATED, REST})
        base = list(CODE_LISTS.get(dim, ()))
        extra = [v for v in seen if v not in base]
        if dim in CODE_LISTS and extra:
            raise ParseError(f"{dim}: categories {extra} are not in the contract's code list")
        universe[dim] = [*base, *extra, NOT_STATED] + ([] if dim in CODE_LISTS else [REST])
    classes: dict[str, list[frozenset[Any]]] = {}
    for dim, uni in universe.items():
        extra_sets = [DGC_MISSING] if dim == "dgc" else []
        singles = [NOT_STATED] if dim != "dgc" else []
        classes[dim] = _refine(uni, [*sets.get(dim, []), *extra_sets], singles)

    # ---- populations
    labels = sorted(col.labels)
    pops: list[tuple[str, int | None]] = []
    for lab in labels:
        if lab in periodic:
            pops.extend((lab, j) for j in range(len(classes["period"])))
        else:
            pops.append((lab, None))

    # ---- cliques
    uf = _UnionFind()
    var_sets: list[list[str]] = []
    for s in all_sels:
        vs = sorted({d for d, _v, _n in s.dims if d not in ("period", "area", "dgc")})
        if vs:
            var_sets.append(vs)
            for a in vs:
                uf.find(a)
            for a, b in zip(vs, vs[1:], strict=False):
                uf.union(a, b)
    comps: dict[str, list[str]] = {}
    for v in sorted(uf.parent):
        comps.setdefault(uf.find(v), []).append(v)
    cliques = [tuple(sorted(v)) for v in comps.values()]

    n_area, n_dgc = len(classes["area"]), len(classes["dgc"])
    pop_idx = np.arange(len(pops))
    grid = np.array(
        np.meshgrid(pop_idx, np.arange(n_area), np.arange(n_dgc), indexing="ij")
    ).reshape(3, -1)
    blocks = [AtomBlock((), 0, grid.shape[1], grid[0], grid[1], grid[2], {})]
    offset = grid.shape[1]
    clique_of: dict[str, int] = {}
    for q in cliques:
        dims = [len(pops), n_area, n_dgc, *(len(classes[v]) for v in q)]
        g = np.indices(dims).reshape(len(dims), -1)
        blk = AtomBlock(
            q, offset, g.shape[1], g[0], g[1], g[2], {v: g[3 + i] for i, v in enumerate(q)}
        )
        blocks.append(blk)
        for v in q:
            clique_of[v] = len(blocks) - 1
        offset += blk.size
    n = offset
    model = Model(
        policy=policy,
        treatment_label=treatment_label,
        periodic=periodic,
        pops=pops,
        classes=classes,
        universe=universe,
        blocks=blocks,
        clique_of=clique_of,
        n=n,
        ub=np.full(n, np.inf),
        cons_rows=[],
        cons_lo=[],
        cons_hi=[],
        cons_src=[],
        n_ties=0,
        hidden=[],
        zero_src=[],
        collected=col,
    )

    # ---- ties: each clique's atoms sum to their separator atom
    y = blocks[0]
    ystride = {
        (int(p), int(a), int(d)): j
        for j, (p, a, d) in enumerate(zip(y.pop, y.area, y.dgc, strict=True))
    }
    for blk in blocks[1:]:
        key = (blk.pop * n_area + blk.area) * n_dgc + blk.dgc
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(y.size + 1))
        for j in range(y.size):
            members = blk.offset + order[bounds[j] : bounds[j + 1]]
            model.cons_rows.append(np.concatenate([members, [j]]))
            model.cons_lo.append(0.0)
            model.cons_hi.append(0.0)
            model.cons_src.append(f"tie {blk.vars}")
    model.n_ties = len(model.cons_rows)
    del ystride

    # ---- forced zeros
    def zero(idx: np.ndarray, src: str) -> None:
        model.ub[idx] = 0.0
        model.zero_src.append((idx, src))

    if treatment_fields_required:
        for lab in labels:
            if lab != treatment_label:
                continue
            zero(
                model.indices(Sel(lab).plus("dgc", DGC_MISSING)),
                f"{lab}: drug_group and crack are required",
            )
            zero(
                model.indices(Sel(lab).plus("area", frozenset([NOT_STATED]))),
                f"{lab}: area is required",
            )
    for s in col.zeros:
        zero(model.indices(s), "categories outside a block: " + s.describe())
    for z in col.zero_outside:
        groups = [model.indices(g) for g in z.groups]
        # the groups and the scope on the same block of atoms
        blk_of = {_block_index(model, g[0]) for g in groups if len(g)}
        if len(blk_of) != 1:
            continue
        b = blocks[blk_of.pop()]
        scope = model.indices(z.scope)
        if b is not blocks[0]:
            # scope on separator atoms -> the clique's atoms over them
            sep = np.zeros(y.size, bool)
            sep[scope[scope < y.size]] = True
            inb = np.arange(b.offset, b.offset + b.size)
            key = (b.pop * n_area + b.area) * n_dgc + b.dgc
            scope = inb[sep[key]]
        covered = np.zeros(n, bool)
        for g in groups:
            covered[g] = True
        outside = scope[~covered[scope]]
        if len(outside):
            zero(outside, z.source)

    # ---- knowledge rows (merged when two cells are the same row)
    merged: dict[bytes, int] = {}
    for k in known_raw:
        idx = model.indices(k.sel)
        _add_row(model, merged, idx, k.lo, k.hi, k.source)
    for h in col.hidden:
        idx = model.indices(h.sel)
        model.hidden.append((h, idx))
        _add_row(
            model,
            merged,
            idx,
            h.floor,
            np.inf,
            f"{h.table} row {h.row} {h.column} hidden >= {h.floor}",
        )
    return model


def _block_index(model: Model, j: int) -> int:
    for i, b in enumerate(model.blocks):
        if b.offset <= j < b.offset + b.size:
            return i
    raise IndexError(j)


def _add_row(
    model: Model, merged: dict[bytes, int], idx: np.ndarray, lo: float, hi: float, src: str
) -> None:
    idx = np.unique(idx)
    key = idx.tobytes()
    if key in merged:
        r = merged[key]
        model.cons_lo[r] = max(model.cons_lo[r], lo)
        model.cons_hi[r] = min(model.cons_hi[r], hi)
        model.cons_src[r] += "; " + src
        return
    merged[key] = len(model.cons_rows)
    model.cons_rows.append(idx)
    model.cons_lo.append(lo)
    model.cons_hi.append(hi)
    model.cons_src.append(src)


# --------------------------------------------------------------------------------------
# Truth and the self check


def _norm_flag(v: Any) -> str:
    if _isna(v):
        return NOT_STATED
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    s = str(v).strip().lower()
    if s in ("true", "yes", "y", "1", "1.0"):
        return "yes"
    if s in ("false", "no", "n", "0", "0.0"):
        return "no"
    if s in ("missing", "not_stated", "not stated", "nan", "<na>", "none"):
        return NOT_STATED
    raise SelfCheckError(f"flag value {v!r} is not true/false/missing")


def _norm_crack(v: Any) -> bool | None:
    f = _norm_flag(v)
    return None if f == NOT_STATED else f == "yes"


def _norm_value(var: str, v: Any) -> Any:
    if var in FLAGS:
        return _norm_flag(v)
    if _isna(v):
        return NOT_STATED
    s = str(v).strip()
    if s.lower() in ("missing", "nan", "<na>", "none"):
        return NOT_STATED
    return s


def truth_from_records(model: Model, records: Mapping[str, pd.DataFrame]) -> np.ndarray:
    """The true atom values, counted from record-level frames (one per cohort label; a
    periodic label's frame needs a ``period`` column)."""
    x = np.zeros(model.n)
    n_area, n_dgc = len(model.classes["area"]), len(model.classes["dgc"])
    for label, frame in records.items():
        pop_of = {per: j for j, (lab, per) in enumerate(model.pops) if lab == label}
        if not pop_of:
            continue
        m = len(frame)
        if None in pop_of:
            pop = np.full(m, pop_of[None])
        else:
            if "period" not in frame.columns:
                raise SelfCheckError(f"records of {label} need a period column")
            pcls = {p: model.class_of("period", p) for p in pd.unique(frame["period"].astype(str))}
            pop = np.array([pop_of[pcls[str(p)]] for p in frame["period"].astype(str)])
        area_vals = [NOT_STATED if _isna(a) else str(a) for a in frame["area"]]
        acls = {a: model.class_of("area", a) for a in set(area_vals)}
        area = np.array([acls[a] for a in area_vals])
        dg = [None if _isna(d) else str(d).strip().lower() for d in frame["drug_group"]]
        for d in set(dg):
            if d is not None and d not in DRUG_GROUPS:
                raise SelfCheckError(f"records of {label}: drug_group {d!r} is not a contract code")
        cr = [_norm_crack(c) for c in frame["crack"]]
        dcls = {v: model.class_of("dgc", v) for v in set(zip(dg, cr, strict=True))}
        dgc = np.array([dcls[v] for v in zip(dg, cr, strict=True)])
        sep = (pop * n_area + area) * n_dgc + dgc
        x[: model.blocks[0].size] += np.bincount(sep, minlength=model.blocks[0].size)
        for blk in model.blocks[1:]:
            dims = [len(model.pops), n_area, n_dgc]
            codes = [pop, area, dgc]
            for v in blk.vars:
                vals = (
                    [_norm_value(v, a) for a in frame[v]]
                    if v in frame.columns
                    else [NOT_STATED] * m
                )
                vcls = {a: model.class_of(v, a) for a in set(vals)}
                codes.append(np.array([vcls[a] for a in vals]))
                dims.append(len(model.classes[v]))
            flat = np.ravel_multi_index(codes, dims) if m else np.zeros(0, int)
            x[blk.offset : blk.offset + blk.size] += np.bincount(flat, minlength=blk.size)
    return x


def self_check(model: Model, x: np.ndarray) -> list[str]:
    """Every constraint of ``model`` that the true atoms ``x`` break (empty: all hold)."""
    fails = []
    for idx, src in model.zero_src:
        bad = idx[x[idx] != 0]
        if len(bad):
            fails.append(
                f"forced zero false ({src}): {model.describe_atom(int(bad[0]))} = {x[bad[0]]:g}"
            )
    for r, idx in enumerate(model.cons_rows):
        val = float(x[idx[:-1]].sum() - x[idx[-1]]) if r < model.n_ties else float(x[idx].sum())
        lo, hi = model.cons_lo[r], model.cons_hi[r]
        if val < lo - 1e-9 or val > hi + 1e-9:
            fails.append(f"{model.cons_src[r]}: true value {val:g} outside {lo:g}..{hi:g}")
    return fails


# --------------------------------------------------------------------------------------
# Solving


class _Solver:
    """Min and max of sums of atoms, one LP per component of connected atoms."""

    def __init__(self, model: Model) -> None:
        self.model = model
        n, m = model.n, len(model.cons_rows)
        lens = [len(r) for r in model.cons_rows]
        rows = np.repeat(np.arange(m), lens)
        cols = np.concatenate(model.cons_rows) if m else np.zeros(0, int)
        data = np.ones(len(cols))
        # in a tie the separator atom (last entry) carries -1
        starts = np.concatenate([[0], np.cumsum(lens)])
        tie_last = starts[1 : model.n_ties + 1] - 1
        data[tie_last] = -1.0
        self.a_mat = sparse.csr_matrix((data, (rows, cols)), shape=(m, n))
        self.lo = np.array(model.cons_lo, float)
        self.hi = np.array(model.cons_hi, float)
        free = model.ub > 0
        # components: atoms linked through constraints (ignoring atoms fixed at 0)
        inc = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(m, n))
        inc = inc.multiply(free[None, :]).tocsr()
        big = sparse.bmat([[None, inc], [inc.T, None]]).tocsr()
        _, lab = connected_components(big, directed=False)
        self.cons_comp = lab[:m]
        self.atom_comp = lab[m:]
        self.free = free
        self.cache: dict[int, tuple[Any, ...]] = {}
        self.n_lp = 0

    def _comp(self, c: int) -> tuple[Any, ...]:
        if c in self.cache:
            return self.cache[c]
        atoms = np.flatnonzero((self.atom_comp == c) & self.free)
        cons = np.flatnonzero(self.cons_comp == c)
        a_mat = self.a_mat[cons][:, atoms]
        lo, hi = self.lo[cons], self.hi[cons]
        eq = lo == hi
        a_eq, b_eq = (a_mat[eq], lo[eq]) if eq.any() else (None, None)
        ub_parts, b_parts = [], []
        has_hi = ~eq & np.isfinite(hi)
        has_lo = ~eq & np.isfinite(lo) & (lo > -np.inf)
        if has_hi.any():
            ub_parts.append(a_mat[has_hi])
            b_parts.append(hi[has_hi])
        if has_lo.any():
            ub_parts.append(-a_mat[has_lo])
            b_parts.append(-lo[has_lo])
        a_ub = sparse.vstack(ub_parts).tocsr() if ub_parts else None
        b_ub = np.concatenate(b_parts) if b_parts else None
        local = {int(a): i for i, a in enumerate(atoms)}
        out = (atoms, local, a_eq, b_eq, a_ub, b_ub)
        self.cache[c] = out
        return out

    def feasible(self) -> list[str]:
        bad = []
        for c in np.unique(self.cons_comp):
            atoms, _l, a_eq, b_eq, a_ub, b_ub = self._comp(int(c))
            if len(atoms) == 0:
                for r in np.flatnonzero(self.cons_comp == c):
                    if not self.lo[r] <= 0 <= self.hi[r]:
                        bad.append(
                            f"{self.model.cons_src[r]}: only empty atoms, yet "
                            f"{self.lo[r]:g}..{self.hi[r]:g}"
                        )
                continue
            res = linprog(
                np.zeros(len(atoms)),
                A_ub=a_ub,
                b_ub=b_ub,
                A_eq=a_eq,
                b_eq=b_eq,
                bounds=(0, None),
                method="highs",
            )
            if res.status == 2:
                bad.append(f"component {c} ({len(atoms)} atoms) is infeasible")
        return bad

    def _solve(
        self, c: int, obj: np.ndarray, cap: float | None = None
    ) -> tuple[float, np.ndarray | None]:
        """min obj.x over component ``c``: (value, a minimising point or None if unbounded).
        ``cap``: an upper bound on every atom (to find far feasible points, never for a
        range)."""
        _atoms, _l, a_eq, b_eq, a_ub, b_ub = self._comp(c)
        res = linprog(
            obj, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, cap), method="highs"
        )
        self.n_lp += 1
        if res.status == 3:
            return -np.inf, None
        if res.status != 0:
            raise ModelInconsistentError(f"LP failed: {res.message}")
        return float(res.fun), np.asarray(res.x)

    def ranges(
        self,
        rows: Sequence[np.ndarray],
        safe: Any,
        full: bool = False,
        seeds: int = 4,
        need_max: Any = None,
    ) -> list[tuple[float, float, bool]]:
        """(LP min, LP max, solved) of each row (a sum of atoms).

        Feasible points found on the way (a few seeded objectives, then every solve) give
        each row an attained interval; a row whose attained interval already passes
        ``safe(low, high)`` (integers, rounded inwards) is not solved (``solved`` False: its
        true range is at least that wide) unless ``full``. ``need_max(low)``: after the
        minimum, whether the maximum matters (else the attained one is kept).
        """
        out: list[tuple[float, float, bool] | None] = [None] * len(rows)
        by_comp: dict[int, list[int]] = {}
        for i, idx in enumerate(rows):
            idx = idx[self.free[idx]]
            if len(idx) == 0:
                out[i] = (0.0, 0.0, True)
                continue
            by_comp.setdefault(int(self.atom_comp[idx[0]]), []).append(i)
        rng = np.random.default_rng(20250)
        for c, members in by_comp.items():
            atoms, local, *_ = self._comp(c)
            data_r, data_c = [], []
            for r, i in enumerate(members):
                idx = rows[i][self.free[rows[i]]]
                data_c.extend(local[int(j)] for j in idx)
                data_r.extend([r] * len(idx))
            c_mat = sparse.csr_matrix(
                (np.ones(len(data_c)), (data_r, data_c)), shape=(len(members), len(atoms))
            )
            att_lo = np.full(len(members), np.inf)
            att_hi = np.full(len(members), -np.inf)

            def seen(
                x: np.ndarray | None, c_mat: Any = c_mat, lo: Any = att_lo, hi: Any = att_hi
            ) -> None:
                if x is not None:
                    v = c_mat @ x
                    np.minimum(lo, v, out=lo)
                    np.maximum(hi, v, out=hi)

            if not full:
                # far-apart feasible points: every row low, every row high (atoms capped so
                # the LP is bounded; the point is still feasible), and random mixes
                total = np.asarray(c_mat.sum(axis=0)).ravel()
                objs = [total, -total]
                for _ in range(seeds):
                    w = rng.uniform(0, 1, len(atoms))
                    objs += [w * total, -w * total]
                for obj in objs:
                    _fun, x = self._solve(c, obj, cap=None if obj.min() >= 0 else 1e6)
                    seen(x)
            for r, i in enumerate(members):
                lo_i = math.ceil(att_lo[r] - 1e-6) if np.isfinite(att_lo[r]) else None
                hi_i = math.floor(att_hi[r] + 1e-6) if np.isfinite(att_hi[r]) else None
                if not full and lo_i is not None and hi_i is not None and safe(lo_i, hi_i):
                    out[i] = (float(att_lo[r]), float(att_hi[r]), False)
                    continue
                obj = c_mat[r].toarray().ravel()
                mn, x1 = self._solve(c, obj)
                seen(x1)
                if need_max is not None and not full and not need_max(math.ceil(mn - 1e-6)):
                    out[i] = (mn, float(att_hi[r]), False)
                    continue
                neg, x2 = self._solve(c, -obj)
                seen(x2)
                out[i] = (mn, -neg if np.isfinite(neg) else np.inf, True)
        return [o if o is not None else (0.0, 0.0, True) for o in out]


# --------------------------------------------------------------------------------------
# Text side channels

TEXT_LEAKS = [
    (
        re.compile(
            r"\d[\d,]*\s*(?:count\(s\)|counts?|cells?|values?)\s+of\s+1\s*(?:\.\.|-|–|to)\s*\d+",
            re.I,
        ),
        "how many hidden counts are small (primary)",
    ),
    (re.compile(r"\band\s+\d[\d,]*\s+more\b", re.I), "how many hidden counts are complements"),
    (
        re.compile(r"\bn_(?:primary|secondary|complement\w*)\b", re.I),
        "primary/secondary counts in metadata",
    ),
    (
        re.compile(r"\b\d[\d,]*\s+(?:primary|secondary|complementary)\b", re.I),
        "a number of primary/secondary cells",
    ),
    (
        re.compile(r"\"(?:primary|secondary|primaries|complements?)\"\s*:", re.I),
        "which cells are primary/secondary in metadata",
    ),
]
INPUT_ROWS = [
    (re.compile(r"input=\S+\s+rows=\d", re.I), "input row counts on the terminal"),
    (
        re.compile(r"\b\d[\d,]*\s+rows\s+(?:released|read|removed|in)\b", re.I),
        "input row counts in text",
    ),
]


def scan_texts(texts: Mapping[str, str]) -> list[str]:
    """Published text (manifest, metadata, remarks, terminal output) that says how many
    hidden cells are primary, or a cohort's size."""
    out = []
    for name, text in texts.items():
        for pat, what in [*TEXT_LEAKS, *INPUT_ROWS]:
            for m in pat.finditer(text or ""):
                lo = max(0, m.start() - 50)
                snippet = text[lo : m.end() + 30].replace("\n", " ")
                out.append(f"{name}: {what}: ...{snippet}...")
                break
    return out


def scan_manifest(manifest: Mapping[str, Any] | None) -> list[str]:
    """Manifest facts that are not publishable: input row counts, record-level outputs."""
    if not manifest:
        return []
    out = []
    inputs = manifest.get("inputs")
    if isinstance(inputs, dict):
        for name, spec in inputs.items():
            if isinstance(spec, dict) and "rows" in spec:
                out.append(f"manifest: input {name} has rows={spec['rows']}")
    for o in manifest.get("outputs", []) or []:
        cols = set(o.get("columns", []) or [])
        if o.get("table") == "extract" or (cols >= RECORD_COLUMNS and "count" not in cols):
            out.append(
                f"manifest: record-level output {o.get('path')} ({o.get('rows')} rows) published"
            )
    return out


def manifest_totals(
    manifest: Mapping[str, Any] | None, treatment_label: str = "NDTMS"
) -> list[tuple[str, str | None, float]]:
    """Cohort sizes an attacker can read from a manifest: (label, period, size)."""
    if not manifest:
        return []
    out: list[tuple[str, str | None, float]] = []
    period = manifest.get("period")
    config = manifest.get("config") or {}
    label_of: dict[str, set[str]] = {}
    for c in config.get("compare", []) or []:
        for lab, inp in (c.get("cohorts") or {}).items():
            label_of.setdefault(inp, set()).add(lab)
    gap = config.get("gap") or {}
    if gap.get("treatment"):
        label_of.setdefault(gap["treatment"], set()).add(treatment_label)
    for name, spec in (manifest.get("inputs") or {}).items():
        if (
            isinstance(spec, dict)
            and "rows" in spec
            and spec.get("kind") in ("cohort", "treatment")
        ):
            for lab in label_of.get(name, ()):
                out.append((lab, None, float(spec["rows"])))
    for o in manifest.get("outputs", []) or []:
        if o.get("table") == "extract" and "rows" in o and period:
            for lab in label_of.get("extract", {treatment_label}):
                out.append((lab, period, float(o["rows"])))
    for r in manifest.get("remarks", []) or []:
        m = re.search(r"extract:\s*([\d,]+)\s+rows released", str(r))
        if m and period:
            for lab in label_of.get("extract", {treatment_label}):
                out.append((lab, period, float(m.group(1).replace(",", ""))))
    return sorted(set(out), key=str)


# --------------------------------------------------------------------------------------
# The attack


@dataclass
class Report:
    policy: Policy
    hidden: list[Finding]
    exact: list[Finding]
    narrow: list[Finding]
    group_disclosures: list[str]
    atoms_small: list[str]
    small_shown: list[str]
    derived: list[str]
    text_leaks: list[str]
    n_atoms: int
    n_constraints: int
    seconds: float
    truth_checked: bool
    n_lp: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.exact
            or self.narrow
            or self.group_disclosures
            or self.small_shown
            or self.derived
            or self.text_leaks
        )

    def leaks(self) -> list[str]:
        """What the attacker found that the contract forbids, one sentence each (empty:
        safe)."""
        out = []
        if self.exact:
            out.append(f"{len(self.exact)} hidden count(s) worked out exactly")
        if self.narrow:
            out.append(f"{len(self.narrow)} hidden count(s) narrowed below K={self.policy.width}")
        if self.group_disclosures:
            out.append(f"{len(self.group_disclosures)} group disclosure(s)")
        if self.atoms_small:
            out.append(f"{len(self.atoms_small)} small group(s) pinned")
        if self.small_shown:
            out.append(f"{len(self.small_shown)} small count(s) shown")
        return out

    def summary(self, limit: int = 12) -> str:
        lines = [
            f"attacker ({self.policy.name}, K={self.policy.width}): {len(self.hidden)} hidden "
            f"count(s), {len(self.exact)} exact, {len(self.narrow)} narrowed below K, "
            f"{len(self.group_disclosures)} group disclosure(s), {len(self.atoms_small)} small "
            f"atom(s), {len(self.small_shown)} small shown, {len(self.derived)} derived, "
            f"{len(self.text_leaks)} text leak(s); {self.n_atoms} atoms, {self.n_constraints} "
            f"constraints, {self.n_lp} LPs, {self.seconds:.1f} s, "
            f"truth {'checked' if self.truth_checked else 'not checked'}"
        ]
        for title, items in (
            ("exact", self.exact),
            ("narrow", self.narrow),
            ("group disclosure", self.group_disclosures),
            ("small atom", self.atoms_small),
            ("small shown", self.small_shown),
            ("derived", self.derived),
            ("text", self.text_leaks),
        ):
            for it in list(items)[:limit]:
                lines.append(f"  {title}: {it}")
            if len(items) > limit:
                lines.append(f"  {title}: ... and {len(items) - limit} more")
        return "\n".join(lines)


def attack(
    tables: Sequence[Table],
    *,
    policy: Policy | None = None,
    treatment_label: str = "NDTMS",
    periodic_labels: Iterable[str] | None = None,
    hidden_floor: int | str = "auto",
    public_totals: Sequence[tuple[str, str | None, float]] = (),
    manifest: Mapping[str, Any] | None = None,
    use_manifest: bool = False,
    absent_groups_are_empty: bool = True,
    treatment_fields_required: bool = True,
    check_atoms: bool = True,
    full_ranges: bool = False,
    truth: Mapping[str, pd.DataFrame] | None = None,
    texts: Mapping[str, str] | None = None,
    added: Mapping[str, Sequence[frozenset[str]]] | None = None,
) -> Report:
    """Attack ``tables`` (published together). ``truth``: the true records per cohort label
    for the self check (raises :class:`SelfCheckError` when the model is wrong for them).
    ``added``: per cohort label, sets of its periods whose people are a group of their own
    (the people a grown cohort file added, as waves): each shown cell of that label
    restricted to them is a count of that group, reported with the small atoms when it is
    pinned within 1..K."""
    t0 = time.perf_counter()
    policy = policy or Policy.from_name()
    totals = list(public_totals)
    if use_manifest:
        totals += manifest_totals(manifest, treatment_label)
    model = build_model(
        tables,
        policy=policy,
        treatment_label=treatment_label,
        periodic_labels=periodic_labels,
        hidden_floor=hidden_floor,
        public_totals=totals,
        absent_groups_are_empty=absent_groups_are_empty,
        treatment_fields_required=treatment_fields_required,
    )
    x_true = None
    if truth is not None:
        x_true = truth_from_records(model, truth)
        fails = self_check(model, x_true)
        if fails:
            raise SelfCheckError(
                f"{len(fails)} constraint(s) the attacker built are false for the true records:\n  "
                + "\n  ".join(fails[:40])
                + (
                    "\n(a false 'hidden >= 1' means the tables hide a true zero where zeros are "
                    "shown and their remarks do not say a hidden count may be 0: CONTRACT 4.3's "
                    "attacker reads such a count as >= 1; hidden_floor=0 attacks anyway)"
                    if any("hidden >= 1" in f for f in fails)
                    else ""
                )
            )
    solver = _Solver(model)
    bad = solver.feasible()
    if bad:
        raise ModelInconsistentError("; ".join(bad))
    width = policy.width
    findings: list[Finding] = []
    by_key: dict[bytes, Finding] = {}
    hidden_range: dict[tuple[str, int, str], Finding] = {}
    uniq: dict[bytes, np.ndarray] = {}
    for _h, idx in model.hidden:
        u = np.unique(idx)
        uniq.setdefault(u.tobytes(), u)
    keys = list(uniq)
    got = solver.ranges([uniq[k] for k in keys], lambda lo, hi: hi - lo >= width, full=full_ranges)
    rng_of = dict(zip(keys, got, strict=True))
    for h, idx in model.hidden:
        key = np.unique(idx).tobytes()
        mn, mx, solved = rng_of[key]
        lo = math.ceil(mn - 1e-6)
        hi = math.floor(mx + 1e-6) if math.isfinite(mx) else math.inf
        true = float(x_true[idx].sum()) if x_true is not None else None
        fnd = Finding(h.table, h.row, h.column, h.label, lo, hi, mn, mx, true, solved=solved)
        hidden_range[(h.table, h.row, h.column)] = by_key.get(key, fnd)
        if key in by_key:
            by_key[key].also.append(f"{h.table} row {h.row} {h.column}")
            continue
        by_key[key] = fnd
        findings.append(fnd)
    exact = [f for f in findings if f.solved and f.high == f.low]
    narrow = [f for f in findings if f.solved and f.high != f.low and f.high - f.low < width]

    # group disclosure
    groups: list[str] = []
    group_seen: set[str] = set()
    for b in model.collected.blocks:
        den_small = b.denominator is None or (1 <= b.denominator <= policy.k)
        if not den_small or len(b.categories) < 2:
            continue

        def zero_like(i: int, v: float | None, table: str = b.table) -> bool:
            if v is not None:
                return v == 0
            fr = hidden_range.get((table, i, "count"))
            return fr is not None and fr.high == 0

        nonzero = [
            c for i, c, v in zip(b.rows, b.categories, b.counts, strict=True) if not zero_like(i, v)
        ]
        if len(nonzero) == 1 and re.sub(r"\.(csv|parquet)\b", "", b.label) not in group_seen:
            group_seen.add(re.sub(r"\.(csv|parquet)\b", "", b.label))
            groups.append(
                f"{b.label}: every category but {nonzero[0]!r} is 0 and the group size is "
                f"{'hidden' if b.denominator is None else b.denominator}"
            )

    atoms_small: list[str] = []
    if check_atoms:
        y = model.blocks[0]
        js = [j for j in range(y.size) if model.ub[j] != 0]

        def atom_safe(lo: int, hi: int) -> bool:
            return lo <= 0 or hi - lo >= width

        got = solver.ranges(
            [np.array([j]) for j in js],
            atom_safe,
            full=full_ranges,
            need_max=lambda lo: 1 <= lo <= policy.k,
        )
        for j, (mn, mx, _solved) in zip(js, got, strict=True):
            lo = math.ceil(mn - 1e-6)
            hi = math.floor(mx + 1e-6) if math.isfinite(mx) else math.inf
            if 1 <= lo <= policy.k and hi - lo < width:
                true = "" if x_true is None else f" (true {x_true[j]:g})"
                atoms_small.append(f"{model.describe_atom(j)}: {lo}..{hi}{true}")

    atoms_small += _added_pinned(model, solver, policy, added or {}, x_true, full_ranges)
    text_leaks = scan_texts(texts or {}) + scan_manifest(manifest)
    return Report(
        policy=policy,
        hidden=findings,
        exact=exact,
        narrow=narrow,
        group_disclosures=groups,
        atoms_small=atoms_small,
        small_shown=model.collected.small_shown,
        derived=model.collected.derived,
        text_leaks=text_leaks,
        n_atoms=model.n,
        n_constraints=len(model.cons_rows),
        seconds=time.perf_counter() - t0,
        truth_checked=truth is not None,
        n_lp=solver.n_lp,
    )


def _added_pinned(
    model: Model,
    solver: _Solver,
    policy: Policy,
    added: Mapping[str, Sequence[frozenset[str]]],
    x_true: np.ndarray | None,
    full: bool,
) -> list[str]:
    """Every shown cell of a label in ``added`` restricted to one of its groups of periods
    (the people a grown cohort added), where the attacker pins it within 1..K."""
    groups: dict[bytes, tuple[np.ndarray, str]] = {}
    for k in model.collected.knowledge:
        for periods in added.get(k.sel.label, ()):
            sel = k.sel.plus("period", periods)
            idx = np.unique(model.indices(sel))
            if len(idx):
                groups.setdefault(idx.tobytes(), (idx, f"{sel.describe()} ({k.source})"))
    found = list(groups.values())
    got = solver.ranges(
        [idx for idx, _ in found],
        lambda lo, hi: lo <= 0 or hi - lo >= policy.width,
        full=full,
        need_max=lambda lo: 1 <= lo <= policy.k,
    )
    out = []
    for (idx, desc), (mn, mx, _solved) in zip(found, got, strict=True):
        lo = math.ceil(mn - 1e-6)
        hi = math.floor(mx + 1e-6) if math.isfinite(mx) else math.inf
        if 1 <= lo <= policy.k and hi - lo < policy.width:
            true = "" if x_true is None else f" (true {x_true[idx].sum():g})"
            out.append(f"people added: {desc}: {lo}..{hi}{true}")
    return out


def policy_from_manifest(manifest: Mapping[str, Any] | None) -> Policy:
    """The disclosure policy a manifest states (``policy: {name, k}`` or ``disclosure:
    {policy, k}``); K3 when it says nothing."""
    m = manifest or {}
    pol = m.get("policy")
    if isinstance(pol, dict):
        return Policy.from_name(pol.get("name"), pol.get("k"))
    d = m.get("disclosure") or {}
    if isinstance(pol, str):
        return Policy.from_name(pol, d.get("k"))
    return Policy.from_name(d.get("policy"), d.get("k"))


def attack_publication(pub: Publication, **kwargs: Any) -> Report:
    """``attack`` on everything in a :class:`Publication` (its manifest and text too)."""
    texts = dict(pub.texts)
    texts.update(kwargs.pop("texts", None) or {})
    manifest = kwargs.pop("manifest", None) or pub.manifest
    if "policy" not in kwargs:
        kwargs["policy"] = policy_from_manifest(manifest)
    rep = attack(pub.tables, manifest=manifest, texts=texts, **kwargs)
    rep.text_leaks.extend(f"record-level file published: {p.name}" for p in pub.record_files)
    return rep
