"""chainrule.transforms: grad, value_and_grad, vjp, jacobian, hessian — closed forms and FD."""

from __future__ import annotations

import math
from typing import Any

import pytest
from graphs import Cube
from hypothesis import given
from oracle import assert_close, reals
from test_docs import DOCS, python_blocks

from chainrule import Value, no_grad
from chainrule.custom import Function, custom_op
from chainrule.transforms import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

EPS = 1e-5  # central differences of a first derivative: error ~ eps² f'''' + 1e-16/eps


def fd(f: object, xs: list[float], i: int) -> float:
    """Central difference of a float-valued function of floats."""
    up, down = list(xs), list(xs)
    up[i] += EPS
    down[i] -= EPS
    diff: float = f(*up) - f(*down)  # type: ignore[operator]
    return diff / (2 * EPS)


# --- closed forms ---


def test_grad_and_its_powers_of_x_cubed_at_two() -> None:
    f = lambda x: x**3
    assert grad(f)(2.0) == 12.0  # 3x²
    assert grad(grad(f))(2.0) == 12.0  # 6x
    assert grad(grad(grad(f)))(2.0) == 6.0
    assert grad(grad(grad(grad(f))))(2.0) == 0.0


def test_grad_returns_plain_floats_for_plain_inputs() -> None:
    g = grad(lambda x: x.sin())(0.0)
    assert type(g) is float and g == 1.0


def test_argnums_int_tuple_and_negative() -> None:
    f = lambda x, y, z: x * y + z * z
    assert grad(f)(2.0, 3.0, 4.0) == 3.0
    assert grad(f, argnums=1)(2.0, 3.0, 4.0) == 2.0
    assert grad(f, argnums=-1)(2.0, 3.0, 4.0) == 8.0
    assert grad(f, argnums=(0, 2))(2.0, 3.0, 4.0) == (3.0, 8.0)


def test_non_differentiated_arguments_pass_through_untouched() -> None:
    seen = []

    def f(x: Value, scale: float, tag: str) -> Value:
        seen.append((type(scale), tag))
        return x * scale

    assert grad(f)(1.0, 3.0, "hi") == 3.0
    assert seen == [(float, "hi")]


def test_value_and_grad() -> None:
    assert value_and_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0) == (12.0, (4.0, 3.0))
    v, g = value_and_grad(lambda x: x.exp())(0.0)
    assert (v, g) == (1.0, 1.0)


def test_mixed_partials_are_symmetric() -> None:
    f = lambda x, y: (x * y).sin() + x**3 * y
    x, y = 0.4, -1.3
    dxy = grad(grad(f, 0), 1)(x, y)
    dyx = grad(grad(f, 1), 0)(x, y)
    exact = math.cos(x * y) - x * y * math.sin(x * y) + 3 * x * x
    assert_close(dxy, exact, atol=1e-12, rtol=1e-12)
    assert_close(dyx, exact, atol=1e-12, rtol=1e-12)


def test_hessian_closed_form() -> None:
    assert hessian(lambda x: x**3)(2.0) == 12.0
    assert hessian(lambda x, y: x * x * y, argnums=(0, 1))(1.0, 2.0) == ((4.0, 2.0), (2.0, 0.0))


@given(x=reals(-2, 2), y=reals(-2, 2))
def test_hessian_matches_finite_differences_of_the_gradient(x: float, y: float) -> None:
    f = lambda a, b: (a * b).tanh() + (a - b).sin() * b.exp()
    h = hessian(f, argnums=(0, 1))(x, y)
    g = grad(f, argnums=(0, 1))
    for i in range(2):
        for j in range(2):
            assert_close(h[i][j], fd(lambda a, b, i=i: g(a, b)[i], [x, y], j), atol=1e-6)
    assert_close(h[0][1], h[1][0], atol=1e-12, rtol=1e-12)  # equal up to rounding order


@given(x=reals(-2, 2))
def test_second_derivative_of_every_smooth_method_matches_fd(x: float) -> None:
    methods = ["tanh", "exp", "sigmoid", "softplus", "gelu", "silu", "sin", "cos", "erf"]
    for m in methods:
        f = lambda v, m=m: getattr(v, m)()
        g = grad(f)
        assert_close(grad(g)(x), fd(g, [x], 0), atol=1e-6)


@given(x=reals(-2, 2), y=reals(-2, 2), u=reals(-1, 1), v=reals(-1, 1))
def test_hvp_is_the_hessian_times_the_vector(x: float, y: float, u: float, v: float) -> None:
    f = lambda a, b: (a * b).sin() + a.exp() * b * b
    h = hessian(f, argnums=(0, 1))(x, y)
    hv = hvp(f, (x, y), (u, v))
    for i in range(2):
        assert_close(hv[i], h[i][0] * u + h[i][1] * v, atol=1e-12, rtol=1e-12)


def test_newtons_method_with_grad_of_grad() -> None:
    # minimise f(x) = x⁴ - 3x³ + 2: f' = 4x³ - 9x², f'' = 12x² - 18x; minimum at x = 9/4
    f = lambda x: x**4 - 3 * x**3 + 2
    df, d2f = grad(f), grad(grad(f))
    x = 3.0
    for _ in range(20):
        x -= df(x) / d2f(x)
    assert_close(x, 2.25, atol=1e-12, rtol=0)


# --- vjp and jacobian ---


def test_vjp_of_list_output() -> None:
    out, vjp_fn = vjp(lambda x, y: [x * y, x + y, 5.0], 2.0, 3.0)
    assert out == [6.0, 5.0, 5.0]
    assert vjp_fn([1.0, 0.0, 0.0]) == (3.0, 2.0)
    assert vjp_fn([0.0, 1.0, 0.0]) == (1.0, 1.0)
    assert vjp_fn([2.0, -1.0, 7.0]) == (5.0, 3.0)  # linear in the cotangent; reusable


def test_vjp_of_scalar_output_is_the_scaled_gradient() -> None:
    out, vjp_fn = vjp(lambda x: x * x, 3.0)
    assert out == 9.0
    assert vjp_fn(1.0) == (6.0,)
    assert vjp_fn(0.5) == (3.0,)


def test_jacobian_rows_and_scalar_case() -> None:
    f = lambda x, y: [x * y, x.sin(), y]
    assert jacobian(f, argnums=(0, 1))(2.0, 3.0) == [(3.0, 2.0), (math.cos(2.0), 0.0), (0.0, 1.0)]
    assert jacobian(f)(2.0, 3.0) == [3.0, math.cos(2.0), 0.0]
    assert jacobian(lambda x: x * x)(3.0) == 6.0


# --- composition and side effects ---


def test_a_value_input_gives_a_differentiable_value() -> None:
    x = Value(2.0)
    g = grad(lambda v: v**3)(x)  # 3x² as a graph in x
    assert isinstance(g, Value) and g.data == 12.0
    g.backward()
    assert x.grad == 12.0  # d(3x²)/dx = 6x


def test_an_inner_transform_may_close_over_the_outer_variable() -> None:
    # d/dx [ d/dy (x y²) at y = 1 ] = d/dx [2x] = 2
    assert grad(lambda x: grad(lambda y: x * y * y)(1.0))(2.0) == 2.0
    assert grad(lambda x: value_and_grad(lambda y: x * y)(3.0)[0])(2.0) == 3.0


def test_transforms_leave_every_visible_grad_untouched() -> None:
    w = Value(2.0)
    w.grad = 5.0
    x = Value(3.0)
    g1 = grad(lambda v: w * v * v)(1.5)  # 2 w v: a number in, a float out; w is a constant
    assert type(g1) is float and g1 == 6.0
    assert w.grad == 5.0
    g = grad(lambda v: w * v * v)(x)
    assert (w.grad, x.grad) == (5.0, 0.0)
    assert g.data == 12.0


def test_grad_works_inside_no_grad() -> None:
    with no_grad():
        assert grad(lambda x: x * x)(3.0) == 6.0
        assert hessian(lambda x: x**3)(1.0) == 6.0


def test_function_of_a_constant_has_zero_gradient() -> None:
    assert grad(lambda x: 3.0)(1.0) == 0.0
    assert grad(lambda x: Value(2.0) * 3.0)(1.0) == 0.0
    assert grad(lambda x: x.detach() * 2.0)(1.0) == 0.0
    assert grad(lambda x, y: x * 2.0, argnums=(0, 1))(1.0, 5.0) == (2.0, 0.0)


def test_custom_op_with_value_derivative_composes() -> None:
    @custom_op(derivative=lambda x: 3.0 * x * x)
    def cube(x: float) -> float:
        return x**3

    assert grad(lambda x: cube(x))(2.0) == 12.0
    assert hessian(lambda x: cube(x))(2.0) == 12.0


def test_second_order_through_a_float_only_function_is_refused() -> None:
    class Square(Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            (x,) = ctx.saved_values
            return g * 2 * x

    assert grad(lambda x: Square.apply(x))(3.0) == 6.0
    with pytest.raises(RuntimeError, match=r"Square has a backward on floats only"):
        hessian(lambda x: Square.apply(x))(3.0)


# --- bad usage ---


def test_grad_of_a_non_scalar_says_use_jacobian() -> None:
    with pytest.raises(
        TypeError, match=r"got a list of length 2; use chainrule.transforms.jacobian"
    ):
        grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match=r"got str 'x'"):
        grad(lambda x: "x")(1.0)


def test_bad_argnums() -> None:
    f = lambda x, y: x * y
    with pytest.raises(ValueError, match=r"argnums=2 is out of range for a call with 2"):
        grad(f, argnums=2)(1.0, 2.0)
    with pytest.raises(ValueError, match=r"repeats an argument"):
        grad(f, argnums=(0, 0))(1.0, 2.0)
    with pytest.raises(TypeError, match=r"argnums must be an int or a tuple of ints"):
        grad(f, argnums="0")(1.0, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"argnums is empty"):
        grad(f, argnums=())(1.0, 2.0)


def test_bad_arguments_and_functions() -> None:
    with pytest.raises(
        TypeError, match=r"grad: x is a str '1'; expected a number, a Value or a Dual"
    ):
        grad(lambda x: x)("1")
    with pytest.raises(TypeError, match=r"grad needs a function, got int"):
        grad(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"vjp needs at least one primal"):
        vjp(lambda x: x)
    with pytest.raises(ValueError, match=r"hvp needs one tangent per primal"):
        hvp(lambda x: x, (1.0,), ())
    _, vjp_fn = vjp(lambda x: [x, x], 1.0)
    with pytest.raises(ValueError, match=r"cotangent shaped like f's output"):
        vjp_fn(1.0)


def test_the_docs_page_runs() -> None:
    """Every python block of docs/howto/higher-order.md, in order, in one namespace."""
    namespace: dict[str, object] = {}
    for block in python_blocks((DOCS / "howto" / "higher-order.md").read_text()):
        exec(compile(block, "docs/howto/higher-order.md", "exec"), namespace)


# --- one type whatever the value; first order through Functions ---


@pytest.mark.parametrize(
    "f, at",
    [
        (lambda y: y * y, 0.3),
        (lambda y: y * 2.0, 0.3),
        (lambda y: y.relu(), 0.3),
        (lambda y: y.relu(), -0.3),
        (lambda y: 0.0**y, 0.3),
        (lambda y: 3.0, 0.3),
        (lambda y: y.sign(), -0.3),
    ],
)
def test_transforms_return_one_type_whatever_the_value(f: Any, at: float) -> None:
    g = grad(f)(Value(at))
    assert isinstance(g, Value)
    g.backward()  # works at every point, a structural zero included
    assert type(grad(f)(at)) is float
    value, g = value_and_grad(f)(Value(at))
    assert isinstance(value, Value) and isinstance(g, Value)
    assert type(grad(lambda x: x * Value(2.0))(3.0)) is float


def test_first_order_transforms_of_functions_work_everywhere() -> None:
    w = Value(5.0)
    assert grad(lambda x: Cube.apply(x) * w)(2.0) == 60.0  # closes over a Value
    assert grad(lambda x: value_and_grad(Cube.apply)(x)[0])(1.0) == 3.0  # JAX's invariance
    assert grad(lambda x: Cube.apply(x))(Value(2.0)).data == 12.0  # a Value argument
    with pytest.raises(RuntimeError, match=r"cannot be differentiated twice"):
        grad(grad(Cube.apply))(2.0)  # a genuinely nested derivative is refused
    with pytest.raises(RuntimeError, match=r"cannot be differentiated twice"):
        hessian(Cube.apply)(2.0)


def test_a_saliency_map_through_an_mlp_with_a_function() -> None:
    from chainrule.nn import MLP

    model = MLP(2, [3, 1])

    def score(a: Any, b: Any) -> Any:
        out = model([a, b])
        return Cube.apply(out) if not isinstance(out, list) else Cube.apply(out[0])

    saliency = grad(score, (0, 1))(0.3, -0.2)
    plain = grad(lambda a, b: (lambda o: o * o * o)(model([a, b])), (0, 1))(0.3, -0.2)
    assert saliency == pytest.approx(plain, rel=1e-12)
    assert all(p.grad == 0.0 for p in model.parameters())


def test_vjp_fn_takes_a_dual_cotangent() -> None:
    f = lambda x, y: [x * y.sin(), x + y]
    _, vjp_fn = vjp(f, 0.7, 1.3)
    from chainrule.dual import Dual

    got = vjp_fn([Dual(1.0, 2.0, 7), 0.5])
    plain, extra = vjp_fn([1.0, 0.5]), vjp_fn([2.0, 0.0])
    for d, p, e in zip(got, plain, extra):
        assert isinstance(d, Dual) and d.tag == 7
        assert (d.primal, d.tangent) == pytest.approx((p, e), rel=1e-15)
    # forward over reverse through vjp (autograd's test_compose_fwd_over_rev)
    hv = jvp(lambda x: vjp(lambda y: y.sin() * y, x)[1](1.0)[0], (0.7,), (1.0,))[1]
    assert hv == pytest.approx(hessian(lambda y: y.sin() * y)(0.7), rel=1e-15)
