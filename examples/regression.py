"""Fit a curve: an MLP learns ``y = sin(2x) + x/2`` on [-2, 2] from noisy samples.

A network with one input and one linear output is a flexible function of ``x``; trained
with the mean squared error it bends itself through the samples. Two hidden layers of 8 tanh
neurons give a smooth fit; Adam with a learning rate of 0.02 gets there in a few hundred
steps.

Run ``python examples/regression.py --out out`` and open ``out/regression_fit.png``
(samples, true curve and the network's prediction).
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from _common import (
    CLASS_COLORS,
    Progress,
    TrainingStep,
    fewer_gc_passes,
    finish,
    make_parser,
    plot_history,
    save_figure,
    steps_for,
)

from chainrule import Value, no_grad
from chainrule.losses import mse
from chainrule.nn import MLP
from chainrule.optim import Adam


def truth(x: float) -> float:
    """The curve to learn."""
    return math.sin(2.0 * x) + 0.5 * x


def make_samples(n: int, noise: float, seed: int) -> tuple[list[float], list[float]]:
    """``n`` evenly spaced ``x`` in [-2, 2] and ``truth(x)`` plus Gaussian noise."""
    rng = random.Random(seed)
    xs = [-2.0 + 4.0 * i / (n - 1) for i in range(n)]
    return xs, [truth(x) + rng.gauss(0.0, noise) for x in xs]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train, draw, and return the metrics and the paths of the files written."""
    parser = make_parser(__doc__.splitlines()[0], steps=200, quick_steps=10, seed=0)
    parser.add_argument(
        "--n", type=int, default=None, help="number of samples (default: 40; quick: 12)"
    )
    parser.add_argument(
        "--noise", type=float, default=0.1, help="noise of the samples (default: 0.1)"
    )
    parser.add_argument(
        "--hidden", type=int, default=8, help="neurons per hidden layer (default: 8)"
    )
    args = parser.parse_args(argv)
    steps = steps_for(args)
    n = args.n if args.n is not None else 12 if args.quick else 40

    xs, ys = make_samples(n, args.noise, args.seed)
    model = MLP(1, [args.hidden, args.hidden, 1], activation="tanh", init="xavier", seed=args.seed)
    optimizer = Adam(model.parameters(), lr=0.02)
    print(f"{model}\non {n} samples, {steps} steps")

    history: dict[str, list[float]] = {"loss": []}

    def loss_only() -> tuple[Value, list[Value]]:
        return mse([model(x) for x in xs], ys), []

    train_step = TrainingStep(loss_only, dynamic=args.dynamic)  # compiled by default
    start = time.perf_counter()
    bar = Progress(steps, "training", args.no_progress, compiling=not args.dynamic)
    with fewer_gc_passes():
        for _ in bar:
            optimizer.zero_grad()
            loss, _ = train_step()  # fills every parameter's .grad
            optimizer.step()
            history["loss"].append(loss)
            bar.set_postfix(mse=f"{loss:.4f}")
    seconds = time.perf_counter() - start

    grid = [-2.2 + 4.4 * i / 199 for i in range(200)]
    with no_grad():
        fitted = [model(x).data for x in xs]
        curve = [model(x).data for x in grid]
    train_mse = sum((f - t) ** 2 for f, t in zip(fitted, ys, strict=True)) / n
    true_mse = sum((f - truth(x)) ** 2 for f, x in zip(fitted, xs, strict=True)) / n

    out: Path = args.out
    paths = {
        "training curve": plot_history(
            history, out / "regression_training.png", "regression", loss="mean squared error"
        ),
        "fit": plot_fit(xs, ys, grid, curve, out / "regression_fit.png"),
    }
    results = {
        "train_mse": train_mse,
        "mse_to_true_curve": true_mse,
    }
    return finish("curve fitting:", results, steps=steps, points=n, seconds=seconds,
                  history=history, paths=paths, model=model,
                  speeds=train_step.speeds(seconds))  # fmt: skip


def plot_fit(
    xs: list[float], ys: list[float], grid: list[float], curve: list[float], path: Path
) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(grid, [truth(x) for x in grid], color="0.4", lw=1.5, ls="--", label="true curve")
    ax.plot(grid, curve, color=CLASS_COLORS[1], lw=2.2, label="network")
    ax.scatter(xs, ys, s=18, color=CLASS_COLORS[0], zorder=3, label="training samples")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("prediction vs truth: y = sin(2x) + x/2")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


if __name__ == "__main__":
    main(sys.argv[1:])
