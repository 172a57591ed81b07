"""Batched programs against one example at a time, and against PyTorch, side by side.

The workload: the 2-16-16-1 ReLU MLP, the per-example loss ``(model(x) - y)**2``, forward
and backward, every parameter's gradient summed over the batch. Measured in one process:

* one example at a time: ``chainrule.compile(f)`` called per example (the compiled loop) and
  the dynamic engine (build the graph, ``backward()``), on a slice;
* ``chainrule.batched(f)`` with each layer fused into one matrix product (the default) and
  without (``fuse=False``: one numpy operation per scalar node), at 10 to 100,000 examples;
* PyTorch eager, float64 tensors, the same weights (skipped where torch is not importable);
* the first batched call (trace + generate + compile), in seconds and in batched steps.

Every engine runs on one thread (``OPENBLAS_NUM_THREADS=1``, ``torch.set_num_threads(1)``):
the per-example loops are single-threaded Python, and the comparison is per core. Times are
the fastest of ``--repeats`` runs.

    python benchmarks/batched.py [--repeats 5] [--plot docs/img/batched_scaling.png]
    python benchmarks/batched.py --json   # one JSON object
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from workloads import best_time  # noqa: E402

import chainrule  # noqa: E402
from chainrule import Value  # noqa: E402
from chainrule.losses import mse  # noqa: E402
from chainrule.nn import MLP  # noqa: E402

SIZES = [10, 100, 1_000, 10_000, 100_000]
TOL = 1e-12


def _model() -> tuple[MLP, Callable[..., Value]]:
    model = MLP(2, [16, 16, 1], seed=0)
    return model, lambda x, y: mse(model(x), y)


def _data(n: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(n)
    return rng.normal(size=(n, 2)), rng.normal(size=n)


def _per_call(call: Callable[[], object], n: int, repeats: int) -> float:
    """Seconds per call: the fastest of ``repeats`` runs of as many calls as make about
    20,000 examples (one call of a large batch), so that no run lasts a fraction of a
    millisecond on a machine that other jobs share."""
    calls = max(1, 20_000 // n)

    def run() -> None:
        for _ in range(calls):
            call()

    return best_time(run, repeats) / calls


def per_example(repeats: int, n_compiled: int = 2_000, n_dynamic: int = 200) -> dict[str, float]:
    """Seconds per example, one example at a time, compiled and dynamic."""
    _, f = _model()
    compiled = chainrule.compile(lambda x0, x1, y: f([x0, x1], y))
    X, Y = _data(n_compiled)
    rows = [(float(a), float(b), float(y)) for (a, b), y in zip(X, Y)]
    compiled(*rows[0])  # trace and compile first

    def compiled_loop() -> None:
        for row in rows:
            compiled(*row)

    def dynamic_loop() -> None:
        for a, b, y in rows[:n_dynamic]:
            f([Value(a, requires_grad=False), Value(b, requires_grad=False)], y).backward()

    model, _ = _model()  # compile's other form: 100 examples unrolled into one trace
    points = [([Value(a, requires_grad=False), Value(b, requires_grad=False)], y)
              for a, b, y in rows[:100]]  # fmt: skip
    unrolled = chainrule.compile(
        lambda: mse([model(x) for x, _ in points], [y for _, y in points], "sum")
    )
    unrolled()
    return {
        "compiled": best_time(compiled_loop, repeats) / len(rows),
        "compiled_unrolled_100": best_time(unrolled, repeats) / 100,
        "dynamic": best_time(dynamic_loop, repeats) / n_dynamic,
    }


def batched(repeats: int, fuse: bool) -> dict[str, Any]:
    """Seconds per example of one batched step at each size, and the first call's cost."""
    _, f = _model()
    out: dict[str, Any] = {"per_example": {}}
    for n in SIZES:
        X, Y = _data(n)
        step = chainrule.batched(f, fuse=fuse)
        start = time.perf_counter()
        step(X, Y)  # trace, generate, compile and one step
        first = time.perf_counter() - start
        seconds = _per_call(lambda: step(X, Y), n, repeats)  # noqa: B023 (called right here)
        out["per_example"][n] = seconds / n
        if n == 10_000:
            out["first_call"] = first
            out["step"] = seconds
            out["trace_seconds"] = first - seconds
            out["trace_in_steps"] = (first - seconds) / seconds
    return out


def pytorch(repeats: int) -> dict[str, Any] | None:
    """PyTorch eager, float64, the same weights: seconds per example at each size, and
    whether its losses and summed gradients equal the batched program's (1e-12 relative)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    model, f = _model()
    layers = [
        (
            torch.tensor([[w.data for w in neuron.w] for neuron in layer.neurons],
                         dtype=torch.float64, requires_grad=True),
            torch.tensor([neuron.b.data for neuron in layer.neurons],
                         dtype=torch.float64, requires_grad=True),
        )
        for layer in model.layers
    ]  # fmt: skip

    def step(X: Any, Y: Any) -> Any:
        h = X
        for i, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if i < len(layers) - 1:
                h = torch.relu(h)
        losses = (h[:, 0] - Y) ** 2
        losses.sum().backward()
        return losses

    per: dict[int, float] = {}
    for n in SIZES:
        X, Y = (torch.from_numpy(a) for a in _data(n))
        per[n] = _per_call(lambda: step(X, Y), n, repeats) / n  # noqa: B023 (called right here)
    X_np, Y_np = _data(100)
    for W, b in layers:
        W.grad = b.grad = None
    torch_losses = step(torch.from_numpy(X_np), torch.from_numpy(Y_np)).detach().numpy()
    ours = chainrule.batched(f, reduction="sum")
    model.zero_grad()
    same = bool(np.allclose(ours(X_np, Y_np), torch_losses, rtol=TOL, atol=0.0))
    for layer, (W, b) in zip(model.layers, layers):
        assert W.grad is not None and b.grad is not None
        for j, neuron in enumerate(layer.neurons):
            grads = [w.grad for w in neuron.w] + [neuron.b.grad]
            want = [*W.grad[j].tolist(), float(b.grad[j])]
            same = same and bool(np.allclose(grads, want, rtol=TOL, atol=1e-15))
    return {"version": torch.__version__, "per_example": per, "same_numbers": same}


def measure(repeats: int) -> dict[str, Any]:
    """Every figure of this benchmark, as plain numbers (seconds per example, ratios)."""
    loop = per_example(repeats)
    fused, plain = batched(repeats, fuse=True), batched(repeats, fuse=False)
    torch = pytorch(repeats)
    at = 10_000
    result: dict[str, Any] = {
        "workload": "MLP 2-16-16-1, (model(x) - y)**2 per example, forward + backward",
        "repeats": repeats,
        "per_example_loop": loop,
        "batched_fused": fused,
        "batched_unfused": plain,
        "speedup_vs_compiled_loop": loop["compiled"] / fused["per_example"][at],
        "speedup_vs_compiled_loop_unfused": loop["compiled"] / plain["per_example"][at],
        "fusion_gain": plain["per_example"][at] / fused["per_example"][at],
    }
    if torch is not None:
        result["torch"] = torch
        result["torch_ratio"] = fused["per_example"][at] / torch["per_example"][at]
    return result


def text(result: dict[str, Any]) -> list[str]:
    """The figures as the lines this script prints when run alone."""
    us = 1e6
    loop, fused, plain = (
        result["per_example_loop"],
        result["batched_fused"],
        result["batched_unfused"],
    )
    torch = result.get("torch")
    lines = [f"{result['workload']} (min of {result['repeats']}), one thread, us per example"]
    lines.append(
        f"  one at a time: compiled {loop['compiled'] * us:.2f}, dynamic {loop['dynamic'] * us:.1f}"
    )
    lines.append(
        "  compile's other form, 100 examples unrolled into one trace: "
        f"{loop['compiled_unrolled_100'] * us:.2f}"
    )
    head = f"  {'examples':>9} {'fused':>9} {'unfused':>9}" + (f" {'torch':>9}" if torch else "")
    lines.append(head)
    for n in SIZES:
        row = f"  {n:>9,} {fused['per_example'][n] * us:>9.3f} {plain['per_example'][n] * us:>9.3f}"
        if torch:
            row += f" {torch['per_example'][n] * us:>9.3f}"
        lines.append(row)
    lines.append(
        f"at 10,000 examples the batched program is {result['speedup_vs_compiled_loop']:.0f}x "
        f"below the compiled loop per example ({result['speedup_vs_compiled_loop_unfused']:.0f}x "
        f"unfused); fusing each layer into one matrix product gives {result['fusion_gain']:.1f}x"
    )
    lines.append(
        f"first call (trace + generate + compile) at 10,000: {fused['trace_seconds'] * 1e3:.1f} ms "
        f"= {fused['trace_in_steps']:.1f} batched steps (unfused: {plain['trace_in_steps']:.1f})"
    )
    if torch:
        lines.append(
            f"PyTorch {torch['version']} eager float64: batched chainrule takes "
            f"{result['torch_ratio']:.2f}x its time per example at 10,000; same losses and "
            f"summed gradients to 1e-12: {torch['same_numbers']}"
        )
    else:
        lines.append("PyTorch: not importable; skipped (pip install torch==2.13.0)")
    return lines


def plot(result: dict[str, Any], path: Path) -> Path:
    """Microseconds per example against the batch size, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    us = 1e6
    curves = [
        ("batched, fused layers", result["batched_fused"]),
        ("batched, one op per node", result["batched_unfused"]),
    ]
    if "torch" in result:
        curves.append((f"PyTorch {result['torch']['version']} eager, float64", result["torch"]))
    for label, data in curves:
        ax.plot(SIZES, [data["per_example"][n] * us for n in SIZES], marker="o", lw=2, label=label)
    for label, key, style in (
        ("compiled, one example per call", "compiled", "--"),
        ("dynamic engine, per example", "dynamic", ":"),
    ):
        ax.axhline(result["per_example_loop"][key] * us, color="grey", ls=style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("examples per batch")
    ax.set_ylabel("forward + backward, microseconds per example")
    ax.set_title("MLP 2-16-16-1 on one thread")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object, no prose")
    parser.add_argument("--plot", type=Path, default=None, help="write the scaling plot here")
    args = parser.parse_args()
    result = measure(args.repeats)
    if args.plot is not None:
        plot(result, args.plot)
    print(json.dumps(result) if args.json else "\n".join(text(result)))


if __name__ == "__main__":
    main()
