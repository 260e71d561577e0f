"""The package's shape: no import circle among server/, client/ and protocol/, no module over 300 lines.

The graph is read from the source with `ast`, so an import inside a function counts
as much as one at the top: a lazy import must not be the thing that hides a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FOLDERS = ("server", "client", "protocol")
"""Source folders; each installs as `stt_dictation.<folder>`."""
NAMESPACE = "stt_dictation"
MAX_LINES = 300


def _modules() -> dict[tuple[str, ...], Path]:
    """Dotted name (under the namespace) to file, `__init__` naming its package."""
    out = {}
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            out[parts[:-1] if parts[-1] == "__init__" else parts] = path
    return out


def _package(name: tuple[str, ...], path: Path) -> tuple[str, ...]:
    return name if path.name == "__init__.py" else name[:-1]


def _targets(node: ast.AST, package: tuple[str, ...], known: dict) -> list[tuple[str, ...]]:
    """The project modules one import statement loads (a package's __init__ included)."""
    if isinstance(node, ast.Import):
        bases = [tuple(a.name.split(".")) for a in node.names]
        names: list[str] = []
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            up = node.level - 1
            if up > len(package):
                raise AssertionError(f"relative import beyond the namespace: level {node.level} in {package}")
            anchor = package[: len(package) - up]
        else:
            anchor = ()
        bases = [anchor + tuple((node.module or "").split(".")) if node.module else anchor]
        names = [a.name for a in node.names]
    else:
        return []
    out = []
    for base in bases:
        if base[:1] == (NAMESPACE,):
            base = base[1:]
        # Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c.
        out += [base[:i] for i in range(1, len(base) + 1) if base[:i] in known]
        out += [base + (n,) for n in names if base + (n,) in known]
    return out


def import_graph() -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    """Every project module to the project modules it imports, anywhere in its body."""
    known = _modules()
    graph = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        package = _package(name, path)
        edges = set()
        for node in ast.walk(tree):
            edges.update(_targets(node, package, known))
        edges.discard(name)
        # A package's own __init__ runs before any module in it: that edge is no circle.
        graph[name] = {e for e in edges if not (e == name[: len(e)] and known[e].name == "__init__.py")}
    return graph


def find_cycle(graph: dict) -> list | None:
    """One import circle as a path that ends where it starts, or None."""
    state: dict = {}
    stack: list = []

    def visit(node) -> list | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_relative_absolute_and_function_level_imports():
    graph = import_graph()
    assert ("protocol", "messages") in graph[("server", "ipc")]  # from ..protocol.messages import
    assert ("server", "settings") in graph[("server", "config")]  # from .settings import
    assert ("server", "serve") in graph[("server", "cli")]  # inside main()


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(".".join(m) for m in cycle)


@pytest.mark.parametrize("path", sorted(_modules().values()), ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_over_300_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines (at most {MAX_LINES})"


def test_the_daemon_reads_in_one_sitting():
    """The daemon keeps the state machine, the commands and the life cycle; the stages do the work."""
    lines = len((REPO / "server" / "daemon.py").read_text(encoding="utf-8").splitlines())
    assert lines < 250, f"server/daemon.py has {lines} lines (under 250 wanted)"
