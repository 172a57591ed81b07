"""The differentiable operations: one table row per primitive.

Each :class:`Op` keeps its two halves side by side:

* ``forward(*xs) -> float`` computes the value on plain floats and raises a clear
  error where the function is undefined (log of a negative, division by zero, ...);
* ``local(*xs, out) -> tuple`` gives the local partial derivatives
  d out / d x_i, one per input.

``local`` only uses arithmetic and the polymorphic helpers below, so the very same
rule works on floats (the fast first-order pass), on :class:`~chainrule.Value`
objects (``backward(create_graph=True)``, where the rule itself becomes part of the
graph and can be differentiated again) and on forward-mode dual numbers.

This module knows nothing about graphs: the walk lives in :mod:`chainrule.engine`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["OPS", "Op", "register"]

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_EXP_MAX = math.log(1.7976931348623157e308)  # largest x with a finite exp(x), ~709.78


@dataclass(frozen=True)
class Op:
    """A primitive: its name (``Value._op``), forward on floats and local partials."""

    name: str
    forward: Callable[..., float]
    local: Callable[..., tuple[Any, ...]]
    doc: str = ""
    constant_partials: bool = False  # local() gives the same numbers for every input (+, -, neg)


OPS: dict[str, Op] = {}


def register(name: str, forward: Callable[..., float], local: Callable[..., tuple[Any, ...]],
             doc: str = "", *, constant_partials: bool = False) -> Op:  # fmt: skip
    """Add an operation to :data:`OPS` (custom operations use this too).

    ``constant_partials=True`` promises that ``local`` ignores its arguments; every node of the
    operation then shares one backward closure.
    """
    if name in OPS:
        raise ValueError(f"an operation named {name!r} is already registered")
    op = Op(name, forward, local, doc, constant_partials)
    OPS[name] = op
    return op


# --- polymorphic helpers: floats go to the float forward, anything else to its method ---


def _poly(method: str, on_float: Callable[[float], float]) -> Callable[[Any], Any]:
    def apply(x: Any) -> Any:
        if isinstance(x, (int, float)):
            return on_float(float(x))
        return getattr(x, method)()

    apply.__name__ = method
    return apply


# --- forward functions on floats: stable formulas and clear domain errors ---


def _exp(x: float) -> float:
    if x > _EXP_MAX:
        raise OverflowError(f"exp({x!r}) overflows a float (needs x <= {_EXP_MAX:.2f})")
    return math.exp(x)


def _log(x: float) -> float:
    if x <= 0.0:
        raise ValueError(f"log is undefined at x={x!r} (needs x > 0)")
    return math.log(x)


def _sqrt(x: float) -> float:
    if x < 0.0:
        raise ValueError(f"sqrt is undefined at x={x!r} (needs x >= 0)")
    return math.sqrt(x)


def _div(a: float, b: float) -> float:
    if b == 0.0:
        raise ZeroDivisionError(f"division by zero: {a!r} / {b!r}")
    return a / b


def _pow(a: float, b: float) -> float:
    if a == 0.0 and b < 0.0:
        raise ZeroDivisionError(f"0.0 ** {b!r} is undefined (division by zero)")
    if a < 0.0 and not float(b).is_integer():
        raise ValueError(
            f"{a!r} ** {b!r} is not a real number (negative base needs an integer exponent)"
        )
    try:
        result: float = a**b
    except OverflowError:
        raise OverflowError(f"{a!r} ** {b!r} overflows a float") from None
    return result


def _sigmoid(x: float) -> float:
    # Two branches so exp never overflows: for x < 0 use e^x / (1 + e^x).
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): finite for every finite x.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x * _INV_SQRT_2))


def _silu(x: float) -> float:
    return x * _sigmoid(x)


def _leaky_relu(x: float, alpha: float) -> float:
    return x if x > 0.0 else alpha * x


exp = _poly("exp", _exp)
log = _poly("log", _log)
sigmoid = _poly("sigmoid", _sigmoid)
sin = _poly("sin", math.sin)
cos = _poly("cos", math.cos)
erf = _poly("erf", math.erf)


def _step(x: Any) -> float:
    """1.0 where x > 0 else 0.0 -- a constant, even when x is a Value."""
    return 1.0 if _data(x) > 0.0 else 0.0


def _sign(x: Any) -> float:
    v = _data(x)
    return 1.0 if v > 0.0 else -1.0 if v < 0.0 else 0.0


def _data(x: Any) -> float:
    """The number inside a float, a Value or a dual number."""
    return float(getattr(x, "data", x))


def _base_partial(a: Any, b: Any) -> Any:
    """d/da a**b = b a**(b-1), with the limits at a = 0 spelled out."""
    if _data(a) == 0.0 and _data(b) < 1.0:
        # b = 0: a**0 is constant; 0 < b < 1: the slope at 0 is infinite (IEEE inf, like PyTorch)
        return 0.0 if _data(b) == 0.0 else math.inf
    return b * a ** (b - 1.0)


def _pow_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    """Partials of a**b when the exponent is differentiable too; d/db = a**b ln a needs a > 0."""
    if _data(a) > 0.0:
        return _base_partial(a, b), out * log(a)
    if _data(a) == 0.0 and _data(b) > 0.0:
        return _base_partial(a, b), 0.0  # the limit of a**b ln a as a -> 0+
    raise ValueError(
        f"d/db of a**b needs a > 0, got a={_data(a)!r}; "
        "use a constant exponent (a number or a Value with requires_grad=False)"
    )


def _sqrt_local(x: Any, out: Any) -> tuple[Any]:
    if _data(out) == 0.0:
        return (math.inf,)  # d/dx sqrt(x) at 0 is infinite (IEEE inf, as PyTorch does)
    return (0.5 / out,)


def _gelu_local(x: Any, out: Any) -> tuple[Any]:
    cdf = 0.5 * (1.0 + erf(x * _INV_SQRT_2))
    pdf = _INV_SQRT_2PI * exp(-0.5 * x * x)
    return (cdf + x * pdf,)


def _silu_local(x: Any, out: Any) -> tuple[Any]:
    s = sigmoid(x)
    return (s * (1.0 + x * (1.0 - s)),)


# fmt: off
ADD = register("+", operator.add, lambda a, b, out: (1.0, 1.0),
               "a + b;  d/da = 1, d/db = 1", constant_partials=True)
SUB = register("-", operator.sub, lambda a, b, out: (1.0, -1.0),
               "a - b;  d/da = 1, d/db = -1", constant_partials=True)
MUL = register("*", operator.mul, lambda a, b, out: (b, a),
               "a * b;  d/da = b, d/db = a")
DIV = register("/", _div, lambda a, b, out: (1.0 / b, -out / b),
               "a / b;  d/da = 1/b, d/db = -a/b**2")
POW_CONST = register("**", _pow, lambda a, b, out: (_base_partial(a, b), 0.0),
                     "a ** c, c constant;  d/da = c a**(c-1)")
POW = register("pow", _pow, _pow_local,
               "a ** b;  d/da = b a**(b-1), d/db = a**b ln(a)")
NEG = register("neg", operator.neg, lambda x, out: (-1.0,),
               "-x;  d/dx = -1", constant_partials=True)
RELU = register("ReLU", lambda x: x if x > 0.0 else 0.0, lambda x, out: (_step(x),),
                "max(x, 0);  d/dx = 1 if x > 0 else 0")
LEAKY_RELU = register("leaky_relu", _leaky_relu,
                      lambda x, alpha, out: (1.0, 0.0) if _data(x) > 0.0 else (alpha, x),
                      "x if x > 0 else alpha x;  d/dx = 1 or alpha, d/dalpha = 0 or x")
TANH = register("tanh", math.tanh, lambda x, out: (1.0 - out * out,),
                "tanh(x);  d/dx = 1 - tanh(x)**2")
EXP = register("exp", _exp, lambda x, out: (out,),
               "e**x;  d/dx = e**x")
LOG = register("log", _log, lambda x, out: (1.0 / x,),
               "ln x;  d/dx = 1/x")
SIGMOID = register("sigmoid", _sigmoid, lambda x, out: (out * (1.0 - out),),
                   "1 / (1 + e**-x);  d/dx = s (1 - s)")
SOFTPLUS = register("softplus", _softplus, lambda x, out: (sigmoid(x),),
                    "ln(1 + e**x);  d/dx = sigmoid(x)")
GELU = register("gelu", _gelu, _gelu_local,
                "x Phi(x);  d/dx = Phi(x) + x phi(x)")
SILU = register("silu", _silu, _silu_local,
                "x sigmoid(x);  d/dx = s (1 + x (1 - s))")
SQRT = register("sqrt", _sqrt, _sqrt_local,
                "sqrt(x);  d/dx = 1 / (2 sqrt(x))")
ABS = register("abs", abs, lambda x, out: (_sign(x),),
               "|x|;  d/dx = sign(x) (0 at x = 0)")
SIN = register("sin", math.sin, lambda x, out: (cos(x),),
               "sin x;  d/dx = cos x")
COS = register("cos", math.cos, lambda x, out: (-sin(x),),
               "cos x;  d/dx = -sin x")
ERF = register("erf", math.erf, lambda x, out: (_TWO_OVER_SQRT_PI * exp(-x * x),),
               "erf x;  d/dx = 2/sqrt(pi) e**(-x**2)")
# fmt: on


# --- the rest of the scalar function set ---
#
# Every row follows the numeric policy (docs/concepts/numerical-stability.md):
# * an input outside the function's real domain raises, naming the input and the domain;
#   NaN is never outside a domain, it propagates;
# * overflow gives a signed inf, never OverflowError (math.sinh, math.expm1 and ** raise it);
# * inf inputs give what IEEE gives (tan(inf) is nan, where math.tan raises);
# * where the slope is infinite at a domain's closed edge (asin at 1, acosh at 1) it is inf
#   at every order: those rules go through rsqrt, whose value at 0 is inf;
# * a partial that is zero by the op's definition (sign, the input max/min does not select,
#   clamp outside its range) is BLOCKED: no gradient flows there, not even an inf or nan one.

_LN2 = math.log(2.0)
_INV_LN2 = 1.0 / _LN2
_INV_LN10 = 1.0 / math.log(10.0)


class _Blocked:
    """A local partial that is zero by the op's definition: ``g * BLOCKED`` is 0.0 for every g.

    ``0.0 * inf`` is nan, but a structural zero must stop an inf or nan adjoint (PyTorch's
    relu does), so such a rule gives this marker instead of the number 0.
    """

    __slots__ = ()

    def __rmul__(self, g: object) -> float:
        return 0.0

    def __float__(self) -> float:
        return 0.0

    def __repr__(self) -> str:
        return "BLOCKED"


BLOCKED = _Blocked()


def _is_nan(*xs: Any) -> bool:
    return any(math.isnan(_data(x)) for x in xs)


def _domain(name: str, x: float, inside: bool, needs: str) -> None:
    if not inside:
        raise ValueError(f"{name} is undefined at x={x!r} (needs {needs})")


def _tan(x: float) -> float:
    return math.nan if math.isinf(x) else math.tan(x)  # math.tan(inf) raises


def _sinh(x: float) -> float:
    try:
        return math.sinh(x)
    except OverflowError:
        return math.copysign(math.inf, x)


def _cosh(x: float) -> float:
    try:
        return math.cosh(x)
    except OverflowError:
        return math.inf


def _expm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def _exp2(x: float) -> float:
    try:
        result: float = 2.0**x
    except OverflowError:
        return math.inf
    return result


def _asin(x: float) -> float:
    _domain("asin", x, not abs(x) > 1.0, "-1 <= x <= 1")
    return math.asin(x)


def _acos(x: float) -> float:
    _domain("acos", x, not abs(x) > 1.0, "-1 <= x <= 1")
    return math.acos(x)


def _acosh(x: float) -> float:
    _domain("acosh", x, not x < 1.0, "x >= 1")
    return math.acosh(x)


def _atanh(x: float) -> float:
    _domain("atanh", x, not abs(x) >= 1.0, "-1 < x < 1")
    return math.atanh(x)


def _log2(x: float) -> float:
    _domain("log2", x, not x <= 0.0, "x > 0")
    return math.log2(x)


def _log10(x: float) -> float:
    _domain("log10", x, not x <= 0.0, "x > 0")
    return math.log10(x)


def _log1p(x: float) -> float:
    _domain("log1p", x, not x <= -1.0, "x > -1")
    return math.log1p(x)


def _rsqrt(x: float) -> float:
    _domain("rsqrt", x, not x < 0.0, "x >= 0")
    return math.inf if x == 0.0 else 1.0 / math.sqrt(x)


def _reciprocal(x: float) -> float:
    if x == 0.0:
        raise ZeroDivisionError(f"reciprocal of zero: 1 / {x!r}")
    return 1.0 / x


def _sign_of(x: float) -> float:
    return x if math.isnan(x) else 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0


def _remainder(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan  # even nan % 0: NaN is never outside the domain
    if b == 0.0:
        raise ZeroDivisionError(f"remainder by zero: {a!r} % {b!r}")
    return a % b  # Python's %: the sign of the divisor, a - b floor(a/b)


def _fmod(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or math.isinf(a):
        return math.nan  # math.fmod(inf, b) raises
    if b == 0.0:
        raise ZeroDivisionError(f"fmod by zero: fmod({a!r}, {b!r})")
    return math.fmod(a, b)  # C's fmod: the sign of the dividend, a - b trunc(a/b)


def _maximum(a: float, b: float) -> float:
    return a if math.isnan(a) or a > b else b


def _minimum(a: float, b: float) -> float:
    return a if math.isnan(a) or a < b else b


def _clamp(x: float, lo: float, hi: float) -> float:
    if lo > hi:
        raise ValueError(f"clamp needs min <= max, got min={lo!r} and max={hi!r}")
    if math.isnan(lo) or math.isnan(hi):
        return math.nan
    return lo if x < lo else hi if x > hi else x  # a nan x fails both tests and stays nan


rsqrt = _poly("rsqrt", _rsqrt)
sinh = _poly("sinh", _sinh)
cosh = _poly("cosh", _cosh)
exp2 = _poly("exp2", _exp2)


def hypot(a: Any, b: Any) -> Any:
    """sqrt(a**2 + b**2) without overflow, for two floats or a node and anything."""
    if isinstance(a, (int, float)):
        return math.hypot(a, b)
    return a.hypot(b)


def _hypot_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    if _data(out) == 0.0:
        return BLOCKED, BLOCKED  # the tip of the cone: 0 is a subgradient, as abs'(0) = 0
    return a / out, b / out


def _atan2_local(y: Any, x: Any, out: Any) -> tuple[Any, Any]:
    # x/(x**2 + y**2) as (x/r)/r with r = hypot(y, x): x**2 + y**2 overflows above 1.3e154
    # and underflows below 1e-162, r does neither
    r = hypot(y, x)
    if _data(r) == 0.0:
        return math.nan, math.nan  # the origin: atan2 jumps there, no slope at all (as PyTorch)
    return (x / r) / r, (-y / r) / r


def _remainder_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    if _is_nan(a, b, out):  # inf % b has no value, so no slope either
        return math.nan, math.nan
    return 1.0, -(_data(a) // _data(b))  # Python's // is the floor(a/b) that % used


def _fmod_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    if _is_nan(a, b, out):
        return math.nan, math.nan
    q = (_data(a) - _data(out)) / _data(b)  # trunc(a/b), rounded as Python's // rounds it
    return 1.0, -float(round(q)) if math.isfinite(q) else -q


def _exp2_local(x: Any, out: Any) -> tuple[Any]:
    if math.isinf(_data(out)) and _data(x) < 1026.0:
        # 2**x overflows for x >= 1024, but 2**x ln 2 only from x = 1024.53 on
        return (exp2(x - 1.0) * (2.0 * _LN2),)
    return (out * _LN2,)


def _one_minus_square(x: Any) -> Any:
    """1 - x**2 as (1-x)(1+x), without cancellation near x = +-1.

    At x = +-1 itself it is 1 - x*x: the same 0, but its derivative -2x has no 0 * inf term
    when the infinite slope there is differentiated again.
    """
    if abs(_data(x)) == 1.0:
        return 1.0 - x * x
    return (1.0 - x) * (1.0 + x)


def _inv_hypot1(x: Any) -> Any:
    """1/sqrt(1 + x**2) via hypot: 1 + x**2 overflows for |x| > 1.3e154, hypot does not."""
    return 1.0 / hypot(x, 1.0)


def _pick(first: bool, a: Any, b: Any) -> tuple[Any, Any]:
    """The partials of max/min: 1 for the selected input, half each at a tie (as PyTorch)."""
    if _is_nan(a, b):
        return math.nan, math.nan
    if _data(a) == _data(b):
        return 0.5, 0.5
    return (1.0, BLOCKED) if first else (BLOCKED, 1.0)


def _clamp_local(x: Any, lo: Any, hi: Any, out: Any) -> tuple[Any, Any, Any]:
    if _is_nan(x, lo, hi):
        return math.nan, math.nan, math.nan
    if _data(x) < _data(lo):
        return BLOCKED, 1.0, BLOCKED
    if _data(x) > _data(hi):
        return BLOCKED, BLOCKED, 1.0
    return 1.0, BLOCKED, BLOCKED  # min <= x <= max passes the gradient, boundaries included


# fmt: off
TAN = register("tan", _tan, lambda x, out: (1.0 + out * out,),
               "tan x;  `d/dx = 1 + tan(x)**2`")
SINH = register("sinh", _sinh, lambda x, out: (cosh(x),),
                "sinh x;  `d/dx = cosh x`")
COSH = register("cosh", _cosh, lambda x, out: (sinh(x),),
                "cosh x;  `d/dx = sinh x`")
RSQRT = register("rsqrt", _rsqrt, lambda x, out: (-0.5 * out * out * out,),
                 "1/sqrt(x), inf at 0;  `d/dx = -1/(2 x**1.5)` (the slope of asin, acos, acosh)")
ASIN = register("asin", _asin, lambda x, out: (rsqrt(_one_minus_square(x)),),
                "asin x;  `d/dx = 1/sqrt((1-x)(1+x))`, inf at x = +-1")
ACOS = register("acos", _acos, lambda x, out: (-rsqrt(_one_minus_square(x)),),
                "acos x;  `d/dx = -1/sqrt((1-x)(1+x))`, -inf at x = +-1")
ATAN = register("atan", math.atan, lambda x, out: (_inv_hypot1(x) * _inv_hypot1(x),),
                "atan x;  `d/dx = 1/(1 + x**2)`")
ASINH = register("asinh", math.asinh, lambda x, out: (_inv_hypot1(x),),
                 "asinh x;  `d/dx = 1/sqrt(1 + x**2)`")
ACOSH = register("acosh", _acosh, lambda x, out: (rsqrt(x - 1.0) * rsqrt(x + 1.0),),
                 "acosh x;  `d/dx = 1/sqrt((x-1)(x+1))`, inf at x = 1")
ATANH = register("atanh", _atanh, lambda x, out: (1.0 / ((1.0 - x) * (1.0 + x)),),
                 "atanh x;  `d/dx = 1/((1-x)(1+x))`")
LOG2 = register("log2", _log2, lambda x, out: (_INV_LN2 / x,),
                "log2 x;  `d/dx = 1/(x ln 2)`")
LOG10 = register("log10", _log10, lambda x, out: (_INV_LN10 / x,),
                 "log10 x;  `d/dx = 1/(x ln 10)`")
LOG1P = register("log1p", _log1p, lambda x, out: (1.0 / (1.0 + x),),
                 "ln(1 + x), exact near 0;  `d/dx = 1/(1 + x)`")
EXPM1 = register("expm1", _expm1, lambda x, out: (out + 1.0 if _data(x) >= 0.0 else exp(x),),
                 "e**x - 1, exact near 0;  `d/dx = e**x`")
EXP2 = register("exp2", _exp2, _exp2_local,
                "2**x;  `d/dx = 2**x ln 2`")
SIGN = register("sign", _sign_of, lambda x, out: (math.nan if _is_nan(x) else BLOCKED,),
                "-1, 0 or 1;  `d/dx = 0` (no gradient flows)")
RECIPROCAL = register("reciprocal", _reciprocal, lambda x, out: (-out * out,),
                      "1/x;  `d/dx = -1/x**2`")
SQUARE = register("square", lambda x: x * x, lambda x, out: (2.0 * x,),
                  "x**2;  `d/dx = 2 x`")
HYPOT = register("hypot", math.hypot, _hypot_local,
                 "sqrt(a**2 + b**2), no overflow;  `d/da = a/hypot(a, b)`, 0 at (0, 0)")
ATAN2 = register("atan2", math.atan2, _atan2_local,
                 "the angle of the point (x, y);  `d/dy = x/(x**2 + y**2)`, "
                 "`d/dx = -y/(x**2 + y**2)`")
REMAINDER = register("%", _remainder, _remainder_local,
                     "a % b, Python's (the sign of b);  `d/da = 1`, `d/db = -floor(a/b)`")
FMOD = register("fmod", _fmod, _fmod_local,
                "fmod(a, b), C's (the sign of a);  `d/da = 1`, `d/db = -trunc(a/b)`")
MAXIMUM = register("maximum", _maximum, lambda a, b, out: _pick(_data(a) > _data(b), a, b),
                   "the larger of a and b;  `d/da = 1 if a > b else 0`, 0.5 each at a tie")
MINIMUM = register("minimum", _minimum, lambda a, b, out: _pick(_data(a) < _data(b), a, b),
                   "the smaller of a and b;  `d/da = 1 if a < b else 0`, 0.5 each at a tie")
CLAMP = register("clamp", _clamp, _clamp_local,
                 "x limited to [min, max];  `d/dx = 1 if min <= x <= max else 0`")
# fmt: on
