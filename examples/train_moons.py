"""Train a small neural network to separate two interleaving half moons.

This is micrograd's demo, on chainrule: an MLP with two hidden layers of 16 ReLU neurons
(337 parameters) learns to classify 100 points of the two-moons dataset. Every one of the
~61,000 multiplications and additions of a training step is a scalar ``Value`` in the graph
(65,000 nodes in all).

By default the step runs through ``chainrule.compile``: the graph is traced once into
straight-line Python that gives the same floats as ``loss.backward()``, many times faster.
``--dynamic`` builds the graph and walks it with ``backward()`` on every step, the engine a
learner reads; the script prints the speed of both.

- loss: max-margin (hinge) ``mean(max(0, 1 - y * score))`` for labels ``y`` in {-1, +1},
  plus the L2 penalty ``1e-4 * sum(w**2)``;
- optimiser: full-batch gradient descent, learning rate falling linearly from 1.0 to 0.1.

Run it::

    python examples/train_moons.py --out out            # compiled
    python examples/train_moons.py --out out --dynamic  # the graph, step by step

and open ``out/moons_boundary.png`` (the decision boundary over the data),
``out/moons_training.png`` (loss and accuracy per step) and ``out/moons_neuron.svg`` (the
computation graph of one trained neuron, with its gradients).
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
    linear_decay,
    make_parser,
    plot_decision_boundary,
    plot_history,
    render_graph,
    steps_for,
    write_json,
)

from chainrule import Value
from chainrule.data import make_moons
from chainrule.losses import hinge, l2_penalty
from chainrule.nn import MLP
from chainrule.optim import SGD

# What the loss curve's axis says was minimised; the penalty's weight goes in the title (a
# number in brackets on the axis would read as the axis's scale).
LOSS_NAME = "mean hinge loss + L2 penalty"
PENALTY = 1e-4


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train, draw, and return the metrics and the paths of the files written."""
    parser = make_parser(__doc__.splitlines()[0], steps=100, quick_steps=8, seed=1337)
    parser.add_argument(
        "--n", type=int, default=None, help="number of points (default: 100; quick: 30)"
    )
    parser.add_argument(
        "--noise", type=float, default=0.1, help="noise of the moons (default: 0.1)"
    )
    args = parser.parse_args(argv)
    steps = steps_for(args)
    n = args.n if args.n is not None else 30 if args.quick else 100

    X, labels = make_moons(n, noise=args.noise, seed=args.seed)
    y = [2 * t - 1 for t in labels]  # hinge loss wants -1 / +1
    model = MLP(2, [16, 16, 1], seed=args.seed)
    optimizer = SGD(model.parameters(), lr=1.0)
    print(f"{model}\non {n} moons points, {steps} steps")

    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "lr": []}

    def loss_and_scores() -> tuple[Value, list[Value]]:
        scores = [model(x) for x in X]
        return hinge(scores, y) + l2_penalty(model.parameters(), alpha=PENALTY), scores

    # By default this graph is traced once by chainrule.compile into straight-line code that
    # gives the same floats; --dynamic builds it and calls loss.backward() on every step.
    train_step = TrainingStep(loss_and_scores, dynamic=args.dynamic)
    start = time.perf_counter()
    bar = Progress(steps, "training", args.no_progress, compiling=not args.dynamic)
    with fewer_gc_passes():
        for step in bar:
            optimizer.lr = linear_decay(step, steps, 1.0, 0.1)
            optimizer.zero_grad()
            loss, scores = train_step()  # fills every parameter's .grad
            optimizer.step()

            acc = accuracy([s > 0 for s in scores], [t > 0 for t in y])
            history["loss"].append(loss)
            history["accuracy"].append(acc)
            history["lr"].append(optimizer.lr)
            bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.0%}")
    seconds = time.perf_counter() - start

    # The scores above were computed before the last update: evaluate the final model.
    final = [model(x).data for x in X]
    train_accuracy = accuracy([s > 0 for s in final], [t > 0 for t in y])

    out: Path = args.out
    paths = {
        "training curve": plot_history(
            history,
            out / "moons_training.png",
            f"two moons, MLP 2-16-16-1, {steps} steps\n"
            f"L2 penalty = {PENALTY:g} × sum of squared weights",
            loss=LOSS_NAME,
        ),
        "decision boundary": plot_decision_boundary(
            lambda p: model(p).data,  # the score: class 1 where it is > 0
            X,
            labels,
            out / "moons_boundary.png",
            f"decision boundary, training accuracy {train_accuracy:.0%}",
            resolution=15 if args.quick else 60,
        ),
        "one neuron's graph": draw_one_neuron(model, X, out / "moons_neuron.svg"),
        "weights": write_json(model.state_dict(), out / "moons_model.json"),
    }
    results = {
        "train_accuracy": train_accuracy,
        "final_loss": history["loss"][-1],
        "parameters": model.num_parameters(),
    }
    return finish("two moons:", results, steps=steps, points=n, seconds=seconds,
                  history=history, paths=paths, model=model,
                  speeds=train_step.speeds(seconds))  # fmt: skip


def draw_one_neuron(model: MLP, X: Sequence[list[float]], path: Path) -> Path:
    """The graph of one trained neuron of the first hidden layer, ``relu(b + w0 x0 + w1 x1)``,
    on one data point that switches it on, after ``backward()`` from the neuron's own output:
    every value and every gradient is written on it, and the caption says which neuron, which
    point, and that the grads are d(neuron output)/d(value), not gradients of the loss. (On a
    point where the ReLU is off, every gradient would be 0.)"""
    layer = model.layers[0]
    j, i = next(
        (
            (j, i)
            for j, n in enumerate(layer.neurons)
            for i, x in enumerate(X)
            if n.b.data + n.w[0].data * x[0] + n.w[1].data * x[1] > 0
        ),
        (0, 0),
    )
    neuron, point = layer.neurons[j], X[i]
    xs = [Value(v, label=f"x{k}", requires_grad=False) for k, v in enumerate(point)]
    neuron.zero_grad()
    out = neuron(xs)
    out.label = "out"
    out.backward()
    caption = (
        f"trained neuron model.layers[0].neurons[{j}] (first hidden layer, {len(layer.neurons)}"
        f" neurons) on data point X[{i}] = ({point[0]:.4g}, {point[1]:.4g})\n"
        "grad = d out / d value: derivatives of this neuron's output, not of the loss"
    )
    written = render_graph(out, path, params=neuron, legend=True, title=caption)
    neuron.zero_grad()
    return written


if __name__ == "__main__":
    main(sys.argv[1:])
