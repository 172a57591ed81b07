"""Issue 3's first benchmark: one MLP-shaped graph in chainrule and micrograd, side by side.

MLP 2-16-16-1 on 100 points, hinge loss + L2, 3 full-batch SGD steps, both engines in the
same process and run, built by the same code (only the Value class differs). Prints the
time ratio (min of several repeats, garbage collector on, as users run it), micrograd's time
with the collector off, and the bytes per graph node measured with tracemalloc.

    python benchmarks/mlp_vs_micrograd.py
"""

from __future__ import annotations

import argparse
import gc
import random
import tracemalloc
from functools import partial
from typing import Any

from run import best_time, count_nodes, make_problem  # the full benchmark, same folder


def make_mlp(value: type, sizes: list[int], seed: int = 1) -> list[list[tuple[list[Any], Any]]]:
    """Layers of neurons, each (weights, bias), initialised uniform(-1, 1) like micrograd."""
    rng = random.Random(seed)
    return [
        [([value(rng.uniform(-1, 1)) for _ in range(nin)], value(0.0)) for _ in range(nout)]
        for nin, nout in zip(sizes[:-1], sizes[1:])
    ]


def forward(layers: list[list[tuple[list[Any], Any]]], x: list[Any]) -> Any:
    for depth, layer in enumerate(layers):
        last = depth == len(layers) - 1
        outs = []
        for w, b in layer:
            act = sum((wi * xi for wi, xi in zip(w, x)), b)
            outs.append(act if last else act.relu())
        x = outs
    return x[0]


def parameters(layers: list[list[tuple[list[Any], Any]]]) -> list[Any]:
    return [p for layer in layers for w, b in layer for p in [*w, b]]


def loss_fn(value: type, layers: Any, xs: list[list[float]], ys: list[float]) -> Any:
    scores = [forward(layers, [value(a) for a in x]) for x in xs]
    losses = [(1 + -y * s).relu() for y, s in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg = 1e-4 * sum(p * p for p in parameters(layers))
    return data_loss + reg


def train(value: type, steps: int = 3) -> float:
    xs, ys = make_problem()
    layers = make_mlp(value, [2, 16, 16, 1])
    params = parameters(layers)
    loss: Any = None
    for _ in range(steps):
        loss = loss_fn(value, layers, xs, ys)
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= 0.05 * p.grad
    return float(loss.data)


def bytes_per_node(value: type) -> tuple[float, int]:
    xs, ys = make_problem()
    layers = make_mlp(value, [2, 16, 16, 1])
    gc.collect()
    tracemalloc.start()
    loss = loss_fn(value, layers, xs, ys)
    loss.backward()
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return used / count_nodes(loss), count_nodes(loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from micrograd.engine import Value as MicrogradValue

    from chainrule import Value

    engines = {"micrograd 0.1.0": MicrogradValue, "chainrule": Value}
    losses = {name: train(v) for name, v in engines.items()}
    times = {name: best_time(partial(train, v), args.repeats) for name, v in engines.items()}
    micrograd_gc_off = best_time(partial(train, MicrogradValue), args.repeats, gc_off=True)
    memory = {name: bytes_per_node(v) for name, v in engines.items()}
    print(f"MLP 2-16-16-1, 100 points, 3 SGD steps (min of {args.repeats}), GC on")
    for name in engines:
        per_node, nodes = memory[name]
        print(f"  {name:<16} {times[name]:7.3f} s   {per_node:6.0f} B/node ({nodes} nodes)"
              f"   final loss {losses[name]:.6f}")  # fmt: skip
    ratio = times["micrograd 0.1.0"] / times["chainrule"]
    mem = memory["chainrule"][0] / memory["micrograd 0.1.0"][0]
    print(
        f"chainrule is {ratio:.2f}x faster than micrograd and uses {mem:.2f} of its bytes per node"
    )
    print(f"micrograd with gc.disable() takes {micrograd_gc_off:.3f} s: "
          f"{micrograd_gc_off / times['chainrule']:.2f}x chainrule's time (GC on)")  # fmt: skip


if __name__ == "__main__":
    main()
