"""Measure what forward mode, reverse mode and checkpointing cost, as Markdown tables.

    python scripts/measure_modes.py            # print both tables
    python scripts/measure_modes.py --write    # also refresh them in docs/*.md

The op counts are exact and machine-independent; the times are this machine's.

* modes: the full Jacobian of two families of functions, one input -> m outputs and
  n inputs -> one output, both sharing a trunk of 8 tanh layers. Forward mode is
  counted in Dual operations (each evaluates one local-derivative rule); reverse mode
  in graph nodes recorded by the forward pass (each also evaluates one rule) plus
  backward steps (one closure call per op node reached from the output, per pass).
* checkpoint: a chain of L scalar tanh layers, peak number of live ``Value`` objects
  (counted with ``gc`` at the moments the graph is largest) and peak traced memory
  (``tracemalloc``), without and with a checkpoint every round(sqrt(L)) layers.
"""

from __future__ import annotations

import argparse
import gc
import math
import re
import statistics
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from chainrule import Value, topological_order
from chainrule.checkpointing import checkpoint
from chainrule.dual import Dual
from chainrule.transforms import jacfwd, jacobian

DOCS = Path(__file__).resolve().parent.parent / "docs"
TRUNK = 8  # tanh layers shared by every output / fed by every input


# --- the two families of functions ---


def trunk(h: Any) -> Any:
    for _ in range(TRUNK):
        h = (h * 0.9 + 0.1).tanh()
    return h


def fan_out(m: int) -> Callable[[Any], list[Any]]:
    """R -> R^m: a shared trunk, then m cheap heads sin(k h)."""
    return lambda x: _heads(trunk(x), m)


def _heads(h: Any, m: int) -> list[Any]:
    return [(h * float(k + 1)).sin() for k in range(m)]


def fan_in(n: int) -> Callable[..., Any]:
    """R^n -> R: a weighted sum of the inputs, then the shared trunk."""

    def f(*xs: Any) -> Any:
        s = xs[0] * 1.0
        for k, x in enumerate(xs[1:], start=2):
            s = s + x * (1.0 / k)
        return trunk(s)

    return f


# --- counting ---


class DualCounter:
    """Counts Dual.apply calls (one per forward-mode operation) while active."""

    def __init__(self) -> None:
        self.calls = 0
        self._original = Dual.__dict__["apply"]

    def __enter__(self) -> DualCounter:
        original = self._original.__func__

        def counting(op: Any, *args: Any) -> Dual:
            self.calls += 1
            return original(op, *args)  # type: ignore[no-any-return]

        # the operators and methods call Dual._apply; Function and custom_op call Dual.apply
        Dual.apply = Dual._apply = staticmethod(counting)  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: Any) -> None:
        Dual.apply = Dual._apply = self._original  # type: ignore[method-assign]


def reverse_counts(f: Callable[..., Any], xs: list[float]) -> tuple[int, int, int]:
    """(backward passes, op nodes recorded, backward steps) for the full Jacobian of f."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    outs = out if isinstance(out, list) else [out]
    recorded: set[Value] = set()
    stack = list(outs)
    while stack:  # every node the forward pass created (constants included)
        node = stack.pop()
        if node not in recorded:
            recorded.add(node)
            stack.extend(node._prev)
    ops = sum(node.grad_fn is not None for node in recorded)  # constants evaluate no rule
    # the engine calls each op node's closure once per backward pass that reaches it
    steps = sum(sum(n.grad_fn is not None for n in topological_order(o)) for o in outs)
    return len(outs), ops, steps


def best_ms(run: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def modes_table() -> str:
    rows = [
        "| function | inputs n | outputs m | forward: passes | forward: Dual ops "
        "| reverse: passes | reverse: op nodes + backward steps | forward ms | reverse ms "
        "| cheaper by count |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    cases: list[tuple[str, Callable[..., Any], list[float]]] = []
    for m in (1, 4, 16, 64):
        cases.append(("1 input -> m outputs", fan_out(m), [0.3]))
    for n in (4, 16, 64):
        cases.append(("n inputs -> 1 output", fan_in(n), [0.1 * k for k in range(n)]))
    for name, f, xs in cases:
        every = tuple(range(len(xs)))
        forward_jacobian = jacfwd(f, argnums=every)
        with DualCounter() as counter:
            forward = forward_jacobian(*xs)
        passes, nodes, steps = reverse_counts(f, xs)
        jacrev = jacobian(f, argnums=every)
        _check_same(forward, jacrev(*xs))
        fwd_ms = best_ms(partial(forward_jacobian, *xs))
        rev_ms = best_ms(partial(jacrev, *xs))
        fwd, rev = counter.calls, nodes + steps
        winner = f"forward ({rev / fwd:.1f}x)" if fwd < rev else f"reverse ({fwd / rev:.1f}x)"
        rows.append(
            f"| {name} | {len(xs)} | {passes} | {len(xs)} | {fwd} | {passes} "
            f"| {nodes} + {steps} = {rev} | {fwd_ms:.2f} | {rev_ms:.2f} | {winner} |"
        )
    return "\n".join(rows)


def _check_same(forward: Any, reverse: Any) -> None:
    flat_f = _flatten(forward)
    flat_r = _flatten(reverse)
    assert len(flat_f) == len(flat_r)
    for a, b in zip(flat_f, flat_r):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (a, b)


def _flatten(x: Any) -> list[float]:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    return [float(x)]


# --- checkpointing ---


def live_values() -> int:
    return sum(isinstance(o, Value) for o in gc.get_objects())


def run_chain(L: int, every: int | None, probe: Callable[[], None] | None) -> int:
    """Forward and backward through L layers; ``probe`` runs where the graph is largest.

    Returns how many times a layer was evaluated (recomputation included).
    """
    evaluations = 0

    def layer(v: Any) -> Any:
        nonlocal evaluations
        evaluations += 1
        return (v * 0.9 + 0.05).tanh()

    def segment(n: int) -> Callable[[Any], Any]:
        def run(v: Any) -> Any:
            for _ in range(n):
                v = layer(v)
            if probe is not None:
                probe()  # during backward the rebuilt segment is alive here
            return v

        return run

    x = Value(0.3)
    y = x
    if every is None:
        for _ in range(L):
            y = layer(y)
    else:
        for start in range(0, L, every):
            y = checkpoint(segment(min(every, L - start)), y)
    if probe is not None:
        probe()  # the whole kept graph, before backward frees nothing
    y.backward()
    assert x.grad != 0.0
    return evaluations


def chain_peak(L: int, every: int | None) -> tuple[int, float, int]:
    """(peak live Values, peak traced KiB, layer evaluations) of forward + backward.

    The counting run's ``gc.get_objects()`` lists would distort the memory trace, so
    tracemalloc watches a separate run without probes.
    """
    counts: list[int] = []
    gc.collect()
    base = live_values()
    evaluations = run_chain(L, every, lambda: counts.append(live_values() - base))
    gc.collect()
    tracemalloc.start()
    run_chain(L, every, None)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return max(counts), traced / 1024.0, evaluations


def checkpoint_table() -> str:
    rows = [
        "| layers L | checkpoint every | plain: peak live nodes | plain: peak KiB "
        "| checkpointed: peak live nodes | checkpointed: peak KiB | nodes saved "
        "| checkpointed peak / sqrt(L) | layer evaluations plain / checkpointed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for L in (16, 64, 256, 1024):
        every = round(math.sqrt(L))
        plain_nodes, plain_kib, plain_evals = chain_peak(L, None)
        nodes, kib, evals = chain_peak(L, every)
        rows.append(
            f"| {L} | {every} | {plain_nodes} | {plain_kib:.0f} | {nodes} | {kib:.0f} "
            f"| {plain_nodes / nodes:.1f}x | {nodes / math.sqrt(L):.1f} | {plain_evals} / {evals} |"
        )
    return "\n".join(rows)


# --- output ---


def replace_section(page: Path, tag: str, table: str) -> None:
    """Swap the text between ``<!-- tag -->`` and ``<!-- /tag -->`` for the table."""
    text = page.read_text()
    pattern = re.compile(rf"(<!-- {tag} -->\n).*?(<!-- /{tag} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{page} has no <!-- {tag} --> ... <!-- /{tag} --> section")
    page.write_text(pattern.sub(lambda m: m[1] + table + "\n" + m[2], text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="update the tables in docs/")
    args = parser.parse_args()
    modes = modes_table()
    print("## forward vs reverse mode (full Jacobian)\n")
    print(modes)
    memory = checkpoint_table()
    print("\n## checkpointing a chain of L tanh layers\n")
    print(memory)
    if args.write:
        replace_section(DOCS / "howto" / "forward-mode.md", "measure_modes:modes", modes)
        replace_section(DOCS / "howto" / "checkpointing.md", "measure_modes:checkpoint", memory)
        print("\nupdated docs/howto/forward-mode.md and docs/howto/checkpointing.md")


if __name__ == "__main__":
    main()
