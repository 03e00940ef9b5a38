"""Import rules of src/unmetneed, read from the source (ast), not by importing it:

- no cycles among unmetneed's modules, counting imports inside functions too (they are
  circles all the same, only later); imports under ``if TYPE_CHECKING:`` are annotations
  and do not count;
- typer and rich only in ``cli/`` (rich for rendering, ``cli/render.py``):
  the library never prints or parses arguments;
- layers: ``inputs/``, ``disclosure/`` and ``counting`` never import the tables, the
  extract, runs or the CLI (they are what those are built on; ``audit`` reads written
  tables through ``outputs``); ``spelling`` (options as people write them) is built on
  ``errors`` and ``inputs`` only: never on the tables, the extract, runs, the CLI or the API;
- ``tables/gap/``: each part imports only the parts listed before it in ``GAP_PARTS``
  (options first, build last), never the package itself (its ``__init__`` re-exports);
- a thin CLI: each ``cli/<command>.py`` calls its function of ``unmetneed.api`` (one per
  mode: ``audit --explain``, ``anonymise --plan``) from one place, and imports no reader
  or computing entry point of the library;
- messages outside ``cli/`` name options, never command-line flags (``errors.Mention``),
  but for the remarks published in the tables' metadata and ``disclosure/`` (``FLAGGED``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
RENDERING: set[str] = set()  # modules outside cli/ that may import rich: none


def module_name(path: Path) -> str:
    """``src/unmetneed/cli/gap.py`` -> ``unmetneed.cli.gap`` (a package: its __init__)."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def runtime_imports(path: Path) -> list[str]:
    """Every module name ``path`` imports (``from a import b``: ``a.b`` when that is a
    module, else ``a``), except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for n in ast.walk(stmt)
    }
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                whole = f"{base}.{alias.name}"
                found.append(whole if whole in MODULES else base)
    return found


def own_module(imported: str) -> str | None:
    """The unmetneed module an import names (``unmetneed.a.B`` -> ``unmetneed.a``)."""
    while imported and imported not in MODULES:
        imported = imported.rpartition(".")[0]
    return imported or None


def graph() -> dict[str, set[str]]:
    """Module -> the unmetneed modules it imports."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = {own_module(i) for i in runtime_imports(path) if i.startswith("unmetneed")}
        edges[name] = {t for t in targets if t is not None and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_cycles_are_found() -> None:
    # the check itself: a <-> b is a cycle, c -> a is not part of it
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_import_cycles() -> None:
    edges = graph()
    # the graph is read
    assert "unmetneed.tables.compare.stream" in edges["unmetneed.tables.compare.files"]
    found = cycles(edges)
    described = [" / ".join(f"{m} -> {sorted(edges[m] & set(c))}" for m in c) for c in found]
    assert not found, "import cycles: " + "; ".join(described)


def test_typer_and_rich_stay_in_the_cli_and_rendering() -> None:
    wrong = []
    for name, path in MODULES.items():
        in_cli = name == "unmetneed.cli" or name.startswith("unmetneed.cli.")
        for imported in runtime_imports(path) + typing_imports(path):
            top = imported.split(".")[0]
            if top == "typer" and not in_cli:
                wrong.append(f"{name} imports {imported}")
            if top == "rich" and not (in_cli or name in RENDERING):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong


def typing_imports(path: Path) -> list[str]:
    """Imports under ``if TYPE_CHECKING:`` (for the typer/rich rule, which counts them)."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for n in (n for stmt in node.body for n in ast.walk(stmt)):
                if isinstance(n, ast.Import):
                    found += [a.name for a in n.names]
                elif isinstance(n, ast.ImportFrom) and n.module:
                    found.append(n.module)
    return found


LOWER = ("unmetneed.inputs", "unmetneed.disclosure", "unmetneed.counting", "unmetneed.errors")
UPPER = (
    "unmetneed.tables",
    "unmetneed.extract",
    "unmetneed.runs",
    "unmetneed.cli",
    "unmetneed.api",
)


def test_the_lower_layers_never_import_the_upper_ones() -> None:
    edges = graph()
    assert edges["unmetneed.tables.gap"]  # the graph is read
    wrong = sorted(
        f"{m} -> {t}"
        for m, targets in edges.items()
        if m.startswith(LOWER)
        for t in targets
        if t.startswith(UPPER)
    )
    assert not wrong, "a lower layer imports an upper one: " + "; ".join(wrong)


SPELLING = "unmetneed.spelling"
SPELLING_BUILDS_ON = ("unmetneed.errors", "unmetneed.inputs")


def test_spelling_is_built_on_errors_and_inputs_only() -> None:
    edges = graph()
    assert "unmetneed.errors" in edges[SPELLING]  # the graph is read
    wrong = sorted(t for t in edges[SPELLING] if not t.startswith(SPELLING_BUILDS_ON))
    assert not wrong, f"{SPELLING} imports {wrong}: it reads what people type, nothing more"
    users = {m for m, targets in edges.items() if SPELLING in targets}
    assert {"unmetneed.cli.gap", "unmetneed.runs.config"} <= users  # the CLI and the config


# tables/gap/, one module per part: each imports only parts listed before it
GAP = "unmetneed.tables.gap"
GAP_PARTS = (
    "options",
    "treatment",
    "inputs",
    "areas",
    "prevalence",
    "benchmark",
    "table",
    "remarks",
    "cells",
    "build",
)


def test_the_gap_parts_build_on_the_parts_before_them() -> None:
    edges = graph()
    assert {m for m in MODULES if m.startswith(f"{GAP}.")} == {f"{GAP}.{p}" for p in GAP_PARTS}
    assert f"{GAP}.options" in edges[f"{GAP}.build"]  # the graph is read
    wrong = []
    for i, part in enumerate(GAP_PARTS):
        for target in sorted(edges[f"{GAP}.{part}"]):
            inside = target == GAP or target.startswith(f"{GAP}.")
            if inside and target.removeprefix(f"{GAP}.") not in GAP_PARTS[:i]:
                wrong.append(f"{GAP}.{part} -> {target}")  # the package itself: a circle
    assert not wrong, "a gap part imports a later part or the package: " + "; ".join(wrong)


def test_the_compare_package_exports_its_public_names() -> None:
    """``unmetneed.tables.compare`` imports each public name from its module when asked
    (so importing one module, e.g. ``stats``, loads no other): every name in ``__all__`` has
    a home and is that module's object, and no module of the package has an exported name
    (a module loaded first would then shadow the name)."""
    import importlib

    import unmetneed.tables.compare as package

    homes = {name: module for module, names in package.HOMES.items() for name in names}
    assert sorted(homes) == sorted(package.__all__)
    for name, module in homes.items():
        assert getattr(package, name) is getattr(importlib.import_module(module), name), name
    modules = {m.rpartition(".")[2] for m in MODULES if m.startswith("unmetneed.tables.compare.")}
    assert modules >= {"table", "stats", "files"}  # the package is read
    assert not modules & set(package.__all__)


# --------------------------------------------------------------------------- a thin CLI

# The api functions each command calls: one, or one per mode (``--explain``, ``--plan``).
COMMAND_CALLS = {
    "anonymise": {"anonymise", "anonymise_plan"},
    "audit": {"audit", "explain"},
    "chart": {"chart"},
    "compare": {"compare"},
    "gap": {"gap"},
    "run": {"run"},
    "suppress": {"suppress_table"},
    "validate": {"validate"},
}
# Names a command must not import from the library beside the api: readers and the
# computing entry points (the api function does the reading and the computing).
LIBRARY_WORK = {
    "anonymise",
    "audit_tables",
    "compare",
    "compare_files",
    "compute",
    "compute_files",
    "draw",
    "explain_register",
    "load",
    "plan",
    "prepare",
    "read_header",
    "read_input",
    "read_records",
    "read_table",
    "read_written",
    "run",
    "summarise",
    "suppress_file",
    "suppress_table",
}


def api_calls(path: Path) -> tuple[dict[str, int], list[str]]:
    """How often each ``unmetneed.api`` function is called in ``path`` (by the name it is
    imported as), and the library's readers and entry points it imports from elsewhere."""
    tree = ast.parse(path.read_text(), str(path))
    local: dict[str, str] = {}
    elsewhere: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "unmetneed.api":
            local.update({a.asname or a.name: a.name for a in node.names})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("unmetneed"):
            elsewhere += [f"{node.module}.{a.name}" for a in node.names if a.name in LIBRARY_WORK]
    called: dict[str, int] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        name = local.get(node.func.id, "")
        if name[:1].islower():  # a function (the options classes are capitalised)
            called[name] = called.get(name, 0) + 1
    return called, elsewhere


def test_each_command_calls_its_api_function_once() -> None:
    commands = {
        name.rpartition(".")[2]: path
        for name, path in MODULES.items()
        if name.startswith("unmetneed.cli.") and "@app.command()" in path.read_text()
    }
    assert set(commands) == set(COMMAND_CALLS)  # every command is listed
    wrong = []
    for command, path in sorted(commands.items()):
        called, elsewhere = api_calls(path)
        if set(called) != COMMAND_CALLS[command] or any(n != 1 for n in called.values()):
            wrong.append(f"cli/{command}.py calls {called}, not {COMMAND_CALLS[command]} once each")
        if elsewhere:
            wrong.append(f"cli/{command}.py does library work itself: imports {elsewhere}")
    assert not wrong, wrong


# ----------------------------------------------------------------- messages name options

# Text outside cli/ that still names a flag, and why. Remarks and reading notes are
# published in the tables' metadata (the golden outputs pin them); disclosure/ is being
# edited elsewhere and keeps its messages for now.
FLAGGED = {
    "unmetneed.tables.gap.benchmark": {"--benchmark"},  # remark: not an area of the table
    "unmetneed.tables.gap.remarks": {"--k"},  # remark: suppression is off (--k 0)
    "unmetneed.tables.compare.remarks": {"--k"},  # remark: Suppression is OFF (--k 0)
    "unmetneed.inputs.layouts": {"--layout"},  # note: read as ... (--layout none ...)
    "unmetneed.inputs.readers": {"--sheet", "--last-row", "--header-row"},  # reading notes
    "unmetneed.inputs.load": {"--rounded-to"},  # note: counts declared rounded (--rounded-to)
}
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def flags_in_texts(path: Path) -> set[str]:
    """The flags named in ``path``'s string constants, docstrings (a string standing as a
    statement: a module's, a function's, an attribute's) left out."""
    tree = ast.parse(path.read_text(), str(path))
    docs = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return {
        flag
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
        for flag in FLAG.findall(node.value)
    }


def test_messages_outside_the_cli_name_no_flags() -> None:
    assert flags_in_texts(MODULES["unmetneed.tables.gap.remarks"]) == {"--k"}  # read
    wrong = {}
    for name, path in MODULES.items():
        if name.startswith(("unmetneed.cli", "unmetneed.disclosure")):
            continue
        found = flags_in_texts(path) - FLAGGED.get(name, set())
        if found:
            wrong[name] = sorted(found)
    assert not wrong, f"name the option (errors.Mention, OptionError), not the flag: {wrong}"
