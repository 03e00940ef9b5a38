"""Golden outputs: every README example and `make demo` give the tables and messages they gave.

Each command is run in README order (then `make demo`'s, read from the Makefile) in one
output folder, as `tests/test_docs.py` runs them. For each it checks the exit code, stdout
and stderr, and every file the command wrote or changed, against `tests/golden/commands.json`.

What is compared (``canonical``): text files and messages line by line; JSON re-indented
with sorted keys; Parquet as its schema, its metadata (JSON, indented) and its rows as CSV
(frame-equal, not byte-equal: the bytes carry nothing a reader sees beyond these); an Excel
workbook as every sheet's cell values, plus its bytes; other binary files (PNG) as bytes.
Before comparing, the output folder is written `out` and the repository `.`; only the
volatile parts are masked: a run's start and finish times and the tool's version.

The golden file holds no copies, only a sha256 per output and one short hash per block of
16 lines, so a failure names the first block that differs and prints those lines as they
are now; every actual output is kept under the test's tmp folder to diff by hand.

Outputs change on purpose sometimes (e.g. fewer complements hidden). Regenerate, then
review what changed with `git diff tests/golden/`:

    make golden    # i.e. UNMETNEED_GOLDEN=update .venv/bin/python -m pytest tests/test_golden.py

Where ../shared/realdata/ is absent its examples are skipped and their golden entries kept.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unmetneed.cli import app

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "commands.json"
UPDATE = os.environ.get("UNMETNEED_GOLDEN") == "update"
BLOCK = 16  # lines per block hash
VOLATILE_KEYS = {"started", "finished", "version"}  # run times; the tool's version


def readme_commands() -> list[str]:
    """Every README command line that runs unmetneed (continuation lines joined)."""
    readme = (ROOT / "README.md").read_text()
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", readme, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [ln.strip() for ln in joined.splitlines() if ln.strip().startswith(".venv/bin/")]
    lines = [re.sub(r"\s+", " ", ln).removeprefix(".venv/bin/") for ln in lines]
    return [ln for ln in lines if "/srv/" not in ln]


def demo_commands() -> list[str]:
    """The unmetneed commands of `make demo`, with the Makefile's variables filled in."""
    make = (ROOT / "Makefile").read_text()
    recipe = make.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    names = {"$(SAMPLE)": "data/sample", "$(OUT)": "out/demo"}
    lines = [ln.strip().removeprefix("$(BIN)/") for ln in recipe.splitlines()]
    lines = [ln for ln in lines if ln.startswith("unmetneed ")]
    for name, value in names.items():
        lines = [ln.replace(name, value) for ln in lines]
    return lines


COMMANDS = readme_commands() + [f"{c}  # make demo" for c in demo_commands()]


@dataclass
class Outcome:
    """What one command gave: exit code, messages and written files, each as lines."""

    exit_code: int
    texts: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, bytes] = field(default_factory=dict)
    kept: Path | None = None  # where its canonical lines were written, for a diff by hand


def normalise(text: str, out: Path) -> str:
    """The text with the output folder written `out` and the repository `.`."""
    return text.replace(str(out), "out").replace(str(ROOT), ".")


def masked(value: object) -> object:
    """A JSON value with the volatile keys' values replaced by ``<volatile>``."""
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE_KEYS else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def json_lines(text: str) -> list[str]:
    """JSON text as indented lines, keys sorted, volatile values masked."""
    return json.dumps(masked(json.loads(text)), indent=1, sort_keys=True).splitlines()


def parquet_lines(path: Path, out: Path) -> list[str]:
    """A Parquet file as its schema, its metadata and its rows (CSV)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    lines = [f"schema {f.name}: {f.type}" for f in table.schema]
    for key, value in sorted((table.schema.metadata or {}).items()):
        if key == b"pandas":  # pandas' own record of versions and index: nothing a reader sees
            continue
        lines += [f"metadata {key.decode()}:"] + json_lines(normalise(value.decode(), out))
    frame = table.to_pandas()
    return lines + frame.to_csv(index=False, lineterminator="\n").splitlines()


def workbook_lines(path: Path, out: Path) -> list[str]:
    """An Excel workbook as every sheet's cell values, one line per row."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    lines = []
    for sheet in book.worksheets:
        lines.append(f"sheet {sheet.title}")
        for row in sheet.iter_rows(values_only=True):
            lines.append(normalise("|".join("" if v is None else str(v) for v in row), out))
    return lines


def canonical(path: Path, out: Path) -> tuple[list[str] | None, bytes | None]:
    """(lines to compare, bytes to compare) for one output file."""
    name = path.name
    if name.endswith(".parquet"):
        return parquet_lines(path, out), None
    if name.endswith(".xlsx"):
        return workbook_lines(path, out), path.read_bytes()
    if name.endswith(".json"):
        return json_lines(normalise(path.read_text(), out)), None
    if name.endswith((".csv", ".html", ".svg", ".txt", ".md")):
        return normalise(path.read_text(), out).splitlines(), None
    return None, path.read_bytes()


def snapshot(out: Path) -> dict[Path, bytes]:
    """Every file under out with its bytes."""
    return {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def run(command: str, out: Path) -> Outcome:
    """Run one command line (as the shell would: out/ in the tmp folder, globs expanded)."""
    words = shlex.split(command.split("  #")[0])[1:]
    args = [w.replace("out/", f"{out}/") for w in words]
    args = [x for a in args for x in (sorted(glob.glob(a)) if "*" in a else [a])]
    before = snapshot(out)
    result = CliRunner().invoke(app, args)
    outcome = Outcome(result.exit_code)
    outcome.texts["stdout"] = normalise(result.stdout, out).splitlines()
    outcome.texts["stderr"] = normalise(result.stderr, out).splitlines()
    for path, data in snapshot(out).items():
        if before.get(path) == data:
            continue
        key = "out/" + path.relative_to(out).as_posix()
        lines, raw = canonical(path, out)
        if lines is not None:
            outcome.texts[key] = lines
        if raw is not None:
            outcome.raw[key] = raw
    return outcome


def digest(lines: list[str]) -> dict[str, object]:
    """sha256 of the lines, their number, and a short hash per block of BLOCK lines."""
    blocks = [
        hashlib.sha256("\n".join(lines[i : i + BLOCK]).encode()).hexdigest()[:8]
        for i in range(0, len(lines), BLOCK)
    ]
    whole = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    return {"sha256": whole, "lines": len(lines), "blocks": " ".join(blocks)}


def record(outcome: Outcome) -> dict[str, object]:
    """The golden entry of one command."""
    return {
        "exit_code": outcome.exit_code,
        "outputs": {k: digest(v) for k, v in sorted(outcome.texts.items())},
        "bytes": {k: hashlib.sha256(v).hexdigest()[:16] for k, v in sorted(outcome.raw.items())},
    }


def first_difference(name: str, lines: list[str], want: dict[str, object]) -> str:
    """Where `lines` first differ from the golden digest, with those lines as they are now."""
    have = digest(lines)
    blocks = str(want["blocks"]).split()
    for i, block in enumerate(str(have["blocks"]).split()):
        if i >= len(blocks) or block != blocks[i]:
            start = i * BLOCK
            shown = "\n".join(
                f"  {start + j + 1:>6}| {ln[:300]}"
                for j, ln in enumerate(lines[start : start + BLOCK])
            )
            return (
                f"{name}: {have['lines']} lines (golden {want['lines']}); lines "
                f"{start + 1}-{start + BLOCK} differ, now:\n{shown}"
            )
    return f"{name}: {have['lines']} lines, golden {want['lines']} (the first ones are equal)"


def differences(outcome: Outcome, want: dict[str, object]) -> list[str]:
    """Every way the outcome differs from its golden entry, described."""
    have = record(outcome)
    found = []
    if have["exit_code"] != want["exit_code"]:
        found.append(f"exit code {have['exit_code']}, golden {want['exit_code']}")
    wanted: dict[str, dict[str, object]] = want["outputs"]  # type: ignore[assignment]
    for name in sorted(set(outcome.texts) | set(wanted)):
        if name not in wanted:
            found.append(f"{name}: written now, not in the golden outputs")
        elif name not in outcome.texts:
            found.append(f"{name}: in the golden outputs, not written now")
        elif digest(outcome.texts[name])["sha256"] != wanted[name]["sha256"]:
            found.append(first_difference(name, outcome.texts[name], wanted[name]))
    if have["bytes"] != want["bytes"]:
        found.append(f"bytes differ: now {have['bytes']}, golden {want['bytes']}")
    return found


def keep(outcome: Outcome, folder: Path) -> None:
    """Write the outcome's canonical lines under folder, for a diff by hand."""
    outcome.kept = folder
    for name, lines in outcome.texts.items():
        path = folder / name.replace("/", "__")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


def runnable(command: str) -> bool:
    """False where the command reads ../shared/realdata/ and it is absent."""
    return "../shared/realdata" not in command or (ROOT.parent / "shared" / "realdata").is_dir()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every command's outcome, run in order in one output folder; with
    UNMETNEED_GOLDEN=update the golden file is rewritten from them afterwards."""
    out = tmp_path_factory.mktemp("golden") / "out"
    out.mkdir()
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        found = {c: run(c, out) for c in COMMANDS if runnable(c)}
    finally:
        os.chdir(cwd)
    kept = tmp_path_factory.mktemp("golden-actual")
    for i, outcome in enumerate(found.values()):
        keep(outcome, kept / f"{i + 1:02d}")
    yield found
    if UPDATE:
        old = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        new = {
            c: record(found[c]) if c in found else old[c]
            for c in COMMANDS
            if c in found or c in old
        }
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(new, indent=1) + "\n")


def test_golden_file_names_every_command() -> None:
    if UPDATE:
        pytest.skip("regenerating the golden outputs")
    golden = json.loads(GOLDEN.read_text())
    missing = [c for c in COMMANDS if c not in golden]
    stale = [c for c in golden if c not in COMMANDS]
    assert not missing and not stale, (
        f"commands without golden outputs: {missing}; golden outputs of commands no longer "
        f"run: {stale}. Regenerate: UNMETNEED_GOLDEN=update .venv/bin/python -m pytest "
        "tests/test_golden.py"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_outputs_are_golden(command: str, outcomes: dict[str, Outcome]) -> None:
    if not runnable(command):
        pytest.skip("../shared/realdata/ is not here")
    outcome = outcomes[command]
    assert outcome.exit_code == 0, "\n".join(outcome.texts["stderr"])
    if UPDATE:
        return
    want = json.loads(GOLDEN.read_text()).get(command)
    assert want is not None, "no golden outputs: UNMETNEED_GOLDEN=update (see the docstring)"
    found = differences(outcome, want)
    assert not found, (
        f"{command}\n" + "\n".join(found) + f"\nEvery output as it is now: {outcome.kept}\n"
        "If the change is meant, regenerate: "
        "UNMETNEED_GOLDEN=update .venv/bin/python -m pytest tests/test_golden.py"
    )
