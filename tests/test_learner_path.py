"""The code a learner reads from ``a * b`` to ``a.grad`` stays short.

What counts: every function of the package that runs in :data:`SNIPPET`, whole (branches it
does not take included), the statement that defines each lambda that runs (the op's table
row) and the class line and fields of ``Op``. A line counts when it holds code: blank,
comment and docstring lines do not (Python's own tokenizer decides). Run this file with
``python tests/test_learner_path.py`` to see the list.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from source_lines import code_lines

import chainrule

PACKAGE = Path(chainrule.__file__).resolve().parent
# The one reverse pass also serves several roots, hooks, anomaly mode, create_graph,
# hand-written backwards and the walkthrough's view; the topological order is iterative (no
# recursion limit); apply loops over its inputs once, since a comprehension costs a call in
# Python 3.11.
BUDGET = 100  # lines, in at most three files
SNIPPET = """
a = Value(2.0)
b = Value(3.0)
c = a * b
c.backward()
a.grad
"""


def _span(tree: ast.Module, code: CodeType) -> tuple[int, int]:
    """First and last line of what a learner reads for ``code``: its def, or its lambda's row."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if code.co_name == node.name and code.co_firstlineno == first:
                return first, node.end_lineno or node.lineno
    for statement in tree.body:  # a lambda: the table row (a top-level statement) holding it
        end = statement.end_lineno or statement.lineno
        if statement.lineno <= code.co_firstlineno <= end:
            return statement.lineno, end
    raise LookupError(f"no definition of {code.co_name} at line {code.co_firstlineno}")


def _op_fields(tree: ast.Module) -> tuple[int, int]:
    """The decorator, class line and fields of Op (its methods count only when they run)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Op":
            fields = [s for s in node.body if not isinstance(s, ast.FunctionDef)]
            return node.decorator_list[0].lineno, max(s.end_lineno or s.lineno for s in fields)
    raise LookupError("class Op")


def learner_path() -> dict[str, dict[str, int]]:
    """Lines read per file, per function, while SNIPPET runs."""
    ran: set[CodeType] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        inner = code.co_name.startswith("<") and code.co_name != "<lambda>"  # a comprehension
        ours = Path(code.co_filename).resolve().is_relative_to(PACKAGE)
        if event == "call" and ours and not inner:
            ran.add(code)

    namespace = {"Value": chainrule.Value}
    sys.setprofile(profile)
    try:
        exec(SNIPPET, namespace)
    finally:
        sys.setprofile(None)

    spans: dict[Path, dict[str, tuple[int, int]]] = defaultdict(dict)
    for code in ran:
        path = Path(code.co_filename).resolve()
        name = getattr(code, "co_qualname", code.co_name)  # co_qualname: Python 3.11+
        spans[path][name] = _span(ast.parse(path.read_text()), code)
    ops = PACKAGE / "ops.py"
    spans[ops]["Op (class and fields)"] = _op_fields(ast.parse(ops.read_text()))
    result: dict[str, dict[str, int]] = {}
    for path, named in spans.items():
        lines = code_lines(path.read_text())
        result[path.name] = {
            name: len([n for n in lines if first <= n <= last])
            for name, (first, last) in sorted(named.items(), key=lambda item: item[1])
        }
    return result


def test_a_learner_reads_at_most_the_budget_in_three_files() -> None:
    path = learner_path()
    total = sum(sum(per_function.values()) for per_function in path.values())
    assert len(path) <= 3, path
    assert total <= BUDGET, path


def test_the_counter_counts_code_lines_only() -> None:
    source = 'def f(x):\n    """Doc."""\n\n    # a comment\n    return (x +\n            1)\n'
    assert code_lines(source) == {1, 5, 6}


if __name__ == "__main__":
    found = learner_path()
    for file, functions in found.items():
        print(f"{file}: {sum(functions.values())} lines")
        for function, n in functions.items():
            print(f"  {n:3d}  {function}")
    print(f"total: {sum(sum(f.values()) for f in found.values())} (budget {BUDGET})")
