"""The documentation site as a reader meets it: every built page opened in headless Chromium.

The site is built once per run (``built_site`` in tests/conftest.py, ``mkdocs build --strict``,
which executes the tutorial notebooks), served on localhost and visited page by page with the
shared harness (tests/browser.py). Each test below checks one thing a reader would notice, on
every page: math left as raw TeX after MathJax has run, a broken image or link, a JavaScript
error, a request to any host but localhost, a code cell running off the page, a tutorial page
without its outputs, a docstring formula turned bold. Screenshots of the home page and of a
tutorial page are written to out/screenshots/ as artefacts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from browser import BROWSER_MARKS, SCREENSHOT_DIR, axe_violations, browser_page, serve

pytestmark = BROWSER_MARKS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "examples" / "notebooks"
SCREENSHOT_TUTORIAL = "tutorial/02_fan_out_and_topological_order/"

# TeX that MathJax should have turned into math: delimiters and control words.
RAW_TEX = re.compile(
    r"\$\$|\$[^$\s][^$\n]*\$|\\[()\[\]]|\\(?:frac|cdot|partial|sum|prod|sqrt|mathrm|mathbf|"
    r"left|right|nabla|top|epsilon|alpha|beta|sigma|theta|lambda|log|exp|tanh|times|le|ge|"
    r"approx|infty|quad|text|operatorname|bar|hat|odot|in|to)\b"
)

# Run in the page: wait for MathJax, load every image, then report what the reader sees.
INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    let promise;
    do { promise = MathJax.startup.promise; await promise; }
    while (promise !== MathJax.startup.promise);
  }
  await document.fonts.ready;
  const images = [...document.images];
  images.forEach((img) => { img.loading = "eager"; });
  await Promise.all(images.map((img) => img.decode().catch(() => null)));

  const skip = "pre, code, script, style, noscript, textarea, svg, mjx-container, kbd";
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip) || !node.textContent.trim()) continue;
    if (!parent.checkVisibility({ visibilityProperty: true })) continue;
    texts.push(node.textContent);
  }
  const content = document.querySelector(".md-content__inner");
  const right = content ? content.getBoundingClientRect().right : window.innerWidth;
  const overflowing = [...document.querySelectorAll(".jupyter-wrapper pre, .md-typeset pre")]
    .filter((pre) => {
      const box = pre.getBoundingClientRect();
      if (box.width === 0) return false;
      const style = getComputedStyle(pre);
      const scrolls = ["auto", "scroll"].includes(style.overflowX)
        || ["auto", "scroll"].includes(getComputedStyle(pre.parentElement).overflowX);
      const clipped = pre.scrollWidth > pre.clientWidth + 1 && !scrolls
        && style.whiteSpace !== "pre-wrap";
      return box.right > right + 1 || clipped;
    })
    .map((pre) => pre.textContent.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), ""));
  // code in a table of a notebook's output (side by side) that may wrap in the middle of a word
  const midWord = [...document.querySelectorAll(".jupyter-wrapper table pre")]
    .filter((pre) => {
      const style = getComputedStyle(pre);
      return style.whiteSpace !== "pre"
        && (style.wordBreak === "break-all" || style.overflowWrap === "anywhere");
    })
    .map((pre) => pre.textContent.slice(0, 60));
  const outputs = [...document.querySelectorAll(".jp-OutputArea-output")];
  return {
    title: document.title,
    text: texts.join("\\n"),
    images: images.map((img) => ({ src: img.currentSrc || img.src, width: img.naturalWidth })),
    links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
    ids: [...document.querySelectorAll("[id], a[name]")].map((e) => e.id || e.name),
    math: document.querySelectorAll("mjx-container").length,
    mathErrors: [...document.querySelectorAll("mjx-merror")].map((e) => e.textContent),
    blankGlyphs: [...document.querySelectorAll("mjx-c")]
      .filter((c) => getComputedStyle(c, "::before").content === "none").length,
    brokenFonts: [...document.fonts].filter((f) => f.status === "error").map((f) => f.family),
    pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    overflowingCode: overflowing,
    codeBrokenMidWord: midWord,
    sideBySide: [...document.querySelectorAll(".jupyter-wrapper table.side-by-side")].map(
      (table) => table.getBoundingClientRect().width),
    outputs: outputs.length,
    outputImages: document.querySelectorAll(
      ".jp-OutputArea-output img, .jp-OutputArea-output svg").length,
    outputText: outputs.map((o) => o.innerText).join("\\n"),
    docstringBold: [...document.querySelectorAll(".doc-contents strong")].map((e) => e.outerHTML),
    frames: [...document.querySelectorAll("img.graph-frame")].map((img) => ({
      natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
    })),
  };
}"""


@dataclass
class Visit:
    """What one page showed, after MathJax finished and every image loaded."""

    path: str
    status: int
    report: dict[str, Any]
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    axe: list[dict[str, Any]] = field(default_factory=list)  # in the light theme


@dataclass
class SiteVisit:
    base: str
    pages: dict[str, Visit]
    link_status: dict[str, int]  # every same-host link target (no fragment) -> HTTP status
    dark_axe: dict[str, list[dict[str, Any]]]  # axe-core's violations in the dark theme


def _dark_axe(page: Any, base: str, paths: list[str]) -> dict[str, list[dict[str, Any]]]:
    """axe-core on every page in the dark theme, the one a reader's system asking for dark
    gets (the theme's saved choice is removed before each page loads)."""
    page.emulate_media(color_scheme="dark")
    # Before any page script: a page of the light pass may save its palette as it unloads.
    page.add_init_script(
        "for (const key of Object.keys(localStorage))"
        " if (key.endsWith('__palette')) localStorage.removeItem(key);"
    )
    found = {}
    for path in paths:
        page.goto(base + path, wait_until="load")
        ready(page, path)
        if page.evaluate("() => 'mdColorScheme' in document.body.dataset"):  # a theme page
            page.wait_for_function("() => document.body.dataset.mdColorScheme === 'slate'")
        found[path] = axe_violations(page)
    return found


def _pages(site: Path) -> list[str]:
    """URL paths of every HTML page of the site, directory pages as 'dir/'."""
    paths = []
    for html in sorted(site.rglob("*.html")):
        rel = html.relative_to(site).as_posix()
        if rel.startswith(("javascripts/", "assets/")):
            continue
        paths.append(rel[: -len("index.html")] if rel.endswith("index.html") else rel)
    return paths


PLAYGROUND_START_MS = 180_000


def ready(page: Any, path: str) -> None:
    """Wait until the page shows what a reader reads: the playground, its first run."""
    if path == "playground/":
        page.wait_for_selector('.crp[data-runs="1"]', timeout=PLAYGROUND_START_MS)


def _fresh(items: list[str], start: int) -> list[str]:
    return list(items[start:])


@pytest.fixture(scope="module")
def visit(built_site: Path) -> Iterator[SiteVisit]:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with serve(built_site) as base, browser_page() as watched:
        page = watched.page
        page.emulate_media(color_scheme="light")
        pages: dict[str, Visit] = {}
        for path in _pages(built_site):
            marks = (
                len(watched.console_errors),
                len(watched.failed_requests),
                len(watched.external_requests),
            )
            response = page.goto(base + path, wait_until="load")
            ready(page, path)
            report = page.evaluate(INSPECT)
            pages[path] = Visit(
                path=path,
                status=response.status if response else 0,
                report=report,
                console_errors=_fresh(watched.console_errors, marks[0]),
                failed_requests=_fresh(watched.failed_requests, marks[1]),
                external_requests=_fresh(watched.external_requests, marks[2]),
                axe=axe_violations(page),
            )
            if path == "":
                page.screenshot(path=str(SCREENSHOT_DIR / "home.png"))
            elif path == SCREENSHOT_TUTORIAL:
                page.screenshot(path=str(SCREENSHOT_DIR / "tutorial.png"))
                page.screenshot(path=str(SCREENSHOT_DIR / "tutorial-full.png"), full_page=True)

        host = urlsplit(base).netloc
        targets = {
            urldefrag(link).url
            for visit in pages.values()
            for link in visit.report["links"]
            if urlsplit(link).netloc == host
        }
        link_status = {}
        for target in sorted(targets):
            link_status[target] = page.request.get(target).status
        dark = _dark_axe(page, base, list(pages))
        yield SiteVisit(base=base, pages=pages, link_status=link_status, dark_axe=dark)


def _failures(visit: SiteVisit, check: Any) -> str:
    lines = []
    for path, page in visit.pages.items():
        for problem in check(page):
            lines.append(f"/{path}: {problem}")
    return "\n".join(lines)


def test_every_page_is_visited(visit: SiteVisit) -> None:
    assert "" in visit.pages and SCREENSHOT_TUTORIAL in visit.pages
    assert "reference/" in visit.pages and "concepts/chain-rule/" in visit.pages
    assert all(page.status == 200 for page in visit.pages.values())
    assert (SCREENSHOT_DIR / "home.png").stat().st_size > 10_000
    assert (SCREENSHOT_DIR / "tutorial.png").stat().st_size > 10_000


def test_no_raw_tex_is_left_after_mathjax(visit: SiteVisit) -> None:
    def raw_tex(page: Visit) -> Iterator[str]:
        for line in page.report["text"].splitlines():
            match = RAW_TEX.search(line)
            if match:
                yield f"raw TeX {match[0]!r} in {line.strip()[:120]!r}"
        for error in page.report["mathErrors"]:
            yield f"MathJax error: {error}"
        if page.report["blankGlyphs"]:
            yield f"{page.report['blankGlyphs']} typeset characters have no glyph (blank math)"
        for family in page.report["brokenFonts"]:
            yield f"font {family} failed to load"

    assert not (problems := _failures(visit, raw_tex)), problems


def test_math_is_typeset_on_pages_that_have_it(visit: SiteVisit) -> None:
    for path in ["concepts/chain-rule/", SCREENSHOT_TUTORIAL, "howto/higher-order/"]:
        assert visit.pages[path].report["math"] > 3, f"/{path}: MathJax typeset nothing"


def test_no_broken_images(visit: SiteVisit) -> None:
    def broken(page: Visit) -> Iterator[str]:
        for image in page.report["images"]:
            if image["width"] == 0:
                yield f"image did not load: {image['src']}"

    assert not (problems := _failures(visit, broken)), problems


def test_no_broken_links(visit: SiteVisit) -> None:
    broken = {url: status for url, status in visit.link_status.items() if status >= 400}
    assert not broken, "\n".join(f"{url}: HTTP {status}" for url, status in broken.items())

    def missing_anchor(page: Visit) -> Iterator[str]:
        here = urljoin(visit.base, page.path)
        for link in page.report["links"]:
            url, fragment = urldefrag(link)
            target = url[len(visit.base) :] if url.startswith(visit.base) else None
            if not fragment or target is None or target not in visit.pages:
                continue
            if fragment not in visit.pages[target].report["ids"]:
                yield f"link to a missing anchor: {link} (from {here})"

    assert not (problems := _failures(visit, missing_anchor)), problems


def test_no_javascript_errors_and_no_failed_requests(visit: SiteVisit) -> None:
    def errors(page: Visit) -> Iterator[str]:
        yield from (f"console: {e}" for e in page.console_errors)
        # A request the next navigation cancels (net::ERR_ABORTED) is not a broken file.
        failed = [r for r in page.failed_requests if not r.endswith("net::ERR_ABORTED")]
        yield from (f"request failed: {r}" for r in failed)

    assert not (problems := _failures(visit, errors)), problems


def test_nothing_is_requested_from_another_host(visit: SiteVisit) -> None:
    def external(page: Visit) -> Iterator[str]:
        yield from (f"requested {url}" for url in page.external_requests)

    assert not (problems := _failures(visit, external)), problems


def test_code_fits_the_page_or_scrolls(visit: SiteVisit) -> None:
    def overflow(page: Visit) -> Iterator[str]:
        if page.report["pageOverflow"] > 0:
            yield f"the page scrolls sideways by {page.report['pageOverflow']} px"
        for line in page.report["overflowingCode"]:
            yield f"code runs off the page: {line[:100]!r}"

    assert not (problems := _failures(visit, overflow)), problems


def test_side_by_side_code_wraps_only_between_words(visit: SiteVisit) -> None:
    """Notebook 00's tables of code, your Value next to chainrule's, fill the column at 1280 px
    and wrap code at spaces only (JupyterLab's output style would break it mid-word)."""
    tables = visit.pages["tutorial/00_build_your_own_value/"].report["sideBySide"]
    assert len(tables) == 2 and all(width > 600 for width in tables), tables

    def broken(page: Visit) -> Iterator[str]:
        yield from (f"code may break mid-word: {t!r}" for t in page.report["codeBrokenMidWord"])

    assert not (problems := _failures(visit, broken)), problems


def test_tutorial_pages_show_their_outputs(visit: SiteVisit) -> None:
    notebooks = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        report = visit.pages[f"tutorial/{notebook.stem}/"].report
        assert report["outputs"] > 0, f"{notebook.name}: the page shows no outputs"
        assert re.search(r"\d", report["outputText"]), f"{notebook.name}: no printed numbers"
        if "plt." in notebook.read_text(encoding="utf-8"):
            assert report["outputImages"] > 0, f"{notebook.name} plots, but its page has no image"


def test_reference_shows_docstring_math_as_code_not_bold(visit: SiteVisit) -> None:
    def bold(page: Visit) -> Iterator[str]:
        if not page.path.startswith("reference/"):
            return
        yield from (f"bold in a docstring: {html}" for html in page.report["docstringBold"])
        for line in page.report["text"].splitlines():
            if "**" in line:
                yield f"'**' outside code: {line.strip()[:120]!r}"

    assert not (problems := _failures(visit, bold)), problems


def _axe_problems(violations: list[dict[str, Any]]) -> Iterator[str]:
    for v in violations:
        for target in v["targets"]:
            yield f"{v['id']} ({v['help']}): {target}"


def test_every_page_passes_axe_in_the_light_theme(visit: SiteVisit) -> None:
    """axe-core's WCAG 2 A/AA rules (tests/browser.py): contrast (code highlighting included),
    links told apart from text by more than colour, scrollable regions reachable by keyboard."""
    assert len(visit.pages) > 30
    assert not (problems := _failures(visit, lambda page: _axe_problems(page.axe))), problems


def test_every_page_passes_axe_in_the_dark_theme(visit: SiteVisit) -> None:
    dark = visit.dark_axe
    problems = [f"/{path}: {p}" for path, v in dark.items() for p in _axe_problems(v)]
    assert len(dark) == len(visit.pages) and not problems, "\n".join(problems)


DOT_TEXT_PX = 14 * 96 / 72  # Graphviz's 14 pt text, in CSS pixels at the picture's own size


def test_walkthrough_frames_keep_legible_text(visit: SiteVisit) -> None:
    """On the page the frames are shown one by one, never shrunk below 12 px text (a frame
    wider than the column scrolls sideways instead)."""
    frames = visit.pages["concepts/graphs/"].report["frames"]
    assert len(frames) == 4
    for frame in frames:
        assert frame["natural"] > 0
        assert frame["shown"] / frame["natural"] * DOT_TEXT_PX >= 12 - 0.05, frame


def test_installation_gives_real_commands() -> None:
    text = (ROOT / "docs" / "installation.md").read_text(encoding="utf-8")
    assert "<your" not in text and "python -m pip install -e ." in text
    assert "python -m pip install /path/to/chainrule" in text


def test_make_docs_installs_only_what_the_site_needs() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    docs_rule = re.search(r"^docs: (.*)$", makefile, re.M)
    assert docs_rule and "$(BIN)/.installed-docs" in docs_rule[1] and "setup" not in docs_rule[1]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    docs_extra = re.search(r"^docs = \[(.*?)^\]", pyproject, re.M | re.S)
    assert docs_extra, "no docs extra in pyproject.toml"
    names = {re.split(r"[<>=\[ ]", req)[0] for req in re.findall(r'"([^"]+)"', docs_extra[1])}
    assert {"mkdocs", "nbclient", "ipykernel"} <= names
    assert not names & {"pytest", "mypy", "playwright", "hypothesis", "ruff"}
