"""Custom operations: Function.apply and @custom_op, checked by gradcheck and closed forms."""

from __future__ import annotations

import math
from typing import Any

import pytest
from graphs import Cube
from hypothesis import given
from oracle import assert_close, assert_matches_central_difference, reals
from test_docs import DOCS, python_blocks

import chainrule
from chainrule import GradcheckError, Value, gradcheck, no_grad
from chainrule.custom import Function, FunctionCtx, custom_op
from chainrule.dual import Dual, jvp
from chainrule.ops import OPS
from chainrule.transforms import grad


class ScaledHypot(Function):
    """scale · sqrt(a² + b²);  d/da = scale · a / r, d/db = scale · b / r; scale is a setting."""

    @staticmethod
    def forward(ctx: FunctionCtx, a: float, b: float, scale: float) -> float:
        r = math.hypot(a, b)
        ctx.save_for_backward(a, b, r)
        ctx.scale = scale
        return scale * r

    @staticmethod
    def backward(ctx: FunctionCtx, grad_out: float) -> tuple[Any, ...]:
        a, b, r = ctx.saved_values
        return grad_out * ctx.scale * a / r, grad_out * ctx.scale * b / r, None


class WrongCube(Cube):
    """The classic slip: forgets the power rule's factor 3."""

    @staticmethod
    def backward(ctx: FunctionCtx, grad_out: float) -> float:
        x: float
        (x,) = ctx.saved_values
        return grad_out * x * x


# --- Function ---


def test_apply_makes_one_node_with_the_value_arguments_as_parents() -> None:
    x = Value(2.0)
    y = Cube.apply(x)
    assert (y.data, y._prev, y._op) == (8.0, (x,), "Cube")
    y.backward()
    assert x.grad == 12.0


def test_settings_reach_forward_and_get_no_gradient() -> None:
    a, b = Value(3.0), Value(4.0)
    y = ScaledHypot.apply(a, b, 2.0)
    assert y.data == 10.0 and y._prev == (a, b)
    (y * y).backward()
    assert (a.grad, b.grad) == (2 * 10.0 * 2 * 3 / 5, 2 * 10.0 * 2 * 4 / 5)


@given(x=reals(-3, 3))
def test_gradcheck_accepts_a_correct_backward(x: float) -> None:
    assert gradcheck(lambda v: Cube.apply(v) * v.sin(), [x])
    assert_matches_central_difference(lambda v: Cube.apply(v.tanh()) + v, [x])


def test_gradcheck_catches_a_wrong_backward() -> None:
    with pytest.raises(GradcheckError, match=r"MISMATCH"):
        gradcheck(lambda v: WrongCube.apply(v), [1.5])


def test_gradcheck_of_a_two_input_function() -> None:
    assert gradcheck(lambda a, b: ScaledHypot.apply(a, b, 0.5), [1.2, -0.7])


def test_needs_input_grad_and_constant_inputs() -> None:
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, a: float, b: float) -> float:
            seen.append(ctx.needs_input_grad)
            return a * b

        @staticmethod
        def backward(ctx: FunctionCtx, g: float) -> tuple[float, float]:
            return g, g

    Probe.apply(Value(1.0), Value(2.0, requires_grad=False))
    assert seen == [(True, False)]


def test_no_grad_and_plain_numbers() -> None:
    with no_grad():
        y = Cube.apply(Value(2.0))
    assert y.data == 8.0 and y._prev == () and not y.requires_grad
    assert Cube.apply(2.0) == 8.0  # numbers in, a number out


def test_function_works_in_forward_mode() -> None:
    assert jvp(lambda x: Cube.apply(x), (2.0,), (1.0,)) == (8.0, 12.0)
    out, t = jvp(lambda a, b: ScaledHypot.apply(a, b, 2.0), (3.0, 4.0), (1.0, 1.0))
    assert (out, t) == (10.0, 2.0 * 3 / 5 + 2.0 * 4 / 5)


def test_second_order_is_refused_with_advice() -> None:
    x = Value(2.0)
    Cube.apply(x).backward(create_graph=True)  # the first derivative works
    assert isinstance(x.grad, Value) and x.grad.data == 12.0
    with pytest.raises(RuntimeError, match=r"use chainrule.custom.custom_op"):
        x.grad.backward()  # the second is refused, not silently 0


def test_bad_forward_and_backward_results() -> None:
    class NoNumber(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, x: float) -> Any:
            return [x]

    class TooMany(Cube):
        @staticmethod
        def backward(ctx: FunctionCtx, g: float) -> Any:
            return g, g

    class NotANumber(Cube):
        @staticmethod
        def backward(ctx: FunctionCtx, g: float) -> Any:
            return "3"

    with pytest.raises(TypeError, match=r"NoNumber.forward must return a real number.*got list"):
        NoNumber.apply(Value(1.0))
    with pytest.raises(ValueError, match=r"returned 2 gradient.*for 1 argument"):
        TooMany.apply(Value(1.0)).backward()
    with pytest.raises(TypeError, match=r"NotANumber.backward must return numbers.*got str"):
        NotANumber.apply(Value(1.0)).backward()
    with pytest.raises(NotImplementedError, match=r"must define forward"):
        Function.apply(Value(1.0))


def test_subclasses_get_their_own_op_names() -> None:
    assert Cube.apply(Value(1.0))._op == "Cube"
    assert WrongCube.apply(Value(1.0))._op == "WrongCube"
    assert "Cube" not in OPS  # Functions are not registered anywhere: names only label nodes


def test_a_function_or_custom_op_named_like_a_builtin_keeps_its_own_derivative() -> None:
    @custom_op(derivative=lambda x, a: (10.0, 0.0), name="leaky_relu")
    def fake(x: float, a: float) -> float:
        return x

    x = Value(2.0)
    fake(x, 0.1).backward()
    assert x.grad == 10.0 and OPS["leaky_relu"].forward(-1.0, 0.1) == -0.1
    y = Value(2.0)
    y.leaky_relu(0.1).backward()
    assert y.grad == 1.0


def test_custom_ops_in_a_loop_leave_the_ops_table_unchanged() -> None:
    before = dict(OPS)

    def make(k: int) -> Any:
        return custom_op(derivative=lambda x: float(k), name="scaled")(lambda x: k * x)

    for k in range(2000):
        scaled = make(k)
        x = Value(1.0)
        scaled(x).backward()
        assert x.grad == float(k)
    assert before == OPS


# --- custom_op ---


@custom_op(derivative=lambda x, out: 1.0 - out * out)
def my_tanh(x: float) -> float:
    return math.tanh(x)


@custom_op(derivative=lambda x, y: (y * chainrule.cos(x), chainrule.sin(x)))
def y_sin_x(x: float, y: float) -> float:
    return y * math.sin(x)


def test_custom_op_on_values_floats_and_duals() -> None:
    x = Value(0.5)
    y = my_tanh(x)
    assert (y.data, y._prev, y._op) == (math.tanh(0.5), (x,), "my_tanh")
    y.backward()
    assert x.grad == 1.0 - math.tanh(0.5) ** 2
    assert my_tanh(0.5) == math.tanh(0.5)
    assert jvp(lambda v: my_tanh(v), (0.5,), (2.0,)) == (math.tanh(0.5), x.grad * 2.0)


@given(a=reals(-3, 3), b=reals(-3, 3))
def test_custom_op_passes_gradcheck(a: float, b: float) -> None:
    assert gradcheck(lambda u, v: y_sin_x(u, v) + my_tanh(u * v), [a, b])


def test_numbers_mixed_with_values_become_constants() -> None:
    x = Value(0.3)
    y = y_sin_x(x, 2.0)
    assert y._prev[0] is x and not y._prev[1].requires_grad
    y.backward()
    assert x.grad == 2.0 * math.cos(0.3)


def test_custom_op_second_derivative() -> None:
    x = Value(0.4)
    y_sin_x(x, 1.5).backward(create_graph=True)
    g = x.grad  # 1.5 cos x, as a Value
    x.zero_grad()
    g.backward()
    assert_close(x.grad, -1.5 * math.sin(0.4), atol=1e-15, rtol=1e-15)


def test_wrong_derivative_is_caught_by_gradcheck() -> None:
    @custom_op(derivative=lambda x: math.cos(x) + 0.01)
    def sloppy_sin(x: float) -> float:
        return math.sin(x)

    with pytest.raises(GradcheckError, match=r"MISMATCH"):
        gradcheck(lambda v: sloppy_sin(v), [0.3])


def test_float_only_derivative_explains_create_graph() -> None:
    @custom_op(derivative=lambda x: math.cos(x))
    def sin_f(x: float) -> float:
        return math.sin(x)

    x = Value(0.2)
    sin_f(x).backward()
    assert x.grad == math.cos(0.2)
    with pytest.raises(TypeError, match=r"write it with chainrule functions"):
        sin_f(x).backward(create_graph=True)


def test_custom_op_bad_usage() -> None:
    @custom_op(derivative=lambda x, y: 1.0)
    def add(x: float, y: float) -> float:
        return x + y

    with pytest.raises(TypeError, match=r"add\(\): missing a required argument: 'y'"):
        add(Value(1.0))
    with pytest.raises(TypeError, match=r"add\(\): got an unexpected keyword argument 'z'"):
        add(Value(1.0), 2.0, z=3.0)
    with pytest.raises(ValueError, match=r"returned 1 partial.*for 2 input"):
        add(Value(1.0), Value(2.0)).backward()  # partials are computed when backward runs
    with pytest.raises(TypeError, match=r"unsupported operand|can only concatenate"):
        add(Value(1.0), "2")  # a string is passed through to forward, which refuses it
    with pytest.raises(TypeError, match=r"custom_op needs a callable derivative"):
        custom_op(derivative=3.0)  # type: ignore[arg-type]


def test_redefined_ops_are_distinct_ops_with_the_same_label() -> None:
    def make() -> Any:
        @custom_op(derivative=lambda x: 2.0 * x, name="square_twice")
        def sq(x: float) -> float:
            return x * x

        return sq

    first, second = make(), make()
    assert first.name == second.name == "square_twice" and first.op is not second.op
    assert second(Value(3.0))._op == "square_twice" and "square_twice" not in OPS


def test_the_docs_page_runs() -> None:
    """Every python block of docs/howto/custom-ops-in-depth.md, in order, in one namespace."""
    namespace: dict[str, object] = {}
    for block in python_blocks((DOCS / "howto" / "custom-ops-in-depth.md").read_text()):
        exec(compile(block, "docs/howto/custom-ops-in-depth.md", "exec"), namespace)


# --- PyTorch's conventions: trailing Nones, several outputs ---


def test_backward_may_return_trailing_nones_for_extras() -> None:
    class Scaled(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, x: float) -> float:
            return 3.0 * x

        @staticmethod
        def backward(ctx: FunctionCtx, g: float) -> Any:
            return g * 3.0, None, None  # PyTorch accepts Nones beyond the inputs

    x = Value(2.0)
    Scaled.apply(x).backward()
    assert x.grad == 3.0


def test_a_trailing_number_beyond_the_inputs_is_still_refused() -> None:
    class Extra(Cube):
        @staticmethod
        def backward(ctx: FunctionCtx, g: float) -> Any:
            return g, None, 1.0

    with pytest.raises(ValueError, match=r"returned 3 gradient.*for 1 argument"):
        Extra.apply(Value(1.0)).backward()


class SinCos(Function):
    """Two outputs: (sin x, cos x); backward gets one adjoint per output."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: float) -> tuple[float, float]:
        ctx.save_for_backward(x)
        return math.sin(x), math.cos(x)

    @staticmethod
    def backward(ctx: FunctionCtx, g_sin: float, g_cos: float) -> float:
        (x,) = ctx.saved_values
        return g_sin * math.cos(x) - g_cos * math.sin(x)


def test_a_function_with_two_outputs() -> None:
    x = Value(0.3)
    s, c = SinCos.apply(x)
    assert (s.data, c.data) == (math.sin(0.3), math.cos(0.3))
    (2.0 * s + 5.0 * c).backward()
    assert math.isclose(x.grad, 2.0 * math.cos(0.3) - 5.0 * math.sin(0.3))
    assert SinCos.apply(0.3) == (math.sin(0.3), math.cos(0.3))


def test_a_function_with_two_outputs_in_forward_mode() -> None:
    s, c = SinCos.apply(Dual(0.3, 2.0))
    assert math.isclose(s.tangent, 2.0 * math.cos(0.3))
    assert math.isclose(c.tangent, -2.0 * math.sin(0.3))


def test_a_call_may_omit_arguments_that_have_defaults() -> None:
    @custom_op(derivative=lambda x, k: (k, x))
    def scale(x: float, k: float = 2.0) -> float:
        return k * x

    x = Value(3.0)
    y = scale(x)
    y.backward()
    assert (y.data, x.grad) == (6.0, 2.0)
    assert scale(3.0) == 6.0 and scale(Value(3.0), 4.0).data == 12.0
    with pytest.raises(TypeError, match=r"scale\(\): missing a required argument: 'x'"):
        scale()
    with pytest.raises(TypeError, match=r"scale\(\): too many positional arguments"):
        scale(1.0, 2.0, 3.0)


# --- forward mode through the one forward rule ---


def test_a_function_with_its_own_jvp_uses_it_in_forward_mode() -> None:
    calls: list[tuple[float, ...]] = []

    class Scale(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, x: float, k: float) -> float:
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx: FunctionCtx, g: float) -> tuple[float, None]:
            raise AssertionError("forward mode must use jvp")

        @staticmethod
        def jvp(ctx: FunctionCtx, tx: float, tk: float) -> float:
            calls.append((tx, tk))
            return float(tx * ctx.k)

    assert jvp(lambda x: Scale.apply(x, 3.0), (2.0,), (0.5,)) == (6.0, 1.5)
    assert calls == [(0.5, 0.0)]


def test_forward_mode_of_a_function_with_two_outputs_and_a_masked_argument() -> None:
    class SumAndProduct(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, a: float, b: float) -> tuple[float, float]:
            ctx.save_for_backward(a, b)
            return a + b, a * b

        @staticmethod
        def backward(ctx: FunctionCtx, gs: float, gp: float) -> tuple[float, float]:
            a, b = ctx.saved_values
            return gs + gp * b, gs + gp * a

    out, tangent = jvp(lambda a, b: list(SumAndProduct.apply(a, b)), (2.0, 3.0), (1.0, 0.0))
    assert out == [5.0, 6.0] and tangent == [1.0, 3.0]
    assert grad(lambda a: SumAndProduct.apply(a, 3.0)[1] * 2.0)(2.0) == 6.0


def test_a_function_inside_reverse_over_forward_refuses_only_the_second_derivative() -> None:
    # jvp of a Function is first order: its tangent, differentiated again, is refused
    with pytest.raises(RuntimeError, match=r"cannot be differentiated twice"):
        grad(lambda x: jvp(Cube.apply, (x,), (1.0,))[1])(2.0)
    assert grad(lambda x: jvp(Cube.apply, (x,), (1.0,))[0])(2.0) == 12.0


# --- keyword arguments and arguments that are not numbers ---


def _wave_derivative(x: Any, mode: str, c: Any = 2.0, *, squash: Any = None) -> Any:
    """d/dx and d/dc of wave (with chainrule's functions, so it differentiates again)."""
    if mode == "sin":
        parts = (c * chainrule.cos(c * x), x * chainrule.cos(c * x))
    else:
        parts = (-c * chainrule.sin(c * x), -x * chainrule.sin(c * x))
    return parts if squash is None else tuple(squash(p) for p in parts)


@custom_op(derivative=_wave_derivative)
def wave(x: float, mode: str, c: float = 2.0, *, squash: Any = None) -> float:
    """sin(c x) or cos(c x) as ``mode`` says; ``squash`` (a callable) is a scale, say."""
    y = math.sin(c * x) if mode == "sin" else math.cos(c * x)
    return y if squash is None else squash(y)


def test_custom_op_takes_keywords_and_arguments_that_are_not_numbers() -> None:
    assert wave(1.0, "sin") == math.sin(2.0)
    assert wave(1.0, mode="cos", c=3.0) == math.cos(3.0)
    x = Value(1.0)
    wave(x, "cos", c=3.0).backward()
    assert x.grad == -3.0 * math.sin(3.0)
    # a numeric keyword naming a positional parameter is an input: it gets its gradient
    g_x, g_c = grad(lambda x, c: wave(x, "sin", c=c), argnums=(0, 1))(1.0, 3.0)
    assert (g_x, g_c) == (3.0 * math.cos(3.0), math.cos(3.0))
    # a keyword-only callable rides along, ungraded, into forward and derivative
    double = lambda v: 2.0 * v
    assert grad(lambda x: wave(x, "sin", squash=double))(0.5) == 2.0 * 2.0 * math.cos(1.0)
    assert jvp(lambda x: wave(x, "sin", c=3.0), (0.5,), (1.0,))[1] == 3.0 * math.cos(1.5)


def test_custom_op_with_non_numbers_has_its_second_derivative() -> None:
    h = chainrule.transforms.hessian(lambda x: wave(x, "cos", c=3.0))(1.0)
    assert h == pytest.approx(-9.0 * math.cos(3.0), rel=1e-15)
    assert grad(grad(lambda x: wave(x, mode="sin")))(0.5) == pytest.approx(-4.0 * math.sin(1.0))


def test_custom_op_with_non_numbers_compiles_when_they_are_constants_of_f() -> None:
    compiled = chainrule.compile(lambda x: wave(x, "cos", c=3.0))
    for x0 in (1.0, 0.5, -2.0):
        value, (g,) = compiled(x0)
        assert (value, g) == (math.cos(3.0 * x0), -3.0 * math.sin(3.0 * x0))


def test_compile_refuses_an_argument_that_is_not_a_number_by_its_position() -> None:
    compiled = chainrule.compile(lambda x, mode: wave(x, mode))
    with pytest.raises(
        TypeError, match=r"argument 1 of the compiled function needs a real number, got str 'sin'"
    ):
        compiled(1.0, "sin")


def test_keyword_errors_name_the_op() -> None:
    with pytest.raises(TypeError, match=r"wave\(\): keyword-only argument squash=Value.* no grad"):
        wave(Value(1.0), "sin", squash=Value(2.0))
    with pytest.raises(TypeError, match=r"wave\(\): missing a required argument: 'mode'"):
        wave(Value(1.0))


class Act(Function):
    """scale · sin(x) or scale · tanh(x) as ``kind`` says, and which sign it has (an index)."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: float, kind: str, *, scale: float = 1.0) -> Any:
        ctx.save_for_backward(x)
        ctx.kind, ctx.scale = kind, scale
        y = scale * (math.sin(x) if kind == "sin" else math.tanh(x))
        sign = 1 if y > 0 else 0
        ctx.mark_non_differentiable(sign)
        return y, sign

    @staticmethod
    def backward(ctx: FunctionCtx, g: float, g_sign: float) -> tuple[Any, ...]:
        (x,) = ctx.saved_values
        slope = math.cos(x) if ctx.kind == "sin" else 1.0 - math.tanh(x) ** 2
        return g * ctx.scale * slope, None  # None: kind is not a number


def test_function_takes_keywords_and_non_numbers_and_marks_an_output() -> None:
    x = Value(0.5)
    y, sign = Act.apply(x, "sin", scale=2.0)
    assert (sign.data, sign.requires_grad, sign._prev) == (1.0, False, ())
    y.backward()
    assert x.grad == 2.0 * math.cos(0.5)
    g = grad(lambda v: Act.apply(v, kind="tanh", scale=3.0)[0])(0.5)
    assert g == 3.0 * (1.0 - math.tanh(0.5) ** 2)
    assert jvp(lambda v: Act.apply(v, "sin")[0], (0.5,), (1.0,)) == (math.sin(0.5), math.cos(0.5))
    assert Act.apply(0.5, "sin") == (math.sin(0.5), 1)  # numbers in, numbers out
    assert grad(lambda v: Act.apply(v, "sin")[1] * v)(0.5) == 1.0  # the mark: a constant 1
    with pytest.raises(TypeError, match=r"Act.apply\(\): got an unexpected keyword .*'shift'"):
        Act.apply(x, "sin", shift=1.0)
    with pytest.raises(TypeError, match=r"keyword-only argument scale=Value.* no gradient"):
        Act.apply(x, "sin", scale=Value(2.0))


def test_marking_an_object_forward_did_not_return_is_an_error() -> None:
    class Bad(Function):
        @staticmethod
        def forward(ctx: FunctionCtx, x: float) -> float:
            ctx.mark_non_differentiable(object())
            return 2.0 * x

        @staticmethod
        def backward(ctx: FunctionCtx, g: float) -> float:
            return 2.0 * g

    with pytest.raises(ValueError, match=r"Bad: ctx.mark_non_differentiable got .* none of"):
        Bad.apply(Value(1.0))
