"""chainrule.compile: the traced, generated forward + backward agrees with the dynamic engine."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given
from oracle import assert_close, central_difference, reals, reverse_mode

from chainrule import Value, custom_op
from chainrule.compiler import CompiledFunction, TraceChangedError, compile
from chainrule.losses import cross_entropy
from chainrule.ops import OPS

TOL = 1e-12

# One function per built-in op (by its OPS name), with inputs that visit every branch.
CASES: dict[str, tuple[Callable[..., Value], list[tuple[float, ...]]]] = {
    "+": (lambda x, y: x + y, [(1.5, -2.0)]),
    "-": (lambda x, y: x - y, [(1.5, -2.0)]),
    "*": (lambda x, y: x * y, [(1.5, -2.0)]),
    "/": (lambda x, y: x / y, [(1.5, -2.0), (-0.3, 0.7)]),
    "**": (lambda x: x**3.0 + x**-1.5 * 2.0, [(1.7,), (0.4,)]),
    "pow": (lambda x, y: x**y, [(1.7, 0.6), (0.5, -2.0)]),
    "neg": (lambda x: -x, [(1.5,)]),
    "ReLU": (lambda x: x.relu(), [(1.5,), (-1.5,)]),
    "leaky_relu": (lambda x, a: x.leaky_relu(a) + x.leaky_relu(0.1), [(1.5, 0.2), (-1.5, 0.2)]),
    "tanh": (lambda x: x.tanh(), [(0.3,), (-2.0,)]),
    "exp": (lambda x: x.exp(), [(0.3,), (-2.0,)]),
    "log": (lambda x: x.log(), [(0.3,), (2.0,)]),
    "sigmoid": (lambda x: x.sigmoid(), [(0.3,), (-30.0,)]),
    "softplus": (lambda x: x.softplus(), [(0.3,), (-3.0,)]),
    "gelu": (lambda x: x.gelu(), [(0.3,), (-1.2,)]),
    "silu": (lambda x: x.silu(), [(0.3,), (-1.2,)]),
    "sqrt": (lambda x: x.sqrt(), [(0.3,), (4.0,)]),
    "abs": (lambda x: abs(x), [(0.3,), (-4.0,)]),
    "sin": (lambda x: x.sin(), [(0.3,), (-4.0,)]),
    "cos": (lambda x: x.cos(), [(0.3,), (-4.0,)]),
    "erf": (lambda x: x.erf(), [(0.3,), (-1.0,)]),
    "cross_entropy": (lambda a, b, c: cross_entropy([a, b, c], 1), [(0.3, -1.2, 2.0)]),
}


def dynamic(f: Callable[..., Value], xs: Sequence[float]) -> tuple[float, list[float]]:
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def assert_same(f: Callable[..., Value], cf: CompiledFunction, xs: Sequence[float]) -> None:
    value, grads = cf(*xs)
    want_value, want_grads = dynamic(f, xs)
    assert abs(value - want_value) <= TOL * max(1.0, abs(want_value))
    assert len(grads) == len(want_grads)
    for got, want in zip(grads, want_grads):
        assert abs(got - want) <= TOL * max(1.0, abs(want)), (got, want)


def test_every_builtin_op_has_a_case() -> None:
    assert set(CASES) == set(OPS)  # a new row of the ops table needs a case here


def test_a_custom_op_named_like_a_builtin_compiles_with_its_own_derivative() -> None:
    for name in ("leaky-relu", "leaky_relu", "pow-const", "**", "*", "tanh"):

        @custom_op(derivative=lambda x: 10.0, name=name)
        def fake(x: float) -> float:
            return 3.0 * x

        def f(x: Value, fake: Any = fake) -> Value:
            faked: Value = fake(x)
            return faked * x.tanh() + (x * 2.0) ** 2.0

        assert_same(f, compile(f), (0.4,))
        t = math.tanh(0.4)
        assert compile(f)(0.4)[1][0] == pytest.approx(10.0 * t + 1.2 * (1 - t * t) + 8 * 0.4)


@pytest.mark.parametrize("op", sorted(CASES))
def test_each_op_matches_the_dynamic_engine(op: str) -> None:
    f, points = CASES[op]
    cf = compile(f)
    for xs in points:  # traced on the first point, reused on the others
        assert_same(f, cf, xs)
    assert cf.data_reads == []


def _composite(x: Value, y: Value, z: Value) -> Value:
    s = x * y + z.log()  # s is shared below
    return (s.tanh() * s + (x - y).relu() / (1.0 + z) + abs(y) * x.sigmoid()) ** 2.0


_COMPOSITE = compile(_composite)  # traced once, on the first example


@given(reals(-3, 3), reals(-3, 3), reals(0.1, 3))
def test_composite_reused_on_new_inputs(x: float, y: float, z: float) -> None:
    assert_same(_composite, _COMPOSITE, (x, y, z))


def test_gradient_matches_central_differences() -> None:
    def f(x: Value, y: Value) -> Value:
        return (x * y).sin() + (x / y).exp()

    _, grads = compile(f)(0.7, 1.3)
    for i, g in enumerate(grads):
        assert_close(g, central_difference(f, [0.7, 1.3], i))


def test_repeated_and_unused_inputs_and_constants() -> None:
    cf = compile(lambda x, unused: x * x * 3.0 - 2.0)
    assert cf(2.0, 5.0) == (10.0, (12.0, 0.0))
    assert cf(-1.0, 5.0) == (1.0, (-6.0, 0.0))


def test_output_is_an_input_or_a_constant() -> None:
    assert compile(lambda x: x)(3.0) == (3.0, (1.0,))
    assert compile(lambda x: Value(2.0, requires_grad=False) * 4.0)(3.0) == (8.0, (0.0,))


def test_source_is_a_wengert_list() -> None:
    cf = compile(lambda a, b: (a * b).tanh() + a)
    with pytest.raises(RuntimeError, match="call the compiled function once"):
        _ = cf.source
    cf(0.5, -1.0)
    assert cf.source == (
        "def forward_backward(a, b):\n"
        "    # forward\n"
        "    t1 = a * b\n"
        "    t2 = F0(t1)\n"  # tanh: its op object, by number
        "    t3 = t2 + a\n"
        "    # backward: adjoints in reverse topological order\n"
        "    t1_bar = 1.0 * L0(t1, t2)[0]\n"
        "    a_bar = 1.0 + t1_bar * b\n"  # shares added in the dynamic engine's order
        "    b_bar = t1_bar * a\n"
        "    return t3, (a_bar, b_bar), ()\n"
    )


def test_a_neuron_is_one_line() -> None:
    cf = compile(lambda b, w0, w1: (b + w0 * 0.5 + w1 * -2.0).relu())
    cf(0.1, 0.2, 0.3)
    assert "    t1 = b + w0 * 0.5 + w1 * -2.0" in cf.source.splitlines()


def test_star_args_get_numbered_names() -> None:
    cf = compile(lambda *xs: xs[0] * xs[1])
    assert cf(2.0, 3.0) == (6.0, (3.0, 2.0))
    assert cf.source.startswith("def forward_backward(x0, x1):")


def test_arity_change_retraces() -> None:
    cf = compile(lambda *xs: sum(xs[1:], xs[0]))
    assert cf(1.0, 2.0) == (3.0, (1.0, 1.0))
    assert cf(1.0, 2.0, 3.0) == (6.0, (1.0, 1.0, 1.0))


def _branchy(x: Value) -> Value:
    if x.data > 0:  # Python control flow on a value: the graph depends on x
        return x * 2.0
    return x.exp()


def test_value_dependent_control_flow_is_detected() -> None:
    cf = compile(_branchy)
    assert cf(1.0) == (2.0, (2.0,))
    assert len(cf.data_reads) == 1 and "test_compiler.py" in cf.data_reads[0]
    assert cf(3.0) == (6.0, (2.0,))  # same branch, same graph: fine
    with pytest.raises(TraceChangedError, match="different graph") as info:
        cf(-1.0)
    assert "test_compiler.py" in str(info.value)


def test_retrace_follows_the_new_graph() -> None:
    cf = compile(_branchy, retrace=True)
    cf(1.0)
    value, (dx,) = cf(-1.0)
    assert value == math.exp(-1.0) and dx == math.exp(-1.0)
    assert "F0(x)" in cf.source  # exp now: the first op called


def test_relu_branches_are_ops_not_trace_changes() -> None:
    cf = compile(lambda x: (x * 2.0).relu())
    assert cf(1.0) == (2.0, (2.0,))
    assert cf(-1.0) == (0.0, (0.0,))
    assert cf.data_reads == []


def test_tracing_restores_value_data_even_when_f_raises() -> None:
    slot = Value.__dict__["data"]

    def bad(x: Value) -> Value:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        compile(bad)(1.0)
    assert Value.__dict__["data"] is slot


def test_errors_are_clear() -> None:
    with pytest.raises(TypeError, match="return a Value"):
        compile(lambda x: 1.0)(2.0)  # type: ignore[arg-type, return-value]

    def hooked(x: Value) -> Value:
        y = x * 2.0
        y.register_hook(lambda g: g)
        return y

    with pytest.raises(ValueError, match="hooks"):
        compile(hooked)(1.0)
    cf = compile(lambda x, y: x / y)
    with pytest.raises(ZeroDivisionError):
        cf(1.0, 0.0)


def _mlp_loss(params: Sequence[Value], xs: list[list[float]], ys: list[float]) -> Value:
    """A 2-8-8-1 MLP with relu, hinge loss and L2, on flat parameters."""
    sizes, scores = [2, 8, 8, 1], []
    for x in xs:
        h: list[Value | float] = list(x)
        k = 0
        for depth, (nin, nout) in enumerate(zip(sizes[:-1], sizes[1:])):
            outs: list[Value | float] = []
            for _ in range(nout):
                act = params[k + nin]
                for i in range(nin):
                    act = act + params[k + i] * h[i]
                k += nin + 1
                outs.append(act if depth == 2 else act.relu())
            h = outs
        assert isinstance(h[0], Value)
        scores.append(h[0])
    data = sum(((1.0 + -y * s).relu() for y, s in zip(ys, scores)), Value(0.0)) * (1 / len(ys))
    return data + 1e-4 * sum((p * p for p in params), Value(0.0))


def test_mlp_training_matches_the_dynamic_engine() -> None:
    rng = random.Random(0)
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(20)]
    ys = [1.0 if a * b > 0 else -1.0 for a, b in xs]
    n = 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    params = [rng.uniform(-1, 1) for _ in range(n)]

    def f(*ps: Value) -> Value:
        return _mlp_loss(ps, xs, ys)

    cf = compile(f)
    for _ in range(5):  # a few SGD steps: the same code on new parameters
        assert_same(f, cf, params)
        _, grads = cf(*params)
        params = [p - 0.1 * g for p, g in zip(params, grads)]
    assert reverse_mode(f, params) == list(cf(*params)[1])  # the same floats, bit for bit
