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
