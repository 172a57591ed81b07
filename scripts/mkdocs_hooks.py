"""MkDocs hooks: the executed tutorial notebooks, the generated figures and MathJax in the site.

* The notebooks live once, in ``examples/notebooks/`` (where learners open them), stored with
  the outputs of their last run (``scripts/execute_notebooks.py``). Each is executed here again,
  on a Jupyter kernel running this very interpreter, and added to the site as
  ``tutorial/<name>.ipynb``, so the tutorial pages show the printed numbers, graphs and plots
  that the current code produces (mkdocs-jupyter renders them without executing them again). A
  notebook that raises fails the build, naming the notebook and the cell.
* Every figure is drawn at build time by ``scripts/docs_figures.py``, so the pictures in the docs
  always show what the current code computes. Pages refer to them as ``figures/<name>.svg``.
* MathJax is served by the site itself, from the npm package pinned in ``package.json``
  (``npm ci`` installs it into ``node_modules/``): the site loads nothing from other hosts.
"""

from __future__ import annotations

import hashlib
import html as htmlmod
import importlib.util
import logging
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import AnchorLink

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "examples" / "notebooks"
MATHJAX_DIR = ROOT / "node_modules" / "mathjax" / "es5"
# The combined TeX-to-HTML component, and what it loads on demand (TeX extensions, fonts, the
# context menu and its accessibility tools).
MATHJAX_PARTS = ("tex-chtml.js", "input", "output/chtml", "ui", "a11y", "sre", "adaptors")
CELL_TIMEOUT_S = 300  # a hanging cell fails the build instead of stalling it
KERNEL_NAME = "chainrule-docs"
log = logging.getLogger("mkdocs.hooks.chainrule")

_scratch: tempfile.TemporaryDirectory[str] | None = None
# Executed notebooks by the hash of their source and of the package, so that `mkdocs serve`
# re-executes a notebook only when it or chainrule changed.
_executed: dict[str, str] = {}


def _script(name: str) -> ModuleType:
    """The module scripts/<name>.py (mkdocs loads this hook by path, not as a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load scripts/{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package_digest() -> bytes:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "chainrule").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.digest()


def _kernelspec(root: Path) -> Path:
    """A kernelspec that runs ipykernel on this interpreter (never whatever `python3` is)."""
    path: Path = _script("notebook_kernel").write_kernelspec(
        root, KERNEL_NAME, "chainrule (docs build)"
    )
    return path


def _execute(source: Path, kernels: Path, cwd: Path) -> str:
    """The notebook at `source` executed top to bottom, as notebook JSON."""
    import nbclient
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(source, as_version=4)  # type: ignore[no-untyped-call]
    manager = KernelManager(
        kernel_name=KERNEL_NAME, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
    )
    client = nbclient.NotebookClient(
        nb,
        km=manager,
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        # The kernel's own log (transport warnings) is noise here; a cell's error comes back
        # through the messaging protocol and fails the build.
        client.execute(stderr=subprocess.DEVNULL)
    except nbclient.exceptions.CellExecutionError as error:
        raise PluginError(f"{source.relative_to(ROOT)} failed when executed:\n{error}") from None
    finally:
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    return str(nbformat.writes(nb))  # type: ignore[no-untyped-call]


def _executed_notebooks(notebooks: list[Path], scratch: Path) -> dict[Path, str]:
    package = _package_digest()
    keys = {nb: hashlib.sha256(package + nb.read_bytes()).hexdigest() for nb in notebooks}
    todo = [nb for nb in notebooks if keys[nb] not in _executed]
    if todo:
        kernels = _kernelspec(scratch / "kernels")
        for nb in todo:  # each in a folder of its own, for the files it writes
            (scratch / "run" / nb.stem).mkdir(parents=True)
        start = time.perf_counter()
        # Two kernels at a time: each notebook spends much of its time starting its kernel.
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = pool.map(lambda nb: _execute(nb, kernels, scratch / "run" / nb.stem), todo)
            for nb, text in zip(todo, results):
                _executed[keys[nb]] = text
        log.info("executed %d notebooks in %.1f s", len(todo), time.perf_counter() - start)
    return {nb: _executed[keys[nb]] for nb in notebooks}


def _mathjax_files(config: Any) -> list[File]:
    if not (MATHJAX_DIR / "tex-chtml.js").is_file():
        raise PluginError(
            f"MathJax is missing from {MATHJAX_DIR.relative_to(ROOT)}: run `npm ci` in the "
            "repository root (needs Node.js; `make docs` does it). The site serves MathJax "
            "itself rather than loading it from a CDN."
        )
    files = []
    for part in MATHJAX_PARTS:
        path = MATHJAX_DIR / part
        for source in [path] if path.is_file() else sorted(path.rglob("*")):
            if source.is_file():
                uri = f"javascripts/mathjax/{source.relative_to(MATHJAX_DIR).as_posix()}"
                files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files


# Before mkdocs-jupyter (priority 0) so that it sees the notebooks and converts them.
@event_priority(100)
def on_files(files: Files, config: Any) -> Files:
    global _scratch
    if _scratch is not None:
        _scratch.cleanup()
    _scratch = tempfile.TemporaryDirectory(prefix="chainrule-docs-")
    root = Path(_scratch.name)

    # Written under a scratch source directory, so each is an ordinary file of the site (a file
    # generated without a src_dir cannot be wrapped by mkdocs-jupyter).
    tutorial = root / "tutorial"
    tutorial.mkdir()
    notebooks = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    uris = []
    for notebook, text in _executed_notebooks(notebooks, root).items():
        (tutorial / notebook.name).write_text(text, encoding="utf-8")
        uris.append(f"tutorial/{notebook.name}")
    written = _script("docs_figures").generate(root / "figures")
    uris += [f"figures/{path.name}" for path in written]
    for uri in uris:
        files.append(File(uri, str(root), config["site_dir"], config["use_directory_urls"]))
    for file in _mathjax_files(config):
        files.append(file)
    log.info("added %d notebooks and %d generated figures", len(notebooks), len(written))
    return files


_HEADING = re.compile(r'<h([1-6]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)


def _anchors(items: list[AnchorLink]) -> Iterator[AnchorLink]:
    for item in items:
        yield item
        yield from _anchors(item.children)


def on_page_content(html: str, page: Page, config: Any, files: Files) -> str:
    """Point a notebook page's table of contents at the headings' real ids.

    mkdocs-jupyter builds the table of contents from a Markdown copy of the notebook, whose
    slugs drop code and math ("Rule 1: `x * x`" gives ``#rule-1``), while the page's headings
    keep them (``id="rule-1-x-x"``): every such entry would be a dead link. Both list the same
    headings in the same order, so each entry takes the id and the text of its heading. The
    page title (in the navigation) is the notebook's first heading, code included.
    """
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    headings = _HEADING.findall(html)
    anchors = list(_anchors(list(page.toc)))
    if len(headings) != len(anchors):
        log.warning(
            "%s: %d headings but %d table-of-contents entries; the entries keep their links",
            page.file.src_uri,
            len(headings),
            len(anchors),
        )
        return html
    for anchor, (level, anchor_id, inner) in zip(anchors, headings):
        text = htmlmod.unescape(re.sub(r"<[^>]+>", "", inner).replace("\u00b6", "").strip())
        anchor.id = anchor_id
        anchor.title = htmlmod.escape(text, quote=False)
        if level == "1" and anchor is anchors[0]:
            page.title = text
    return html


def on_post_build(config: Any) -> None:
    global _scratch
    if _scratch is not None:
        _scratch.cleanup()
        _scratch = None
