"""The code a learner reads from ``import chainrule`` through ``a * b`` to ``a.grad`` stays short.

What counts, in a fresh interpreter profiled from ``import chainrule`` through :data:`SNIPPET`:
the files in which some function of the package runs during the snippet, and in those files
everything of the package that runs from the import on (the wiring that builds the methods
included):

* every function that runs, whole (branches it does not take included);
* a lambda that runs: the table row (the top-level statement) that holds it;
* a class body that runs: its own statements (header, decorators, fields), not its methods,
  which count only when they run;
* the module's wiring: its top-level loops, calls and attribute assignments
  (``Value._apply = ...``).

A line counts once, and only when it holds code: blank, comment and docstring lines do not
(Python's own tokenizer decides). Run this file with ``python tests/test_learner_path.py`` to
see the list.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from source_lines import code_lines

import chainrule

PACKAGE = Path(chainrule.__file__).resolve().parent
# The one reverse pass also serves several roots, hooks, anomaly mode, create_graph, masked
# edges and the walkthrough's view; the topological order is iterative (no recursion limit)
# and filters parents as it pushes them; apply loops over its inputs once, since a
# comprehension costs a call in Python 3.11.
BUDGET = 110  # lines, in at most FILES files
FILES = 3
SNIPPET = """
a = Value(2.0)
b = Value(3.0)
c = a * b
c.backward()
a.grad
"""

# Run in a fresh interpreter: which code objects of the package are called while
# ``import chainrule`` runs, and which while the snippet runs.
_PROFILE = """
import json, sys
package = sys.argv[1]
ran = {"import": set(), "snippet": set()}
phase = ["import"]
def profile(frame, event, arg):
    code = frame.f_code
    if event == "call" and code.co_filename.startswith(package):
        ran[phase[0]].add((code.co_filename, code.co_name, code.co_firstlineno))
sys.setprofile(profile)
import chainrule
phase[0] = "snippet"
exec(sys.argv[2], {"Value": chainrule.Value})
sys.setprofile(None)
print(json.dumps({k: sorted(v) for k, v in ran.items()}))
"""


def _ran() -> dict[str, list[tuple[str, str, int]]]:
    """The package's code objects that ran, per phase, as (file, name, first line)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROFILE, str(PACKAGE), SNIPPET],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(PACKAGE.parent)},
    )
    return {k: [tuple(x) for x in v] for k, v in json.loads(result.stdout).items()}


def _lines_of(node: ast.AST) -> set[int]:
    return set(range(getattr(node, "lineno", 0), (getattr(node, "end_lineno", 0) or 0) + 1))


def _class_lines(node: ast.ClassDef) -> set[int]:
    """The class's own statements: header, decorators and every statement that is no method."""
    lines = set(range(min([node.lineno, *(d.lineno for d in node.decorator_list)]),
                      node.body[0].lineno))  # fmt: skip
    stack: list[ast.stmt] = list(node.body)
    while stack:
        statement = stack.pop()
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(statement, ast.If):  # its test, then its branches' own statements
            lines |= _lines_of(statement.test)
            stack += statement.body + statement.orelse
        else:
            lines |= _lines_of(statement)
    return lines


def _wiring(tree: ast.Module) -> set[int]:
    """Top-level statements that run package code at import: loops, calls, ``X.attr = ...``."""
    lines: set[int] = set()
    for statement in tree.body:
        wires = isinstance(statement, (ast.For, ast.While, ast.With)) or (
            isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
        )
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if wires or any(isinstance(t, ast.Attribute) for t in targets):
            lines |= _lines_of(statement)
    return lines


def _span(tree: ast.Module, name: str, first: int) -> tuple[str, set[int]]:
    """What a learner reads for the code object ``name`` that starts at line ``first``."""
    if name == "<module>":
        return "(module wiring)", _wiring(tree)
    if name.startswith("<") and name != "<lambda>":
        return "", set()  # a comprehension: inside a function that counts already
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if node.name == name and start == first:
                if isinstance(node, ast.ClassDef):
                    return f"class {name}", _class_lines(node)
                return name, _lines_of(node) | set(range(start, node.lineno))
    for statement in tree.body:  # a lambda: the table row (a top-level statement) holding it
        if statement.lineno <= first <= (statement.end_lineno or statement.lineno):
            return f"row at line {statement.lineno}", _lines_of(statement)
    raise LookupError(f"no definition of {name} at line {first}")


def learner_path() -> dict[str, dict[str, int]]:
    """Code lines read per file, per piece (each line counted once, by its first piece)."""
    ran = _ran()
    files = sorted({f for f, _, _ in ran["snippet"]})
    result: dict[str, dict[str, int]] = {}
    for file in files:
        source = Path(file).read_text(encoding="utf-8")
        tree, code = ast.parse(source), code_lines(source)
        seen: set[int] = set()
        pieces: dict[str, int] = defaultdict(int)
        for phase in ("import", "snippet"):
            for f, name, first in ran[phase]:
                if f != file:
                    continue
                label, lines = _span(tree, name, first)
                new = (lines & code) - seen
                seen |= new
                if new:
                    pieces[f"{label} ({phase})"] += len(new)
        result[Path(file).name] = dict(pieces)
    return result


def test_a_learner_reads_at_most_the_budget_in_three_files() -> None:
    path = learner_path()
    total = sum(sum(per_piece.values()) for per_piece in path.values())
    assert len(path) <= FILES, path
    assert total <= BUDGET, path


def test_the_counter_counts_code_lines_only() -> None:
    source = 'def f(x):\n    """Doc."""\n\n    # a comment\n    return (x +\n            1)\n'
    assert code_lines(source) == {1, 5, 6}


def test_a_class_body_counts_its_own_statements_not_its_methods() -> None:
    source = (
        "@dec\nclass A:\n    '''Doc.'''\n    x: int\n    def f(self):\n        return 1\n"
        "    if T:\n        def g(self): ...\n    y = 2\n"
    )
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.ClassDef)
    assert _class_lines(node) & code_lines(source) == {1, 2, 4, 7, 9}


if __name__ == "__main__":
    found = learner_path()
    for file, pieces in found.items():
        print(f"{file}: {sum(pieces.values())} lines")
        for piece, n in pieces.items():
            print(f"  {n:3d}  {piece}")
    print(f"total: {sum(sum(f.values()) for f in found.values())} (budget {BUDGET})")
