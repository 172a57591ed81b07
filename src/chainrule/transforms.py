"""Function transforms, named as in JAX: grad, value_and_grad, vjp, jvp, jacrev, jacfwd,
hessian, hvp, linearize.

Each transform takes a Python function of scalars and returns a new function. You
call it with plain numbers and get plain numbers back; the Values and the graph live
only inside the call::

    >>> from chainrule.transforms import grad
    >>> f = lambda x: x**3
    >>> grad(f)(2.0)               # 3 x**2
    12.0
    >>> grad(grad(f))(2.0)         # 6 x
    12.0

An argument may be a structure: nested tuples, lists, dicts and namedtuples of numbers
(a *pytree*, :mod:`chainrule.pytree`), and the derivative comes back in the same shape,
as in JAX: ``grad(loss)({"w": [1.0, 2.0], "b": 0.5})`` is a dict of the same keys.

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
positional ``argnums``, as in JAX). Every transform takes ``has_aux=True``: ``f`` then
returns ``(output, aux)`` and ``aux`` comes back beside the result, not differentiated.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.dual import Dual, jvp, split_aux
from chainrule.engine import Value, adjoints, between, constant, topological_order
from chainrule.grad_mode import enable_grad
from chainrule.ops import is_real
from chainrule.pytree import TreeDef, flatten, leaf_paths, tree_map, unflatten

__all__ = [
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "linearize",
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


class _ArgNums:
    """A transform's ``argnums``: its positions for a call of ``nargs`` arguments, checked
    (:func:`_positions`) at the first call with that many and remembered for the next."""

    def __init__(self, argnums: ArgNums, who: str) -> None:
        self.argnums, self.who = argnums, who
        self.many = not isinstance(argnums, int)  # a tuple of results, not one
        self._known: dict[int, tuple[int, ...]] = {}

    def positions(self, nargs: int) -> tuple[int, ...]:
        found = self._known.get(nargs)
        if found is None:
            found = self._known[nargs] = _positions(self.argnums, nargs, self.who)
        return found


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


def _arg_name(f: Callable[..., Any], i: int) -> str:
    """What ``f`` calls its positional argument ``i`` (``params``), for error messages."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):  # some builtins have no signature
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return positional[i] if i < len(positional) else f"args[{i}]"


def _is_scalar(x: object) -> bool:
    return type(x) is float or isinstance(x, (Value, Dual)) or is_real(x)


def _bad_leaf(who: str, where: str, leaf: object, expected: str) -> TypeError:
    """The error for a leaf that is not a number, naming its path into the structure."""
    return TypeError(f"{who}: {where} is a {type(leaf).__name__} {leaf!r}; expected {expected}")


_DIFFERENTIABLE = (
    "a number, a Value or a Dual (or tuples, lists, dicts, namedtuples of them) to "
    "differentiate with respect to it"
)


class _Running(threading.local):
    """Per thread: the input nodes of each trace running now, outermost first."""

    def __init__(self) -> None:
        self.stack: list[set[Value]] = []


_RUNNING = _Running()
_GRAD_ON = enable_grad()  # one switch for every trace: it is re-entrant, and per thread


class _Trace:
    """One call of ``f`` with the differentiated arguments replaced by graph nodes.

    Each leaf of a differentiated argument (the argument itself, or each number of a
    structure) becomes a node: a plain number ``a`` a fresh leaf ``Value(a)``; a Value
    that requires grad ``a + 0.0``, a new node whose adjoint we can read, still connected
    to ``a`` so an outer level can differentiate through it; a dual gets that node in
    place of its innermost number.

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
                 positions: tuple[int, ...], many: bool, who: str,
                 has_aux: bool = False) -> None:  # fmt: skip
        self.positions, self.many, self.has_aux = positions, many, has_aux
        flat = [flatten(a) for a in args]  # each argument's leaves and structure, once
        # every argument counts here, differentiated or not: a Value makes the results Values
        self.values_out = self.nested = False
        for leaves, _ in flat:
            for base in map(_innermost, leaves):
                if isinstance(base, Value):
                    self.values_out = True  # so results are Values
                    self.nested = self.nested or base.requires_grad  # ... differentiable in it
        self.outer: set[Value] = set().union(*_RUNNING.stack)  # enclosing traces' inputs
        self._keeps: dict[int, bool] = {}
        call_args = list(args)
        inputs: list[Value] = []
        self.trees: list[TreeDef] = []  # the structure of each differentiated argument
        with _GRAD_ON:  # the nodes for Values that require grad are built on the graph too
            for i in positions:
                leaves, tree = flat[i]
                nodes = [self._node(x, f, i, where, who) for where, x in leaf_paths(args[i])]
                call_args[i] = unflatten(tree, list(map(_replace_innermost, leaves, nodes)))
                self.trees.append(tree)
                inputs += nodes
            self.inputs: tuple[Value, ...] = tuple(inputs)
            _RUNNING.stack.append(set(inputs))
            try:
                out = f(*call_args, **kwargs)
            finally:
                _RUNNING.stack.pop()
        self.out: Any
        self.aux: Any
        self.out, self.aux = split_aux(out, who) if has_aux else (out, None)

    def _node(self, leaf: Any, f: Callable[..., Any], i: int, where: str, who: str) -> Value:
        """The graph node for one number of argument ``i``, at ``where`` inside it (grad
        mode on)."""
        base = _innermost(leaf)
        if isinstance(base, Value):
            if base.requires_grad:
                return base + 0.0
            number = base.data
        elif type(base) is float or is_real(base):
            number = float(base)
        else:
            raise _bad_leaf(who, _arg_name(f, i) + where, base, _DIFFERENTIABLE)
        return Value(number, label=f"arg{i}{where}")

    def keeps(self, v: Value) -> bool:
        """Whether results about ``v`` must stay differentiable: see the class docstring."""
        if self.nested or not self.outer:  # no enclosing trace: nothing to stay connected to
            return self.nested
        if id(v) not in self._keeps:
            outer = self.outer
            self._keeps[id(v)] = any(n in outer for n in topological_order(v))
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
            if create:
                seed = constant(seed)  # a number becomes a constant, not a new variable
            grads = adjoints({out: seed}, create_graph=create, only=between([out], self.inputs))
            found = [grads.get(node, 0.0) for node in self.inputs]
        elif not (isinstance(out, Value) or is_real(out)):
            raise TypeError(
                f"{who} needs f to return a scalar (a Value, a Dual or a number), got "
                f"{_describe(out)}; use chainrule.transforms.jacobian for several outputs"
            )
        return [self.typed(g) for g in found]

    def typed(self, g: Any) -> Any:
        """A gradient as the caller gets it: a Value that requires grad when an argument was
        a Value (so ``.backward()`` works on it at every point), else a float (a MASKED zero
        is a plain 0.0 either way)."""
        if type(g) is float:  # the common case first
            return Value(g) if self.values_out else g
        if isinstance(g, Dual) or (isinstance(g, Value) and g.requires_grad):
            return g
        number = g.data if isinstance(g, Value) else float(g)
        return Value(number) if self.values_out else number

    def pack(self, grads: Sequence[Any]) -> Any:
        """One number per input, shaped as the arguments: one structure for an int
        ``argnums``, a tuple of them for a sequence (as JAX does)."""
        shaped, start = [], 0
        for tree in self.trees:
            shaped.append(unflatten(tree, grads[start : start + tree.num_leaves]))
            start += tree.num_leaves
        return tuple(shaped) if self.many else shaped[0]

    def primal(self, out: Any) -> Any:
        """An output (any structure) as the caller should see it: floats unless it must
        stay a Value."""
        return tree_map(self._primal_leaf, out)

    def _primal_leaf(self, out: Any) -> Any:
        if isinstance(out, Dual):
            return Dual(self._primal_leaf(out.primal), self._primal_leaf(out.tangent), out.tag)
        if isinstance(out, Value):
            return out if self.values_out or self.keeps(out) else out.data
        return self.typed(out) if is_real(out) else out

    def result(self, value: Any) -> Any:
        """``value``, with the aux output beside it when ``f`` has one."""
        return (value, self.primal(self.aux)) if self.has_aux else value


def _describe(x: object) -> str:
    if isinstance(x, (list, tuple, dict)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"{type(x).__name__} {x!r}"


def _scalar_leaves(out: Any, who: str, expected: str) -> tuple[list[Any], TreeDef]:
    """The leaves of an output structure, each a number, a Value or a Dual."""
    leaves, tree = flatten(out)
    if not all(map(_is_scalar, leaves)):
        raise _bad_leaf(who, *_first_bad(out, "output"), expected)
    return leaves, tree


def _first_bad(tree: Any, root: str = "") -> tuple[str, Any]:
    """The path from ``root`` and the value of the first leaf of ``tree`` that is no number,
    Value or Dual: paths are written only for an error, once a check has failed."""
    return next((where, leaf) for where, leaf in leaf_paths(tree, root) if not _is_scalar(leaf))


def _check_callable(f: object, who: str) -> None:
    if not callable(f):
        raise TypeError(f"{who} needs a function, got {type(f).__name__} {f!r}")


def _name(who: str, f: Callable[..., Any]) -> str:
    return f"{who}({getattr(f, '__name__', 'f')})"


# --- the transforms ---


def value_and_grad(f: Callable[..., Any], argnums: ArgNums = 0, *,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:  # fmt: skip
    """``(f(*args), ∇f(*args))`` from one forward and one backward pass.

    ``argnums`` picks the positional arguments to differentiate: an int gives one
    partial derivative, a tuple of ints a tuple of them; each is shaped like its
    argument (a number, or a structure of numbers). ``f`` must return a scalar.
    With ``has_aux=True`` ``f`` returns ``(output, aux)`` and the result is
    ``((output, aux), gradient)``; ``aux`` is passed through, not differentiated (JAX).

    >>> value_and_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
    (12.0, (4.0, 3.0))
    >>> value_and_grad(lambda p: p["w"] * p["b"])({"w": 3.0, "b": 4.0})
    (12.0, {'b': 3.0, 'w': 4.0})
    """
    _check_callable(f, "value_and_grad")
    nums = _ArgNums(argnums, "grad")

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        trace, grads = _gradient(f, nums, args, kwargs, has_aux)
        return trace.result(trace.primal(trace.out)), grads

    value_and_grad_f.__name__ = _name("value_and_grad", f)
    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: ArgNums = 0, *,
         has_aux: bool = False) -> Callable[..., Any]:  # fmt: skip
    """The gradient of a scalar function: ``grad(f)(x) = df/dx``.

    ``grad(f, argnums=(0, 1))(x, y) = (df/dx, df/dy)``, each shaped like its argument.
    Composes: ``grad(grad(f))`` is the second derivative, ``jvp(grad(f), ...)`` a
    Hessian-vector product. With ``has_aux=True`` ``f`` returns ``(output, aux)`` and the
    result is ``(gradient, aux)``.

    >>> grad(lambda x: x.sin())(0.0)
    1.0
    >>> grad(lambda ws: ws[0] * ws[1])([2.0, 5.0])
    [5.0, 2.0]
    """
    _check_callable(f, "grad")
    nums = _ArgNums(argnums, "grad")

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        trace, g = _gradient(f, nums, args, kwargs, has_aux)
        return (g, trace.primal(trace.aux)) if has_aux else g

    grad_f.__name__ = _name("grad", f)
    return grad_f


def _gradient(f: Callable[..., Any], nums: _ArgNums, args: tuple[Any, ...],
              kwargs: dict[str, Any], has_aux: bool) -> tuple[_Trace, Any]:  # fmt: skip
    """One call of ``f`` on graph nodes, and its gradient in the arguments ``nums`` names."""
    trace = _Trace(f, args, kwargs, nums.positions(len(args)), nums.many, "grad", has_aux)
    return trace, trace.pack(trace.gradients(trace.out, 1.0, "grad"))


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """Evaluate ``f`` at ``primals`` and return ``(out, vjp_fn)`` (``(out, vjp_fn, aux)``
    with ``has_aux=True``).

    ``vjp_fn(u)`` is the vector-Jacobian product ``uᵀ J``: a tuple with one entry per
    primal, shaped like it, for a cotangent ``u`` shaped like ``out`` (a number, or the
    same structure). The graph is built once; each ``vjp_fn`` call is one reverse pass
    over it. (For keyword arguments, pass ``functools.partial(f, k=...)``, as in JAX.)

    >>> out, vjp_fn = vjp(lambda x, y: [x * y, x + y], 2.0, 3.0)
    >>> out, vjp_fn([1.0, 0.0]), vjp_fn([0.0, 1.0])
    ([6.0, 5.0], (3.0, 2.0), (1.0, 1.0))
    """
    _check_callable(f, "vjp")
    if not primals:
        raise TypeError("vjp needs at least one primal: vjp(f, x, ...)")
    trace = _Trace(f, primals, {}, tuple(range(len(primals))), True, "vjp", has_aux)
    outs, tree = _scalar_leaves(trace.out, "vjp", "a Value or a number")

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cts, ct_tree = flatten(cotangent)
        if ct_tree != tree:
            raise ValueError(
                f"vjp_fn needs a cotangent shaped like f's output ({tree}), got {ct_tree}"
            )
        totals: list[Any] = [0.0] * len(trace.inputs)
        for o, u in zip(outs, cts):
            if not _is_scalar(u):
                raise TypeError(
                    f"vjp_fn: cotangents must be numbers, Values or Duals, got {_describe(u)}"
                )
            if isinstance(u, (Value, Dual)) or u != 0.0:  # a zero number adds nothing
                shares = _pullback(trace, o, u)
                totals = [s if type(t) is float and t == 0.0 else t + s
                          for t, s in zip(totals, shares)]  # fmt: skip
        shaped = trace.pack([trace.typed(t) for t in totals])
        return shaped if isinstance(shaped, tuple) else (shaped,)

    out = trace.primal(trace.out)
    return (out, vjp_fn, trace.primal(trace.aux)) if has_aux else (out, vjp_fn)


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


def jacobian(f: Callable[..., Any], argnums: ArgNums = 0, *,
             has_aux: bool = False) -> Callable[..., Any]:  # fmt: skip
    """The Jacobian of ``f`` by reverse mode: one backward pass per output (also ``jacrev``).

    Shaped as JAX shapes it: the output's structure, with each output number replaced by
    its gradient (shaped like the argument for an int ``argnums``, a tuple over a sequence
    of them). A scalar ``f`` gives the gradient itself; a list of m outputs, a list of m
    rows. For functions with many outputs and few inputs, forward mode (:func:`jacfwd`)
    is cheaper. With ``has_aux=True`` the result is ``(jacobian, aux)``.

    >>> jacobian(lambda x, y: [x * y, x + y], argnums=(0, 1))(2.0, 3.0)
    [(3.0, 2.0), (1.0, 1.0)]
    """
    _check_callable(f, "jacobian")
    nums = _ArgNums(argnums, "jacobian")

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        positions = nums.positions(len(args))
        trace = _Trace(f, args, kwargs, positions, nums.many, "jacobian", has_aux)
        outs, tree = _scalar_leaves(trace.out, "jacobian", "a Value or a number")
        rows = [trace.pack(trace.gradients(o, 1.0, "jacobian")) for o in outs]
        return trace.result(unflatten(tree, rows))

    jacobian_f.__name__ = _name("jacobian", f)
    return jacobian_f


jacrev = jacobian  # JAX's name for the reverse-mode Jacobian


def jacfwd(f: Callable[..., Any], argnums: ArgNums = 0, *,
           has_aux: bool = False) -> Callable[..., Any]:  # fmt: skip
    """The Jacobian of ``f`` by forward mode: one :func:`jvp` per differentiated number.

    Same shapes as :func:`jacobian`. Cheap when there are few inputs;
    ``jacfwd(jacrev(f))`` is the Hessian by forward over reverse, as in JAX.

    >>> jacfwd(lambda x, y: [x * y, x + y], argnums=(0, 1))(2.0, 3.0)
    [(3.0, 2.0), (1.0, 1.0)]
    """
    _check_callable(f, "jacfwd")
    nums = _ArgNums(argnums, "jacfwd")

    def jacfwd_f(*args: Any, **kwargs: Any) -> Any:
        positions, many = nums.positions(len(args)), nums.many
        for i in positions:  # the leaves' types, checked once here, not in each jvp
            if not all(map(_is_scalar, flatten(args[i])[0])):
                where, leaf = _first_bad(args[i])
                raise _bad_leaf("jacfwd", _arg_name(f, i) + where, leaf, _DIFFERENTIABLE)

        def along(*xs: Any) -> Any:  # f of the differentiated arguments
            call = list(args)
            for p, x in zip(positions, xs):
                call[p] = x
            return f(*call, **kwargs)

        primals = tuple(args[p] for p in positions)
        leaves, tree = flatten(primals)
        columns, aux = [], None
        for j in range(max(len(leaves), 1)):  # one jvp along each input number (f runs once
            unit = [1.0 if k == j else 0.0 for k in range(len(leaves))]  # for no numbers)
            got = jvp(along, primals, unflatten(tree, unit), has_aux=has_aux)
            column, out_tree = flatten(got[1])
            columns.append(column)
            aux = got[2] if has_aux else None
        rows = [unflatten(tree, [col[k] for col in columns[: len(leaves)]])
                for k in range(out_tree.num_leaves)]  # fmt: skip
        jac = unflatten(out_tree, [r if many else r[0] for r in rows])
        return (jac, aux) if has_aux else jac

    jacfwd_f.__name__ = _name("jacfwd", f)
    return jacfwd_f


def hessian(f: Callable[..., Any], argnums: ArgNums = 0, *,
            has_aux: bool = False) -> Callable[..., Any]:  # fmt: skip
    """The matrix of second derivatives, ``jacobian(grad(f))`` (reverse over reverse).

    An int ``argnums`` gives ``d²f/dx²``; a tuple gives a tuple of rows
    ``H[i][j] = d²f / dx_i dx_j``. For a structure ``x`` the result is ``x``'s structure
    of ``x``'s structures (``H['w'][0]['b']``), as JAX's ``jacfwd(jacrev(f))``, which
    chainrule also runs and which gives the same numbers. With ``has_aux=True`` the result
    is ``(hessian, aux)``.

    >>> hessian(lambda x, y: x * x * y, argnums=(0, 1))(1.0, 2.0)
    ((4.0, 2.0), (2.0, 0.0))
    """
    _check_callable(f, "hessian")
    h = jacobian(grad(f, argnums, has_aux=has_aux), argnums, has_aux=has_aux)
    h.__name__ = _name("hessian", f)
    return h


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], *,
        has_aux: bool = False) -> tuple[Any, ...]:  # fmt: skip
    """Hessian-vector product ``H v`` of a scalar ``f`` without forming ``H``.

    Forward over reverse, ``H v = jvp(grad(f), x, v)``: the tangent ``v`` rides through
    ``f`` on dual numbers of graph nodes, and one reverse pass over each part of the
    output gives ``∇f`` and its directional derivative ``H v`` together: one forward and
    two reverse passes whatever the number of inputs (the full Hessian needs one reverse
    pass per input). docs/howto/transforms.md measures it against the other ways.
    The result is a tuple with one entry per primal, shaped like it; with
    ``has_aux=True``, ``(that tuple, aux)``.

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
    g = grad(f, tuple(range(len(primals))), has_aux=has_aux)
    got = jvp(g, primals, tangents, has_aux=has_aux)
    return (tuple(got[1]), got[2]) if has_aux else tuple(got[1])


def linearize(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(f(*primals), f_jvp)``: evaluate ``f`` once, then apply its derivative many times.

    ``f_jvp(*tangents)`` is ``jvp(f, primals, tangents)[1]``, one tangent per primal shaped
    like it, as in JAX. At number primals ``f`` runs once, on graph nodes, and each
    ``f_jvp`` call carries the tangents forward through the recorded graph with each node's
    forward rule (``Op.jvp``, the rule dual numbers use), without running ``f`` again.
    Inside another transform (Value or Dual primals, or an enclosing ``grad``) each call
    runs ``jvp``, so the result stays differentiable there. With ``has_aux=True`` the
    result is ``(out, f_jvp, aux)``.

    >>> out, f_jvp = linearize(lambda x, y: x * y, 2.0, 3.0)
    >>> out, f_jvp(1.0, 0.0), f_jvp(0.0, 1.0)
    (6.0, 3.0, 2.0)
    """
    _check_callable(f, "linearize")
    if not primals:
        raise TypeError("linearize needs at least one primal: linearize(f, x, ...)")
    leaves, tree = flatten(primals)
    if _RUNNING.stack or not all(is_real(x) for x in leaves):
        return _linearize_by_jvp(f, primals, has_aux)
    trace = _Trace(f, primals, {}, tuple(range(len(primals))), True, "linearize", has_aux)
    outs, out_tree = _scalar_leaves(trace.out, "linearize", "a Value or a number")
    if any(isinstance(o, Dual) for o in outs):  # f closes over an enclosing jvp's dual
        return _linearize_by_jvp(f, primals, has_aux)
    order = topological_order([o for o in outs if isinstance(o, Value)])

    def f_jvp(*tangents: Any) -> Any:
        ts, t_tree = flatten(tangents)
        if t_tree != tree:
            raise ValueError(f"f_jvp needs tangents shaped like the primals ({tree}), got {t_tree}")
        found = _push_forward(order, dict(zip(trace.inputs, ts)))
        return unflatten(out_tree, [found.get(o, 0.0) if isinstance(o, Value) else 0.0
                                    for o in outs])  # fmt: skip

    out = trace.primal(trace.out)
    return (out, f_jvp, trace.primal(trace.aux)) if has_aux else (out, f_jvp)


def _push_forward(order: list[Value], tangents: dict[Value, Any]) -> dict[Value, Any]:
    """The tangent of each node of ``order`` (parents first), from the inputs' tangents:
    the forward chain rule ``Op.jvp`` at each node, the rule :class:`Dual` applies."""
    for node in order:
        if node in tangents or node.grad_fn is None:
            continue
        ts = [tangents.get(p) for p in node._prev]
        if any(t is not None for t in ts):  # else the node does not vary (a weight, say)
            tangents[node] = node.grad_fn.jvp(ts, [p.data for p in node._prev], node.data)
    return tangents


def _linearize_by_jvp(f: Callable[..., Any], primals: tuple[Any, ...],
                      has_aux: bool) -> tuple[Any, ...]:  # fmt: skip
    """``linearize`` where the derivative must stay differentiable: each call a ``jvp``."""
    leaves, tree = flatten(primals)
    out, _, *aux = jvp(f, primals, unflatten(tree, [0.0] * len(leaves)), has_aux=has_aux)

    def f_jvp(*tangents: Any) -> Any:
        return jvp(f, primals, tangents, has_aux=has_aux)[1]

    return (out, f_jvp, *aux)
