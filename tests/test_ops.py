"""Every differentiable operation: central differences, closed forms, second derivatives."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import (
    assert_close,
    assert_matches_central_difference,
    away_from,
    central_difference,
    positive,
    reals,
    reverse_mode,
)

import chainrule as cr
from chainrule import Dual, Value, ops
from chainrule.engine import apply
from chainrule.ops import OPS, Op

# name -> (function of Values, strategy for each input, closed-form derivative of x)
Unary = tuple[Callable[[Any], Any], st.SearchStrategy[float], Callable[[float], float]]
UNARY: dict[str, Unary] = {
    "neg": (lambda x: -x, reals(), lambda x: -1.0),
    "relu": (lambda x: x.relu(), away_from([0.0]), lambda x: 1.0 if x > 0 else 0.0),
    "tanh": (lambda x: x.tanh(), reals(), lambda x: 1 - math.tanh(x) ** 2),
    "exp": (lambda x: x.exp(), reals(), math.exp),
    "log": (lambda x: x.log(), positive, lambda x: 1 / x),
    "sigmoid": (lambda x: x.sigmoid(), reals(), lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2),
    "softplus": (lambda x: x.softplus(), reals(), lambda x: 1 / (1 + math.exp(-x))),
    "gelu": (
        lambda x: x.gelu(),
        reals(),
        lambda x: (
            0.5 * (1 + math.erf(x / math.sqrt(2)))
            + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
        ),
    ),
    "silu": (
        lambda x: x.silu(),
        reals(),
        lambda x: 1 / (1 + math.exp(-x)) + x * math.exp(-x) / (1 + math.exp(-x)) ** 2,
    ),
    "sqrt": (lambda x: x.sqrt(), positive, lambda x: 0.5 / math.sqrt(x)),
    "abs": (lambda x: abs(x), away_from([0.0]), lambda x: math.copysign(1.0, x)),
    "sin": (lambda x: x.sin(), reals(), math.cos),
    "cos": (lambda x: x.cos(), reals(), lambda x: -math.sin(x)),
    "erf": (lambda x: x.erf(), reals(), lambda x: 2 / math.sqrt(math.pi) * math.exp(-x * x)),
    "leaky_relu": (
        lambda x: x.leaky_relu(0.1),
        away_from([0.0]),
        lambda x: 1.0 if x > 0 else 0.1,
    ),
    "square": (lambda x: x**2, reals(), lambda x: 2 * x),
    "cube": (lambda x: x**3, reals(), lambda x: 3 * x * x),
    "reciprocal": (lambda x: 1 / x, away_from([0.0], gap=0.1), lambda x: -1 / x**2),
    "rpow": (lambda x: 2**x, reals(), lambda x: 2**x * math.log(2)),
}

BINARY: dict[str, tuple[Callable[..., Any], tuple[st.SearchStrategy[float], ...]]] = {
    "add": (lambda a, b: a + b, (reals(), reals())),
    "sub": (lambda a, b: a - b, (reals(), reals())),
    "mul": (lambda a, b: a * b, (reals(), reals())),
    "div": (lambda a, b: a / b, (reals(), away_from([0.0], gap=0.1))),
    "pow": (lambda a, b: a**b, (positive, reals(-3, 3))),
    "leaky_relu(alpha)": (lambda a, b: a.leaky_relu(b), (away_from([0.0]), reals(0, 1))),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_matches_central_differences(name: str, data: st.DataObject) -> None:
    f, strategy, _ = UNARY[name]
    assert_matches_central_difference(f, [data.draw(strategy)])


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_matches_closed_form(name: str, data: st.DataObject) -> None:
    f, strategy, derivative = UNARY[name]
    x = data.draw(strategy)
    leaf = Value(x)
    f(leaf).backward()
    assert_close(leaf.grad, derivative(x), atol=1e-12, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_matches_central_differences(name: str, data: st.DataObject) -> None:
    f, strategies = BINARY[name]
    assert_matches_central_difference(f, [data.draw(s) for s in strategies])


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_second_derivative_matches_differences_of_the_first(name: str, data: st.DataObject) -> None:
    f, strategy, _ = UNARY[name]
    x = data.draw(strategy)

    def first_derivative(v: Value) -> Value:
        with cr.enable_grad():  # central_difference evaluates under no_grad
            leaf = Value(v.data)
            f(leaf).backward()
        return Value(leaf.grad)

    leaf = Value(x)
    f(leaf).backward(create_graph=True)
    g = leaf.grad
    if not isinstance(g, Value) or not g.requires_grad:
        second = 0.0  # the first derivative is constant (neg, relu, abs, leaky_relu)
    else:
        leaf.zero_grad()
        g.backward()
        second = leaf.grad
    assert_close(second, central_difference(first_derivative, [x], 0), atol=1e-4, rtol=1e-4)


# --- every row of the table: its test parameters, and the checks every row must pass ---

# op name -> (a strategy per input, the inputs its partials are checked for). A new row of
# chainrule.ops.OPS needs an entry here: test_every_row_has_test_parameters fails without one.
ROWS: dict[str, tuple[tuple[st.SearchStrategy[float], ...], tuple[int, ...]]] = {
    "+": ((reals(), reals()), (0, 1)),
    "-": ((reals(), reals()), (0, 1)),
    "*": ((reals(), reals()), (0, 1)),
    "/": ((reals(), away_from([0.0], gap=0.1)), (0, 1)),
    "**": ((positive, reals(-3, 3)), (0,)),  # the exponent is a constant: d/db is not taken
    "pow": ((positive, reals(-3, 3)), (0, 1)),
    "neg": ((reals(),), (0,)),
    "ReLU": ((away_from([0.0]),), (0,)),
    "leaky_relu": ((away_from([0.0]), reals(0, 1)), (0, 1)),
    "tanh": ((reals(),), (0,)),
    "exp": ((reals(),), (0,)),
    "log": ((positive,), (0,)),
    "sigmoid": ((reals(),), (0,)),
    "softplus": ((reals(),), (0,)),
    "gelu": ((reals(),), (0,)),
    "silu": ((reals(),), (0,)),
    "sqrt": ((positive,), (0,)),
    "abs": ((away_from([0.0]),), (0,)),
    "sin": ((reals(),), (0,)),
    "cos": ((reals(),), (0,)),
    "erf": ((reals(),), (0,)),
    "cross_entropy": ((reals(-3, 3),) * 3 + (reals(0, 1),) * 3, tuple(range(6))),
    # the rest of the function set (tests/test_functions_set.py checks them over more ground)
    "tan": ((reals(-1.5, 1.5),), (0,)),
    "sinh": ((reals(),), (0,)),
    "cosh": ((reals(),), (0,)),
    "rsqrt": ((positive,), (0,)),
    "asin": ((reals(-0.99, 0.99),), (0,)),
    "acos": ((reals(-0.99, 0.99),), (0,)),
    "atan": ((reals(),), (0,)),
    "asinh": ((reals(),), (0,)),
    "acosh": ((reals(1.01, 5.0),), (0,)),
    "atanh": ((reals(-0.99, 0.99),), (0,)),
    "log2": ((positive,), (0,)),
    "log10": ((positive,), (0,)),
    "log1p": ((reals(-0.95, 5.0),), (0,)),
    "expm1": ((reals(),), (0,)),
    "exp2": ((reals(),), (0,)),
    "sign": ((away_from([0.0]),), (0,)),
    "reciprocal": ((away_from([0.0], gap=0.1),), (0,)),
    "square": ((reals(),), (0,)),
    "hypot": ((positive, reals()), (0, 1)),
    "atan2": ((positive, reals()), (0, 1)),  # y > 0: away from the cut along x < 0
    "%": ((reals(0.05, 0.95), reals(1.0, 5.0)), (0, 1)),  # 0 < a/b < 1: away from the jumps
    "fmod": ((reals(0.05, 0.95), reals(1.0, 5.0)), (0, 1)),
    "maximum": ((reals(-5, -0.1), reals(0.1, 5)), (0, 1)),  # away from the tie
    "minimum": ((reals(-5, -0.1), reals(0.1, 5)), (0, 1)),
    "clamp": ((reals(-0.9, 0.9), reals(-5, -1), reals(1, 5)), (0, 1, 2)),  # inside the range
}


def test_every_row_has_test_parameters() -> None:
    assert set(ROWS) == set(OPS)


def test_every_row_of_the_table_is_in_the_catalogue_under_its_own_name() -> None:
    # register() adds a row to OPS by name: a second row with the same name would replace
    # the first there, so the catalogue must hold every row the table defines
    helpers = set(ops._HELPERS.values())  # ops only derivative rules use, not in OPS
    rows = [v for k, v in vars(ops).items() if type(v) is Op and k.isupper() and v not in helpers]
    assert {op.name for op in rows} == set(OPS)
    assert all(OPS[op.name] is op for op in rows)


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_every_row_matches_central_differences(name: str, data: st.DataObject) -> None:
    strategies, checked = ROWS[name]
    xs = [data.draw(s) for s in strategies]
    grads = reverse_mode(lambda *vs: apply(OPS[name], *vs), xs)
    for i in checked:
        fd = central_difference(lambda *vs: apply(OPS[name], *vs), xs, i)
        assert_close(grads[i], fd, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_every_row_agrees_in_reverse_forward_and_functional_form(
    name: str, data: st.DataObject
) -> None:
    op = OPS[name]
    xs = [data.draw(s) for s in ROWS[name][0]]
    grads = reverse_mode(lambda *vs: apply(op, *vs), xs)
    for i in ROWS[name][1]:
        tangent = Dual.apply(op, *[Dual(x, 1.0 if j == i else 0.0) for j, x in enumerate(xs)])
        assert tangent.primal == op.forward(*xs)
        assert_close(tangent.tangent, grads[i], atol=1e-12, rtol=1e-12)
    for method in op.methods:  # the methods and plain functions made from the row
        node = getattr(Value(xs[0]), method)(*xs[1:])
        assert node.grad_fn is op and node.data == op.forward(*xs)
        assert getattr(Dual(xs[0], 1.0), method)(*xs[1:]).primal == op.forward(*xs)
        if not method.startswith("_"):
            assert getattr(cr, method)(*xs) == op.forward(*xs)
            assert getattr(cr, method)(Value(xs[0]), *xs[1:]).grad_fn is op


# --- closed forms at known points ---


def test_readme_example() -> None:
    x, w, b = Value(2.0, label="x"), Value(3.0, label="w"), Value(1.0, label="b")
    y = (x * w + b) ** 2
    y.backward()
    assert (y.data, y.grad) == (49.0, 1.0)
    assert (x.grad, w.grad, b.grad) == (42.0, 28.0, 14.0)


def test_known_values() -> None:
    x = Value(0.0)
    f: Callable[[Value], Value]
    for f, expected in [
        (lambda v: v.tanh(), 1.0),
        (lambda v: v.sigmoid(), 0.25),
        (lambda v: v.exp(), 1.0),
        (lambda v: v.softplus(), 0.5),
        (lambda v: v.gelu(), 0.5),
        (lambda v: v.silu(), 0.5),
        (lambda v: v.sin(), 1.0),
        (lambda v: v.relu(), 0.0),
        (lambda v: abs(v), 0.0),
    ]:
        x.zero_grad()
        f(x).backward()
        assert x.grad == pytest.approx(expected, abs=1e-15)


def test_x_cubed_second_derivative_is_12_at_2() -> None:
    x = Value(2.0)
    (x**3).backward(create_graph=True)
    g = x.grad
    assert isinstance(g, Value) and g.data == 12.0
    x.zero_grad()
    g.backward()
    assert x.grad == 12.0


def test_mixed_partial() -> None:
    x, y = Value(1.5), Value(-0.5)
    (x * x * y).backward(create_graph=True)
    dx = x.grad  # 2xy
    x.zero_grad()
    y.zero_grad()
    dx.backward()
    assert (x.grad, y.grad) == pytest.approx((2 * -0.5, 2 * 1.5))


@pytest.mark.parametrize("x", [-800.0, -50.0, 50.0, 800.0, 1e6, -1e6])
def test_saturating_functions_stay_finite(x: float) -> None:
    for name in ("tanh", "sigmoid", "softplus", "gelu", "silu"):
        leaf = Value(x)
        out = getattr(leaf, name)()
        out.backward()
        assert math.isfinite(out.data) and math.isfinite(leaf.grad), name
    assert Value(-800.0).sigmoid().data == 0.0
    assert Value(800.0).softplus().data == 800.0


def test_plain_functions_accept_values_and_numbers() -> None:
    assert cr.tanh(0.5) == math.tanh(0.5)
    assert cr.sigmoid(-1000) == 0.0
    v = cr.tanh(Value(0.5))
    assert isinstance(v, Value) and v._op == "tanh"
    assert cr.leaky_relu(-2.0, 0.5) == -1.0
    # alpha left out: the method's default, for the method and the plain function alike
    assert cr.leaky_relu(-2.0) == Value(-2.0).leaky_relu().data == cr.leaky_relu(Value(-2.0)).data
    assert cr.leaky_relu(-2.0) == -0.02
    with pytest.raises(ValueError, match=r"log is undefined at x=-1\.0"):
        cr.log(-1.0)
    with pytest.raises(TypeError, match="got str"):
        cr.exp("1")


# --- the numeric policy (docs/concepts/numerical-stability.md): masks, NaN, IEEE edges ---

INF, NAN = math.inf, math.nan

# Each class of structural zero: (a function of the leaf x, the point); d/dx is exactly 0
# there by the op's definition, so no adjoint may flow, however large.
STRUCTURAL_ZEROS: dict[str, tuple[Callable[[Any], Any], float]] = {
    "relu below 0": (lambda x: x.relu(), -1.0),
    "relu at 0": (lambda x: x.relu(), 0.0),
    "abs at 0": (lambda x: abs(x), 0.0),
    "leaky_relu's alpha above 0": (lambda a: Value(2.0).leaky_relu(a), 0.1),
    "the base of a ** 0": (lambda x: x ** Value(0.0), 3.0),
    "the exponent of 0 ** b": (lambda b: Value(0.0) ** b, 2.0),
}


def _ieee_equal(got: float, want: float) -> bool:
    """Equal as IEEE values: nan matches nan, inf matches inf, finite numbers to 1e-12."""
    if math.isnan(want) or math.isinf(want):
        return math.isnan(got) if math.isnan(want) else got == want
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300)


@pytest.mark.parametrize("case", STRUCTURAL_ZEROS)
@pytest.mark.parametrize("adjoint", [INF, -INF, NAN, 1e308])
def test_a_structural_zero_masks_any_adjoint(case: str, adjoint: float) -> None:
    f, at = STRUCTURAL_ZEROS[case]
    x = Value(at)
    (f(x) * adjoint).backward()  # first order, on floats
    assert x.grad == 0.0
    x = Value(at)
    (f(x) * adjoint).backward(create_graph=True)  # the rule evaluated on Values
    assert float(getattr(x.grad, "data", x.grad)) == 0.0


def test_relu_then_sqrt_gives_zero_not_nan() -> None:
    x = Value(-1.0)
    x.relu().sqrt().backward()  # sqrt'(0) = inf reaches relu, which masks it (PyTorch: 0)
    assert x.grad == 0.0


def test_forward_mode_masks_too() -> None:
    for name, at in [("ReLU", -1.0), ("ReLU", 0.0), ("abs", 0.0)]:
        assert Dual.apply(name, Dual(at, INF)).tangent == 0.0
    assert math.isnan(Dual.apply("*", Dual(2.0, INF), 0.0).tangent + NAN)  # control


def test_an_ordinary_zero_factor_stays_ieee() -> None:
    x = Value(2.0)
    (x * 0.0 * INF).backward()  # d/dx (x * 0) = 0 is a product, not a mask: inf * 0 = nan
    assert math.isnan(x.grad)


def _params(f: Callable[..., Any]) -> list[str]:
    import inspect

    return list(inspect.signature(f).parameters)


UNARY_NAMES = [name for name, op in OPS.items() if len(_params(op.local)) == 2 and name != "neg"]


@pytest.mark.parametrize("name", list(OPS))
def test_nan_in_any_input_gives_nan_out(name: str) -> None:
    op = OPS[name]
    arity = len(_params(op.local)) - 1
    at = -0.5 if name == "leaky_relu" else 0.5  # for x > 0 alpha does not enter (its mask)
    for i in range(arity):
        args = [Value(at) for _ in range(arity)]
        args[i] = Value(NAN)
        assert math.isnan(apply(op, *args).data), (name, i)


@pytest.mark.parametrize("name", UNARY_NAMES)
def test_nan_in_gives_a_nan_gradient(name: str) -> None:
    x = Value(NAN)
    apply(OPS[name], x).backward()
    assert math.isnan(x.grad), name
    x = Value(NAN)
    (x ** Value(2.0, requires_grad=False)).backward()
    assert math.isnan(x.grad)


def test_branches_let_nan_through() -> None:
    assert math.isnan(Value(NAN).relu().data)
    assert math.isnan(Value(NAN).leaky_relu(0.1).data)
    assert math.isnan(abs(Value(NAN)).data)
    assert math.isnan(cr.losses.hinge([Value(NAN)], [1]).data)
    assert math.isnan(cr.losses.hinge([Value(NAN)], [-1]).data)


# The differential oracle for the IEEE edges: mpmath at 50 digits, rounded to a float (so a
# true result beyond the float range is +-inf, as IEEE and PyTorch give). name -> (chainrule
# function, mpmath function, mpmath derivative).
mpmath = pytest.importorskip("mpmath")  # installed with sympy (the dev extra)
mp = mpmath.mp
IEEE_FUNCTIONS: dict[
    str, tuple[Callable[[Any], Any], Callable[[Any], Any], Callable[[Any], Any]]
] = {
    "exp": (lambda x: x.exp(), mpmath.exp, mpmath.exp),
    "log": (lambda x: x.log(), mpmath.log, lambda x: 1 / x),
    "sqrt": (lambda x: x.sqrt(), mpmath.sqrt, lambda x: 1 / (2 * mpmath.sqrt(x))),
    "tanh": (lambda x: x.tanh(), mpmath.tanh, lambda x: 1 - mpmath.tanh(x) ** 2),
    "sigmoid": (
        lambda x: x.sigmoid(),
        lambda x: 1 / (1 + mpmath.exp(-x)),
        lambda x: mpmath.exp(-x) / (1 + mpmath.exp(-x)) ** 2,
    ),
    "erf": (
        lambda x: x.erf(),
        mpmath.erf,
        lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
    ),
    "sin": (lambda x: x.sin(), mpmath.sin, mpmath.cos),
    "cos": (lambda x: x.cos(), mpmath.cos, lambda x: -mpmath.sin(x)),
    "x**-0.5": (
        lambda x: x**-0.5,
        lambda x: x ** mpmath.mpf(-0.5),
        lambda x: -0.5 * x ** mpmath.mpf(-1.5),
    ),
    "x**3": (lambda x: x**3, lambda x: x**3, lambda x: 3 * x**2),
    "x*10": (lambda x: x * 10.0, lambda x: x * 10, lambda x: mpmath.mpf(10)),
}
IEEE_POINTS: list[tuple[str, float]] = [
    ("exp", 710.0), ("exp", 1e10), ("exp", -INF), ("exp", INF), ("log", INF), ("sqrt", INF),
    ("sqrt", 1e-320), ("tanh", INF), ("tanh", -INF), ("sigmoid", INF), ("sigmoid", -INF),
    ("erf", INF), ("sin", INF), ("sin", -INF), ("cos", INF), ("x**-0.5", 1e-300),
    ("x**3", 1e200), ("x**3", -1e200), ("x*10", 1e308), ("x*10", -1e308),
]  # fmt: skip


def _oracle(f: Callable[[Any], Any], x: float) -> float:
    with mp.workdps(50):
        if math.isinf(x) and f in (mpmath.sin, mpmath.cos):
            return NAN  # mpmath's sin(inf) is nan too; spelled out for clarity
        return float(f(mpmath.mpf(x)))


@pytest.mark.parametrize(("name", "x"), IEEE_POINTS)
def test_ieee_edges_match_the_mpmath_oracle(name: str, x: float) -> None:
    ours, f, df = IEEE_FUNCTIONS[name]
    leaf = Value(x)
    y = ours(leaf)
    y.backward()
    assert _ieee_equal(y.data, _oracle(f, x)), (name, x, y.data)
    if not (math.isinf(x) and name in ("sin", "cos", "sigmoid", "tanh", "erf", "exp")):
        assert _ieee_equal(leaf.grad, _oracle(df, x)), (name, x, leaf.grad)


@pytest.mark.parametrize("name", ["sin", "cos", "tanh", "sigmoid", "erf", "exp"])
def test_slopes_at_infinite_inputs_follow_ieee(name: str) -> None:
    want = {"sin": NAN, "cos": NAN, "tanh": 0.0, "sigmoid": 0.0, "erf": 0.0, "exp": INF}
    x = Value(INF)
    IEEE_FUNCTIONS[name][0](x).backward()
    assert _ieee_equal(x.grad, want[name])


def test_overflow_never_raises_in_forward_or_backward() -> None:
    assert Value(710.0).exp().data == INF
    assert (Value(10.0) ** 400).data == INF
    assert (Value(-10.0) ** 401).data == -INF
    assert (Value(1e-300) ** -2).data == INF
    assert (Value(2.0) ** Value(5000.0)).data == INF
    x = Value(1e-300)
    (x**-0.5).backward()  # -0.5 x**-1.5 is beyond the float range
    assert x.grad == -INF
    b = Value(5000.0)
    (Value(2.0) ** b).backward()  # d/db = 2**b ln 2
    assert b.grad == INF


def test_second_derivatives_at_the_edges_follow_ieee() -> None:
    x = Value(0.0)
    x.sqrt().backward(create_graph=True)  # sqrt'(0) = inf, sqrt''(0) = -inf (PyTorch)
    first = x.grad
    assert first.data == INF
    x.grad = 0.0
    first.backward()
    assert x.grad == -INF
    assert cr.transforms.hessian(lambda v: v.sqrt())(0.0) == -INF
    x = Value(1e-300)
    (x**-0.5).backward(create_graph=True)
    slope = x.grad
    x.grad = 0.0
    slope.backward()  # 0.75 x**-2.5: inf
    assert slope.data == -INF and x.grad == INF
    assert cr.transforms.hessian(lambda v: v.exp())(710.0) == INF


# --- numeric edges, each in its op's row ---


@pytest.mark.parametrize("c", [0.25, 0.5, 0.75])
def test_the_second_derivative_of_x_to_a_power_below_one_is_minus_inf_at_zero(c: float) -> None:
    from chainrule.transforms import grad, hessian, jvp

    second = grad(grad(lambda x: x**c))(0.0)
    assert second == -math.inf  # c (c - 1) x**(c - 2): PyTorch and the docs say -inf
    assert hessian(lambda x: x**c)(0.0) == -math.inf
    assert jvp(lambda y: jvp(lambda x: x**c, (y,), (1.0,))[1], (0.0,), (1.0,))[1] == -math.inf
    assert grad(grad(lambda x: x.sqrt()))(0.0) == -math.inf  # sqrt agrees with x**0.5


def test_the_third_derivative_of_x_to_one_and_a_half_is_minus_inf_at_zero() -> None:
    from chainrule.transforms import grad

    f = lambda x: x**1.5
    assert grad(f)(0.0) == 0.0
    assert grad(grad(f))(0.0) == math.inf  # 0.75 x**-0.5
    assert grad(grad(grad(f)))(0.0) == -math.inf  # -0.375 x**-1.5
    assert grad(grad(grad(f)))(4.0) == -0.375 * 4.0**-1.5


@pytest.mark.parametrize(
    "name, x, exact",
    [  # the second derivatives x/(1-x²)^1.5, -x/(1-x²)^1.5, 2x/(1-x²)² (mpmath to 1e-30)
        ("asin", 1e-8, 1.0000000000000000150e-8),
        ("acos", 1e-8, -1.0000000000000000150e-8),
        ("atanh", 1e-20, 2e-20),
        ("atanh", 1e-8, 2.0000000000000000400e-8),
        ("asin", 0.3, 0.3 / (1 - 0.09) ** 1.5),
        ("atanh", -0.9, 2 * -0.9 / (1 - 0.81) ** 2),
    ],
)
def test_second_derivatives_of_asin_acos_atanh_near_zero(name: str, x: float, exact: float) -> None:
    from chainrule.transforms import grad

    got = grad(grad(lambda v: getattr(v, name)()))(x)
    assert got == pytest.approx(exact, rel=4e-15, abs=0.0)


def test_the_hessian_of_a_to_the_b_at_b_zero_is_documented() -> None:
    # a**0 = 1 for every a: d/da is a masked zero on the line b = 0, so an inf adjoint cannot
    # make it nan; read through that row, d/db d/da is 0 (PyTorch gives the same matrix)
    from chainrule.transforms import hessian

    h = hessian(lambda a, b: a**b, (0, 1))(2.0, 0.0)
    assert h[0] == (0.0, 0.0) and h[1][0] == 0.5
    assert h[1][1] == pytest.approx(math.log(2.0) ** 2, rel=1e-15)


def test_nan_divided_by_zero_is_nan() -> None:
    for a, b in ((math.nan, 0.0), (1.0, math.nan), (math.nan, -0.0)):
        x, y = Value(a), Value(b)
        z = x / y
        assert math.isnan(z.data)
        z.backward()
        assert math.isnan(x.grad) and math.isnan(y.grad)
    assert math.isnan(cr.reciprocal(math.nan))
    with pytest.raises(ZeroDivisionError, match=r"division by zero: 1.0 / 0.0"):
        Value(1.0) / 0.0


def test_atan2_at_the_origin_is_pytorchs() -> None:
    from chainrule.transforms import grad

    for y, x in ((0.0, 0.0), (-0.0, 0.0), (0.0, -0.0)):
        dy, dx = grad(lambda a, b: a.atan2(b), (0, 1))(y, x)
        assert (dy, dx) == (0.0, -0.0) or (dy, dx) == (x * 0.0, -y * 0.0)
        assert math.copysign(1.0, dy) == math.copysign(1.0, x * 0.0)
        assert math.copysign(1.0, dx) == math.copysign(1.0, -y * 0.0)


def _on_its_domain(call: Callable[[float], Any]) -> Any:
    """``call(x)`` at the first of a few points inside the op's domain."""
    for x in (0.5, 1.5):
        try:
            return call(x)
        except ValueError:
            continue
    raise AssertionError("no point of the domain found")


@pytest.mark.parametrize("op", [op for op in OPS.values() if op.methods], ids=lambda op: op.name)
def test_every_method_a_row_names_applies_that_row_and_shows_its_doc(op: Any) -> None:
    extra = [Value(0.25)] * (op.arity - 1)  # leaky_relu's alpha given too
    for name in op.methods:

        def call(x: float, name: str = name) -> Any:
            return getattr(Value(x), name)(*extra)

        out = _on_its_domain(call)
        assert out.grad_fn is op and getattr(Value, name).__doc__ == op.doc
        if name.startswith("__") and op.arity == 2:  # the reflected operator, on a number
            x = Value(0.75)
            out = getattr(x, f"__r{name[2:]}")(0.5)
            assert out.grad_fn is op and out._prev[1] is x
