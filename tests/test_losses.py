"""Losses against closed forms and against central differences.

Tolerances: the shared oracle (``tests/oracle.py``) compares with central differences at
eps = 1e-6 within ``1e-5 + 1e-4 |numeric|``, far below the O(1) error of a wrong formula.
Closed forms computed in floats agree to rounding, so they are compared at 1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_matches_central_difference, reals

from chainrule import Value, no_grad
from chainrule.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge,
    l2_penalty,
    mse,
)
from chainrule.ops import OPS

finite = reals()
SETTINGS = settings(max_examples=40, deadline=None)


def _softmax(z: list[float]) -> list[float]:
    m = max(z)
    e = [math.exp(x - m) for x in z]
    return [x / sum(e) for x in e]


def _grads(loss_fn: Callable[[list[Value]], Value], xs: list[float]) -> tuple[float, list[float]]:
    leaves = [Value(x) for x in xs]
    loss = loss_fn(leaves)
    loss.backward()
    return loss.data, [leaf.grad for leaf in leaves]


# --- mse ---


def test_mse_closed_form() -> None:
    loss, grads = _grads(lambda p: mse(p, [0.0, 1.0, -1.0]), [1.0, 3.0, -1.0])
    assert loss == pytest.approx((1 + 4 + 0) / 3, abs=1e-12)
    assert grads == pytest.approx([2 * 1 / 3, 2 * 2 / 3, 0.0], abs=1e-12)
    assert mse(Value(2.0), 0.5).data == pytest.approx(2.25)
    assert mse([1.0, 2.0], [0.0, 0.0], reduction="sum").data == pytest.approx(5.0)


@SETTINGS
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=5))
def test_mse_gradient_matches_central_differences(pairs: list[tuple[float, float]]) -> None:
    targets = [t for _, t in pairs]
    assert_matches_central_difference(lambda *p: mse(list(p), targets), [p for p, _ in pairs])


# --- hinge ---


def test_hinge_closed_form_and_subgradient() -> None:
    # margins 1 - y s: -1 (outside: no loss), 0.5, 1.3 (inside) and 1 - (-1)(0.2) = 1.2
    loss, grads = _grads(lambda s: hinge(s, [1, 1, 1, -1]), [2.0, 0.5, -0.3, 0.2])
    assert loss == pytest.approx((0 + 0.5 + 1.3 + 1.2) / 4, abs=1e-12)
    assert grads == pytest.approx([0.0, -0.25, -0.25, 0.25], abs=1e-12)
    assert hinge([0.0], [1], margin=2.0).data == pytest.approx(2.0)


@SETTINGS
@given(st.lists(st.tuples(finite, st.sampled_from([-1, 1])), min_size=1, max_size=5))
def test_hinge_gradient_matches_central_differences_away_from_the_kink(
    pairs: list[tuple[float, float]],
) -> None:
    scores = [s if abs(1 - y * s) > 1e-3 else s + 0.01 for s, y in pairs]
    labels = [y for _, y in pairs]
    assert_matches_central_difference(lambda *s: hinge(list(s), labels), scores)


def test_hinge_rejects_zero_one_labels() -> None:
    with pytest.raises(ValueError, match=r"labels -1 or \+1, got 0.0; map 0/1 labels"):
        hinge([0.3, 0.1], [0, 1])


# --- binary cross entropy with logits ---


@SETTINGS
@given(finite, st.floats(0.0, 1.0))
def test_bce_equals_the_textbook_formula_and_its_gradient_is_sigmoid_minus_y(
    z: float, y: float
) -> None:
    s = 1.0 / (1.0 + math.exp(-z))
    loss, (grad,) = _grads(lambda v: binary_cross_entropy_with_logits(v, [y]), [z])
    assert loss == pytest.approx(-(y * math.log(s) + (1 - y) * math.log(1 - s)), abs=1e-9)
    assert grad == pytest.approx(s - y, abs=1e-12)


def test_bce_is_stable_for_huge_logits() -> None:
    loss, grads = _grads(lambda z: binary_cross_entropy_with_logits(z, [0.0, 1.0]), [800.0, 800.0])
    assert loss == pytest.approx(800.0 / 2, rel=1e-12)  # (800 + 0) / 2
    assert grads == pytest.approx([0.5, 0.0], abs=1e-12)
    loss, grads = _grads(lambda z: binary_cross_entropy_with_logits(z, 1.0), [-800.0])
    assert loss == pytest.approx(800.0, rel=1e-12) and grads == pytest.approx([-1.0])


@SETTINGS
@given(st.lists(st.tuples(finite, st.floats(0.0, 1.0)), min_size=1, max_size=4))
def test_bce_gradient_matches_central_differences(pairs: list[tuple[float, float]]) -> None:
    ys = [y for _, y in pairs]
    f = lambda *z: binary_cross_entropy_with_logits(list(z), ys)
    assert_matches_central_difference(f, [z for z, _ in pairs])


def test_bce_rejects_targets_outside_zero_one() -> None:
    with pytest.raises(ValueError, match=r"targets in \[0, 1\], got 2.0"):
        binary_cross_entropy_with_logits([0.0], [2.0])


# --- cross entropy ---


@SETTINGS
@given(st.lists(finite, min_size=1, max_size=6), st.data())
def test_cross_entropy_is_minus_log_softmax_and_grad_is_softmax_minus_onehot(
    z: list[float], data: st.DataObject
) -> None:
    t = data.draw(st.integers(0, len(z) - 1))
    loss, grads = _grads(lambda v: cross_entropy(v, t), z)
    p = _softmax(z)
    assert loss == pytest.approx(-math.log(p[t]), abs=1e-12)
    assert grads == pytest.approx([pi - (i == t) for i, pi in enumerate(p)], abs=1e-12)


@SETTINGS
@given(st.lists(finite, min_size=2, max_size=5), st.data())
def test_cross_entropy_gradient_matches_central_differences(
    z: list[float], data: st.DataObject
) -> None:
    t = data.draw(st.integers(0, len(z) - 1))
    assert_matches_central_difference(lambda *v: cross_entropy(list(v), t), z)


def test_cross_entropy_is_one_fused_node_over_the_logits() -> None:
    z = [Value(1.0), Value(2.0), Value(3.0)]
    loss = cross_entropy(z, 2)
    assert loss._op == "cross_entropy" and loss._prev[:3] == tuple(z)
    assert "cross_entropy" in OPS


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    loss, grads = _grads(lambda v: cross_entropy(v, 1), [1000.0, 0.0, -1000.0])
    assert loss == pytest.approx(1000.0, rel=1e-12)
    assert grads == pytest.approx([1.0, -1.0, 0.0], abs=1e-12)
    loss, grads = _grads(lambda v: cross_entropy(v, 0), [1000.0, 0.0, -1000.0])
    assert loss == pytest.approx(0.0, abs=1e-12) and grads == pytest.approx([0.0, 0.0, 0.0])


def test_cross_entropy_with_soft_targets() -> None:
    z = [0.5, -1.0, 2.0]
    y = [0.2, 0.3, 0.5]
    loss, grads = _grads(lambda v: cross_entropy(v, y), z)
    p = _softmax(z)
    assert loss == pytest.approx(-sum(yi * math.log(pi) for yi, pi in zip(y, p, strict=True)))
    assert grads == pytest.approx([pi - yi for pi, yi in zip(p, y, strict=True)], abs=1e-12)


def test_cross_entropy_over_a_batch_is_the_mean() -> None:
    rows = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    batch = cross_entropy(rows, [0, 2])
    each = [cross_entropy(r, t).data for r, t in zip(rows, [0, 2], strict=True)]
    assert batch.data == pytest.approx(sum(each) / 2, abs=1e-12)
    assert cross_entropy(rows, [0, 2], reduction="sum").data == pytest.approx(sum(each))


def test_cross_entropy_second_derivative_is_the_softmax_jacobian() -> None:
    # d2 loss / dz_i dz_j = p_i (delta_ij - p_j), independent of the target
    zs = [0.3, -0.7, 1.1]
    p = _softmax(zs)
    z = [Value(x) for x in zs]
    cross_entropy(z, 1).backward(create_graph=True)
    g0 = z[0].grad
    assert isinstance(g0, Value) and g0.data == pytest.approx(p[0], abs=1e-12)
    for v in z:
        v.grad = 0.0
    g0.backward()
    hessian_row = [v.grad for v in z]
    expected = [p[0] * ((j == 0) - p[j]) for j in range(3)]
    assert hessian_row == pytest.approx(expected, abs=1e-12)


def test_cross_entropy_under_no_grad_builds_no_graph() -> None:
    z = [Value(1.0), Value(2.0)]
    with no_grad():
        loss = cross_entropy(z, 0)
    assert loss._prev == () and not loss.requires_grad
    assert loss.data == pytest.approx(math.log(1 + math.e))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: cross_entropy([1.0, 2.0], 2), ValueError, "class index 2 out of range for 2"),
        (lambda: cross_entropy([1.0, 2.0], [1.0]), ValueError, "2 logits but a target of len"),
        (lambda: cross_entropy([1.0, 2.0], 1.0), TypeError, "int class index"),  # type: ignore[arg-type]
        (lambda: cross_entropy([[1.0], [2.0]], [0]), ValueError, "2 samples but 1 targets"),
        (lambda: cross_entropy([], []), ValueError, "empty"),
        (lambda: mse([1.0, 2.0], [1.0]), ValueError, "2 predictions but 1 targets"),
        (lambda: mse([], []), ValueError, "empty"),
        (lambda: mse([1.0], [1.0], reduction="max"), ValueError, "reduction"),  # type: ignore[arg-type]
    ],
)
def test_errors_say_what_was_given(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


# --- L2 ---


def test_l2_penalty_value_and_gradient() -> None:
    loss, grads = _grads(lambda p: l2_penalty(p, alpha=0.5), [1.0, -2.0, 3.0])
    assert loss == pytest.approx(0.5 * 14.0)
    assert grads == pytest.approx([1.0, -2.0, 3.0])  # 2 alpha p
    with pytest.raises(ValueError, match="no parameters"):
        l2_penalty([])


def test_numpy_targets_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    z = [Value(1.0), Value(2.0), Value(0.5)]
    want = cross_entropy(z, 1).data
    assert cross_entropy(z, np.int64(1)).data == want
    assert cross_entropy([z, z], np.array([1, 1])).data == want
    assert cross_entropy([np.float32(1.0), 2.0, 0.5], np.int32(1)).data == pytest.approx(want)
    assert hinge([Value(0.5)], [np.int64(-1)]).data == hinge([Value(0.5)], [-1]).data
    assert hinge(Value(0.5), np.int64(-1)).data == 1.5  # one sample, a numpy label
    with pytest.raises(TypeError, match="int class index"):
        cross_entropy(z, np.float64(1.0))
