"""A griffe extension for the API reference: render chainrule's reST-flavoured docstrings.

The docstrings are written for ``help()`` and for reading in the source, with a few reST habits:
cross-reference roles (``:class:`~chainrule.Value```), literal blocks introduced by ``::``,
bare ``>>>`` examples and simple tables bordered by ``=====``. mkdocstrings renders docstrings
as Markdown, so this extension (enabled in ``mkdocs.yml``) rewrites those constructs into their
Markdown equivalents before rendering. The source is not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

# :role:`target`, :role:`~pkg.mod.target`, :role:`title <target>`
_ROLE = re.compile(r":(?:class|func|meth|data|mod|attr|obj|exc):`(?P<body>[^`]+)`")
_BORDER = re.compile(r"^(?P<indent> *)=+(?: +=+)+ *$")


def _role(match: re.Match[str]) -> str:
    body = match["body"]
    titled = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^>]+)>", body)
    if titled:
        return f"`{titled['title']}`"
    if body.startswith("~"):
        return f"`{body[1:].rsplit('.', 1)[-1]}`"
    return f"`{body}`"


def _cells(line: str, spans: list[tuple[int, int]]) -> list[str]:
    cells = []
    for i, (start, end) in enumerate(spans):
        stop = spans[i + 1][0] if i + 1 < len(spans) else len(line)
        cells.append(_escape(line[start : max(end, stop)].strip()))
    return cells


def _escape(cell: str) -> str:
    """Escape ``|`` everywhere and braces outside code spans (``{-1, 1}`` is not attr_list)."""
    parts = re.split(r"(`+[^`]*`+)", cell.replace("|", "\\|"))
    return "".join(
        part if part.startswith("`") else part.replace("{", "\\{").replace("}", "\\}")
        for part in parts
    )


def _tables(lines: list[str]) -> list[str]:
    """Rewrite reST simple tables (header, then rows, between ``====`` borders) as Markdown."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        border = _BORDER.match(lines[i])
        if not border:
            out.append(lines[i])
            i += 1
            continue
        spans = [(m.start(), m.end()) for m in re.finditer(r"=+", lines[i])]
        borders = [i]
        j = i + 1
        while j < len(lines) and len(borders) < 3:
            if _BORDER.match(lines[j]):
                borders.append(j)
            elif not lines[j].strip():
                break
            j += 1
        if len(borders) == 2:  # no header: a border, rows, a border
            header, rows = None, lines[borders[0] + 1 : borders[1]]
        elif len(borders) == 3:
            header = lines[borders[0] + 1 : borders[1]]
            rows = lines[borders[1] + 1 : borders[2]]
        else:
            out.append(lines[i])
            i += 1
            continue
        indent = border["indent"]
        head = _cells(header[0], spans) if header else [""] * len(spans)
        out.append("")
        out.append(indent + "| " + " | ".join(head) + " |")
        out.append(indent + "|" + "---|" * len(spans))
        out.extend(
            indent + "| " + " | ".join(_cells(row, spans)) + " |" for row in rows if row.strip()
        )
        out.append("")
        i = borders[-1] + 1
    return out


def _literal_blocks(lines: list[str]) -> list[str]:
    """``text::`` + an indented block becomes ``text:`` + a fenced code block."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.rstrip().endswith("::"):
            out.append(line)
            i += 1
            continue
        stripped = line.rstrip()[:-2].rstrip()
        if stripped.strip():
            out.append(stripped + ":")
        base = len(line) - len(line.lstrip())
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        block_start = j
        while j < len(lines) and (
            not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > base
        ):
            j += 1
        block = lines[block_start:j]
        while block and not block[-1].strip():
            block.pop()
        if not block:
            i += 1
            continue
        depth = min(len(b) - len(b.lstrip()) for b in block if b.strip())
        out.append("")
        language = "pycon" if block[0].lstrip().startswith(">>>") else "python"
        out.append(" " * base + "```" + language)
        out.extend(" " * base + b[depth:] if b.strip() else "" for b in block)
        out.append(" " * base + "```")
        out.append("")
        i = j
    return out


def _doctests(lines: list[str]) -> list[str]:
    """Doctest examples (``>>>`` up to the next blank line) become fenced ``pycon`` blocks."""
    out: list[str] = []
    fenced = False
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            fenced = not fenced  # a literal block made above: leave its >>> lines alone
        if fenced or not lines[i].lstrip().startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        j = i
        while j < len(lines) and lines[j].strip():
            j += 1
        if out and out[-1].strip():
            out.append("")
        out.append(indent + "```pycon")
        out.extend(lines[i:j])
        out.append(indent + "```")
        i = j
    return out


# A power written the Python way, ``e**x``, ``tanh(x)**2``, ``e**(-x**2)``, ``e**-x``: Markdown
# would read a pair of ``**`` as bold ("e<strong>x; d/dx = e</strong>x"), so it becomes a code span.
_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"  # x, tanh, math.e
_GROUP = r"\((?:[^()]|\([^()]*\))*\)"  # parentheses, nested one level
_OPERAND = rf"(?:{_NAME})?{_GROUP}|{_NAME}|\d+(?:\.\d+)?"
_POWER = re.compile(rf"(?<![\w`])(?:{_OPERAND})(?:\*\*-?(?:{_OPERAND}))+")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def _powers(lines: list[str]) -> list[str]:
    """Wrap each ``a**b`` outside code spans and fenced blocks in a code span."""
    out: list[str] = []
    fenced = False
    for line in lines:
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced or "**" not in line:
            out.append(line)
            continue
        pieces, last = [], 0
        for span in _CODE_SPAN.finditer(line):
            pieces.append(_POWER.sub(lambda m: f"`{m[0]}`", line[last : span.start()]))
            pieces.append(span[0])
            last = span.end()
        pieces.append(_POWER.sub(lambda m: f"`{m[0]}`", line[last:]))
        out.append("".join(pieces))
    return out


def markdown(docstring: str) -> str:
    """The docstring with reST roles, literal blocks, doctests and simple tables made Markdown,
    and Python powers (``e**x``) as code spans rather than bold."""
    text = _ROLE.sub(_role, docstring)
    lines = _literal_blocks(_tables(text.splitlines()))
    return "\n".join(_powers(_doctests(lines)))


class RestToMarkdown(griffe.Extension):
    """Rewrite each docstring once, as griffe loads the object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
