"""The error classes, each carrying its exit code (contract section 3).

Exit codes: 0 success; 2 bad command or unreadable input; 3 input failed validation;
4 a disclosure check failed; 1 is only ever a bug (anything not raised from here).
Helpers raise these; only the command line turns them into an exit.

An error never names a command-line flag: where its text names an option it holds a
:class:`Mention` of it (the option's name as the library and the run config spell it:
``k``, ``periods``, ``prevalence_years``), and each surface spells it its own way
(:func:`spell`): the command line ``--k 5``, the run config its key, Python ``k=5``
(``str(error)``, the default). :class:`OptionError` is the error about one option's value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeAlias, TypeVar


@dataclass(frozen=True)
class Mention:
    """An option named in a message: ``option`` as a field or parameter is named
    (``prevalence_years``), ``value`` the text given (None: the option itself), shown in
    quotes where ``quoted`` (``--period '2019'``, ``periods='2019'``)."""

    option: str
    value: str | None = None
    quoted: bool = False

    def shown_value(self) -> str:
        """The value as a message shows it (quoted or as given); empty when there is none."""
        if self.value is None:
            return ""
        return repr(self.value) if self.quoted else self.value


Said: TypeAlias = str | tuple[str | Mention, ...]
"""A message: plain text, or text and the options it names, in order."""

Spelling: TypeAlias = Callable[[Mention], str]
"""How a surface writes an option it names (the command line: ``--k 5``)."""


def python_spelling(mention: Mention) -> str:
    """An option as a Python caller names it: ``k=5``, ``periods='2019'``, ``treatment``.

    >>> python_spelling(Mention("k", "5")), python_spelling(Mention("periods", "2019", True))
    ('k=5', "periods='2019'")
    """
    if mention.value is None:
        return mention.option
    return f"{mention.option}={mention.shown_value()}"


def spell(text: Said, spelling: Spelling = python_spelling) -> str:
    """A message as text, every option it names spelled by ``spelling``.

    >>> spell(("give ", Mention("total", "England")), lambda m: "--" + m.option)
    'give --total'
    """
    if isinstance(text, str):
        return text
    return "".join(part if isinstance(part, str) else spelling(part) for part in text)


def said(*parts: str | Mention | tuple[str | Mention, ...]) -> Said:
    """Parts of a message (text, options named, other messages) as one message."""
    flat: list[str | Mention] = []
    for part in parts:
        flat += list(part) if isinstance(part, tuple) else [part]
    return tuple(flat)


E = TypeVar("E", bound="UnmetneedError")


class UnmetneedError(Exception):
    """Base of every error a person can act on.

    ``message`` and ``hint`` are the text as Python shows it (``str(error)``);
    :meth:`text` and :meth:`hint_text` spell the options they name for another surface.
    """

    exit_code = 1

    def __init__(self, message: Said, *, hint: Said = "") -> None:
        super().__init__(spell(message))
        self.said = message
        self.hint_said = hint

    @property
    def message(self) -> str:
        """The message, options spelled as a Python caller names them."""
        return spell(self.said)

    @property
    def hint(self) -> str:
        """What to do about it (may be empty), options spelled for Python."""
        return spell(self.hint_said)

    @hint.setter
    def hint(self, value: Said) -> None:
        self.hint_said = value

    def text(self, spelling: Spelling) -> str:
        """The message with the options it names spelled by ``spelling``."""
        return spell(self.said, spelling)

    def hint_text(self, spelling: Spelling) -> str:
        """The hint with the options it names spelled by ``spelling``."""
        return spell(self.hint_said, spelling)

    def spelled_as(self: E, spelling: Spelling) -> E:
        """This error (same class, same exit code) with every option it names spelled by
        ``spelling`` from now on, on every surface: e.g. as the run config's keys, when
        the options came from a config file."""
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.said = spell(self.said, spelling)
        new.hint_said = spell(self.hint_said, spelling)
        new.args = (new.said,)
        new._respell(spelling)
        return new

    def _respell(self, spelling: Spelling) -> None:
        """Spell what else a subclass holds (failures, problems) by ``spelling``."""


class UsageError(UnmetneedError):
    """A bad option or combination of options (exit 2)."""

    exit_code = 2


class OptionError(UsageError):
    """A bad value of one option (exit 2).

    ``option``: its name as the options, the API's parameters and the run config name it
    (``k``, ``periods``, ``substances``, ``prevalence_years``, ``cohorts``, ``columns``);
    ``value``: the text given (None: the option as a whole, e.g. none given); ``problem``:
    what is wrong with it. ``where``: the file it is about, if any (said first).

    ``str(error)`` is ``k=-1: use 0 (no suppression) or more``; the command line says
    ``--k -1: ...`` and the run config names its key.
    """

    def __init__(
        self,
        option: str,
        value: object,
        problem: Said,
        *,
        quoted: bool = False,
        where: str = "",
        hint: Said = "",
    ) -> None:
        self.option = option
        self.value = None if value is None else str(value)
        self.quoted = quoted
        self.where = where
        self.problem_said = problem
        head: tuple[str | Mention, ...] = (f"{where}: ",) if where else ()
        message = said(head, Mention(option, self.value, quoted), ": ", said(problem))
        super().__init__(message, hint=hint)

    @property
    def problem(self) -> str:
        """What is wrong with the value (other options it names spelled for Python)."""
        return spell(self.problem_said)

    def _respell(self, spelling: Spelling) -> None:
        self.problem_said = spell(self.problem_said, spelling)


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
    said: Said = field(default="", compare=False, repr=False)  # the rule naming options

    @classmethod
    def naming(cls, line: int | None, column: str, value: str, rule: Said) -> Failure:
        """A failure whose rule names options (``rule``: Python's spelling; ``said``)."""
        return cls(line, column, value, spell(rule), rule)

    def rule_text(self, spelling: Spelling = python_spelling) -> str:
        """The rule with the options it names spelled by ``spelling``."""
        return spell(self.said, spelling) if self.said else self.rule

    def spelled_as(self, spelling: Spelling) -> Failure:
        """This failure with its rule's options spelled by ``spelling``."""
        return replace(self, rule=self.rule_text(spelling), said="") if self.said else self

    def describe(self, spelling: Spelling = python_spelling) -> str:
        """One line, ``line N column C value V: rule``."""
        where = f"line {self.line} " if self.line is not None else ""
        value = f" value {self.value!r}" if self.value != "" else ""
        return f"{where}column {self.column}{value}: {self.rule_text(spelling)}"


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

    def _respell(self, spelling: Spelling) -> None:
        self.failures = [f.spelled_as(spelling) for f in self.failures]


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

    def _respell(self, spelling: Spelling) -> None:
        self.problems = [(name, e.spelled_as(spelling)) for name, e in self.problems]
