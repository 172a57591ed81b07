"""Grad mode: no_grad, enable_grad, set_grad_enabled."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import Value


def test_no_grad_builds_no_graph() -> None:
    x = Value(2.0)
    with cr.no_grad():
        y = x * 3 + 1
        with cr.enable_grad():
            z = x * 3
    assert y._prev == () and y.grad_fn is None and not y.requires_grad
    assert z._prev != ()
    with pytest.raises(RuntimeError, match="requires grad"):
        y.backward()
    assert cr.is_grad_enabled()

    @cr.no_grad()
    def f(v: Value) -> Value:
        return v * v

    assert f(x)._prev == ()


def test_set_grad_enabled() -> None:
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
