"""Function transforms, with JAX's names: grad, value_and_grad, vjp, jacobian, hessian.

Each transform takes a Python function of scalars and returns a new function. You
call it with plain numbers and get plain numbers back; the Values and the graph live
only inside the call::

    >>> from chainrule.transforms import grad
    >>> f = lambda x: x**3
    >>> grad(f)(2.0)               # 3 x**2
    12.0
    >>> grad(grad(f))(2.0)         # 6 x
    12.0

Transforms compose because a transform called with a ``Value`` that requires grad
(which is what an outer transform passes in) runs ``backward(create_graph=True)``
and returns a ``Value``: its graph is the backward pass itself, so the outer
transform can differentiate it again. None of them touches any ``.grad`` the
caller can see: they read the adjoints of the engine's reverse pass
(:func:`chainrule.engine.adjoints`) without storing them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.engine import Value, adjoints
from chainrule.grad_mode import enable_grad

__all__ = ["grad", "hessian", "hvp", "jacobian", "value_and_grad", "vjp"]

Scalar = Value | float
ArgNums = int | Sequence[int]


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


# --- the machinery shared by every transform ---


class _Depth:
    """How many transforms are currently running their function (0 at the top level)."""

    level = 0


_DEPTH = _Depth()


def _positions(argnums: ArgNums, nargs: int, who: str) -> tuple[int, ...]:
    """Normalise ``argnums`` (an int or a sequence of ints) against ``nargs`` arguments."""
    many = not isinstance(argnums, int)
    nums = list(argnums) if many else [argnums]  # type: ignore[arg-type]
    if many and not nums:
        raise ValueError(f"{who}: argnums is empty; name at least one argument")
    out = []
    for n in nums:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"{who}: argnums must be an int or a tuple of ints, got {n!r}")
        if not -nargs <= n < nargs:
            raise ValueError(
                f"{who}: argnums={n} is out of range for a call with {nargs} positional argument(s)"
            )
        out.append(n % nargs)
    if len(set(out)) != len(out):
        raise ValueError(f"{who}: argnums {tuple(nums)} repeats an argument")
    return tuple(out)


class _Trace:
    """One call of ``f`` with the differentiated arguments replaced by graph nodes.

    A plain number ``a`` becomes a fresh leaf ``Value(a)``. A Value that requires grad
    becomes ``a + 0.0``: a new node whose adjoint we can read, still connected to ``a``
    so an outer level can differentiate through it.

    ``nested`` says whether results must stay differentiable Values: when any argument
    is a Value that requires grad, or when this call runs inside another transform's
    call of its function (``f`` may then close over that transform's variables, as in
    ``grad(lambda x: grad(lambda y: x * y)(1.0))``). At the top level, Values that ``f``
    merely closes over are constants, as in JAX.
    """

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], argnums: ArgNums,
                 who: str) -> None:  # fmt: skip
        self.positions = _positions(argnums, len(args), who)
        self.nested = _DEPTH.level > 0 or any(
            isinstance(a, Value) and a.requires_grad for a in args
        )
        call_args = list(args)
        inputs = []
        for i in self.positions:
            a = args[i]
            if isinstance(a, Value) and a.requires_grad:
                with enable_grad():
                    node = a + 0.0
            elif isinstance(a, Value) or _is_real(a):
                node = Value(float(a.data if isinstance(a, Value) else a), label=f"arg{i}")
            else:
                raise TypeError(
                    f"{who}: argument {i} must be a number or a Value to differentiate "
                    f"with respect to it, got {type(a).__name__} {a!r}"
                )
            call_args[i] = node
            inputs.append(node)
        self.inputs: tuple[Value, ...] = tuple(inputs)
        _DEPTH.level += 1
        try:
            with enable_grad():
                self.out = f(*call_args)
        finally:
            _DEPTH.level -= 1

    def gradients(self, out: object, seed: Scalar, who: str) -> list[Scalar]:
        """d out / d input for each input, as floats (top level) or Values (nested)."""
        if isinstance(out, Value):
            if not out.requires_grad:
                return [0.0] * len(self.inputs)  # built from constants: f is flat here
            return _adjoints(out, self.inputs, seed, self.nested or isinstance(seed, Value))
        if _is_real(out):
            return [0.0] * len(self.inputs)  # f returned a constant number
        raise TypeError(
            f"{who} needs f to return a scalar (a Value or a number), got "
            f"{_describe(out)}; use chainrule.transforms.jacobian for a list of outputs"
        )

    def pack(self, grads: list[Scalar], argnums: ArgNums) -> Any:
        """One gradient for an int ``argnums``, a tuple for a sequence (as JAX does)."""
        return grads[0] if isinstance(argnums, int) else tuple(grads)

    def primal(self, out: object) -> Any:
        """The output as the caller should see it: a float at top level."""
        if isinstance(out, Value) and not self.nested:
            return out.data
        return float(out) if _is_real(out) else out  # type: ignore[arg-type]


def _describe(x: object) -> str:
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"{type(x).__name__} {x!r}"


def _adjoints(out: Value, inputs: tuple[Value, ...], seed: Scalar,
              create_graph: bool) -> list[Scalar]:  # fmt: skip
    """d out / d input for each input, by the engine's reverse pass (no ``.grad`` is written)."""
    grads = adjoints(out, seed, create_graph=create_graph)
    return [grads.get(node, 0.0) for node in inputs]


def _check_callable(f: object, who: str) -> None:
    if not callable(f):
        raise TypeError(f"{who} needs a function, got {type(f).__name__} {f!r}")


# --- the transforms ---


def value_and_grad(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., tuple[Any, Any]]:
    """``(f(*args), ∇f(*args))`` from one forward and one backward pass.

    ``argnums`` picks the arguments to differentiate: an int gives one partial
    derivative, a tuple of ints a tuple of them. ``f`` must return a scalar.

    >>> value_and_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
    (12.0, (4.0, 3.0))
    """
    _check_callable(f, "value_and_grad")

    def value_and_grad_f(*args: Any) -> tuple[Any, Any]:
        trace = _Trace(f, args, argnums, "grad")
        grads = trace.gradients(trace.out, 1.0, "grad")
        return trace.primal(trace.out), trace.pack(grads, argnums)

    value_and_grad_f.__name__ = f"value_and_grad({getattr(f, '__name__', 'f')})"
    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The gradient of a scalar function: ``grad(f)(x) = df/dx``.

    ``grad(f, argnums=(0, 1))(x, y) = (df/dx, df/dy)``. Composes: ``grad(grad(f))`` is
    the second derivative.

    >>> grad(lambda x: x.sin())(0.0)
    1.0
    """
    _check_callable(f, "grad")
    vg = value_and_grad(f, argnums)

    def grad_f(*args: Any) -> Any:
        return vg(*args)[1]

    grad_f.__name__ = f"grad({getattr(f, '__name__', 'f')})"
    return grad_f


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., tuple[Any, ...]]]:
    """Evaluate ``f`` at ``primals`` and return ``(out, vjp_fn)``.

    ``vjp_fn(u)`` is the vector-Jacobian product ``uᵀ J``: one number per primal, for
    a cotangent ``u`` shaped like ``out`` (a number, or a list for a list output).
    The graph is built once; each ``vjp_fn`` call is one reverse pass over it.

    >>> out, vjp_fn = vjp(lambda x, y: [x * y, x + y], 2.0, 3.0)
    >>> out, vjp_fn([1.0, 0.0]), vjp_fn([0.0, 1.0])
    ([6.0, 5.0], (3.0, 2.0), (1.0, 1.0))
    """
    _check_callable(f, "vjp")
    if not primals:
        raise TypeError("vjp needs at least one primal: vjp(f, x, ...)")
    trace = _Trace(f, primals, tuple(range(len(primals))), "vjp")
    many = isinstance(trace.out, (list, tuple))
    outs = list(trace.out) if many else [trace.out]
    for k, o in enumerate(outs):
        if not (isinstance(o, Value) or _is_real(o)):
            where = f"output {k} of f" if many else "f"
            raise TypeError(f"vjp: {where} must be a Value or a number, got {_describe(o)}")

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cts = list(cotangent) if isinstance(cotangent, (list, tuple)) else [cotangent]
        if many != isinstance(cotangent, (list, tuple)) or len(cts) != len(outs):
            raise ValueError(
                f"vjp_fn needs a cotangent shaped like f's output ({_describe(trace.out)}), "
                f"got {_describe(cotangent)}"
            )
        totals: list[Scalar] = [0.0] * len(primals)
        for o, u in zip(outs, cts):
            if not (isinstance(u, Value) or _is_real(u)):
                raise TypeError(f"vjp_fn: cotangents must be numbers, got {_describe(u)}")
            if isinstance(o, Value) and o.requires_grad and u != 0.0:
                shares = trace.gradients(o, u, "vjp")
                totals = [t + s for t, s in zip(totals, shares)]
        return tuple(totals)

    out = [trace.primal(o) for o in outs] if many else trace.primal(outs[0])
    return out, vjp_fn


def jacobian(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The Jacobian of ``f`` by reverse mode: one backward pass per output.

    For ``f`` returning a list of m scalars, ``jacobian(f)(*args)`` is a list of m
    rows; each row is ``d out_k / d arg`` (an int ``argnums``) or a tuple over
    ``argnums``. A scalar ``f`` gives the gradient itself. For functions with many
    outputs and few inputs, forward mode (:func:`chainrule.dual.jacfwd`) is cheaper.

    >>> jacobian(lambda x, y: [x * y, x + y], argnums=(0, 1))(2.0, 3.0)
    [(3.0, 2.0), (1.0, 1.0)]
    """
    _check_callable(f, "jacobian")

    def jacobian_f(*args: Any) -> Any:
        trace = _Trace(f, args, argnums, "jacobian")
        if isinstance(trace.out, (list, tuple)):
            return [trace.pack(trace.gradients(o, 1.0, "jacobian"), argnums) for o in trace.out]
        return trace.pack(trace.gradients(trace.out, 1.0, "jacobian"), argnums)

    jacobian_f.__name__ = f"jacobian({getattr(f, '__name__', 'f')})"
    return jacobian_f


def hessian(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The matrix of second derivatives, ``jacobian(grad(f))``.

    An int ``argnums`` gives ``d²f/dx²``; a tuple gives a tuple of rows
    ``H[i][j] = d²f / dx_i dx_j``.

    >>> hessian(lambda x, y: x * x * y, argnums=(0, 1))(1.0, 2.0)
    ((4.0, 2.0), (2.0, 0.0))
    """
    _check_callable(f, "hessian")
    g = grad(f, argnums)

    def rows(*args: Any) -> Any:
        out = g(*args)
        return list(out) if isinstance(out, tuple) else out

    jac = jacobian(rows, argnums)

    def hessian_f(*args: Any) -> Any:
        h = jac(*args)
        return tuple(h) if isinstance(h, list) else h

    hessian_f.__name__ = f"hessian({getattr(f, '__name__', 'f')})"
    return hessian_f


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, ...]:
    """Hessian-vector product ``H v`` of a scalar ``f`` without forming ``H``.

    Reverse over reverse: ``H v = ∇ₓ (∇f(x) · v)``, two backward passes whatever the
    number of inputs (the full Hessian needs one per input).

    >>> hvp(lambda x, y: x * x * y, (1.0, 2.0), (1.0, 0.0))  # first column of H
    (4.0, 2.0)
    """
    _check_callable(f, "hvp")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents) or not primals:
        raise ValueError(
            f"hvp needs one tangent per primal (and at least one), got {len(primals)} "
            f"primals and {len(tangents)} tangents"
        )
    everything = tuple(range(len(primals)))
    g = grad(f, everything)

    def directional(*xs: Any) -> Any:
        total: Scalar = 0.0
        for gi, vi in zip(g(*xs), tangents):
            total = total + gi * vi
        return total

    result: tuple[Any, ...] = grad(directional, everything)(*primals)
    return result
