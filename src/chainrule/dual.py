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

>>> from chainrule.dual import jvp
>>> jvp(lambda x, y: x * y.sin(), (2.0, 0.0), (1.0, 0.0))
(0.0, 0.0)
>>> jvp(lambda x, y: x * y.sin(), (2.0, 0.0), (0.0, 1.0))
(0.0, 2.0)
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, Union

from chainrule.ops import MASKED, OPS, Op, Operators

__all__ = ["Dual", "jacfwd", "jvp"]

Scalar = Union["Dual", float, int]


def _real(x: object, what: str) -> float:
    """x as a float, or a TypeError naming what was given."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} needs a real number, got {type(x).__name__} {x!r}")
    return float(x)


class Dual(Operators):
    """A dual number ``primal + tangent·ε`` with ``ε² = 0``.

    Has the operators and methods of :class:`chainrule.Value` (both come from
    :class:`~chainrule.ops.Operators`), each evaluated through its row of
    :data:`chainrule.ops.OPS`, so forward and reverse mode never disagree about a rule.
    """

    __slots__ = ("primal", "tangent")

    def __init__(self, primal: float, tangent: float = 0.0) -> None:
        self.primal = _real(primal, "Dual() primal")
        self.tangent = _real(tangent, "Dual() tangent")

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r})"

    @staticmethod
    def apply(op: Op | str, *args: Scalar) -> Dual:
        """Apply the primitive ``op`` (an :class:`~chainrule.ops.Op`, or a built-in's name).

        ``tangent_out = sum_i local_i * tangent_i`` with ``local`` evaluated on floats.
        Inputs with a zero tangent are skipped, so a constant never turns an infinite
        local derivative (sqrt at 0) into ``inf * 0 = nan``.
        """
        if isinstance(op, str):
            try:
                op = OPS[op]
            except KeyError:
                raise KeyError(f"no operation named {op!r} in chainrule.ops.OPS") from None
        primals = [_primal(a) for a in args]
        tangents = [a.tangent if isinstance(a, Dual) else 0.0 for a in args]
        out = op.forward(*primals)
        local = op.local(*primals, out)
        tangent = 0.0
        for d, t in zip(local, tangents):
            if t != 0.0 and d is not MASKED:  # a structural zero stops even an inf tangent
                tangent += float(d) * t
        return Dual(out, tangent)

    # Comparisons are deliberately not overloaded, as on Value; `data` lets code that
    # branches on `x.data` (and the OPS helpers that read it) run unchanged on duals.
    @property
    def data(self) -> float:
        """The primal value (the name Value uses)."""
        return self.primal


Dual._apply = staticmethod(Dual.apply)
Dual._varies = staticmethod(lambda x: isinstance(x, Dual) and x.tangent != 0.0)


def _primal(x: object) -> float:
    if isinstance(x, Dual):
        return x.primal
    if hasattr(x, "_prev") and hasattr(x, "data"):
        raise TypeError(
            "cannot mix a forward-mode Dual with a reverse-mode Value "
            f"(got {type(x).__name__} {x!r}); pass plain numbers or Duals"
        )
    return _real(x, "a Dual operation")


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
