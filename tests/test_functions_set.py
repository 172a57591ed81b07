"""The scalar function set (tan ... clamp): finite differences, mpmath, closed forms, edges.

Each op is checked against central differences (hypothesis), alone and inside random
expressions; its value and derivative against mpmath at 50 digits, in ulps, over its whole
domain up to overflow; closed forms at known points; its second derivative (create_graph)
against differences of the first; forward mode against reverse mode; and the numeric policy's
edges (domain errors, inf/nan inputs, overflow to inf, infinite slopes at a domain's closed
edge, blocked gradients). Then its names: methods on Value and Dual, plain functions, aliases.
"""

from __future__ import annotations

import inspect
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mpmath  # type: ignore[import-untyped]
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import assert_close, away_from, central_difference, positive, reals

import chainrule as cr
from chainrule import Dual, Value, apply, enable_grad
from chainrule.ops import MASKED, OPS


@pytest.fixture(autouse=True, scope="module")
def _fifty_digits() -> Iterator[None]:
    """mpmath's precision is global: set it for this module's tests only."""
    with mpmath.workdps(50):
        yield


def call(name: str, *args: Value | float) -> Value:
    """The node of the row ``name`` (``rsqrt`` and ``%`` have no method of that name)."""
    return apply(OPS[name], *args)


def grads(name: str, *xs: float, seed: float = 1.0) -> tuple[float, list[float]]:
    """The value of ``name`` at xs and its gradient by one backward pass."""
    leaves = [Value(x) for x in xs]
    out = call(name, *leaves)
    out.backward(seed)
    return out.data, [leaf.grad for leaf in leaves]


# --- the cases: domain for differences, mpmath value and partials, sample points ---

Sampler = Callable[[random.Random], tuple[float, ...]]


@dataclass(frozen=True)
class Case:
    domain: tuple[st.SearchStrategy[float], ...]  # where central differences are meaningful
    value: Callable[..., Any]  # the function in mpmath
    partials: Callable[..., tuple[Any, ...]]  # its partial derivatives in mpmath
    sample: Sampler  # points for the mpmath comparison, over the whole domain
    ulps: int = 4  # the largest error allowed against mpmath, value and partials


def magnitude(rng: random.Random, lo: float, hi: float) -> float:
    """A float with a log-uniform magnitude in [10**lo, 10**hi] and a random sign."""
    sign: float = rng.choice((-1.0, 1.0))
    return sign * math.pow(10.0, rng.uniform(lo, hi))


def mixed(lo: float, hi: float, near: float, far: float) -> Sampler:
    """Uniform in [lo, hi] half the time, else magnitudes 10**-300 .. 10**far (clipped)."""

    def sample(rng: random.Random) -> tuple[float]:
        if rng.random() < 0.5:
            return (rng.uniform(lo, hi),)
        return (min(max(magnitude(rng, near, far), lo), hi),)

    return sample


def ratio_sample(rng: random.Random) -> tuple[float, float]:
    return (magnitude(rng, -5, 5), magnitude(rng, -5, 5))


def pairs(rng: random.Random) -> tuple[float, float]:
    return (magnitude(rng, -300, 300), magnitude(rng, -300, 300))


mp = mpmath
UNARY: dict[str, Case] = {
    "tan": Case((reals(-1.5, 1.5),), mp.tan, lambda x: (mp.sec(x) ** 2,),
                mixed(-1e6, 1e6, -300, 6)),
    "sinh": Case((reals(),), mp.sinh, lambda x: (mp.cosh(x),), mixed(-720, 720, -300, 3)),
    "cosh": Case((reals(),), mp.cosh, lambda x: (mp.sinh(x),), mixed(-720, 720, -300, 3)),
    "rsqrt": Case((positive,), lambda x: 1 / mp.sqrt(x), lambda x: (-x ** mp.mpf(-1.5) / 2,),
                  lambda rng: (10.0 ** rng.uniform(-320, 308),), ulps=6),  # -out**3/2: 3 roundings
    "asin": Case((reals(-0.99, 0.99),), mp.asin, lambda x: (1 / mp.sqrt(1 - x * x),),
                 mixed(-1.0, 1.0, -300, 0)),
    "acos": Case((reals(-0.99, 0.99),), mp.acos, lambda x: (-1 / mp.sqrt(1 - x * x),),
                 mixed(-1.0, 1.0, -300, 0)),
    "atan": Case((reals(),), mp.atan, lambda x: (1 / (1 + x * x),),
                 mixed(-1e300, 1e300, -300, 300)),
    "asinh": Case((reals(),), mp.asinh, lambda x: (1 / mp.sqrt(1 + x * x),),
                  mixed(-1e300, 1e300, -300, 300)),
    "acosh": Case((reals(1.01, 5.0),), mp.acosh, lambda x: (1 / mp.sqrt(x * x - 1),),
                  lambda rng: (1.0 + 10.0 ** rng.uniform(-16, 300),)),
    "atanh": Case((reals(-0.99, 0.99),), mp.atanh, lambda x: (1 / (1 - x * x),),
                  mixed(-1.0 + 2**-53, 1.0 - 2**-53, -300, 0)),
    "log2": Case((positive,), lambda x: mp.log(x, 2), lambda x: (1 / (x * mp.log(2)),),
                 lambda rng: (10.0 ** rng.uniform(-320, 308),)),
    "log10": Case((positive,), mp.log10, lambda x: (1 / (x * mp.log(10)),),
                  lambda rng: (10.0 ** rng.uniform(-320, 308),)),
    "log1p": Case((reals(-0.95, 5.0),), mp.log1p, lambda x: (1 / (1 + x),),
                  mixed(-1.0 + 2**-53, 1e300, -300, 300)),
    "expm1": Case((reals(),), mp.expm1, lambda x: (mp.exp(x),), mixed(-800, 720, -300, 3)),
    "exp2": Case((reals(),), lambda x: 2**x, lambda x: (2**x * mp.log(2),),
                 mixed(-1100, 1100, -300, 3.1)),
    "sign": Case((away_from([0.0]),), mp.sign, lambda x: (mp.mpf(0),),
                 mixed(-1e300, 1e300, -300, 300)),
    "reciprocal": Case((away_from([0.0], gap=0.1),), lambda x: 1 / x, lambda x: (-1 / x**2,),
                       mixed(-1e300, 1e300, -320, 308)),
    "square": Case((reals(),), lambda x: x * x, lambda x: (2 * x,),
                   mixed(-1e300, 1e300, -300, 300)),
}  # fmt: skip


def not_near_a_multiple(a: float, b: float) -> bool:
    """% and fmod jump where a/b crosses an integer: keep differences away from there."""
    q = a / b
    return abs(q - round(q)) > 1e-3


def mp_trunc(q: Any) -> Any:
    return mp.floor(q) if q > 0 else mp.ceil(q)


BINARY: dict[str, Case] = {
    "hypot": Case((reals(), reals()), lambda a, b: mp.sqrt(a * a + b * b),
                  lambda a, b: (a / mp.sqrt(a * a + b * b), b / mp.sqrt(a * a + b * b)), pairs),
    "atan2": Case((reals(), reals()), mp.atan2,
                  lambda y, x: (x / (x * x + y * y), -y / (x * x + y * y)), pairs),
    "%": Case((reals(), away_from([0.0], gap=0.1)), lambda a, b: a - b * mp.floor(a / b),
              lambda a, b: (mp.mpf(1), -mp.floor(a / b)), ratio_sample),
    "fmod": Case((reals(), away_from([0.0], gap=0.1)), lambda a, b: a - b * mp_trunc(a / b),
                 lambda a, b: (mp.mpf(1), -mp_trunc(a / b)), ratio_sample),
    "maximum": Case((reals(), reals()), lambda a, b: max(a, b),
                    lambda a, b: (mp.mpf(a > b), mp.mpf(a < b)), pairs),
    "minimum": Case((reals(), reals()), lambda a, b: min(a, b),
                    lambda a, b: (mp.mpf(a < b), mp.mpf(a > b)), pairs),
}  # fmt: skip

# what the differences need beyond each input's own domain
BINARY_FILTER: dict[str, Callable[[float, float], bool]] = {
    "hypot": lambda a, b: math.hypot(a, b) > 0.1,
    "atan2": lambda y, x: math.hypot(y, x) > 0.1 and not (abs(y) < 1e-3 and x < 0),  # the cut
    "%": not_near_a_multiple,
    "fmod": not_near_a_multiple,
    "maximum": lambda a, b: abs(a - b) > 1e-3,
    "minimum": lambda a, b: abs(a - b) > 1e-3,
}
CASES = {**UNARY, **BINARY}


def draw(data: st.DataObject, name: str) -> list[float]:
    case = CASES[name]
    if name in BINARY_FILTER:
        both = st.tuples(*case.domain).filter(lambda ab: BINARY_FILTER[name](*ab))
        return list(data.draw(both))
    return [data.draw(s) for s in case.domain]


# --- 1. the first derivative against central differences ---


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_first_derivative_matches_central_differences(name: str, data: st.DataObject) -> None:
    # oracle.py's tolerance: eps = 1e-6 leaves truncation ~ f''' eps**2/6 and rounding
    # ~ 1e-16 |f|/eps; each domain above stays where both are below 1e-6 (tan within 1.5 of
    # 0, asin/atanh within 0.99, acosh from 1.01: f''' <= 1e6 there, so truncation <= 2e-7)
    xs = draw(data, name)
    _, analytic = grads(name, *xs)
    for i, g in enumerate(analytic):
        assert_close(g, central_difference(lambda *v: call(name, *v), xs, i))


# --- random expressions: every smooth row inside composite graphs with fan-out ---

# Each step combines two earlier nodes; squashing (tanh, sigmoid, + constants) keeps every
# input inside its op's domain and away from its edges, so central differences apply.
Step = Callable[[Value, Value], Value]
STEPS: list[Step] = [
    lambda u, v: u.tanh().tan() * v,
    lambda u, v: u.tanh().sinh() + v.tanh().cosh(),
    lambda u, v: (u * 0.5).tanh().asin() - v,
    lambda u, v: (u.sigmoid() - 0.25).acos() * v,
    lambda u, v: (u * v).atan(),
    lambda u, v: u.asinh() + (v * v + 1.5).acosh(),
    lambda u, v: ((u * 0.5).tanh() * 0.9).atanh() * v,
    lambda u, v: (u * u + 0.5).log2() + v.sigmoid().log10(),
    lambda u, v: u.sigmoid().log1p() * v.tanh().expm1(),
    lambda u, v: u.tanh().exp2() * v,
    lambda u, v: (u * u + 1.0).reciprocal() + v.square(),
    lambda u, v: u.hypot(v + 3.0),
    lambda u, v: u.atan2(v * v + 1.0),
]


def run(program: list[tuple[int, int, int]], *leaves: Value) -> Value:
    nodes = list(leaves)
    for step, i, j in program:
        nodes.append(STEPS[step](nodes[i % len(nodes)], nodes[j % len(nodes)]))
    return nodes[-1]


@given(
    program=st.lists(
        st.tuples(st.integers(0, len(STEPS) - 1), st.integers(0, 99), st.integers(0, 99)),
        min_size=1,
        max_size=6,
    ),
    xs=st.lists(reals(-2.0, 2.0), min_size=3, max_size=3),
)
def test_random_expressions_match_central_differences(
    program: list[tuple[int, int, int]], xs: list[float]
) -> None:
    leaves = [Value(x) for x in xs]
    run(program, *leaves).backward()
    for i, leaf in enumerate(leaves):
        numeric = central_difference(lambda *v: run(program, *v), xs, i)
        # products of up to six steps grow to ~1e3, so the rounding part of the oracle's error
        # (1e-16 |f| / eps) grows with them: the relative tolerance covers it
        assert_close(leaf.grad, numeric, atol=1e-5, rtol=1e-4)


def test_every_smooth_row_appears_in_the_random_expressions() -> None:
    # the piecewise rows jump or kink where random inputs would cross; their own tests cover them
    used = {name for step in STEPS for name in CASES if f".{name}(" in inspect.getsource(step)}
    assert used == set(CASES) - {"%", "fmod", "maximum", "minimum", "sign", "rsqrt"}


# --- 2. values and derivatives against mpmath over the whole domain ---


def ulps_apart(ours: float, exact: Any) -> float:
    """How many units in the last place separate ``ours`` from the exact mpmath number."""
    expected = float(exact)  # correctly rounded; beyond the float range it is +-inf
    if math.isinf(expected) or math.isinf(ours):
        return 0.0 if ours == expected else math.inf
    return abs(mp.mpf(ours) - exact) / math.ulp(expected) if expected else abs(ours) / 5e-324


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_derivatives_match_mpmath(name: str) -> None:
    case = CASES[name]
    rng = random.Random(name)  # a fixed seed per op: a failure reproduces
    for _ in range(300):
        xs = case.sample(rng)
        value, analytic = grads(name, *xs)
        exact = [mp.mpf(x) for x in xs]
        assert ulps_apart(value, case.value(*exact)) <= case.ulps, (xs, value)
        for g, d in zip(analytic, case.partials(*exact)):
            assert ulps_apart(g, d) <= case.ulps, (xs, g, float(d))


# --- 3. closed forms at known points: (inputs, value, partials) ---

KNOWN: dict[str, list[tuple[tuple[float, ...], float, tuple[float, ...]]]] = {
    "tan": [((math.pi / 4,), 1.0, (2.0,)), ((0.0,), 0.0, (1.0,))],
    "sinh": [((0.0,), 0.0, (1.0,)), ((math.log(2),), 0.75, (1.25,))],
    "cosh": [((0.0,), 1.0, (0.0,)), ((math.log(2),), 1.25, (0.75,))],
    "rsqrt": [((4.0,), 0.5, (-1 / 16,)), ((0.0,), math.inf, (-math.inf,))],
    "asin": [((0.5,), math.pi / 6, (2 / math.sqrt(3),)), ((1.0,), math.pi / 2, (math.inf,))],
    "acos": [((0.5,), math.pi / 3, (-2 / math.sqrt(3),)), ((-1.0,), math.pi, (-math.inf,))],
    "atan": [((1.0,), math.pi / 4, (0.5,)), ((math.inf,), math.pi / 2, (0.0,))],
    "asinh": [((0.0,), 0.0, (1.0,)), ((0.75,), math.log(2), (0.8,))],
    "acosh": [((1.0,), 0.0, (math.inf,)), ((1.25,), math.log(2), (4 / 3,))],
    "atanh": [((0.0,), 0.0, (1.0,)), ((0.5,), math.log(3) / 2, (4 / 3,))],
    "log2": [((8.0,), 3.0, (1 / (8 * math.log(2)),)), ((1.0,), 0.0, (1 / math.log(2),))],
    "log10": [((100.0,), 2.0, (1 / (100 * math.log(10)),))],
    "log1p": [((0.0,), 0.0, (1.0,)), ((1e-20,), 1e-20, (1.0,)), ((1.0,), math.log(2), (0.5,))],
    "expm1": [((0.0,), 0.0, (1.0,)), ((1e-20,), 1e-20, (1.0,)), ((math.log(2),), 1.0, (2.0,))],
    "exp2": [((3.0,), 8.0, (8 * math.log(2),)), ((-1.0,), 0.5, (0.5 * math.log(2),))],
    "sign": [((-3.0,), -1.0, (0.0,)), ((0.0,), 0.0, (0.0,)), ((2.5,), 1.0, (0.0,))],
    "reciprocal": [((4.0,), 0.25, (-1 / 16,)), ((-0.5,), -2.0, (-4.0,))],
    "square": [((3.0,), 9.0, (6.0,)), ((-0.5,), 0.25, (-1.0,))],
    "hypot": [((3.0, 4.0), 5.0, (0.6, 0.8)), ((0.0, 0.0), 0.0, (0.0, 0.0)),
              ((1e300, 1e300), math.hypot(1e300, 1e300), (0.5**0.5, 0.5**0.5))],
    "atan2": [((1.0, 1.0), math.pi / 4, (0.5, -0.5)), ((1.0, 0.0), math.pi / 2, (0.0, -1.0)),
              ((1e200, 1e200), math.pi / 4, (0.5e-200, -0.5e-200))],
    "%": [((7.0, 3.0), 1.0, (1.0, -2.0)), ((-7.0, 3.0), 2.0, (1.0, 3.0)),
          ((7.0, -3.0), -2.0, (1.0, 3.0)), ((-7.5, -2.0), -1.5, (1.0, -3.0))],
    "fmod": [((7.0, 3.0), 1.0, (1.0, -2.0)), ((-7.0, 3.0), -1.0, (1.0, 2.0)),
             ((7.0, -3.0), 1.0, (1.0, 2.0)), ((-7.5, -2.0), -1.5, (1.0, -3.0))],
    "maximum": [((2.0, 3.0), 3.0, (0.0, 1.0)), ((3.0, 2.0), 3.0, (1.0, 0.0)),
                ((2.0, 2.0), 2.0, (0.5, 0.5))],
    "minimum": [((2.0, 3.0), 2.0, (1.0, 0.0)), ((3.0, 2.0), 2.0, (0.0, 1.0)),
                ((2.0, 2.0), 2.0, (0.5, 0.5))],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_closed_forms(name: str) -> None:
    for xs, value, partials in KNOWN[name]:
        got, analytic = grads(name, *xs)
        assert got == pytest.approx(value, rel=1e-15, abs=1e-300), xs
        assert analytic == pytest.approx(list(partials), rel=1e-15, abs=1e-300), xs


# --- 4. the second derivative (create_graph) against differences of the first ---


def second_partials(name: str, xs: list[float], i: int) -> list[float]:
    """d/dx_j of d name/dx_i, for every j, by differentiating the first derivative's graph."""
    leaves = [Value(x) for x in xs]
    call(name, *leaves).backward(create_graph=True)
    g = leaves[i].grad
    for leaf in leaves:
        leaf.zero_grad()
    if not isinstance(g, Value) or not g.requires_grad:
        return [0.0] * len(xs)  # the first derivative is a constant here
    g.backward()
    return [leaf.grad for leaf in leaves]


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_second_derivative_matches_differences_of_the_first(name: str, data: st.DataObject) -> None:
    xs = draw(data, name)
    for i in range(len(xs)):

        def first(*vs: Value, i: int = i) -> Value:
            with enable_grad():  # central_difference evaluates under no_grad
                return Value(grads(name, *(v.data for v in vs))[1][i])

        for j, second in enumerate(second_partials(name, xs, i)):
            # differences of a derivative: one order less accurate than oracle's tolerance
            assert_close(second, central_difference(first, xs, j), atol=1e-4, rtol=1e-4)


# --- 5. the numeric policy's edges ---

DOMAIN_ERRORS: list[tuple[str, tuple[float, ...], type[Exception], str]] = [
    ("asin", (1.5,), ValueError, r"asin is undefined at x=1.5 \(needs -1 <= x <= 1\)"),
    ("asin", (-math.inf,), ValueError, r"asin is undefined at x=-inf"),
    ("acos", (-1.0000001,), ValueError, r"acos is undefined at x=-1.0000001"),
    ("acosh", (0.5,), ValueError, r"acosh is undefined at x=0.5 \(needs x >= 1\)"),
    ("atanh", (1.0,), ValueError, r"atanh is undefined at x=1.0 \(needs -1 < x < 1\)"),
    ("atanh", (-1.0,), ValueError, r"atanh is undefined at x=-1.0"),
    ("log2", (0.0,), ValueError, r"log2 is undefined at x=0.0 \(needs x > 0\)"),
    ("log10", (-2.0,), ValueError, r"log10 is undefined at x=-2.0 \(needs x > 0\)"),
    ("log1p", (-1.0,), ValueError, r"log1p is undefined at x=-1.0 \(needs x > -1\)"),
    ("rsqrt", (-1.0,), ValueError, r"rsqrt is undefined at x=-1.0 \(needs x >= 0\)"),
    ("reciprocal", (0.0,), ZeroDivisionError, r"reciprocal of zero: 1 / 0.0"),
    ("%", (1.0, 0.0), ZeroDivisionError, r"remainder by zero: 1.0 % 0.0"),
    ("fmod", (1.0, -0.0), ZeroDivisionError, r"fmod by zero: fmod\(1.0, -0.0\)"),
]


@pytest.mark.parametrize(("name", "xs", "error", "message"), DOMAIN_ERRORS)
def test_outside_the_domain_raises_naming_input_and_domain(
    name: str, xs: tuple[float, ...], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(name, *map(Value, xs))


# (inputs, value, partials): inf and nan in, overflow out, IEEE's answers
NAN2 = (math.nan, math.nan)
IEEE: dict[str, list[tuple[tuple[float, ...], float, tuple[float, ...]]]] = {
    "tan": [((math.inf,), math.nan, (math.nan,))],
    "sinh": [((1000.0,), math.inf, (math.inf,)), ((-1000.0,), -math.inf, (math.inf,)),
             ((math.inf,), math.inf, (math.inf,)), ((710.0,), math.sinh(710.0), (math.cosh(710),))],
    "cosh": [((-1000.0,), math.inf, (-math.inf,)), ((-math.inf,), math.inf, (-math.inf,))],
    "atan": [((-math.inf,), -math.pi / 2, (0.0,))],
    "asinh": [((math.inf,), math.inf, (0.0,)), ((1e300,), math.asinh(1e300), (1e-300,))],
    "acosh": [((math.inf,), math.inf, (0.0,)), ((1e300,), math.acosh(1e300), (1e-300,))],
    "log2": [((math.inf,), math.inf, (0.0,)), ((5e-324,), -1074.0, (math.inf,))],
    "log1p": [((math.inf,), math.inf, (0.0,))],
    "expm1": [((1000.0,), math.inf, (math.inf,)), ((-math.inf,), -1.0, (0.0,))],
    "exp2": [((2000.0,), math.inf, (math.inf,)), ((-math.inf,), 0.0, (0.0,)),
             ((1023.5,), 2.0**1023.5, (2.0**1023.5 * math.log(2),)),
             ((1024.25,), math.inf, (2.0**1023.25 * (2 * math.log(2)),))],  # 2**x ln 2 is finite
    "reciprocal": [((1e-320,), math.inf, (-math.inf,)), ((math.inf,), 0.0, (-0.0,))],
    "square": [((1e200,), math.inf, (2e200,)), ((-math.inf,), math.inf, (-math.inf,))],
    "rsqrt": [((math.inf,), 0.0, (-0.0,)), ((1e-300,), 1e150, (-math.inf,))],
    "hypot": [((math.inf, 1.0), math.inf, (math.nan, 0.0)), ((1.5e308, 1.5e308), math.inf,
              (0.0, 0.0))],
    "atan2": [((0.0, 0.0), 0.0, (0.0, -0.0)), ((1.0, math.inf), 0.0, (math.nan, -0.0)),
              ((1e-200, 1e-200), math.pi / 4, (0.5e200, -0.5e200))],
    "%": [((-5.0, math.inf), math.inf, (1.0, 1.0)), ((math.nan, 0.0), math.nan, NAN2),
          ((math.inf, 3.0), math.nan, NAN2)],
    "fmod": [((-5.0, math.inf), -5.0, (1.0, -0.0)), ((math.nan, 0.0), math.nan, NAN2),
             ((math.inf, 3.0), math.nan, NAN2)],
    "maximum": [((math.inf, 1.0), math.inf, (1.0, 0.0))],
}  # fmt: skip


def same(a: float, b: float) -> bool:
    """Equal, both nan, or finite and within 4 ulps (the accuracy checked against mpmath)."""
    if math.isnan(a) or math.isnan(b) or math.isinf(b):
        return a == b or (math.isnan(a) and math.isnan(b))
    return abs(a - b) <= 4 * math.ulp(b)


@pytest.mark.parametrize("name", sorted(IEEE))
def test_inf_inputs_and_overflow_follow_ieee(name: str) -> None:
    for xs, value, partials in IEEE[name]:
        got, analytic = grads(name, *xs)
        assert same(got, value), (xs, got)
        assert all(map(same, analytic, partials)), (xs, analytic)


@pytest.mark.parametrize("name", sorted(CASES))
def test_nan_in_gives_nan_out_in_value_and_gradient(name: str) -> None:
    for k in range(len(CASES[name].domain)):
        xs = [1.0, 0.5]  # inside every op's domain
        xs[k] = math.nan
        got, analytic = grads(name, *xs[: len(CASES[name].domain)])
        assert math.isnan(got), name
        assert math.isnan(analytic[k]), (name, analytic)


@pytest.mark.parametrize(
    ("name", "x", "first", "second"),
    [
        ("asin", 1.0, math.inf, math.inf),  # asin'' = x/(1-x**2)**1.5
        ("asin", -1.0, math.inf, -math.inf),
        ("acos", 1.0, -math.inf, -math.inf),
        ("acos", -1.0, -math.inf, math.inf),
        ("acosh", 1.0, math.inf, -math.inf),  # acosh'' = -x/(x**2-1)**1.5
        ("rsqrt", 0.0, -math.inf, math.inf),  # rsqrt'' = 3/(4 x**2.5)
    ],
)
def test_infinite_slope_at_a_closed_edge_is_inf_at_every_order(
    name: str, x: float, first: float, second: float
) -> None:
    leaf = Value(x)
    call(name, leaf).backward(create_graph=True)
    g = leaf.grad
    assert isinstance(g, Value) and g.data == first
    leaf.zero_grad()
    g.backward()
    assert leaf.grad == second


@pytest.mark.parametrize(
    ("name", "xs"),
    [
        ("sign", (2.0,)),
        ("sign", (0.0,)),
        ("maximum", (1.0, 2.0)),
        ("maximum", (2.0, 1.0)),
        ("minimum", (1.0, 2.0)),
        ("hypot", (0.0, 0.0)),
    ],
)
@pytest.mark.parametrize("adjoint", [math.inf, -math.inf, math.nan])
def test_blocked_partials_stop_inf_and_nan_adjoints(
    name: str, xs: tuple[float, ...], adjoint: float
) -> None:
    _, analytic = grads(name, *xs, seed=adjoint)
    local = OPS[name].local(*xs, OPS[name].forward(*xs))
    for g, d in zip(analytic, local):
        if d is MASKED:
            assert g == 0.0  # 0 * inf would be nan: the edge carries nothing at all
        else:
            assert same(g, adjoint * d)


def test_blocked_partials_stop_nothing_under_create_graph() -> None:
    a, b = Value(1.0), Value(2.0)
    call("maximum", a, b).backward(Value(math.inf), create_graph=True)
    assert a.grad == 0.0 and isinstance(b.grad, Value) and b.grad.data == math.inf


# --- clamp: three inputs, bounds possibly infinite ---


def clamp_partials(x: float, lo: float, hi: float) -> list[float]:
    op = OPS["clamp"]
    return [float(d) for d in op.local(x, lo, hi, op.forward(x, lo, hi))]


@given(x=reals(-10, 10), lo=reals(-5, 0), width=reals(0, 5))
def test_clamp_limits_x_and_passes_the_gradient_inside(x: float, lo: float, width: float) -> None:
    hi = lo + width
    out = OPS["clamp"].forward(x, lo, hi)
    assert out == min(max(x, lo), hi)
    expected = [1.0, 0.0, 0.0] if lo <= x <= hi else [0.0, 1.0, 0.0] if x < lo else [0, 0, 1.0]
    assert clamp_partials(x, lo, hi) == expected


def test_clamp_edges() -> None:
    op = OPS["clamp"]
    assert clamp_partials(1.0, 1.0, 2.0) == [1.0, 0.0, 0.0]  # min <= x <= max passes
    assert clamp_partials(2.0, 1.0, 2.0) == [1.0, 0.0, 0.0]
    assert op.forward(5.0, -math.inf, 3.0) == 3.0  # a missing bound is an infinite one
    assert op.forward(-math.inf, 0.0, math.inf) == 0.0
    assert math.isnan(op.forward(math.nan, 0.0, 1.0))
    assert all(map(math.isnan, clamp_partials(math.nan, 0.0, 1.0)))
    assert op.local(5.0, 0.0, 1.0, 1.0)[0] is MASKED
    with pytest.raises(ValueError, match=r"clamp needs min <= max, got min=2.0 and max=1.0"):
        op.forward(0.0, 2.0, 1.0)


# --- forward mode uses the same rows ---


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_dual_numbers_give_the_reverse_mode_gradient(name: str, data: st.DataObject) -> None:
    xs = draw(data, name)
    _, analytic = grads(name, *xs)
    for i in range(len(xs)):
        duals = [Dual(x, 1.0 if j == i else 0.0) for j, x in enumerate(xs)]
        out = Dual.apply(name, *duals)
        assert out.primal == OPS[name].forward(*xs)
        assert out.tangent == analytic[i]


# --- the names: methods on Value and Dual, plain functions, aliases, operators ---

# the public names of each row; an alias is the same row under NumPy's name
NAMES: dict[str, tuple[str, ...]] = {
    "tan": ("tan",),
    "sinh": ("sinh",),
    "cosh": ("cosh",),
    "asin": ("asin", "arcsin"),
    "acos": ("acos", "arccos"),
    "atan": ("atan", "arctan"),
    "asinh": ("asinh", "arcsinh"),
    "acosh": ("acosh", "arccosh"),
    "atanh": ("atanh", "arctanh"),
    "log2": ("log2",),
    "log10": ("log10",),
    "log1p": ("log1p",),
    "expm1": ("expm1",),
    "exp2": ("exp2",),
    "sign": ("sign",),
    "reciprocal": ("reciprocal",),
    "square": ("square",),
    "hypot": ("hypot",),
    "atan2": ("atan2", "arctan2"),
    "%": ("remainder",),
    "fmod": ("fmod",),
    "maximum": ("maximum",),
    "minimum": ("minimum",),
    "clamp": ("clamp", "clip"),
}


@pytest.mark.parametrize("row", sorted(NAMES))
def test_every_name_is_a_method_a_dual_method_and_a_plain_function(row: str) -> None:
    op = OPS[row]
    xs = CASES[row].sample(random.Random(row)) if row in CASES else (0.5, 0.0, 1.0)
    expected = op.forward(*xs)
    for name in NAMES[row]:
        assert name in cr.__all__
        node = getattr(Value(xs[0]), name)(*xs[1:])
        assert node.grad_fn is op and node.data == expected
        dual = getattr(Dual(xs[0], 1.0), name)(*xs[1:])
        assert isinstance(dual, Dual) and dual.primal == expected
        function = getattr(cr, name)
        assert function(*xs) == expected and type(function(*xs)) is float
        assert function(Value(xs[0]), *xs[1:]).grad_fn is op
        assert isinstance(function(Dual(xs[0], 1.0), *xs[1:]), Dual)
        if len(xs) > 1:  # a node in any position makes a node
            assert function(xs[0], Value(xs[1]), *xs[2:]).grad_fn is op


def test_aliases_are_the_same_row() -> None:
    x = Value(0.5)
    assert x.arcsin().data == x.asin().data and x.arcsin()._op == "asin"
    assert cr.arctan2(1.0, 2.0) == cr.atan2(1.0, 2.0) == math.atan2(1.0, 2.0)
    assert Value(0.5).clip(0.0, 0.25).data == Value(0.5).clamp(0.0, 0.25).data == 0.25


def test_percent_is_pythons_remainder_on_values_duals_and_numbers() -> None:
    a, b = Value(-7.0), Value(3.0)
    r = a % b
    r.backward()
    assert (r.data, a.grad, b.grad) == (2.0, 1.0, 3.0)  # -7 = 3 * -3 + 2: d/db = -floor(-7/3)
    assert (-7.0 % Value(3.0)).data == 2.0 and (Value(-7.0) % 3).data == 2.0
    assert (Dual(-7.0, 1.0) % 3.0).tangent == 1.0 and (7.0 % Dual(3.0, 1.0)).tangent == -2.0
    assert cr.remainder(-7.0, 3.0) == -7.0 % 3.0 and cr.fmod(-7.0, 3.0) == math.fmod(-7.0, 3.0)
    with pytest.raises(ZeroDivisionError, match=r"remainder by zero: 1.0 % 0.0"):
        Value(1.0) % 0


def test_plain_functions_reject_what_is_not_a_number() -> None:
    with pytest.raises(TypeError, match=r"hypot\(\) needs a Value or a real number, got str"):
        cr.hypot(1.0, "2")
    with pytest.raises(ValueError, match=r"atanh is undefined at x=2.0 \(needs -1 < x < 1\)"):
        cr.atanh(2.0)


# --- clamp on Values: keywords, missing and Value bounds ---


@given(x=reals(-10, 10), lo=reals(-5, -0.5), hi=reals(0.5, 5))
def test_clamp_matches_central_differences_away_from_its_bounds(
    x: float, lo: float, hi: float
) -> None:
    if min(abs(x - lo), abs(x - hi)) < 1e-3:
        return  # a kink: differences straddle it
    xs = [x, lo, hi]
    _, analytic = grads("clamp", *xs)
    for i, g in enumerate(analytic):
        assert_close(g, central_difference(lambda *v: call("clamp", *v), xs, i))


def test_clamp_with_keywords_and_value_bounds() -> None:
    x, lo = Value(-2.0), Value(-1.0)
    y = x.clamp(min=lo)  # x < min: the bound is the result and gets the gradient
    y.backward()
    assert (y.data, x.grad, lo.grad) == (-1.0, 0.0, 1.0)
    assert Value(5.0).clamp(max=3.0).data == 3.0 and cr.clamp(5.0, max=3.0) == 3.0
    assert cr.clamp(-5.0, min=-1.0) == -1.0 and cr.clip(0.5, 0.0, 1.0) == 0.5
    x = Value(1.0)
    x.clamp(0.0, 1.0).backward()  # min <= x <= max passes, the boundary included
    assert x.grad == 1.0
    with pytest.raises(ValueError, match=r"clamp needs min or max \(or both\), got neither"):
        Value(1.0).clamp()
    with pytest.raises(ValueError, match=r"clamp needs min <= max, got min=2.0 and max=1.0"):
        cr.clamp(Value(0.0), 2.0, 1.0)


def test_clamp_blocks_inf_and_nan_adjoints_outside_its_range() -> None:
    for adjoint in (math.inf, math.nan):
        x = Value(5.0)
        x.clamp(0.0, 1.0).backward(adjoint)
        assert x.grad == 0.0
    x = Value(math.nan)
    y = x.clamp(0.0, 1.0)
    y.backward()
    assert math.isnan(y.data) and math.isnan(x.grad)


def test_clamp_has_a_second_derivative_of_zero() -> None:
    x = Value(0.5)
    y = (x * x).clamp(0.0, 1.0)  # x**2 inside the range: d2/dx2 = 2
    y.backward(create_graph=True)
    g = x.grad
    assert isinstance(g, Value) and g.data == 1.0
    x.zero_grad()
    g.backward()
    assert x.grad == 2.0
