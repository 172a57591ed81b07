"""The one door from a Value to a Python value: every read passes it, and the refusals name
their fix (the table in docs/concepts/numerical-stability.md)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from chainrule import Value
from chainrule.engine import READ_HOOKS, apply
from chainrule.ops import MUL

Read = tuple[Value, str, object, object]


@pytest.fixture
def reads() -> Iterator[list[Read]]:
    seen: list[Read] = []

    def hook(node: Value, how: str, other: object, result: object) -> None:
        seen.append((node, how, other, result))

    READ_HOOKS.append(hook)
    try:
        yield seen
    finally:
        READ_HOOKS.remove(hook)


def test_every_kind_of_read_passes_the_door(reads: list[Read]) -> None:
    x, y = Value(2.0), Value(3.0)
    cases: list[tuple[Callable[[], object], str, object, object]] = [
        (lambda: x.data, "data", None, 2.0),
        (lambda: x.item(), "item", None, 2.0),
        (lambda: x < y, "lt", y, True),
        (lambda: x <= 1, "le", 1, False),
        (lambda: x > 1.5, "gt", 1.5, True),
        (lambda: x >= y, "ge", y, False),
        (lambda: x == 2.0, "eq", 2.0, True),
        (lambda: x != y, "ne", y, True),
        (lambda: 3 < x, "gt", 3, False),  # noqa: SIM300 -- reflected: Python asks x > 3
        (lambda: bool(x), "bool", None, True),
        (lambda: f"{x:.1f}", "format", None, "2.0"),
    ]
    for read, how, other, result in cases:
        reads.clear()
        assert read() == result
        assert reads == [(x, how, other, result)], how


def test_max_min_sorted_and_membership_read_through_comparisons(reads: list[Read]) -> None:
    a, b = Value(1.0), Value(2.0)
    biggest, smallest, ordered = max(a, b), min(a, b), sorted([b, a])
    assert [how for _, how, _, _ in reads] == ["gt", "lt", "lt"]  # one comparison each
    assert biggest is b and smallest is a and ordered[0] is a and ordered[1] is b
    reads.clear()
    assert Value(1.0) in [a]  # the list asks ==
    assert [how for _, how, _, _ in reads] == ["eq"]
    reads.clear()
    assert Value(1.0) not in {a} and a in {a}  # the set asks the hash: identity, no read
    assert reads == []


def test_detach_and_repr_are_reads(reads: list[Read]) -> None:
    x = Value(2.0)
    copy = x.detach()
    assert reads == [(x, "detach", None, copy)] and copy.data == 2.0
    reads.clear()
    text = repr(x)
    assert reads == [(x, "repr", None, text)]


def test_the_engine_itself_reads_no_number_through_the_door(reads: list[Read]) -> None:
    a, b = Value(2.0), Value(3.0)
    c = apply(MUL, a, b) * 2.0 + a.tanh()
    c.backward()
    grads = (a.grad, b.grad)  # .grad is the adjoint, not the number
    c2 = a * b
    c2.backward(create_graph=True)
    assert reads == [] and grads[1] == 4.0


@pytest.mark.parametrize(
    ("convert", "how", "fix"),
    [
        (lambda x: float(x), "float", "x.data (or x.item())"),
        (lambda x: math.exp(x), "float", "math.exp(x.data)"),
        (lambda x: math.cos(x), "float", "x.cos()"),
        (lambda x: math.fsum([x]), "float", "math.fsum(x.data)"),
        (lambda x: int(x), "int", "int(x.data)"),
        (lambda x: round(x, 2), "round", "round(x.data, 2)"),
        (lambda x: round(x), "round", "round(x.data)"),
        (lambda x: math.floor(x), "floor", "math.floor(x.data)"),
        (lambda x: math.ceil(x), "ceil", "math.ceil(x.data)"),
        (lambda x: math.trunc(x), "trunc", "math.trunc(x.data)"),
    ],
)
def test_conversions_that_cut_the_graph_name_their_fix(
    reads: list[Read], convert: Callable[[Value], Any], how: str, fix: str
) -> None:
    x = Value(0.5)
    with pytest.raises(TypeError, match="would cut it from the graph") as info:
        convert(x)
    assert fix in str(info.value)
    assert [(node, kind) for node, kind, _, _ in reads if kind != "repr"] == [(x, how)]


def test_math_names_the_function_actually_called() -> None:
    loss = Value(0.5)
    with pytest.raises(TypeError, match=r"^math\.exp\(\) of a Value.*x\.exp\(\)"):
        math.exp(loss)
    with pytest.raises(TypeError, match=r"^math\.log\(\) of a Value"):
        math.log(loss)
    with pytest.raises(TypeError, match=r"^float\(\) of a Value"):
        _ = "%f" % loss  # noqa: UP031 -- no call to name: the generic message


def test_grad_is_checked_on_assignment_as_data_is() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"Value\.grad needs a float.*str 'abc'"):
        x.grad = "abc"
    with pytest.raises(TypeError, match="NoneType"):
        x.grad = None
    assert x.grad == 0.0  # a failed assignment changes nothing
    x.grad = 2
    assert type(x.grad) is float and x.grad == 2.0
    x.grad = np.float32(0.5)
    assert type(x.grad) is float and x.grad == 0.5
    y = x * x
    y.backward(create_graph=True)  # the grad becomes a Value, which .grad accepts
    assert isinstance(x.grad, Value)
    x.grad = Value(3.0)
    assert x.grad.data == 3.0
