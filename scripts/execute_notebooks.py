"""Execute the tutorial notebooks and store them with their outputs, or check the stored ones.

The notebooks are kept in git *with* their outputs, so a learner reading one on a code host
sees every printed number, graph and plot without installing anything. Stored outputs could go
stale; this script and the test that runs it prevent that:

    python scripts/execute_notebooks.py                 # execute every notebook, store its outputs
    python scripts/execute_notebooks.py path.ipynb ...  # only these
    python scripts/execute_notebooks.py --check         # execute afresh; exit 1 if a stored
                                                        # output differs, and say where

Each notebook runs top to bottom on a Jupyter kernel running this very interpreter (so it sees
the chainrule of this checkout when run with ``PYTHONPATH=src``), in a scratch folder.

"The same output" means: the same cells with the same source, and in each code cell the same
outputs in the same order, where

* text (printed lines, reprs, HTML) is equal once every number in it is compared within a
  relative :data:`REL_TOL` (the last printed digit may differ between machines' maths
  libraries), with timings and memory addresses masked;
* a PNG (a matplotlib plot) only has to be there: its pixels depend on the matplotlib version
  and the fonts installed;
* an SVG (a graph drawn by Graphviz) must carry the same texts, numbers within tolerance: the
  layout may move between Graphviz versions, the labels and numbers may not;
* a cell tagged :data:`VARIES_TAG` (a timing, or a check that runs only where an optional
  package such as PyTorch is installed) must give outputs of the same kinds, with any content.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import notebook_kernel  # scripts/notebook_kernel.py, beside this file

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "examples" / "notebooks"
KERNEL_NAME = "chainrule-notebooks"
CELL_TIMEOUT_S = 300  # a hanging cell fails the run instead of stalling it
REL_TOL = 1e-3
ABS_TOL = 1e-12
VARIES_TAG = "output-varies"

# Cell metadata that only records one particular run (timings, scroll state, collapsed outputs).
_VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_MASKS = [
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "0x…"),  # object addresses in reprs
    (re.compile(r"\d+(?:\.\d+)? ?(?:s|ms|µs|us|ns|seconds)\b"), "<time>"),
]
_SVG_TEXT = re.compile(r"<text[^>]*>([^<]*)</text>")


def execute(path: Path, kernels: Path | None = None) -> dict[str, Any]:
    """The notebook at ``path`` executed top to bottom, as a notebook dict with outputs."""
    import nbclient
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="chainrule-nb-") as scratch:
        if kernels is None:
            kernels = notebook_kernel.write_kernelspec(
                Path(scratch) / "kernels", KERNEL_NAME, "chainrule (this interpreter)"
            )
        nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
        metadata = json.loads(json.dumps(nb.metadata))  # the run adds its own; keep the stored
        manager = KernelManager(
            kernel_name=KERNEL_NAME,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
        )
        client = nbclient.NotebookClient(
            nb, km=manager, timeout=CELL_TIMEOUT_S, allow_errors=False, record_timing=False,
            resources={"metadata": {"path": scratch}},  # files a notebook writes land here
        )  # fmt: skip
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own log (transport warnings)
    executed: dict[str, Any] = json.loads(nbformat.writes(nb))  # type: ignore[no-untyped-call]
    executed["metadata"] = metadata
    return normalise(executed)


def normalise(nb: dict[str, Any]) -> dict[str, Any]:
    """``nb`` as stored, in place: without run metadata (timings, scroll state), each run of
    printed text as one output however the kernel split it, and no object address in the text
    form of a picture (never shown, since the picture is), so that storing a fresh run changes
    only what changed."""
    for cell in nb.get("cells", []):
        for key in _VOLATILE_CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
        merged: list[dict[str, Any]] = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/plain" in data and any(mime.startswith("image/") for mime in data):
                text = _MASKS[0][0].sub("0x…", _joined(data["text/plain"]))
                data["text/plain"] = text.splitlines(keepends=True)  # as nbformat stores text
            last = merged[-1] if merged else {}
            if out["output_type"] == last.get("output_type") == "stream" and (
                last["name"] == out["name"]
            ):
                text = _joined(last["text"]) + _joined(out["text"])
                last["text"] = text.splitlines(keepends=True)
            else:
                merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged
    return nb


def problems(nb: dict[str, Any]) -> list[str]:
    """What makes a stored notebook not a complete, clean run: cells never run, errors, run
    metadata."""
    found = []
    counts = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        counts.append(cell.get("execution_count"))
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            found.append(f"cell {index} stores an error")
        volatile = [key for key in _VOLATILE_CELL_METADATA if key in cell.get("metadata", {})]
        if volatile:
            found.append(f"cell {index} has run metadata {volatile}")
    if counts != list(range(1, len(counts) + 1)):
        found.append(f"the code cells were not all run once, in order: counts {counts}")
    return found


def differences(stored: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Where the stored outputs differ from a fresh run's (empty when they agree)."""
    old_cells, new_cells = stored["cells"], fresh["cells"]
    if [c["source"] for c in old_cells] != [c["source"] for c in new_cells]:
        return ["the cells differ: compare a fresh run of the same file"]
    found = []
    for index, (old, new) in enumerate(zip(old_cells, new_cells)):
        if old["cell_type"] != "code":
            continue
        kinds_only = VARIES_TAG in old.get("metadata", {}).get("tags", [])
        a, b = _comparable(old["outputs"], kinds_only), _comparable(new["outputs"], kinds_only)
        if len(a) != len(b) or any(not _same(x, y) for x, y in zip(a, b)):
            found.append(f"cell {index} ({_first_line(old)}): stored {a!r}, fresh run {b!r}")
    return found


def _comparable(outputs: Iterable[dict[str, Any]], kinds_only: bool) -> list[tuple[str, str]]:
    """(kind, text to compare) per output piece: a stream, or one MIME type of a result."""
    pieces: list[tuple[str, str]] = []
    for out in outputs:
        kind = out["output_type"]
        if kind == "stream":
            name = f"stream {out['name']}"
            if pieces and pieces[-1][0] == name:  # one stream, however the run split it
                pieces[-1] = (name, pieces[-1][1] + _text(out["text"]))
            else:
                pieces.append((name, _text(out["text"])))
            continue
        for mime, data in sorted(out.get("data", {}).items()):
            if mime == "image/svg+xml":
                text = "\n".join(_SVG_TEXT.findall(_text(data)))
            elif mime.startswith("image/"):
                text = ""  # regenerated pixels: being there is what counts
            else:
                text = _text(data)
            pieces.append((f"{kind} {mime}", text))
    if kinds_only:
        return sorted({(kind, "") for kind, _ in pieces})
    return pieces


def _joined(data: str | list[str]) -> str:
    """Notebook text, stored as a string or as a list of lines, as one string."""
    return data if isinstance(data, str) else "".join(data)


def _text(data: str | list[str]) -> str:
    """The text to compare: joined, with what varies from run to run masked."""
    text = _joined(data)
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text


def _same(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Equal kinds and texts, numbers within tolerance."""
    if a[0] != b[0] or _NUMBER.sub("#", a[1]) != _NUMBER.sub("#", b[1]):
        return False
    return all(
        math.isclose(float(x), float(y), rel_tol=REL_TOL, abs_tol=ABS_TOL)
        for x, y in zip(_NUMBER.findall(a[1]), _NUMBER.findall(b[1]))
    )


def _first_line(cell: dict[str, Any]) -> str:
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return source.strip().splitlines()[0][:60] if source.strip() else "empty"


def write(path: Path, nb: dict[str, Any]) -> None:
    """Store ``nb`` in the layout nbformat itself writes (indent 1, keys sorted), so a notebook
    saved from Jupyter and one stored here differ only where their contents do."""
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all stored ones)")
    parser.add_argument("--check", action="store_true", help="compare, do not store")
    args = parser.parse_args(argv)
    stale = 0
    for path in args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        fresh = execute(path)
        if not args.check:
            write(path, fresh)
            print(f"executed and stored {path}")
            continue
        stored = json.loads(path.read_text(encoding="utf-8"))
        found = problems(stored) + differences(stored, fresh)
        stale += bool(found)
        for line in found:
            print(f"{path}: {line}", file=sys.stderr)
    if stale:
        print(f"{stale} notebook(s) store outputs that a fresh run does not reproduce: run "
              "python scripts/execute_notebooks.py on them", file=sys.stderr)  # fmt: skip
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
