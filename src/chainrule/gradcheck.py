"""Checking reverse-mode gradients against central finite differences.

The central difference (f(x + eps) - f(x - eps)) / (2 eps) has truncation error
O(eps**2) and rounding error O(macheps / eps); eps = 1e-6 balances the two for
well-scaled functions, leaving about 1e-9 to 1e-10 of absolute error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chainrule.engine import Value
from chainrule.grad_mode import no_grad

__all__ = ["GradcheckError", "gradcheck", "numerical_gradient", "relative_error"]

ScalarFunction = Callable[..., Value]


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message is a per-input table."""


def relative_error(analytic: float, numeric: float) -> float:
    """``|analytic - numeric| / |numeric|``: the error relative to the numerical reference.

    The "rel err" column of a :class:`GradcheckError` table; ``gradcheck`` passes a partial when
    ``|analytic - numeric| <= atol + rtol * |numeric|``, i.e. ``rel <= rtol`` plus a little
    absolute slack near 0. At ``numeric == 0`` it is ``0.0`` if both agree, else ``inf``.
    """
    err = abs(analytic - numeric)
    if numeric == 0.0:
        return float("inf") if err else 0.0
    return err / abs(numeric)


def _evaluate(f: ScalarFunction, xs: Sequence[float]) -> float:
    with no_grad():
        out = f(*(Value(x) for x in xs))
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck needs f to return a Value, got {type(out).__name__}")
    return out.data


def numerical_gradient(
    f: ScalarFunction, inputs: Sequence[float], eps: float = 1e-6
) -> list[float]:
    """Central differences of ``f`` at ``inputs``: one partial derivative per input."""
    xs = [float(x) for x in inputs]
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += eps
        down[i] -= eps
        grads.append((_evaluate(f, up) - _evaluate(f, down)) / (2.0 * eps))
    return grads


def analytic_gradient(f: ScalarFunction, inputs: Sequence[float]) -> list[float]:
    """Reverse-mode gradient of ``f`` at ``inputs`` (fresh leaves, one ``backward``)."""
    leaves = [Value(float(x)) for x in inputs]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck needs f to return a Value, got {type(out).__name__}")
    out.backward()
    return [float(leaf.grad) for leaf in leaves]


def gradcheck(
    f: ScalarFunction,
    inputs: Sequence[float | Value],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """True when ``f``'s reverse-mode gradient matches central differences at ``inputs``.

    Each partial must satisfy ``|analytic - numeric| <= atol + rtol * |numeric|``;
    otherwise :class:`GradcheckError` is raised with a table of every input.
    """
    xs = [x.data if isinstance(x, Value) else float(x) for x in inputs]
    analytic = analytic_gradient(f, xs)
    numeric = numerical_gradient(f, xs, eps)
    rows, ok = [], True
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        err = abs(a - n)
        good = err <= atol + rtol * abs(n)
        ok = ok and good
        rel = relative_error(a, n)
        mark = "ok" if good else "MISMATCH"
        rows.append(
            f"{i:>5}  {xs[i]:>12.6g}  {a:>14.8g}  {n:>14.8g}  {err:>10.3g}  {rel:>10.3g}  {mark}"
        )
    if not ok:
        names = ("input", "x", "analytic", "numeric", "abs err", "rel err")
        widths = (5, 12, 14, 14, 10, 10)
        header = "  ".join(f"{n:>{w}}" for n, w in zip(names, widths))
        raise GradcheckError(
            f"gradient check failed (eps={eps}, atol={atol}, rtol={rtol}):\n"
            + "\n".join([header, *rows])
        )
    return True
