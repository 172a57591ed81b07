"""Every ``python`` code block of the docs and the README runs as shown and prints what it says.

The convention (docs/dev/code-blocks.md):

* A block fenced ```` ```python ```` is run; the blocks of one page run in order in one
  namespace, in a Python process of their own, in a scratch working directory. A block fenced
  ```` ```py ```` is shown, not run (another library's code, or a fragment).
* Everything a block prints is stated in it, in order, by ``# prints: TEXT`` comments: after the
  statement that prints it (``print(x.grad)  # prints: 42.0``), or on lines of their own for
  output of a loop or of several lines. Or, for a long output, by a ```` ```text ```` block
  right after the code block (nothing but blank lines between). The block's output must equal
  the stated text, line for line; a block that states nothing must print nothing.
* A block that shows an error on purpose marks the statement with ``# raises: SomeError``; the
  block must raise exactly that (the marked statement is then the block's last).
* A ``print(...)`` line may carry only a ``# prints:`` comment, so no stated output goes unchecked.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGE_TIMEOUT_S = 300  # a hang fails instead of stalling CI; a page takes seconds

_FENCE = re.compile(r"^(?P<indent>[ ]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
_PRINTS = re.compile(r"#\s*prints:[ ]?(?P<text>.*?)\s*$")
_RAISES = re.compile(r"#\s*raises:\s*(?P<name>[A-Za-z_][\w.]*)")
_PRINT_WITH_COMMENT = re.compile(r"^\s*print\(.*\)\s*#(?!\s*prints:)")
_OUTPUT = re.compile(r"\n*```text\n(?P<body>.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Block:
    """One ``python`` block: its code, first line in the page, stated output and error."""

    code: str
    line: int
    prints: tuple[str, ...]
    raises: str | None


def blocks(text: str) -> list[Block]:
    """The ``python`` blocks of a Markdown page, dedented, with what they claim."""
    found = []
    for match in _FENCE.finditer(text):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        prints = tuple(m["text"] for m in map(_PRINTS.search, code.splitlines()) if m)
        output = _OUTPUT.match(text, match.end())
        if output is not None:
            assert not prints, f"block at line {match.start()}: # prints: and a text block"
            prints = tuple(output["body"].splitlines())
        raised = _RAISES.search(code)
        line = text.count("\n", 0, match.start()) + 2
        found.append(Block(code, line, prints, raised["name"] if raised else None))
    return found


def _pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    return [p for p in pages if _FENCE.search(p.read_text(encoding="utf-8"))]


PAGES = _pages()


def test_the_convention_is_read_as_documented() -> None:
    page = (
        "```python\nx = 2\nprint(x)  # prints: 2\nfor i in range(2):\n    print(i)\n"
        "# prints: 0\n# prints: 1\n```\n\n```py\nnot run\n```\n\n"
        "  ```python\n  1 / 0  # raises: ZeroDivisionError\n  ```\n"
        "```python\nprint('a')\nprint('b')\n```\n\n```text\na\nb\n```\n"
    )
    first, second, third = blocks(page)
    assert first.prints == ("2", "0", "1") and first.raises is None and first.line == 2
    assert second.code == "1 / 0  # raises: ZeroDivisionError\n"
    assert second.raises == "ZeroDivisionError" and second.prints == ()
    assert third.prints == ("a", "b")
    assert _PRINT_WITH_COMMENT.search("print(x)  # 42.0")
    assert not _PRINT_WITH_COMMENT.search("print(x)  # prints: 42.0")


def test_a_wrong_stated_output_fails() -> None:
    (block,) = blocks("```python\nprint(0.1 + 0.2)  # prints: 0.3\n```\n")
    with pytest.raises(AssertionError, match=re.escape("0.30000000000000004")):
        _run(block, "page.md", {})


def test_a_block_that_does_not_raise_what_it_says_fails() -> None:
    (block,) = blocks("```python\nx = int('7')  # raises: ValueError\n```\n")
    with pytest.raises(AssertionError, match="did not raise ValueError"):
        _run(block, "page.md", {})
    (block,) = blocks("```python\nx = int('seven')  # raises: TypeError\n```\n")
    with pytest.raises(ValueError, match="seven"):
        _run(block, "page.md", {})


def test_the_docs_have_code_to_check() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/index.md", "docs/concepts/graphs.md"} <= names, sorted(names)


def _run(block: Block, where: str, namespace: dict[str, Any]) -> None:
    """Run one block in ``namespace``; AssertionError when it prints or raises otherwise."""
    code = compile(block.code, f"{where}:{block.line} (python block)", "exec")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(code, namespace)
        except Exception as error:
            if type(error).__name__ != block.raises:
                raise
        else:
            assert block.raises is None, f"{where}:{block.line}: did not raise {block.raises}"
    printed = out.getvalue().splitlines()
    assert printed == list(block.prints), (
        f"{where}:{block.line}: the block's # prints: comments say {list(block.prints)}, "
        f"it printed {printed}"
    )


def check_page(page: Path) -> None:
    """Run every block of ``page`` in order, in one namespace, in the current directory."""
    where = page.relative_to(ROOT).as_posix()
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for block in blocks(page.read_text(encoding="utf-8")):
        unchecked = [line for line in block.code.splitlines() if _PRINT_WITH_COMMENT.search(line)]
        assert not unchecked, f"{where}:{block.line}: state printed output as # prints: {unchecked}"
        _run(block, where, namespace)


# Pages whose code trains a model for several seconds: the slow tier runs them.
SLOW_PAGES = {"docs/howto/train-mlp.md"}


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            p, marks=pytest.mark.slow if p.relative_to(ROOT).as_posix() in SLOW_PAGES else ()
        )
        for p in PAGES
    ],
    ids=[p.relative_to(ROOT).as_posix() for p in PAGES],
)
def test_code_blocks_run_and_print_what_the_page_says(page: Path, tmp_path: Path) -> None:
    # A fresh interpreter per page: a page that registers a custom op or a Function subclass
    # must not rename the same op on another page or in another test (Softclip -> Softclip#2).
    # Its working directory is scratch: anything a snippet writes lands there.
    result = subprocess.run(
        [sys.executable, __file__, str(page)],
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_readme_second_derivative_example_tells_the_two_derivatives_apart() -> None:
    quick_start = blocks((ROOT / "README.md").read_text(encoding="utf-8"))[0]
    namespace: dict[str, Any] = {}
    _run(quick_start, "README.md", namespace)
    # at z = 2, 3 z^2 and 6 z are both 12: a reader could not tell which one was printed
    assert namespace["g"].data != namespace["z"].grad


if __name__ == "__main__":  # one page, run by the test above in its own interpreter
    check_page(Path(sys.argv[1]).resolve())
