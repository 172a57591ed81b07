"""Where the dynamic engine's time goes: build, topological walk, reverse pass; GC on and off.

Builds the MLP loss graph of ``benchmarks/workloads.py`` (65,818 nodes) and times each phase
on its own, min of repeats, with the garbage collector on (as users run it) and off; counts the
GC-tracked objects each node leaves alive and the collections each phase triggers.

    python benchmarks/profile_engine.py [--repeats 5] [--cprofile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
from collections.abc import Callable
from typing import Any

from workloads import count_nodes, make_problem, mlp_init, mlp_loss, train

Walk = Callable[[Any], Any]  # root -> the order the reverse pass follows
Reverse = Callable[[Any, Any], None]  # (root, order) -> adjoints accumulated


def engine_passes() -> tuple[Walk, Reverse, bool]:
    """The engine's two halves of ``backward()``: topological walk, reverse pass on floats.

    The one place this folder reaches inside the engine. ``engine.adjoints`` walks the graph
    again before its reverse pass, so the third item is False: the "reverse" phase includes a
    walk, which the "walk" phase times alone.
    """
    from chainrule.engine import adjoints, topological_order

    def reverse(root: Any, order: Any) -> None:
        adjoints({root: 1.0})

    return topological_order, reverse, False


def _graph_inputs() -> tuple[list[Any], list[list[Any]], list[float]]:
    from chainrule import Value

    xs, ys = make_problem()
    params = [Value(p) for p in mlp_init()]
    inputs = [[Value(a, requires_grad=False) for a in x] for x in xs]
    return params, inputs, ys


def phases(gc_on: bool) -> dict[str, float]:
    """Seconds per phase of one MLP loss + backward, and the collections during them."""
    walk, reverse, _ = engine_passes()
    params, inputs, ys = _graph_inputs()
    gc.collect()
    collections = [0]

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections[0] += 1

    gc.callbacks.append(count)
    if not gc_on:
        gc.disable()
    try:
        t0 = time.perf_counter()
        loss = mlp_loss(params, inputs, ys)
        t1 = time.perf_counter()
        order = walk(loss)
        t2 = time.perf_counter()
        reverse(loss, order)
        t3 = time.perf_counter()
        del loss, order
        t4 = time.perf_counter()
    finally:
        gc.enable()
        gc.callbacks.remove(count)
    return {
        "build": t1 - t0,
        "walk": t2 - t1,
        "reverse": t3 - t2,
        "free": t4 - t3,
        "collections": float(collections[0]),
    }


def tracked_per_node() -> float:
    """GC-tracked objects the MLP loss graph leaves alive, per node."""
    params, inputs, ys = _graph_inputs()
    gc.collect()
    gc.disable()
    before = len(gc.get_objects())
    loss = mlp_loss(params, inputs, ys)
    after = len(gc.get_objects())  # before any collection could untrack tuples of floats
    gc.enable()
    return (after - before) / count_nodes(loss)


def gc_by_generation(value: type, steps: int = 3) -> dict[int, tuple[int, float]]:
    """Collections and seconds per GC generation while ``value`` trains the MLP (3 steps)."""
    train(value, 1)  # warm up
    stats: dict[int, tuple[int, float]] = {0: (0, 0.0), 1: (0, 0.0), 2: (0, 0.0)}
    started = [0.0]

    def timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            n, t = stats[info["generation"]]
            stats[info["generation"]] = (n + 1, t + time.perf_counter() - started[0])

    gc.collect()
    gc.callbacks.append(timer)
    try:
        train(value, steps)
    finally:
        gc.callbacks.remove(timer)
    return stats


def split_engines() -> list[tuple[str, type]]:
    """The engines whose GC split is measured: micrograd (when installed) and chainrule."""
    from chainrule import Value

    engines: list[tuple[str, type]] = [("chainrule", Value)]
    try:
        from micrograd.engine import Value as MicrogradValue

        engines.insert(0, ("micrograd 0.1.0", MicrogradValue))
    except ImportError:
        pass
    return engines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cprofile", action="store_true", help="also print a cProfile top 15")
    args = parser.parse_args()
    if not engine_passes()[2]:
        print("the reverse pass walks the graph itself: 'reverse' includes a second walk")
    print(f"GC-tracked objects allocated per node (left alive): {tracked_per_node():.2f}")
    for gc_on in (True, False):
        runs = [phases(gc_on) for _ in range(args.repeats)]
        best = {k: min(r[k] for r in runs) for k in runs[0]}
        total = best["build"] + best["walk"] + best["reverse"] + best["free"]
        print(f"GC {'on ' if gc_on else 'off'}: " + "  ".join(
            f"{k} {best[k] * 1e3:6.1f} ms" for k in ("build", "walk", "reverse", "free")
        ) + f"  total {total * 1e3:6.1f} ms  collections {best['collections']:.0f}")  # fmt: skip
    engines = split_engines()
    if len(engines) == 1:
        print("micrograd not installed: pip install micrograd==0.1.0 for its GC split")
    for name, value in engines:
        split = gc_by_generation(value)
        print(f"{name}: 3 training steps, GC " + "  ".join(
            f"gen{g} {n} x {t * 1e3:.0f} ms" for g, (n, t) in split.items()))  # fmt: skip
    if args.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        phases(True)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
