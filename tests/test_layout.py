"""The package's shape: imports go one way, from the CLI down to the constants, with no cycle."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Module families from the top down; a module may import its own family and those below it,
#: as the table says (``sources`` may use a pure step, never the other way round).
ALLOWED: dict[str, set[str]] = {
    "cli": {"run", "outputs", "steps", "sources", "base"},
    "run": {"outputs", "steps", "sources", "base"},
    "outputs": {"steps", "base"},  # writers take what the steps computed (a Reach)
    "sources": {"steps", "base"},
    "steps": {"base"},
    "base": set(),
}
BASE = {"pipeline", "pipeline.config", "pipeline.schema", "pipeline.provenance",
        "pipeline.errors", "pipeline.french", "pipeline.atomic", "pipeline.textsafe",
        "pipeline.basemap"}


def family(module: str) -> str:
    if module == "cli":
        return "cli"
    if module in BASE:
        return "base"
    part = module.split(".")[1]
    return part if part in ALLOWED else "run" if part == "run" else part


def modules() -> dict[str, Path]:
    found = {"cli": ROOT / "cli.py"}
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """Every project module ``path`` imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        out |= {n for n in names if n in known}
    return out


@functools.cache
def graph() -> dict[str, set[str]]:
    """Each project module and the project modules it imports (parsed once, when first asked)."""
    found = modules()
    return {name: imports(path, set(found)) - {name} for name, path in found.items()}


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_go_down_only(module: str) -> None:
    mine = family(module)
    wrong = sorted(m for m in graph()[module]
                   if family(m) != mine and family(m) not in ALLOWED[mine]
                   and m != "pipeline")
    assert not wrong, f"{module} ({mine}) imports {wrong}"


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph()[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph()):
        if node not in state:
            visit(node)
