"""Cohort comparisons (``compare``): people in treatment versus outside it, with statistics."""

# Each public name is imported from its module when first asked for (PEP 562), so importing
# one module of the package (e.g. ``stats``, numpy only) does not load the others.
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from unmetneed.tables.compare.cohorts import combine_cohorts, require_columns, unlabelled
    from unmetneed.tables.compare.groups import Groups, count_by_group, group_rows
    from unmetneed.tables.compare.inputs import (
        COHORT_KINDS,
        counts_as_people,
        is_counts_file,
        load_cohort_file,
        load_cohorts,
    )
    from unmetneed.tables.compare.options import (
        DISABILITY_COLUMNS,
        CompareOptions,
        expand_columns,
    )
    from unmetneed.tables.compare.table import (
        CompareBuild,
        Comparison,
        Tally,
        compare,
        p_value_bound,
        prepare,
        tally_frames,
    )
    from unmetneed.tables.compare.wide_view import wide, wide_suppressed

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
    "prepare",
    "require_columns",
    "source_columns",
    "substance_cohort_codes",
    "tally_frames",
    "unlabelled",
    "wide",
    "wide_suppressed",
]

# Where each public name lives (module -> names); ``__all__`` lists the same names.
HOMES: dict[str, tuple[str, ...]] = {
    "unmetneed.inputs.variables": (
        "FLAG_CATEGORIES",
        "SUBSTANCE_COHORTS",
        "AgeBands",
        "Coded",
        "code_variable",
        "derive_substance_cohort",
        "parse_age_bands",
        "source_columns",
        "substance_cohort_codes",
    ),
    "unmetneed.tables.compare.cohorts": ("combine_cohorts", "require_columns", "unlabelled"),
    "unmetneed.tables.compare.groups": ("Groups", "count_by_group", "group_rows"),
    "unmetneed.tables.compare.inputs": (
        "COHORT_KINDS",
        "counts_as_people",
        "is_counts_file",
        "load_cohort_file",
        "load_cohorts",
    ),
    "unmetneed.tables.compare.options": ("DISABILITY_COLUMNS", "CompareOptions", "expand_columns"),
    "unmetneed.tables.compare.table": (
        "CompareBuild",
        "Comparison",
        "Tally",
        "compare",
        "p_value_bound",
        "prepare",
        "tally_frames",
    ),
    "unmetneed.tables.compare.wide_view": ("wide", "wide_suppressed"),
}
_HOME_OF = {name: module for module, names in HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module (``HOMES``) when first asked for."""
    if name not in _HOME_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_HOME_OF[name]), name)
    globals()[name] = value  # asked once: later lookups find it without __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
