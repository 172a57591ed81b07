"""MkDocs hook: ship the playground's runtimes and chainrule's own source with the site.

The playground page (``docs/playground/``) runs chainrule in the browser. Everything it loads
comes from the site itself, so it works from ``mkdocs serve``, any static file server or a
laptop with no network:

* ``playground/vendor/pyodide/``: the Pyodide core (CPython in WebAssembly and its standard
  library) from the npm package ``pyodide``; no other Pyodide package is ever loaded;
* ``playground/vendor/viz/viz.js``: Graphviz in WebAssembly, from the npm package
  ``@viz-js/viz`` (one ES module with the wasm inside);
* ``playground/chainrule.zip``: ``src/chainrule`` as it is now, and ``playground/playground.py``
  (``scripts/playground.py``), the Python half of the page.

The npm packages come from ``npm ci`` (``make setup``), pinned in ``package-lock.json``.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
SOURCE = ROOT / "src" / "chainrule"
RUNNER = ROOT / "scripts" / "playground.py"
PREFIX = "playground"

RUNTIME: dict[str, list[str]] = {
    "pyodide": [
        "pyodide.mjs",
        "pyodide.asm.mjs",
        "pyodide.asm.wasm",
        "python_stdlib.zip",
        "pyodide-lock.json",
    ],
    "@viz-js/viz/dist": ["viz.js"],
}
"""Per npm package folder, the only files the page needs (Pyodide's core, no packages)."""

VENDOR = {"pyodide": "vendor/pyodide", "@viz-js/viz/dist": "vendor/viz"}

log = logging.getLogger("mkdocs.hooks.playground")


def source_zip(source: Path = SOURCE) -> bytes:
    """``chainrule/**/*.py`` (and ``py.typed``) as a zip, byte-identical for the same source."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        files = sorted(p for p in source.rglob("*") if p.suffix == ".py" or p.name == "py.typed")
        for path in files:
            info = zipfile.ZipInfo(
                f"{source.name}/{path.relative_to(source).as_posix()}", (1980, 1, 1, 0, 0, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buffer.getvalue()


def runtime_files() -> dict[str, Path]:
    """Site path (under ``playground/``) -> file in ``node_modules``; missing files included."""
    return {
        f"{VENDOR[package]}/{name}": NODE_MODULES / package / name
        for package, names in RUNTIME.items()
        for name in names
    }


def on_files(files: Files, config: Any) -> Files:
    missing = [path for path in runtime_files().values() if not path.is_file()]
    if missing:
        # a warning fails `mkdocs build --strict`: a site whose playground cannot start
        log.warning(
            "the playground's runtimes are missing (%s ...): run `npm ci` (`make setup` does)",
            missing[0].relative_to(ROOT),
        )
    for uri, path in runtime_files().items():
        if path.is_file():
            files.append(File.generated(config, f"{PREFIX}/{uri}", abs_src_path=str(path)))
    files.append(File.generated(config, f"{PREFIX}/chainrule.zip", content=source_zip()))
    files.append(File.generated(config, f"{PREFIX}/playground.py", abs_src_path=str(RUNNER)))
    return files
