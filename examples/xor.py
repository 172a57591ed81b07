"""Learn XOR: the smallest problem a single neuron cannot solve and a hidden layer can.

Four clusters sit at the corners (+-1, +-1); the label is 1 where the signs of the two
coordinates differ. No straight line separates the classes, so a linear model is stuck at
chance; an MLP with one hidden layer of 8 tanh neurons bends the boundary around them.

- loss: binary cross-entropy on the logit, ``softplus(z) - y z`` (stable for any ``z``);
- optimiser: SGD with momentum 0.9.

Run ``python examples/xor.py --out out`` and open ``out/xor_boundary.png``.
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
from chainrule.data import make_xor
from chainrule.losses import binary_cross_entropy_with_logits
from chainrule.nn import MLP
from chainrule.optim import SGD


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train, draw, and return the metrics and the paths of the files written."""
    parser = make_parser(__doc__.splitlines()[0], steps=100, quick_steps=10, seed=0)
    parser.add_argument(
        "--n", type=int, default=None, help="number of points (default: 60; quick: 20)"
    )
    parser.add_argument(
        "--hidden", type=int, default=8, help="neurons in the hidden layer (default: 8)"
    )
    args = parser.parse_args(argv)
    steps = steps_for(args)
    n = args.n if args.n is not None else 20 if args.quick else 60

    X, y = make_xor(n, noise=0.25, seed=args.seed)
    model = MLP(2, [args.hidden, 1], activation="tanh", seed=args.seed)
    optimizer = SGD(model.parameters(), lr=0.2, momentum=0.9)
    print(f"{model}\non {n} XOR points, {steps} steps")

    history: dict[str, list[float]] = {"loss": [], "accuracy": []}

    def loss_and_logits() -> tuple[Value, list[Value]]:
        logits = [model(x) for x in X]
        return binary_cross_entropy_with_logits(logits, y), logits

    train_step = TrainingStep(loss_and_logits, dynamic=args.dynamic)  # compiled by default
    start = time.perf_counter()
    bar = Progress(steps, "training", args.no_progress, compiling=not args.dynamic)
    with fewer_gc_passes():
        for _ in bar:
            optimizer.zero_grad()
            loss, logits = train_step()  # fills every parameter's .grad
            optimizer.step()
            acc = accuracy([int(z > 0) for z in logits], y)
            history["loss"].append(loss)
            history["accuracy"].append(acc)
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.0%}")
    seconds = time.perf_counter() - start

    def predict(p: list[float]) -> int:
        return int(model(p).data > 0)

    train_accuracy = accuracy([predict(x) for x in X], y)
    out: Path = args.out
    paths = {
        "training curve": plot_history(
            history,
            out / "xor_training.png",
            f"XOR, MLP 2-{args.hidden}-1 (tanh)",
            loss="mean binary cross-entropy",
        ),
        "decision boundary": plot_decision_boundary(
            lambda p: model(p).data,  # the logit: class 1 where it is > 0
            X,
            y,
            out / "xor_boundary.png",
            f"XOR, training accuracy {train_accuracy:.0%}",
            resolution=15 if args.quick else 60,
        ),
    }
    results = {
        "train_accuracy": train_accuracy,
        "final_loss": history["loss"][-1],
    }
    return finish("XOR:", results, steps=steps, points=n, seconds=seconds,
                  history=history, paths=paths, model=model,
                  speeds=train_step.speeds(seconds))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
