"""What a transform costs per call on a small function of plain numbers, across git revisions.

A learner sweeping ``grad(f)(x, y)`` over a grid, or taking directional derivatives with
``jvp``, pays each transform's own bookkeeping (argument checks, structures, result types)
on every call; with a two-argument ``f`` that bookkeeping is most of the time. This script
loads ``src/chainrule`` at each revision given as a package of its own
(:func:`ab_versions.extract`), checks they all compute the same numbers, then times each
case on each revision in turn, alternating the order every round, and prints the least
CPU time per call (microseconds) of each.

    python benchmarks/transforms_overhead.py ba3263d main HEAD
    python benchmarks/transforms_overhead.py main HEAD --rounds 9 --calls 20000
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ab_versions import extract

Case = Callable[[], Any]


def product(x: Any, y: Any) -> Any:
    return x * y


def cubic(x: Any, y: Any) -> Any:
    return x * x * y


def cases(package: str) -> dict[str, Case]:
    """Each transform once on a two-argument function, with the package named ``package``."""
    t = importlib.import_module(f"{package}.transforms")
    value = importlib.import_module(package).Value
    g, g01, vg = t.grad(product), t.grad(product, argnums=(0, 1)), t.value_and_grad(product)
    h = t.hessian(cubic, argnums=(0, 1))
    a, b = value(1.5), value(2.5)
    loss = t.grad(lambda p: p["w"][0] * p["w"][1] + p["b"])
    params = {"w": [1.5, 2.5], "b": 0.5}
    return {
        "grad(f)(x, y)": lambda: g(1.5, 2.5),
        "grad(f, argnums=(0, 1))(x, y)": lambda: g01(1.5, 2.5),
        "grad(f)(x, y), both Values": lambda: g(a, b),
        "value_and_grad(f)(x, y)": lambda: vg(1.5, 2.5),
        "jvp(f, (x, y), (1, 0))": lambda: t.jvp(product, (1.5, 2.5), (1.0, 0.0)),
        "vjp(f, x, y)[1](1.0)": lambda: t.vjp(product, 1.5, 2.5)[1](1.0),
        "hessian(f, argnums=(0, 1))(x, y)": lambda: h(1.5, 2.5),
        "grad(loss)({'w': [x, y], 'b': z})": lambda: loss(params),  # a structure, for scale
    }


def per_call(case: Case, calls: int) -> float:
    """CPU seconds per call of ``case`` (so other jobs on the machine count less), over
    ``calls`` calls with the collector off."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.process_time()
        for _ in range(calls):
            case()
        return (time.process_time() - t0) / calls
    finally:
        gc.enable()


def numbers(case: Case) -> str | None:
    """What ``case`` computes, written out (Values read through ``.data``); None when this
    revision cannot run it (structures came after some)."""
    try:
        return repr([getattr(x, "data", x) for x in _flat(case())])
    except (TypeError, AttributeError):
        return None


def _flat(r: Any) -> list[Any]:
    if isinstance(r, dict):
        return _flat([r[k] for k in sorted(r)])
    if isinstance(r, (tuple, list)):
        return [leaf for x in r for leaf in _flat(x)]
    return [] if callable(r) else [r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", help="git revisions (HEAD, a hash, a branch)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2_000, help="calls per timing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        sys.path.insert(0, scratch)
        names = [f"{rev} ({i})" for i, rev in enumerate(args.revisions)]
        for i, rev in enumerate(args.revisions):
            extract(rev, f"chainrule_v{i}", Path(scratch))
        suites = [cases(f"chainrule_v{i}") for i in range(len(names))]
        every_case = list(suites[0])
        for case in every_case:  # a revision that cannot run a case leaves it out
            found = {n: numbers(suite[case]) for n, suite in zip(names, suites)}
            if len({v for v in found.values() if v is not None}) > 1:
                raise SystemExit(f"the revisions disagree on {case}: {found}")
            for suite, value in zip(suites, found.values()):
                if value is None:
                    del suite[case]
        best = {(n, c): float("inf") for n, suite in zip(names, suites) for c in suite}
        for r in range(args.rounds):
            order = list(zip(names, suites))
            for name, suite in order if r % 2 == 0 else order[::-1]:
                for case, run in suite.items():
                    best[name, case] = min(best[name, case], per_call(run, args.calls))
    print(f"µs of CPU time per call, least of {args.rounds} alternating rounds of {args.calls}")
    print(f"  {'':<36}" + "".join(f"{n:>14}" for n in names))
    for case in every_case:
        cells = [f"{best[n, case] * 1e6:14.2f}" if (n, case) in best else f"{'-':>14}"
                 for n in names]  # fmt: skip
        print(f"  {case:<36}" + "".join(cells))


if __name__ == "__main__":
    main()
