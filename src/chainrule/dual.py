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
import operator
from collections.abc import Callable, Sequence
from typing import Any, Union

from chainrule.engine import Value
from chainrule.methods import Operators
from chainrule.ops import OPS, NotANumber, Op, evaluate, is_real
from chainrule.pytree import flatten, leaf_paths, tree_map, unflatten

__all__ = ["Dual", "jvp", "split_aux"]

Scalar = Union["Dual", Value, float, int]

_TAGS = itertools.count(1)  # every jvp call takes the next tag; Dual() made by hand has tag 0


def _component(x: object, what: str, error: type[TypeError] = TypeError) -> Any:
    """x as a float, or a Value or Dual as is; ``error`` naming anything else."""
    if type(x) is float or isinstance(x, (Value, Dual)):  # a float first: the common case
        return x
    if not is_real(x):
        raise error(f"{what} needs a real number, a Value or a Dual, got {type(x).__name__} {x!r}")
    return float(x)


class Dual(Operators):
    """A dual number ``primal + tangent·ε`` with ``ε² = 0``.

    Has the operators and methods of :class:`chainrule.Value` (both come from
    :class:`~chainrule.methods.Operators`), each evaluated through its row of
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

        Along the largest tag ``T`` among the arguments: ``primal_out = op(primals)`` and
        ``tangent_out = op.jvp(tangents, primals, primal_out)``, the one forward chain rule.
        An argument that is not a dual of tag ``T`` is a constant there (its tangent is None).
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
                tangents.append(None)
        out = evaluate(op, *primals)
        result = Dual.__new__(Dual)  # no __init__: the parts are checked already
        result.primal, result.tangent, result.tag = out, op.jvp(tangents, primals, out), tag
        return result

    @property
    def data(self) -> float:
        """The innermost primal number (the name Value uses)."""
        p = self.primal
        return p if isinstance(p, float) else float(p.data)

    def item(self) -> float:
        """The innermost primal number, as a plain float."""
        return self.data

    @staticmethod
    def _varies(x: object) -> bool:
        """Whether an exponent ``x`` is differentiated too: a dual (of any level) or a Value
        that requires grad, never by the value of its tangent (0 at this level may be 1 at
        another)."""
        return isinstance(x, Dual) or Value._varies(x)

    def detach(self) -> Dual:
        """The same number cut from every perturbation and graph: its tangent is 0."""
        p = self.primal
        return Dual(p.detach() if isinstance(p, (Value, Dual)) else p, 0.0, self.tag)

    # Comparisons, truth and format specs read the innermost number, as on a Value, so
    # code that branches (``if x > 0``, ``max(x, y)``) runs unchanged under forward mode.
    __hash__ = object.__hash__

    def __eq__(self, other: object) -> Any:
        return _compare(operator.eq, self, other)

    def __ne__(self, other: object) -> Any:
        return _compare(operator.ne, self, other)

    def __lt__(self, other: object) -> Any:
        return _compare(operator.lt, self, other)

    def __le__(self, other: object) -> Any:
        return _compare(operator.le, self, other)

    def __gt__(self, other: object) -> Any:
        return _compare(operator.gt, self, other)

    def __ge__(self, other: object) -> Any:
        return _compare(operator.ge, self, other)

    def __bool__(self) -> bool:
        return self.data != 0.0

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)


def _compare(compare: Callable[[float, float], bool], a: Dual, b: object) -> Any:
    """A comparison of the innermost numbers of a Dual and a Dual, a Value or a number."""
    if isinstance(b, (Dual, Value)):
        return compare(a.data, b.data)
    if is_real(b):
        return compare(a.data, float(b))
    return NotImplemented


Dual._apply = staticmethod(Dual.apply)  # type: ignore[method-assign,assignment]


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], *,
        has_aux: bool = False) -> tuple[Any, ...]:  # fmt: skip
    """Jacobian-vector product of ``f`` at ``primals`` along ``tangents``, in one pass.

    Returns ``(f(primals), J_f(primals) @ tangents)``. ``f`` takes one argument per
    primal; a primal may be a number or a structure of numbers (tuples, lists, dicts,
    namedtuples: :mod:`chainrule.pytree`), its tangent the same structure. The output
    tangent has the structure of ``f``'s output, as in JAX. Primals and tangents may be
    Values or Duals that other transforms pass in; the results are then Values or Duals
    too. With ``has_aux=True`` ``f`` returns ``(output, aux)`` and the result is
    ``(output, tangent, aux)``.

    >>> jvp(lambda x: x**3, (2.0,), (1.0,))  # (8, 3·2²)
    (8.0, 12.0)
    """
    primals = tuple(primals)
    tangents = tuple(tangents)
    if len(primals) != len(tangents):
        raise TypeError(
            f"jvp needs one tangent per primal, got {len(primals)} primals "
            f"and {len(tangents)} tangents"
        )
    ps, tree = flatten(primals)
    ts, t_tree = flatten(tangents)
    if t_tree != tree:
        raise ValueError(f"jvp needs tangents shaped like the primals ({tree}), got {t_tree}")
    tag = next(_TAGS)
    try:
        duals = [Dual(p, t, tag) for p, t in zip(ps, ts)]
    except TypeError:  # say where the bad number is
        for (where, p), t in zip(leaf_paths(primals, "primals"), ts):
            _component(p, f"jvp: {where}")
            _component(t, f"jvp: tangent of {where}")
        raise
    result = f(*unflatten(tree, duals))
    out, aux = split_aux(result, "jvp") if has_aux else (result, None)
    outs, out_tree = flatten(out)
    pairs = [_split(r, tag, out, k) for k, r in enumerate(outs)]
    primal_out = unflatten(out_tree, [p for p, _ in pairs])
    tangent_out = unflatten(out_tree, [t for _, t in pairs])
    if has_aux:
        return primal_out, tangent_out, tree_map(lambda a: _split(a, tag, None, 0)[0], aux)
    return primal_out, tangent_out


def split_aux(out: Any, who: str) -> tuple[Any, Any]:
    """``(output, aux)`` of a function called with ``has_aux=True``."""
    if not (isinstance(out, (list, tuple)) and len(out) == 2):
        raise TypeError(
            f"{who}(has_aux=True) needs f to return a pair (output, aux), got "
            f"{type(out).__name__} {out!r}"
        )
    return out[0], out[1]


def _split(r: object, tag: int, out: Any, k: int) -> tuple[Any, Any]:
    """(primal, tangent) of number ``k`` of the output ``out`` along ``tag``; anything else
    is constant there. ``out`` None: an aux output, where anything passes through."""
    if isinstance(r, Dual) and r.tag == tag:
        return r.primal, r.tangent
    if isinstance(r, (Dual, Value)):
        return r, 0.0  # depends on other perturbations or graph nodes only
    if not is_real(r):
        if out is None:
            return r, None
        where = leaf_paths(out, "output")[k][0]
        raise TypeError(
            f"jvp: f must return a Dual or a number (or a structure of them), got "
            f"{type(r).__name__} {r!r} as {where}"
        )
    return float(r), 0.0  # an output that does not depend on the inputs
