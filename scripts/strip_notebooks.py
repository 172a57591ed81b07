"""Strip outputs from the stored notebooks, or check that they carry none.

Notebooks are kept in git without outputs: diffs stay readable, the repository stays small and
nothing stale (an old plot, an old number) can pass for the current behaviour. The test suite
executes every notebook, so the outputs are always reproducible.

    python scripts/strip_notebooks.py            # strip examples/notebooks/*.ipynb in place
    python scripts/strip_notebooks.py --check    # exit 1 and name the offenders if any has outputs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "examples" / "notebooks"

# Cell metadata that only records a particular run (timings, scroll state, collapsed outputs).
_VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def problems(nb: dict[str, Any]) -> list[str]:
    """Describe every stored output, execution count or volatile metadata in ``nb``."""
    found = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {index} has {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index} has execution_count={cell['execution_count']}")
        volatile = [key for key in _VOLATILE_CELL_METADATA if key in cell.get("metadata", {})]
        if volatile:
            found.append(f"cell {index} has run metadata {volatile}")
    return found


def strip(nb: dict[str, Any]) -> dict[str, Any]:
    """Return ``nb`` with outputs, execution counts and run metadata removed (in place)."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = []
        cell["execution_count"] = None
        for key in _VOLATILE_CELL_METADATA:
            cell.get("metadata", {}).pop(key, None)
    return nb


def _write(path: Path, nb: dict[str, Any]) -> None:
    # The layout nbformat itself writes (indent 1, keys sorted), so stripping a notebook that
    # Jupyter saved changes only the outputs.
    text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all stored ones)")
    parser.add_argument("--check", action="store_true", help="report, do not modify")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    dirty = 0
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        found = problems(nb)
        if not found:
            continue
        dirty += 1
        if args.check:
            print(f"{path}: " + "; ".join(found), file=sys.stderr)
        else:
            _write(path, strip(nb))
            print(f"stripped {path}")
    if args.check and dirty:
        print(
            f"{dirty} notebook(s) carry outputs: run python scripts/strip_notebooks.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
