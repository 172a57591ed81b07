"""The documentation site builds with ``mkdocs build --strict`` and its code runs.

* The build is strict: a broken link, a missing nav entry, an unresolved API reference or a
  docstring mkdocstrings cannot parse fails the test (skipped only when mkdocs is not installed;
  a missing plugin is a failure, not a skip).
* Every ``python`` code block of the hand-written pages is executed, page by page, in one fresh
  namespace per page, so the docs never show code that no longer works. Blocks fenced as ``py``
  are shown but not run (used for other libraries' code, e.g. micrograd or PyTorch).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "chainrule"
NOTEBOOK_DIR = ROOT / "examples" / "notebooks"

# Pages whose code is run by the tests of what they document, in one namespace per page (run
# here too, they would register their custom operations twice in the one operations table).
TESTED_ELSEWHERE = {
    DOCS / "concepts" / "graphs.md": "tests/test_viz.py",
    DOCS / "howto" / "checkpointing.md": "tests/test_checkpoint.py",
    DOCS / "howto" / "custom-ops-in-depth.md": "tests/test_function.py",
    DOCS / "howto" / "forward-mode.md": "tests/test_forward.py",
    DOCS / "howto" / "higher-order.md": "tests/test_func.py",
}
# The hand-written pages whose code blocks must run here.
RUNNABLE_PAGES = sorted(
    {
        DOCS / "index.md",
        *(DOCS / "concepts").glob("*.md"),
        *(DOCS / "howto").glob("*.md"),
        DOCS / "coming-from-micrograd.md",
        DOCS / "coming-from-pytorch.md",
    }
    - set(TESTED_ELSEWHERE)
)
_FENCE = re.compile(r"^(?P<indent>[ ]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)


def python_blocks(text: str) -> list[str]:
    """The ``python`` fenced blocks of a Markdown page, dedented."""
    blocks = []
    for match in _FENCE.finditer(text):
        indent = len(match["indent"])
        blocks.append("".join(line[indent:] for line in match["body"].splitlines(keepends=True)))
    return blocks


@pytest.fixture(scope="module")
def site(built_site: Path) -> Path:
    return built_site  # tests/conftest.py: one strict build per test run


def test_site_builds_strict_with_every_section(site: Path) -> None:
    for page in ["index.html", "installation/index.html", "concepts/index.html",
                 "reference/index.html", "tutorial/index.html"]:  # fmt: skip
        assert (site / page).is_file(), page


def test_every_notebook_is_rendered_into_the_tutorial(site: Path) -> None:
    notebooks = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        page = site / "tutorial" / nb.stem / "index.html"
        assert page.is_file(), f"{nb.name} is not in the site (add it to the nav in mkdocs.yml)"
        html = page.read_text(encoding="utf-8")
        assert "jupyter-wrapper" in html
        assert f'href="{nb.name}"' in html and (page.parent / nb.name).is_file()  # download


def test_every_public_module_has_an_api_page(site: Path) -> None:
    documented = set()
    for page in (DOCS / "reference").glob("*.md"):
        documented |= set(re.findall(r"^::: chainrule\.(\w+)", page.read_text(), re.M))
    modules = {p.stem for p in SRC.glob("*.py") if not p.stem.startswith("_")}
    modules |= {p.parent.name for p in SRC.glob("*/__init__.py")}  # packages such as viz
    assert modules <= documented, f"no API page for {sorted(modules - documented)}"
    html = (site / "reference" / "values" / "index.html").read_text(encoding="utf-8")
    assert "chainrule.engine.Value" in html and "backward" in html


def test_docstring_powers_render_as_code_not_bold(site: Path) -> None:
    """Markdown reads the two ``**`` of ``e**x;  d/dx = e**x`` as bold; scripts/griffe_rst.py
    makes each power a code span, so no reference page glues a <strong> to a word."""
    spec = importlib.util.spec_from_file_location("griffe_rst", ROOT / "scripts" / "griffe_rst.py")
    assert spec is not None and spec.loader is not None
    griffe_rst = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(griffe_rst)
    cases = {
        "e**x;  d/dx = e**x. OverflowError for x > 709.78.": (
            "`e**x`;  d/dx = `e**x`. OverflowError for x > 709.78."
        ),
        "erf x;  d/dx = 2/sqrt(pi) e**(-x**2).": "erf x;  d/dx = 2/sqrt(pi) `e**(-x**2)`.",
        "1 / (1 + e**-x);  d/dx = 1 - tanh(x)**2": "1 / (1 + `e**-x`);  d/dx = 1 - `tanh(x)**2`",
        "``(p_i - t_i)**2`` and f(**kwargs)": "``(p_i - t_i)**2`` and f(**kwargs)",
        ">>> x**2\n4": "```pycon\n>>> x**2\n4\n```",
    }
    for docstring, markdown in cases.items():
        assert griffe_rst.markdown(docstring) == markdown
    for page in (site / "reference").rglob("index.html"):
        glued = re.findall(r"\w<strong>[^<]*</strong>", page.read_text(encoding="utf-8"))
        assert not glued, f"{page.relative_to(site)}: {glued}"


def test_figures_are_generated_into_the_site(site: Path) -> None:
    figures = sorted((site / "figures").glob("*.svg"))
    assert figures, "scripts/docs_figures.py wrote no figures"
    for figure in figures:
        assert figure.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))


def test_pages_tested_elsewhere_are_run_there() -> None:
    for page, test in TESTED_ELSEWHERE.items():
        assert page.is_file(), page
        assert f'"{page.name}"' in (ROOT / test).read_text(encoding="utf-8"), (page, test)


@pytest.mark.parametrize(
    "page", RUNNABLE_PAGES, ids=[p.relative_to(DOCS).as_posix() for p in RUNNABLE_PAGES]
)
def test_code_blocks_on_the_page_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)  # anything a snippet writes lands in a scratch directory
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, block in enumerate(python_blocks(page.read_text(encoding="utf-8")), start=1):
        code = compile(block, f"{page.relative_to(ROOT)} (python block {number})", "exec")
        exec(code, namespace)
