"""unmetneed: the treatment gap for opiate/crack users and dependent drinkers in England.

The library is the product; the ``unmetneed`` command is one client of it. Every command
is one call in :mod:`unmetneed.api` (``gap``, ``compare``, ``suppress_table``, ``audit``,
``anonymise``, ``run``), on files or DataFrames.
"""

from __future__ import annotations

__all__ = ["__version__", "api"]


def __getattr__(name: str) -> str:
    """``__version__`` looked up when asked for (importlib.metadata costs 0.07 s to import)."""
    if name != "__version__":
        raise AttributeError(f"module 'unmetneed' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("unmetneed")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0+unknown"
