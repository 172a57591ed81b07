"""Hooks: register_hook on interior nodes and leaves, under backward, checkpoint and transforms."""

from __future__ import annotations

import math
from typing import Any

import pytest

import chainrule as cr
from chainrule import Value


def test_hooks_see_and_replace_adjoints() -> None:
    x = Value(2.0)
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g))
    handle = h.register_hook(lambda g: g * 10)
    (h * 2).backward()
    assert seen == [2.0] and x.grad == 60.0
    handle.remove()
    x.zero_grad()
    (h * 2).backward()
    assert x.grad == 6.0
    leaf_seen = []
    x.register_hook(lambda g: leaf_seen.append(g))
    (x * x).backward()
    assert leaf_seen == [4.0]
    with pytest.raises(TypeError):
        x.register_hook(3)  # type: ignore[arg-type]


def test_a_hook_on_a_weight_runs_under_checkpoint_as_without() -> None:
    def run(checkpointed: bool) -> float:
        w = Value(0.5)
        w.register_hook(lambda g: g * 10)
        x = Value(2.0)

        def block(v: Value) -> Value:
            return (v * w).tanh()

        y = cr.checkpoint(block, x) if checkpointed else block(x)
        y.backward()
        assert isinstance(w.grad, float)
        return w.grad

    plain = run(False)
    assert plain == pytest.approx(10 * 2.0 * (1 - math.tanh(1.0) ** 2))
    assert run(True) == plain


def test_transforms_run_only_the_hooks_between_output_and_inputs_and_write_no_grad() -> None:
    w = Value(3.0)
    seen: list[Any] = []
    w.register_hook(lambda g: seen.append(g))
    x_seen: list[Any] = []

    def f(x: Value) -> Value:
        x.register_hook(x_seen.append)
        return x * w

    # w is a constant of the transform (not on the path to its input): its hook is not called
    assert cr.transforms.grad(f)(2.0) == 3.0
    assert w.grad == 0.0 and seen == [] and x_seen == [3.0]
    # passed in as an argument, w makes the result a Value in w's graph
    g = cr.transforms.grad(lambda x, v: x * v)(2.0, w)
    assert isinstance(g, Value) and g.data == 3.0 and g._prev
    assert w.grad == 0.0 and seen == []


@pytest.mark.parametrize("prior", [0.0, 0.1, 1e16, -3.5, 1e-300])
@pytest.mark.parametrize("k", [3.0, 0.2, 1e-8])
def test_a_leaf_hook_sees_exactly_this_calls_gradient(prior: float, k: float) -> None:
    seen: list[float] = []
    x = Value(2.0)
    x.grad = prior
    x.register_hook(seen.append)
    (x * k).backward()
    assert seen == [k]  # the incoming gradient, not (prior + k) - prior
    assert x.grad == prior + k


def test_a_leaf_hook_runs_once_with_the_sum_of_all_paths() -> None:
    seen: list[float] = []
    x = Value(2.0)
    x.grad = 1e16
    x.register_hook(seen.append)
    (x * 3.0 + x * 0.5 + x * x).backward()
    assert seen == [3.0 + 0.5 + 4.0]
    assert x.grad == 1e16 + 7.5
