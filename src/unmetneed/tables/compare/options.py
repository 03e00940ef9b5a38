"""What a comparison tabulates and how (``CompareOptions``), and the table's columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from unmetneed.disclosure import Policy
from unmetneed.errors import Mention, OptionError, UsageError
from unmetneed.tables.compare.stats import RESAMPLES, SEED

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

    def check(self) -> None:
        """An option error for what cannot be compared, before any work: no variable, one
        both in ``by`` and ``within``, a column of the table itself, a negative ``k``, age
        bands that are not whole 5-year bands."""
        check_columns(self.variables, self.within_columns)
        if self.k < 0:
            raise OptionError("k", self.k, "use 0 or more (0 turns suppression off)")
        if self.age_bands:
            from unmetneed.inputs.variables import parse_age_bands

            parse_age_bands(self.age_bands)

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


def check_columns(variables: tuple[str, ...], within: tuple[str, ...]) -> None:
    """A usage error unless there is a variable, none is also a within column, and none is
    a column of the table itself."""
    if not variables:
        raise UsageError(
            ("give at least one variable to compare (", Mention("by", "VARIABLE"), ")")
        )
    both = sorted(set(variables) & set(within))
    if both:
        in_both = (f"{', '.join(both)} is in both ", Mention("by"), " and ", Mention("within"))
        raise UsageError((*in_both, "; use it in one"))
    reserved = {"cohort"} | set(PINNED_TAIL) | set(EXTRA_COLUMNS)
    bad = sorted((set(variables) | set(within)) & reserved)
    if bad:
        raise UsageError(f"{', '.join(bad)} cannot be compared or split by (a table column)")
