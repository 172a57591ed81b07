"""Hooks: register_hook on interior nodes and leaves, under backward, checkpoint and transforms."""

from __future__ import annotations

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
