"""Import rules of src/unmetneed, read from the source (ast), not by importing it:

- no cycles among unmetneed's modules, counting imports inside functions too (they are
  circles all the same, only later); imports under ``if TYPE_CHECKING:`` are annotations
  and do not count;
- typer and rich only in ``cli/`` (rich for rendering, ``cli/render.py``):
  the library never prints or parses arguments;
- layers: ``inputs/``, ``disclosure/`` and ``counting`` never import the tables, the
  extract, runs or the CLI (they are what those are built on; ``audit`` reads written
  tables through ``outputs``);
- ``tables/gap/``: each part imports only the parts listed before it in ``GAP_PARTS``
  (options first, build last), never the package itself (its ``__init__`` re-exports).
"""

from __future__ import annotations

import ast
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
