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

:mod:`chainrule.floats` computes the forward values on floats; :mod:`chainrule.methods` turns
the rows into the operators and methods that ``Value`` and ``Dual`` share (``x * y`` is the
row ``MUL``, ``x.tanh()`` the row ``TANH``); how a node is built and how the graph is walked
lives in :mod:`chainrule.engine`.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from chainrule import floats

__all__ = [
    "MASKED",
    "OPS",
    "NotANumber",
    "Op",
    "evaluate",
    "is_node",
    "is_real",
    "number",
    "register",
    "tangent_sum",
]

_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@dataclass(frozen=True, eq=False)
class Op:
    """A primitive: its name (``Value._op``), forward on floats and local partials.

    ``methods`` names the ``Value``/``Dual`` methods made from the row (a binary dunder
    such as ``__mul__`` also gets its reflected ``__rmul__``); a name without underscores
    also becomes a plain function (``chainrule.tanh``). Ops compare by identity: two ops with
    one name are two ops.
    """

    name: str
    forward: Callable[..., float]
    local: Callable[..., tuple[Any, ...]]
    doc: str = ""
    methods: tuple[str, ...] = ()

    def vjp(self, g: Any, xs: Sequence[Any], out: Any) -> list[Any]:
        """The chain rule at one node: the shares ``g * d out / d x_i``, one per input."""
        # an adjoint only masked edges bring (MASKED) passes nothing on: every share is MASKED
        partials = (MASKED,) * len(xs) if g is MASKED else self.local(*xs, out)
        if len(partials) != len(xs):
            raise ValueError(f"op {self.name!r} gave {len(partials)} partials for {len(xs)} inputs")
        return [d if d is MASKED else g * d for d in partials]

    def jvp(self, tangents: Sequence[Any], xs: Sequence[Any], out: Any) -> Any:
        """The forward chain rule at one node: ``sum_i d out / d x_i * t_i``.

        A tangent of ``None`` marks an input that does not vary at this level of forward
        mode; a tangent of exactly 0.0 and a MASKED partial add nothing, so a unit seed's
        zeros never meet an infinite slope (``0 * inf = nan``).
        """
        return tangent_sum(self.local(*xs, out), tangents)

    @property
    def arity(self) -> int:
        """How many inputs the op takes: ``local(*xs, out)`` has one parameter more."""
        return self.local.__code__.co_argcount - 1

    def __reduce__(self) -> tuple[Any, ...]:
        """A built-in op pickles as its name; its rules are code, found again on loading."""
        if OPS.get(self.name, _HELPERS.get(self.name)) is not self:
            raise TypeError(f"{self!r} is not a built-in op, so it cannot be pickled")
        return _named, (self.name,)

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def _named(name: str) -> Op:
    """The built-in op called ``name`` (a row of OPS, or a helper only derivative rules use)."""
    return OPS.get(name) or _HELPERS[name]


def tangent_sum(partials: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """``sum_i partials[i] * tangents[i]`` over the tangents that carry something."""
    total: Any = None
    for d, t in zip(partials, tangents):
        if t is None or d is MASKED or (type(t) is float and t == 0.0):
            continue
        total = t * d if total is None else total + t * d
    return 0.0 if total is None else total


OPS: dict[str, Op] = {}
"""The built-in operations by name: the catalogue for docs, tests and ``compile``."""


def register(name: str, forward: Callable[..., float], local: Callable[..., tuple[Any, ...]],
             doc: str = "", *methods: str) -> Op:  # fmt: skip
    """Add a built-in operation to :data:`OPS`: a row of the table below, whose names a test
    keeps distinct (custom operations make an :class:`Op` instead)."""
    op = OPS[name] = Op(name, forward, local, doc, methods)
    return op


class _Masked(float):
    """The type of :data:`MASKED`: a float 0.0 that the reverse pass recognises by identity."""


MASKED = _Masked(0.0)
"""A local partial that is zero by the op's definition: no gradient flows along that edge.

The reverse pass and forward mode skip the edge instead of multiplying, so an inf or nan
adjoint stays out: ``relu(-1).sqrt()`` gives ``x.grad == 0.0``, not
``0 * inf = nan``. Anything else that reads it as a number sees 0.0.
"""


class NotANumber(TypeError):
    """An operand that is neither a node nor a real number (an operator then gives way)."""


def is_real(x: object) -> TypeGuard[numbers.Real]:
    """A real number as chainrule takes one: ints, floats, numpy's, but not a bool (``Value(x >
    0)`` is almost always a bug; numpy's ``bool_`` is no ``Real`` at all)."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def is_node(x: object) -> bool:
    """A Value or a Dual: an operand whose class evaluates ops itself (``_apply``)."""
    return hasattr(type(x), "_apply")


# --- helpers of the derivative rules: each works on floats, Values and dual numbers ---


def _power(a: Any, b: Any) -> Any:
    """``a ** b`` inside a derivative rule: on floats :func:`floats.pow` (overflow is inf)."""
    if isinstance(a, float) and isinstance(b, float):
        return floats.pow(a, b)
    return a**b


def _step(x: Any) -> float:
    """relu's slope: 1.0 where x > 0, MASKED where x <= 0, nan at nan -- a constant."""
    v = number(x)
    return 1.0 if v > 0.0 else MASKED if v <= 0.0 else math.nan


def _sign(x: Any) -> float:
    """abs's slope: +-1.0, MASKED at 0 (PyTorch's abs'(0) = 0), nan at nan -- a constant."""
    v = number(x)
    return 1.0 if v > 0.0 else -1.0 if v < 0.0 else MASKED if v == 0.0 else math.nan


def _leaky_relu_local(x: Any, alpha: Any, out: Any) -> tuple[Any, Any]:
    v = number(x)
    if v > 0.0:
        return 1.0, MASKED  # alpha does not enter the output for x > 0
    return (alpha, x) if v <= 0.0 else (math.nan, math.nan)


def number(x: Any) -> float:
    """The number inside a float, a Value or a dual number."""
    return float(getattr(x, "data", x))


def _base_partial(a: Any, b: Any) -> Any:
    """d/da a**b = b a**(b-1), with the limits at a = 0 spelled out."""
    if number(b) == 0.0:
        # a**0 is the constant 1 for every a: masked, so an inf adjoint cannot turn it into
        # nan. The price: d/db d/da (= 1/a) read through this row is 0, as in PyTorch
        return MASKED
    if number(a) == 0.0 and number(b) < 1.0:
        # 0 < b < 1: the slope at 0 is infinite (IEEE inf, like PyTorch); through POW_AT_ZERO
        # it stays differentiable on nodes, so (x**c)'' = c (c-1) x**(c-2) is -inf there too
        return b * evaluate(POW_AT_ZERO, a, b - 1.0)
    return b * _power(a, b - 1.0)


def _pow_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    """Partials of a**b when the exponent is differentiable too; d/db = a**b ln a needs a > 0."""
    if number(a) > 0.0 or math.isnan(number(a)):
        return _base_partial(a, b), out * log(a)
    if number(a) == 0.0 and number(b) > 0.0:
        return _base_partial(a, b), MASKED  # a**b ln a -> 0 as a -> 0+ (PyTorch masks it)
    raise ValueError(
        f"d/db of a**b needs a > 0, got a={number(a)!r}; "
        "use a constant exponent (a number or a Value with requires_grad=False)"
    )


def _sqrt_local(x: Any, out: Any) -> tuple[Any]:
    # 1/(2 sqrt x) through RECIPROCAL_INF: inf at 0 (IEEE, as PyTorch), and on a Value the
    # rule stays differentiable there, so sqrt''(0) = -0.25 x**-1.5 = -inf too
    return (0.5 * evaluate(RECIPROCAL_INF, out),)


def _gelu_local(x: Any, out: Any) -> tuple[Any]:
    cdf = 0.5 * (1.0 + erf(x * _INV_SQRT_2))
    pdf = _INV_SQRT_2PI * exp(-0.5 * x * x)
    return (cdf + x * pdf,)


def _silu_local(x: Any, out: Any) -> tuple[Any]:
    s = sigmoid(x)
    return (s * (1.0 + x * (1.0 - s)),)


_LN2 = math.log(2.0)
_INV_LN2 = 1.0 / _LN2
_INV_LN10 = 1.0 / math.log(10.0)


def _is_nan(*xs: Any) -> bool:
    return any(math.isnan(number(x)) for x in xs)


def evaluate(op: Op, *args: Any) -> Any:
    """``op`` on its arguments: a node when some argument is one, else a float.

    The first node argument whose class takes all the arguments evaluates it: a Value
    builds a graph node, a Dual a dual number (a Value gives way to a Dual, so
    ``x.hypot(d)`` works as ``d.hypot(x)`` does). On floats it is ``op.forward``. Derivative
    rules use it too, so a rule computed on nodes is differentiable again.
    """
    for a in args:
        if type(a) is not float and is_node(a):  # floats first: the rules' common case
            try:
                return a._apply(op, *args)
            except NotANumber:  # a Value's apply refuses a Dual: the Dual's class may take it
                continue
    for a in args:
        if not is_real(a):
            raise NotANumber(
                f"{op.name} needs Values, Duals or real numbers, got {type(a).__name__} {a!r}"
            )
    return op.forward(*[float(a) for a in args])


def exp(x: Any) -> Any:
    return evaluate(EXP, x)


def log(x: Any) -> Any:
    return evaluate(LOG, x)


def sigmoid(x: Any) -> Any:
    return evaluate(SIGMOID, x)


def sin(x: Any) -> Any:
    return evaluate(SIN, x)


def cos(x: Any) -> Any:
    return evaluate(COS, x)


def erf(x: Any) -> Any:
    return evaluate(ERF, x)


def rsqrt(x: Any) -> Any:
    return evaluate(RSQRT, x)


def sinh(x: Any) -> Any:
    return evaluate(SINH, x)


def cosh(x: Any) -> Any:
    return evaluate(COSH, x)


def exp2(x: Any) -> Any:
    return evaluate(EXP2, x)


def hypot(a: Any, b: Any) -> Any:
    return evaluate(HYPOT, a, b)


def _hypot_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    if number(out) == 0.0:
        return MASKED, MASKED  # the tip of the cone: 0 is a subgradient, as abs'(0) = 0
    return a / out, b / out


def _atan2_local(y: Any, x: Any, out: Any) -> tuple[Any, Any]:
    # x/(x**2 + y**2) as (x/r)/r with r = hypot(y, x): x**2 + y**2 overflows above 1.3e154
    # and underflows below 1e-162, r does neither
    r = hypot(y, x)
    if number(r) == 0.0:
        # the origin, where atan2 jumps: PyTorch's x/r**2 and -y/r**2 with 1/r**2 set to 0
        return number(x) * 0.0, -number(y) * 0.0
    return (x / r) / r, (-y / r) / r


def _remainder_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    if _is_nan(a, b, out):  # inf % b has no value, so no slope either
        return math.nan, math.nan
    return 1.0, -(number(a) // number(b))  # Python's // is the floor(a/b) that % used


def _fmod_local(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    if _is_nan(a, b, out):
        return math.nan, math.nan
    q = (number(a) - number(out)) / number(b)  # trunc(a/b), rounded as Python's // rounds it
    return 1.0, -float(round(q)) if math.isfinite(q) else -q


def _exp2_local(x: Any, out: Any) -> tuple[Any]:
    if math.isinf(number(out)) and number(x) < 1026.0:
        # 2**x overflows for x >= 1024, but 2**x ln 2 only from x = 1024.53 on
        return (exp2(x - 1.0) * (2.0 * _LN2),)
    return (out * _LN2,)


def _one_minus_square(x: Any) -> Any:
    """1 - x**2 as (1-x)(1+x) for 1/2 < |x| < 1, without cancellation near x = +-1.

    Elsewhere it is 1 - x*x: exact enough near 0, and its derivative -2x has no
    cancellation there (that of (1-x)(1+x) is (1-x) - (1+x)), nor a 0 * inf term at
    x = +-1, where the infinite slope is differentiated again.
    """
    if 0.5 < abs(number(x)) < 1.0:
        return (1.0 - x) * (1.0 + x)
    return 1.0 - x * x


def _inv_hypot1(x: Any) -> Any:
    """1/sqrt(1 + x**2) via hypot: 1 + x**2 overflows for |x| > 1.3e154, hypot does not."""
    return 1.0 / hypot(x, 1.0)


def clamp_bounds(low: Any, high: Any) -> tuple[Any, Any]:
    """clamp's bounds with None as an infinite bound (at least one must be given, as PyTorch)."""
    if low is None and high is None:
        raise ValueError("clamp needs min or max (or both), got neither")
    return -math.inf if low is None else low, math.inf if high is None else high


def _pick(first: bool, a: Any, b: Any) -> tuple[Any, Any]:
    """The partials of max/min: 1 for the selected input, half each at a tie (as PyTorch)."""
    if _is_nan(a, b):
        return math.nan, math.nan
    if number(a) == number(b):
        return 0.5, 0.5
    return (1.0, MASKED) if first else (MASKED, 1.0)


def _clamp_local(x: Any, lo: Any, hi: Any, out: Any) -> tuple[Any, Any, Any]:
    if _is_nan(x, lo, hi):
        return math.nan, math.nan, math.nan
    if number(x) < number(lo):
        return MASKED, 1.0, MASKED
    if number(x) > number(hi):
        return MASKED, MASKED, 1.0
    return 1.0, MASKED, MASKED  # min <= x <= max passes the gradient, boundaries included


def _split(args: Sequence[Any]) -> tuple[Sequence[Any], Sequence[Any]]:
    k = len(args) // 2
    return args[:k], args[k:]


def _add_all(xs: Sequence[Any]) -> Any:
    if all(type(x) is float for x in xs):
        return math.fsum(xs)  # floats: the correctly rounded sum
    it = iter(xs)
    total = next(it)
    for x in it:
        total = total + x
    return total


def _ce_local(*args: Any) -> tuple[Any, ...]:
    """d/dz_i = softmax(z)_i sum(y) - y_i  (softmax - onehot for a one-hot y);
    d/dy_i = logsumexp(z) - z_i = -log softmax(z)_i.

    Polymorphic like every rule here: floats, Values or dual numbers.
    """
    z, y = _split(args[:-1])
    m = max(number(zi) for zi in z)  # a constant shift: it cancels in both partials
    e = [exp(zi - m) for zi in z]
    s = _add_all(e)
    lse = log(s) + m
    ysum = _add_all(y)
    return tuple(ei / s * ysum - yi for ei, yi in zip(e, y, strict=True)) + tuple(
        lse - zi for zi in z
    )


# --- the table: every built-in op, its forward value and its local partials side by side ---
#
# Every row follows the numeric policy (docs/concepts/numerical-stability.md, and
# :mod:`chainrule.floats` for the forward values); in the partials:
# * where the slope is infinite at a domain's closed edge (asin at 1, acosh at 1) it is inf
#   at every order: those rules go through rsqrt, whose value at 0 is inf;
# * a partial that is zero by the op's definition (sign, the input max/min does not select,
#   clamp outside its range) is MASKED: no gradient flows there, not even an inf or nan one.

# fmt: off
ADD = register("+", operator.add, lambda a, b, out: (1.0, 1.0),
               "a + b;  d/da = 1, d/db = 1", "__add__")
SUB = register("-", operator.sub, lambda a, b, out: (1.0, -1.0),
               "a - b;  d/da = 1, d/db = -1", "__sub__")
MUL = register("*", operator.mul, lambda a, b, out: (b, a),
               "a * b;  d/da = b, d/db = a", "__mul__")
DIV = register("/", floats.div,
               lambda a, b, out: (1.0 / b, -out / b) if number(b) else (math.nan,) * 2,
               "a / b;  d/da = 1/b, d/db = -a/b**2", "__truediv__")
POW_CONST = register("**", floats.pow, lambda a, b, out: (_base_partial(a, b), MASKED),
                     "a ** c, c constant;  d/da = c a**(c-1)")
POW = register("pow", floats.pow, _pow_local,
               "a ** b;  d/da = b a**(b-1), d/db = a**b ln(a)")
NEG = register("neg", operator.neg, lambda x, out: (-1.0,),
               "-x;  d/dx = -1", "__neg__")
RELU = register("ReLU", floats.relu, lambda x, out: (_step(x),),
                "max(x, 0);  d/dx = 1 if x > 0 else 0", "relu")
LEAKY_RELU = register("leaky_relu", floats.leaky_relu,
                      _leaky_relu_local,
                      "x if x > 0 else alpha x;  d/dx = 1 or alpha, d/dalpha = 0 or x",
                      "leaky_relu")
TANH = register("tanh", math.tanh, lambda x, out: (1.0 - out * out,),
                "tanh(x);  d/dx = 1 - tanh(x)**2", "tanh")
EXP = register("exp", floats.exp, lambda x, out: (out,),
               "e**x;  d/dx = e**x (inf for x > 709.78)", "exp")
LOG = register("log", floats.log, lambda x, out: (1.0 / x,),
               "ln x;  d/dx = 1/x. ValueError for x <= 0", "log")
SIGMOID = register("sigmoid", floats.sigmoid, lambda x, out: (out * (1.0 - out),),
                   "1 / (1 + e**-x);  d/dx = s (1 - s)", "sigmoid")
SOFTPLUS = register("softplus", floats.softplus, lambda x, out: (sigmoid(x),),
                    "ln(1 + e**x);  d/dx = sigmoid(x)", "softplus")
GELU = register("gelu", floats.gelu, _gelu_local,
                "x Phi(x);  d/dx = Phi(x) + x phi(x)", "gelu")
SILU = register("silu", floats.silu, _silu_local,
                "x sigmoid(x);  d/dx = s (1 + x (1 - s))", "silu")
SQRT = register("sqrt", floats.sqrt, _sqrt_local,
                "sqrt(x);  d/dx = 1 / (2 sqrt(x)). ValueError for x < 0", "sqrt")
ABS = register("abs", abs, lambda x, out: (_sign(x),),
               "|x|;  d/dx = sign(x) (0 at x = 0)", "abs", "__abs__")
SIN = register("sin", floats.sin, lambda x, out: (cos(x),),
               "sin x;  d/dx = cos x", "sin")
COS = register("cos", floats.cos, lambda x, out: (-sin(x),),
               "cos x;  d/dx = -sin x", "cos")
ERF = register("erf", math.erf, lambda x, out: (_TWO_OVER_SQRT_PI * exp(-x * x),),
               "erf x;  d/dx = 2/sqrt(pi) e**(-x**2)", "erf")
TAN = register("tan", floats.tan, lambda x, out: (1.0 + out * out,),
               "tan x;  `d/dx = 1 + tan(x)**2`",
               "tan")
SINH = register("sinh", floats.sinh, lambda x, out: (cosh(x),),
                "sinh x;  `d/dx = cosh x`",
                "sinh")
COSH = register("cosh", floats.cosh, lambda x, out: (sinh(x),),
                "cosh x;  `d/dx = sinh x`",
                "cosh")
RSQRT = register("rsqrt", floats.rsqrt, lambda x, out: (-0.5 * out * out * out,),
                 "1/sqrt(x), inf at 0;  `d/dx = -1/(2 x**1.5)` (the slope of asin, acos, acosh)")
ASIN = register("asin", floats.asin, lambda x, out: (rsqrt(_one_minus_square(x)),),
                "asin x;  `d/dx = 1/sqrt((1-x)(1+x))`, inf at x = +-1",
                "asin", "arcsin")
ACOS = register("acos", floats.acos, lambda x, out: (-rsqrt(_one_minus_square(x)),),
                "acos x;  `d/dx = -1/sqrt((1-x)(1+x))`, -inf at x = +-1",
                "acos", "arccos")
ATAN = register("atan", math.atan, lambda x, out: (_inv_hypot1(x) * _inv_hypot1(x),),
                "atan x;  `d/dx = 1/(1 + x**2)`",
                "atan", "arctan")
ASINH = register("asinh", math.asinh, lambda x, out: (_inv_hypot1(x),),
                 "asinh x;  `d/dx = 1/sqrt(1 + x**2)`",
                 "asinh", "arcsinh")
ACOSH = register("acosh", floats.acosh, lambda x, out: (rsqrt(x - 1.0) * rsqrt(x + 1.0),),
                 "acosh x;  `d/dx = 1/sqrt((x-1)(x+1))`, inf at x = 1",
                 "acosh", "arccosh")
ATANH = register("atanh", floats.atanh, lambda x, out: (1.0 / _one_minus_square(x),),
                 "atanh x;  `d/dx = 1/((1-x)(1+x))`",
                 "atanh", "arctanh")
LOG2 = register("log2", floats.log2, lambda x, out: (_INV_LN2 / x,),
                "log2 x;  `d/dx = 1/(x ln 2)`",
                "log2")
LOG10 = register("log10", floats.log10, lambda x, out: (_INV_LN10 / x,),
                 "log10 x;  `d/dx = 1/(x ln 10)`",
                 "log10")
LOG1P = register("log1p", floats.log1p, lambda x, out: (1.0 / (1.0 + x),),
                 "ln(1 + x), exact near 0;  `d/dx = 1/(1 + x)`",
                 "log1p")
EXPM1 = register("expm1", floats.expm1, lambda x, out: (out + 1.0 if number(x) >= 0.0 else exp(x),),
                 "e**x - 1, exact near 0;  `d/dx = e**x`",
                 "expm1")
EXP2 = register("exp2", floats.exp2, _exp2_local,
                "2**x;  `d/dx = 2**x ln 2`",
                "exp2")
SIGN = register("sign", floats.sign, lambda x, out: (math.nan if _is_nan(x) else MASKED,),
                "-1, 0 or 1;  `d/dx = 0` (no gradient flows)",
                "sign")
RECIPROCAL = register("reciprocal", floats.reciprocal, lambda x, out: (-out * out,),
                      "1/x;  `d/dx = -1/x**2`",
                      "reciprocal")
SQUARE = register("square", lambda x: x * x, lambda x, out: (2.0 * x,),
                  "x**2;  `d/dx = 2 x`",
                  "square")
HYPOT = register("hypot", math.hypot, _hypot_local,
                 "sqrt(a**2 + b**2), no overflow;  `d/da = a/hypot(a, b)`, 0 at (0, 0)",
                 "hypot")
ATAN2 = register("atan2", math.atan2, _atan2_local,
                 "the angle of the point (x, y);  `d/dy = x/(x**2 + y**2)`, "
                 "`d/dx = -y/(x**2 + y**2)`",
                 "atan2", "arctan2")
REMAINDER = register("%", floats.remainder, _remainder_local,
                     "a % b, Python's (the sign of b);  `d/da = 1`, `d/db = -floor(a/b)`",
                     "__mod__", "remainder")
FMOD = register("fmod", floats.fmod, _fmod_local,
                "fmod(a, b), C's (the sign of a);  `d/da = 1`, `d/db = -trunc(a/b)`",
                "fmod")
MAXIMUM = register("maximum", floats.maximum, lambda a, b, out: _pick(number(a) > number(b), a, b),
                   "the larger of a and b;  `d/da = 1 if a > b else 0`, 0.5 each at a tie",
                   "maximum")
MINIMUM = register("minimum", floats.minimum, lambda a, b, out: _pick(number(a) < number(b), a, b),
                   "the smaller of a and b;  `d/da = 1 if a < b else 0`, 0.5 each at a tie",
                   "minimum")
CLAMP = register("clamp", floats.clamp, _clamp_local,
                 "x limited to [min, max];  `d/dx = 1 if min <= x <= max else 0`")
CROSS_ENTROPY = register("cross_entropy", floats.cross_entropy, _ce_local,
                         "sum_i y_i (logsumexp(z) - z_i);  "
                         "d/dz = softmax(z) sum(y) - y, d/dy = logsumexp(z) - z")

# the two rows below are built in but not in OPS (no method): only derivative rules build them
# a ** c with IEEE's inf at 0 for c < 0: the slope of a ** c at 0 for c < 1 (not in OPS: only
# derivative rules build it); the exponent is a constant there
POW_AT_ZERO = Op("pow_at_zero", floats.pow_or_inf, lambda a, c, out: (_base_partial(a, c), MASKED),
                 "a ** c, inf at a = 0 for c < 0;  d/da = c a**(c-1)")  # fmt: skip

# 1/x with IEEE's signed inf at 0: the building block of sqrt's derivative (not in OPS: no
# method, only derivative rules build it)
RECIPROCAL_INF = Op("reciprocal_inf", floats.inv_or_inf, lambda x, out: (-(out * out),),
                    "1 / x, +-inf at 0;  d/dx = -1/x**2")  # fmt: skip
_HELPERS = {op.name: op for op in (RECIPROCAL_INF, POW_AT_ZERO)}  # built in, not in OPS
# fmt: on
