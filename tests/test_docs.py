"""The README is true: every command is in it, and every example in it runs."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from unmetneed.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def commands() -> list[str]:
    """Names of every registered command."""
    group = get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def examples() -> list[str]:
    """Every README command line that runs unmetneed (continuation lines joined)."""
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [
            ln.strip() for ln in joined.splitlines() if ln.strip().startswith(".venv/bin/unmetneed")
        ]
    return lines


def test_every_command_has_help_an_example_and_a_readme_section() -> None:
    group = get_command(app)
    for name in commands():
        command = group.commands[name]  # type: ignore[attr-defined]
        assert command.help and "Example: unmetneed " + name in command.help, name
        assert f"### `{name}`" in README, f"README has no section for {name}"
        assert any(e.startswith(f".venv/bin/unmetneed {name} ") for e in examples()), name


# Every example in the README runs, exits 0 and gives its golden outputs: tests/test_golden.py
# runs them (once, in README order, then `make demo`).
