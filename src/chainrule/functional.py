"""Plain functions: ``chainrule.tanh(x)`` for a ``Value`` or a number.

Given a :class:`~chainrule.Value` each returns a new node in the graph (the same as the
method, ``x.tanh()``); given a plain number it returns a plain float, computed by the
same forward rule with the same error policy. Anything else is a ``TypeError``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import overload

from chainrule.engine import Value
from chainrule.ops import OPS

__all__ = [
    "abs",
    "cos",
    "erf",
    "exp",
    "gelu",
    "leaky_relu",
    "log",
    "relu",
    "sigmoid",
    "silu",
    "sin",
    "softplus",
    "sqrt",
    "tanh",
]


class _Elementwise:
    """A function of one scalar that dispatches on its argument's type."""

    def __init__(self, method: str, op_name: str) -> None:
        self._method = method
        self._forward: Callable[[float], float] = OPS[op_name].forward
        self.__name__ = method
        self.__doc__ = (
            f"{OPS[op_name].doc}\n\nA Value gives a Value (x.{method}()); a number a float."
        )

    @overload
    def __call__(self, x: Value) -> Value: ...
    @overload
    def __call__(self, x: float) -> float: ...
    def __call__(self, x: Value | float) -> Value | float:
        if isinstance(x, Value):
            result: Value = getattr(x, self._method)()
            return result
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"{self._method}() needs a Value or a real number, got "
                            f"{type(x).__name__} {x!r}")  # fmt: skip
        return self._forward(float(x))

    def __repr__(self) -> str:
        return f"chainrule.{self._method}"


relu = _Elementwise("relu", "ReLU")
tanh = _Elementwise("tanh", "tanh")
exp = _Elementwise("exp", "exp")
log = _Elementwise("log", "log")
sigmoid = _Elementwise("sigmoid", "sigmoid")
gelu = _Elementwise("gelu", "gelu")
silu = _Elementwise("silu", "silu")
softplus = _Elementwise("softplus", "softplus")
sqrt = _Elementwise("sqrt", "sqrt")
abs = _Elementwise("abs", "abs")
sin = _Elementwise("sin", "sin")
cos = _Elementwise("cos", "cos")
erf = _Elementwise("erf", "erf")


@overload
def leaky_relu(x: Value, alpha: float | Value = ...) -> Value: ...
@overload
def leaky_relu(x: float, alpha: float = ...) -> float: ...
def leaky_relu(x: Value | float, alpha: float | Value = 0.01) -> Value | float:
    """x if x > 0 else alpha x;  d/dx = 1 or alpha. A Value gives a Value, a number a float."""
    if isinstance(x, Value):
        return x.leaky_relu(alpha)
    if isinstance(alpha, Value):
        return Value(x).leaky_relu(alpha)
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(
            f"leaky_relu() needs a Value or a real number, got {type(x).__name__} {x!r}"
        )
    return OPS["leaky_relu"].forward(float(x), float(alpha))
