"""Forward mode: Dual numbers against reverse mode, closed forms and central differences."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import assert_close, away_from, central_difference, positive, reals, reverse_mode
from test_docs import DOCS, python_blocks

import chainrule
from chainrule import Value
from chainrule.dual import Dual, jvp
from chainrule.transforms import grad, hessian, hvp, jacfwd, jacobian, jacrev, vjp

# --- closed forms ---


def test_jvp_of_cube_at_two_is_twelve() -> None:
    assert jvp(lambda x: x**3, (2.0,), (1.0,)) == (8.0, 12.0)


def test_jvp_is_a_directional_derivative() -> None:
    # f(x, y) = x² y: grad = (2xy, x²) = (12, 4) at (2, 3); along (1, -2): 12 - 8 = 4
    out, t = jvp(lambda x, y: x * x * y, (2.0, 3.0), (1.0, -2.0))
    assert (out, t) == (12.0, 4.0)


def test_jvp_of_a_list_output_gives_one_tangent_per_output() -> None:
    out, t = jvp(lambda x: [x.sin(), x.exp(), 2.0], (0.0,), (1.0,))
    assert out == [0.0, 1.0, 2.0]
    assert t == [1.0, 1.0, 0.0]


def test_variable_exponent_uses_d_db_equals_a_pow_b_log_a() -> None:
    out, t = jvp(lambda a, b: a**b, (2.0, 3.0), (0.0, 1.0))
    assert out == 8.0
    assert_close(t, 8.0 * math.log(2.0))
    # a constant exponent at a negative base is fine: the exponent has no tangent
    assert jvp(lambda a: a**2.0, (-3.0,), (1.0,)) == (9.0, -6.0)


def test_number_operands_are_constants() -> None:
    out, t = jvp(lambda x: 3.0 - 2.0 / x + 2.0**x, (1.0,), (1.0,))
    assert out == 3.0
    assert_close(t, 2.0 + 2.0 * math.log(2.0))


def test_infinite_local_derivative_times_zero_tangent_is_not_nan() -> None:
    # sqrt(0 * x) is the constant 0: its input carries no tangent, so no inf * 0 appears
    assert jvp(lambda x: (x * 0.0).sqrt(), (1.0,), (1.0,)) == (0.0, 0.0)


def test_dual_exposes_primal_as_data() -> None:
    d = Dual(2.5, 1.0)
    assert d.data == 2.5
    assert repr(d) == "Dual(primal=2.5, tangent=1.0)"


# --- every operation: Dual tangent == reverse-mode gradient == central difference ---

UNARY: dict[str, tuple[Callable[[Any], Any], st.SearchStrategy[float]]] = {
    "neg": (lambda x: -x, reals()),
    "abs": (lambda x: abs(x), away_from([0.0])),
    "relu": (lambda x: x.relu(), away_from([0.0])),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), away_from([0.0])),
    "tanh": (lambda x: x.tanh(), reals()),
    "exp": (lambda x: x.exp(), reals()),
    "log": (lambda x: x.log(), positive),
    "sigmoid": (lambda x: x.sigmoid(), reals()),
    "softplus": (lambda x: x.softplus(), reals()),
    "gelu": (lambda x: x.gelu(), reals()),
    "silu": (lambda x: x.silu(), reals()),
    "sqrt": (lambda x: x.sqrt(), positive),
    "sin": (lambda x: x.sin(), reals()),
    "cos": (lambda x: x.cos(), reals()),
    "erf": (lambda x: x.erf(), reals()),
    "pow_const": (lambda x: x**3.0, reals(-3.0, 3.0)),
}

BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "leaky_relu_alpha": lambda a, b: a.leaky_relu(b),
}


def test_every_method_of_value_has_a_dual_test() -> None:
    methods = {"relu", "leaky_relu", "tanh", "exp", "log", "sigmoid", "softplus", "gelu",
               "silu", "sqrt", "abs", "sin", "cos", "erf"}  # fmt: skip
    assert methods <= set(UNARY)
    assert all(hasattr(Dual, m) for m in methods)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_tangent_matches_reverse_mode_and_central_difference(
    name: str, data: st.DataObject
) -> None:
    f, points = UNARY[name]
    x = data.draw(points)
    out, t = jvp(f, (x,), (1.0,))
    assert out == f(Value(x)).data
    (g,) = reverse_mode(f, [x])
    assert_close(t, g, atol=1e-12, rtol=1e-12)
    assert_close(t, central_difference(f, [x], 0))


@pytest.mark.parametrize("name", sorted(BINARY))
@given(a=st.floats(0.2, 3.0), b=st.floats(0.2, 3.0), u=reals(-2, 2), v=reals(-2, 2))
def test_binary_tangent_is_the_gradient_dotted_with_the_direction(
    name: str, a: float, b: float, u: float, v: float
) -> None:
    f = BINARY[name]
    _, t = jvp(f, (a, b), (u, v))
    ga, gb = reverse_mode(f, [a, b])
    assert_close(t, ga * u + gb * v, atol=1e-10, rtol=1e-10)


# --- random programs: jvp is vjp transposed ---

# Every op is total on the reals here, so any random program is well defined.
_UNARY_OPS: list[Callable[[Any], Any]] = [
    lambda x: x.tanh(),
    lambda x: x.sin(),
    lambda x: x.cos(),
    lambda x: x.sigmoid(),
    lambda x: x.softplus(),
    lambda x: x.gelu(),
    lambda x: x.silu(),
    lambda x: x.erf(),
    lambda x: (x.tanh() * 2.0).exp(),
    lambda x: (x * x + 1.0).log(),
    lambda x: (x * x + 0.5).sqrt(),
    lambda x: abs(x) + x.relu() + x.leaky_relu(0.2),
    lambda x: -x,
    lambda x: x**2,
]
_BINARY_OPS: list[Callable[[Any, Any], Any]] = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: (a * a + 0.5) ** b.tanh(),
]

Program = list[tuple[int, int, int]]


@st.composite
def programs(draw: st.DrawFn, n_inputs: int) -> tuple[Program, list[int]]:
    """A random straight-line program: each step applies an op to earlier registers."""
    steps: Program = []
    for k in range(draw(st.integers(1, 8))):
        available = n_inputs + k
        if draw(st.booleans()):
            op = draw(st.integers(0, len(_UNARY_OPS) - 1))
            steps.append((op, draw(st.integers(0, available - 1)), -1))
        else:
            op = draw(st.integers(0, len(_BINARY_OPS) - 1))
            a, b = draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))
            steps.append((op, a, b))
    n_regs = n_inputs + len(steps)
    outputs = draw(st.lists(st.integers(0, n_regs - 1), min_size=1, max_size=3))
    return steps, outputs


def run(program: tuple[Program, list[int]], *xs: Any) -> list[Any]:
    steps, outputs = program
    regs = list(xs)
    for op, a, b in steps:
        regs.append(_UNARY_OPS[op](regs[a]) if b < 0 else _BINARY_OPS[op](regs[a], regs[b]))
    return [regs[i] for i in outputs]


def dot(u: Sequence[float], v: Sequence[float]) -> float:
    return sum(a * b for a, b in zip(u, v))


@given(data=st.data(), n=st.integers(1, 3))
def test_jvp_equals_vjp_transposed_on_random_programs(data: st.DataObject, n: int) -> None:
    program = data.draw(programs(n))
    xs = data.draw(st.lists(reals(-2, 2), min_size=n, max_size=n))
    v = data.draw(st.lists(reals(-1, 1), min_size=n, max_size=n))
    m = len(program[1])
    u = data.draw(st.lists(reals(-1, 1), min_size=m, max_size=m))
    out_f, jv = jvp(lambda *d: run(program, *d), xs, v)
    out_r, vjp_fn = vjp(lambda *x: run(program, *x), *xs)
    for a, b in zip(out_f, out_r):
        assert_close(a, b, atol=1e-12, rtol=1e-12)
    # u . (J v) == (u^T J) . v: the same bilinear form computed from both ends
    assert_close(dot(u, jv), dot(vjp_fn(u), v), atol=1e-9, rtol=1e-9)


@given(data=st.data(), n=st.integers(1, 3))
def test_forward_and_reverse_jacobians_agree(data: st.DataObject, n: int) -> None:
    program = data.draw(programs(n))
    xs = data.draw(st.lists(reals(-2, 2), min_size=n, max_size=n))
    forward = jacfwd(lambda *d: run(program, *d), argnums=tuple(range(n)))(*xs)
    reverse = jacobian(lambda *x: run(program, *x), argnums=tuple(range(n)))(*xs)
    for row_f, row_r in zip(forward, reverse):
        for a, b in zip(row_f, row_r):
            assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_jacfwd_shapes() -> None:
    both = (0, 1)
    assert jacfwd(lambda x, y: x * y, argnums=both)(2.0, 3.0) == (3.0, 2.0)
    assert jacfwd(lambda x, y: [x * y, x + y], argnums=both)(2.0, 3.0) == [(3.0, 2.0), (1.0, 1.0)]


# --- bad usage ---


def test_jvp_needs_one_tangent_per_primal() -> None:
    with pytest.raises(TypeError, match=r"one tangent per primal, got 2 primals and 1"):
        jvp(lambda x, y: x * y, (1.0, 2.0), (1.0,))


def test_jvp_rejects_non_numbers() -> None:
    with pytest.raises(
        TypeError, match=r"jvp: primals\[0\] needs a real number, a Value or a Dual, got"
    ):
        jvp(lambda x: x, ("a",), (1.0,))
    with pytest.raises(TypeError, match=r"f must return a Dual or a number.*got str"):
        jvp(lambda x: "nope", (1.0,), (1.0,))


def test_a_dual_of_values_is_differentiable_by_reverse_mode() -> None:
    # (1 + eps) * v = v + v eps: both parts are graph nodes in v
    v = Value(2.0)
    d = Dual(1.0, 1.0) * v  # type: ignore[operator]  # Operators types one class at a time
    assert isinstance(d.primal, Value) and isinstance(d.tangent, Value)
    assert (d.primal.data, d.tangent.data) == (2.0, 2.0)
    (d.tangent * d.primal).backward()  # d(v * v)/dv = 2v
    assert v.grad == 4.0


def test_domain_errors_come_from_the_ops_table() -> None:
    with pytest.raises(ValueError, match=r"log is undefined at x=-1.0"):
        jvp(lambda x: x.log(), (-1.0,), (1.0,))
    with pytest.raises(KeyError, match=r"no operation named 'nope'"):
        Dual.apply("nope", Dual(1.0))


def test_the_docs_page_runs() -> None:
    """Every python block of docs/howto/forward-mode.md, in order, in one namespace."""
    namespace: dict[str, object] = {}
    for block in python_blocks((DOCS / "howto" / "forward-mode.md").read_text()):
        exec(compile(block, "docs/howto/forward-mode.md", "exec"), namespace)


def test_a_value_and_a_dual_mix_in_both_orders() -> None:
    mixed = [Value(1.0) + Dual(2.0, 1.0), Dual(2.0, 1.0) + Value(1.0)]  # type: ignore[operator]
    for d in mixed:
        assert isinstance(d, Dual) and d.primal.data == 3.0 and d.tangent == 1.0


# --- which arguments vary: what they are, never the value of a tangent ---

TORCH_HESSIAN_COLUMN = (-0.13725434875557713, -0.1938484770280317)  # torch.func, float64


def test_an_exponent_with_a_zero_tangent_still_varies() -> None:
    f = lambda a, b: (a**b).sin()
    column = hvp(f, (2.0, 0.5), (1.0, 0.0))
    for got, want in zip(column, TORCH_HESSIAN_COLUMN):
        assert_close(got, want, atol=1e-15, rtol=1e-15)
    inner = lambda b: jvp(lambda a, bb: a**bb, (2.0, b), (1.0, 0.0))[0]
    _, tangent = jvp(inner, (0.5,), (1.0,))  # d/db 2**b = 2**b ln 2
    assert_close(tangent, 0.9802581434685472, atol=1e-15, rtol=1e-15)
    assert_close(tangent, 2.0**0.5 * math.log(2.0), atol=1e-15, rtol=1e-15)
    h = jacfwd(jacrev(f, (0, 1)), (0, 1))(2.0, 0.5)
    assert_close(h[0][1], h[1][0], atol=1e-15, rtol=1e-15)


NAMED_BINARY = {
    "hypot": lambda x, y: x.hypot(y),
    "atan2": lambda x, y: x.atan2(y),
    "maximum": lambda x, y: x.maximum(y),
    "minimum": lambda x, y: x.minimum(y),
    "fmod": lambda x, y: x.fmod(y),
    "remainder": lambda x, y: x.remainder(y),
    "clamp": lambda x, y: x.clamp(y, y + 2.0),
    "leaky_relu": lambda x, y: (-x).leaky_relu(y),
    "plain hypot": lambda x, y: chainrule.hypot(x, y),
    "plain clamp": lambda x, y: chainrule.clamp(x, max=y),
}


@pytest.mark.parametrize("name", NAMED_BINARY)
def test_named_methods_and_functions_give_way_to_a_dual(name: str) -> None:
    f: Callable[..., Any] = NAMED_BINARY[name]
    both = (0, 1)
    for x, y in ((1.5, 0.7), (0.4, 1.3)):
        forward = jacfwd(jacrev(f, both), both)(x, y)
        for row_f, row_r in zip(forward, hessian(f, both)(x, y)):
            assert list(row_f) == pytest.approx(list(row_r), rel=1e-12, abs=1e-15)
        v = Value(x)
        mixed = f(v, Dual(y, 1.0))  # a Value method given a Dual hands the op to the Dual
        assert isinstance(mixed, Dual) and isinstance(mixed.primal, Value)
        assert mixed.tangent == pytest.approx(grad(f, both)(x, y)[1], rel=1e-12, abs=1e-15)


def test_detach_cuts_every_perturbation() -> None:
    assert jvp(lambda x: x * x + x.detach() * 10.0, (2.0,), (1.0,)) == (24.0, 4.0)
    d = Dual(Value(2.0), 1.0).detach()
    assert d.tangent == 0.0 and not d.primal.requires_grad


def test_comparisons_and_truth_read_the_primal() -> None:
    d = Dual(2.0, 1.0)
    assert d > 1.0 and d >= 2.0 and d < 3 and d <= Dual(2.0) and d == 2.0 and d != Value(1.0)
    assert bool(d) and not bool(Dual(0.0, 1.0))
    assert d > 1.0 and Value(1.0) < d and max(d, Dual(1.0, 5.0)) is d  # reflected from Value
    assert (1.0 < d) is True  # noqa: SIM300  # a number on the left: Dual.__gt__ answers
    assert f"{d:.2f}" == "2.00" and d.item() == 2.0
    branchy = lambda x: x * x if x > 0 else -x
    assert hvp(branchy, (2.0,), (1.0,)) == (2.0,) and jacfwd(branchy)(-2.0) == -1.0
    assert jacfwd(lambda x, y: max(x, y), (0, 1))(1.0, 2.0) == (0.0, 1.0)
    assert grad(lambda x: jacfwd(branchy)(x))(3.0) == 2.0


def test_jvp_counts_its_arguments_as_jax_does() -> None:
    with pytest.raises(TypeError, match=r"got 1 primals and 2 tangents"):
        jvp(lambda x: x, (1.0,), (1.0, 2.0))


def test_op_jvp_is_the_forward_rule_of_every_row() -> None:
    from chainrule.ops import OPS

    mul, pow_ = OPS["*"], OPS["pow"]
    assert mul.jvp([1.0, None], [2.0, 3.0], 6.0) == 3.0  # None: a constant argument
    assert mul.jvp([1.0, 2.0], [2.0, 3.0], 6.0) == 3.0 + 4.0
    assert pow_.jvp([0.0, 1.0], [2.0, 0.5], 2.0**0.5) == 2.0**0.5 * math.log(2.0)
    assert OPS["sqrt"].jvp([0.0], [0.0], 0.0) == 0.0  # a zero tangent never meets inf
