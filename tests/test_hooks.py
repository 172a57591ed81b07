"""Hooks: register_hook on interior nodes and leaves, under backward, checkpoint and transforms."""

from __future__ import annotations

import math

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


def test_transforms_run_hooks_and_write_no_grad() -> None:
    w = Value(3.0)
    seen: list[Value] = []
    w.register_hook(lambda g: seen.append(g))
    # the gradient depends on the closed-over w, so it comes back as a Value in w's graph
    assert cr.transforms.grad(lambda x: x * w)(2.0).data == 3.0
    assert w.grad == 0.0 and [g.data for g in seen] == [2.0]
