"""Every function of the package reads in one sitting: at most 60 code lines.

A function's lines are those of its ``def`` through its last statement, decorators included,
functions nested in it included; blank, comment and docstring lines do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

from source_lines import code_lines

import chainrule

PACKAGE = Path(chainrule.__file__).resolve().parent
LIMIT = 60


def long_functions(limit: int = LIMIT) -> list[str]:
    """``file:line name (n lines)`` for every function of the package longer than ``limit``."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = code_lines(source)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                span = range(first, (node.end_lineno or node.lineno) + 1)
                n = len(lines.intersection(span))
                if n > limit:
                    out.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({n} lines)")
    return out


def test_no_function_is_longer_than_sixty_code_lines() -> None:
    assert long_functions() == []


def test_the_counter_sees_a_long_function() -> None:
    # A 61-line body of assignments, one docstring and one comment: 62 code lines with the def.
    body = "".join(f"    x{i} = {i}\n" for i in range(61))
    source = f'def f():\n    """Doc."""\n    # why\n{body}'
    tree = ast.parse(source)
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    assert len(code_lines(source) & set(range(1, (node.end_lineno or 1) + 1))) == 62
