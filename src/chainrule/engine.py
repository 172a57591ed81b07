"""The node and the graph walk: ``Value`` and reverse-mode ``backward``.

A :class:`Value` holds a number (``data``), its adjoint (``grad``), the parents it was
computed from (``_prev``, a tuple in argument order), the operation's name (``_op``)
and a local backward closure (``_backward``). The closure maps the upstream adjoint
``g`` to each parent's share ``g * d out / d parent``; the walk adds those shares into
the parents with ``+=``. Closures capture numbers, never the output node, so a graph
has no reference cycles and is freed by reference counting alone.

What each derivative *is* lives in :mod:`chainrule.ops`; how the graph is *walked*
lives here.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import Any

from chainrule import anomaly, ops
from chainrule.grad_mode import MODE, enable_grad
from chainrule.ops import OPS, Op

__all__ = ["HookHandle", "Value", "topological_order"]

Hook = Callable[[Any], Any]
Backward = Callable[[float], tuple[float, ...]]


def _as_float(data: object) -> float:
    """``data`` as a float, or a TypeError naming what was given."""
    if type(data) is float:
        return data
    # bool is a Real, but Value(x > 0) is almost always a bug; numpy's bool_ is no Real at all
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise TypeError(f"Value() needs a real number, got {type(data).__name__} {data!r}")
    return float(data)


class Value:
    """A scalar in a computation graph.

    >>> x, w, b = Value(2.0), Value(3.0), Value(1.0)
    >>> y = (x * w + b) ** 2
    >>> y.backward()
    >>> x.grad, w.grad, b.grad        # dy/dx = 2(xw+b)w, dy/dw = 2(xw+b)x, dy/db = 2(xw+b)
    (42.0, 28.0, 14.0)
    """

    # Every field is a slot: no per-node __dict__, fewer bytes and faster attribute access.
    __slots__ = ("_backward", "_hooks", "_op", "_prev", "data", "grad", "label", "requires_grad")

    def __init__(
        self,
        data: float,
        _children: Iterable[Value] = (),
        _op: str = "",
        label: str = "",
        *,
        requires_grad: bool = True,
    ) -> None:
        self.data = _as_float(data)
        self.grad: Any = 0.0  # a float; a Value after backward(create_graph=True)
        self._prev: tuple[Value, ...] = tuple(_children)
        self._op = _op
        self._backward: Backward | None = None
        self.label = label
        self.requires_grad = bool(requires_grad)
        self._hooks: list[Hook] | None = None
        if anomaly.STATE.active:
            anomaly.STATE.record(self)

    # --- arithmetic: each line names its row of the ops table ---

    def __add__(self, other: Value | float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _binary(ops.ADD, self, o)

    def __radd__(self, other: float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _binary(ops.ADD, o, self)

    def __sub__(self, other: Value | float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _binary(ops.SUB, self, o)

    def __rsub__(self, other: float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _binary(ops.SUB, o, self)

    def __mul__(self, other: Value | float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _binary(ops.MUL, self, o)

    def __rmul__(self, other: float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _binary(ops.MUL, o, self)

    def __truediv__(self, other: Value | float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _binary(ops.DIV, self, o)

    def __rtruediv__(self, other: float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _binary(ops.DIV, o, self)

    def __pow__(self, other: Value | float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _power(self, o)

    def __rpow__(self, other: float) -> Value:
        o = _lift(other)
        return NotImplemented if o is None else _power(o, self)

    def __neg__(self) -> Value:
        return _unary(ops.NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(ops.ABS, self)

    # --- functions (the formulas and derivatives are in chainrule.ops) ---

    def relu(self) -> Value:
        """max(x, 0);  d/dx = 1 if x > 0 else 0."""
        return _unary(ops.RELU, self)

    def leaky_relu(self, alpha: Value | float = 0.01) -> Value:
        """x if x > 0 else alpha x;  d/dx = 1 or alpha (alpha may be a Value too)."""
        a = _lift(alpha)
        if a is None:
            raise TypeError(f"alpha needs a real number, got {type(alpha).__name__} {alpha!r}")
        return _binary(ops.LEAKY_RELU, self, a)

    def tanh(self) -> Value:
        """tanh(x);  d/dx = 1 - tanh(x)**2."""
        return _unary(ops.TANH, self)

    def exp(self) -> Value:
        """e**x;  d/dx = e**x. OverflowError for x > 709.78."""
        return _unary(ops.EXP, self)

    def log(self) -> Value:
        """ln x;  d/dx = 1/x. ValueError for x <= 0."""
        return _unary(ops.LOG, self)

    def sigmoid(self) -> Value:
        """1 / (1 + e**-x);  d/dx = s(1 - s). Finite for every finite x."""
        return _unary(ops.SIGMOID, self)

    def softplus(self) -> Value:
        """ln(1 + e**x);  d/dx = sigmoid(x). Finite for every finite x."""
        return _unary(ops.SOFTPLUS, self)

    def gelu(self) -> Value:
        """x Phi(x) (exact, with erf);  d/dx = Phi(x) + x phi(x)."""
        return _unary(ops.GELU, self)

    def silu(self) -> Value:
        """x sigmoid(x);  d/dx = s(1 + x(1 - s))."""
        return _unary(ops.SILU, self)

    def sqrt(self) -> Value:
        """sqrt(x);  d/dx = 1/(2 sqrt x). ValueError for x < 0; the slope at 0 is inf."""
        return _unary(ops.SQRT, self)

    def abs(self) -> Value:
        """|x|;  d/dx = sign(x), 0 at x = 0."""
        return _unary(ops.ABS, self)

    def sin(self) -> Value:
        """sin x;  d/dx = cos x."""
        return _unary(ops.SIN, self)

    def cos(self) -> Value:
        """cos x;  d/dx = -sin x."""
        return _unary(ops.COS, self)

    def erf(self) -> Value:
        """erf x;  d/dx = 2/sqrt(pi) e**(-x**2)."""
        return _unary(ops.ERF, self)

    # --- leaves, modes, hooks ---

    @property
    def is_leaf(self) -> bool:
        """True for inputs and constants: nodes without a backward closure."""
        return self._backward is None

    def item(self) -> float:
        """The number, as a plain float."""
        return self.data

    def detach(self) -> Value:
        """A new leaf with the same number, cut from the graph (requires_grad=False)."""
        return Value(self.data, label=self.label, requires_grad=False)

    def zero_grad(self) -> None:
        """Reset this node's adjoint to 0.0."""
        self.grad = 0.0

    def register_hook(self, hook: Hook) -> HookHandle:
        """Call ``hook(adjoint)`` when backward reaches this node; a non-None result replaces it.

        On a leaf the hook sees the adjoint contributed by this backward call.
        """
        if not callable(hook):
            raise TypeError(f"register_hook needs a callable, got {type(hook).__name__}")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return HookHandle(self, hook)

    # --- reverse mode ---

    def backward(
        self,
        gradient: Value | float = 1.0,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d self / d leaf into every leaf's ``grad``.

        Leaves accumulate with ``+=`` across calls (call ``zero_grad`` between steps);
        interior nodes are reset, so they show the adjoints of the latest call. The
        graph is never freed by this call: ``retain_graph`` is accepted for PyTorch
        compatibility and has no effect. With ``create_graph=True`` the adjoints are
        themselves ``Value``s whose graph can be differentiated again.
        """
        del retain_graph  # the graph always stays usable; see the docstring
        if not self.requires_grad:
            raise RuntimeError(
                "backward() needs a Value that requires grad; this one was built under "
                "no_grad(), from constants only, or by detach()"
            )
        order = topological_order(self)
        if anomaly.STATE.active:
            anomaly.check_forward(order)
        if create_graph:
            with enable_grad():
                _backward_graph(self, order, gradient)
        else:
            _backward_floats(self, order, _as_float(gradient))

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """In a notebook, show the graph as SVG (text when graphviz is missing)."""
        try:
            from chainrule.viz import repr_mimebundle
        except ImportError:
            return {"text/plain": repr(self)}
        result: dict[str, str] = repr_mimebundle(self, include, exclude)
        return result


class HookHandle:
    """Returned by :meth:`Value.register_hook`; ``remove()`` unregisters the hook."""

    __slots__ = ("_hook", "_node")

    def __init__(self, node: Value, hook: Hook) -> None:
        self._node, self._hook = node, hook

    def remove(self) -> None:
        hooks = self._node._hooks
        if hooks is not None and self._hook in hooks:
            hooks.remove(self._hook)


# --- building nodes ---


def _lift(x: object) -> Value | None:
    """A Value as is, a real number as a constant leaf, anything else None."""
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    return _node(float(x), (), "", None)


def _node(data: float, prev: tuple[Value, ...], op: str, backward: Backward | None) -> Value:
    """Make a node without the checks of ``Value.__init__`` (the hot path of every op)."""
    out = Value.__new__(Value)
    out.data = data
    out.grad = 0.0
    out._prev = prev
    out._op = op
    out._backward = backward
    out.label = ""
    out.requires_grad = backward is not None
    out._hooks = None
    if anomaly.STATE.active:
        anomaly.STATE.record(out)
    return out


# The backward closures bind their local derivatives as default arguments. Python then
# keeps one tuple of floats per node instead of a closure tuple plus one cell per number:
# two GC-tracked objects fewer per node, which took the MLP benchmark from 1.06 s to
# 0.87 s with the garbage collector on (benchmarks/mlp_vs_micrograd.py). That tuple is the
# very one ``op.local`` returned, set as ``__defaults__``: for + - and neg it is a constant
# tuple shared by every node, so those nodes allocate nothing for their derivatives
# (MLP loss graph: 402 -> 376 B/node, 3.96 -> 3.49 GC-tracked objects per node).


def _unary(op: Op, x: Value) -> Value:
    out = op.forward(x.data)
    if x.requires_grad and MODE.enabled:

        def backward(g: float, d: float = 0.0) -> tuple[float]:
            return (g * d,)

        backward.__defaults__ = _checked(op, op.local(x.data, out), 1)  # (d,): see above
        return _node(out, (x,), op.name, backward)
    return _node(out, (), op.name, None)


def _binary(op: Op, a: Value, b: Value) -> Value:
    out = op.forward(a.data, b.data)
    if (a.requires_grad or b.requires_grad) and MODE.enabled:

        def backward(g: float, da: float = 0.0, db: float = 0.0) -> tuple[float, float]:
            return (g * da, g * db)

        backward.__defaults__ = _checked(op, op.local(a.data, b.data, out), 2)  # (da, db)
        return _node(out, (a, b), op.name, backward)
    return _node(out, (), op.name, None)


def _checked(op: Op, partials: tuple[float, ...], n: int) -> tuple[float, ...]:
    """One local partial per input, or a clear error (a custom op's ``local`` may be wrong)."""
    if len(partials) != n:
        raise ValueError(f"op {op.name!r}: local() gave {len(partials)} partials for {n} inputs")
    return partials


def _power(base: Value, exponent: Value) -> Value:
    # A constant exponent never needs d/db = a**b ln a, which only exists for a > 0.
    return _binary(ops.POW if exponent.requires_grad else ops.POW_CONST, base, exponent)


# --- walking the graph ---


def topological_order(root: Value) -> list[Value]:
    """Nodes reachable from ``root`` that require grad, every parent before its children.

    Iterative depth-first search (no recursion limit), parents visited in argument
    order, so the order is the same on every run.
    """
    # The stack is two lists, the path of nodes and, for each, the index of its next parent,
    # rather than a (node, iterator) pair per node: those are two GC-tracked objects per node
    # alive while the walk descends, and on a 300,000-node chain they made the walk 5x slower
    # with the garbage collector on (1,065 ms; 255 ms with these lists, 190 ms with GC off).
    order: list[Value] = []
    visited = {root}
    path, next_parent = [root], [0]
    while path:
        parents = path[-1]._prev
        i = next_parent[-1]
        while i < len(parents):
            parent = parents[i]
            i += 1
            if parent not in visited and parent.requires_grad:
                visited.add(parent)
                next_parent[-1] = i
                path.append(parent)
                next_parent.append(0)
                break
        else:  # every parent is placed: the node can follow them
            next_parent.pop()
            order.append(path.pop())
    return order


def _backward_floats(root: Value, order: list[Value], gradient: float) -> None:
    """First-order reverse pass on floats: the fast path."""
    hooked_leaves: dict[Value, Any] = {}  # leaf -> its grad before this call
    for node in order:
        if node._backward is not None:
            node.grad = 0.0  # interior adjoints belong to this call only
        elif node._hooks:
            hooked_leaves[node] = node.grad
    root.grad += gradient
    check = anomaly.check_shares if anomaly.STATE.active else None
    for node in reversed(order):
        backward = node._backward
        if backward is None:
            if node in hooked_leaves:
                before = hooked_leaves[node]
                node.grad = before + _run_hooks(node, node.grad - before)
            continue
        g = node.grad if node._hooks is None else _run_hooks(node, node.grad)
        node.grad = g
        shares = backward(g)
        if check is not None:
            check(node, shares)
        for parent, share in zip(node._prev, shares):
            if parent.requires_grad:
                parent.grad += share


def _backward_graph(root: Value, order: list[Value], gradient: Value | float) -> None:
    """Reverse pass that records itself: adjoints are Values built from ``ops`` rules."""
    seed = gradient if isinstance(gradient, Value) else _node(_as_float(gradient), (), "", None)
    adjoints: dict[Value, Value] = {root: seed}
    check = anomaly.check_shares if anomaly.STATE.active else None
    for node in reversed(order):
        g = adjoints.get(node)
        if g is None:
            continue
        if node._hooks is not None:
            g = _run_hooks(node, g)
        if node._backward is None:
            node.grad = node.grad + g
            continue
        node.grad = g
        op = OPS.get(node._op)
        if op is None:
            raise RuntimeError(
                f"create_graph=True needs a rule for op {node._op!r} in chainrule.ops.OPS"
            )
        shares = tuple(g * d for d in op.local(*node._prev, node))
        if check is not None:
            check(node, shares)
        for parent, share in zip(node._prev, shares):
            if parent.requires_grad:
                previous = adjoints.get(parent)
                adjoints[parent] = share if previous is None else previous + share


def _run_hooks(node: Value, adjoint: Any) -> Any:
    for hook in list(node._hooks or ()):
        replaced = hook(adjoint)
        if replaced is not None:
            adjoint = replaced
    return adjoint
