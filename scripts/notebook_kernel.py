"""The kernelspec that runs the notebooks on this very interpreter (never whatever `python3` is).

Used by the docs build (scripts/mkdocs_hooks.py) and the notebook tests (tests/test_notebooks.py);
the standard library only, so the tests need not import mkdocs to use it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def write_kernelspec(root: Path, name: str, display_name: str) -> Path:
    """Write the kernelspec `root/name` and return `root` (a folder of kernelspecs)."""
    spec_dir = root / name
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        # Headless and deterministic whatever the calling shell has set.
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return root
