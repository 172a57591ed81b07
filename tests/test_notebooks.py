"""Execute every tutorial notebook on a real Jupyter kernel and fail on any error.

The kernel is the interpreter running the tests (a kernelspec written at test time points at
``sys.executable``), so a notebook sees exactly the chainrule under test and never whatever
``python`` a global Jupyter install would pick. Notebooks are stored without outputs; that is
checked here too.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the dev extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the dev extra (nbclient)")
pytest.importorskip("ipykernel", reason="needs the dev extra (ipykernel)")
pytest.importorskip("matplotlib", reason="notebooks plot with the examples extra (matplotlib)")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

import chainrule  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "examples" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
KERNEL_NAME = "chainrule-test"
CELL_TIMEOUT_S = 120  # a hang fails the run instead of stalling CI; notebooks take seconds


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kernelspec that runs ipykernel on this very interpreter."""
    root = tmp_path_factory.mktemp("kernels")
    spec_dir = root / KERNEL_NAME
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "chainrule (test interpreter)",
        "language": "python",
        # Headless and deterministic whatever the calling shell has set.
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return root


def _run(nb: Any, kernel_dir: Path, cwd: Path) -> Any:
    manager = KernelManager(
        kernel_name=KERNEL_NAME,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
    )
    client = nbclient.NotebookClient(
        nb,
        km=manager,
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    return client.execute()


def _stdout(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")


@pytest.mark.slow
def test_kernel_runs_this_interpreter_and_this_chainrule(kernel_dir: Path, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import sys\nprint(sys.executable)"),
        nbformat.v4.new_code_cell("import chainrule\nprint(chainrule.__file__)"),
    ]
    executed = _run(nb, kernel_dir, tmp_path)
    assert Path(_stdout(executed.cells[0]).strip()) == Path(sys.executable)
    assert Path(_stdout(executed.cells[1]).strip()) == Path(chainrule.__file__)


def test_the_tutorial_notebooks_are_all_there() -> None:
    prefixes = {path.name[:2] for path in NOTEBOOKS}
    assert {"01", "02", "03", "04", "05", "06"} <= prefixes, [p.name for p in NOTEBOOKS]


def _load_stripper() -> Any:
    spec = importlib.util.spec_from_file_location(
        "strip_notebooks", ROOT / "scripts" / "strip_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert _load_stripper().problems(nb) == [], "run: python scripts/strip_notebooks.py"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_without_error(path: Path, kernel_dir: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    # A scratch working directory: anything a notebook writes lands outside the repository.
    executed = _run(nb, kernel_dir, tmp_path)
    errors = [
        output
        for cell in executed.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("output_type") == "error"
    ]
    assert errors == []
    # Every code cell ran (an aborted run would leave later cells without an execution count).
    assert all(c.execution_count is not None for c in executed.cells if c.cell_type == "code")
