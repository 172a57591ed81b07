"""Recognise handwritten digits with a 64-32-10 MLP, trained through a batched program.

scikit-learn ships 1,797 labelled 8x8 images of handwritten digits inside its package
(``load_digits``: no download). Each image is 64 grey levels from 0 to 16; the network reads
them scaled to [0, 1], computes 10 scores (one per digit) and learns from the softmax
cross-entropy of the scores against the true digit.

The model is written for one example, as everywhere in chainrule (``model(x)`` on 64 numbers,
``cross_entropy(scores, onehot)``). ``chainrule.batched`` traces that once and turns it into a
numpy program that computes the losses and the gradients of a whole mini-batch at once; the
gradients are averaged over the batch into every parameter's ``.grad`` and Adam steps as
usual.

``--engine compiled`` or ``--engine dynamic`` instead runs the per-example paths
(``chainrule.compile`` and ``loss.backward()``, one example at a time) on a slice of the
training set and says how long one epoch would take that way.

Run ``python examples/digits.py --out out`` and open ``out/digits_training.png`` and
``out/digits_misclassified.png``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import CLASS_COLORS, Progress, fewer_gc_passes, report, save_figure
from matplotlib import pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import chainrule
from chainrule import Value
from chainrule.losses import cross_entropy
from chainrule.nn import MLP
from chainrule.optim import Adam


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="passes over the training set (default: 20; quick: 3)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="examples per step (default: 32)"
    )
    parser.add_argument(
        "--lr", type=float, default=0.005, help="Adam's learning rate (default: 0.005)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for the split and the weights (default: 0)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out"), help="folder for the pictures (default: out)"
    )
    parser.add_argument("--quick", action="store_true", help="a small slice, for the tests")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--engine",
        choices=["batched", "compiled", "dynamic"],
        default="batched",
        help="batched: train (default); compiled or dynamic: time the per-example paths on a "
        "slice and project one epoch",
    )
    parser.add_argument(
        "--slice", type=int, default=200, help="examples timed per example (default: 200)"
    )
    return parser.parse_args(argv)  # fmt: skip


def load(seed: int, quick: bool) -> tuple[Any, Any, Any, Any]:
    """Pixels scaled to [0, 1] and labels, split 80/20 with every digit in both parts."""
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    if quick:
        X, y = X[:400], y[:400]
    return train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train (or time the per-example paths) and return the metrics and the files written."""
    args = parse(argv)
    X_train, X_test, y_train, y_test = load(args.seed, args.quick)
    model = MLP(64, [32, 10], init="he", seed=args.seed)
    print(f"{model}\non {len(X_train)} training and {len(X_test)} test digits")

    def loss_and_scores(x: list[Value], onehot: list[Value]) -> tuple[Value, list[Value]]:
        scores = model(x)
        assert isinstance(scores, list)
        return cross_entropy(scores, onehot), scores

    if args.engine != "batched":
        return time_per_example(args, model, loss_and_scores, X_train, y_train)
    epochs = args.epochs if args.epochs is not None else 3 if args.quick else 20
    return train(args, model, loss_and_scores, (X_train, X_test, y_train, y_test), epochs)


def train(args: argparse.Namespace, model: MLP, loss_and_scores: Callable[..., Any],
          data: tuple[Any, Any, Any, Any], epochs: int) -> dict[str, Any]:  # fmt: skip
    X_train, X_test, y_train, y_test = data
    step = chainrule.batched(loss_and_scores)  # the mean gradient of the batch into .grad
    predict = chainrule.batched(lambda x: model(x))  # forward only: the 10 scores
    optimizer = Adam(model.parameters(), lr=args.lr)
    onehot = np.eye(10)[y_train]
    rng = np.random.default_rng(args.seed)
    history: dict[str, list[float]] = {"loss": [], "train accuracy": [], "test accuracy": []}
    start = time.perf_counter()
    bar = Progress(epochs, "epochs", args.no_progress, compiling=False)
    with fewer_gc_passes():
        for _ in bar:
            order = rng.permutation(len(X_train))
            losses, right = [], 0
            for i in range(0, len(order), args.batch_size):
                batch = order[i : i + args.batch_size]
                optimizer.zero_grad()
                loss, scores = step(X_train[batch], onehot[batch])
                optimizer.step()
                losses.append(loss)
                right += int(np.sum(scores.argmax(axis=1) == y_train[batch]))
            test_accuracy = float(np.mean(predict(X_test).argmax(axis=1) == y_test))
            history["loss"].append(float(np.mean(np.concatenate(losses))))
            history["train accuracy"].append(right / len(X_train))
            history["test accuracy"].append(test_accuracy)
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", test=f"{test_accuracy:.1%}")
    seconds = time.perf_counter() - start
    predicted = predict(X_test).argmax(axis=1)
    out: Path = args.out
    wrong = out / "digits_misclassified.png"
    paths = {
        "training curve": plot_training(history, out / "digits_training.png"),
        "misclassified": plot_misclassified(X_test, y_test, predicted, wrong),
    }
    metrics = {
        "test_accuracy": float(np.mean(predicted == y_test)),
        "final_loss": history["loss"][-1],
        "epochs": epochs,
        "seconds": seconds,
        "seconds_per_epoch": seconds / epochs,
    }
    report("digits (batched):", metrics, paths)
    return {**metrics, "history": history, "paths": paths, "model": model}


def time_per_example(args: argparse.Namespace, model: MLP, loss_and_scores: Callable[..., Any],
                     X: Any, y: Any) -> dict[str, Any]:  # fmt: skip
    """One example at a time, with the engine asked for, on a slice; projected to an epoch."""
    n = min(args.slice if not args.quick else 20, len(X))
    rows = [[float(v) for v in x] for x in X[:n]]
    targets = [[1.0 if k == label else 0.0 for k in range(10)] for label in y[:n]]
    if args.engine == "compiled":
        compiled = chainrule.compile(lambda *xs: loss_and_scores(list(xs[:64]), list(xs[64:]))[0])
        compiled(*rows[0], *targets[0])  # trace and compile first: not part of the epoch

        def one(x: list[float], t: list[float]) -> None:
            compiled(*x, *t)
    else:

        def one(x: list[float], t: list[float]) -> None:
            loss_and_scores([Value(v) for v in x], [Value(v, requires_grad=False) for v in t])[
                0
            ].backward()

    bar = Progress(n, f"{args.engine}, per example", args.no_progress, compiling=False)
    with fewer_gc_passes():
        start = time.perf_counter()
        for i in bar:
            one(rows[i], targets[i])
        per_example = (time.perf_counter() - start) / n
    step = chainrule.batched(loss_and_scores)
    onehot = np.eye(10)[y]
    step(X[: args.batch_size], onehot[: args.batch_size])  # trace first
    start = time.perf_counter()
    for i in range(0, len(X), args.batch_size):
        step(X[i : i + args.batch_size], onehot[i : i + args.batch_size])
    batched_epoch = time.perf_counter() - start
    metrics = {
        "engine": args.engine,
        "examples_timed": n,
        "seconds_per_example": per_example,
        "projected_epoch_seconds": per_example * len(X),
        "batched_epoch_seconds": batched_epoch,
        "batched_speedup": per_example * len(X) / batched_epoch,
    }  # fmt: skip
    report(f"digits ({args.engine}, one example at a time):", metrics, {})
    return metrics


def plot_training(history: dict[str, list[float]], path: Path) -> Path:
    """Training loss (log scale) and the accuracies, epoch by epoch."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    epochs = range(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], color=CLASS_COLORS[0], lw=2)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss: mean cross-entropy", color=CLASS_COLORS[0])
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    for key, color in (("train accuracy", CLASS_COLORS[1]), ("test accuracy", CLASS_COLORS[2])):
        ax2.plot(epochs, [100 * a for a in history[key]], color=color, lw=2, label=key)
    ax2.set_ylabel("accuracy (%)")
    ax2.set_ylim(0, 102)
    ax2.legend(loc="center right")
    ax.set_title("64-32-10 MLP on scikit-learn's 8x8 digits, batched")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_misclassified(X: Any, y: Any, predicted: Any, path: Path, limit: int = 24) -> Path:
    """The test digits the model gets wrong, each titled with its label and the guess."""
    wrong = np.flatnonzero(predicted != y)[:limit]
    cols = 8
    rows = max(1, math.ceil(len(wrong) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * 1.2, rows * 1.45 + 0.5), dpi=110, squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(X[i].reshape(8, 8), cmap="gray_r", vmin=0.0, vmax=1.0)
        ax.set_title(f"{y[i]} as {predicted[i]}", fontsize=9)
    total = int(np.sum(predicted != y))
    fig.suptitle(f"misclassified test digits: {total} of {len(y)} (label as guess)")
    fig.tight_layout()
    return save_figure(fig, path)


if __name__ == "__main__":
    main(sys.argv[1:])
