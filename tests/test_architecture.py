"""Domains stay apart: no import cycle between the packages of app/, and the layering that
docs/architecture.md describes holds. A new cycle fails here, naming the imports that make it."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST) -> list[str]:
    """Every `app.*` module imported, at module level or inside functions; not the imports only
    type checkers see (`if TYPE_CHECKING:`), which never run."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            if node.module == "app":
                found.extend(f"app.{alias.name}" for alias in node.names)
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names if a.name.startswith("app."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package → imported package → the files that import it."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP).parts
        if len(parts) < 2:  # app/__init__.py, app/models.py …: the composition root
            continue
        source = parts[0]
        for module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            target = module.split(".")[1] if "." in module else None
            if target and target != source and (APP / target).is_dir():
                graph[source][target].append(str(path.relative_to(APP.parent)))
    return graph


def _cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycle_between_app_packages():
    graph = package_graph()
    cycles = _cycles(graph)
    described = [
        " ".join(cycle)
        + ": "
        + "; ".join(
            f"{a}→{b} ({', '.join(sorted(set(graph[a][b])))})"
            for a in cycle
            for b in cycle
            if b in graph.get(a, {})
        )
        for cycle in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n".join(described)


def test_the_cycle_check_sees_a_cycle():
    """The check itself: two packages importing each other are one cycle."""
    graph = {"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}, "d": {"a": ["w"]}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_kernel_imports_no_domain():
    """app/core is what every domain builds on; it may import none of them."""
    assert dict(package_graph()["core"]) == {}


def test_the_fulfillment_engine_does_not_know_orders():
    """The engine settles units and announces it; the order's domain listens (signals)."""
    assert "orders" not in package_graph()["fulfillment"]
