"""Execute every tutorial notebook on a real Jupyter kernel: no error, and the outputs stored
in the repository are the ones a fresh run prints.

The kernel is the interpreter running the tests (a kernelspec written at test time points at
``sys.executable``), so a notebook sees exactly the chainrule under test and never whatever
``python`` a global Jupyter install would pick. Notebooks are stored with their outputs (so they
read on a code host); ``scripts/execute_notebooks.py`` stores them and defines "the same
output", and the slow tests here run its comparison. The fast tests read the stored outputs,
which the slow tier keeps honest.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the dev extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="needs the dev extra (nbclient)")
pytest.importorskip("ipykernel", reason="needs the dev extra (ipykernel)")
pytest.importorskip("matplotlib", reason="notebooks plot with the examples extra (matplotlib)")

import execute_notebooks  # noqa: E402  (scripts/execute_notebooks.py)
import notebook_kernel  # noqa: E402  (scripts/notebook_kernel.py)
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
    path: Path = notebook_kernel.write_kernelspec(root, KERNEL_NAME, "chainrule (test interpreter)")
    return path


def _run(nb: Any, kernel_dir: Path, cwd: Path) -> Any:
    """``nb`` executed, with the kernel's own log (transport warnings) kept out of the test's."""
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
    return client.execute(stderr=subprocess.DEVNULL)


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


CHECK = execute_notebooks


def _stored(path: Path) -> dict[str, Any]:
    stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return stored


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_as_one_complete_run(path: Path) -> None:
    nb = _stored(path)
    assert CHECK.problems(nb) == [], "run: python scripts/execute_notebooks.py " + path.name
    assert all(c["outputs"] for c in nb["cells"] if c["cell_type"] == "code" and
               "plt.show()" in "".join(c["source"]))  # fmt: skip


# Recorded in the kernel: the axes of every figure the inline backend draws (a PNG has no
# axis labels to read back). Prepended to each run; its cell and the closing one that prints
# the record are removed before the stored outputs are compared.
_RECORD_FIGURES = """import json as _json
import matplotlib.backend_bases as _backend_bases

_FIGURES = []
_print_figure = _backend_bases.FigureCanvasBase.print_figure


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else []


def _label(ax, axis):
    # an axis shared with a labelled one (sharey=True, or a twin's x) is labelled by it
    shared = getattr(ax, f"get_shared_{axis}_axes")().get_siblings(ax)
    return next((s for s in (getattr(o, f"get_{axis}label")() for o in shared) if s), "")


def _record(self, *args, **kwargs):
    _FIGURES.append([
        {"x": _label(ax, "x"), "y": ax.get_ylabel(), "shared_y": _label(ax, "y"),
         "title": ax.get_title(), "legend": _legend(ax)}
        for ax in self.figure.axes
    ])
    return _print_figure(self, *args, **kwargs)


_backend_bases.FigureCanvasBase.print_figure = _record"""


_EXECUTED: dict[Path, Any] = {}


_FIGURES: dict[Path, list[list[dict[str, Any]]]] = {}


def _executed(path: Path, kernel_dir: Path, tmp_path: Path) -> Any:
    """``path`` run once per test session (later tests read its outputs and its figures)."""
    if path not in _EXECUTED:
        nb = nbformat.read(path, as_version=4)
        nb.cells.insert(0, nbformat.v4.new_code_cell(_RECORD_FIGURES))
        nb.cells.append(nbformat.v4.new_code_cell("print(_json.dumps(_FIGURES))"))
        # A scratch working directory: anything a notebook writes lands outside the repository.
        executed = _run(nb, kernel_dir, tmp_path)
        _FIGURES[path] = json.loads(_stdout(executed.cells.pop()))
        executed.cells.pop(0)
        _EXECUTED[path] = executed
    return _EXECUTED[path]


def _figures(path: Path, kernel_dir: Path, tmp_path: Path) -> list[list[dict[str, Any]]]:
    """Per figure drawn by ``path``, per axes: its labels, title, legend and position."""
    _executed(path, kernel_dir, tmp_path)
    return _FIGURES[path]


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
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_outputs_are_what_a_fresh_run_prints(
    path: Path, kernel_dir: Path, tmp_path: Path
) -> None:
    fresh = json.loads(nbformat.writes(_executed(path, kernel_dir, tmp_path)))
    found = CHECK.differences(_stored(path), fresh)
    assert found == [], f"stale outputs: run python scripts/execute_notebooks.py {path}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_plot_labels_both_axes(path: Path, kernel_dir: Path, tmp_path: Path) -> None:
    for figure in _figures(path, kernel_dir, tmp_path):
        for ax in figure:
            assert ax["shared_y"], f"{path.name}: a plot {ax['title']!r} has no y-axis label"
            assert ax["x"], f"{path.name}: a plot {ax['title']!r} has no x-axis label"


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


# --- what the notebooks claim, read from their stored outputs (kept fresh by the slow tier) ---


def _stored_cell(name: str, text: str) -> dict[str, Any]:
    """The one stored code cell of notebook ``name`` whose source contains ``text``."""
    cells = _stored(NOTEBOOK_DIR / name)["cells"]
    found: list[dict[str, Any]] = [
        c for c in cells if c["cell_type"] == "code" and text in "".join(c["source"])
    ]
    assert len(found) == 1, f"{len(found)} code cells of {name} contain {text!r}"
    return found[0]


def _stored_stdout(name: str, text: str) -> str:
    outputs = _stored_cell(name, text)["outputs"]
    return "".join("".join(o["text"]) for o in outputs if o.get("name") == "stdout")


def _stored_mimes(name: str, text: str) -> set[str]:
    return {mime for o in _stored_cell(name, text)["outputs"] for mime in o.get("data", {})}


def _markdown(name: str) -> str:
    cells = _stored(NOTEBOOK_DIR / name)["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


NB00 = "00_build_your_own_value.ipynb"


def test_build_your_own_value_follows_the_lecture_step_by_step() -> None:
    # the nudge at three points, one of them the flat bottom of the parabola
    nudges = _stored_stdout(NB00, "for x in (3.0, -3.0, 2 / 3)")
    for point, slope in (
        ("+3.0000", "+14.00000"),
        ("-3.0000", "-22.00000"),
        ("+0.6667", "+0.00000"),
    ):
        assert f"at x = {point}: the nudge gives slope {slope}" in nudges
    # a drawing function of the learner's own, before chainrule's
    assert "image/svg+xml" in _stored_mimes(NB00, "def my_draw(root)")
    assert "7 values, 6 edges, 3 operations" in _stored_stdout(NB00, "def my_draw(root)")
    # the first optimisation step: L goes up from -8 along the gradient
    assert "L was -8.0; after one step along the gradient it is -7.2865" in _stored_stdout(
        NB00, "leaf.data += step * leaf.grad"
    )
    # the neuron by hand, then backward() finding the same numbers
    assert "filled in by hand, matches its nudge" in _stored_stdout(NB00, "x1.grad = w1.data")
    assert "backward() gives the hand-computed grads" in _stored_stdout(NB00, "by_hand[v.label]")
    # exp and division are checked; tanh from exp gives the same gradients
    ops = _stored_stdout(NB00, "def check_op(")
    assert "exp(x)     matches its nudge" in ops and "1 / x      matches its nudge" in ops
    from_exp = _stored_stdout(NB00, "def neuron(tanh_from_exp)")
    rows = [line.split() for line in from_exp.splitlines() if line.startswith("do/d")]
    assert len(rows) == 5 and all(row[1] == row[3] for row in rows), from_exp
    # a learning rate that is too large, on a plot
    assert "image/png" in _stored_mimes(NB00, "for lr in (0.05, 0.2, 0.5)")
    assert "lr =  0.5: loss 3.590 -> 7.992" in _stored_stdout(NB00, "for lr in (0.05, 0.2, 0.5)")


def test_the_pytorch_cross_check_runs_where_torch_is_and_says_how_to_install_it() -> None:
    cell = _stored_cell(NB00, "import torch")
    source = "".join(cell["source"])
    assert "except ImportError" in source and "pip install torch" in source
    assert CHECK.VARIES_TAG in cell["metadata"]["tags"]  # its output depends on the machine
    # stored from a run with PyTorch installed: the reader sees the comparison itself
    assert "PyTorch agrees with your Value on every gradient" in _stored_stdout(
        NB00, "import torch"
    )


def test_the_field_names_are_credited_as_they_are_in_micrograd() -> None:
    text = _markdown(NB00)
    assert "These five fields are micrograd's names" not in text
    assert "`label` is not in micrograd's `Value`" in text and "*set*" in text
    engine = pytest.importorskip("micrograd.engine")
    value = engine.Value(1.0)
    assert not hasattr(value, "label") and isinstance(value._prev, set)


def test_the_forgotten_zero_grad_is_described_as_measured() -> None:
    measured = _stored_stdout(NB00, "def train(zero_grad")
    assert "the loss is lower for 21 of the first 24 steps" in measured
    assert "at step 24 it jumps to 4.0001 and stays there" in measured
    text = _markdown(NB00)
    assert "for the first few steps it looks" not in text.lower()
    assert "for 21 of the first 24 steps" in text and "At step 24 the loss jumps to 4" in text


def test_gradient_checking_reports_the_trend_not_a_lucky_dip() -> None:
    printed = _stored_stdout("04_gradient_checking.ipynb", "def trend(errors)")
    assert "forward: error about 3e-08 near eps = 1e-08, so 8 correct digits" in printed
    assert "best error" not in printed
    assert "about 8 and 10 correct digits" in _markdown("04_gradient_checking.ipynb")


@pytest.mark.slow
def test_training_plots_give_loss_and_accuracy_their_own_labelled_axes(
    kernel_dir: Path, tmp_path: Path
) -> None:
    for name, loss in (
        ("03_neuron_to_mlp.ipynb", "loss (mean binary cross-entropy)"),
        ("07_softmax_cross_entropy.ipynb", "loss (mean cross-entropy)"),
    ):
        figures = _figures(NOTEBOOK_DIR / name, kernel_dir, tmp_path)
        labels = [{ax["y"] for ax in figure} - {"second input $x_2$"} for figure in figures]
        assert {loss, "training accuracy (%)"} in labels, (name, labels)


@pytest.mark.slow
def test_the_two_moons_classes_have_a_legend(kernel_dir: Path, tmp_path: Path) -> None:
    figures = _figures(NOTEBOOK_DIR / "03_neuron_to_mlp.ipynb", kernel_dir, tmp_path)
    legends = [ax["legend"] for figure in figures for ax in figure]
    assert ["class 0", "class 1"] in legends


@pytest.mark.slow
def test_the_pytorch_cell_runs_or_says_how_to_install_torch(
    kernel_dir: Path, tmp_path: Path
) -> None:
    executed = _executed(NOTEBOOK_DIR / NB00, kernel_dir, tmp_path)
    printed = _stdout(_cell(executed, "import torch"))
    installed = importlib.util.find_spec("torch") is not None
    expected = "PyTorch agrees" if installed else "pip install torch"
    assert expected in printed, printed


# --- what "the same output" means ---


def _nb(*outputs: dict[str, Any], tags: tuple[str, ...] = ()) -> dict[str, Any]:
    cell = {"cell_type": "code", "source": "run()", "metadata": {"tags": list(tags)},
            "outputs": list(outputs), "execution_count": 1}  # fmt: skip
    return {"cells": [cell], "metadata": {}}


def _print(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _show(mime: str, data: str) -> dict[str, Any]:
    return {"output_type": "display_data", "data": {mime: data}, "metadata": {}}


def test_stored_outputs_compare_numbers_within_tolerance_and_mask_what_varies() -> None:
    same = CHECK.differences
    assert same(_nb(_print("loss 0.021800\n")), _nb(_print("loss 0.0218001\n"))) == []
    assert same(_nb(_print("loss 0.0218\n")), _nb(_print("loss 0.0220\n"))) != []
    assert same(_nb(_print("loss 1\n")), _nb(_print("error 1\n"))) != []
    # one stream, however the run split it; timings and addresses are masked
    assert same(_nb(_print("a 1\nb 2\n")), _nb(_print("a 1\n"), _print("b 2\n"))) == []
    assert same(_nb(_print("took 1.5 s at 0x7f00\n")), _nb(_print("took 0.2 s at 0x7e11\n"))) == []
    # a plot is regenerated; a graph drawing keeps its texts and numbers
    png = CHECK.differences(_nb(_show("image/png", "AAAA")), _nb(_show("image/png", "BBBB")))
    assert png == []
    svg = '<svg><text x="{}">grad {}</text></svg>'
    moved = (
        _nb(_show("image/svg+xml", svg.format(10, 6))),
        _nb(_show("image/svg+xml", svg.format(12, 6))),
    )
    assert same(*moved) == []
    changed = (
        _nb(_show("image/svg+xml", svg.format(10, 6))),
        _nb(_show("image/svg+xml", svg.format(10, 7))),
    )
    assert same(*changed) != []
    # a cell tagged as varying (PyTorch installed or not) keeps only its kinds of output
    tagged = (CHECK.VARIES_TAG,)
    assert same(_nb(_print("PyTorch agrees"), tags=tagged), _nb(_print("pip install torch"))) == []
    assert same(_nb(_print("x"), tags=tagged), _nb(_show("text/plain", "x"))) != []
