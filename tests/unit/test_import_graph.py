"""The project's own modules import each other without a loop, and the API reaches the job system only through
the dispatch entry points (workers/dispatch.py `__all__`). Read from the source with ast, imports inside
functions included (they run too, only later); imports under `if TYPE_CHECKING:` are left out (they never run)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "cli", "core", "migrations", "models", "pipeline", "workers")
DISPATCH = "workers.dispatch"


def module_files() -> dict[str, Path]:
    """Module name -> file, for every .py file of the project's packages (a package by its __init__)."""
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _runs(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that execute, skipping the bodies of `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imports(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str | None, int]]:
    """(imported project module, name taken from it or None, line) for each import in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    edges = []
    for node in _runs(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [(alias.name, None) for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from a import b` imports the module a.b when there is one, else the name b of a
            targets = [
                (f"{base}.{alias.name}", None) if f"{base}.{alias.name}" in modules else (base, alias.name)
                for alias in node.names
            ]
        for target, name in targets:
            # `import a.b.c` of a project module; the longest prefix that is one
            parts = target.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            if parts:
                edges.append((".".join(parts), name, node.lineno))
    return edges


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {m: {t for t, _, _ in imports(m, p, modules) if t != m} for m, p in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a loop through them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
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
                components.append(_loop(graph, set(component)))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _loop(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """One loop inside a strongly connected component, for the failure message (breadth-first back to start)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    raise AssertionError("a strongly connected component without a loop")


def dispatch_entry_points() -> set[str]:
    tree = ast.parse((REPO / "workers" / "dispatch.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError("workers/dispatch.py declares no __all__")


def test_no_import_cycle_among_the_projects_modules():
    found = cycles(import_graph())
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(loop) for loop in found)


def test_the_api_uses_only_the_dispatch_entry_points_of_workers():
    modules, allowed = module_files(), dispatch_entry_points()
    wrong = [
        f"{path.relative_to(REPO)}:{line} imports {target}" + (f".{name}" if name else "")
        for module, path in modules.items()
        if module.split(".")[0] == "api"
        for target, name, line in imports(module, path, modules)
        if target.split(".")[0] == "workers" and not (target == DISPATCH and name in allowed)
    ]
    assert wrong == []


def test_the_checks_see_what_they_check():
    """A loop and a forbidden import, as these checks read them, are found (so a pass means something)."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    graph = import_graph()
    assert "core.db" in graph["core.jobs"] and "workers.queues" in graph["workers.dispatch"]
    assert {"core.jobs", "workers.dispatch"} <= graph["api.routes.jobs"]
    assert {"submit_job", "cancel"} <= dispatch_entry_points()
