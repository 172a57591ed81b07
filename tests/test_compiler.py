"""chainrule.compile: the traced, generated forward + backward agrees with the dynamic engine."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from graphs import Cube, random_graph
from hypothesis import given
from oracle import assert_close, central_difference, reals, reverse_mode

from chainrule import Value, apply, custom_op, detect_anomaly, engine, no_grad
from chainrule.anomaly import AnomalyError
from chainrule.checkpointing import checkpoint
from chainrule.compiler import CompiledFunction, TraceChangedError, compile
from chainrule.data import make_moons
from chainrule.losses import cross_entropy, hinge, l2_penalty
from chainrule.nn import MLP
from chainrule.ops import OPS
from chainrule.optim import SGD

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
    # the rest of the function set (rsqrt has no method: its row is applied directly)
    "tan": (lambda x: x.tan(), [(0.3,), (-1.2,)]),
    "sinh": (lambda x: x.sinh(), [(0.3,), (-2.0,)]),
    "cosh": (lambda x: x.cosh(), [(0.3,), (-2.0,)]),
    "rsqrt": (lambda x: apply(OPS["rsqrt"], x), [(0.3,), (4.0,)]),
    "asin": (lambda x: x.asin(), [(0.3,), (-0.9,)]),
    "acos": (lambda x: x.acos(), [(0.3,), (-0.9,)]),
    "atan": (lambda x: x.atan(), [(0.3,), (-4.0,)]),
    "asinh": (lambda x: x.asinh(), [(0.3,), (-4.0,)]),
    "acosh": (lambda x: x.acosh(), [(1.3,), (4.0,)]),
    "atanh": (lambda x: x.atanh(), [(0.3,), (-0.9,)]),
    "log2": (lambda x: x.log2(), [(0.3,), (4.0,)]),
    "log10": (lambda x: x.log10(), [(0.3,), (4.0,)]),
    "log1p": (lambda x: x.log1p(), [(0.3,), (-0.9,)]),
    "expm1": (lambda x: x.expm1(), [(0.3,), (-2.0,)]),
    "exp2": (lambda x: x.exp2(), [(0.3,), (-2.0,)]),
    "sign": (lambda x: x.sign() * x, [(0.3,), (-2.0,)]),
    "reciprocal": (lambda x: x.reciprocal(), [(0.3,), (-2.0,)]),
    "square": (lambda x: x.square(), [(0.3,), (-2.0,)]),
    "hypot": (lambda x, y: x.hypot(y), [(0.3, -0.4), (0.0, 0.0)]),
    "atan2": (lambda y, x: y.atan2(x), [(0.3, -0.4), (-1.0, 2.0)]),
    "%": (lambda a, b: a % b, [(7.5, 2.0), (-7.5, 2.0)]),
    "fmod": (lambda a, b: a.fmod(b), [(7.5, 2.0), (-7.5, 2.0)]),
    "maximum": (lambda a, b: a.maximum(b), [(0.3, -0.4), (0.3, 0.3)]),
    "minimum": (lambda a, b: a.minimum(b), [(0.3, -0.4), (0.3, 0.3)]),
    "clamp": (lambda x, lo: x.clamp(lo, 1.0), [(0.3, 0.0), (-2.0, -1.0), (2.0, 0.0)]),
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
        "    # backward: the engine's reverse pass, one node at a time\n"
        "    t1_bar = -0.0 if (t2_d0 := L0(t1, t2)[0]) is MASKED else 1.0 * t2_d0\n"
        "    a_bar = 1.0 + t1_bar * b\n"  # shares added in the dynamic engine's order
        "    b_bar = t1_bar * a\n"
        "    return t3, (0.0 + a_bar, 0.0 + b_bar), ()\n"  # as a fresh leaf's .grad holds it
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
    if x.data > 0:  # Python control flow on a number: the graph depends on x
        return x * 2.0
    return x.exp()


def test_a_number_read_runs_f_again_to_check_the_graph() -> None:
    cf = compile(_branchy, cache_limit=1)
    assert cf(1.0) == (2.0, (2.0,))
    assert len(cf.data_reads) == 1 and "test_compiler.py" in cf.data_reads[0]
    assert cf(3.0) == (6.0, (2.0,))  # same branch, same graph: fine
    with pytest.raises(TraceChangedError, match="cache_limit=1") as info:
        cf(-1.0)
    assert "test_compiler.py" in str(info.value)


def test_a_new_path_is_traced_and_cached() -> None:
    cf = compile(_branchy)
    cf(1.0)
    value, (dx,) = cf(-1.0)
    assert value == math.exp(-1.0) and dx == math.exp(-1.0)
    assert "F0(x)" in cf.source and cf.traces == 2  # exp now: the first op called
    assert cf(2.0) == (4.0, (2.0,)) and cf.traces == 2


def test_relu_branches_are_ops_not_trace_changes() -> None:
    cf = compile(lambda x: (x * 2.0).relu())
    assert cf(1.0) == (2.0, (2.0,))
    assert cf(-1.0) == (0.0, (0.0,))
    assert cf.data_reads == []


# --- masked partials: the engine's share (0.0) even when an inf or nan adjoint meets one ---

_INF, _NAN = math.inf, math.nan

# f, a point where no edge is masked (traced there first), the point where one is
MASKED_EDGES: dict[str, tuple[Callable[..., Value], tuple[float, ...], tuple[float, ...]]] = {
    # sqrt'(0) = inf arrives at relu, whose partial below 0 is MASKED: x.grad is 0.0, not nan
    "relu below 0, inf adjoint": (lambda x: x.relu().sqrt(), (4.0,), (-1.0,)),
    "abs at 0, inf adjoint": (lambda x: abs(x).sqrt(), (4.0,), (0.0,)),
    "relu below 0, nan adjoint": (lambda x, y: x.relu() * y, (2.0, 3.0), (-1.0, _NAN)),
    "clamp outside its range": (lambda x: x.clamp(0.0, 1.0).sqrt(), (0.5,), (-2.0,)),
    "maximum's other input": (lambda x, y: x.maximum(y).sqrt(), (1.0, 2.0), (0.0, -1.0)),
    "leaky_relu's alpha above 0": (lambda x, a: x.leaky_relu(a) * _INF, (-1.0, 0.1), (2.0, 0.1)),
    "x ** 0": (lambda x, c: (x**c - 1.0).sqrt(), (4.0, 0.5), (4.0, 0.0)),
    "0 ** y, d/dy": (lambda x, y: (x**y).sqrt(), (4.0, 2.0), (0.0, 2.0)),
    # x * 2.0 is reached only through relu's masked edge: its adjoint is 0.0, and x's too
    "reached through masked edges only": (lambda x: (x * 2.0).relu().sqrt(), (1.0,), (-1.0,)),
}


def _same_float(a: float, b: float) -> bool:
    """Bit for bit, as far as a float's value goes: nan is nan, -0.0 is not 0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@pytest.mark.parametrize("case", sorted(MASKED_EDGES))
def test_a_masked_partial_gives_the_engines_share(case: str) -> None:
    f, unmasked, masked = MASKED_EDGES[case]
    cf = compile(f)
    for xs in (unmasked, masked):  # one trace; the partial is MASKED only on the second call
        value, grads = cf(*xs)
        want_value, want_grads = dynamic(f, xs)
        assert _same_float(value, want_value), (value, want_value)
        assert all(map(_same_float, grads, want_grads)), (grads, want_grads)
    assert "MASKED" in cf.source


def test_masked_partials_stop_inf_and_nan_adjoints() -> None:
    assert compile(lambda x: x.relu().sqrt())(-1.0) == (0.0, (0.0,))
    assert compile(lambda x: abs(x).sqrt())(0.0) == (0.0, (0.0,))
    assert compile(lambda x, y: x.relu() * y)(-1.0, _NAN)[1][0] == 0.0
    assert compile(lambda x: (x * 2.0).relu().sqrt())(-1.0) == (0.0, (0.0,))
    _, (dx, dalpha) = compile(lambda x, a: x.leaky_relu(a) * _INF)(2.0, 0.1)
    assert dx == _INF and dalpha == 0.0


def test_every_call_under_detect_anomaly_is_checked_as_backward_is() -> None:
    f = lambda x: x.relu().sqrt()
    cf = compile(f)
    assert cf(4.0) == (2.0, (0.25,))
    assert cf(-1.0) == (0.0, (0.0,))  # compiled: sqrt'(0) = inf meets relu's masked edge
    with detect_anomaly():
        assert cf(4.0) == (2.0, (0.25,))
        with pytest.raises(AnomalyError, match="backward produced inf"):
            cf(-1.0)  # the engine runs the call, and checks it
        with pytest.raises(AnomalyError, match="backward produced inf"):
            compile(f)(-1.0)


def test_tracing_changes_no_class_and_leaves_no_hook_even_when_f_raises() -> None:
    before = dict(vars(Value)), [dict(vars(c)) for c in Value.__mro__[1:]]

    def bad(x: Value) -> Value:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        compile(bad)(1.0)
    assert (dict(vars(Value)), [dict(vars(c)) for c in Value.__mro__[1:]]) == before
    assert engine.NODE_HOOKS == [] and engine.READ_HOOKS == []


def test_errors_are_clear() -> None:
    with pytest.raises(TypeError, match="return a Value"):
        compile(lambda x: 1.0)(2.0)

    def hooked(x: Value) -> Value:
        y = x * 2.0
        y.register_hook(lambda g: g)
        return y

    with pytest.raises(ValueError, match="hooks registered inside f"):
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


# --- no stale number: everything that can change between calls is read or recomputed ---


def test_detach_is_recomputed_on_every_call() -> None:
    cf = compile(lambda x: x * x.detach())
    assert cf(2.0) == (4.0, (2.0,))
    assert cf(3.0) == (9.0, (3.0,))  # d/dx of x * stop_gradient(x) is the detached x


def _no_grad_block(x: Value, y: Value) -> Value:
    with no_grad():
        scale = (x * y).tanh().exp()  # a number from the inputs, with no gradient
    return x * scale + y


def test_a_no_grad_block_is_recomputed_on_every_call() -> None:
    cf = compile(_no_grad_block)
    for xs in [(0.5, 2.0), (-1.0, 0.3), (2.0, -0.7)]:
        value, grads = dynamic(_no_grad_block, xs)
        assert cf(*xs) == (value, tuple(grads))


def test_closed_over_parameters_are_read_on_every_call_and_get_their_grads() -> None:
    w, b = Value(0.5), Value(-0.25)
    shift = Value(1.0, requires_grad=False)  # a constant made outside f: read too
    cf = compile(lambda x: (w * x + b).tanh() * shift)
    value, (dx,) = cf(2.0)
    assert value == math.tanh(0.75) and cf.parameters == [w, b]
    first = (w.grad, b.grad)
    w.data, shift.data = -1.5, 2.0  # an optimizer step, and a changed constant
    value, (dx,) = cf(2.0)
    assert value == math.tanh(-3.25) * 2.0
    ref_w, ref_b = Value(-1.5), Value(-0.25)
    x = Value(2.0)
    out = (ref_w * x + ref_b).tanh() * Value(2.0, requires_grad=False)
    out.backward()
    assert (dx, w.grad, b.grad) == (x.grad, first[0] + ref_w.grad, first[1] + ref_b.grad)


def test_a_number_read_into_a_new_value_is_checked() -> None:
    cf = compile(lambda x: x * Value(x.data, requires_grad=False), cache_limit=2)
    assert cf(2.0) == (4.0, (2.0,))
    assert cf(3.0) == (9.0, (3.0,))  # another constant: another trace
    assert cf(2.0) == (4.0, (2.0,)) and cf.traces == 2
    with pytest.raises(TraceChangedError, match=r"test_compiler\.py"):
        cf(5.0)


def test_argument_names_never_collide_with_generated_names() -> None:
    def f(x: Value, t1_d0: Value, t1: Value, x_bar: Value, F0: Value, p0: Value,
          MASKED: Value) -> Value:  # fmt: skip
        return (x * t1_d0 + t1 * x_bar).tanh() * F0 + p0 * x + MASKED.relu()

    cf = compile(f)
    xs = (0.3, -0.2, 0.9, 1.1, 0.4, -0.6, -1.0)
    assert_same(f, cf, xs)
    assert cf.source.startswith("def forward_backward(x0, x1, x2, x3, x4, x5, x6):")

    def g(float: Value, y: Value) -> Value:  # a builtin's name, on purpose
        return float.exp() * y

    assert_same(g, compile(g), (0.3, 2.0))


def test_a_custom_op_with_any_name_compiles() -> None:
    for name in ("x²", "def", "F0", "L0(", "a b"):
        square = custom_op(lambda x: 2.0 * x, name=name)(lambda x: x * x)
        f = lambda x, square=square: square(x.tanh()) + x
        assert_same(f, compile(f), (0.7,))


def test_a_graph_made_before_f_is_refused_by_name() -> None:
    w = Value(0.5)
    h = w * 3.0  # made outside f: its number would be stale
    with pytest.raises(ValueError, match="computed before f was called"):
        compile(lambda x: x * h)(2.0)


def test_functions_and_checkpoints_are_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"Op\('Cube'\).*custom_op"):
        compile(lambda x: Cube.apply(x) + x)(2.0)
    with pytest.raises(ValueError, match=r"Op\('checkpoint'\).*without checkpoint"):
        compile(lambda x: checkpoint(lambda v: v.tanh(), x))(2.0)
    # a Function of numbers only is a constant: fine
    assert compile(lambda x: x * Cube.apply(2.0))(1.0) == (8.0, (8.0,))


# --- random graphs: compiled == dynamic, call after call ---


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_match_the_dynamic_engine(seed: int) -> None:
    rng = random.Random(1000 + seed)
    weights = [Value(rng.uniform(-1, 1)) for _ in range(2)]
    f = random_graph(seed, weights)
    cf = compile(f)
    for _ in range(4):  # new inputs and new weights, the same compiled code
        xs = [rng.uniform(-2, 2) for _ in range(3)]
        for w in weights:
            w.data, w.grad = rng.uniform(-1, 1), 0.0
        value, grads = cf(*xs)
        compiled_w = [w.grad for w in weights]
        for w in weights:
            w.grad = 0.0
        want_value, want_grads = dynamic(f, xs)
        assert abs(value - want_value) <= TOL * max(1.0, abs(want_value))
        for got, want in zip([*grads, *compiled_w], [*want_grads, *(w.grad for w in weights)]):
            assert abs(got - want) <= TOL * max(1.0, abs(want)), (got, want)


# --- the training-loop drop-in ---


def test_a_compiled_step_trains_exactly_like_backward() -> None:
    X, labels = make_moons(12, noise=0.1, seed=3)
    y = [2.0 * t - 1.0 for t in labels]
    models = [MLP(2, [4, 4, 1], seed=5) for _ in range(2)]
    optims = [SGD(m.parameters(), lr=0.5) for m in models]

    def loss_fn(model: MLP) -> Value:
        scores = [model(x) for x in X]
        return hinge(scores, y) + l2_penalty(model.parameters(), alpha=1e-4)

    step = compile(lambda: loss_fn(models[1]))
    for _ in range(4):
        loss = loss_fn(models[0])
        optims[0].zero_grad()
        loss.backward()
        optims[0].step()
        optims[1].zero_grad()
        compiled = step()
        optims[1].step()
        assert isinstance(compiled, Value) and compiled.data == loss.data
        assert [p.data for p in models[1].parameters()] == [p.data for p in models[0].parameters()]
    with pytest.raises(RuntimeError, match="already added"):
        compiled.backward()


def test_a_step_can_return_outputs_too() -> None:
    w = Value(0.5)
    step = compile(lambda: (w * w, [w * 2.0, w.tanh()]))
    loss, outs = step()
    assert loss.data == 0.25 and outs == [1.0, math.tanh(0.5)] and w.grad == 1.0
    w.data = 2.0
    assert step()[1] == [4.0, math.tanh(2.0)] and w.grad == 1.0 + 4.0
