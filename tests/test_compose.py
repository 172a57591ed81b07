"""Transforms composed in every order, against closed forms and finite differences.

f(x) = x sin x throughout the one-variable tests:
f' = sin x + x cos x, f'' = 2 cos x - x sin x, f''' = -3 sin x - x cos x.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest
from hypothesis import given
from oracle import assert_close, reals

import chainrule
from chainrule import Dual, Value
from chainrule.transforms import (
    grad,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)


def f(x: Any) -> Any:
    return x * x.sin()


def d1(x: float) -> float:
    return math.sin(x) + x * math.cos(x)


def d2(x: float) -> float:
    return 2 * math.cos(x) - x * math.sin(x)


def d3(x: float) -> float:
    return -3 * math.sin(x) - x * math.cos(x)


def fd(g: Any, x: float, eps: float = 1e-5) -> float:
    """Central difference of a float function."""
    return float((g(x + eps) - g(x - eps)) / (2 * eps))


# --- second derivatives, four ways ---


@given(reals(-3.0, 3.0))
def test_every_second_order_composition_is_f_second(x: float) -> None:
    second = {
        "grad∘grad": grad(grad(f))(x),
        "jvp∘grad": jvp(grad(f), (x,), (1.0,))[1],
        "grad∘jvp": grad(lambda y: jvp(f, (y,), (1.0,))[1])(x),
        "jvp∘jvp": jvp(lambda y: jvp(f, (y,), (1.0,))[1], (x,), (1.0,))[1],
        "jacfwd∘jacrev": jacfwd(jacrev(f))(x),
        "jacrev∘jacfwd": jacrev(jacfwd(f))(x),
        "hessian": hessian(f)(x),
        "hvp": hvp(f, (x,), (1.0,))[0],
    }
    for name, value in second.items():
        assert type(value) is float, name
        assert_close(value, d2(x))
    assert_close(second["grad∘grad"], fd(grad(f), x))


@given(reals(-3.0, 3.0))
def test_every_third_order_composition_is_f_third(x: float) -> None:
    one = (1.0,)
    third = {
        "grad∘grad∘grad": grad(grad(grad(f)))(x),
        "jvp∘grad∘grad": jvp(grad(grad(f)), (x,), one)[1],
        "grad∘jvp∘grad": grad(lambda y: jvp(grad(f), (y,), one)[1])(x),
        "jvp∘jvp∘grad": jvp(lambda y: jvp(grad(f), (y,), one)[1], (x,), one)[1],
        "grad∘grad∘jvp": grad(grad(lambda y: jvp(f, (y,), one)[1]))(x),
        "jvp∘jvp∘jvp": jvp(lambda y: jvp(lambda z: jvp(f, (z,), one)[1], (y,), one)[1], (x,), one)[
            1
        ],
        "jacfwd∘jacfwd∘jacrev": jacfwd(jacfwd(jacrev(f)))(x),
    }
    for name, value in third.items():
        assert type(value) is float, name
        assert_close(value, d3(x))
    assert_close(third["grad∘grad∘grad"], fd(grad(grad(f)), x), atol=1e-4)


def test_the_value_of_jvp_of_grad_is_the_gradient() -> None:
    g, h = jvp(grad(f), (0.5,), (2.0,))
    assert (g, h) == (d1(0.5), 2.0 * d2(0.5))


# --- several variables ---


def g2(x: Any, y: Any) -> Any:
    return x * x * y + (x * y).sin()


def hess_g2(x: float, y: float) -> list[list[float]]:
    s, c = math.sin(x * y), math.cos(x * y)
    return [
        [2 * y - y * y * s, 2 * x + c - x * y * s],
        [2 * x + c - x * y * s, -x * x * s],
    ]


@given(reals(-2.0, 2.0), reals(-2.0, 2.0), reals(-2.0, 2.0), reals(-2.0, 2.0))
def test_hvp_and_the_hessians_agree_with_the_closed_form(
    x: float, y: float, u: float, v: float
) -> None:
    h = hess_g2(x, y)
    both = (0, 1)
    for hh in (hessian(g2, both)(x, y), jacfwd(jacrev(g2, both), both)(x, y)):
        for i in range(2):
            for j in range(2):
                assert_close(hh[i][j], h[i][j])
    hv = hvp(g2, (x, y), (u, v))
    for i in range(2):
        assert_close(hv[i], h[i][0] * u + h[i][1] * v)


def test_jacfwd_and_jacrev_have_the_same_shapes() -> None:
    h = lambda x, y: [x * y, x + y, chainrule.sin(x)]
    for both in ((0, 1), 0):
        assert jacfwd(h, both)(0.0, 3.0) == jacrev(h, both)(0.0, 3.0)
    assert jacfwd(h, (0, 1))(0.0, 3.0) == [(3.0, 0.0), (1.0, 1.0), (1.0, 0.0)]


# --- perturbation confusion ---


def test_the_classic_perturbation_confusion_example_is_one_in_every_mode() -> None:
    # d/dx [x · d/dy (x + y) at y = 1] at x = 1: the inner derivative is 1, so the answer is 1
    # (a confused implementation gets 2 by mixing the two perturbations).
    forward = jvp(lambda x: x * jvp(lambda y: x + y, (1.0,), (1.0,))[1], (1.0,), (1.0,))[1]
    reverse = grad(lambda x: x * grad(lambda y: x + y)(1.0))(1.0)
    mixed1 = jvp(lambda x: x * grad(lambda y: x + y)(1.0), (1.0,), (1.0,))[1]
    mixed2 = grad(lambda x: x * jvp(lambda y: x + y, (1.0,), (1.0,))[1])(1.0)
    assert (forward, reverse, mixed1, mixed2) == (1.0, 1.0, 1.0, 1.0)


def test_an_inner_jvp_at_the_outer_variable_keeps_the_levels_apart() -> None:
    # d/dx [ d/dy (x y) at y = x ] = d/dx [x] = 1, not 2
    inner = lambda x: jvp(lambda y: x * y, (x,), (1.0,))[1]
    assert jvp(inner, (3.0,), (1.0,))[1] == 1.0
    assert grad(inner)(3.0) == 1.0
    inner_rev = lambda x: grad(lambda y: x * y)(x)
    assert jvp(inner_rev, (3.0,), (1.0,))[1] == 1.0
    assert grad(inner_rev)(3.0) == 1.0


def test_a_value_to_differentiate_through_is_passed_as_an_argument() -> None:
    x = Value(1.0)
    assert type(grad(lambda y: y * x)(2.0)) is float  # a closed-over Value is a constant
    out = x * grad(lambda y, v: y * v)(2.0, x)  # = x · x: a Value argument gives a Value
    out.backward()
    assert x.grad == 2.0


def test_a_closure_over_an_outer_dual_is_differentiated_along_its_tag() -> None:
    # d/dx grad_y (x y²)(y=1) = d/dx 2x = 2, through jvp over grad
    assert jvp(lambda x: grad(lambda y: x * y * y)(1.0), (2.0,), (1.0,)) == (4.0, 2.0)


def test_duals_made_by_hand_nest_by_tag() -> None:
    inner = Dual(Dual(2.0, 1.0, tag=1), Dual(1.0, 0.0, tag=1), tag=2)  # x + e1 + e2
    y = inner * inner  # x² + 2x e1 + 2x e2 + 2 e1 e2
    assert (y.primal.primal, y.primal.tangent, y.tangent.primal, y.tangent.tangent) == (
        4.0,
        4.0,
        4.0,
        2.0,
    )


def test_plain_functions_accept_duals() -> None:
    d = chainrule.sin(Dual(0.3, 1.0))
    assert isinstance(d, Dual) and (d.primal, d.tangent) == (math.sin(0.3), math.cos(0.3))
    assert jvp(chainrule.tanh, (0.0,), (1.0,)) == (0.0, 1.0)
    # a Value and a Dual in one plain function: the Dual's rule runs, on the Value
    a = Value(-2.0)
    d = chainrule.leaky_relu(a, Dual(0.1, 1.0))  # alpha x: d/dalpha = x
    assert isinstance(d, Dual) and d.primal.data == -0.2 and d.tangent.data == -2.0


def test_tags_are_per_call_and_transforms_work_in_threads() -> None:
    results: list[float] = []

    def work() -> None:
        for _ in range(200):
            results.append(jvp(grad(f), (0.5,), (1.0,))[1])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [d2(0.5)] * 800


# --- keyword arguments and has_aux ---


def test_keyword_arguments_pass_through_every_transform() -> None:
    h = lambda a, k=1.0: a * a * k
    assert grad(h)(3.0, k=2.0) == 12.0
    assert value_and_grad(h)(3.0, k=2.0) == (18.0, 12.0)
    assert jacrev(h)(3.0, k=2.0) == 12.0
    assert jacfwd(h)(3.0, k=2.0) == 12.0
    assert hessian(h)(3.0, k=2.0) == 4.0
    assert grad(grad(h))(3.0, k=2.0) == 4.0


def test_has_aux_follows_jax() -> None:
    def loss(w: Any, scale: float) -> tuple[Any, dict[str, Any]]:
        out = scale * w * w
        return out, {"out": out, "note": "kept"}

    g, aux = grad(loss, has_aux=True)(3.0, 2.0)
    assert g == 12.0 and aux == {"out": 18.0, "note": "kept"}  # floats at the top level
    (value, aux2), g2_ = value_and_grad(loss, has_aux=True)(3.0, 2.0)
    assert (value, g2_) == (18.0, 12.0) and aux2["note"] == "kept"
    with pytest.raises(TypeError, match=r"has_aux=True\) needs f to return a pair"):
        grad(lambda w: w, has_aux=True)(1.0)


def test_vjp_of_a_dual_is_a_dual() -> None:
    # vjp inside jvp: d/dx [u · f'(x)] = u f''(x)
    out = jvp(lambda x: vjp(f, x)[1](2.0)[0], (0.5,), (1.0,))
    assert out == (2.0 * d1(0.5), 2.0 * d2(0.5))


@given(reals(-3.0, 3.0), reals(-2.0, 2.0))
def test_hvp_and_hessian_take_values_and_duals(x: float, v: float) -> None:
    # d/dx [f''(x) v] = f'''(x) v, through reverse over hvp and forward over hessian
    assert_close(grad(lambda y: hvp(f, (y,), (v,))[0])(x), d3(x) * v)
    assert_close(jvp(hessian(f), (x,), (v,))[1], d3(x) * v)
    assert_close(jvp(lambda y: hvp(f, (y,), (1.0,))[0], (x,), (v,))[1], d3(x) * v)


def test_a_value_argument_gives_values_back_from_every_transform() -> None:
    x = Value(0.5)
    results = [
        grad(f)(x),
        jvp(f, (x,), (1.0,))[1],
        jacfwd(f)(x),
        hvp(f, (x,), (1.0,))[0],
        vjp(f, x)[1](1.0)[0],
    ]
    assert all(isinstance(r, Value) for r in results)
    expected = [d1(0.5), d1(0.5), d1(0.5), d2(0.5), d1(0.5)]
    for r, e in zip(results, expected):
        assert_close(r.data, e, atol=1e-12, rtol=1e-12)
    results[0].backward()
    assert_close(x.grad, d2(0.5), atol=1e-12, rtol=1e-12)


def test_a_constant_output_comes_back_as_a_float() -> None:
    const = Value(2.0, requires_grad=False)
    assert value_and_grad(lambda x: const)(1.0) == (2.0, 0.0)
    w = Value(3.0)  # a closure the output does not depend on changes nothing
    assert value_and_grad(lambda x: x * x + w.detach())(1.0) == (4.0, 2.0)
