"""The layers, as ``docs/architecture.md`` draws them, checked from the source.

Every import of every module (at module level, in functions, under
``TYPE_CHECKING`` alike) is read with :mod:`ast`: dependencies point inward
and no module imports itself through others, benchmarks included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "projections", "simulator", "benchmarks")

#: Layer -> the layers it may import (its own always allowed).
ALLOWED: dict[str, set[str]] = {
    "ledger.domain": set(),
    "simulator": {"ledger.domain"},
    "projections": {"ledger.domain"},
    "ledger.services": {"ledger.domain"},
    "ledger.adapters": {"ledger.domain", "ledger.services.ports", "projections.rows"},
    "ledger.bootstrap": {"ledger.domain", "ledger.services", "ledger.adapters", "projections"},
    "ledger.entrypoints": {
        "ledger.domain", "ledger.services", "ledger.adapters", "ledger.bootstrap",
        "projections", "simulator",
    },
}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The project modules a module imports (resolved to modules, not names in them)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: set(_imports(name, path)) for name, path in MODULES.items()}


def _layer(name: str) -> str | None:
    return next((layer for layer in ALLOWED if name == layer or name.startswith(layer + ".")), None)


def _within(name: str, layers: set[str]) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _layer(n)))
def test_dependencies_point_inward(name: str) -> None:
    layer = _layer(name)
    assert layer is not None
    allowed = ALLOWED[layer] | {layer}
    wrong = sorted(target for target in GRAPH[name] if not _within(target, allowed))
    assert wrong == [], f"{name} ({layer}) may not import {wrong}"


def test_every_module_of_the_product_is_in_a_layer() -> None:
    product = [n for n in MODULES if not n.startswith("benchmarks") and n not in ("ledger",)]
    assert [n for n in product if _layer(n) is None] == []


def test_no_import_cycle_anywhere() -> None:
    """Tarjan's strongly connected components: every component must be one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
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
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_checker_sees_imports() -> None:
    assert "ledger.domain.events" in GRAPH["ledger.domain.unit_state"]
    assert "projections.ports" in GRAPH["projections.projector"]
    assert "ledger.services.application" not in GRAPH["projections.projector"]
