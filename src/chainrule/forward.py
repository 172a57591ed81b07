"""Forward-mode differentiation with dual numbers.

A dual number carries a value and its derivative along one direction together,
``x = (p, t)``. Every primitive ``y = f(x_1, ..., x_k)`` maps duals to a dual by the
chain rule, using the same local-derivative table as reverse mode
(:data:`chainrule.ops.OPS`)::

    primal(y)  = f(p_1, ..., p_k)
    tangent(y) = sum_i  df/dx_i(p_1, ..., p_k) * t_i

So one pass through ``f`` with tangents ``v`` gives the Jacobian-vector product
``J v`` — a directional derivative — without building any graph. A full Jacobian
costs one pass per *input*, which is why forward mode wins when there are few
inputs and many outputs (reverse mode costs one backward pass per *output*).

>>> from chainrule.forward import jvp
>>> jvp(lambda x, y: x * y.sin(), (2.0, 0.0), (1.0, 0.0))
(0.0, 0.0)
>>> jvp(lambda x, y: x * y.sin(), (2.0, 0.0), (0.0, 1.0))
(0.0, 2.0)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, Union

from chainrule.ops import OPS

__all__ = ["Dual", "jacfwd", "jvp"]

Scalar = Union["Dual", float, int]


def _real(x: object, what: str) -> float:
    """x as a float, or a TypeError naming what was given."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} needs a real number, got {type(x).__name__} {x!r}")
    return float(x)


class Dual:
    """A dual number ``primal + tangent·ε`` with ``ε² = 0``.

    Supports the same operators and methods as :class:`chainrule.Value`, each one
    evaluated through its row of :data:`chainrule.ops.OPS`, so forward and reverse
    mode can never disagree about a derivative rule.
    """

    __slots__ = ("primal", "tangent")

    def __init__(self, primal: float, tangent: float = 0.0) -> None:
        self.primal = _real(primal, "Dual() primal")
        self.tangent = _real(tangent, "Dual() tangent")

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r})"

    # --- the one place where the chain rule happens ---

    @staticmethod
    def apply(op_name: str, *args: Scalar) -> Dual:
        """Apply the primitive ``OPS[op_name]`` to duals or numbers.

        ``tangent_out = sum_i local_i * tangent_i`` with ``local`` evaluated on floats.
        Inputs with a zero tangent are skipped, so a constant never turns an infinite
        local derivative (sqrt at 0) into ``inf * 0 = nan``.
        """
        try:
            op = OPS[op_name]
        except KeyError:
            raise KeyError(f"no operation named {op_name!r} in chainrule.ops.OPS") from None
        primals = [_primal(a) for a in args]
        tangents = [a.tangent if isinstance(a, Dual) else 0.0 for a in args]
        out = op.forward(*primals)
        local = op.local(*primals, out)
        tangent = 0.0
        for d, t in zip(local, tangents):
            if t != 0.0:
                tangent += float(d) * t
        return Dual(out, tangent)

    # --- operators (numbers are constants: tangent 0) ---

    def __add__(self, other: Scalar) -> Dual:
        return Dual.apply("+", self, other)

    def __radd__(self, other: Scalar) -> Dual:
        return Dual.apply("+", other, self)

    def __sub__(self, other: Scalar) -> Dual:
        return Dual.apply("-", self, other)

    def __rsub__(self, other: Scalar) -> Dual:
        return Dual.apply("-", other, self)

    def __mul__(self, other: Scalar) -> Dual:
        return Dual.apply("*", self, other)

    def __rmul__(self, other: Scalar) -> Dual:
        return Dual.apply("*", other, self)

    def __truediv__(self, other: Scalar) -> Dual:
        return Dual.apply("/", self, other)

    def __rtruediv__(self, other: Scalar) -> Dual:
        return Dual.apply("/", other, self)

    def __pow__(self, other: Scalar) -> Dual:
        return _power(self, other)

    def __rpow__(self, other: Scalar) -> Dual:
        return _power(other, self)

    def __neg__(self) -> Dual:
        return Dual.apply("neg", self)

    def __pos__(self) -> Dual:
        return self

    def __abs__(self) -> Dual:
        return Dual.apply("abs", self)

    # --- methods, named as on Value ---

    def relu(self) -> Dual:
        """max(x, 0)"""
        return Dual.apply("ReLU", self)

    def leaky_relu(self, alpha: Scalar = 0.01) -> Dual:
        """x if x > 0 else alpha·x"""
        return Dual.apply("leaky_relu", self, alpha)

    def tanh(self) -> Dual:
        return Dual.apply("tanh", self)

    def exp(self) -> Dual:
        return Dual.apply("exp", self)

    def log(self) -> Dual:
        return Dual.apply("log", self)

    def sigmoid(self) -> Dual:
        return Dual.apply("sigmoid", self)

    def softplus(self) -> Dual:
        return Dual.apply("softplus", self)

    def gelu(self) -> Dual:
        return Dual.apply("gelu", self)

    def silu(self) -> Dual:
        return Dual.apply("silu", self)

    def sqrt(self) -> Dual:
        return Dual.apply("sqrt", self)

    def abs(self) -> Dual:
        return Dual.apply("abs", self)

    def sin(self) -> Dual:
        return Dual.apply("sin", self)

    def cos(self) -> Dual:
        return Dual.apply("cos", self)

    def erf(self) -> Dual:
        return Dual.apply("erf", self)

    # Comparisons are deliberately not overloaded, as on Value; `data` lets code that
    # branches on `x.data` (and the OPS helpers that read it) run unchanged on duals.
    @property
    def data(self) -> float:
        """The primal value (the name Value uses)."""
        return self.primal


def _primal(x: object) -> float:
    if isinstance(x, Dual):
        return x.primal
    if hasattr(x, "_prev") and hasattr(x, "data"):
        raise TypeError(
            "cannot mix a forward-mode Dual with a reverse-mode Value "
            f"(got {type(x).__name__} {x!r}); pass plain numbers or Duals"
        )
    return _real(x, "a Dual operation")


def _power(base: Scalar, exponent: Scalar) -> Dual:
    # As in the engine: "**" treats the exponent as a constant, "pow" also differentiates
    # in it (d/db = a**b ln a, which needs a > 0), so only a moving exponent pays for it.
    moving = isinstance(exponent, Dual) and exponent.tangent != 0.0
    return Dual.apply("pow" if moving else "**", base, exponent)


def jvp(
    f: Callable[..., Any], primals: Sequence[float], tangents: Sequence[float]
) -> tuple[Any, Any]:
    """Jacobian-vector product of ``f`` at ``primals`` along ``tangents``, in one pass.

    Returns ``(f(primals), J_f(primals) @ tangents)``. ``f`` takes one argument per
    primal and returns a number/Dual, or a list/tuple of them; the outputs mirror
    that shape (a float, or a list of floats).

    >>> jvp(lambda x: x**3, (2.0,), (1.0,))  # (8, 3·2²)
    (8.0, 12.0)
    """
    primals = tuple(primals)
    tangents = tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp needs one tangent per primal, got {len(primals)} primals "
            f"and {len(tangents)} tangents"
        )
    duals = [
        Dual(_real(p, f"jvp primal {i}"), _real(t, f"jvp tangent {i}"))
        for i, (p, t) in enumerate(zip(primals, tangents))
    ]
    result = f(*duals)
    if isinstance(result, (list, tuple)):
        pairs = [_split(r, i) for i, r in enumerate(result)]
        return [p for p, _ in pairs], [t for _, t in pairs]
    return _split(result, None)


def jacfwd(f: Callable[..., Any], primals: Sequence[float]) -> Any:
    """The Jacobian of ``f`` at ``primals`` by forward mode: one :func:`jvp` per input.

    Returns the gradient (a list over inputs) for a scalar ``f``, and a list of rows
    ``J[k][i] = d out_k / d x_i`` for a list of outputs. Cheap when there are few inputs.

    >>> jacfwd(lambda x: [x.sin(), x * x], (0.0,))
    [[1.0], [0.0]]
    """
    primals = tuple(primals)
    n = len(primals)
    columns = [jvp(f, primals, [1.0 if j == i else 0.0 for j in range(n)])[1] for i in range(n)]
    if not columns:
        return []
    if isinstance(columns[0], list):
        return [[col[k] for col in columns] for k in range(len(columns[0]))]
    return columns


def _split(r: object, index: int | None) -> tuple[float, float]:
    if isinstance(r, Dual):
        return r.primal, r.tangent
    if isinstance(r, bool) or not isinstance(r, numbers.Real):
        where = "f" if index is None else f"output {index} of f"
        raise TypeError(
            f"jvp: {where} must return a Dual or a number (or a list of them), "
            f"got {type(r).__name__} {r!r}"
        )
    return float(r), 0.0  # an output that does not depend on the inputs
