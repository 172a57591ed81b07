"""chainrule.autograd (grad, backward) and Value's in-place methods, against PyTorch's semantics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from oracle import assert_close, reals

import chainrule
from chainrule import Value, autograd, no_grad


def test_grad_returns_the_gradients_and_writes_no_grad() -> None:
    x, w = Value(2.0), Value(3.0)
    y = (x * w).tanh()
    x.grad = 7.0  # whatever was there stays there
    gx, gw = autograd.grad(y, [x, w])
    t = math.tanh(6.0)
    assert (gx, gw) == (w.data * (1 - t * t), x.data * (1 - t * t))
    assert (x.grad, w.grad, y.grad) == (7.0, 0.0, 0.0)


def test_grad_with_an_interior_input_is_the_adjoint_there() -> None:
    x = Value(1.5)
    h = x * x
    y = h.sin() + h
    (gh,) = autograd.grad(y, h)
    assert gh == math.cos(2.25) + 1.0


def test_grad_outputs_weight_several_outputs() -> None:
    a, b = Value(2.0), Value(5.0)
    assert autograd.grad([a * b, a + b], [a, b], grad_outputs=[1.0, 10.0]) == (15.0, 12.0)
    assert autograd.grad([a * b, a * b], a) == (10.0,)  # the same root twice: seeds add


def test_unused_inputs_are_an_error_unless_allowed() -> None:
    a, b = Value(2.0), Value(5.0)
    with pytest.raises(RuntimeError, match=r"inputs\[1\] was not used.*allow_unused=True"):
        autograd.grad(a * a, [a, b])
    assert autograd.grad(a * a, [a, b], allow_unused=True) == (4.0, None)


def test_create_graph_gives_differentiable_gradients() -> None:
    x = Value(0.7)
    (g,) = autograd.grad(x * x.sin(), x, create_graph=True)
    assert isinstance(g, Value)
    (h,) = autograd.grad(g, x)
    assert_close(h, 2 * math.cos(0.7) - 0.7 * math.sin(0.7), atol=1e-12, rtol=1e-12)
    assert x.grad == 0.0


def test_grad_runs_hooks_as_pytorch_does() -> None:
    x = Value(2.0)
    h = x * 3.0
    h.register_hook(lambda g: g * 10.0)
    assert autograd.grad(h * h, x) == (360.0,)  # 2h · 10 · 3


def test_bad_arguments_say_what_was_given() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"inputs\[0\] must be a Value, got float"):
        autograd.grad(x * x, [1.0])  # type: ignore[list-item]
    with pytest.raises(RuntimeError, match=r"output 0 does not require grad"):
        autograd.grad(Value(1.0, requires_grad=False) * 2.0, x)
    with pytest.raises(RuntimeError, match=r"inputs\[0\] does not require grad"):
        autograd.grad(x * x, Value(1.0, requires_grad=False))
    with pytest.raises(ValueError, match=r"got 1 gradient\(s\) for 2 output\(s\)"):
        autograd.grad([x, x * x], x, grad_outputs=[1.0])
    with pytest.raises(ValueError, match=r"outputs is empty"):
        autograd.grad([], x)


@given(reals(-2.0, 2.0), reals(-2.0, 2.0), reals(-3.0, 3.0), reals(-3.0, 3.0))
def test_backward_of_several_roots_is_backward_of_their_weighted_sum(
    a: float, b: float, g1: float, g2: float
) -> None:
    x1, y1 = Value(a), Value(b)
    chainrule.backward([x1 * y1, (x1 + y1).tanh()], [g1, g2])
    x2, y2 = Value(a), Value(b)
    (g1 * (x2 * y2) + g2 * (x2 + y2).tanh()).backward()
    assert_close(x1.grad, x2.grad, atol=1e-12, rtol=1e-12)
    assert_close(y1.grad, y2.grad, atol=1e-12, rtol=1e-12)


def test_backward_accumulates_into_leaves_and_can_be_restricted() -> None:
    x, w = Value(2.0), Value(3.0)
    y = x * w
    chainrule.backward(y)
    chainrule.backward([y], [2.0])
    assert (x.grad, w.grad) == (9.0, 6.0)  # += across calls, as Value.backward
    x.grad = w.grad = 0.0
    chainrule.backward(y, inputs=[w])
    assert (x.grad, w.grad) == (0.0, 2.0)


def test_retain_grad_is_accepted_and_interior_nodes_keep_the_latest_adjoint() -> None:
    # PyTorch keeps an interior .grad only after retain_grad() and accumulates it; chainrule
    # shows every interior adjoint, from the latest call (its documented behaviour).
    x = Value(2.0)
    h = x * x
    h.retain_grad()
    assert h.retains_grad and not x.retains_grad
    y = 3.0 * h
    y.backward()
    y.backward()
    assert (h.grad, x.grad) == (3.0, 24.0)
    with pytest.raises(RuntimeError, match=r"retain_grad\(\) needs a Value that requires grad"):
        Value(1.0, requires_grad=False).retain_grad()


def test_requires_grad_underscore_on_leaves_only() -> None:
    c = Value(2.0, requires_grad=False)
    assert c.requires_grad_() is c and c.requires_grad
    y = c * c
    y.backward()
    assert c.grad == 4.0
    assert c.requires_grad_(False) is c and not c.requires_grad
    with pytest.raises(RuntimeError, match=r"requires_grad_\(False\) works on leaves only"):
        y.requires_grad_(False)
    assert y.requires_grad_(True) is y  # already true: allowed, as in PyTorch
    with pytest.raises(TypeError, match=r"requires_grad_ needs a bool, got 1"):
        c.requires_grad_(1)
    with no_grad():
        k = Value(1.0) * 2.0
    assert k.is_leaf and not k.requires_grad
    k.requires_grad_()
    (k * k).backward()
    assert k.grad == 4.0


def test_detach_underscore_cuts_in_place() -> None:
    x = Value(2.0)
    h = x * x
    assert h.detach_() is h
    assert (h.is_leaf, h.requires_grad, h._prev) == (True, False, ())
    y = h * x
    y.backward()
    assert x.grad == 4.0  # only the direct path: h is a constant now


# --- the pass between outputs and inputs only ---


def test_grad_runs_no_hook_below_its_inputs() -> None:
    x = Value(1.0)
    seen: list[float] = []
    x.register_hook(seen.append)
    a, b = x * 1.0, x * 1.0
    assert autograd.grad(a + 2 * b, [a, b]) == (1.0, 2.0)
    assert seen == []  # PyTorch stops at the inputs too
    assert autograd.grad(a + 2 * b, [x]) == (3.0,) and seen == [3.0]


class _Opaque(chainrule.Function):
    @staticmethod
    def forward(ctx: object, v: float) -> float:
        return 2.0 * v

    @staticmethod
    def backward(ctx: object, g: float) -> float:
        return 2.0 * g


class _NoGradient(chainrule.Function):
    @staticmethod
    def forward(ctx: object, v: float) -> float:
        return v

    @staticmethod
    def backward(ctx: object, g: float) -> None:
        return None


def test_a_function_below_the_inputs_is_not_run_under_create_graph() -> None:
    x = Value(1.5)
    a = _Opaque.apply(x)  # below the input a: never reached
    (g,) = autograd.grad(a * a, [a], create_graph=True)
    assert isinstance(g, Value) and g.data == 6.0


def test_allow_unused_gives_none_where_no_gradient_reaches() -> None:
    z, u = Value(1.0), Value(2.0)
    assert autograd.grad(_NoGradient.apply(z), [z], allow_unused=True) == (None,)
    assert autograd.grad(_NoGradient.apply(z) + z * 0.0, [z, u], allow_unused=True) == (0.0, None)
    assert autograd.grad(_NoGradient.apply(z), [z]) == (0.0,)  # reached, by a masked edge


def test_backward_with_inputs_runs_only_above_them() -> None:
    x = Value(1.0)
    seen: list[float] = []
    x.register_hook(seen.append)
    a = x * 3.0
    w = Value(2.0)
    autograd.backward(a * w, inputs=[a])
    assert (a.grad, x.grad, w.grad, seen) == (2.0, 0.0, 0.0, [])
