"""The node and the graph walk: ``Value`` and reverse-mode ``backward``.

A :class:`Value` holds a number (``data``), its adjoint (``grad``), the parents it was
computed from (``_prev``, a tuple in argument order), the operation's name (``_op``)
and a local backward closure (``_backward``). The closure maps the node's adjoint ``g``
(and its value ``out``, handed over by the walk) to each parent's share
``g * d out / d parent``; the walk adds those shares into the parents with ``+=``.
Closures hold the parents, never the output node, so a graph has no reference cycles and
is freed by reference counting alone.

What each derivative *is* lives in :mod:`chainrule.ops`; how the graph is *walked*
lives here.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from types import MethodType
from typing import Any

from chainrule import anomaly, ops
from chainrule.grad_mode import MODE, enable_grad
from chainrule.ops import OPS, Op

__all__ = ["HookHandle", "Value", "topological_order"]

Hook = Callable[[Any], Any]
Backward = Callable[..., tuple[Any, ...]]  # backward(g, out) -> one share per parent


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
        return _binary(ops.ADD, self, other)

    def __radd__(self, other: float) -> Value:
        return _binary(ops.ADD, other, self)

    def __sub__(self, other: Value | float) -> Value:
        return _binary(ops.SUB, self, other)

    def __rsub__(self, other: float) -> Value:
        return _binary(ops.SUB, other, self)

    def __mul__(self, other: Value | float) -> Value:
        return _binary(ops.MUL, self, other)

    def __rmul__(self, other: float) -> Value:
        return _binary(ops.MUL, other, self)

    def __truediv__(self, other: Value | float) -> Value:
        return _binary(ops.DIV, self, other)

    def __rtruediv__(self, other: float) -> Value:
        return _binary(ops.DIV, other, self)

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
    if type(x) is float or type(x) is int:  # the common case, before the slower ABC check
        return _node(float(x), (), "", None)
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


# --- backward closures ---
#
# A node's closure is its op's rule bound to the node's parents: ``MethodType(rule, parents)``,
# a bound method whose ``__self__`` is the very tuple stored as ``_prev``. The walk calls
# ``node._backward(g, out)`` with the node's adjoint and its own value (the closure must not
# hold its node: no reference cycles), which runs ``rule(parents, g, out)``: the local partials
# of ``op.local`` from the parents' numbers, each times g. The partials are computed when
# backward runs, as micrograd does, so a node stores none of them. +, - and neg have constant
# partials: their closures would all be the same, so their nodes share one.
#
# Measured on the MLP loss graph (benchmarks/mlp_vs_micrograd.py, GC on, one machine): closures
# binding the partials as default arguments cost 3.49 GC-tracked objects and 376 bytes per node
# (2.2x micrograd's speed); a bound method and the shared closures cost 2.50 and 230 (3.5-3.9x
# there; the multiple varies with the machine, docs/performance.md has the latest run). A bound
# method for every node, + - and neg included: 2.97 and 260 (about 10% slower).

Rule = Callable[..., tuple[Any, ...]]  # rule(parents, g, out) -> one share per parent
_RULES: dict[str, Rule] = {}  # op name -> its rule (the shared closure for constant partials)


def _make_rule(op: Op, n: int) -> Rule:
    """``op``'s rule for ``n`` parents (1 or 2), built on first use."""
    local, name = op.local, op.name

    def checked(partials: tuple[Any, ...]) -> tuple[Any, ...]:
        if len(partials) != n:  # a custom op's local() may be wrong
            raise ValueError(f"op {name!r}: local() gave {len(partials)} partials for {n} inputs")
        return partials

    # The length checks are written out, not a call to checked(): one Python call fewer per
    # node in every backward pass.
    def unary(parents: tuple[Value], g: float, out: float) -> tuple[float]:
        partials = local(parents[0].data, out)
        if len(partials) != 1:
            checked(partials)
        return (g * partials[0],)

    def binary(parents: tuple[Value, Value], g: float, out: float) -> tuple[float, float]:
        a, b = parents
        partials = local(a.data, b.data, out)
        if len(partials) != 2:
            checked(partials)
        return (g * partials[0], g * partials[1])

    def constant(g: float, out: float) -> tuple[float, ...]:
        return (g * partials[0],) if n == 1 else (g * partials[0], g * partials[1])

    rule: Rule = unary if n == 1 else binary
    if op.constant_partials:
        partials = checked(local(*[0.0] * (n + 1)))
        rule = constant
    _RULES[name] = rule
    return rule


def _unary(op: Op, x: Value) -> Value:
    out = op.forward(x.data)
    if x.requires_grad and MODE.enabled:
        parents = (x,)
        rule = _RULES.get(op.name) or _make_rule(op, 1)
        closure = rule if op.constant_partials else MethodType(rule, parents)
        return _node(out, parents, op.name, closure)
    return _node(out, (), op.name, None)


def _binary(op: Op, a: Value | float, b: Value | float) -> Value:
    """The node ``op(a, b)``. A number is lifted to a constant; other types get NotImplemented."""
    x = a if isinstance(a, Value) else _lift(a)
    y = b if isinstance(b, Value) else _lift(b)
    if x is None or y is None:
        return NotImplemented  # type: ignore[no-any-return]  # Python then tries the other operand
    out = op.forward(x.data, y.data)
    if (x.requires_grad or y.requires_grad) and MODE.enabled:
        parents = (x, y)
        rule = _RULES.get(op.name) or _make_rule(op, 2)  # written out here, not in a helper:
        closure = rule if op.constant_partials else MethodType(rule, parents)  # 3% of the build
        return _node(out, parents, op.name, closure)
    return _node(out, (), op.name, None)


def _power(base: Value, exponent: Value) -> Value:
    # A constant exponent never needs d/db = a**b ln a, which only exists for a > 0.
    return _binary(ops.POW if exponent.requires_grad else ops.POW_CONST, base, exponent)


# --- walking the graph ---


def topological_order(root: Value) -> list[Value]:
    """Nodes reachable from ``root`` that require grad, every parent before its children.

    Iterative depth-first search (no recursion limit), parents visited in argument
    order, so the order is the same on every run.
    """
    # A node is pushed, then a marker above it, then its parents; once the parents (and their
    # own ancestors) are placed, the marker comes off the stack and the node follows them. No
    # per-node iterator or (node, index) pair: those are GC-tracked objects alive while the walk
    # descends, and on a 300,000-node chain they made the walk 5x slower with GC on.
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Any] = [root]
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
            if hooked_leaves and node in hooked_leaves:
                before = hooked_leaves[node]
                node.grad = before + _run_hooks(node, node.grad - before)
            continue
        g = node.grad
        if node._hooks is not None:
            g = node.grad = _run_hooks(node, g)
        shares = backward(g, node.data)
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
