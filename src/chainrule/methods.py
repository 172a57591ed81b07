"""The operators and methods of ``Value`` and ``Dual``, made from the rows of the ops table.

``x * y`` is the row ``MUL``, ``x.tanh()`` the row ``TANH``: :class:`Operators` holds them,
and both node classes inherit it. (The plain functions, ``chainrule.tanh(x)``, are made from
the same rows in :mod:`chainrule.functional`.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from chainrule.ops import CLAMP, OPS, POW, POW_CONST, NotANumber, Op, clamp_bounds, evaluate

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Operators"]


class Operators:
    """Operators and methods shared by :class:`~chainrule.Value` and :class:`~chainrule.Dual`.

    Each comes from a row of :data:`OPS`: ``x * y`` is ``_apply(MUL, x, y)``, ``x.tanh()``
    is ``_apply(TANH, x)``. A class sets ``_apply`` (how it evaluates an op: a graph node
    or a dual number) and ``_varies`` (whether an exponent is differentiated too).
    """

    __slots__ = ()
    _apply: ClassVar[Callable[..., Any]]
    _varies: ClassVar[Callable[..., bool]]

    def __pow__(self, other: Self | float) -> Self:
        """a ** b; the ``pow`` row when ``b`` varies, else ``**`` (d/db needs a > 0)."""
        try:
            result: Self = self._apply(POW if self._varies(other) else POW_CONST, self, other)
        except NotANumber:
            return NotImplemented
        return result

    def __rpow__(self, other: Self | float) -> Self:
        try:
            result: Self = self._apply(POW if self._varies(self) else POW_CONST, other, self)
        except NotANumber:
            return NotImplemented
        return result

    def __pos__(self) -> Self:
        return self

    def clamp(self, min: Self | float | None = None, max: Self | float | None = None) -> Self:
        """x limited to [min, max] (None: no bound);  `d/dx = 1 if min <= x <= max else 0`.

        A bound that is a node gets the gradient where it is the result.
        """
        result: Self = evaluate(CLAMP, self, *clamp_bounds(min, max))
        return result

    clip = clamp

    if TYPE_CHECKING:  # the methods made from OPS, for type checkers

        def __add__(self, other: Self | float) -> Self: ...
        def __radd__(self, other: Self | float) -> Self: ...
        def __sub__(self, other: Self | float) -> Self: ...
        def __rsub__(self, other: Self | float) -> Self: ...
        def __mul__(self, other: Self | float) -> Self: ...
        def __rmul__(self, other: Self | float) -> Self: ...
        def __truediv__(self, other: Self | float) -> Self: ...
        def __rtruediv__(self, other: Self | float) -> Self: ...
        def __mod__(self, other: Self | float) -> Self: ...
        def __rmod__(self, other: Self | float) -> Self: ...
        def __neg__(self) -> Self: ...
        def __abs__(self) -> Self: ...
        def __getattr__(self, name: str) -> Callable[..., Self]: ...


def _method(op: Op, kind: str) -> Callable[..., Any]:
    """One method made from ``op``: ``x.name(*extra)``, ``x.name()``, ``x <op> y``, ``y <op> x``."""

    def method(self: Operators, *extra: Any) -> Any:
        return evaluate(op, self, *extra, *op.defaults[len(extra) :])

    def unary(self: Operators) -> Any:
        return self._apply(op, self)

    def binary(self: Operators, other: Any) -> Any:
        try:
            return self._apply(op, self, other)
        except NotANumber:
            return NotImplemented  # Python then tries the other operand

    def reflected(self: Operators, other: Any) -> Any:
        try:
            return self._apply(op, other, self)
        except NotANumber:
            return NotImplemented

    made: dict[str, Callable[..., Any]] = {
        "method": method,
        "unary": unary,
        "binary": binary,
        "reflected": reflected,
    }
    made[kind].__doc__ = op.doc
    return made[kind]


def _takes_more(op: Op) -> bool:
    """Whether a method made from ``op`` takes arguments besides ``self``."""
    return bool(op.defaults) or op.arity > 1


def _install(cls: type, op: Op) -> None:
    """Put the methods ``op.methods`` names on ``cls`` (a binary dunder with its reflection)."""
    for name in op.methods:
        if name in ("__neg__", "__abs__") or not (name.startswith("__") or _takes_more(op)):
            made = {name: _method(op, "unary")}
        elif name.startswith("__"):
            made = {name: _method(op, "binary"), f"__r{name[2:]}": _method(op, "reflected")}
        else:
            made = {name: _method(op, "method")}
        for attr, fn in made.items():
            fn.__name__ = fn.__qualname__ = attr
            setattr(cls, attr, fn)


for _op in OPS.values():
    _install(Operators, _op)
