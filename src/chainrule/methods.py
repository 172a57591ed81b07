"""The operators and methods of ``Value`` and ``Dual``, each one line naming its table row.

``x * y`` is ``x.__mul__(y)``, which applies the row ``MUL`` to ``x`` and ``y``;
``x.tanh()`` applies ``TANH``. :class:`Operators` holds them, and both node classes inherit
it: a ``Value`` applies a row by building a graph node, a ``Dual`` by computing a dual
number (each class sets ``_apply``). A method's docstring is its row's. The plain functions
(``chainrule.tanh(x)``) are made from the same rows in :mod:`chainrule.functional`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainrule.ops import (
    ABS,
    ACOS,
    ACOSH,
    ADD,
    ASIN,
    ASINH,
    ATAN,
    ATAN2,
    ATANH,
    CLAMP,
    COS,
    COSH,
    DIV,
    ERF,
    EXP,
    EXP2,
    EXPM1,
    FMOD,
    GELU,
    HYPOT,
    LEAKY_RELU,
    LOG,
    LOG1P,
    LOG2,
    LOG10,
    MAXIMUM,
    MINIMUM,
    MUL,
    NEG,
    OPS,
    POW,
    POW_CONST,
    RECIPROCAL,
    RELU,
    REMAINDER,
    SIGMOID,
    SIGN,
    SILU,
    SIN,
    SINH,
    SOFTPLUS,
    SQRT,
    SQUARE,
    SUB,
    TAN,
    TANH,
    NotANumber,
    Op,
    clamp_bounds,
    evaluate,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Operators"]


class Operators:
    """Operators and methods shared by :class:`~chainrule.Value` and :class:`~chainrule.Dual`.

    A class sets ``_apply`` (how it evaluates an op: a graph node or a dual number) and
    ``_varies`` (whether an exponent is differentiated too).
    """

    __slots__ = ()
    if TYPE_CHECKING:  # each class sets them: Value builds a node, Dual a dual number

        def _apply(self, op: Op, *args: Any) -> Self: ...

        @staticmethod
        def _varies(x: object) -> bool: ...

    # fmt: off
    def __add__(self, other: Self | float) -> Self:
        try:
            return self._apply(ADD, self, other)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __radd__(self, other: Self | float) -> Self:
        try:
            return self._apply(ADD, other, self)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __sub__(self, other: Self | float) -> Self:
        try:
            return self._apply(SUB, self, other)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __rsub__(self, other: Self | float) -> Self:
        try:
            return self._apply(SUB, other, self)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __mul__(self, other: Self | float) -> Self:
        try:
            return self._apply(MUL, self, other)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __rmul__(self, other: Self | float) -> Self:
        try:
            return self._apply(MUL, other, self)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __truediv__(self, other: Self | float) -> Self:
        try:
            return self._apply(DIV, self, other)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __rtruediv__(self, other: Self | float) -> Self:
        try:
            return self._apply(DIV, other, self)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __neg__(self) -> Self: return self._apply(NEG, self)
    def relu(self) -> Self: return self._apply(RELU, self)
    def leaky_relu(self, alpha: Self | float = 0.01) -> Self:
        return self._evaluate(LEAKY_RELU, self, alpha)
    def tanh(self) -> Self: return self._apply(TANH, self)
    def exp(self) -> Self: return self._apply(EXP, self)
    def log(self) -> Self: return self._apply(LOG, self)
    def sigmoid(self) -> Self: return self._apply(SIGMOID, self)
    def softplus(self) -> Self: return self._apply(SOFTPLUS, self)
    def gelu(self) -> Self: return self._apply(GELU, self)
    def silu(self) -> Self: return self._apply(SILU, self)
    def sqrt(self) -> Self: return self._apply(SQRT, self)
    def abs(self) -> Self: return self._apply(ABS, self)
    def __abs__(self) -> Self: return self._apply(ABS, self)
    def sin(self) -> Self: return self._apply(SIN, self)
    def cos(self) -> Self: return self._apply(COS, self)
    def erf(self) -> Self: return self._apply(ERF, self)
    def tan(self) -> Self: return self._apply(TAN, self)
    def sinh(self) -> Self: return self._apply(SINH, self)
    def cosh(self) -> Self: return self._apply(COSH, self)
    def asin(self) -> Self: return self._apply(ASIN, self)
    def arcsin(self) -> Self: return self._apply(ASIN, self)
    def acos(self) -> Self: return self._apply(ACOS, self)
    def arccos(self) -> Self: return self._apply(ACOS, self)
    def atan(self) -> Self: return self._apply(ATAN, self)
    def arctan(self) -> Self: return self._apply(ATAN, self)
    def asinh(self) -> Self: return self._apply(ASINH, self)
    def arcsinh(self) -> Self: return self._apply(ASINH, self)
    def acosh(self) -> Self: return self._apply(ACOSH, self)
    def arccosh(self) -> Self: return self._apply(ACOSH, self)
    def atanh(self) -> Self: return self._apply(ATANH, self)
    def arctanh(self) -> Self: return self._apply(ATANH, self)
    def log2(self) -> Self: return self._apply(LOG2, self)
    def log10(self) -> Self: return self._apply(LOG10, self)
    def log1p(self) -> Self: return self._apply(LOG1P, self)
    def expm1(self) -> Self: return self._apply(EXPM1, self)
    def exp2(self) -> Self: return self._apply(EXP2, self)
    def sign(self) -> Self: return self._apply(SIGN, self)
    def reciprocal(self) -> Self: return self._apply(RECIPROCAL, self)
    def square(self) -> Self: return self._apply(SQUARE, self)
    def hypot(self, other: Self | float) -> Self: return self._evaluate(HYPOT, self, other)
    def atan2(self, other: Self | float) -> Self: return self._evaluate(ATAN2, self, other)
    def arctan2(self, other: Self | float) -> Self: return self._evaluate(ATAN2, self, other)
    def __mod__(self, other: Self | float) -> Self:
        try:
            return self._apply(REMAINDER, self, other)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def __rmod__(self, other: Self | float) -> Self:
        try:
            return self._apply(REMAINDER, other, self)
        except NotANumber:
            return NotImplemented  # Python then asks the other operand
    def remainder(self, other: Self | float) -> Self: return self._evaluate(REMAINDER, self, other)
    def fmod(self, other: Self | float) -> Self: return self._evaluate(FMOD, self, other)
    def maximum(self, other: Self | float) -> Self: return self._evaluate(MAXIMUM, self, other)
    def minimum(self, other: Self | float) -> Self: return self._evaluate(MINIMUM, self, other)
    # fmt: on

    def _evaluate(self, op: Op, *args: Any) -> Self:
        """``op`` on arguments of several kinds: a Value gives way to a Dual (``x.hypot(d)``)."""
        result: Self = evaluate(op, *args)
        return result

    def __pow__(self, other: Self | float) -> Self:
        """a ** b; the ``pow`` row when ``b`` varies, else ``**`` (d/db needs a > 0)."""
        try:
            return self._apply(POW if self._varies(other) else POW_CONST, self, other)
        except NotANumber:
            return NotImplemented

    def __rpow__(self, other: Self | float) -> Self:
        try:
            return self._apply(POW if self._varies(self) else POW_CONST, other, self)
        except NotANumber:
            return NotImplemented

    def __pos__(self) -> Self:
        return self

    def clamp(self, min: Self | float | None = None, max: Self | float | None = None) -> Self:
        """x limited to [min, max] (None: no bound);  `d/dx = 1 if min <= x <= max else 0`.

        A bound that is a node gets the gradient where it is the result.
        """
        return self._evaluate(CLAMP, self, *clamp_bounds(min, max))

    clip = clamp


for _op in OPS.values():  # a method's docstring is its row's: the formula and its derivative
    for _name in _op.methods:
        getattr(Operators, _name).__doc__ = _op.doc
