"""Every route to a second derivative agrees with the reverse-mode Hessian on random graphs.

Seeded random programs over three inputs use every row of the op table (``pow`` with both
arguments varying, the named binary methods, clamp with varying bounds), with fan-out and
shared subexpressions. Each Hessian is computed six ways: reverse over reverse (the
reference), ``hvp``, ``jvp∘jvp``, ``jacfwd∘jacrev``, ``jacrev∘jacfwd`` and forward over
reverse through ``vjp``. They are all the one forward rule (``Op.jvp``) and the one reverse
rule (``Op.vjp``) composed in different orders, so they agree to rounding.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from oracle import assert_close

import chainrule
from chainrule.ops import CROSS_ENTROPY, OPS, evaluate
from chainrule.transforms import hessian, hvp, jacfwd, jacrev, jvp, vjp

ALL = (0, 1, 2)


def pos(v: Any) -> Any:
    """A positive number from any: the inputs of log, sqrt, division, ..."""
    return v * v + 0.5


def unit(v: Any) -> Any:
    """A number in (-0.9, 0.9): the inputs of asin, atanh, tan and the exp family."""
    return v.tanh() * 0.9


# op name -> (arity, how a program step uses it); every row of OPS that ops.py defines
STEPS: dict[str, tuple[int, Callable[..., Any]]] = {
    "+": (2, lambda a, b: a + b),
    "-": (2, lambda a, b: a - b),
    "*": (2, lambda a, b: a * b),
    "/": (2, lambda a, b: a / pos(b)),
    "**": (1, lambda a: pos(a) ** 1.7),
    "pow": (2, lambda a, b: pos(a) ** unit(b)),
    "neg": (1, lambda a: -a),
    "ReLU": (1, lambda a: a.relu()),
    "leaky_relu": (2, lambda a, b: a.leaky_relu(b)),
    "tanh": (1, lambda a: a.tanh()),
    "exp": (1, lambda a: unit(a).exp()),
    "log": (1, lambda a: pos(a).log()),
    "sigmoid": (1, lambda a: a.sigmoid()),
    "softplus": (1, lambda a: a.softplus()),
    "gelu": (1, lambda a: a.gelu()),
    "silu": (1, lambda a: a.silu()),
    "sqrt": (1, lambda a: pos(a).sqrt()),
    "abs": (1, lambda a: abs(a)),
    "sin": (1, lambda a: a.sin()),
    "cos": (1, lambda a: a.cos()),
    "erf": (1, lambda a: a.erf()),
    "tan": (1, lambda a: unit(a).tan()),
    "sinh": (1, lambda a: unit(a).sinh()),
    "cosh": (1, lambda a: unit(a).cosh()),
    "rsqrt": (1, lambda a: chainrule.ops.rsqrt(pos(a))),
    "asin": (1, lambda a: unit(a).asin()),
    "acos": (1, lambda a: unit(a).acos()),
    "atan": (1, lambda a: a.atan()),
    "asinh": (1, lambda a: a.asinh()),
    "acosh": (1, lambda a: (pos(a) + 1.0).acosh()),
    "atanh": (1, lambda a: unit(a).atanh()),
    "log2": (1, lambda a: pos(a).log2()),
    "log10": (1, lambda a: pos(a).log10()),
    "log1p": (1, lambda a: pos(a).log1p()),
    "expm1": (1, lambda a: unit(a).expm1()),
    "exp2": (1, lambda a: unit(a).exp2()),
    "sign": (1, lambda a: a.sign() * a),
    "reciprocal": (1, lambda a: pos(a).reciprocal()),
    "square": (1, lambda a: a.square()),
    "hypot": (2, lambda a, b: a.hypot(b)),
    "atan2": (2, lambda a, b: a.atan2(b)),
    "%": (2, lambda a, b: a % pos(b)),
    "fmod": (2, lambda a, b: a.fmod(pos(b))),
    "maximum": (2, lambda a, b: a.maximum(b)),
    "minimum": (2, lambda a, b: a.minimum(b)),
    "clamp": (2, lambda a, b: a.clamp(b, b + pos(a))),
    "cross_entropy": (2, lambda a, b: evaluate(CROSS_ENTROPY, a, b, 0.25, 0.75)),
}
NAMES = list(STEPS)


def test_every_row_of_the_op_table_is_in_the_programs() -> None:
    defined_in_ops = {n for n, op in OPS.items() if op.local.__module__ == "chainrule.ops"}
    assert len(defined_in_ops) > 40 and defined_in_ops <= set(STEPS)


def program(seed: int) -> Callable[..., Any]:
    """A random function of three inputs: 7 steps, each an op of the table on earlier
    results (so they fan out and share), summed at the end."""
    rng = random.Random(seed)
    steps = []
    for k in range(7):
        name = NAMES[(seed * 7 + k) % len(NAMES)] if k < 3 else rng.choice(NAMES)
        arity, step = STEPS[name]
        steps.append((step, [rng.randrange(3 + k) for _ in range(arity)]))

    def f(*xs: Any) -> Any:
        regs = list(xs)
        for step, args in steps:
            regs.append(step(*(regs[i] for i in args)))
        return regs[-1] + regs[-2] * regs[-3]

    return f


def routes(f: Callable[..., Any], xs: list[float]) -> dict[str, list[list[Any]]]:
    """The Hessian of ``f`` at ``xs``, six ways."""
    unit_vectors = [[1.0 if i == j else 0.0 for i in range(3)] for j in range(3)]
    columns = [hvp(f, xs, e) for e in unit_vectors]

    def second(i: int, j: int) -> Any:
        return jvp(lambda *a: jvp(f, a, unit_vectors[i])[1], xs, unit_vectors[j])[1]

    def pullback(*a: Any) -> list[Any]:
        return list(vjp(f, *a)[1](1.0))

    return {
        "reverse over reverse": [list(r) for r in hessian(f, ALL)(*xs)],
        "hvp": [[columns[j][i] for j in range(3)] for i in range(3)],
        "jvp∘jvp": [[second(i, j) for j in range(3)] for i in range(3)],
        "jacfwd∘jacrev": [list(r) for r in jacfwd(jacrev(f, ALL), ALL)(*xs)],
        "jacrev∘jacfwd": [list(r) for r in jacrev(lambda *a: list(jacfwd(f, ALL)(*a)), ALL)(*xs)],
        "forward over vjp": [list(r) for r in jacfwd(pullback, ALL)(*xs)],
    }


@pytest.mark.parametrize("seed", range(40))
def test_six_routes_to_the_hessian_agree(seed: int) -> None:
    rng = random.Random(1000 + seed)
    xs = [rng.uniform(-1.5, 1.5) for _ in range(3)]
    f = program(seed)
    found = routes(f, xs)
    reference = found.pop("reverse over reverse")
    scale = 1.0 + max(abs(h) for row in reference for h in row)
    assert all(math.isfinite(h) for row in reference for h in row)
    for name, h in found.items():
        for i in range(3):
            for j in range(3):
                assert type(h[i][j]) is float, name
                assert_close(h[i][j], reference[i][j], atol=1e-9 * scale, rtol=1e-9)
    for i in range(3):  # a Hessian is symmetric, whichever route
        for j in range(i):
            assert_close(reference[i][j], reference[j][i], atol=1e-9 * scale, rtol=1e-9)
