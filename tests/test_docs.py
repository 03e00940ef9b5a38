"""The README is true: every command is in it, and every example in it runs."""

from __future__ import annotations

import glob
import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

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


@pytest.fixture(scope="module")
def shared_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for every example's ``out/``: they run in README order, and later
    examples read what earlier ones wrote (audit reads what run and suppress wrote)."""
    out = tmp_path_factory.mktemp("readme") / "out"
    out.mkdir()
    return out


@pytest.mark.parametrize("line", examples())
def test_readme_example_runs(line: str, shared_out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if "/srv/" in line:
        pytest.skip("a production path, shown for cron")
    if "../shared/realdata" in line and not (ROOT.parent / "shared" / "realdata").is_dir():
        pytest.skip("../shared/realdata/ is not here")
    monkeypatch.chdir(ROOT)
    args = [a.replace("out/", f"{shared_out}/") for a in shlex.split(line)[1:]]
    args = [x for a in args for x in (sorted(glob.glob(a)) if "*" in a else [a])]  # the shell's
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
