"""The node and the graph walk: ``Value``, ``apply`` and reverse-mode ``backward``.

A :class:`Value` holds a number (``data``), its adjoint (``grad``), the parents it was
computed from (``_prev``, a tuple in argument order) and the operation that computed it
(``grad_fn``, an :class:`~chainrule.ops.Op`; ``None`` for a leaf). :func:`apply` makes
every node. :func:`adjoints` is the reverse pass: in reverse topological order it asks
each node's op for the shares ``adjoint * d node / d parent`` and adds each share into
its parent's adjoint. A node stores no closure and no partials, only its op and its
parents, so a graph has no reference cycles and is freed by reference counting alone.

What each derivative *is* lives in :mod:`chainrule.ops`; how the graph is *walked*
lives here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from chainrule.grad_mode import MODE, OFF, enable_grad
from chainrule.methods import Operators
from chainrule.ops import MASKED, OPS, NotANumber, Op, is_real
from chainrule.value_base import (
    READ_HOOKS,
    Hook,
    HookHandle,
    ValueBase,
    as_float,
    read,
    run_hooks,
)

__all__ = [
    "NODE_HOOKS",
    "PASS_HOOKS",
    "READ_HOOKS",
    "HookHandle",
    "Value",
    "adjoints",
    "apply",
    "between",
    "read",
    "store",
    "topological_order",
]


class Value(Operators, ValueBase):
    """A scalar in a computation graph.

    The operators and methods (``+``, ``*``, ``**``, ``tanh``, ``exp``, ...) come from the
    rows of :data:`chainrule.ops.OPS`, through :class:`~chainrule.methods.Operators`; the checked
    ``data`` property, comparisons, formatting, hooks and PyTorch's in-place flags from
    :class:`~chainrule.value_base.ValueBase`.

    >>> x, w, b = Value(2.0), Value(3.0), Value(1.0)
    >>> y = (x * w + b) ** 2
    >>> y.backward()
    >>> x.grad, w.grad, b.grad        # dy/dx = 2(xw+b)w, dy/dw = 2(xw+b)x, dy/db = 2(xw+b)
    (42.0, 28.0, 14.0)
    """

    __slots__ = ("_data", "_grad", "_hooks", "_op", "_prev", "grad_fn", "label", "requires_grad")

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "",
                 label: str = "", *, requires_grad: bool = True) -> None:  # fmt: skip
        self._data = data if type(data) is float else as_float(data)  # read as x.data
        self._grad: Any = 0.0  # read as x.grad: a float; a Value after create_graph=True
        # the parents, in argument order, and the op that made this node (None for a leaf)
        self._prev, self.grad_fn = _lecture_node(self, _children, _op) if _children else ((), None)
        self._op = _op  # the op's name, for display (micrograd's field)
        self.label = label
        self.requires_grad = bool(requires_grad)
        self._hooks: list[Hook] | None = None

    def backward(self, gradient: Value | float = 1.0, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:  # fmt: skip
        """Accumulate d self / d leaf into every leaf's ``grad``.

        Leaves accumulate with ``+=`` across calls (call ``zero_grad`` between steps);
        interior nodes show the adjoints of the latest call. The graph is never freed:
        ``retain_graph`` is accepted for PyTorch compatibility and has no effect. With
        ``create_graph=True`` the adjoints are ``Value``s that can be differentiated again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() needs a Value that requires grad; this one was built "
                               "under no_grad(), from constants only, or by detach()")  # fmt: skip
        store(adjoints({self: gradient}, create_graph=create_graph))

    def _backward(self) -> None:
        """micrograd's step: add this node's shares of ``self.grad`` into its parents' ``.grad``.

        The shares come from the node's op (``grad_fn.vjp``), as in the reverse pass; a
        leaf's does nothing. Calling it on every node in reverse topological order is what
        ``backward()`` does in one pass.
        """
        if self.grad_fn is None:
            return
        xs = [p._data for p in self._prev]
        for parent, share in zip(self._prev, self.grad_fn.vjp(self.grad, xs, self._data)):
            if share is not MASKED and parent.requires_grad:
                parent.grad = parent.grad + share

    def __getstate__(self) -> dict[str, Any]:
        """The fields, so a Value pickles at every protocol (a built-in op by its name)."""
        return {name: getattr(self, name) for name in Value.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, field in state.items():
            setattr(self, name, field)

    @staticmethod
    def _varies(x: object) -> bool:
        """Whether an exponent ``x`` is differentiated too: a node that requires grad."""
        return isinstance(x, Value) and x.requires_grad

    def zero_grad(self) -> None:
        """Reset this node's adjoint to 0.0."""
        self._grad = 0.0

    def __repr__(self) -> str:
        return read(self, "repr", None, f"Value(data={self._data}, grad={self._grad})")  # type: ignore[no-any-return]


Visit = Callable[[Value, Any, Any, dict[Value, Any]], None]  # (node, adjoint, shares, adjoints)

NODE_HOOKS: list[Callable[[Value, Op, tuple[Any, ...]], None]] = []
"""Called with every node ``apply`` makes: anomaly mode records where, compile records how."""

PASS_HOOKS: list[Callable[[list[Value], Visit | None], Visit | None]] = []
"""Called as ``hook(order, visit)`` at the start of every reverse pass, with the nodes it will
walk (parents first); what each returns is the pass's ``visit``: anomaly mode checks there."""


def apply(op: Op, *args: Value | float) -> Value:
    """The node ``op(*args)``: the one way every node is made. Numbers become constants."""
    xs: list[float] = []  # the parents' numbers
    tracked = False  # does any parent require grad?
    for a in args:
        if not isinstance(a, Value):  # a number: make each one a constant, then start again
            return apply(op, *[constant(a) for a in args])
        xs.append(a._data)
        tracked = tracked or a.requires_grad
    out = Value.__new__(Value)  # its fields are set here: __init__'s checks are for user input
    out._data = op.forward(*xs)
    out._grad, out._op, out.label, out._hooks = 0.0, op.name, "", None
    # grad mode is per thread; its thread-local switch is read only while some thread has it off
    if tracked and (not OFF.count or MODE.enabled):
        out._prev, out.grad_fn, out.requires_grad = args, op, True
    else:  # nothing to differentiate: a constant, which keeps no parents
        out._prev, out.grad_fn, out.requires_grad = (), None, False
    for hook in NODE_HOOKS:  # anomaly mode and compile's tracer watch every node
        hook(out, op, args)
    return out


def _lecture_node(node: Value, children: Iterable[Value], name: str) -> tuple[Any, Op | None]:
    """The parents and op of ``Value(data, (a, b), '*')``, a node built micrograd's way.

    The op is the built-in row named ``name``, and ``data`` must be what it computes from
    the parents (to rounding); anything else has no derivative rule, so it is refused
    rather than silently treated as a leaf.
    """
    parents = tuple(children)
    if any(not isinstance(p, Value) for p in parents):
        raise TypeError(f"Value(data, _children, _op): _children must be Values, got {parents!r}")
    op = OPS.get(name)
    value = op.forward(*[p._data for p in parents]) if op and len(parents) == op.arity else None
    same = math.isclose(value, node._data, rel_tol=1e-12) if value is not None else False
    if not (same or (value != value and node._data != node._data)):  # nan matches nan only
        raise ValueError(
            f"Value({node._data!r}, _children, {name!r}) has parents but no derivative rule: "
            f"give _op the name of a built-in op that computes {node._data!r} from the parents "
            "(such as '*' or 'tanh'), or make a new op with chainrule.custom_op or "
            "chainrule.Function (MyOp.apply(a, b))"
        )
    return parents, op


Value._apply = staticmethod(apply)  # type: ignore[method-assign,assignment]  # Operators build nodes with it


def constant(x: object, what: str = "", label: str = "") -> Value:
    """``x`` if it is a Value, else the real number ``x`` as a constant leaf (requires_grad=False).
    Anything else is no operand: NotANumber (a TypeError, on which an operator gives way),
    naming ``what`` took it when given."""
    if isinstance(x, Value):
        return x
    if not is_real(x):
        needs = f"{what} needs a real number" if what else "expected a Value or a real number"
        raise NotANumber(f"{needs}, got {type(x).__name__} {x!r}")
    return Value(as_float(x), label=label, requires_grad=False)


def topological_order(root: Value | Sequence[Value]) -> list[Value]:
    """Nodes reachable from ``root`` (or from several roots) that require grad, every
    parent before its children: an iterative depth-first search (no recursion limit),
    parents in argument order, so the order is the same on every run."""
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Any] = [root] if isinstance(root, Value) else list(reversed(root))
    while stack:
        node = stack.pop()
        if node is _READY:  # every parent of the node below the marker is placed
            order.append(stack.pop())
        elif node not in visited:
            visited.add(node)
            stack += node, _READY
            for parent in reversed(node._prev):  # reversed: the first parent comes off first
                if parent.requires_grad and parent not in visited:
                    stack.append(parent)
    return order


_READY = object()


def adjoints(seeds: Value | Mapping[Value, Value | float], *, create_graph: bool = False,
             hooks: bool = True, visit: Visit | None = None,
             only: list[Value] | None = None) -> dict[Value, Any]:  # fmt: skip
    """d (sum of seed * root) / d node for every node the roots depend on: one reverse pass.

    ``seeds`` gives each root its starting adjoint (``{y1: 1.0, y2: 0.5}``; a lone Value is
    seeded with 1.0). Writes no ``.grad``: ``backward()`` stores the result. With
    ``create_graph`` the partials are computed on the nodes themselves, so the adjoints are
    ``Value``s that can be differentiated again. ``hooks=False`` skips the nodes' hooks;
    ``visit(node, adjoint, shares, adjoints)`` watches each step (the walkthrough draws it).
    ``only`` gives the nodes to walk, parents first, when not all that the roots depend on
    (:func:`topological_order`) are wanted: :func:`between` gives those that lead to some inputs.

    A node that only masked edges reach gets the adjoint MASKED (a 0.0): its hooks see 0.0,
    as in PyTorch, and nothing flows on to its parents.
    """
    seeds = {seeds: 1.0} if isinstance(seeds, Value) else seeds  # adjoints(loss): a seed of 1.0
    # each root's starting adjoint (Value() checks it): a Value if the pass builds a graph
    grads: dict[Value, Any] = {r: g if isinstance(g, Value) else Value(g) for r, g in seeds.items()}
    grads = grads if create_graph else {root: g._data for root, g in grads.items()}
    order = topological_order(list(grads)) if only is None else only
    for watch in PASS_HOOKS:  # detect_anomaly() checks every step
        visit = watch(order, visit)
    with enable_grad() if create_graph else nullcontext():
        for node in reversed(order):
            g = grads.setdefault(node, MASKED)  # MASKED: only masked edges lead here
            if hooks and node._hooks:
                g = grads[node] = run_hooks(node, g)
            if node.grad_fn is None or (g is MASKED and visit is None):  # a leaf, or none
                continue  # arrives so none leaves (a watcher still sees the step: shares MASKED)
            xs = node._prev if create_graph else [p._data for p in node._prev]
            shares = node.grad_fn.vjp(g, xs, node if create_graph else node._data)
            for parent, share in zip(node._prev, shares):
                if share is not MASKED and parent.requires_grad:  # a masked edge passes nothing
                    grads[parent] = grads[parent] + share if parent in grads else share
            if visit is not None:
                visit(node, g, shares, grads)
    return grads


def between(roots: Iterable[Value], inputs: Iterable[Value]) -> list[Value]:
    """The nodes on a path from one of ``roots`` down to one of ``inputs``, parents first:
    ``adjoints(seeds, only=between(seeds, inputs))`` computes the inputs' adjoints and
    walks nothing below them (so calls no hook there)."""
    leads = set(inputs)
    order = topological_order(list(roots))
    for node in order:
        if node not in leads and not leads.isdisjoint(node._prev):
            leads.add(node)
    return [node for node in order if node in leads]


def store(grads: Mapping[Value, Any]) -> None:
    """Store a pass's adjoints in ``.grad``, the one place every client of the pass does it:
    a leaf accumulates (``+=``, across calls), an interior node shows this pass's adjoint."""
    for node, g in grads.items():
        node._grad = g if node.grad_fn is not None else node._grad + g
