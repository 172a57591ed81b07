"""The workloads every benchmark script shares: problems, graph builders, floors, timers.

Each script in this folder imports this module and nothing else from the folder, so the
scripts form no import circle (tests/test_benchmarks.py checks it). Graphs are built through
the public API only (``chainrule.Value`` and the micrograd/PyTorch names), so a change inside
the engine leaves the workloads as they are.

Workloads (every engine builds the same graph; constants are nodes in every engine):
  mlp    MLP 2-16-16-1 training step: 100 points, hinge loss + L2, SGD update
  chain  a chain of n nodes (alternating y*x and relu), build + backward
  fanout one leaf fanned out into n terms x*c_i, summed pairwise, build + backward
  dag    a random DAG of n nodes whose operands are drawn from all earlier nodes
         (shared subexpressions), build + backward from the sum of its sinks

The *floor* of each workload is the same computation on plain floats with a backward pass
derived by hand: what pure Python can do at all.
"""

from __future__ import annotations

import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:  # the scripts run from a checkout without an install
    sys.path.insert(0, str(ROOT / "src"))

# --- engines ---


@dataclass
class Engine:
    """How one library makes leaves, reads adjoints and resets them."""

    name: str
    leaf: Callable[[float], Any]  # a differentiable input
    const: Callable[[float], Any]  # an input that needs no gradient
    grad: Callable[[Any], float]
    zero: Callable[[Any], None]
    gc_off: bool = False
    traced_memory: bool = True  # False when the library allocates outside Python's allocator


def _set_grad_zero(p: Any) -> None:
    p.grad = 0.0


def engines() -> tuple[list[Engine], list[str]]:
    """Available engines, and a line for each one that is skipped."""
    found, skipped = [], []
    try:
        import micrograd
        from micrograd.engine import Value as MG

        version = getattr(micrograd, "__version__", "0.1.0")
        for gc_off in (False, True):
            found.append(Engine(f"micrograd {version}" + (" gc off" if gc_off else ""), MG, MG,
                                lambda p: float(p.grad), _set_grad_zero, gc_off))  # fmt: skip
    except ImportError:
        skipped.append("micrograd: not importable (pip install micrograd==0.1.0)")
    try:
        import torch

        def tleaf(x: float) -> Any:
            return torch.tensor(x, dtype=torch.float64, requires_grad=True)

        def tconst(x: float) -> Any:
            return torch.tensor(x, dtype=torch.float64)

        def tzero(p: Any) -> None:
            p.grad = None

        found.append(Engine(f"torch {torch.__version__}", tleaf, tconst,
                            lambda p: float(p.grad), tzero, traced_memory=False))  # fmt: skip
    except ImportError:
        skipped.append(
            "torch: not importable; skipped (pip install -e '.[bench-torch]': torch==2.13.0)"
        )
    from chainrule import Value

    for gc_off in (False, True):
        found.append(Engine("chainrule" + (" gc off" if gc_off else ""), Value,
                            lambda x: Value(x, requires_grad=False), lambda p: float(p.grad),
                            _set_grad_zero, gc_off))  # fmt: skip
    return found, skipped


# --- workloads on any engine: each returns (root, leaves); the caller runs backward ---


def make_problem(seed: int = 0) -> tuple[list[list[float]], list[float]]:
    """100 points in [-1, 1]^2, labelled +1 where x0 * x1 > 0 and -1 elsewhere."""
    rng = random.Random(seed)
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(100)]
    ys = [1.0 if x[0] * x[1] > 0 else -1.0 for x in xs]
    return xs, ys


SIZES = [2, 16, 16, 1]


def mlp_init(seed: int = 1) -> list[float]:
    """Flat parameters, neuron by neuron: weights then bias (uniform(-1, 1), bias 0)."""
    rng = random.Random(seed)
    flat: list[float] = []
    for nin, nout in zip(SIZES[:-1], SIZES[1:]):
        for _ in range(nout):
            flat += [rng.uniform(-1, 1) for _ in range(nin)] + [0.0]
    return flat


def mlp_loss(params: list[Any], xs: list[list[Any]], ys: list[float]) -> Any:
    """Hinge loss + 1e-4 L2 of an MLP whose flat parameters are ``params``."""
    scores = []
    for x in xs:
        k, h = 0, x
        for depth, (nin, nout) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            outs = []
            for _ in range(nout):
                act = params[k + nin]
                for i in range(nin):
                    act = act + params[k + i] * h[i]
                k += nin + 1
                outs.append(act if depth == len(SIZES) - 2 else act.relu())
            h = outs
        scores.append(h[0])
    total = 0.0
    for y, s in zip(ys, scores):
        total = total + (1.0 + (-y) * s).relu()
    reg = 0.0
    for p in params:
        reg = reg + p * p
    return total * (1.0 / len(ys)) + 1e-4 * reg


def pairwise_sum(terms: list[Any]) -> Any:
    """Sum as a balanced tree: depth log2(n), so recursive walks survive."""
    while len(terms) > 1:
        paired = [a + b for a, b in zip(terms[::2], terms[1::2])]
        terms = paired + ([terms[-1]] if len(terms) % 2 else [])
    return terms[0]


def chain(e: Engine, n: int) -> tuple[Any, list[Any]]:
    """n nodes in a line: y = relu(y * x), n / 2 times; a recursive walk overflows here."""
    x = e.leaf(0.9999999)
    y = x
    for _ in range(n // 2):
        y = (y * x).relu()
    return y, [x]


def fanout(e: Engine, n: int) -> tuple[Any, list[Any]]:
    """One leaf used by n products x * c_i, summed pairwise."""
    x = e.leaf(0.5)
    return pairwise_sum([x * float(i % 7 - 3) for i in range(n)]), [x]


def dag_program(n: int, leaves: int = 100, seed: int = 2) -> list[tuple[int, int, int]]:
    """(kind, i, j) per node: kind 0 is a*b, kind 1 is (a+b)*0.5 (three nodes with the constant)."""
    rng = random.Random(seed)
    prog: list[tuple[int, int, int]] = []
    size = leaves  # size counts graph nodes; operands index the earlier results
    while size < leaves + n:
        kind = rng.randrange(2)
        made = leaves + len(prog)
        prog.append((kind, rng.randrange(made), rng.randrange(made)))
        size += 1 if kind == 0 else 3
    return prog


def dag(e: Engine, prog: list[tuple[int, int, int]], leaves: int = 100) -> tuple[Any, list[Any]]:
    """The nodes of ``prog`` on ``leaves`` random leaves; the root sums every unused node."""
    rng = random.Random(3)
    xs = [e.leaf(rng.uniform(-1, 1)) for _ in range(leaves)]
    nodes, used = list(xs), [False] * (leaves + len(prog))
    for kind, i, j in prog:
        a, b = nodes[i], nodes[j]
        used[i] = used[j] = True
        nodes.append(a * b if kind == 0 else (a + b) * 0.5)
    return pairwise_sum([v for v, u in zip(nodes, used) if not u]), xs


# --- the floor: the same computations on plain floats, backward derived by hand ---


def floor_chain(n: int) -> float:
    x = 0.9999999
    ys, y = [], x
    for _ in range(n // 2):
        ys.append(y)
        y = y * x
        y = y if y > 0.0 else 0.0
    g, gx = 1.0, 0.0
    for prev in reversed(ys):  # y_new = relu(prev * x)
        if prev * x <= 0.0:
            g = 0.0
        gx += g * prev
        g *= x
    return gx + g


def floor_fanout(n: int) -> float:
    x = 0.5
    total = sum(x * float(i % 7 - 3) for i in range(n))
    del total
    return sum(float(i % 7 - 3) for i in range(n))  # d total / dx


def floor_dag(prog: list[tuple[int, int, int]], leaves: int = 100) -> list[float]:
    rng = random.Random(3)
    vals = [rng.uniform(-1, 1) for _ in range(leaves)]
    used = [False] * (leaves + len(prog))
    for kind, i, j in prog:
        used[i] = used[j] = True
        vals.append(vals[i] * vals[j] if kind == 0 else (vals[i] + vals[j]) * 0.5)
    grads = [1.0 if not u else 0.0 for u in used[: len(vals)]]
    for k in range(len(prog) - 1, -1, -1):
        kind, i, j = prog[k]
        g = grads[leaves + k]
        if kind == 0:
            grads[i] += g * vals[j]
            grads[j] += g * vals[i]
        else:
            grads[i] += 0.5 * g
            grads[j] += 0.5 * g
    return grads[:leaves]


def floor_mlp_grad(
    flat: list[float], xs: list[list[float]], ys: list[float]
) -> tuple[float, list[float]]:
    """Loss and gradient of ``mlp_loss`` on floats, backpropagation written out by hand."""
    grad = [0.0] * len(flat)
    n = len(ys)
    loss = 0.0
    for x, y in zip(xs, ys):
        # forward, remembering each layer's input and each neuron's pre-activation
        inputs, pre, h, k = [], [], x, 0
        for depth, (nin, nout) in enumerate(zip(SIZES[:-1], SIZES[1:])):
            inputs.append(h)
            acts = []
            for _ in range(nout):
                act = flat[k + nin]
                for i in range(nin):
                    act += flat[k + i] * h[i]
                acts.append(act)
                k += nin + 1
            pre.append(acts)
            h = acts if depth == len(SIZES) - 2 else [a if a > 0.0 else 0.0 for a in acts]
        margin = 1.0 - y * h[0]
        if margin <= 0.0:
            continue
        loss += margin
        upstream = [-y / n]  # d loss / d score
        for depth in range(len(SIZES) - 2, -1, -1):
            nin, nout = SIZES[depth], SIZES[depth + 1]
            k = sum((a + 1) * b for a, b in zip(SIZES[:depth], SIZES[1 : depth + 1]))
            h_in, acts = inputs[depth], pre[depth]
            down = [0.0] * nin
            for o in range(nout):
                g = upstream[o]
                if depth != len(SIZES) - 2 and acts[o] <= 0.0:
                    g = 0.0
                base = k + o * (nin + 1)
                if g != 0.0:
                    for i in range(nin):
                        grad[base + i] += g * h_in[i]
                        down[i] += g * flat[base + i]
                    grad[base + nin] += g
            upstream = down
    reg = 0.0
    for i, p in enumerate(flat):
        reg += p * p
        grad[i] += 2e-4 * p
    return loss / n + 1e-4 * reg, grad


# --- the MLP of mlp_vs_micrograd.py: neurons as (weights, bias) lists, built when timed ---


def make_mlp(value: type, sizes: list[int], seed: int = 1) -> list[list[tuple[list[Any], Any]]]:
    """Layers of neurons, each (weights, bias), initialised uniform(-1, 1) like micrograd."""
    rng = random.Random(seed)
    return [
        [([value(rng.uniform(-1, 1)) for _ in range(nin)], value(0.0)) for _ in range(nout)]
        for nin, nout in zip(sizes[:-1], sizes[1:])
    ]


def forward(layers: list[list[tuple[list[Any], Any]]], x: list[Any]) -> Any:
    """The MLP score of one input: relu on every layer but the last."""
    for depth, layer in enumerate(layers):
        last = depth == len(layers) - 1
        outs = []
        for w, b in layer:
            act = sum((wi * xi for wi, xi in zip(w, x)), b)
            outs.append(act if last else act.relu())
        x = outs
    return x[0]


def parameters(layers: list[list[tuple[list[Any], Any]]]) -> list[Any]:
    """Every weight and bias, layer by layer."""
    return [p for layer in layers for w, b in layer for p in [*w, b]]


def loss_fn(value: type, layers: Any, xs: list[list[float]], ys: list[float]) -> Any:
    """Mean hinge loss + 1e-4 L2, micrograd's demo loss; inputs become ``value`` nodes."""
    scores = [forward(layers, [value(a) for a in x]) for x in xs]
    losses = [(1 + -y * s).relu() for y, s in zip(ys, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg = 1e-4 * sum(p * p for p in parameters(layers))
    return data_loss + reg


def train(value: type, steps: int = 3) -> float:
    """Build the MLP and run ``steps`` full-batch SGD steps; the final loss."""
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
    """Bytes tracemalloc sees per node of one loss graph after backward, and the node count."""
    xs, ys = make_problem()
    layers = make_mlp(value, [2, 16, 16, 1])
    gc.collect()
    tracemalloc.start()
    loss = loss_fn(value, layers, xs, ys)
    loss.backward()
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return used / count_nodes(loss), count_nodes(loss)


# --- measurement ---


def best_time(fn: Callable[[], object], repeats: int, gc_off: bool = False) -> float:
    """The fastest of ``repeats`` calls, in seconds, after a collection each time."""
    times = []
    for _ in range(repeats):
        gc.collect()
        if gc_off:
            gc.disable()
        try:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    return min(times)


def count_nodes(root: Any) -> int:
    """Nodes reachable from ``root`` through ``_prev`` (the micrograd attribute)."""
    seen, stack = {id(root)}, [root]
    while stack:
        for p in stack.pop()._prev:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


@dataclass
class Memory:
    peak: int  # bytes above the baseline, tracemalloc peak
    per_node: float  # bytes held after backward / nodes
    freed: bool  # back to baseline on del, garbage collector off
    residual: int  # bytes still traced after del


def memory(build: Callable[[], tuple[Any, list[Any]]], nodes: int) -> Memory:
    """Peak and held bytes of ``build()`` + backward, and whether ``del`` frees them (GC off)."""
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        graph = build()
        graph[0].backward()
        held, peak = tracemalloc.get_traced_memory()
        del graph
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        gc.enable()
        gc.collect()
    held -= base
    return Memory(peak - base, held / nodes, after - base < 0.02 * held + 4096, after - base)
