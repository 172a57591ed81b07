"""compile keeps every promise of the engine: each read of a number is guarded, leaf state is
read per call, arguments convert as Value() converts them, and results are the engine's to
the bit (the sign of zero included), or a clear error."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from chainrule import Value, engine, no_grad
from chainrule.compiler import CompiledFunction, TraceChangedError, compile
from chainrule.losses import cross_entropy
from chainrule.ops import OPS
from chainrule.transforms import grad


def same(a: float, b: float) -> bool:
    """Bit for bit, as far as a float's value goes: nan is nan, -0.0 is not 0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def engine_result(f: Callable[..., Value], xs: Sequence[float]) -> tuple[float, list[float]]:
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    if out.requires_grad:
        out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def assert_engine(cf: CompiledFunction, f: Callable[..., Value], *xs: float) -> None:
    value, grads = cf(*xs)
    want_value, want_grads = engine_result(f, xs)
    assert same(value, want_value), (xs, value, want_value)
    assert all(map(same, grads, want_grads)), (xs, grads, want_grads)


# --- every door to a number is a guard ---

_BRANCHES: dict[str, Callable[..., Value]] = {
    "lt": lambda x, y: x * 2.0 if x < y else x.exp(),
    "le": lambda x, y: x * 2.0 if x <= y else x.exp(),
    "gt": lambda x, y: x * 2.0 if x > y else x.exp(),
    "ge": lambda x, y: x * 2.0 if x >= y else x.exp(),
    "eq": lambda x, y: x * 2.0 if x == y else x.exp(),
    "ne": lambda x, y: x * 2.0 if x != y else x.exp(),
    "a number": lambda x, y: x * 2.0 if x > 0.5 else y.exp(),
    "reflected": lambda x, y: x * 2.0 if 0.5 < x else y.exp(),  # noqa: SIM300
    "bool": lambda x, y: x * 2.0 if x - y else x.exp(),
    "max": lambda x, y: max(x, y) * 1.0,
    "min": lambda x, y: min(x, y) * y,
    "sorted": lambda x, y: sorted([x, y])[0] * 3.0,
    "in a list": lambda x, y: x * 2.0 if y in [x] else x.tanh(),
    "data": lambda x, y: x * 2.0 if x.data > y.data else x.exp(),
    "item": lambda x, y: x * 2.0 if x.item() > 0 else x.exp(),
    "format": lambda x, y: x * 2.0 if f"{x:.1f}".startswith("-") else x.exp(),
    "a number into a new Value": lambda x, y: x * Value(y.data, requires_grad=False),
}


@pytest.mark.parametrize("how", sorted(_BRANCHES))
def test_every_kind_of_read_sends_a_new_path_to_a_new_trace(how: str) -> None:
    f = _BRANCHES[how]
    cf = compile(f)
    for xs in [(1.0, 2.0), (3.0, 2.0), (2.0, 2.0), (-1.0, 2.0), (1.0, 2.0), (0.25, -4.0)]:
        assert_engine(cf, f, *xs)  # each path traced once, then its guards select it


def test_the_quoted_branches() -> None:
    f = lambda x: x * 2.0 if x > 0 else x.exp()
    cf = compile(f)
    assert cf(1.0) == (2.0, (2.0,))
    assert cf(-1.0) == (math.exp(-1.0), (math.exp(-1.0),))
    cf = compile(lambda x, y: max(x, y) * 1.0)
    assert cf(2.0, 3.0) == (3.0, (0.0, 1.0))
    assert cf(3.0, 2.0) == (3.0, (1.0, 0.0))


def test_a_guard_stops_the_code_before_an_op_that_would_raise() -> None:
    f = lambda x: x.log() if x > 0 else (-x).sqrt()
    cf = compile(f)
    assert_engine(cf, f, 2.0)
    assert_engine(cf, f, -4.0)  # log(-4) is never computed: the guard decides first
    assert "if not (x > 0.0): return 0" in cf.source or "if x > 0.0: return 0" in cf.source


def test_past_the_cache_limit_the_error_names_the_line() -> None:
    f = lambda x: x * (1.0 if x > 0 else 2.0) if x < 10 else x * 3.0
    cf = compile(f, cache_limit=2)
    cf(1.0)
    cf(-1.0)
    assert cf.traces == 2
    with pytest.raises(TraceChangedError, match=r"test_compiler_guards\.py:\d+") as info:
        cf(11.0)
    assert "cache_limit=2" in str(info.value)
    assert cf(2.0) == (2.0, (1.0,))  # the failed call changed nothing
    with pytest.raises(ValueError, match="cache_limit"):
        compile(f, cache_limit=0)


def test_a_comparison_whose_outcome_cannot_change_is_no_guard() -> None:
    w = Value(2.0, requires_grad=False)
    cf = compile(lambda x: x * 2.0 if Value(1.0) < 3.0 else x)
    cf(1.0)
    assert cf.guards == []
    cf = compile(lambda x: x * w if w > 1.0 else x)  # w is read per call: guarded
    assert cf(1.0) == (2.0, (2.0,)) and len(cf.guards) == 1
    w.data = 0.5
    assert cf(1.0) == (1.0, (1.0,))


def test_a_no_grad_branch_is_guarded_too() -> None:
    def f(x: Value) -> Value:
        with no_grad():
            s = (x * 3.0).tanh()
        return x * 2.0 if s > 0.5 else x * x

    cf = compile(f)
    for x in (1.0, -1.0, 0.1, 2.0):
        assert_engine(cf, f, x)


# --- derivatives taken inside f ---

_INSIDE: dict[str, Callable[[Value], Value]] = {
    "relu": lambda y: y.relu() * y,
    "abs": lambda y: abs(y) * y,
    "maximum": lambda y: y.maximum(0.5) * y,
    "minimum": lambda y: y.minimum(0.5) * y,
    "clamp": lambda y: y.clamp(-0.5, 0.5) * y,
    "sign": lambda y: y.sign() * y * y,
    "%": lambda y: (y % 0.75) * y,
    "leaky_relu": lambda y: y.leaky_relu(0.1) * y,
}


@pytest.mark.parametrize("op", sorted(_INSIDE))
def test_a_derivative_taken_inside_f_follows_its_branches(op: str) -> None:
    g = _INSIDE[op]
    f = lambda x: grad(g)(x)
    cf = compile(f)
    for x in (1.0, -1.0, 0.3, -0.3, 0.0, 2.0):
        assert_engine(cf, f, x)


def test_the_quoted_derivative_inside_f() -> None:
    cf = compile(lambda x: grad(lambda y: y.relu() * y)(x))
    assert cf(1.0) == (2.0, (2.0,))
    assert cf(-1.0) == (0.0, (0.0,))


def test_backward_with_create_graph_inside_f() -> None:
    def f(x: Value) -> Value:
        y = abs(x) * x + x.relu()
        y.backward(create_graph=True)
        assert isinstance(x.grad, Value)
        return x.grad

    cf = compile(f)
    for x in (1.0, -1.0, 2.0, -3.0):
        leaf = Value(x)
        out = f(leaf)
        leaf.grad = 0.0  # f wrote a Value there: keep only the outer pass's adjoint
        out.backward()
        value, (dx,) = cf(x)
        assert same(value, out.data) and same(dx, leaf.grad), (x, value, dx)


# --- leaf state, read on every call ---


def test_requires_grad_flipped_both_ways() -> None:
    w = Value(3.0)
    step = compile(lambda: w * w * 7.0)
    step()
    assert w.grad == 42.0
    w.grad = 0.0
    w.requires_grad_(False)
    assert step().data == 63.0 and w.grad == 0.0  # backward() would add nothing
    w.requires_grad_(True)
    step()
    assert w.grad == 42.0  # unfrozen: the gradient comes back
    assert step.traces == 2


def test_hooks_run_as_backward_runs_them() -> None:
    w, b = Value(0.5), Value(-1.0)
    step = compile(lambda: (w * 3.0 + b).tanh())
    step()
    seen: list[float] = []

    def times_ten(into: list[float]) -> Callable[[float], float]:
        def hook(g: float) -> float:
            into.append(g)
            return g * 10.0

        return hook

    handle = w.register_hook(times_ten(seen))  # added after the trace
    loss = step()
    ref_w, ref_b = Value(0.5), Value(-1.0)
    ref_seen: list[float] = []
    ref_w.register_hook(times_ten(ref_seen))
    (ref_w * 3.0 + ref_b).tanh().backward()
    assert seen == ref_seen and loss.data == math.tanh(0.5)
    grads = (w.grad, b.grad)
    assert grads == (ref_seen[0] + ref_w.grad, 2 * ref_b.grad)  # the hook replaced the adjoint
    handle.remove()
    step()
    assert (w.grad, b.grad) == (grads[0] + ref_seen[0], grads[1] + ref_b.grad)

    v = Value(2.0)
    v.register_hook(lambda g: g * 0.0)  # present at the trace: runs too
    assert compile(lambda x: x * v)(3.0) == (6.0, (2.0,)) and v.grad == 0.0


def test_hooks_registered_inside_f_are_refused_on_every_call() -> None:
    def f(x: Value) -> Value:
        y = x * 2.0
        y.register_hook(lambda g: g)
        return y

    cf = compile(f)
    for _ in range(2):
        with pytest.raises(ValueError, match="hooks registered inside f"):
            cf(1.0)


# --- numbers as the engine has them ---


def test_int_arguments_become_floats_as_value_converts_them() -> None:
    cf = compile(lambda x: x * x)
    value, (dx,) = cf(2**53 + 1)
    want_value, (want_dx,) = engine_result(lambda x: x * x, [2**53 + 1])
    assert type(value) is float and value == want_value == 8.112963841460668e31
    assert dx == want_dx
    with pytest.raises(OverflowError, match=r"argument 0 .*fits a float.*int of 1329 bits"):
        cf(10**400)
    assert cf(np.float32(1.5)) == (2.25, (3.0,))
    assert cf(np.int64(3)) == (9.0, (6.0,))
    with pytest.raises(TypeError, match=r"argument 0 of the compiled function needs a real"):
        cf("abc")
    with pytest.raises(TypeError, match="got a Value for argument 0"):
        cf(Value(1.0))
    with pytest.raises(TypeError, match="bool"):
        cf(True)


def test_the_sign_of_zero_is_the_engines() -> None:
    f = lambda x: (x * -2.0).relu()
    cf = compile(f)
    assert_engine(cf, f, 1.0)  # grad 0.0 as the engine, not -0.0
    for f in (lambda x: x * -0.0, lambda x: (x * 0.0).relu() * -1.0, lambda x: -(x.relu())):
        cf = compile(f)
        for x in (1.0, -1.0, 0.0, -0.0):
            assert_engine(cf, f, x)


def test_an_inf_partial_behind_a_masked_edge_gives_the_engines_zero() -> None:
    f = lambda x: (x.sqrt() - 1.0).relu()  # at 0: sqrt' = inf behind relu's masked edge
    cf = compile(f)
    assert_engine(cf, f, 4.0)
    assert_engine(cf, f, 0.0)  # the code would give 0 * inf = nan: the engine decides


# --- one way to watch the engine ---


def test_the_tracer_watches_only_through_the_engines_hooks() -> None:
    before = dict(vars(Value))
    seen: list[tuple[int, int]] = []

    def f(x: Value) -> Value:
        seen.append((len(engine.NODE_HOOKS), len(engine.READ_HOOKS)))
        return x * 2.0

    compile(f)(1.0)
    assert seen == [(1, 1)] and dict(vars(Value)) == before
    assert engine.NODE_HOOKS == [] and engine.READ_HOOKS == []


# --- random graphs with Python branches: compiled == engine, bit for bit ---

_SAFE: dict[str, Callable[[Value, Value, Value], Value]] = {
    "+": lambda a, b, c: a + b,
    "-": lambda a, b, c: a - b,
    "*": lambda a, b, c: a * b,
    "/": lambda a, b, c: a / (1.0 + b * b),
    "**": lambda a, b, c: (abs(a) + 0.1) ** 1.5,
    "pow": lambda a, b, c: (abs(a) + 0.5) ** b.tanh(),
    "neg": lambda a, b, c: -a,
    "ReLU": lambda a, b, c: a.relu(),
    "leaky_relu": lambda a, b, c: a.leaky_relu(0.1),
    "tanh": lambda a, b, c: a.tanh(),
    "exp": lambda a, b, c: a.tanh().exp(),
    "log": lambda a, b, c: (abs(a) + 0.5).log(),
    "sigmoid": lambda a, b, c: a.sigmoid(),
    "softplus": lambda a, b, c: a.softplus(),
    "gelu": lambda a, b, c: a.gelu(),
    "silu": lambda a, b, c: a.silu(),
    "sqrt": lambda a, b, c: abs(a).sqrt(),
    "abs": lambda a, b, c: abs(a),
    "sin": lambda a, b, c: a.sin(),
    "cos": lambda a, b, c: a.cos(),
    "erf": lambda a, b, c: a.erf(),
    "cross_entropy": lambda a, b, c: cross_entropy([a, b, c], 1),
    "tan": lambda a, b, c: a.tanh().tan(),
    "sinh": lambda a, b, c: a.tanh().sinh(),
    "cosh": lambda a, b, c: a.tanh().cosh(),
    "rsqrt": lambda a, b, c: engine.apply(OPS["rsqrt"], abs(a) + 0.25),
    "asin": lambda a, b, c: (a.tanh() * 0.9).asin(),
    "acos": lambda a, b, c: (a.tanh() * 0.9).acos(),
    "atan": lambda a, b, c: a.atan(),
    "asinh": lambda a, b, c: a.asinh(),
    "acosh": lambda a, b, c: (a * a + 1.5).acosh(),
    "atanh": lambda a, b, c: (a.tanh() * 0.9).atanh(),
    "log2": lambda a, b, c: (abs(a) + 0.5).log2(),
    "log10": lambda a, b, c: (abs(a) + 0.5).log10(),
    "log1p": lambda a, b, c: abs(a).log1p(),
    "expm1": lambda a, b, c: a.tanh().expm1(),
    "exp2": lambda a, b, c: a.tanh().exp2(),
    "sign": lambda a, b, c: a.sign() * b,
    "reciprocal": lambda a, b, c: (a * a + 1.0).reciprocal(),
    "square": lambda a, b, c: a.square(),
    "hypot": lambda a, b, c: a.hypot(b),
    "atan2": lambda a, b, c: a.atan2(b),
    "%": lambda a, b, c: a % (abs(b) + 0.5),
    "fmod": lambda a, b, c: a.fmod(abs(b) + 0.5),
    "maximum": lambda a, b, c: a.maximum(b),
    "minimum": lambda a, b, c: a.minimum(b),
    "clamp": lambda a, b, c: a.clamp(-0.5, 0.5),
}

# Python branches on numbers, each through another door
_BRANCHY: list[Callable[[Value, Value, Value], Value]] = [
    lambda a, b, c: a * b if a > b else a - c,
    lambda a, b, c: max(a, b, c) * 2.0,
    lambda a, b, c: a.relu() if a.data < 0.3 else b * 0.5,
    lambda a, b, c: c if a >= 0 else -c,
    lambda a, b, c: a * a if bool(a.relu()) else b,
    lambda a, b, c: min(a, c) + sorted([a, b])[1],
]


def test_every_op_is_in_the_random_graphs() -> None:
    assert set(_SAFE) == set(OPS)


def _random_function(seed: int, weights: list[Value]) -> Callable[..., Value]:
    rng = random.Random(seed)
    names = sorted(_SAFE)
    plan = [
        (rng.random() < 0.25, rng.randrange(len(_BRANCHY)), rng.choice(names),
         rng.random(), rng.random(), rng.random())
        for _ in range(rng.randint(4, 14))
    ]  # fmt: skip
    inside = seed % 4 == 0  # every fourth graph is differentiated inside f

    def body(*xs: Value) -> Value:
        nodes = [*xs, *weights]
        for branchy, k, name, u, v, w in plan:
            a, b, c = (nodes[int(t * len(nodes))] for t in (u, v, w))
            nodes.append(_BRANCHY[k](a, b, c) if branchy else _SAFE[name](a, b, c))
        return sum(nodes[len(xs) :], nodes[0]) * 0.1

    if inside:
        return lambda x, y, z: grad(lambda t: body(t, y, z))(x) + body(x, y, z)
    return body


@pytest.mark.parametrize("seed", range(24))
def test_random_branchy_graphs_match_the_engine_bit_for_bit(seed: int) -> None:
    rng = random.Random(7000 + seed)
    weights = [Value(rng.uniform(-1, 1)), Value(rng.uniform(-1, 1))]
    f = _random_function(seed, weights)
    cf = compile(f, cache_limit=4)
    points = [[rng.choice([0.0, -0.0, 1.0, -1.0, rng.uniform(-2, 2)]) for _ in range(3)]
              for _ in range(10)]  # fmt: skip
    for xs in points:
        start = [rng.uniform(-1, 1) for _ in weights]
        for w, d in zip(weights, start):
            w.data, w.grad = d, 0.0
        try:
            value, grads = cf(*xs)
        except TraceChangedError:
            assert cf.traces == 4  # only past the documented limit
            continue
        got_w = [w.grad for w in weights]
        for w, d in zip(weights, start):
            w.data, w.grad = d, 0.0
        want_value, want_grads = engine_result(f, xs)
        assert same(value, want_value), (seed, xs, value, want_value)
        assert all(map(same, grads, want_grads)), (seed, xs, grads, want_grads)
        assert all(map(same, got_w, [w.grad for w in weights])), (seed, xs)


def test_a_random_graph_run_reads_many_guards_cheaply() -> None:
    f = _random_function(1, [Value(0.3), Value(-0.2)])
    cf = compile(f)
    cf(0.5, -0.5, 1.5)
    assert isinstance(cf.source, str) and cf.traces == 1
