"""The project's import graph read from source with `ast`: every import statement, at module
level, inside functions and under `if TYPE_CHECKING:`, relative imports resolved. Tests use it
to forbid import circles and imports across the layout's walls (DESIGN.md, "Layout")."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One edge: `source` imports `target` at `line` of `path`."""

    source: str
    target: str
    path: Path
    line: int


def modules_under(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of the named top-level packages: dotted name → file."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _known(dotted: str, modules: dict[str, Path]) -> str | None:
    """The deepest module of the project that `dotted` names or lies inside."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """The project modules that `module` imports, wherever the statement stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(module, is_package, node.level, node.module)
                if node.level
                else node.module or ""
            )
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
            targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for dotted in targets:
            target = _known(dotted, modules)
            if target is not None and target != module:
                yield Import(module, target, path, node.lineno)


def build_graph(root: Path, packages: Iterable[str]) -> dict[str, list[Import]]:
    """Module → its imports of other project modules."""
    modules = modules_under(root, packages)
    # One edge per (target, line): `from pkg import a, b` names one module once.
    return {
        name: list({(i.target, i.line): i for i in imports_of(name, path, modules)}.values())
        for name, path in modules.items()
    }


def circles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        # Iterative, so a deep graph cannot hit the recursion limit.
        work: list[tuple[str, Iterator[Import]]] = [(start, iter(graph.get(start, [])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            advanced = False
            for edge in edges:
                nxt = edge.target
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, []))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def describe(component: list[str], graph: dict[str, list[Import]]) -> str:
    """A circle as the import lines that tie it, for a failure message a reader can act on."""
    members = set(component)
    lines = [
        f"  {edge.source} -> {edge.target} ({edge.path}:{edge.line})"
        for name in component
        for edge in graph[name]
        if edge.target in members
    ]
    return "\n".join([f"circle of {len(component)} modules:", *lines])
