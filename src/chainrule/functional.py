"""Plain functions made from the ops table: ``chainrule.tanh(x)`` for a Value, a Dual or a number.

Every row of :data:`chainrule.ops.OPS` that names a plain method (``tanh``, ``relu``,
``leaky_relu``, ...) becomes a function here. Given a :class:`~chainrule.Value` it returns
a new node (the same as ``x.tanh()``), given a :class:`~chainrule.Dual` a dual number,
given plain numbers a plain float computed by the same forward rule with the same error
policy. Anything else is a ``TypeError``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from chainrule.methods import Operators
from chainrule.ops import OPS, NotANumber, Op, clamp_bounds, evaluate, is_real

__all__ = ["Elementwise"]


class Elementwise:
    """A plain function for one op row that dispatches on its arguments' types."""

    def __init__(self, op: Op, name: str) -> None:
        self.op = op
        # the arguments a call may leave out take the method's defaults (leaky_relu's alpha)
        parameters = inspect.signature(getattr(Operators, name)).parameters.values()
        self.defaults = tuple(p.default for p in parameters if p.default is not p.empty)
        self.__name__ = name
        self.__doc__ = (
            f"{op.doc}\n\nA Value gives a Value (x.{name}()), a Dual a Dual, numbers a float."
        )

    def __call__(self, x: Any, *extra: Any) -> Any:
        args = (x, *extra, *self.defaults[len(extra) :])
        try:
            return evaluate(self.op, *args)  # a Value gives way to a Dual, as the methods do
        except NotANumber:
            bad = [a for a in args if not (isinstance(a, Operators) or is_real(a))]
            if not bad:
                raise
            raise TypeError(f"{self.__name__}() needs a Value or a real number, got "
                            f"{type(bad[0]).__name__} {bad[0]!r}") from None  # fmt: skip

    def __repr__(self) -> str:
        return f"chainrule.{self.__name__}"


for _op in OPS.values():
    for _name in _op.methods:
        if not _name.startswith("_"):
            globals()[_name] = Elementwise(_op, _name)
            __all__.append(_name)

# clamp's bounds are keywords and may be None (no bound), so its function is written out; the
# row itself is the same for the method, the function and Dual
_CLAMP = Elementwise(OPS["clamp"], "clamp")


def clamp(x: Any, min: Any = None, max: Any = None) -> Any:
    """x limited to [min, max] (None: no bound);  `d/dx = 1 if min <= x <= max else 0`.

    A Value or a Dual (as x or as a bound) gives a Value or a Dual, numbers a float.
    """
    return _CLAMP(x, *clamp_bounds(min, max))


clip = clamp
__all__ += ["clamp", "clip"]

if TYPE_CHECKING:  # the functions above, for type checkers

    def __getattr__(name: str) -> Elementwise: ...
