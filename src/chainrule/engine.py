"""The node and the graph walk: ``Value``, ``apply`` and reverse-mode ``backward``.

A :class:`Value` holds a number (``data``), its adjoint (``grad``), the parents it was
computed from (``_prev``, a tuple in argument order) and the operation that computed it
(``grad_fn``, an :class:`~chainrule.ops.Op`; ``None`` for a leaf). :func:`apply` makes
every node. :func:`adjoints` is the reverse pass: in reverse topological order it asks
each node's op for its local partials ``d node / d parent`` and adds
``adjoint * partial`` into each parent. A node stores no closure and no partials, only
its op and its parents, so a graph has no reference cycles and is freed by reference
counting alone.

What each derivative *is* lives in :mod:`chainrule.ops`; how the graph is *walked*
lives here.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from chainrule import anomaly
from chainrule.conveniences import Conveniences, Hook, HookHandle
from chainrule.grad_mode import MODE, OFF, enable_grad
from chainrule.ops import MASKED, NotANumber, Op, Operators

__all__ = ["HookHandle", "Value", "adjoints", "apply", "topological_order"]


def _as_float(data: object, what: str = "Value()") -> float:
    """``data`` as a float, or a TypeError naming what was given."""
    if type(data) is float:
        return data
    if isinstance(data, Value):
        raise TypeError(
            f"{what} needs a float, got a Value ({data!r}); after backward(create_graph=True) "
            "the grads are Values: take the number, e.g. x.data -= lr * x.grad.data"
        )
    # bool is a Real, but Value(x > 0) is almost always a bug; numpy's bool_ is no Real at all
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise TypeError(f"{what} needs a real number, got {type(data).__name__} {data!r}")
    return float(data)


def _set_data(node: Value, data: object) -> None:
    node._data = data if type(data) is float else _as_float(data, "Value.data")


class Value(Operators, Conveniences):
    """A scalar in a computation graph.

    The operators and methods (``+``, ``*``, ``**``, ``tanh``, ``exp``, ...) come from the
    rows of :data:`chainrule.ops.OPS`, through :class:`~chainrule.ops.Operators`; comparisons,
    formatting, hooks and PyTorch's in-place flags from
    :class:`~chainrule.conveniences.Conveniences`.

    >>> x, w, b = Value(2.0), Value(3.0), Value(1.0)
    >>> y = (x * w + b) ** 2
    >>> y.backward()
    >>> x.grad, w.grad, b.grad        # dy/dx = 2(xw+b)w, dy/dw = 2(xw+b)x, dy/db = 2(xw+b)
    (42.0, 28.0, 14.0)
    """

    __slots__ = ("_data", "_hooks", "_op", "_prev", "grad", "grad_fn", "label", "requires_grad")

    # the number: read at C speed, checked on assignment (a float, never a Value or a string)
    if TYPE_CHECKING:

        @property
        def data(self) -> float: ...
        @data.setter
        def data(self, data: object) -> None: ...
    else:
        data = property(operator.attrgetter("_data"), _set_data, doc="The number, a float.")

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "",
                 label: str = "", *, requires_grad: bool = True) -> None:  # fmt: skip
        self._data: float = _as_float(data)
        self.grad: Any = 0.0  # a float; a Value after backward(create_graph=True)
        self._prev: tuple[Value, ...] = tuple(_children)
        self._op = _op  # the op's name, for display (micrograd's field)
        self.grad_fn: Op | None = None  # the op that made this node; None for a leaf
        self.label = label
        self.requires_grad = bool(requires_grad)
        self._hooks: list[Hook] | None = None
        if anomaly.STATE.active:
            anomaly.STATE.record(self)

    @property
    def is_leaf(self) -> bool:
        """True for inputs and constants: nodes no op made."""
        return self.grad_fn is None

    def detach(self) -> Value:
        """A new leaf with the same number, cut from the graph (requires_grad=False)."""
        return Value(self.data, label=self.label, requires_grad=False)

    def zero_grad(self) -> None:
        """Reset this node's adjoint to 0.0."""
        self.grad = 0.0

    def backward(self, gradient: Value | float = 1.0, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:  # fmt: skip
        """Accumulate d self / d leaf into every leaf's ``grad``.

        Leaves accumulate with ``+=`` across calls (call ``zero_grad`` between steps);
        interior nodes show the adjoints of the latest call. The graph is never freed:
        ``retain_graph`` is accepted for PyTorch compatibility and has no effect. With
        ``create_graph=True`` the adjoints are ``Value``s that can be differentiated again.
        """
        del retain_graph  # the graph always stays usable; see the docstring
        if not self.requires_grad:
            raise RuntimeError(
                "backward() needs a Value that requires grad; this one was built under "
                "no_grad(), from constants only, or by detach()"
            )
        for node, g in adjoints(self, gradient, create_graph=create_graph).items():
            node.grad = g if node.grad_fn is not None else node.grad + g

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"


# --- building nodes ---

TRACE_HOOK: Callable[[Value, Op, tuple[Value, ...]], None] | None = None
"""Set by :mod:`chainrule.compiler` while it traces: called with every node ``apply`` makes."""


def apply(op: Op, *args: Value | float) -> Value:
    """The node ``op(*args)``: the one way every node is made. Numbers become constants."""
    parents = args if all(isinstance(a, Value) for a in args) else tuple(map(_lift, args))
    out = Value.__new__(Value)  # no __init__: its checks are for user input
    out._data = op.forward(*[p._data for p in parents])  # type: ignore[union-attr]
    out.grad = 0.0
    out._op = op.name
    out.label = ""
    out._hooks = None
    # grad mode is per thread; its thread-local switch is read only while some thread has it off
    if (not OFF.count or MODE.enabled) and any([p.requires_grad for p in parents]):  # type: ignore[union-attr]
        out._prev, out.grad_fn, out.requires_grad = parents, op, True  # type: ignore[assignment]
    else:  # nothing to differentiate: a constant, which keeps no parents
        out._prev, out.grad_fn, out.requires_grad = (), None, False
    if anomaly.STATE.active:
        anomaly.STATE.record(out)
    if TRACE_HOOK is not None:  # chainrule.compile is recording every node, no_grad ones too
        TRACE_HOOK(out, op, parents)  # type: ignore[arg-type]
    return out


def _lift(x: object) -> Value:
    """A Value as is, a real number as a constant leaf."""
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise NotANumber(f"expected a Value or a real number, got {type(x).__name__} {x!r}")
    return Value(float(x), requires_grad=False)


Value._apply = staticmethod(apply)  # the operators of Operators build nodes with it
Value._varies = staticmethod(lambda x: isinstance(x, Value) and x.requires_grad)


# --- walking the graph ---


def topological_order(root: Value | Sequence[Value]) -> list[Value]:
    """Nodes reachable from ``root`` (or from several roots) that require grad, every
    parent before its children.

    Iterative depth-first search (no recursion limit), parents visited in argument
    order, so the order is the same on every run.
    """
    # A node is pushed, then a marker above it, then its parents; once the parents (and their
    # own ancestors) are placed, the marker comes off the stack and the node follows them.
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Any] = [root] if isinstance(root, Value) else list(reversed(root))
    while stack:
        node = stack.pop()
        if node is _PLACE:
            order.append(stack.pop())
        elif node not in visited:
            visited.add(node)
            stack.append(node)
            stack.append(_PLACE)
            for parent in reversed(node._prev):  # reversed: the first parent comes off first
                if parent.requires_grad and parent not in visited:
                    stack.append(parent)
    return order


_PLACE = object()  # the topological walk's marker: "the node below me is ready"

Visit = Callable[[Value, Any, Any, dict[Value, Any]], None]  # (node, adjoint, shares, adjoints)
Seed = Value | float


def adjoints(root: Value | Sequence[Value], gradient: Seed | Sequence[Seed] = 1.0, *,
             create_graph: bool = False, hooks: bool = True,
             visit: Visit | None = None) -> dict[Value, Any]:  # fmt: skip
    """d root / d node for every node ``root`` depends on, by one reverse pass.

    Several roots with one seed each give ``sum_k seed_k * d root_k / d node`` in the same
    single pass. Writes no ``.grad``: ``backward()`` stores the result. With
    ``create_graph`` the partials are computed on the nodes themselves, so the adjoints are
    ``Value``s whose graph can be differentiated again. ``hooks=False`` skips the nodes'
    hooks; ``visit(node, adjoint, shares, adjoints)`` watches each step once its shares are
    added (the walkthrough draws them).
    """
    roots = [root] if isinstance(root, Value) else list(root)
    seeds = [gradient] if isinstance(root, Value) else _seeds(gradient, len(roots))
    order = topological_order(roots)
    if anomaly.STATE.active:
        anomaly.check_forward(order)
    grads: dict[Value, Any] = {}
    for r, s in zip(roots, seeds):
        if create_graph:
            seed: Any = s if isinstance(s, Value) else Value(_as_float(s))
        else:
            seed = _as_float(s._data if isinstance(s, Value) else s)  # PyTorch takes a tensor
        grads[r] = seed if r not in grads else grads[r] + seed  # a root given twice
    with enable_grad() if create_graph else nullcontext():
        for node in reversed(order):
            g = grads.get(node)
            if g is None:  # a parent of a node no op made (Value(x, (a, b)) by hand)
                continue
            if hooks and node._hooks:
                g = grads[node] = _run_hooks(node, g)
            op = node.grad_fn
            if op is None:  # a leaf: its adjoint is complete
                continue
            xs = node._prev if create_graph else [p._data for p in node._prev]
            out = node if create_graph else node._data
            if op.vjp is not None:  # a hand-written backward (custom Function, checkpoint)
                shares = op.vjp(g, *xs, out)
            else:  # the chain rule: the adjoint times each local partial d node / d parent
                shares = [d if d is MASKED else g * d for d in op.local(*xs, out)]
            if len(shares) != len(node._prev):
                raise ValueError(f"op {op.name!r} gave {len(shares)} partials for "
                                 f"{len(node._prev)} inputs")  # fmt: skip
            if anomaly.STATE.active:
                anomaly.check_shares(node, tuple(shares))
            for parent, share in zip(node._prev, shares):
                if share is not MASKED and parent.requires_grad:  # add this path's share
                    previous = grads.get(parent)
                    grads[parent] = share if previous is None else previous + share
            if visit is not None:
                visit(node, g, shares, grads)
    return grads


def _seeds(gradient: Seed | Sequence[Seed], n: int) -> list[Seed]:
    """One seed per root: a single number is broadcast, a sequence must match."""
    if not isinstance(gradient, Sequence):
        return [gradient] * n
    seeds = list(gradient)
    if len(seeds) != n:
        raise ValueError(f"got {len(seeds)} gradient(s) for {n} root(s); give one per root")
    return seeds


def _run_hooks(node: Value, adjoint: Any) -> Any:
    for hook in list(node._hooks or ()):
        replaced = hook(adjoint)
        if replaced is not None:
            adjoint = replaced
    return adjoint
