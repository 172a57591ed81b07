"""The forward functions on floats: stable formulas and clear domain errors.

Every op row's forward value is computed here, and every one follows the numeric policy
(docs/concepts/numerical-stability.md):

* an input outside the function's real domain raises, naming the input and the domain;
  NaN is never outside a domain, it propagates;
* overflow gives a signed inf, never OverflowError (``math.sinh``, ``math.expm1`` and ``**``
  raise it);
* inf inputs give what IEEE gives (tan(inf) is nan, where math.tan raises).

The derivative rules, which work on floats, Values and dual numbers alike, live beside
their rows in :mod:`chainrule.ops`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_EXP_MAX = math.log(1.7976931348623157e308)  # largest x with a finite exp(x), ~709.78
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


def exp(x: float) -> float:
    return math.inf if x > _EXP_MAX else math.exp(x)  # overflow is inf (IEEE), not an error


def log(x: float) -> float:
    if x <= 0.0:
        raise ValueError(f"log is undefined at x={x!r} (needs x > 0)")
    return math.log(x)


def sqrt(x: float) -> float:
    if x < 0.0:
        raise ValueError(f"sqrt is undefined at x={x!r} (needs x >= 0)")
    return math.sqrt(x)


def div(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan  # even nan / 0: NaN is never outside the domain
    if b == 0.0:
        raise ZeroDivisionError(f"division by zero: {a!r} / {b!r}")
    return a / b


def pow(a: float, b: float) -> float:
    if a == 0.0 and b < 0.0:
        raise ZeroDivisionError(f"0.0 ** {b!r} is undefined (division by zero)")
    if a < 0.0 and math.isfinite(a) and math.isfinite(b) and not float(b).is_integer():
        raise ValueError(
            f"{a!r} ** {b!r} is not a real number (negative base needs an integer exponent)"
        )
    try:
        result: float = a**b
    except OverflowError:  # the true result is beyond the float range: a signed inf (IEEE)
        return -math.inf if a < 0.0 and b % 2.0 == 1.0 else math.inf
    return result


def sin(x: float) -> float:
    return math.sin(x) if math.isfinite(x) else math.nan  # sin(+-inf) is nan (IEEE)


def cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def sigmoid(x: float) -> float:
    # Two branches so exp never overflows: for x < 0 use e^x / (1 + e^x).
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def softplus(x: float) -> float:
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): finite for every finite x.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x * _INV_SQRT_2))


def silu(x: float) -> float:
    return x * sigmoid(x)


def relu(x: float) -> float:
    return 0.0 if x <= 0.0 else x  # nan <= 0 is False: nan passes through


def leaky_relu(x: float, alpha: float) -> float:
    return x if x > 0.0 else alpha * x  # nan > 0 is False: alpha * nan is nan


def pow_or_inf(a: float, c: float) -> float:
    """``a ** c``, with ``0 ** c`` for c < 0 the signed inf of IEEE's pow instead of an error."""
    if a == 0.0 and c < 0.0:
        odd = c.is_integer() and c % 2.0 == 1.0
        return math.copysign(math.inf, a) if odd else math.inf
    return pow(a, c)


def inv_or_inf(x: float) -> float:
    return 1.0 / x if x != 0.0 else math.copysign(math.inf, x)


def domain(name: str, x: float, inside: bool, needs: str) -> None:
    if not inside:
        raise ValueError(f"{name} is undefined at x={x!r} (needs {needs})")


def tan(x: float) -> float:
    return math.nan if math.isinf(x) else math.tan(x)  # math.tan(inf) raises


def sinh(x: float) -> float:
    try:
        return math.sinh(x)
    except OverflowError:
        return math.copysign(math.inf, x)


def cosh(x: float) -> float:
    try:
        return math.cosh(x)
    except OverflowError:
        return math.inf


def expm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def exp2(x: float) -> float:
    try:
        result: float = 2.0**x
    except OverflowError:
        return math.inf
    return result


def asin(x: float) -> float:
    domain("asin", x, not abs(x) > 1.0, "-1 <= x <= 1")
    return math.asin(x)


def acos(x: float) -> float:
    domain("acos", x, not abs(x) > 1.0, "-1 <= x <= 1")
    return math.acos(x)


def acosh(x: float) -> float:
    domain("acosh", x, not x < 1.0, "x >= 1")
    return math.acosh(x)


def atanh(x: float) -> float:
    domain("atanh", x, not abs(x) >= 1.0, "-1 < x < 1")
    return math.atanh(x)


def log2(x: float) -> float:
    domain("log2", x, not x <= 0.0, "x > 0")
    return math.log2(x)


def log10(x: float) -> float:
    domain("log10", x, not x <= 0.0, "x > 0")
    return math.log10(x)


def log1p(x: float) -> float:
    domain("log1p", x, not x <= -1.0, "x > -1")
    return math.log1p(x)


def rsqrt(x: float) -> float:
    domain("rsqrt", x, not x < 0.0, "x >= 0")
    return math.inf if x == 0.0 else 1.0 / math.sqrt(x)


def reciprocal(x: float) -> float:
    if x == 0.0:
        raise ZeroDivisionError(f"reciprocal of zero: 1 / {x!r}")
    return 1.0 / x


def sign(x: float) -> float:
    return x if math.isnan(x) else 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0


def remainder(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan  # even nan % 0: NaN is never outside the domain
    if b == 0.0:
        raise ZeroDivisionError(f"remainder by zero: {a!r} % {b!r}")
    return a % b  # Python's %: the sign of the divisor, a - b floor(a/b)


def fmod(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or math.isinf(a):
        return math.nan  # math.fmod(inf, b) raises
    if b == 0.0:
        raise ZeroDivisionError(f"fmod by zero: fmod({a!r}, {b!r})")
    return math.fmod(a, b)  # C's fmod: the sign of the dividend, a - b trunc(a/b)


def maximum(a: float, b: float) -> float:
    return a if math.isnan(a) or a > b else b


def minimum(a: float, b: float) -> float:
    return a if math.isnan(a) or a < b else b


def clamp(x: float, lo: float, hi: float) -> float:
    if lo > hi:
        raise ValueError(f"clamp needs min <= max, got min={lo!r} and max={hi!r}")
    if math.isnan(lo) or math.isnan(hi):
        return math.nan
    return lo if x < lo else hi if x > hi else x  # a nan x fails both tests and stays nan


def softmax_parts(z: Sequence[float]) -> tuple[list[float], float]:
    """``softmax(z)`` and ``logsumexp(z)`` on floats, shifted by ``max(z)`` so no exp overflows."""
    m = max(z)
    e = [math.exp(zi - m) for zi in z]
    s = math.fsum(e)
    return [ei / s for ei in e], m + math.log(s)


def cross_entropy(*zy: float) -> float:
    """``sum_i y_i (logsumexp(z) - z_i)``: cross entropy of ``softmax(z)`` against ``y``."""
    k = len(zy) // 2
    z, y = zy[:k], zy[k:]
    _, lse = softmax_parts(z)
    return math.fsum(yi * (lse - zi) for zi, yi in zip(z, y, strict=True))
