"""The package's shape: five areas, each a package of the same parts, and no import cycle
anywhere in python/optkern (every import counts, also those inside functions: a cycle broken
only by importing late is still a cycle a reader has to untangle)."""

import ast
import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "python" / "optkern"
AREAS = ("linalg", "ot", "tv", "optimize", "givens")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the optkern modules it imports. `from pkg import name` is an edge to
    pkg.name where that is a module, else to pkg; imports under `if TYPE_CHECKING:` are not
    run, so they are no edges. Compiled modules (_core, _cuda) are leaves."""
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(files) | {module_name(p) for p in ROOT.rglob("*.pyi")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree)
                       if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for stmt in node.body for n in ast.walk(stmt)}
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            else:
                continue
            edges[mod].update(t for t in targets if t in modules and t != mod)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(edges) + 100))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_no_import_cycles():
    edges = import_graph()
    assert "optkern.linalg._cpu" in edges  # the walk saw the package
    found = cycles(edges)
    detail = "\n".join(
        " <-> ".join(c) + "\n    " + "\n    ".join(
            f"{m} -> {sorted(edges[m] & set(c))}" for m in c) for c in found)
    assert not found, f"import cycles in python/optkern:\n{detail}"


def test_cycle_finder_finds_a_cycle():
    # the check itself can fail: a two-module and a three-module cycle, beside a chain
    edges = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(cycles(edges)) == [["a", "b"], ["c", "d", "e"]]


@pytest.mark.parametrize("area", AREAS)
def test_every_area_is_a_package_of_the_same_parts(area):
    module = importlib.import_module(f"optkern.{area}")
    assert Path(module.__file__).name == "__init__.py", f"optkern.{area} is not a package"
    parts = {p.name for p in (ROOT / area).glob("*.py")}
    missing = {"__init__.py", "_checks.py", "_cpu.py", "_cuda.py"} - parts
    assert not missing, f"optkern.{area} lacks {sorted(missing)}"
