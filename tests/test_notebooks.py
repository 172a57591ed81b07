"""Execute every tutorial notebook on a real Jupyter kernel and fail on any error.

The kernel is the interpreter running the tests (a kernelspec written at test time points at
``sys.executable``), so a notebook sees exactly the chainrule under test and never whatever
``python`` a global Jupyter install would pick. Notebooks are stored without outputs; that is
checked here too.
"""

from __future__ import annotations

import importlib.util
import json
import re
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
    path: Path = _script("notebook_kernel").write_kernelspec(
        root, KERNEL_NAME, "chainrule (test interpreter)"
    )
    return path


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
    assert {"00", "01", "02", "03", "04", "05", "06", "07"} <= prefixes, [p.name for p in NOTEBOOKS]


def _script(name: str) -> Any:
    """The module scripts/<name>.py."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert _script("strip_notebooks").problems(nb) == [], "run: python scripts/strip_notebooks.py"


_EXECUTED: dict[Path, Any] = {}


def _executed(path: Path, kernel_dir: Path, tmp_path: Path) -> Any:
    """``path`` run once per test session (later tests read its outputs)."""
    if path not in _EXECUTED:
        nb = nbformat.read(path, as_version=4)
        # A scratch working directory: anything a notebook writes lands outside the repository.
        _EXECUTED[path] = _run(nb, kernel_dir, tmp_path)
    return _EXECUTED[path]


def _cell(executed: Any, text: str) -> Any:
    """The one code cell whose source contains ``text``."""
    found = [c for c in executed.cells if c.cell_type == "code" and text in c.source]
    assert len(found) == 1, f"{len(found)} code cells contain {text!r}"
    return found[0]


def _mime_types(cell: Any) -> set[str]:
    return {mime for output in cell.outputs for mime in output.get("data", {})}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_without_error(path: Path, kernel_dir: Path, tmp_path: Path) -> None:
    executed = _executed(path, kernel_dir, tmp_path)
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


@pytest.mark.slow
def test_build_your_own_value_draws_checks_and_plots_the_zero_grad_bug(
    kernel_dir: Path, tmp_path: Path
) -> None:
    executed = _executed(NOTEBOOK_DIR / "00_build_your_own_value.ipynb", kernel_dir, tmp_path)
    # the learner's own class is drawn by chainrule's renderer, grads and all
    drawn = _cell(executed, "check_against_nudges(a, b, c, d, e, f)\ndraw_dot(L)")
    assert "image/svg+xml" in _mime_types(drawn)
    svg = next(o["data"]["image/svg+xml"] for o in drawn.outputs if "data" in o)
    assert "grad 6<" in svg and "grad &#45;4<" in svg  # dL/da and dL/db, filled in by hand
    assert "every grad matches its nudge" in _stdout(drawn)
    # the fan-out bug is shown happening, then fixed
    assert "db/da = 1.0 (should be 2.0)" in _stdout(_cell(executed, "(should be 2.0)"))
    # the forgotten zero_grad: both runs measured, and plotted on one figure
    losses = _stdout(_cell(executed, "def train(zero_grad"))
    assert re.search(r"with zero_grad  loss 0\.0\d+", losses), losses
    assert re.search(r"without +loss [1-9]\.\d+", losses), losses
    assert "image/png" in _mime_types(_cell(executed, "forgot to zero the grads"))
    # the same program on chainrule's Value gives the same losses
    same = _stdout(_cell(executed, "from chainrule import Value"))
    assert "chainrule" in same and "difference between the two loss curves" in same


def _sources(name: str) -> str:
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_neuron_graph_names_its_weights_and_bias(kernel_dir: Path, tmp_path: Path) -> None:
    executed = _executed(NOTEBOOK_DIR / "03_neuron_to_mlp.ipynb", kernel_dir, tmp_path)
    graph = _cell(executed, "neuron.w[0].label")
    svg = next(
        o["data"]["image/svg+xml"] for o in graph.outputs if "image/svg+xml" in o.get("data", {})
    )
    assert ">w1<" in svg and ">w2<" in svg and ">b<" in svg


def test_training_plots_say_which_loss_and_label_the_inputs() -> None:
    source = _sources("03_neuron_to_mlp.ipynb")
    assert 'label="loss: mean binary cross-entropy"' in source
    for name in ("03_neuron_to_mlp.ipynb", "07_softmax_cross_entropy.ipynb"):
        source = _sources(name)
        assert 'set_xlabel("first input $x_1$")' in source, name
        assert 'set_ylabel("second input $x_2$")' in source, name


def test_gradient_checking_uses_chainrules_one_relative_error() -> None:
    source = _sources("04_gradient_checking.ipynb")
    assert "from chainrule.gradcheck import relative_error" in source
    assert "def relative_error" not in source  # no second definition to drift from the table


@pytest.mark.slow
def test_too_large_weights_are_shown_saturating_not_vanishing(
    kernel_dir: Path, tmp_path: Path
) -> None:
    executed = _executed(NOTEBOOK_DIR / "05_vanishing_and_exploding.ipynb", kernel_dir, tmp_path)
    cell = _cell(executed, "def measure(scale)")
    assert "image/png" in _mime_types(cell)
    rows = {
        m["name"].strip(): (float(m["ratio"]), float(m["mean"]), int(m["saturated"]))
        for m in re.finditer(
            r"^(?P<name>.+?) +first/last signal (?P<ratio>\S+), mean \|dL/db\| (?P<mean>\S+), "
            r"saturated units (?P<saturated>\d+)%$",
            _stdout(cell),
            re.M,
        )
    }
    small, xavier, large = (
        rows[k] for k in ("xavier / 3 (too small)", "xavier", "xavier × 3 (too large)")
    )
    assert small[0] < 1e-6 < xavier[0] < large[0]  # the too-large signal is the flattest
    assert large[1] > 10 * xavier[1] and large[2] >= 30 and xavier[2] == small[2] == 0
    text = "\n".join(c.source for c in executed.cells if c.cell_type == "markdown")
    assert "the signal does **not** vanish" in text


def test_softmax_regions_are_drawn_from_each_class_margin() -> None:
    source = _sources("07_softmax_cross_entropy.ipynb")
    # contouring class indices draws a false class-1 band where classes 0 and 2 meet
    assert "levels=[-0.5, 0.5, 1.5, 2.5]" not in source
    assert "def margin(z, c)" in source and "levels=[0, top]" in source
