"""The error classes, each carrying its exit code (contract section 3).

Exit codes: 0 success; 2 bad command or unreadable input; 3 input failed validation;
4 a disclosure check failed; 1 is only ever a bug (anything not raised from here).
Helpers raise these; only the command line turns them into an exit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class UnmetneedError(Exception):
    """Base of every error a person can act on."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(UnmetneedError):
    """A bad option or combination of options (exit 2)."""

    exit_code = 2


class InputError(UnmetneedError):
    """A file that is missing, unreadable or of an unknown kind (exit 2)."""

    exit_code = 2


class ConfigError(UnmetneedError):
    """A run configuration with an unknown key or a bad value (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Failure:
    """One validation failure: where it is, what it holds and the rule it breaks.

    ``line`` is the line a person sees in the file (header = line 1) for CSV, the sheet row
    for Excel, and the 1-based data row plus one for Parquet/SPSS (so it is always "the
    header is row 1"). ``line`` is ``None`` for a failure about the whole file (a missing
    column, an identifier column).
    """

    line: int | None
    column: str
    value: str
    rule: str

    def describe(self) -> str:
        """One line, ``line N column C value V: rule``."""
        where = f"line {self.line} " if self.line is not None else ""
        value = f" value {self.value!r}" if self.value != "" else ""
        return f"{where}column {self.column}{value}: {self.rule}"


class ValidationError(UnmetneedError):
    """An input that failed validation: every failure collected (exit 3)."""

    exit_code = 3

    def __init__(self, path: Path | str, kind: str, failures: list[Failure]) -> None:
        self.path = str(path)
        self.kind = kind
        self.failures = failures
        n = len(failures)
        super().__init__(
            f"{self.path} failed validation as '{kind}' ({n} problem{'s' if n != 1 else ''})"
        )


class DisclosureError(UnmetneedError):
    """A disclosure check failed: a suppressed cell can be narrowed too far (exit 4)."""

    exit_code = 4


@dataclass
class Remarks:
    """Numbered statistical caveats collected while building a table (not errors)."""

    items: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        """Add a remark once (the same text twice is kept once)."""
        if text not in self.items:
            self.items.append(text)

    def extend(self, other: Remarks | list[str]) -> None:
        """Add every remark of another collection, in order."""
        for text in other.items if isinstance(other, Remarks) else other:
            self.add(text)


class InputsError(UnmetneedError):
    """Several inputs of a run failed: every problem, reported together before any work.

    Exit 2 when any input is missing or unreadable (or a bad option), else 3 (validation).
    """

    def __init__(self, problems: list[tuple[str, UnmetneedError]]) -> None:
        self.problems = problems
        self.exit_code = max(e.exit_code for _, e in problems) if problems else 3
        if any(e.exit_code == 2 for _, e in problems):
            self.exit_code = 2
        n = len(problems)
        super().__init__(f"{n} input{'s' if n != 1 else ''} failed; nothing was written")
