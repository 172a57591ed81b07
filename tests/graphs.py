"""Ops and graphs the tests of several mechanisms share: a hand-written ``Function`` (``Cube``),
a custom op (``WOBBLE``) and random graphs over every kind of op, for the differential tests
of compile and batched against the engine."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from chainrule import Value, custom_op, no_grad
from chainrule.custom import Function, FunctionCtx


class Cube(Function):
    """x³;  d/dx = 3x²"""

    @staticmethod
    def forward(ctx: FunctionCtx, x: float) -> float:
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx: FunctionCtx, grad_out: float) -> float:
        x: float
        (x,) = ctx.saved_values
        return grad_out * 3.0 * x * x


WOBBLE = custom_op(lambda x: 1.0 + 0.5 * math.cos(x), name="wobble(x)")(
    lambda x: x + 0.5 * math.sin(x)
)
UNARY: list[Callable[[Value], Value]] = [
    lambda v: v.tanh(),
    lambda v: v.sin(),
    lambda v: v.relu(),
    lambda v: v.leaky_relu(0.1),
    lambda v: v.sigmoid(),
    lambda v: (v * 0.3).exp(),
    lambda v: -v,
    lambda v: abs(v),
    lambda v: WOBBLE(v),
    lambda v: v.detach() * 0.5,
    lambda v: v.maximum(0.25),
    lambda v: v.clamp(-0.5, 0.5),
]
BINARY: list[Callable[[Value, Value], Value]] = [
    lambda a, b: a + b,
    lambda a, b: a * b - a,
    lambda a, b: a / (1.0 + b * b),
    lambda a, b: a.hypot(b),
    lambda a, b: a.atan2(b),
    lambda a, b: a.minimum(b),
    lambda a, b: (a * a + 0.5) ** (b.tanh()),
]


def random_graph(seed: int, weights: list[Value]) -> Callable[..., Value]:
    """A function of 3 inputs building a random DAG (shared nodes, detach, no_grad,
    closed-over weights, a custom op), the same graph on every call."""
    rng = random.Random(seed)
    plan = [
        (rng.randrange(5), rng.random(), rng.random(), rng.randrange(12), rng.randrange(7))
        for _ in range(rng.randint(5, 40))
    ]

    def f(*xs: Value) -> Value:
        nodes: list[Value] = [*xs, *weights]
        for kind, u, v, k, m in plan:
            a, b = nodes[int(u * len(nodes))], nodes[int(v * len(nodes))]
            if kind in (0, 1):
                nodes.append(BINARY[m](a, b))
            elif kind == 2:
                nodes.append(UNARY[k](a))
            elif kind == 3:
                with no_grad():
                    c = UNARY[k](a + b)
                nodes.append(b * c)
            else:
                nodes.append(a * 0.5 + (b * 2.0 + 1.0))
        return sum(nodes[len(xs) :], nodes[0])

    return f
