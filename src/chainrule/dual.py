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

Duals nest, so transforms compose. A primal or tangent may itself be a ``Value`` (a dual
of graph nodes: reverse over forward) or a ``Dual`` (forward over forward). Each
:func:`jvp` call gives its perturbation a fresh ``tag``, larger than every tag made
before it, and an operation differentiates only along the largest tag among its
arguments; a dual with a smaller tag is a constant there. That keeps nested
perturbations apart (no *perturbation confusion*), as the tags of HIPS autograd and the
levels of JAX do.

>>> from chainrule.dual import jvp
>>> jvp(lambda x, y: x * y.sin(), (2.0, 0.0), (1.0, 0.0))
(0.0, 0.0)
>>> jvp(lambda x, y: x * y.sin(), (2.0, 0.0), (0.0, 1.0))
(0.0, 2.0)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Union

from chainrule.engine import Value
from chainrule.engine import apply as value_apply
from chainrule.ops import MASKED, OPS, NotANumber, Op, Operators, is_real

__all__ = ["Dual", "jacfwd", "jvp"]

Scalar = Union["Dual", Value, float, int]

_TAGS = itertools.count(1)  # every jvp call takes the next tag; Dual() made by hand has tag 0


def _component(x: object, what: str, error: type[TypeError] = TypeError) -> Any:
    """x as a float, or a Value or Dual as is; ``error`` naming anything else."""
    if isinstance(x, (Value, Dual)):
        return x
    if not is_real(x):
        raise error(f"{what} needs a real number, a Value or a Dual, got {type(x).__name__} {x!r}")
    return float(x)


class Dual(Operators):
    """A dual number ``primal + tangent·ε`` with ``ε² = 0``.

    Has the operators and methods of :class:`chainrule.Value` (both come from
    :class:`~chainrule.ops.Operators`), each evaluated through its row of
    :data:`chainrule.ops.OPS`, so forward and reverse mode never disagree about a rule.
    ``primal`` and ``tangent`` are numbers, ``Value``s or ``Dual``s of a smaller ``tag``
    (nested transforms); ``tag`` names the perturbation ``ε`` (see the module docstring).
    """

    __slots__ = ("primal", "tag", "tangent")

    def __init__(self, primal: Scalar, tangent: Scalar = 0.0, tag: int = 0) -> None:
        self.primal: Any = _component(primal, "Dual() primal")
        self.tangent: Any = _component(tangent, "Dual() tangent")
        if isinstance(tag, bool) or not isinstance(tag, int) or tag < 0:
            raise TypeError(f"Dual() tag must be an int >= 0, got {tag!r}")
        self.tag = tag

    def __repr__(self) -> str:
        tag = f", tag={self.tag}" if self.tag else ""
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r}{tag})"

    @staticmethod
    def apply(op: Op | str, *args: Scalar) -> Dual:
        """Apply the primitive ``op`` (an :class:`~chainrule.ops.Op`, or a built-in's name).

        Along the largest tag ``T`` among the arguments: ``primal_out = op(primals)``,
        ``tangent_out = sum_i local_i * tangent_i``; an argument that is not a dual of tag
        ``T`` is a constant with tangent 0. Inputs with a zero tangent are skipped, so a
        constant never turns an infinite local derivative (sqrt at 0) into ``inf * 0 = nan``.
        """
        if isinstance(op, str):
            try:
                op = OPS[op]
            except KeyError:
                raise KeyError(f"no operation named {op!r} in chainrule.ops.OPS") from None
        tag = max(a.tag for a in args if isinstance(a, Dual))
        primals: list[Any] = []
        tangents: list[Any] = []
        for a in args:
            if isinstance(a, Dual) and a.tag == tag:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                primals.append(_component(a, "a Dual operation", NotANumber))
                tangents.append(0.0)
        out = _evaluate(op, primals)
        local = op.local(*primals, out)
        tangent: Any = 0.0
        for d, t in zip(local, tangents):
            # a structural zero (MASKED) stops even an inf tangent
            if not (isinstance(t, float) and t == 0.0) and d is not MASKED:
                first = isinstance(tangent, float) and tangent == 0.0
                tangent = t * d if first else tangent + t * d
        result = Dual.__new__(Dual)  # no __init__: the parts are checked already
        result.primal, result.tangent, result.tag = out, tangent, tag
        return result

    # Comparisons are deliberately not overloaded, as on Value; `data` lets code that
    # branches on `x.data` (and the OPS helpers that read it) run unchanged on duals.
    @property
    def data(self) -> float:
        """The innermost primal number (the name Value uses)."""
        p = self.primal
        return p if isinstance(p, float) else float(p.data)


Dual._apply = staticmethod(Dual.apply)
Dual._varies = staticmethod(
    lambda x: isinstance(x, Dual) and not (isinstance(x.tangent, float) and x.tangent == 0.0)
)


def _evaluate(op: Op, xs: list[Any]) -> Any:
    """``op`` on the primals: a Dual of a smaller tag, a graph node, or a float."""
    if any(isinstance(x, Dual) for x in xs):
        return Dual.apply(op, *xs)
    if any(isinstance(x, Value) for x in xs):
        return value_apply(op, *xs)
    return op.forward(*xs)


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Jacobian-vector product of ``f`` at ``primals`` along ``tangents``, in one pass.

    Returns ``(f(primals), J_f(primals) @ tangents)``. ``f`` takes one argument per
    primal and returns a number/Dual, or a list/tuple of them; the outputs mirror
    that shape (a float, or a list of floats). Primals and tangents may be Values or
    Duals that other transforms pass in; the results are then Values or Duals too.

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
    tag = next(_TAGS)
    duals = [
        Dual(_component(p, f"jvp primal {i}"), _component(t, f"jvp tangent {i}"), tag)
        for i, (p, t) in enumerate(zip(primals, tangents))
    ]
    result = f(*duals)
    if isinstance(result, (list, tuple)):
        pairs = [_split(r, tag, i) for i, r in enumerate(result)]
        return [p for p, _ in pairs], [t for _, t in pairs]
    return _split(result, tag, None)


def jacfwd(f: Callable[..., Any], primals: Sequence[Any] | None = None, *,
           argnums: int | Sequence[int] = 0) -> Any:  # fmt: skip
    """The Jacobian of ``f`` by forward mode: one :func:`jvp` per input.

    ``jacfwd(f, primals)`` differentiates with respect to every primal. It returns the
    gradient (a list over inputs) for a scalar ``f``, and a list of rows
    ``J[k][i] = d out_k / d x_i`` for a list of outputs. Cheap when there are few inputs.

    ``jacfwd(f, argnums=...)`` (no primals) is JAX's form: a function of ``f``'s
    arguments, shaped like :func:`chainrule.transforms.jacrev`'s result, that other
    transforms can differentiate again.

    >>> jacfwd(lambda x: [x.sin(), x * x], (0.0,))
    [[1.0], [0.0]]
    >>> jacfwd(lambda x, y: x * y, argnums=1)(2.0, 3.0)
    2.0
    """
    if primals is None:
        from chainrule.transforms import jacfwd as jacfwd_function

        return jacfwd_function(f, argnums)
    primals = tuple(primals)
    n = len(primals)
    columns = [jvp(f, primals, [1.0 if j == i else 0.0 for j in range(n)])[1] for i in range(n)]
    if not columns:
        return []
    if isinstance(columns[0], list):
        return [[col[k] for col in columns] for k in range(len(columns[0]))]
    return columns


def _split(r: object, tag: int, index: int | None) -> tuple[Any, Any]:
    """(primal, tangent) of an output along ``tag``; anything else is constant there."""
    if isinstance(r, Dual) and r.tag == tag:
        return r.primal, r.tangent
    if isinstance(r, (Dual, Value)):
        return r, 0.0  # depends on other perturbations or graph nodes only
    if not is_real(r):
        where = "f" if index is None else f"output {index} of f"
        raise TypeError(
            f"jvp: {where} must return a Dual or a number (or a list of them), "
            f"got {type(r).__name__} {r!r}"
        )
    return float(r), 0.0  # an output that does not depend on the inputs
