"""Terminal rendering: the only module that imports rich.

Tables go to stdout; errors, warnings and progress go to stderr. Colour and progress bars
appear only when the stream is a terminal, so cron mail stays plain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from unmetneed.errors import InputsError, Mention, UnmetneedError, ValidationError

MAX_FAILURES_SHOWN = 20
SUPPRESSED = "*"

# The flags whose name is not the option's (``--k`` is ``k``, ``--prevalence-years`` is
# ``prevalence_years``): one flag, repeated, gives a tuple the library names in the plural.
FLAGS = {
    "periods": "--period",
    "substances": "--substance",
    "cohorts": "--cohort",
    "columns": "--column",
    "prevalence_columns": "--prevalence-column",
}


def flag(option: str) -> str:
    """The command line's flag for an option: ``prevalence_years`` -> ``--prevalence-years``."""
    return FLAGS.get(option, "--" + option.replace("_", "-"))


def spelling(mention: Mention) -> str:
    """An option as the command line names it: ``--k 5``, ``--period '2019'``, ``--treatment``."""
    shown = mention.shown_value()
    return f"{flag(mention.option)} {shown}" if mention.value is not None else flag(mention.option)


PIPE_WIDTH = 240  # columns of a table written to a pipe or file (no terminal to fit)


class _PipeConsole(Console):
    """A console whose closed pipe (output piped into ``head``) is a BrokenPipeError for
    the command to end quietly on, not rich's own exit 1."""

    def on_broken_pipe(self) -> None:
        """Stop writing; let the command's wrapper end it (exit 0)."""
        self.quiet = True
        raise BrokenPipeError


def stdout() -> Console:
    """A console on stdout; piped or redirected, wide enough that no cell is cut."""
    console = _PipeConsole(soft_wrap=True, highlight=False)
    if not console.is_terminal:
        console = _PipeConsole(soft_wrap=True, highlight=False, width=PIPE_WIDTH)
    return console


def stderr() -> Console:
    """A console on stderr, plain when stderr is not a terminal."""
    return Console(stderr=True, soft_wrap=True, highlight=False)


def error(exc: UnmetneedError) -> None:
    """Print an error a person can act on; for validation, every failure (capped at 20)."""
    err = stderr()
    err.print(f"Error: {exc.text(spelling)}", markup=False)
    hint = exc.hint_text(spelling)
    if isinstance(exc, InputsError):
        for name, problem in exc.problems:
            err.print(f"  input {name}: {problem.text(spelling)}", markup=False)
            if isinstance(problem, ValidationError):
                _failures(err, problem, indent="    ")
    elif isinstance(exc, ValidationError):
        _failures(err, exc)
        if hint:
            err.print(hint, markup=False)
        err.print("Nothing was written. Use --failures-out FILE.csv to save every failure.")
    elif hint:
        err.print(hint, markup=False)


def save_failures(exc: UnmetneedError, path: Any) -> None:
    """Every failure of a validation error to ``path`` (``--failures-out``) as CSV, the
    rules naming options as the command line does; nothing when ``path`` is None."""
    if path is not None and isinstance(exc, ValidationError):
        from unmetneed.outputs.write import write_failures

        write_failures([f.spelled_as(spelling) for f in exc.failures], path)


def _failures(err: Console, exc: ValidationError, indent: str = "  ") -> None:
    """A validation error's failures, one a line, capped at MAX_FAILURES_SHOWN."""
    for failure in exc.failures[:MAX_FAILURES_SHOWN]:
        err.print(f"{indent}{failure.describe(spelling)}", markup=False)
    rest = len(exc.failures) - MAX_FAILURES_SHOWN
    if rest > 0:
        err.print(f"{indent}... and {rest} more", markup=False)


def warn(message: str) -> None:
    """A warning on stderr (e.g. suppression turned off with --k 0)."""
    stderr().print(f"Warning: {message}", markup=False)


def info(message: str, *, quiet: bool = False) -> None:
    """A plain progress or summary line on stderr, unless quiet."""
    if not quiet:
        stderr().print(message, markup=False)


def cell(value: Any, *, digits: int = 1, suppressed: bool = False) -> str:
    """One value as shown in a terminal table: ``*`` when suppressed, blank when missing."""
    if suppressed:
        return SUPPRESSED
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def show_table(
    rows: Iterable[Sequence[str]],
    headers: Sequence[str],
    *,
    title: str = "",
    remarks: Sequence[str] = (),
    right_align: Sequence[str] = (),
) -> None:
    """Print a table of already-formatted cells, then its remarks numbered under it."""
    table = Table(title=title or None, show_lines=False)
    for header in headers:
        table.add_column(header, justify="right" if header in right_align else "left")
    for row in rows:
        table.add_row(*row)
    out = stdout()
    out.print(table)
    show_remarks(remarks, console=out)


def show_frame(frame: pd.DataFrame, *, title: str = "", remarks: Sequence[str] = ()) -> None:
    """Print a DataFrame as a table (numbers right-aligned), with numbered remarks."""
    numeric = [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    rows = ([cell(v) for v in record] for record in frame.itertuples(index=False))
    show_table(
        rows, [str(c) for c in frame.columns], title=title, remarks=remarks, right_align=numeric
    )


def show_remarks(remarks: Sequence[str], *, console: Console | None = None) -> None:
    """Numbered remarks, one a line: ``1. ...``."""
    out = console or stdout()
    for i, text in enumerate(remarks, start=1):
        out.print(f"{i}. {text}", markup=False)


def show_summary(title: str, facts: Sequence[tuple[str, str]]) -> None:
    """A two-column summary (e.g. what ``validate`` found in a good file)."""
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value")
    for what, value in facts:
        table.add_row(what, value)
    stdout().print(table)
