"""Function transforms, named as in JAX: grad, value_and_grad, vjp, jvp, jacrev, jacfwd, hvp.

Each transform takes a Python function of scalars and returns a new function. You
call it with plain numbers and get plain numbers back; the Values and the graph live
only inside the call::

    >>> from chainrule.transforms import grad
    >>> f = lambda x: x**3
    >>> grad(f)(2.0)               # 3 x**2
    12.0
    >>> grad(grad(f))(2.0)         # 6 x
    12.0

Transforms compose, in any order and at any depth, because each one accepts what the
others pass in and returns what they can differentiate:

* a reverse transform (``grad``, ``jacrev``, ...) called with a ``Value`` that requires
  grad, or whose function closes over one, runs the reverse pass with
  ``create_graph=True`` and returns a ``Value``: its graph is the backward pass itself,
  so an enclosing reverse transform differentiates it again;
* called with a :class:`~chainrule.dual.Dual` (what ``jvp`` passes in), it puts a fresh
  graph leaf where the dual's innermost number was, runs ``f`` on that dual of Values
  and differentiates every part of the result, so the gradient comes back as a dual of
  the same tag for the enclosing ``jvp`` to read;
* ``jvp`` (:mod:`chainrule.dual`) accepts Values and Duals as primals and tangents, and
  tags each perturbation so nested ones stay apart.

None of them touches any ``.grad`` the caller can see: they read the adjoints of the
engine's reverse pass (:func:`chainrule.engine.adjoints`) without storing them.
Keyword arguments pass through to ``f`` untouched (differentiation is with respect to
positional ``argnums``, as in JAX).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.dual import Dual, jvp
from chainrule.engine import Value, adjoints, topological_order
from chainrule.grad_mode import enable_grad
from chainrule.ops import is_real

__all__ = [
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "value_and_grad",
    "vjp",
]

Scalar = Value | float
ArgNums = int | Sequence[int]


# --- the machinery shared by every transform ---


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


def _innermost(x: Any) -> Any:
    """The number (or Value) at the bottom of a dual: what the derivative is taken at."""
    while isinstance(x, Dual):
        x = x.primal
    return x


def _replace_innermost(x: Any, node: Value) -> Any:
    """``x`` with its innermost number replaced by ``node`` (the tangents stay constants)."""
    if isinstance(x, Dual):
        return Dual(_replace_innermost(x.primal, node), x.tangent, x.tag)
    return node


class _Running(threading.local):
    """Per thread: the input nodes of each trace running now, outermost first."""

    def __init__(self) -> None:
        self.stack: list[set[Value]] = []


_RUNNING = _Running()


class _Trace:
    """One call of ``f`` with the differentiated arguments replaced by graph nodes.

    A plain number ``a`` becomes a fresh leaf ``Value(a)``. A Value that requires grad
    becomes ``a + 0.0``: a new node whose adjoint we can read, still connected to ``a``
    so an outer level can differentiate through it. A dual gets that node in place of
    its innermost number.

    What comes back has one type whatever its value: Values when an argument is a Value
    (a structural zero included), floats when they are numbers; differentiable in every
    argument that is a Value that requires grad, differentiated or not. A
    result about an output that depends on the inputs of an enclosing transform (``f``
    closes over an outer variable, as in ``grad(lambda x: grad(lambda y: x * y)(1.0))``)
    stays a differentiable Value for that transform. Values that no transform made (a
    model's weights ``f`` closes over) are constants here: no ``.grad`` is touched and
    the reverse pass is first order, so Functions and checkpoints work inside.
    """

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                 argnums: ArgNums, who: str) -> None:  # fmt: skip
        self.positions = _positions(argnums, len(args), who)
        self.many = not isinstance(argnums, int)
        call_args = list(args)
        inputs = []
        self.values_out = False  # a differentiated argument is a Value: results are Values
        self.nested = False  # ... that requires grad: results are differentiable in it
        for i in self.positions:
            base = _innermost(args[i])
            self.values_out = self.values_out or isinstance(base, Value)
            if isinstance(base, Value) and base.requires_grad:
                self.nested = True
                with enable_grad():
                    node = base + 0.0
            elif isinstance(base, Value) or is_real(base):
                node = Value(float(base.data if isinstance(base, Value) else base), label=f"arg{i}")
            else:
                raise TypeError(
                    f"{who}: argument {i} must be a number, a Value or a Dual to "
                    f"differentiate with respect to it, got {type(base).__name__} {base!r}"
                )
            call_args[i] = _replace_innermost(args[i], node)
            inputs.append(node)
        for a in args:  # an argument not differentiated may be a Value to differentiate in
            self.values_out = self.values_out or isinstance(_innermost(a), Value)
            self.nested = self.nested or Value._varies(_innermost(a))
        self.inputs: tuple[Value, ...] = tuple(inputs)
        self.outer: set[Value] = set().union(*_RUNNING.stack)  # enclosing traces' inputs
        self._keeps: dict[int, bool] = {}
        _RUNNING.stack.append(set(self.inputs))
        try:
            with enable_grad():
                self.out = f(*call_args, **kwargs)
        finally:
            _RUNNING.stack.pop()

    def keeps(self, v: Value) -> bool:
        """Whether results about ``v`` must stay differentiable: see the class docstring."""
        if self.nested:
            return True
        if id(v) not in self._keeps:
            outer = self.outer
            self._keeps[id(v)] = bool(outer) and any(n in outer for n in topological_order(v))
        return self._keeps[id(v)]

    def gradients(self, out: object, seed: Any, who: str) -> list[Any]:
        """d out / d input for each input: floats, Values, or duals of them."""
        if isinstance(out, Dual):  # each part of a dual is differentiated on its own
            primals = self.gradients(out.primal, seed, who)
            tangents = self.gradients(out.tangent, seed, who)
            return [Dual(p, t, out.tag) for p, t in zip(primals, tangents)]
        found: list[Any] = [0.0] * len(self.inputs)  # f is flat here (a constant output)
        if isinstance(out, Value) and out.requires_grad:
            create = self.keeps(out) or isinstance(seed, Value)
            if create and not isinstance(seed, Value):
                seed = Value(seed, requires_grad=False)  # a constant, not a new variable
            grads = adjoints({out: seed}, create_graph=create, inputs=self.inputs)
            found = [grads.get(node, 0.0) for node in self.inputs]
        elif not (isinstance(out, Value) or is_real(out)):
            raise TypeError(
                f"{who} needs f to return a scalar (a Value, a Dual or a number), got "
                f"{_describe(out)}; use chainrule.transforms.jacobian for a list of outputs"
            )
        return [self.typed(g) for g in found]

    def typed(self, g: Any) -> Any:
        """A gradient as the caller gets it: a Value that requires grad when an argument was
        a Value (so ``.backward()`` works on it at every point), else a float (a MASKED zero
        is a plain 0.0 either way)."""
        if isinstance(g, Dual) or (isinstance(g, Value) and g.requires_grad):
            return g
        number = g.data if isinstance(g, Value) else float(g)
        return Value(number) if self.values_out else number

    def pack(self, grads: list[Any]) -> Any:
        """One gradient for an int ``argnums``, a tuple for a sequence (as JAX does)."""
        return tuple(grads) if self.many else grads[0]

    def primal(self, out: Any) -> Any:
        """An output as the caller should see it: floats unless it must stay a Value."""
        if isinstance(out, Dual):
            return Dual(self.primal(out.primal), self.primal(out.tangent), out.tag)
        if isinstance(out, Value):
            return out if self.values_out or self.keeps(out) else out.data
        if isinstance(out, (list, tuple)):
            return type(out)(self.primal(o) for o in out)
        if isinstance(out, dict):  # an aux dictionary
            return {k: self.primal(o) for k, o in out.items()}
        return self.typed(out) if is_real(out) else out


def _describe(x: object) -> str:
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"{type(x).__name__} {x!r}"


def _check_callable(f: object, who: str) -> None:
    if not callable(f):
        raise TypeError(f"{who} needs a function, got {type(f).__name__} {f!r}")


def _name(who: str, f: Callable[..., Any]) -> str:
    return f"{who}({getattr(f, '__name__', 'f')})"


def _split_aux(out: Any, who: str) -> tuple[Any, Any]:
    if not (isinstance(out, (list, tuple)) and len(out) == 2):
        raise TypeError(
            f"{who}(has_aux=True) needs f to return a pair (output, aux), got {_describe(out)}"
        )
    return out[0], out[1]


# --- the transforms ---


def value_and_grad(f: Callable[..., Any], argnums: ArgNums = 0, *,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:  # fmt: skip
    """``(f(*args), ∇f(*args))`` from one forward and one backward pass.

    ``argnums`` picks the positional arguments to differentiate: an int gives one
    partial derivative, a tuple of ints a tuple of them. ``f`` must return a scalar.
    With ``has_aux=True`` ``f`` returns ``(output, aux)`` and the result is
    ``((output, aux), gradient)``; ``aux`` is passed through, not differentiated (JAX).

    >>> value_and_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
    (12.0, (4.0, 3.0))
    """
    _check_callable(f, "value_and_grad")

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        trace = _Trace(f, args, kwargs, argnums, "grad")
        out, aux = _split_aux(trace.out, "grad") if has_aux else (trace.out, None)
        grads = trace.pack(trace.gradients(out, 1.0, "grad"))
        if has_aux:
            return (trace.primal(out), trace.primal(aux)), grads
        return trace.primal(out), grads

    value_and_grad_f.__name__ = _name("value_and_grad", f)
    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: ArgNums = 0, *,
         has_aux: bool = False) -> Callable[..., Any]:  # fmt: skip
    """The gradient of a scalar function: ``grad(f)(x) = df/dx``.

    ``grad(f, argnums=(0, 1))(x, y) = (df/dx, df/dy)``. Composes: ``grad(grad(f))`` is
    the second derivative, ``jvp(grad(f), ...)`` a Hessian-vector product. With
    ``has_aux=True`` ``f`` returns ``(output, aux)`` and the result is ``(gradient, aux)``.

    >>> grad(lambda x: x.sin())(0.0)
    1.0
    """
    _check_callable(f, "grad")
    vg = value_and_grad(f, argnums, has_aux=has_aux)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    grad_f.__name__ = _name("grad", f)
    return grad_f


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., tuple[Any, ...]]]:
    """Evaluate ``f`` at ``primals`` and return ``(out, vjp_fn)``.

    ``vjp_fn(u)`` is the vector-Jacobian product ``uᵀ J``: one number per primal, for
    a cotangent ``u`` shaped like ``out`` (a number, or a list for a list output).
    The graph is built once; each ``vjp_fn`` call is one reverse pass over it.
    (For keyword arguments, pass ``functools.partial(f, k=...)``, as in JAX.)

    >>> out, vjp_fn = vjp(lambda x, y: [x * y, x + y], 2.0, 3.0)
    >>> out, vjp_fn([1.0, 0.0]), vjp_fn([0.0, 1.0])
    ([6.0, 5.0], (3.0, 2.0), (1.0, 1.0))
    """
    _check_callable(f, "vjp")
    if not primals:
        raise TypeError("vjp needs at least one primal: vjp(f, x, ...)")
    trace = _Trace(f, primals, {}, tuple(range(len(primals))), "vjp")
    many = isinstance(trace.out, (list, tuple))
    outs = list(trace.out) if many else [trace.out]
    for k, o in enumerate(outs):
        if not (isinstance(o, (Value, Dual)) or is_real(o)):
            where = f"output {k} of f" if many else "f"
            raise TypeError(f"vjp: {where} must be a Value or a number, got {_describe(o)}")

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cts = list(cotangent) if isinstance(cotangent, (list, tuple)) else [cotangent]
        if many != isinstance(cotangent, (list, tuple)) or len(cts) != len(outs):
            raise ValueError(
                f"vjp_fn needs a cotangent shaped like f's output ({_describe(trace.out)}), "
                f"got {_describe(cotangent)}"
            )
        totals: list[Any] = [0.0] * len(primals)
        for o, u in zip(outs, cts):
            if not (isinstance(u, (Value, Dual)) or is_real(u)):
                raise TypeError(
                    f"vjp_fn: cotangents must be numbers, Values or Duals, got {_describe(u)}"
                )
            if not (is_real(u) and u == 0.0):
                shares = _pullback(trace, o, u)
                totals = [s if type(t) is float and t == 0.0 else t + s
                          for t, s in zip(totals, shares)]  # fmt: skip
        return tuple(trace.typed(t) for t in totals)

    out = [trace.primal(o) for o in outs] if many else trace.primal(outs[0])
    return out, vjp_fn


def _pullback(trace: _Trace, out: Any, u: Any) -> list[Any]:
    """``u * d out / d input`` for each input; a dual ``u = up + ut ε`` gives
    ``vjp(up) + ε vjp(ut)`` (ε² = 0: of ``vjp(ut)`` only the part without ε counts)."""
    if not isinstance(u, Dual):
        return trace.gradients(out, u, "vjp")
    along = trace.gradients(out, u.primal, "vjp")
    extra = trace.gradients(out, u.tangent, "vjp")
    return [Dual(0.0, _without(e, u.tag), u.tag) + a for a, e in zip(along, extra)]


def _without(x: Any, tag: int) -> Any:
    """The part of ``x`` without the perturbation ``tag``."""
    return x.primal if isinstance(x, Dual) and x.tag == tag else x


def jacobian(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The Jacobian of ``f`` by reverse mode: one backward pass per output (also ``jacrev``).

    For ``f`` returning a list of m scalars, ``jacobian(f)(*args)`` is a list of m
    rows; each row is ``d out_k / d arg`` (an int ``argnums``) or a tuple over
    ``argnums``. A scalar ``f`` gives the gradient itself. For functions with many
    outputs and few inputs, forward mode (:func:`jacfwd`) is cheaper.

    >>> jacobian(lambda x, y: [x * y, x + y], argnums=(0, 1))(2.0, 3.0)
    [(3.0, 2.0), (1.0, 1.0)]
    """
    _check_callable(f, "jacobian")

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        trace = _Trace(f, args, kwargs, argnums, "jacobian")
        if isinstance(trace.out, (list, tuple)):
            return [trace.pack(trace.gradients(o, 1.0, "jacobian")) for o in trace.out]
        return trace.pack(trace.gradients(trace.out, 1.0, "jacobian"))

    jacobian_f.__name__ = _name("jacobian", f)
    return jacobian_f


jacrev = jacobian  # JAX's name for the reverse-mode Jacobian


def jacfwd(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The Jacobian of ``f`` by forward mode: one :func:`jvp` per differentiated argument.

    Same shapes as :func:`jacobian`: the gradient for a scalar ``f``, a list of rows for
    a list of outputs. Cheap when there are few inputs; ``jacfwd(jacrev(f))`` is the
    Hessian by forward over reverse, as in JAX.

    >>> jacfwd(lambda x, y: [x * y, x + y], argnums=(0, 1))(2.0, 3.0)
    [(3.0, 2.0), (1.0, 1.0)]
    """
    _check_callable(f, "jacfwd")

    def jacfwd_f(*args: Any, **kwargs: Any) -> Any:
        positions = _positions(argnums, len(args), "jacfwd")

        def along(*xs: Any) -> Any:  # f of the differentiated arguments, each a dual
            call = list(args)
            for p, x in zip(positions, xs):
                call[p] = x
            return f(*call, **kwargs)

        primals = [args[p] for p in positions]
        columns = [jvp(along, primals, [1.0 if p == i else 0.0 for p in positions])[1]
                   for i in positions]  # fmt: skip
        many = not isinstance(argnums, int)
        if isinstance(columns[0], list):
            rows = [[col[k] for col in columns] for k in range(len(columns[0]))]
            return [tuple(row) if many else row[0] for row in rows]
        return tuple(columns) if many else columns[0]

    jacfwd_f.__name__ = _name("jacfwd", f)
    return jacfwd_f


def hessian(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The matrix of second derivatives, ``jacobian(grad(f))`` (reverse over reverse).

    An int ``argnums`` gives ``d²f/dx²``; a tuple gives a tuple of rows
    ``H[i][j] = d²f / dx_i dx_j``. (JAX builds it as ``jacfwd(jacrev(f))``, which
    chainrule also runs and which gives the same numbers.)

    >>> hessian(lambda x, y: x * x * y, argnums=(0, 1))(1.0, 2.0)
    ((4.0, 2.0), (2.0, 0.0))
    """
    _check_callable(f, "hessian")
    g = grad(f, argnums)

    def rows(*args: Any, **kwargs: Any) -> Any:
        out = g(*args, **kwargs)
        return list(out) if isinstance(out, tuple) else out

    jac = jacobian(rows, argnums)

    def hessian_f(*args: Any, **kwargs: Any) -> Any:
        h = jac(*args, **kwargs)
        return tuple(h) if isinstance(h, list) else h

    hessian_f.__name__ = _name("hessian", f)
    return hessian_f


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, ...]:
    """Hessian-vector product ``H v`` of a scalar ``f`` without forming ``H``.

    Forward over reverse, ``H v = jvp(grad(f), x, v)``: the tangent ``v`` rides through
    ``f`` on dual numbers of graph nodes, and one reverse pass over each part of the
    output gives ``∇f`` and its directional derivative ``H v`` together: one forward and
    two reverse passes whatever the number of inputs (the full Hessian needs one reverse
    pass per input). docs/howto/transforms.md measures it against the other ways.

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
    g = grad(f, tuple(range(len(primals))))
    _, result = jvp(g, primals, tangents)
    return tuple(result)
