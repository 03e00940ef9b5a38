"""Options, results and constants of the gap table (GapOptions, GapResult, columns)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from unmetneed.disclosure import Policy
from unmetneed.errors import Mention, OptionError

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
    where the table has it. ``periods_noted``: remarks on how the periods' spellings were
    read (a bare year ``2019`` is 2019/20: ``spelling.period_notes``).
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
            raise OptionError("policy", self.policy, str(exc)) from None

    def check(self) -> None:
        """An :class:`OptionError` for the first option out of range (before any work)."""
        if self.prevalence_years < 1:
            raise OptionError("prevalence_years", self.prevalence_years, "use 1 or more")
        if self.k < 0:
            raise OptionError("k", self.k, "use 0 (no suppression) or more")
        bad = [s for s in self.substances if s not in SUBSTANCES]
        if bad:
            raise OptionError(
                "substances", bad[0], f"use one of {', '.join(SUBSTANCES)}", quoted=True
            )
        if self.suppressed_max is not None and self.suppressed_max < 1:
            raise OptionError("suppressed_max", self.suppressed_max, "use 1 or more")
        if self.total is not None and not self.total.strip():
            problem = ("give the total row a name, e.g. ", Mention("total", "England"))
            raise OptionError("total", None, problem)

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
