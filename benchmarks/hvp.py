"""Three ways to a Hessian-vector product, measured: time and error against the exact H v.

Methods (n inputs, one vector v; each is two passes whatever n is):
  forward over reverse   chainrule.transforms.hvp: jvp(grad(f), x, v)
  reverse over reverse   grad of x -> grad(f)(x) · v (backward with create_graph=True)
  reverse over forward   grad of x -> jvp(f, x, v)[1]
  finite differences     (grad f(x + h v) - grad f(x - h v)) / 2h, h = 1e-5
and, for scale, one plain gradient (grad(f)).

Workloads:
  rosenbrock  sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 over n variables; its H v is
              known in closed form, so the error column is exact
  mlp         the hinge + L2 loss of workloads.py's MLP 2-16-16-1 (337 parameters) on
              20 of its points, as a function of the parameters; the error column is
              the largest difference from the forward-over-reverse result

    python benchmarks/hvp.py            # n = 1000, 7 interleaved repeats (least CPU time)
    python benchmarks/hvp.py --quick    # n = 100, 1 repeat
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import time
from collections.abc import Callable
from typing import Any

from workloads import make_problem, mlp_init, mlp_loss

from chainrule.transforms import grad, hvp, jvp

Fn = Callable[..., Any]
Hv = tuple[float, ...]
Method = Callable[[Fn, list[float], list[float]], Hv]


def rosenbrock(*x: Any) -> Any:
    total: Any = 0.0
    for a, b in zip(x[:-1], x[1:]):
        total = total + 100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2
    return total


def rosenbrock_hvp(x: list[float], v: list[float]) -> list[float]:
    """H v of the Rosenbrock function, from its closed-form Hessian (tridiagonal)."""
    n = len(x)
    out = [0.0] * n
    for i in range(n - 1):
        a, b = x[i], x[i + 1]
        # the term 100 (b - a²)² + (1 - a)²: d²/da² = 1200 a² - 400 b + 2, d²/dadb = -400 a,
        # d²/db² = 200
        out[i] += (1200 * a * a - 400 * b + 2) * v[i] - 400 * a * v[i + 1]
        out[i + 1] += -400 * a * v[i] + 200 * v[i + 1]
    return out


def forward_over_reverse(f: Fn, x: list[float], v: list[float]) -> Hv:
    return hvp(f, x, v)


def reverse_over_reverse(f: Fn, x: list[float], v: list[float]) -> Hv:
    every = tuple(range(len(x)))
    g = grad(f, every)

    def directional(*xs: Any) -> Any:
        total: Any = 0.0
        for gi, vi in zip(g(*xs), v):
            total = total + gi * vi
        return total

    result: tuple[float, ...] = grad(directional, every)(*x)
    return result


def reverse_over_forward(f: Fn, x: list[float], v: list[float]) -> Hv:
    result: tuple[float, ...] = grad(lambda *xs: jvp(f, xs, v)[1], tuple(range(len(x))))(*x)
    return result


def finite_differences(f: Fn, x: list[float], v: list[float]) -> Hv:
    h = 1e-5
    g = grad(f, tuple(range(len(x))))
    up = g(*[a + h * b for a, b in zip(x, v)])
    down = g(*[a - h * b for a, b in zip(x, v)])
    return tuple((u - d) / (2 * h) for u, d in zip(up, down))


def gradient_only(f: Fn, x: list[float], v: list[float]) -> Hv:
    result: tuple[float, ...] = grad(f, tuple(range(len(x))))(*x)
    return result


METHODS: dict[str, Method] = {
    "forward over reverse (hvp)": forward_over_reverse,
    "reverse over reverse": reverse_over_reverse,
    "reverse over forward": reverse_over_forward,
    "finite differences": finite_differences,
}


def cpu_times(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Each call's least CPU time (process_time, seconds) over ``repeats`` interleaved rounds.

    CPU time rather than wall time, and the calls taken in turn each round, so other jobs on
    a shared machine slow every method alike instead of whichever ran while they did.
    """
    best = {name: float("inf") for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            gc.collect()
            t0 = time.process_time()
            call()
            best[name] = min(best[name], time.process_time() - t0)
    return best


def measure(name: str, f: Fn, x: list[float], v: list[float], exact: list[float] | None,
            repeats: int) -> list[str]:  # fmt: skip
    reference = exact if exact is not None else list(forward_over_reverse(f, x, v))
    errors = {}
    for method_name, method in METHODS.items():
        result = method(f, x, v)
        errors[method_name] = max(abs(r - e) for r, e in zip(result, reference))
    calls: dict[str, Callable[[], object]] = {
        "one gradient (for scale)": lambda: gradient_only(f, x, v)
    }
    for method_name, method in METHODS.items():
        calls[method_name] = lambda method=method: method(f, x, v)  # type: ignore[misc]
    times = cpu_times(calls, repeats)
    base = times["one gradient (for scale)"]
    rows = []
    for method_name, t in times.items():
        err = f"{errors[method_name]:.1e}" if method_name in errors else ""
        rows.append(f"| {name} | {method_name} | {t * 1e3:.0f} | {t / base:.1f} | {err} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 100, one repeat")
    args = parser.parse_args()
    n, repeats = (100, 1) if args.quick else (1000, 7)
    rng = random.Random(0)
    x = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    v = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    rows = measure(f"rosenbrock n={n}", rosenbrock, x, v, rosenbrock_hvp(x, v), repeats)

    xs, ys = make_problem()
    xs, ys = xs[:20], ys[:20]
    params = mlp_init()
    u = [rng.uniform(-1.0, 1.0) for _ in params]
    loss = lambda *p: mlp_loss(list(p), xs, ys)
    rows += measure(f"mlp 337 params, {len(xs)} points", loss, params, u, None, repeats)

    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"least CPU time of {repeats} interleaved run(s)\n")  # fmt: skip
    print("| workload | method | CPU time (ms) | × one gradient | max error |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
