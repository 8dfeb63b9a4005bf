"""The package's import graph: imports flow one way, and LangChain stays out of the log tools."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lclog"
# Where importing lclog's own modules inside a function is the design: the package's lazy public
# names, and the command-line tools, which import each command's needs when it runs.
LAZY = {"lclog", "lclog.cli.main"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _targets(node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The lclog modules an import statement loads (a package's __init__ included)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif node.module:
        names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    found = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            prefix = ".".join(parts[:i])
            if prefix in modules:
                found.add(prefix)
    return {m for m in found if m.startswith("lclog")}


def _graph() -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """Module-level imports between lclog's modules, and imports made inside functions."""
    modules = _modules()
    top: dict[str, set[str]] = {}
    nested: dict[str, list[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top[name] = set()
        # The packages a module sits in are initialized before it runs: no edge to them.
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                top[name] |= _targets(node, modules) - {name} - ancestors
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and _targets(inner, modules):
                        nested.setdefault(name, []).append(f"{node.name}: {ast.unparse(inner)}")
    return top, nested


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles():
    top, _ = _graph()
    assert len(top) > 30  # the walk found the package
    assert _cycle(top) is None


def test_the_walk_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_lclog_import_hides_in_a_function():
    # An import inside a function is how a cycle is usually dodged; only the lazy places may.
    _, nested = _graph()
    assert {name: lines for name, lines in nested.items() if name not in LAZY} == {}


def test_settings_are_made_of_the_components_options_alone():
    """The config's model imports each component's options and no machinery of theirs."""
    top, _ = _graph()
    options = {"lclog.redact.options", "lclog.outputs.options", "lclog.notify.options"}
    packages = {"lclog.redact", "lclog.outputs", "lclog.notify"}
    assert top["lclog.settings"] <= options | packages | {"lclog._imports", "lclog._options"}
    for name in options:
        assert top[name] <= {"lclog._imports", "lclog._options", "lclog.events", "lclog.events.fields"}


def test_no_output_loads_the_command_line():
    """An application importing lclog and its outputs loads no part of the command line."""
    import subprocess
    import sys

    code = (
        "import sys, lclog, lclog.outputs.otlp, lclog.outputs.loki, lclog.outputs.stdlib\n"
        "lclog.LoggingCallbackHandler({'outputs': []}).close()\n"
        "print(sorted(m for m in sys.modules if m.startswith('lclog.cli') or m == 'argparse'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
