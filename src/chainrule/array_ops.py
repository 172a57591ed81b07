"""Every operation of :mod:`chainrule.ops` over a whole batch at once, on numpy arrays.

:data:`ARRAY_FORMS` maps each op object (``ops.TANH``, ``ops.CROSS_ENTROPY``, ...) to its
:class:`ArrayForm`: the row's forward value and local partials, written once more with numpy
so that one call computes them for every example of a batch. Each form follows its row's
numeric policy:

* an input outside the function's domain raises the row's own error, for the first example
  where it happens, and names that example: ``log is undefined at x=-1.0 (needs x > 0), in
  example 3 of the batch``;
* overflow is a signed inf, inf and nan inputs give what the row gives on floats;
* a partial that is :data:`~chainrule.ops.MASKED` for some examples is a :class:`Masked`
  pair: the generated program adds ``where(mask, 0.0, g * d)``, so an inf or nan adjoint stays
  out where no gradient flows, as the engine's reverse pass skips the edge.

A custom op batches once its array form is given with :func:`define`. Numpy is an optional
extra: nothing in the core imports this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from chainrule import ops
from chainrule.ops import MASKED, Op

__all__ = ["ARRAY_FORMS", "ArrayForm", "Masked", "at_example", "define", "form_of", "share"]

Array = Any  # a float64 ndarray (one number per example) or a float (one for the whole batch)


class Masked(NamedTuple):
    """A partial that is MASKED where ``where`` is True (no gradient flows), ``d`` elsewhere."""

    d: Array
    where: Array


class ArrayForm(NamedTuple):
    """An op's forward value and local partials over arrays: ``forward(*xs)``,
    ``local(*xs, out) -> tuple`` (one partial per input, each an array, a :class:`Masked` or
    ``MASKED``). ``symbol`` names a row written as Python arithmetic in a generated program."""

    forward: Callable[..., Array]
    local: Callable[..., tuple[Any, ...]]
    symbol: str = ""


ARRAY_FORMS: dict[Op, ArrayForm] = {}
"""The array form of each op, keyed by the op object itself."""


def define(op: Op, forward: Callable[..., Array], local: Callable[..., tuple[Any, ...]],
           symbol: str = "") -> Op:  # fmt: skip
    """Give ``op`` (a row of :data:`~chainrule.ops.OPS` or a :func:`~chainrule.custom_op`) its
    array form, so that batched programs can use it."""
    if not isinstance(op, Op):
        raise TypeError(f"define needs an Op, got {type(op).__name__} {op!r}")
    ARRAY_FORMS[op] = ArrayForm(forward, local, symbol)
    return op


def form_of(op: Op) -> ArrayForm:
    """The array form of ``op``, or a clear error naming the op."""
    form = ARRAY_FORMS.get(op)
    if form is None:
        raise TypeError(
            f"{op!r} has no array form, so it cannot run batched: give it one with "
            "chainrule.array_ops.define(op, forward, local) (numpy functions of whole "
            "arrays), or compile the function per example with chainrule.compile"
        )
    return form


def share(g: Array, d: Any) -> Array:
    """The share ``g * d`` of one edge; -0.0 where the partial is MASKED: the engine adds
    nothing there, and ``s + -0.0`` is ``s`` for every float ``s``, 0.0 included."""
    if isinstance(d, Masked):
        return np.where(d.where, -0.0, g if d.d is _ONE else g * d.d)
    if d is MASKED:
        return -0.0
    return g * d


def refuse(op: Op, bad: Array, xs: Sequence[Array], rule: Callable[..., Any] | None = None) -> None:
    """Raise the row's own error for the first example where ``bad`` holds, naming it.

    ``rule`` (the row's ``forward`` unless given) is called on that example's numbers, so the
    message is the one the engine gives on that example.
    """
    if not np.any(bad):
        return
    i = int(np.flatnonzero(bad)[0])
    numbers = [float(x[i]) if np.ndim(x) else float(x) for x in xs]
    try:
        (rule or op.forward)(*numbers)
    except (ValueError, ArithmeticError) as error:
        raise at_example(error, i) from None
    raise at_example(ValueError(f"{op.name} is undefined at {numbers!r}"), i)


def at_example(error: Exception, i: int) -> Exception:
    """``error`` (a row's own) saying which example of the batch raised it: ``.example`` is
    its index, ``.bare`` the row's message."""
    bare = getattr(error, "bare", str(error))
    named = type(error)(f"{bare}, in example {i} of the batch")
    named.example, named.bare = i, bare  # type: ignore[attr-defined]
    return named


def _checked(
    op: Op, compute: Callable[..., Array], bad: Callable[..., Array]
) -> Callable[..., Array]:
    """``compute`` after refusing the examples where ``bad`` says the row raises."""

    def forward(*xs: Array) -> Array:
        refuse(op, bad(*xs), xs)
        return compute(*xs)

    return forward


_erf = np.vectorize(math.erf, otypes=[float])  # numpy has no erf; the row's own, per element
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_LN2 = math.log(2.0)


def _sigmoid(x: Array) -> Array:
    e = np.exp(x)
    return np.where(x >= 0.0, 1.0 / (1.0 + np.exp(-x)), e / (1.0 + e))


def _rsqrt(x: Array) -> Array:
    return np.where(x == 0.0, math.inf, 1.0 / np.sqrt(x))


def _inv_or_inf(x: Array) -> Array:
    return np.where(x == 0.0, np.copysign(math.inf, x), 1.0 / x)


def _one_minus_square(x: Array) -> Array:
    return np.where(np.abs(x) == 1.0, 1.0 - x * x, (1.0 - x) * (1.0 + x))


def _inv_hypot1(x: Array) -> Array:
    return 1.0 / np.hypot(x, 1.0)


def _nan_or(nan: Array, d: Array) -> Array:
    return np.where(nan, math.nan, d)


_ONE = 1.0  # a slope of exactly 1 where the edge is not masked: the share is the adjoint itself


def _step(x: Array) -> Masked:
    """relu's slope: 1 where x > 0, MASKED where x <= 0, nan at nan (the row's _step)."""
    nan = np.isnan(x)
    return Masked(_nan_or(nan, 1.0) if np.any(nan) else _ONE, x <= 0.0)


def _pow_undefined(a: Array, b: Array) -> Array:
    finite = np.isfinite(a) & np.isfinite(b)
    return ((a == 0.0) & (b < 0.0)) | ((a < 0.0) & finite & (np.floor(b) != b))


def _base_partial(a: Array, b: Array) -> Array:
    """d/da a**b = b a**(b-1): inf at a = 0 for b < 1, MASKED where b = 0 (a**0 is 1)."""
    d = np.where((a == 0.0) & (b < 1.0), math.inf, b * np.power(a, b - 1.0))
    return Masked(d, b == 0.0)


def _pow_local(a: Array, b: Array, out: Array) -> tuple[Any, Any]:
    positive = (a > 0.0) | np.isnan(a)
    at_zero = (a == 0.0) & (b > 0.0)
    refuse(ops.POW, ~(positive | at_zero), (a, b, out), ops.POW.local)
    return _base_partial(a, b), Masked(out * np.log(np.where(positive, a, 1.0)), at_zero)


def _abs_local(x: Array, out: Array) -> tuple[Any]:
    return (Masked(np.where(x > 0.0, 1.0, np.where(x < 0.0, -1.0, math.nan)), x == 0.0),)


def _leaky_relu_local(x: Array, alpha: Array, out: Array) -> tuple[Any, Any]:
    positive, nan = x > 0.0, np.isnan(x)
    return np.where(positive, 1.0, _nan_or(nan, alpha)), Masked(_nan_or(nan, x), positive)


def _gelu_local(x: Array, out: Array) -> tuple[Any]:
    cdf = 0.5 * (1.0 + _erf(x * _INV_SQRT_2))
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return (cdf + x * pdf,)


def _silu_local(x: Array, out: Array) -> tuple[Any]:
    s = _sigmoid(x)
    return (s * (1.0 + x * (1.0 - s)),)


def _remainder(a: Array, b: Array) -> Array:
    refuse(ops.REMAINDER, (b == 0.0) & ~(np.isnan(a) | np.isnan(b)), (a, b))
    return np.remainder(a, b)


def _remainder_local(a: Array, b: Array, out: Array) -> tuple[Any, Any]:
    nan = np.isnan(a) | np.isnan(b) | np.isnan(out)
    return _nan_or(nan, 1.0), _nan_or(nan, -np.floor_divide(a, b))


def _fmod(a: Array, b: Array) -> Array:
    nan = np.isnan(a) | np.isnan(b) | np.isinf(a)
    refuse(ops.FMOD, (b == 0.0) & ~nan, (a, b))
    return np.where(nan, math.nan, np.fmod(a, b))


def _fmod_local(a: Array, b: Array, out: Array) -> tuple[Any, Any]:
    nan = np.isnan(a) | np.isnan(b) | np.isnan(out)
    q = (a - out) / b  # trunc(a/b), rounded as the row rounds it
    return _nan_or(nan, 1.0), _nan_or(nan, np.where(np.isfinite(q), -np.round(q), -q))


def _pick(first: Array, a: Array, b: Array) -> tuple[Any, Any]:
    """max/min: 1 for the selected input, half each at a tie, nan at nan (the row's _pick)."""
    nan, tie = np.isnan(a) | np.isnan(b), a == b
    d = _nan_or(nan, np.where(tie, 0.5, 1.0))
    chosen = ~nan & ~tie
    return Masked(d, chosen & ~first), Masked(d, chosen & first)


def _clamp(x: Array, lo: Array, hi: Array) -> Array:
    refuse(ops.CLAMP, lo > hi, (x, lo, hi))
    clamped = np.where(x < lo, lo, np.where(x > hi, hi, x))
    return np.where(np.isnan(lo) | np.isnan(hi), math.nan, clamped)


def _clamp_local(x: Array, lo: Array, hi: Array, out: Array) -> tuple[Any, Any, Any]:
    nan = np.isnan(x) | np.isnan(lo) | np.isnan(hi)
    below = ~nan & (x < lo)
    above = ~nan & ~below & (x > hi)
    inside = ~nan & ~below & ~above
    d = _nan_or(nan, 1.0)
    return Masked(d, below | above), Masked(d, above | inside), Masked(d, below | inside)


def _hypot_local(a: Array, b: Array, out: Array) -> tuple[Any, Any]:
    zero = out == 0.0
    return Masked(a / out, zero), Masked(b / out, zero)


def _atan2_local(y: Array, x: Array, out: Array) -> tuple[Any, Any]:
    r = np.hypot(y, x)
    zero = r == 0.0
    return _nan_or(zero, (x / r) / r), _nan_or(zero, (-y / r) / r)


def _exp2_local(x: Array, out: Array) -> tuple[Any]:
    near = np.isinf(out) & (x < 1026.0)  # 2**x overflows from 1024, 2**x ln 2 from 1024.53
    return (np.where(near, np.exp2(x - 1.0) * (2.0 * _LN2), out * _LN2),)


def _split(args: Sequence[Array]) -> tuple[Array, Array]:
    """The logits and the targets of a cross entropy node, each as a (batch, k) array."""
    k = len(args) // 2
    columns = np.broadcast_arrays(*args)
    return np.stack(columns[:k], axis=-1), np.stack(columns[k:], axis=-1)


def _ce_parts(z: Array) -> tuple[Array, Array, Array]:
    m = np.max(z, axis=-1, keepdims=True)
    e = np.exp(z - m)
    s = np.sum(e, axis=-1, keepdims=True)
    return e, s, m + np.log(s)


def _ce_forward(*zy: Array) -> Array:
    z, y = _split(zy)
    lse = _ce_parts(z)[2]
    return np.sum(y * (lse - z), axis=-1)


def _ce_local(*args: Array) -> tuple[Any, ...]:
    """d/dz = softmax(z) sum(y) - y;  d/dy = logsumexp(z) - z, one column per input."""
    z, y = _split(args[:-1])
    e, s, lse = _ce_parts(z)
    dz = e / s * np.sum(y, axis=-1, keepdims=True) - y
    return (*np.moveaxis(dz, -1, 0), *np.moveaxis(lse - z, -1, 0))


def _domain(op: Op, compute: Callable[..., Array], bad: Callable[..., Array],
            local: Callable[..., tuple[Any, ...]]) -> None:  # fmt: skip
    define(op, _checked(op, compute, bad), local)


# fmt: off
define(ops.ADD, lambda a, b: a + b, lambda a, b, out: (1.0, 1.0), "+")
define(ops.SUB, lambda a, b: a - b, lambda a, b, out: (1.0, -1.0), "-")
define(ops.MUL, lambda a, b: a * b, lambda a, b, out: (b, a), "*")
define(ops.NEG, lambda x: -x, lambda x, out: (-1.0,), "neg")
_domain(ops.DIV, lambda a, b: a / b, lambda a, b: b == 0.0,
        lambda a, b, out: (1.0 / b, -out / b))
_domain(ops.POW_CONST, np.power, _pow_undefined,
        lambda a, b, out: (_base_partial(a, b), MASKED))
_domain(ops.POW, np.power, _pow_undefined, _pow_local)
define(ops.RELU, lambda x: np.where(x <= 0.0, 0.0, x), lambda x, out: (_step(x),))
define(ops.LEAKY_RELU, lambda x, alpha: np.where(x > 0.0, x, alpha * x), _leaky_relu_local)
define(ops.TANH, np.tanh, lambda x, out: (1.0 - out * out,))
define(ops.EXP, np.exp, lambda x, out: (out,))
_domain(ops.LOG, np.log, lambda x: x <= 0.0, lambda x, out: (1.0 / x,))
define(ops.SIGMOID, _sigmoid, lambda x, out: (out * (1.0 - out),))
define(ops.SOFTPLUS, lambda x: np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))),
       lambda x, out: (_sigmoid(x),))
define(ops.GELU, lambda x: 0.5 * x * (1.0 + _erf(x * _INV_SQRT_2)), _gelu_local)
define(ops.SILU, lambda x: x * _sigmoid(x), _silu_local)
_domain(ops.SQRT, np.sqrt, lambda x: x < 0.0, lambda x, out: (0.5 * _inv_or_inf(out),))
define(ops.ABS, np.abs, _abs_local)
define(ops.SIN, np.sin, lambda x, out: (np.cos(x),))
define(ops.COS, np.cos, lambda x, out: (-np.sin(x),))
define(ops.ERF, _erf, lambda x, out: (_TWO_OVER_SQRT_PI * np.exp(-x * x),))
define(ops.RECIPROCAL_INF, _inv_or_inf, lambda x, out: (-(out * out),))
define(ops.TAN, np.tan, lambda x, out: (1.0 + out * out,))
define(ops.SINH, np.sinh, lambda x, out: (np.cosh(x),))
define(ops.COSH, np.cosh, lambda x, out: (np.sinh(x),))
_domain(ops.RSQRT, _rsqrt, lambda x: x < 0.0, lambda x, out: (-0.5 * out * out * out,))
_domain(ops.ASIN, np.arcsin, lambda x: np.abs(x) > 1.0,
        lambda x, out: (_rsqrt(_one_minus_square(x)),))
_domain(ops.ACOS, np.arccos, lambda x: np.abs(x) > 1.0,
        lambda x, out: (-_rsqrt(_one_minus_square(x)),))
define(ops.ATAN, np.arctan, lambda x, out: (_inv_hypot1(x) * _inv_hypot1(x),))
define(ops.ASINH, np.arcsinh, lambda x, out: (_inv_hypot1(x),))
_domain(ops.ACOSH, np.arccosh, lambda x: x < 1.0,
        lambda x, out: (_rsqrt(x - 1.0) * _rsqrt(x + 1.0),))
_domain(ops.ATANH, np.arctanh, lambda x: np.abs(x) >= 1.0,
        lambda x, out: (1.0 / ((1.0 - x) * (1.0 + x)),))
_domain(ops.LOG2, np.log2, lambda x: x <= 0.0, lambda x, out: (1.0 / _LN2 / x,))
_domain(ops.LOG10, np.log10, lambda x: x <= 0.0, lambda x, out: (1.0 / math.log(10.0) / x,))
_domain(ops.LOG1P, np.log1p, lambda x: x <= -1.0, lambda x, out: (1.0 / (1.0 + x),))
define(ops.EXPM1, np.expm1, lambda x, out: (np.where(x >= 0.0, out + 1.0, np.exp(x)),))
define(ops.EXP2, np.exp2, _exp2_local)
define(ops.SIGN, np.sign,
       lambda x, out: (Masked(_nan_or(np.isnan(x), 0.0), ~np.isnan(x)),))
_domain(ops.RECIPROCAL, lambda x: 1.0 / x, lambda x: x == 0.0, lambda x, out: (-out * out,))
define(ops.SQUARE, lambda x: x * x, lambda x, out: (2.0 * x,))
define(ops.HYPOT, np.hypot, _hypot_local)
define(ops.ATAN2, np.arctan2, _atan2_local)
define(ops.REMAINDER, _remainder, _remainder_local)
define(ops.FMOD, _fmod, _fmod_local)
define(ops.MAXIMUM, lambda a, b: np.where(np.isnan(a) | (a > b), a, b),
       lambda a, b, out: _pick(a > b, a, b))
define(ops.MINIMUM, lambda a, b: np.where(np.isnan(a) | (a < b), a, b),
       lambda a, b, out: _pick(a < b, a, b))
define(ops.CLAMP, _clamp, _clamp_local)
define(ops.CROSS_ENTROPY, _ce_forward, _ce_local)
# fmt: on
