"""unmetneed: the treatment gap for opiate/crack users and dependent drinkers in England.

The library is the product; the ``unmetneed`` command is one client of it. Every command
is one call, on files or DataFrames: ``unmetneed.gap``, ``compare``, ``suppress_table``,
``audit``, ``anonymise``, ``validate``, ``chart``, ``run`` (defined in :mod:`unmetneed.api`,
loaded when first used; ``api.explain`` and ``api.anonymise_plan`` besides). The packages
show the parts: ``inputs`` (one input engine), ``spelling`` (options as people write them,
read as typed values), ``tables`` (gap and compare), ``extract`` (anonymise),
``disclosure`` (suppression, releases, audit), ``outputs`` (files, workbook, charts,
report), ``runs`` (config, pipeline, run log) and ``cli`` (the command line: parse, call,
render).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unmetneed.api import anonymise, audit, chart, compare, gap, run, suppress_table, validate

__all__ = [
    "__version__",
    "anonymise",
    "api",
    "audit",
    "chart",
    "compare",
    "gap",
    "run",
    "suppress_table",
    "validate",
]
API = ("gap", "compare", "suppress_table", "audit", "anonymise", "validate", "chart", "run")


def __getattr__(name: str) -> Any:
    """The API functions and ``__version__``, looked up when first asked for (importing
    them up front would slow every command; importlib.metadata alone costs 0.07 s)."""
    if name in API:
        from unmetneed import api

        return getattr(api, name)
    if name != "__version__":
        raise AttributeError(f"module 'unmetneed' has no attribute {name!r}")
    from unmetneed.version import tool_version

    return tool_version()
