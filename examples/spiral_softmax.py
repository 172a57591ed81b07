"""Classify three interleaved spirals with a softmax output, cross-entropy and Adam.

The network ends in 3 linear outputs, one score (logit) per class. The cross-entropy loss
``logsumexp(z) - z_true`` is one fused node per sample whose gradient is exactly
``softmax(z) - onehot(true class)``: push up the right score, push down the others in
proportion to their probability. Adam adapts a step size per parameter, which this tightly
wound problem needs.

Run ``python examples/spiral_softmax.py --out out`` and open ``out/spiral_boundary.png``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import (
    Progress,
    TrainingStep,
    accuracy,
    fewer_gc_passes,
    finish,
    make_parser,
    plot_decision_boundary,
    plot_history,
    steps_for,
)

from chainrule import Value
from chainrule.data import make_spiral
from chainrule.losses import cross_entropy
from chainrule.nn import MLP
from chainrule.optim import Adam


def argmax(scores: Sequence[Value | float]) -> int:
    """The class with the highest score."""
    numbers = [s.data if isinstance(s, Value) else s for s in scores]
    return max(range(len(numbers)), key=lambda i: numbers[i])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train, draw, and return the metrics and the paths of the files written."""
    parser = make_parser(__doc__.splitlines()[0], steps=100, quick_steps=8, seed=0)
    parser.add_argument(
        "--n", type=int, default=None, help="number of points (default: 90; quick: 30)"
    )
    parser.add_argument("--classes", type=int, default=3, help="number of spiral arms (default: 3)")
    parser.add_argument(
        "--hidden", type=int, default=16, help="neurons per hidden layer (default: 16)"
    )
    args = parser.parse_args(argv)
    steps = steps_for(args)
    n = args.n if args.n is not None else 30 if args.quick else 90

    X, y = make_spiral(n, classes=args.classes, noise=0.1, seed=args.seed)
    model = MLP(2, [args.hidden, args.hidden, args.classes], seed=args.seed)
    optimizer = Adam(model.parameters(), lr=0.05)
    print(f"{model}\non {n} spiral points, {steps} steps")

    history: dict[str, list[float]] = {"loss": [], "accuracy": []}

    def loss_and_logits() -> tuple[Value, list[Value]]:
        logits = [model(x) for x in X]
        return cross_entropy(logits, y), [z for row in logits for z in row]

    train_step = TrainingStep(loss_and_logits, dynamic=args.dynamic)  # compiled by default
    start = time.perf_counter()
    bar = Progress(steps, "training", args.no_progress, compiling=not args.dynamic)
    with fewer_gc_passes():
        for _ in bar:
            optimizer.zero_grad()
            loss, flat = train_step()  # fills every parameter's .grad
            optimizer.step()
            k = args.classes
            acc = accuracy([argmax(flat[i : i + k]) for i in range(0, len(flat), k)], y)
            history["loss"].append(loss)
            history["accuracy"].append(acc)
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.0%}")
    seconds = time.perf_counter() - start

    def predict(p: list[float]) -> int:
        return argmax(model(p))

    train_accuracy = accuracy([predict(x) for x in X], y)
    out: Path = args.out
    paths = {
        "training curve": plot_history(
            history,
            out / "spiral_training.png",
            f"{args.classes}-class spiral",
            loss="mean cross-entropy",
        ),
        "decision boundary": plot_decision_boundary(
            lambda p: [z.data for z in model(p)],
            X,
            y,
            out / "spiral_boundary.png",
            f"spiral, training accuracy {train_accuracy:.0%}",
            resolution=15 if args.quick else 50,
        ),
    }
    results = {
        "train_accuracy": train_accuracy,
        "final_loss": history["loss"][-1],
    }
    return finish("spiral:", results, steps=steps, points=n, seconds=seconds,
                  history=history, paths=paths, model=model,
                  speeds=train_step.speeds(seconds))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
