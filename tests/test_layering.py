"""The import ladder: contracts <- models <- modalities <- gateway, and no import circles.

Every import counts, also one inside a function or under TYPE_CHECKING: a lazy import still ties
two modules together, and a type-only circle is still two modules a reader must hold at once.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import PROJECT

LAYERS = ("contracts", "models", "modalities", "gateway")  # each may import only those before it


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in LAYERS:
        for path in sorted((PROJECT / top).rglob("*.py")):
            parts = path.relative_to(PROJECT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports (a name imported from a package that is itself a
    module counts as that module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, known) for name, path in known.items()}


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for name, targets in graph().items():
        allowed = LAYERS[: LAYERS.index(name.split(".")[0]) + 1]
        wrong += [f"{name} -> {t}" for t in sorted(targets) if t.split(".")[0] not in allowed]
    assert wrong == []


def test_there_are_no_import_circles() -> None:
    edges = graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert circles == []


def test_the_checker_sees_lazy_and_type_only_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gateway import events\n"
                      "def f():\n    from gateway.session import runner\n", encoding="utf-8")
    known = modules()
    assert imports(module, "x.m", known) >= {"gateway.events", "gateway.session.runner"}
