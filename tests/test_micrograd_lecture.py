"""Karpathy's micrograd lecture run on chainrule: the manual step through the neuron.

The lecture builds one neuron, ``o = tanh(x1 w1 + x2 w2 + b)``, sets ``o.grad = 1.0`` and
calls ``_backward()`` node by node, in reverse topological order. ``LectureValue`` below is
the lecture's own engine (its ``tanh`` formula included), so the two are compared step by
step; the numbers agree with what the lecture's graph drawing shows (4 decimals) and with
the lecture's engine to rounding (chainrule's tanh is ``math.tanh``, one ulp apart here).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from chainrule import Value


class LectureValue:
    """The lecture's Value: a closure per node."""

    def __init__(self, data: float, _children: tuple[Any, ...] = (), _op: str = "") -> None:
        self.data, self.grad = data, 0.0
        self._backward: Any = lambda: None
        self._prev, self._op = set(_children), _op

    def __add__(self, other: LectureValue) -> LectureValue:
        out = LectureValue(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: LectureValue) -> LectureValue:
        out = LectureValue(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> LectureValue:
        x = self.data
        t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
        out = LectureValue(t, (self,), "tanh")

        def _backward() -> None:
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out


def neuron(cls: Any) -> dict[str, Any]:
    x1, x2, w1, w2, b = cls(2.0), cls(0.0), cls(-3.0), cls(1.0), cls(6.8813735870195432)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.tanh()
    return dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n, o=o)


def test_the_lectures_manual_backward_steps_give_the_lectures_numbers() -> None:
    ours, theirs = neuron(Value), neuron(LectureValue)
    for nodes in (ours, theirs):
        nodes["o"].grad = 1.0
        for name in ("o", "n", "b", "x1w1x2w2", "x2w2", "x1w1"):  # the lecture's order
            nodes[name]._backward()  # a leaf's (b) does nothing
    shown = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5, "n": 0.5, "o": 1.0}
    for name, grad in shown.items():
        assert f"{ours[name].grad:.4f}" == f"{grad:.4f}", name  # the lecture's drawing
        assert ours[name].grad == pytest.approx(theirs[name].grad, rel=1e-12, abs=1e-15), name
    assert f"{ours['o'].data:.4f}" == "0.7071"


def test_manual_steps_and_backward_agree() -> None:
    stepped, passed = neuron(Value), neuron(Value)
    stepped["o"].grad = 1.0
    for name in ("o", "n", "x1w1x2w2", "x2w2", "x1w1"):
        stepped[name]._backward()
    passed["o"].backward()
    for name in stepped:
        assert stepped[name].grad == passed[name].grad, name


def test_backward_step_accumulates_and_skips_masked_edges() -> None:
    x = Value(-1.0)
    y = x.relu()
    y.grad = math.inf
    y._backward()  # relu'(-1) is a structural zero: nothing flows, not even inf
    assert x.grad == 0.0
    z = x * 3.0
    z.grad = 2.0
    z._backward()
    z._backward()  # adds again, as micrograd's closures do
    assert x.grad == 12.0


def test_a_node_built_the_lectures_way_gets_its_gradient() -> None:
    a, b = Value(2.0), Value(3.0)
    c = Value(6.0, (a, b), "*")
    d = Value(math.tanh(6.0), (c,), "tanh")
    d.backward()
    assert c.grad == 1.0 - math.tanh(6.0) ** 2
    assert (a.grad, b.grad) == (3.0 * c.grad, 2.0 * c.grad)


@pytest.mark.parametrize("data, op", [(6.0, "**2"), (6.0, "mystery"), (7.0, "*"), (6.0, "tanh")])
def test_a_node_built_the_lectures_way_without_a_rule_is_refused(data: float, op: str) -> None:
    a, b = Value(2.0), Value(3.0)
    with pytest.raises(ValueError, match=r"no derivative rule.*custom_op.*Function"):
        Value(data, (a, b), op)
    with pytest.raises(TypeError, match=r"_children must be Values"):
        Value(6.0, (2.0, 3.0), "*")  # type: ignore[arg-type]
