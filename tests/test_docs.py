"""The documentation site builds with ``mkdocs build --strict``.

The build is strict: a broken link, a missing nav entry, an unresolved API reference or a
docstring mkdocstrings cannot parse fails the test (skipped only when mkdocs is not installed;
a missing plugin is a failure, not a skip). The code blocks of every page and of the README
are run, and their printed output checked, by tests/test_doc_code.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "chainrule"
NOTEBOOK_DIR = ROOT / "examples" / "notebooks"

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


@pytest.mark.slow  # every test taking `site` waits for one mkdocs build (~40 s)
def test_site_builds_strict_with_every_section(site: Path) -> None:
    for page in ["index.html", "installation/index.html", "concepts/index.html",
                 "reference/index.html", "tutorial/index.html"]:  # fmt: skip
        assert (site / page).is_file(), page


@pytest.mark.slow
def test_every_notebook_is_rendered_into_the_tutorial(site: Path) -> None:
    notebooks = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        page = site / "tutorial" / nb.stem / "index.html"
        assert page.is_file(), f"{nb.name} is not in the site (add it to the nav in mkdocs.yml)"
        html = page.read_text(encoding="utf-8")
        assert "jupyter-wrapper" in html
        assert f'href="{nb.name}"' in html and (page.parent / nb.name).is_file()  # download


@pytest.mark.slow
def test_every_public_module_has_an_api_page(site: Path) -> None:
    documented = set()
    for page in (DOCS / "reference").glob("*.md"):
        documented |= set(re.findall(r"^::: chainrule\.(\w+)", page.read_text(), re.M))
    modules = {p.stem for p in SRC.glob("*.py") if not p.stem.startswith("_")}
    modules |= {p.parent.name for p in SRC.glob("*/__init__.py")}  # packages such as viz
    assert modules <= documented, f"no API page for {sorted(modules - documented)}"
    html = (site / "reference" / "values" / "index.html").read_text(encoding="utf-8")
    assert "chainrule.engine.Value" in html and "backward" in html


@pytest.mark.slow
def test_docstring_powers_render_as_code_not_bold(site: Path) -> None:
    """Markdown reads the two ``**`` of ``e**x;  d/dx = e**x`` as bold; scripts/griffe_rst.py
    makes each power a code span, so no reference page glues a <strong> to a word."""
    import griffe_rst  # scripts/griffe_rst.py

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


@pytest.mark.slow
def test_figures_are_generated_into_the_site(site: Path) -> None:
    figures = sorted((site / "figures").glob("*.svg"))
    assert figures, "scripts/docs_figures.py wrote no figures"
    for figure in figures:
        assert figure.read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
