"""The first benchmark: one MLP-shaped graph in chainrule and micrograd, side by side.

MLP 2-16-16-1 on 100 points, hinge loss + L2, 3 full-batch SGD steps, both engines in the
same process and run, built by the same code (only the Value class differs). Prints the
time ratio (min of several repeats, garbage collector on, as users run it), micrograd's time
with the collector off, and the bytes per graph node measured with tracemalloc.

    python benchmarks/mlp_vs_micrograd.py [--repeats 3]
    python benchmarks/mlp_vs_micrograd.py --json   # one JSON object (benchmarks/run.py reads it)
"""

from __future__ import annotations

import argparse
import json
import platform
from functools import partial
from typing import Any

from workloads import best_time, bytes_per_node, train

MICROGRAD = "micrograd 0.1.0"


def measure(repeats: int) -> dict[str, Any]:
    """Every figure of this benchmark, as plain numbers (seconds, bytes, ratios)."""
    from micrograd.engine import Value as MicrogradValue

    from chainrule import Value

    values = {MICROGRAD: MicrogradValue, "chainrule": Value}
    engines: dict[str, dict[str, float]] = {n: {"final_loss": train(v)} for n, v in values.items()}
    for name, value in values.items():
        engines[name]["time"] = best_time(partial(train, value), repeats)
    mg_off = best_time(partial(train, MicrogradValue), repeats, gc_off=True)
    for name, value in values.items():  # memory last: the timings run before any tracing
        engines[name]["bytes_per_node"], engines[name]["nodes"] = bytes_per_node(value)
    ours, theirs = engines["chainrule"], engines[MICROGRAD]
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "workload": "MLP 2-16-16-1, 100 points, 3 SGD steps",
        "repeats": repeats,
        "engines": engines,
        "micrograd_gc_off_time": mg_off,
        "speedup": theirs["time"] / ours["time"],  # micrograd time / chainrule time, both GC on
        "memory_ratio": ours["bytes_per_node"] / theirs["bytes_per_node"],
        "gc_off_ratio": mg_off / ours["time"],  # micrograd GC off / chainrule GC on
    }


def text(result: dict[str, Any]) -> list[str]:
    """The figures as the lines this script prints when run alone."""
    lines = [f"{result['workload']} (min of {result['repeats']}), GC on, {result['python']}"]
    for name, e in result["engines"].items():
        lines.append(f"  {name:<16} {e['time']:7.3f} s   {e['bytes_per_node']:6.0f} B/node "
                     f"({e['nodes']:.0f} nodes)   final loss {e['final_loss']:.6f}")  # fmt: skip
    lines.append(f"chainrule is {result['speedup']:.2f}x faster than micrograd and uses "
                 f"{result['memory_ratio']:.2f} of its bytes per node")  # fmt: skip
    lines.append(f"micrograd with gc.disable() takes {result['micrograd_gc_off_time']:.3f} s: "
                 f"{result['gc_off_ratio']:.2f}x chainrule's time (GC on)")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object, no prose")
    args = parser.parse_args()
    result = measure(args.repeats)
    print(json.dumps(result) if args.json else "\n".join(text(result)))


if __name__ == "__main__":
    main()
