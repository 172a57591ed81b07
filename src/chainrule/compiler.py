"""The backward pass as code: trace a scalar function once, run straight-line Python after.

>>> from chainrule.compiler import compile  # also chainrule.compile
>>> f = compile(lambda x, y: (x * y + x).tanh())
>>> value, (dx, dy) = f(0.5, 2.0)
>>> round(dx, 12), round(dy, 12)
(0.542119916771, 0.090353319462)
>>> print(f.source, end="")
def forward_backward(x, y):
    # forward: one line per node
    t1 = x * y
    t2 = t1 + x
    t3 = F_tanh_0(t2)
    (t3_d,) = L_tanh_0(t2, t3)
    # backward: adjoints in reverse topological order
    t3_bar = 1.0
    t2_bar = t3_bar * t3_d
    t1_bar = t2_bar
    x_bar = t2_bar
    x_bar += t1_bar * y
    y_bar = t1_bar * x
    return t3, (x_bar, y_bar)

The first call records the graph ``f`` builds from :class:`~chainrule.Value` inputs and turns
it into a Wengert list: one line per node forward (a temporary ``t<k>`` for every node,
numbers that do not depend on the inputs written as literals), then one line per edge
backward, ``parent_bar += node_bar * d node / d parent``, nodes visited in the reverse of
:func:`~chainrule.topological_order`, the order the dynamic engine uses (so the sums are
added in the same order and the results are the same floats). ``+ - * /`` and negation are
written as plain expressions; every other operation calls its node's op object
(``F_<op>`` forward, ``L_<op>`` local partials; the generated names are keyed on the op object,
never on its name, so a custom op named like a built-in keeps its own derivative), so the
compiled code is correct for every op with local partials, custom ones included.

Value-dependent control flow. Operations that branch inside (relu, abs, leaky_relu) are
fine: the branch is part of the op and is re-evaluated on every call. A Python ``if`` on a
number (``if x.data > 0``) is not: the graph itself may change with the inputs. While
tracing, every read of ``.data`` (or ``.item()``) of an input-dependent node by code outside
chainrule is recorded; a compiled function with such reads re-runs ``f`` on every call to
check that the graph is unchanged, and raises :class:`TraceChangedError` when it changed
(``retrace=True`` traces and compiles again instead). Functions without such reads run the
compiled code only.
"""

from __future__ import annotations

import builtins
import inspect
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from chainrule import ops
from chainrule.engine import Value, topological_order
from chainrule.grad_mode import enable_grad
from chainrule.ops import Op

__all__ = ["CompiledFunction", "TraceChangedError", "compile"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent)

# Forward and local-partial templates for the operations written inline ({a}, {b}: inputs,
# {o}: output, {g}: the node's adjoint). Shares match the dynamic engine's g * d exactly.
_INLINE: dict[Op, tuple[str, tuple[str, ...]]] = {
    ops.ADD: ("{a} + {b}", ("{g}", "{g}")),
    ops.SUB: ("{a} - {b}", ("{g}", "-{g}")),
    ops.MUL: ("{a} * {b}", ("{g} * {b}", "{g} * {a}")),
    ops.DIV: ("{a} / {b}", ("{g} * (1.0 / {b})", "{g} * (-{o} / {b})")),
    ops.NEG: ("-{a}", ("-{g}",)),
}


class TraceChangedError(RuntimeError):
    """The function builds a different graph for these inputs than the one compiled."""


def compile(f: Callable[..., Value], *, retrace: bool = False) -> CompiledFunction:
    """Compile ``f(*Values) -> Value`` into straight-line forward + backward Python.

    The result is called with floats and returns ``(f(*xs), (df/dx_0, df/dx_1, ...))``.
    It traces on the first call (and whenever the number of arguments changes).
    """
    return CompiledFunction(f, retrace=retrace)


class CompiledFunction:
    """``f`` traced once into generated code; see :func:`compile`. ``.source`` shows it."""

    def __init__(self, f: Callable[..., Value], *, retrace: bool = False) -> None:
        self.f = f
        self.retrace = retrace
        self._code: Callable[..., tuple[float, tuple[float, ...]]] | None = None
        self._source = ""
        self._signature: tuple[object, ...] = ()
        self._reads: list[str] = []
        self._arity = -1
        self.__doc__ = getattr(f, "__doc__", None)

    @property
    def source(self) -> str:
        """The generated Python source (trace first by calling the function once)."""
        if self._code is None:
            raise RuntimeError("nothing traced yet: call the compiled function once")
        return self._source

    @property
    def data_reads(self) -> list[str]:
        """Where ``f`` read a number of an input-dependent node while tracing (file:line)."""
        return list(self._reads)

    def __call__(self, *xs: float) -> tuple[float, tuple[float, ...]]:
        if self._code is None or len(xs) != self._arity:
            self._trace(xs)
        elif self._reads:
            self._check(xs)
        assert self._code is not None
        return self._code(*xs)

    def _check(self, xs: tuple[float, ...]) -> None:
        """Re-run ``f`` dynamically: the compiled code is only valid for the same graph."""
        root, leaves = _run(self.f, xs)
        if _signature(root, leaves) == self._signature:
            return
        if self.retrace:
            self._trace(xs)
            return
        raise TraceChangedError(
            f"{_name(self.f)} builds a different graph for inputs {xs!r} than the traced one: "
            f"its Python control flow depends on values it read at {', '.join(self._reads)}. "
            "Use an operation for the branch (relu, abs, leaky_relu, ...), or compile with "
            "retrace=True to trace again whenever the graph changes."
        )

    def _trace(self, xs: tuple[float, ...]) -> None:
        with _recording_reads() as reads:
            root, leaves = _run(self.f, xs)
        names = _input_names(self.f, len(xs))
        self._source, used = _generate(root, leaves, names)
        namespace = _namespace(used)
        exec(builtins.compile(self._source, f"<chainrule.compile {_name(self.f)}>", "exec"),
             namespace)  # fmt: skip
        self._code = namespace["forward_backward"]
        self._signature = _signature(root, leaves)
        self._reads = sorted(set(reads))
        self._arity = len(xs)


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__qualname__", None) or repr(f)


def _run(f: Callable[..., Value], xs: tuple[float, ...]) -> tuple[Value, list[Value]]:
    leaves = [Value(x) for x in xs]
    with enable_grad():
        root = f(*leaves)
    if not isinstance(root, Value):
        raise TypeError(f"compile needs f to return a Value, got {type(root).__name__}")
    return root, leaves


@contextmanager
def _recording_reads() -> Iterator[list[str]]:
    """Record reads of ``.data`` of input-dependent nodes made outside chainrule.

    Swaps the class's slot descriptor for a property for the duration of the trace (the
    engine's own reads are left out by the caller's file). Not thread-safe: do not build
    graphs in other threads while a function is being traced.
    """
    slot = Value.__dict__["data"]
    reads: list[str] = []

    def get(node: Value) -> float:
        value: float = slot.__get__(node, Value)
        if node.requires_grad:  # constants cannot change between calls
            caller: FrameType | None = sys._getframe(1)
            if caller is not None and caller.f_code.co_name == "item":
                caller = caller.f_back
            if caller is not None and not caller.f_code.co_filename.startswith(_PACKAGE_DIR):
                reads.append(f"{caller.f_code.co_filename}:{caller.f_lineno}")
        return value

    setattr(Value, "data", property(get, slot.__set__))  # noqa: B010
    try:
        yield reads
    finally:
        setattr(Value, "data", slot)  # noqa: B010


def _input_names(f: Callable[..., Any], n: int) -> list[str]:
    """Parameter names of ``f`` when they are plain and distinct, else x0, x1, ..."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) == n and len(set(names)) == n and all(_plain(x) for x in names):
        return names
    return [f"x{i}" for i in range(n)]


def _plain(name: str) -> bool:
    """A name that cannot clash with the generated ones (t<k>, *_bar, F_*, L_*)."""
    if not name.isidentifier() or name.endswith(("_bar", "_d", "_da", "_db")):
        return False
    return not (name[:2] in ("F_", "L_") or (name[0] == "t" and name[1:].isdigit()))


def _graph(root: Value) -> list[Value]:
    """Every node reachable from ``root`` (constants too), parents first, iteratively."""
    order: list[Value] = []
    seen = {root}
    stack = [(root, iter(root._prev))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                stack.append((parent, iter(parent._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _signature(root: Value, leaves: list[Value]) -> tuple[object, ...]:
    """The graph's shape: ops, wiring and constants, for comparing two traces."""
    index = {leaf: -1 - i for i, leaf in enumerate(leaves)}
    sig: list[object] = []
    for node in _graph(root):
        if node in index:
            continue
        index[node] = len(sig)
        if not node.requires_grad or node.grad_fn is None:
            sig.append(("const", node.data))
        else:
            sig.append((node.grad_fn, tuple(index[p] for p in node._prev)))
    return (index[root], *sig)


def _ident(op_name: str) -> str:
    clean = {"**": "pow_const", "+": "add", "-": "sub", "*": "mul", "/": "div"}.get(op_name)
    if clean is None:
        clean = "".join(c if c.isalnum() or c == "_" else "_" for c in op_name)
    return clean


def _literal(x: float) -> str:
    if math.isfinite(x):
        return repr(x)
    return f"float({str(x)!r})"


def _generate(root: Value, leaves: list[Value], names: list[str]) -> tuple[str, dict[str, Op]]:
    """The Wengert list of ``root``'s graph as the source of ``forward_backward``.

    Also returns the ops it calls by their generated identifier (one per op object).
    """
    for node in _graph(root):
        if node._hooks:
            raise ValueError("compile does not support hooks (register_hook) inside f")
    # A name (or literal) per node; constants and input-independent nodes are literals.
    name: dict[Value, str] = {leaf: n for leaf, n in zip(leaves, names)}
    inputs = set(leaves)
    forward: list[str] = []
    local: dict[Value, list[str]] = {}  # names of a node's local partials, if not inlined
    idents: dict[Op, str] = {}  # op object -> its identifier in the generated code
    for node in _graph(root):
        if node in name:
            continue
        op = node.grad_fn
        if not node.requires_grad or op is None:  # a constant, or a leaf made in f
            name[node] = _literal(node.data)
            continue
        if op.vjp is not None:
            raise ValueError(
                f"compile cannot compile op {op.name!r}: it has a hand-written backward "
                "(a custom Function or a checkpoint), not local partials"
            )
        t = name[node] = f"t{len(local) + 1}"
        args = [name[p] for p in node._prev]
        inline = _INLINE.get(op)
        if inline is not None and len(args) == len(inline[1]):
            a, b = [*args, ""][:2]
            forward.append(f"{t} = {inline[0].format(a=a, b=b)}")
            local[node] = []
        else:
            ident = idents.get(op) or idents.setdefault(op, f"{_ident(op.name)}_{len(idents)}")
            forward.append(f"{t} = F_{ident}({', '.join(args)})")
            ds = [f"{t}_d"] if len(args) == 1 else [f"{t}_d{i}" for i in range(len(args))]
            forward.append(f"({', '.join(ds)},) = L_{ident}({', '.join(args)}, {t})")
            local[node] = ds
    backward: list[str] = []
    assigned: set[Value] = set()
    differentiable = root in local or root in inputs
    if differentiable:
        order = topological_order(root)
        backward.append(f"{name[root]}_bar = 1.0")
        assigned.add(root)
        for node in reversed(order):
            if node.grad_fn is None:
                continue
            g = f"{name[node]}_bar"
            shares = None if local[node] else _INLINE[node.grad_fn][1]
            for i, parent in enumerate(node._prev):
                if parent not in local and parent not in inputs:
                    continue  # a constant: no adjoint
                if shares is not None:
                    a, b = [*(name[p] for p in node._prev), ""][:2]
                    share = shares[i].format(g=g, a=a, b=b, o=name[node])
                else:
                    share = f"{g} * {local[node][i]}"
                target = f"{name[parent]}_bar"
                backward.append(f"{target} {'+=' if parent in assigned else '='} {share}")
                assigned.add(parent)
    grads = [f"{name[leaf]}_bar" if leaf in assigned else "0.0" for leaf in leaves]
    out = name[root]
    lines = [
        f"def forward_backward({', '.join(names)}):",
        "    # forward: one line per node",
        *(f"    {line}" for line in forward),
        "    # backward: adjoints in reverse topological order",
        *(f"    {line}" for line in backward),
        f"    return {out}, ({', '.join(grads)}{',' if len(grads) == 1 else ''})",
    ]
    return "\n".join(lines) + "\n", {ident: op for op, ident in idents.items()}


def _namespace(used: dict[str, Op]) -> dict[str, Any]:
    ns: dict[str, Any] = {"__builtins__": {"float": float}}
    for ident, op in used.items():
        ns[f"F_{ident}"] = op.forward
        ns[f"L_{ident}"] = op.local
    return ns
