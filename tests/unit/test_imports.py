"""The import graph of ``nasforge`` has no cycle (DESIGN.md, "Layering": imports point down).

Every import counts: module-level, function-level and ``TYPE_CHECKING`` ones, since a
function-level import that closes a circle only hides the circle until the function runs.
Optional heavy dependencies (Ray) are outside the package and never enter the graph."""

from __future__ import annotations

import ast
from pathlib import Path

import nasforge

PACKAGE_ROOT = Path(nasforge.__file__).parent


def module_name(file: Path) -> str:
    parts = list(file.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(file: Path, modules: set[str]) -> set[str]:
    """The package modules ``file`` imports anywhere in its body (``from pkg import sub``
    points at the submodule when ``sub`` is one, else at ``pkg``)."""
    here = module_name(file)
    package = here if file.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {name for name in found if name in modules and name != here}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(f): f for f in PACKAGE_ROOT.rglob("*.py")}
    return {name: imported_modules(file, set(files)) for name, file in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that starts and ends on the same module, else None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_find_cycle_reports_a_circle_and_passes_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    graph = import_graph()
    assert "nasforge.architecture" in graph["nasforge.run.loop"]
    assert len(graph) > 50  # the walk found the package


def test_nasforge_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# DESIGN.md's layers, top to bottom: modules and packages of nasforge, matched by their
# longest dotted prefix (``run.store`` before ``run``). A module imports its own layer and the
# ones below, never one above. Every module must be placed.
LAYERS: list[set[str]] = [
    {"__main__", "entry", "cli", "commands", "api", ""},  # the two doors ("": nasforge itself)
    {"run.plan", "model"},  # one search, one retraining
    {"run"},  # the run spine: loops, run directory, lock, supernet reuse, components
    {"strategies", "selection"},
    {"evaluators", "run.executors", "run.ray_executor", "simulate", "trainer", "training",
     "constraints"},
    {"supernet"},
    {"spaces", "data", "report"},
    {"architecture", "registry", "config", "errors", "nn", "task", "preprocessing",
     "progress", "runtime", "threads", "run.store", "interrupts", "run.distributed",
     "batches", "saved_state", "evaluators.base"},  # evaluators.base: Result, Evaluator
]


def layer_of(module: str) -> int:
    parts = module.split(".")[1:]
    for n in range(len(parts), -1, -1):
        prefix = ".".join(parts[:n])
        for rank, layer in enumerate(LAYERS):
            if prefix in layer:
                return rank
    raise AssertionError(f"{module} is in no layer: place it in LAYERS (DESIGN.md)")


def test_imports_point_down_the_layers() -> None:
    """No upward import anywhere, function-level ones included: e.g. no space imports a
    supernet (a supernet module registers itself for its space instead)."""
    upward = [f"{a} -> {b}" for a, targets in import_graph().items() for b in sorted(targets)
              if layer_of(b) < layer_of(a)]
    assert not upward, upward


def test_the_layer_check_sees_an_upward_import() -> None:
    assert layer_of("nasforge.spaces.nb201") > layer_of("nasforge.supernet.nb201")
    assert layer_of("nasforge.evaluators.base") > layer_of("nasforge.data.arrays")
