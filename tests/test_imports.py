"""The package's modules import each other without a circle: every import statement counts.

Every ``import`` and ``from ... import`` in a module is read, wherever it stands: at the top,
inside a function (a lazy import still ties the two modules together, it only hides the
circle until the call), and under ``if TYPE_CHECKING:`` (such an import never runs, but a
reader still needs the other module to read this one; none is needed to break a circle).
``from chainrule import x`` counts as importing ``chainrule.x`` when that is a module, and
``chainrule`` itself otherwise; a package's ``__init__`` importing its submodules counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import chainrule

PACKAGE = Path(chainrule.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, name: str, package: str, modules: set[str]) -> set[str]:
    """The chainrule modules that the source of module ``name`` (in ``package``) names in any
    import statement, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # a relative import: from the package, up level - 1 packages
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            for a in node.names:
                sub = f"{module}.{a.name}"
                found.add(sub if sub in modules else module)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    """Each chainrule module and the chainrule modules it imports."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = imports(path.read_text(encoding="utf-8"), name, package, set(paths))
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (first module repeated at the end), or None: an
    iterative depth-first search."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            name, leaving = stack.pop()
            if leaving:
                path.pop()
                done.add(name)
                continue
            if name in path:
                return [*path[path.index(name) :], name]
            if name in done:
                continue
            path.append(name)
            stack.append((name, True))
            stack += [(dep, False) for dep in sorted(graph[name], reverse=True)]
    return None


def test_no_import_circle_among_the_package_modules() -> None:
    graph = import_graph()
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])
    assert graph["chainrule.engine"] <= {
        "chainrule.value_base",
        "chainrule.grad_mode",
        "chainrule.methods",
        "chainrule.ops",
    }


def test_imports_inside_functions_and_under_type_checking_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from chainrule.grad_mode import MODE\n"
        "def f():\n    from chainrule import engine\n    from . import nn\n    return engine\n"
    )
    modules = set(import_graph())
    found = imports(source, "chainrule.ops", "chainrule", modules)
    assert found == {"chainrule.grad_mode", "chainrule.engine", "chainrule.nn"}


def test_find_circle_finds_one_and_only_one() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
