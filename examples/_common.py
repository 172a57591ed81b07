"""Helpers the example scripts share: command line, progress bar, plots and graph drawing.

Everything here is plumbing; the learning itself is spelled out in each script. Plots are
written to files with matplotlib's headless Agg backend, so the scripts run the same on a
laptop, over ssh and in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never open a window

import matplotlib.pyplot as plt
from tqdm import tqdm

import chainrule
from chainrule import Value, no_grad

# One colour per class, readable for the common colour-vision deficiencies (Okabe & Ito).
CLASS_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]

INSTALL_DOT = (
    "Graphviz's `dot` program is needed to draw the graph as SVG. Install it with\n"
    "    sudo apt-get install graphviz   (Debian/Ubuntu)\n"
    "    brew install graphviz           (macOS)\n"
    "    conda install -c conda-forge graphviz\n"
    "and run again. The graph's DOT source was written instead: {path}"
)


def make_parser(
    description: str, *, steps: int, quick_steps: int, seed: int
) -> argparse.ArgumentParser:
    """The options every example takes: ``--steps --seed --out --quick --no-progress``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training steps (default: {steps}; quick: {quick_steps})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=seed,
        help=f"seed for the data and the weights (default: {seed})",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out"), help="folder for the pictures (default: out)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run of a second or two (the tests use it)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--dynamic",
        action="store_true",
        help="train with the dynamic engine (loss.backward() on the graph) instead of the "
        "code chainrule.compile generates from it",
    )
    parser.set_defaults(full_steps=steps, quick_steps=quick_steps)
    return parser


def steps_for(args: argparse.Namespace) -> int:
    """``--steps`` if given, else the quick or the full default; always at least 1."""
    if args.steps is not None:
        steps = args.steps
    else:
        steps = args.quick_steps if args.quick else args.full_steps
    if steps < 1:
        raise SystemExit(f"--steps must be at least 1, got {steps}")
    return int(steps)


class Progress:
    """The training steps ``0 .. steps-1`` with a tqdm bar on stderr that starts after step 0.

    Step 0 of a compiled run traces and compiles the whole step, seconds that a later step does
    not take: inside the bar it would make the first rate estimate (and the time left) many
    times too long. So with ``compiling=True`` the bar says "compiling..." first, runs step 0
    before the bar exists, then counts from 1. ``set_postfix`` shows the running loss and
    accuracy (on step 0 it is kept until the bar starts).
    """

    def __init__(self, steps: int, desc: str, disable: bool, compiling: bool) -> None:
        self.steps, self.desc, self.disable, self.compiling = steps, desc, disable, compiling
        self.bar: tqdm[int] | None = None
        self.postfix: dict[str, str] = {}

    def __iter__(self) -> Iterator[int]:
        start = time.perf_counter()
        if self.compiling:
            print("compiling the training step (traced once, on step 0)...", end=" ",
                  file=sys.stderr, flush=True)  # fmt: skip
        yield 0
        if self.compiling:
            print(f"done in {time.perf_counter() - start:.2f} s", file=sys.stderr, flush=True)
        self.bar = tqdm(
            range(1, self.steps), total=self.steps, initial=1, desc=self.desc,
            disable=self.disable, dynamic_ncols=True, leave=True, file=sys.stderr,
        )  # fmt: skip
        self.bar.set_postfix(self.postfix)
        yield from self.bar

    def set_postfix(self, **postfix: str) -> None:
        self.postfix = postfix
        if self.bar is not None:
            self.bar.set_postfix(postfix)


@contextlib.contextmanager
def fewer_gc_passes(threshold: int = 100_000) -> Iterator[None]:
    """Let Python's cyclic garbage collector run rarely while a model trains.

    A chainrule graph has no reference cycles (a node's backward closure holds its parents,
    never the node), so reference counting frees each step's graph the moment it is dropped.
    The cyclic collector still starts a pass every 700 new objects and re-examines the
    hundreds of thousands of nodes a step keeps alive: measured on the moons demo, that took
    more time than the arithmetic. A higher threshold keeps it as a safety net only; the old
    setting is restored on exit.
    """
    old = gc.get_threshold()
    gc.set_threshold(threshold, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


class TrainingStep:
    """One training step: the loss and the outputs to watch, every parameter's ``.grad`` filled.

    ``build()`` makes the loss and a list of outputs (scores, logits) from the model's current
    parameters. Dynamic: the step builds that graph and calls ``loss.backward()``, the engine
    a learner reads. Compiled (the default): ``chainrule.compile(build)`` traces the graph once
    and runs straight-line code after, with the same floats for the loss and the gradients.
    """

    def __init__(self, build: Callable[[], tuple[Value, list[Value]]], dynamic: bool) -> None:
        self.build = build
        self.dynamic = dynamic
        self.compiled = None if dynamic else chainrule.compile(build)
        self.first_seconds = 0.0  # the first call: tracing and compiling, when compiled
        self.calls = 0

    def __call__(self) -> tuple[float, list[float]]:
        start = time.perf_counter()
        if self.compiled is None:
            loss, outs = self.build()
            loss.backward()
            result = loss.data, [o.data for o in outs]
        else:
            compiled_loss, numbers = self.compiled()
            result = compiled_loss.data, numbers
        if self.calls == 0:
            self.first_seconds = time.perf_counter() - start
        self.calls += 1
        return result

    def speeds(self, seconds: float) -> dict[str, Any]:
        """The engine used and its speed; when compiled, one dynamic step timed to compare."""
        if self.compiled is None:
            return {"engine": "dynamic", "seconds_per_step": seconds / max(self.calls, 1)}
        later = (seconds - self.first_seconds) / max(self.calls - 1, 1)
        params = self.compiled.parameters
        saved = [p.grad for p in params]
        with fewer_gc_passes():  # as in the training loops
            start = time.perf_counter()
            loss, _ = self.build()
            loss.backward()
            dynamic = time.perf_counter() - start
        for p, g in zip(params, saved):
            p.grad = g
        return {
            "engine": "compiled",
            "compile_seconds": self.first_seconds,
            "seconds_per_step": later,
            "dynamic_seconds_per_step": dynamic,
            "speedup": dynamic / later if later > 0 else math.inf,
        }


def linear_decay(step: int, steps: int, start: float, end: float) -> float:
    """``start`` at step 0 falling linearly to ``end`` at the last step."""
    return start + (end - start) * (step / max(steps - 1, 1))


def accuracy(predicted: Sequence[int], labels: Sequence[int]) -> float:
    """Fraction of predictions equal to the labels."""
    return sum(p == t for p, t in zip(predicted, labels, strict=True)) / len(labels)


# --- pictures ---


def plot_history(
    history: Mapping[str, Sequence[float]], path: Path, title: str, *, loss: str
) -> Path:
    """Loss (log scale) on the left axis and, if recorded, accuracy on the right one.

    ``loss`` names the loss on its axis (``"mean hinge loss + L2 penalty"``): a curve labelled
    only "loss" does not say what was minimised.
    """
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    steps = range(1, len(history["loss"]) + 1)
    ax.plot(steps, history["loss"], color=CLASS_COLORS[0], lw=2, label=loss)
    if min(history["loss"]) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"loss: {loss}", color=CLASS_COLORS[0])
    ax.grid(alpha=0.3)
    if "accuracy" in history:
        ax2 = ax.twinx()
        ax2.plot(steps, [100 * a for a in history["accuracy"]], color=CLASS_COLORS[1], lw=2)
        ax2.set_ylabel("training accuracy (%)", color=CLASS_COLORS[1])
        ax2.set_ylim(0, 102)
    ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_decision_boundary(
    scores: Callable[[list[float]], float | Sequence[float]],
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    path: Path,
    title: str,
    resolution: int = 60,
) -> Path:
    """Colour the plane by the class the model picks at each point, then draw the data.

    ``scores(point)`` is a binary classifier's score (class 1 where it is > 0) or a list of
    one score per class (the largest wins). Class ``c`` owns the points where its margin
    ``z_c - max_{j != c} z_j`` is positive; the boundaries are the interpolated zero lines
    of the margins, so they are smooth even on a coarse grid. The ``resolution**2`` forward
    passes run under ``no_grad()`` and build no graph.
    """
    xs = [p[0] for p in X]
    ys = [p[1] for p in X]
    pad_x = 0.15 * (max(xs) - min(xs)) + 0.1
    pad_y = 0.15 * (max(ys) - min(ys)) + 0.1
    gx = _linspace(min(xs) - pad_x, max(xs) + pad_x, resolution)
    gy = _linspace(min(ys) - pad_y, max(ys) + pad_y, resolution)
    with no_grad():
        grid = [[scores([a, b]) for a in gx] for b in gy]
    margins = _margins(grid)
    aspect = (gy[-1] - gy[0]) / (gx[-1] - gx[0])
    fig, ax = plt.subplots(figsize=(6.4, min(max(6.4 * aspect, 3.0), 8.0) + 0.5), dpi=110)
    for c, margin in enumerate(margins):
        low = min(min(row) for row in margin)
        high = max(max(row) for row in margin)
        if high > 0.0:
            color = CLASS_COLORS[c % len(CLASS_COLORS)]
            ax.contourf(gx, gy, margin, levels=[0.0, high], colors=[color], alpha=0.25)
        if low < 0.0 < high:
            ax.contour(gx, gy, margin, levels=[0.0], colors="k", linewidths=0.8)
    for c in sorted(set(y)):
        pts = [p for p, label in zip(X, y, strict=True) if label == c]
        ax.scatter(
            [p[0] for p in pts], [p[1] for p in pts], s=22,
            color=CLASS_COLORS[c % len(CLASS_COLORS)], edgecolors="white", linewidths=0.6,
            label=f"class {c}", zorder=3,
        )  # fmt: skip
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ax.set_title(title)
    ax.set_xlabel("first input $x_1$")
    ax.set_ylabel("second input $x_2$")
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_aspect("equal")
    fig.tight_layout()
    return save_figure(fig, path)


def _margins(grid: list[list[float | Sequence[float]]]) -> list[list[list[float]]]:
    """Per class, ``z_c - max_{j != c} z_j`` on the grid; a binary score ``s`` is ``(-s, s)``."""
    first = grid[0][0]
    if isinstance(first, (int, float)):
        positive = [[float(v) for v in row] for row in grid]  # type: ignore[arg-type]
        return [[[-v for v in row] for row in positive], positive]
    k = len(first)

    def margin(z: Sequence[float], c: int) -> float:
        return z[c] - max(z[j] for j in range(k) if j != c)

    return [[[margin(z, c) for z in row] for row in grid] for c in range(k)]  # type: ignore[arg-type]


def _linspace(a: float, b: float, n: int) -> list[float]:
    return [a + (b - a) * i / (n - 1) for i in range(n)]


def save_figure(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` (its folder made as needed), close it, and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def render_graph(root: Value, path: Path, **options: Any) -> Path:
    """Draw the graph of ``root`` to ``path`` (SVG) with ``chainrule.viz``.

    Without Graphviz's ``dot`` program the DOT source is written next to it (``.dot``) and a
    note says how to install ``dot``; the path actually written is returned.
    """
    from chainrule.viz import GraphvizNotFoundError, render

    path.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("dot") is not None:
        try:
            return render(root, path, **options)
        except GraphvizNotFoundError:
            pass
    source = render(root, path.with_suffix(".dot"), **options)
    print(INSTALL_DOT.format(path=source), file=sys.stderr)
    return source


def write_json(data: Mapping[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def finish(
    title: str,
    results: Mapping[str, Any],
    *,
    steps: int,
    points: int,
    seconds: float,
    history: Mapping[str, Any],
    paths: Mapping[str, Path],
    model: Any,
    speeds: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Add the run's size and timing to ``results``, print them with the files written, and
    return everything a caller (or a test) may want."""
    metrics = {**results, "steps": steps, "points": points, "seconds": seconds,
               "seconds_per_step": seconds / steps, **(speeds or {})}  # fmt: skip
    report(title, metrics, paths)
    return {**metrics, "history": history, "paths": paths, "model": model}


def report(title: str, metrics: Mapping[str, Any], paths: Mapping[str, Path]) -> None:
    """Print the numbers and where each file went."""
    print(title)
    for key, value in metrics.items():
        shown = f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else value
        if key.endswith("accuracy"):  # a fraction, said as people say it
            shown = f"{100 * value:.1f}%"
        print(f"  {key:<18} {shown}")
    print("files:")
    for name, path in paths.items():
        print(f"  {name:<18} {path}")
