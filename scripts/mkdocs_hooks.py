"""MkDocs hooks: put the tutorial notebooks and the generated figures into the site.

* The notebooks live once, in ``examples/notebooks/`` (where learners open them); each is added
  to the site as ``tutorial/<name>.ipynb`` and mkdocs-jupyter renders it (without executing it:
  the test suite executes them).
* Every figure is drawn at build time by ``scripts/docs_figures.py``, so the pictures in the docs
  always show what the current code computes. Pages refer to them as ``figures/<name>.svg``.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "examples" / "notebooks"
log = logging.getLogger("mkdocs.hooks.chainrule")

_scratch: tempfile.TemporaryDirectory[str] | None = None


def _figures_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_figures", ROOT / "scripts" / "docs_figures.py"
    )
    if spec is None or spec.loader is None:
        raise ImportError("cannot load scripts/docs_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Before mkdocs-jupyter (priority 0) so that it sees the notebooks and converts them.
@event_priority(100)
def on_files(files: Files, config: Any) -> Files:
    global _scratch
    if _scratch is not None:
        _scratch.cleanup()
    _scratch = tempfile.TemporaryDirectory(prefix="chainrule-docs-")
    root = Path(_scratch.name)

    # Copies under a scratch source directory, so each is an ordinary file of the site (a file
    # generated without a src_dir cannot be wrapped by mkdocs-jupyter).
    tutorial = root / "tutorial"
    tutorial.mkdir()
    uris = []
    for notebook in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        shutil.copy2(notebook, tutorial / notebook.name)
        uris.append(f"tutorial/{notebook.name}")
    written = _figures_module().generate(root / "figures")
    uris += [f"figures/{path.name}" for path in written]
    for uri in uris:
        files.append(File(uri, str(root), config["site_dir"], config["use_directory_urls"]))
    log.info("added %d notebooks and %d generated figures", len(uris) - len(written), len(written))
    return files


def on_post_build(config: Any) -> None:
    global _scratch
    if _scratch is not None:
        _scratch.cleanup()
        _scratch = None
