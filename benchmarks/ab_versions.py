"""Two versions of chainrule side by side, in one process: is a change faster or slower?

The machine's speed drifts (other jobs, memory, turbo), so times taken in separate runs cannot
be compared closely. This script extracts ``src/chainrule`` at each git revision given into a
scratch folder under its own package name (``chainrule_v0``, ``chainrule_v1``, ...), loads
them all in one process and runs the MLP workload of ``mlp_vs_micrograd.py`` (3 SGD steps,
GC on) on each in turn, alternating the order every round, with micrograd as the yardstick.
Then the same with the collector off, split into the forward build and the backward pass;
then the compiled path (``chainrule.compile``): its start-up and one training step.

    python benchmarks/ab_versions.py 060e2fe HEAD          # min of 5 rounds
    python benchmarks/ab_versions.py 986f061 060e2fe HEAD --rounds 7
"""

from __future__ import annotations

import argparse
import gc
import importlib
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workloads import ROOT, loss_fn, make_mlp, make_problem, mlp_init, mlp_loss, train


def extract(rev: str, name: str, into: Path) -> Any:
    """``src/chainrule`` at ``rev``, importable as the package ``name``; the package."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src/chainrule"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    package = into / name
    (into / "src" / "chainrule").rename(package)
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"\bchainrule\b", name, text), encoding="utf-8")
    return importlib.import_module(name)


def timed(fn: Any) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def split(value: type) -> tuple[float, float]:
    """Forward build and backward pass of one MLP loss, collector off."""
    xs, ys = make_problem()
    layers = make_mlp(value, [2, 16, 16, 1])
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        loss = loss_fn(value, layers, xs, ys)
        t1 = time.perf_counter()
        loss.backward()
        return t1 - t0, time.perf_counter() - t1
    finally:
        gc.enable()


def compiled(package: Any, steps: int = 10) -> tuple[float, float]:
    """The compiled MLP loss (the training-loop form: the parameters are Values the loss closes
    over, ``step()`` fills their ``.grad``): its start-up (trace, generate and compile, the
    first call) and the fastest of ``steps`` calls, each after zeroing the grads."""
    xs, ys = make_problem()
    params = [package.Value(p) for p in mlp_init()]
    gc.collect()
    t0 = time.perf_counter()
    step = package.compile(lambda: mlp_loss(params, xs, ys))
    step()
    startup = time.perf_counter() - t0
    best = float("inf")
    for _ in range(steps):
        for p in params:
            p.grad = 0.0
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return startup, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", help="git revisions (HEAD, a hash, a branch)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from micrograd.engine import Value as Micrograd

    with tempfile.TemporaryDirectory() as scratch:
        sys.path.insert(0, scratch)
        revisions = list(enumerate(args.revisions))
        names = [f"{rev} ({i})" for i, rev in revisions]
        packages = [extract(rev, f"chainrule_v{i}", Path(scratch)) for i, rev in revisions]
        values = [package.Value for package in packages]
        losses = {train(v) for v in values}
        assert len(losses) == 1, f"the versions train to different losses: {losses}"
        step: dict[str, list[float]] = {n: [] for n in [*names, "micrograd 0.1.0"]}
        parts: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        fast: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        for r in range(args.rounds):
            order = list(zip(names, packages))
            for name, package in order if r % 2 == 0 else order[::-1]:
                step[name].append(timed(lambda v=package.Value: train(v)))
                parts[name].append(split(package.Value))
                fast[name].append(compiled(package))
            if r % 2 == 0:
                step["micrograd 0.1.0"].append(timed(lambda: train(Micrograd)))
    yardstick = min(step["micrograd 0.1.0"])
    print(f"MLP 2-16-16-1, 3 SGD steps, GC on, min of {args.rounds} alternating rounds")
    for name, times in step.items():
        ratio = yardstick / min(times)
        print(f"  {name:<24} {min(times):7.3f} s   micrograd / this: {ratio:5.2f}x")
    print("one loss, collector off, min over the rounds: forward build + backward pass")
    for name, pairs in parts.items():
        forward, backward = min(p[0] for p in pairs), min(p[1] for p in pairs)
        print(f"  {name:<24} {forward:.4f} s + {backward:.4f} s")
    print("compiled MLP loss, min over the rounds: start-up (the first call) and one step()")
    for name, pairs in fast.items():
        startup, one = min(p[0] for p in pairs), min(p[1] for p in pairs)
        print(f"  {name:<24} start-up {startup:.3f} s   step() {one * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
