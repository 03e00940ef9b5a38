"""The ``unmetneed`` command line: parse -> call the library -> render -> exit code.

Each command lives in its own module and registers itself on the shared app; heavy
libraries are imported inside the commands so ``unmetneed --help`` starts fast.
"""

from __future__ import annotations

from unmetneed.cli import (
    anonymise,  # noqa: F401  (registers the command)
    audit,  # noqa: F401  (registers the command)
    chart,  # noqa: F401  (registers the command)
    compare,  # noqa: F401  (registers the command)
    gap,  # noqa: F401  (registers the command)
    run,  # noqa: F401  (registers the command)
    suppress,  # noqa: F401  (registers the command)
    validate,  # noqa: F401  (registers the command)
)
from unmetneed.cli._app import app


def main() -> None:
    """Entry point of the ``unmetneed`` console script."""
    app()


__all__ = ["app", "main"]
