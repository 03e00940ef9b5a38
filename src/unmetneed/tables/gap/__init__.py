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

from unmetneed.tables.gap.benchmark import fingertips_table
from unmetneed.tables.gap.build import GapBuild, compute, compute_files, prepare
from unmetneed.tables.gap.inputs import route_columns
from unmetneed.tables.gap.options import (
    AREA_NOT_STATED,
    COLUMNS,
    DERIVED,
    EXTRA_COLUMNS,
    RECORD_COLUMNS,
    GapOptions,
    GapResult,
    name_key,
    unmet_need_pct,
)

__all__ = [
    "AREA_NOT_STATED",
    "COLUMNS",
    "DERIVED",
    "EXTRA_COLUMNS",
    "RECORD_COLUMNS",
    "GapBuild",
    "GapOptions",
    "GapResult",
    "compute",
    "compute_files",
    "fingertips_table",
    "name_key",
    "prepare",
    "route_columns",
    "unmet_need_pct",
]
