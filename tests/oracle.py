"""The finite-difference oracle and the hypothesis strategies every test shares.

Tolerances: central differences with eps = 1e-6 have truncation error ~ f''' eps**2 / 6
and rounding error ~ 1e-16 |f| / eps ~ 1e-10 |f|; on inputs kept within a moderate range
(|x| <= 5, away from kinks and domain edges) both stay below 1e-6 absolute, so we compare
with ``abs <= 1e-5 + 1e-4 * |numeric|``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from hypothesis import strategies as st

from chainrule import Value, no_grad

EPS = 1e-6
ATOL = 1e-5
RTOL = 1e-4


def central_difference(
    f: Callable[..., Value], xs: Sequence[float], i: int, eps: float = EPS
) -> float:
    """(f(x + eps e_i) - f(x - eps e_i)) / (2 eps), evaluated without building a graph."""
    up, down = list(xs), list(xs)
    up[i] += eps
    down[i] -= eps
    with no_grad():
        return (f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * eps)


def reverse_mode(f: Callable[..., Value], xs: Sequence[float]) -> list[float]:
    """Gradient of f at xs by one backward pass."""
    leaves = [Value(x) for x in xs]
    f(*leaves).backward()
    return [leaf.grad for leaf in leaves]


def assert_close(actual: float, expected: float, atol: float = ATOL, rtol: float = RTOL) -> None:
    assert math.isfinite(actual), actual
    assert abs(actual - expected) <= atol + rtol * abs(expected), (actual, expected)


def assert_matches_central_difference(f: Callable[..., Value], xs: Sequence[float]) -> None:
    for i, g in enumerate(reverse_mode(f, xs)):
        assert_close(g, central_difference(f, xs, i))


def reals(lo: float = -5.0, hi: float = 5.0) -> st.SearchStrategy[float]:
    """Finite floats in [lo, hi]."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def away_from(
    points: Sequence[float], lo: float = -5.0, hi: float = 5.0, gap: float = 1e-3
) -> st.SearchStrategy[float]:
    """Floats in [lo, hi] at least ``gap`` from each kink in ``points``: FD is meaningless there."""
    return reals(lo, hi).filter(lambda x: all(abs(x - p) > gap for p in points))


positive = st.floats(0.05, 5.0)


def expression() -> tuple[Value, Value, Value, Value]:
    """The README's graph y = (x*w + b)**2 at x=2, w=-3, b=1, every node labelled.

    y = 25, dy/dx = 2(xw+b)w = 30, dy/dw = -20, dy/db = -10.
    """
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(1.0, label="b")
    y = (x * w + b) ** 2
    y.label = "y"
    return x, w, b, y
