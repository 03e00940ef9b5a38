"""The installed tool's version, as written into every output's metadata and manifest."""

from __future__ import annotations


def tool_version() -> str:
    """The package version (``0.0.0+unknown`` from a source tree that is not installed);
    looked up when asked for: importlib.metadata costs 0.07 s to import."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("unmetneed")
    except PackageNotFoundError:
        return "0.0.0+unknown"
