"""The Typer app every command registers on, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from unmetneed.errors import UnmetneedError

app = typer.Typer(
    name="unmetneed",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold personal data
    add_completion=False,
    help=(
        "Treatment gap and cohort tables for people who use opiates and/or crack cocaine "
        "and for dependent drinkers in England, with small-cell suppression. "
        "Exit codes: 0 success, 2 bad command or unreadable input, 3 input failed "
        "validation, 4 a disclosure check failed, 1 a bug."
    ),
)

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Run a command body, turning domain errors into their message on stderr and exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from unmetneed.cli import render as report

        try:
            result = fn(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows here, not in click's exit (exit 1)
            return result
        except UnmetneedError as exc:
            report.error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            print("Interrupted: nothing was written.", file=sys.stderr)
            raise typer.Exit(130) from None
        except BrokenPipeError:  # output piped into `head`: the reader has what it wanted
            _quiet_stdout()
            raise typer.Exit(0) from None

    return wrapper  # type: ignore[return-value]


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so flushing at exit into a closed pipe says nothing."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _flags_as_flags() -> None:
    """Show on/off options as flags in --help (``--strict``, not ``--strict <bool>``):
    typer prints every option's type, a flag's included."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display(self: TyperOption, ctx: Any) -> str | None:
        return "" if self.is_flag and self.metavar is None else shown(self, ctx)

    TyperOption.display_type_rich = display  # type: ignore[method-assign]


_flags_as_flags()


def _version(value: bool) -> None:
    if value:
        from unmetneed.version import tool_version

        typer.echo(f"unmetneed {tool_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Treatment gap and cohort tables with small-cell suppression."""


Release = typer.Option(
    "--release",
    help="a release folder (restricted): protect this table together with everything "
    "already published into it, and record it there",
)
Public = typer.Option(
    "--public",
    help="a total published anyway, never suppressed: COLUMN=VALUE pairs joined by commas "
    "naming its rows, e.g. 'area=Eastbury' (repeatable)",
)
ZerosDisclosive = typer.Option(
    "--zeros-disclosive", help="treat zeros as small counts too (suppress them)"
)


def release_note(release: Any) -> None:
    """Say on stderr, once, that a table without ``--release`` is protected on its own."""
    if release is None:
        from unmetneed.cli import render as report
        from unmetneed.disclosure.publish import say_alone

        say_alone(report.info)


Layout = typer.Option(
    "--layout",
    help="read an input as a published layout: ndtms-viewit-england, ndtms-viewit-la, "
    "phe-alcohol, fingertips, or none (its own column names); INPUT=NAME for one input "
    "(e.g. prevalence=phe-alcohol). Default: recognised by the header",
)
Sheet = typer.Option(
    "--sheet", help="Excel sheet to read (default: the first); INPUT=SHEET for one input"
)
HeaderRow = typer.Option(
    "--header-row",
    help="the header's line (1-based) where title rows sit above it (default: found); "
    "INPUT=N for one input",
)

LastRow = typer.Option(
    "--last-row",
    help="the table's last line (1-based): notes below it are not read; INPUT=N for one input",
)


def reading(
    inputs: tuple[str, ...],
    layout: list[str] | None,
    sheet: list[str] | None,
    header_row: list[str] | None,
    last_row: list[str] | None = None,
) -> dict[str, Any]:
    """``--layout``, ``--sheet``, ``--header-row`` and ``--last-row`` (each ``VALUE`` for
    every input or ``INPUT=VALUE``) as an ``InputOptions`` per input."""
    from unmetneed.inputs.load import InputOptions
    from unmetneed.spelling import line_number, per_input

    layouts = per_input(layout, inputs, "layout")
    sheets = per_input(sheet, inputs, "sheet")
    rows = per_input(header_row, inputs, "header_row")
    lasts = per_input(last_row, inputs, "last_row")
    return {
        name: InputOptions(
            layouts[name],
            sheets[name],
            line_number(rows[name], "header_row"),
            last_row=line_number(lasts[name], "last_row"),
        )
        for name in inputs
    }
