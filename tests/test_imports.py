"""The package's modules import each other without a circle (module-level imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import chainrule

PACKAGE = Path(chainrule.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The chainrule modules ``path`` imports at import time (not under TYPE_CHECKING, not in
    functions); ``from chainrule import x`` counts as importing the module ``chainrule.x``."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in modules else node.module)
    return {m for m in found if m in modules}


def test_no_import_circle_among_the_package_modules() -> None:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, set(paths)) - {name} for name, path in paths.items()}
    for name in graph:  # a package imports its own submodules: that is no circle
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert "chainrule.engine" in graph and graph["chainrule.engine"] <= {
        "chainrule.anomaly",
        "chainrule.conveniences",
        "chainrule.grad_mode",
        "chainrule.ops",
    }
