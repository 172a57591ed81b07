"""Every example script runs end to end in --quick mode and writes real, non-empty pictures."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def examples_on_path() -> Iterator[None]:
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


def run(name: str, out: Path, *extra: str) -> dict[str, Any]:
    module = importlib.import_module(name)
    result: dict[str, Any] = module.main(["--quick", "--no-progress", "--out", str(out), *extra])
    return result


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 5_000, f"{path} is suspiciously small ({len(data)} bytes)"


@pytest.mark.slow
def test_train_moons_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run("train_moons", tmp_path)
    paths = result["paths"]
    assert_png(paths["training curve"])
    assert_png(paths["decision boundary"])
    svg = paths["one neuron's graph"]
    assert svg.suffix in (".svg", ".dot")  # .dot only where Graphviz's dot is missing
    text = svg.read_text(encoding="utf-8")
    assert ("<svg" in text) if svg.suffix == ".svg" else text.startswith("digraph")
    assert "ReLU" in text and "w0" in text and "grad" in text
    # the caption says which neuron, which point, and what the grads are derivatives of
    assert (
        "neuron model.layers[0].neurons[0] (first hidden layer, 16 neurons) on data point X["
        in text
    )
    assert "derivatives of this neuron&#39;s output, not of the loss" in text or (
        "derivatives of this neuron's output, not of the loss" in text
    )
    state = json.loads(paths["weights"].read_text(encoding="utf-8"))
    assert len(state) == result["parameters"] == 337
    assert result["steps"] == 8 and len(result["history"]["loss"]) == 8
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    assert 0.5 < result["train_accuracy"] <= 1.0
    assert result["seconds_per_step"] > 0
    captured = capsys.readouterr()
    printed = captured.out
    assert str(paths["decision boundary"]) in printed
    accuracy_line = next(line for line in printed.splitlines() if "train_accuracy" in line)
    assert accuracy_line.split()[-1] == f"{100 * result['train_accuracy']:.1f}%"
    # the compile is announced, and done, before the progress bar counts anything
    assert captured.err.startswith("compiling the training step") and "done in" in captured.err


@pytest.mark.slow
def test_xor_quick(tmp_path: Path) -> None:
    result = run("xor", tmp_path)
    assert_png(result["paths"]["training curve"])
    assert_png(result["paths"]["decision boundary"])
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]


@pytest.mark.slow
def test_regression_quick(tmp_path: Path) -> None:
    result = run("regression", tmp_path, "--steps", "15")
    assert_png(result["paths"]["fit"])
    assert_png(result["paths"]["training curve"])
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    assert result["train_mse"] == pytest.approx(result["history"]["loss"][-1], rel=0.5)


@pytest.mark.slow
def test_spiral_quick(tmp_path: Path) -> None:
    result = run("spiral_softmax", tmp_path)
    assert_png(result["paths"]["decision boundary"])
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    assert result["model"].layers[-1].nout == 3


@pytest.mark.slow
def test_same_seed_same_run(tmp_path: Path) -> None:
    a = run("xor", tmp_path / "a", "--steps", "3", "--seed", "5")
    b = run("xor", tmp_path / "b", "--steps", "3", "--seed", "5")
    assert a["history"] == b["history"]
    assert a["model"].state_dict() == b["model"].state_dict()


def test_bad_steps_exit_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--steps must be at least 1, got 0"):
        run("xor", tmp_path, "--steps", "0")


def test_without_dot_the_graph_source_is_written_and_install_help_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    common = importlib.import_module("_common")
    monkeypatch.setattr(common.shutil, "which", lambda name: None)
    from chainrule import Value

    x = Value(2.0, label="x")
    y = (x * x).relu()
    y.backward()
    written = common.render_graph(y, tmp_path / "graph.svg")
    assert written == tmp_path / "graph.dot"
    assert written.read_text(encoding="utf-8").startswith("digraph")
    assert not (tmp_path / "graph.svg").exists()
    assert "apt-get install graphviz" in capsys.readouterr().err


def test_the_first_step_runs_before_the_bar_so_the_compile_is_not_in_its_rate() -> None:
    common = importlib.import_module("_common")
    steps = common.Progress(4, "training", disable=True, compiling=True)
    seen = []
    for step in steps:
        seen.append((step, steps.bar))
        steps.set_postfix(loss="1.0")
    assert [step for step, _ in seen] == [0, 1, 2, 3]
    assert seen[0][1] is None  # step 0 (the compile) runs before the bar exists
    bar = seen[1][1]
    assert bar is not None and bar.n >= 1 and bar.total == 4  # counted from 1


def test_the_demos_loss_axis_names_the_loss_without_a_number_that_reads_as_a_scale() -> None:
    moons = importlib.import_module("train_moons")
    assert moons.LOSS_NAME.startswith("mean hinge loss")
    assert "(" not in moons.LOSS_NAME and "1e-" not in moons.LOSS_NAME


def test_plots_name_their_loss_and_label_the_input_axes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = importlib.import_module("_common")
    figures: list[Any] = []

    def keep(fig: Any, path: Path) -> Path:
        figures.append(fig)
        return path

    monkeypatch.setattr(common, "save_figure", keep)
    history = {"loss": [0.9, 0.5, 0.2], "accuracy": [0.5, 0.7, 0.9]}
    common.plot_history(history, tmp_path / "h.png", "moons", loss="mean hinge loss")
    common.plot_decision_boundary(lambda p: p[0] - p[1], [[0.0, 1.0], [1.0, 0.0]], [0, 1],
                                  tmp_path / "b.png", "boundary", resolution=8)  # fmt: skip
    curve, boundary = (fig.axes[0] for fig in figures)
    assert curve.get_ylabel() == "loss: mean hinge loss"
    assert boundary.get_xlabel() == "first input $x_1$"
    assert boundary.get_ylabel() == "second input $x_2$"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["xor", "regression", "spiral_softmax", "train_moons"])
def test_compiled_and_dynamic_training_give_the_same_floats(tmp_path: Path, name: str) -> None:
    compiled = run(name, tmp_path / "c", "--steps", "3")
    dynamic = run(name, tmp_path / "d", "--steps", "3", "--dynamic")
    assert compiled["engine"] == "compiled" and dynamic["engine"] == "dynamic"
    assert compiled["history"] == dynamic["history"]  # the same loss, step after step
    assert compiled["model"].state_dict() == dynamic["model"].state_dict()
    assert compiled["dynamic_seconds_per_step"] > 0 and compiled["compile_seconds"] > 0
