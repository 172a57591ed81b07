"""Switching graph building on and off: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

While grad mode is off, operations compute values only: results have no parents and no
backward closure, so they cost no memory for the graph (PyTorch's semantics and names).
Each is a context manager and a decorator.
"""

from __future__ import annotations

from contextlib import ContextDecorator
from typing import Any

__all__ = ["enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]


class _GradMode:
    """The one switch every operation reads."""

    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


MODE = _GradMode()


def is_grad_enabled() -> bool:
    """True when operations record the graph (the default)."""
    return MODE.enabled


class set_grad_enabled(ContextDecorator):
    """Set grad mode now; as a context manager, restore the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self._previous = MODE.enabled
        MODE.enabled = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        MODE.enabled = self._previous


class _SwitchGrad(ContextDecorator):
    _mode = True

    def __enter__(self) -> None:
        self._previous = MODE.enabled
        MODE.enabled = self._mode

    def __exit__(self, *exc: Any) -> None:
        MODE.enabled = self._previous


class no_grad(_SwitchGrad):
    """Build no graph inside: ``with no_grad(): y = f(x)`` or ``@no_grad()``."""

    _mode = False


class enable_grad(_SwitchGrad):
    """Build the graph again inside a ``no_grad`` block."""

    _mode = True
