"""Counting the lines a reader reads: code lines only, no blank, comment or docstring lines."""

from __future__ import annotations

import ast
import io
import tokenize


def code_lines(source: str) -> set[int]:
    """Numbers of the lines that hold code (no blank, comment or docstring lines)."""
    tree = ast.parse(source)
    docs: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            is_text = isinstance(node.value.value, str)
            docs.update(range(node.lineno, (node.end_lineno or node.lineno) + 1) if is_text else ())
    lines: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip and tok.type != tokenize.ENDMARKER:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines - docs
