"""The backward pass as code: trace a scalar function once, run straight-line Python after.

>>> from chainrule.compiler import compile  # also chainrule.compile
>>> f = compile(lambda x, y: (x * y + x).tanh())
>>> value, (dx, dy) = f(0.5, 2.0)
>>> round(dx, 12), round(dy, 12)
(0.542119916771, 0.090353319462)
>>> print(f.source, end="")  # the third tuple: gradients of closed-over parameters
def forward_backward(x, y):
    # forward
    t1 = x * y + x
    t2 = F0(t1)
    # backward: the engine's reverse pass, one node at a time
    t1_bar = 0.0 if (t2_d0 := L0(t1, t2)[0]) is MASKED else 1.0 * t2_d0
    x_bar = t1_bar + t1_bar * y
    y_bar = t1_bar * x
    return t2, (x_bar, y_bar), ()

The first call runs ``f`` on :class:`~chainrule.Value` inputs and records every node it makes
(those made under :func:`~chainrule.no_grad` too). The record becomes one function:

* forward: each node's operation on floats, nested into one expression while a result is
  used once (``x * y + x`` is two nodes), so a layer's neuron is one line;
* backward: written by the engine's own reverse pass, :func:`~chainrule.engine.adjoints`, run
  once on the traced graph. At each node the pass visits, in its order, the code for the node's
  adjoint is written (the sum of the shares ``adjoint * d node / d parent`` written for it so
  far), then the code for its shares to its parents that require grad. The nodes reached, the
  edges, and the order in which each sum adds its shares are the pass's, so the results are the
  floats ``backward()`` gives. A partial known only when the code runs (relu's, abs's, clamp's)
  may be :data:`~chainrule.ops.MASKED`: the code then adds 0.0, as the pass does, so an inf or
  nan adjoint stays out (``relu(-1).sqrt()`` gives 0.0, not nan).

``+``, ``-``, ``*`` and negation are written as arithmetic; every other operation calls its op
object (``F<k>`` its forward, ``L<k>`` its local partials; the names are numbers, never the op's
name, so any op of the table and any :func:`~chainrule.custom.custom_op` compiles). ``MASKED``
is :data:`chainrule.ops.MASKED` itself.

What is re-read on every call, so that no number is stale:

* the arguments (floats), and the ``.data`` of every leaf ``Value`` that ``f`` reaches but did
  not make: a model's parameters (their gradients are accumulated into ``.grad`` on every call,
  as ``backward()`` does) and constants made outside ``f``;
* numbers computed from the inputs without a gradient (``detach()``, ``no_grad()`` blocks):
  they are computed again, as forward-only code.

Plain Python numbers ``f`` reads (a data set held in a list of floats) are constants of the
trace: pass data that changes as arguments, or as Values made outside ``f`` (with
``requires_grad=False``) whose ``.data`` you update.

The pass runs on the trace's numbers (the first call's), which it does not write anywhere:
under :func:`~chainrule.detect_anomaly` it checks them, as ``backward()`` would, so a trace whose
gradient holds an inf or nan raises :class:`~chainrule.anomaly.AnomalyError`; later calls run
the generated code, which checks nothing.

A Python ``if`` on a number (``if x.data > 0``) cannot be compiled: the graph itself may change
with the inputs. Every read of ``.data`` (or ``.item()``) of an input-dependent node by code
outside chainrule is recorded while tracing; such a function re-runs ``f`` on every call to
check that the graph is unchanged and raises :class:`TraceChangedError` when it changed
(``retrace=True`` traces and compiles again instead).

Two forms of call:

* ``cf = compile(f)`` with ``f(x, y, ...)``: ``cf(1.0, 2.0)`` returns
  ``(f(x, y), (df/dx, df/dy))``;
* ``step = compile(lambda: loss_fn(model, X, y))``: ``step()`` returns the loss (a
  :class:`CompiledLoss`, read it with ``.data`` or ``.item()``) and adds every parameter's
  gradient to its ``.grad`` as ``loss.backward()`` would, so an optimizer works unchanged.
  ``f`` may return ``(loss, outputs)``, ``outputs`` a list of Values: ``step()`` then returns
  ``(loss, [floats])``.
"""

from __future__ import annotations

import builtins
import gc
import inspect
import keyword
import math
import operator
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from types import FrameType
from typing import Any

from chainrule import engine, ops
from chainrule.engine import Value
from chainrule.grad_mode import enable_grad
from chainrule.ops import HandWrittenOp, Op

__all__ = ["CompiledFunction", "CompiledLoss", "TraceChangedError", "compile"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent)

# Precedence of a generated expression, to parenthesize only where Python needs it.
_ATOM, _UNARY, _MUL, _ADD, _COND = 4, 3, 2, 1, 0
# Deepest expression written on one line; deeper ones are split (Python's compiler recurses).
_MAX_DEPTH = 100
# Generated identifiers; an argument name of f that could be one of them is not used.
_RESERVED = re.compile(r"t\d+(_d\d+)?|[FLp]\d+|float|MASKED|.*_bar")

Expr = tuple[str, int, int]  # (source text, precedence, nesting depth)


class TraceChangedError(RuntimeError):
    """The function builds a different graph for these inputs than the one compiled."""


class CompiledLoss(Value):
    """The number a compiled training step returns: its gradients are already accumulated."""

    __slots__ = ()

    def backward(self, gradient: Value | float = 1.0, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:  # fmt: skip
        raise RuntimeError(
            "this loss comes from a compiled step, which already added every parameter's "
            "gradient to its .grad: call optimizer.step() without loss.backward()"
        )


def compile(f: Callable[..., Any], *, retrace: bool = False) -> CompiledFunction:
    """Compile ``f(*Values) -> Value`` into straight-line forward + backward Python.

    Called with floats, the result returns ``(f(*xs), (df/dx_0, df/dx_1, ...))``; called with
    no arguments (``f`` takes none), it returns the loss and accumulates the ``.grad`` of the
    parameters ``f`` uses. It traces on the first call (and when the number of arguments
    changes).
    """
    return CompiledFunction(f, retrace=retrace)


class CompiledFunction:
    """``f`` traced once into generated code; see :func:`compile`. ``.source`` shows it."""

    def __init__(self, f: Callable[..., Any], *, retrace: bool = False) -> None:
        if not callable(f):
            raise TypeError(f"compile needs a function, got {type(f).__name__} {f!r}")
        self.f = f
        self.retrace = retrace
        self._code: Callable[..., Any] | None = None
        self._source = ""
        self._signature: tuple[object, ...] = ()
        self._reads: list[str] = []
        self._arity = -1
        self._externals: list[Value] = []  # leaves f reaches but did not make, read per call
        self._learned: list[Value] = []  # those of them that receive a gradient
        self._aux: Any = None  # how f's extra outputs are shaped (None: f returns a Value)
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

    @property
    def parameters(self) -> list[Value]:
        """The leaves ``f`` closes over whose ``.grad`` each call accumulates."""
        return list(self._learned)

    def __call__(self, *xs: float) -> Any:
        for i, x in enumerate(xs):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise TypeError(
                    f"a compiled function takes numbers, got {type(x).__name__} {x!r} "
                    f"for argument {i}"
                )
        if self._code is None or len(xs) != self._arity:
            self._trace(xs)
        elif self._reads:
            self._check(xs)
        assert self._code is not None
        value, grads, learned_grads, *aux = self._code(*xs, *[p.data for p in self._externals])
        for p, g in zip(self._learned, learned_grads):
            p.grad = p.grad + g
        if self._arity:
            return (value, grads, *aux) if aux else (value, grads)
        loss = CompiledLoss(value, requires_grad=False)
        if self._aux is None:
            return loss
        return loss, (list(aux) if self._aux == "list" else aux[0])

    def _check(self, xs: tuple[float, ...]) -> None:
        """Re-run ``f`` dynamically: the compiled code is only valid for the same graph."""
        with _tracing() as tape:
            _run(self.f, xs, tape)
        if _Program(tape).signature == self._signature:
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
        with _collector_paused():
            with _tracing() as tape:
                self._aux = _run(self.f, xs, tape)
            program = _Program(tape)
            self._source, used = program.generate(_input_names(self.f, len(xs)))
        namespace: dict[str, Any] = {"__builtins__": {"float": float}, **used}
        exec(builtins.compile(self._source, f"<chainrule.compile {_name(self.f)}>", "exec"),
             namespace)  # fmt: skip
        self._code = namespace["forward_backward"]
        self._signature = program.signature if tape.reads else ()
        self._reads = sorted(set(tape.reads))
        self._externals = program.externals
        self._learned = [p for p in program.externals if p.requires_grad]
        self._arity = len(xs)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a trace is built and turned into code: they hold no
    cycles, only many objects, and the collector would walk them all again and again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__qualname__", None) or repr(f)


class _Tape:
    """What one run of ``f`` did: every node made, every detach, every leaf created."""

    def __init__(self) -> None:
        self.made: dict[Value, tuple[Value, ...]] = {}  # node -> its parents, in making order
        self.op_of: dict[Value, Op] = {}
        self.detached: dict[Value, Value] = {}  # x.detach() -> x
        self.created: set[Value] = set()  # leaves made by Value(...) during the run
        self.reads: list[str] = []
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []  # the root, then f's extra outputs


@contextmanager
def _tracing() -> Iterator[_Tape]:
    """Record, while ``f`` runs, the nodes ``apply`` makes, ``detach`` calls, new leaves and
    reads of ``.data`` of input-dependent nodes made outside chainrule.

    Swaps class attributes of ``Value`` for the duration (and sets the engine's trace hook):
    not thread-safe, so do not build graphs in other threads while a function is traced.
    """
    tape = _Tape()
    slot = inspect.getattr_static(Value, "data")  # the property Value inherits
    init, detach = Value.__init__, Value.detach
    made, op_of, created, detached = tape.made, tape.op_of, tape.created, tape.detached
    reads = tape.reads
    inside: set[object] = set()  # code objects of chainrule seen reading .data

    def get(node: Value) -> float:
        value: float = slot.__get__(node, Value)
        if node.requires_grad:  # constants cannot change between calls
            caller: FrameType | None = sys._getframe(1)  # never None one level down
            assert caller is not None
            if caller.f_code in inside:
                return value
            if caller.f_code.co_name == "item":
                caller = caller.f_back
            if caller is not None:
                if not caller.f_code.co_filename.startswith(_PACKAGE_DIR):
                    reads.append(f"{caller.f_code.co_filename}:{caller.f_lineno}")
                elif caller.f_code.co_name != "item":
                    inside.add(caller.f_code)
        return value

    def hook(out: Value, op: Op, parents: tuple[Value, ...]) -> None:
        made[out] = parents
        op_of[out] = op

    def new_init(self: Value, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        created.add(self)

    def new_detach(self: Value) -> Value:
        out = detach(self)
        detached[out] = self
        return out

    setattr(Value, "data", property(get, slot.__set__))  # noqa: B010
    Value.__init__ = new_init  # type: ignore[method-assign]
    Value.detach = new_detach  # type: ignore[method-assign,assignment]
    engine.NODE_HOOKS.append(hook)
    try:
        yield tape
    finally:
        engine.NODE_HOOKS.remove(hook)
        delattr(Value, "data")  # the property Value inherits shows again
        Value.__init__ = init  # type: ignore[method-assign]
        Value.detach = detach  # type: ignore[method-assign]


def _run(f: Callable[..., Any], xs: tuple[float, ...], tape: _Tape) -> Any:
    """Run ``f`` on fresh leaves; return how its extra outputs are shaped (None if none)."""
    tape.inputs = leaves = [Value(x) for x in xs]
    with enable_grad():
        result = f(*leaves)
    aux: Any = None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Value):
        result, extra = result
        aux = "list" if isinstance(extra, list) else "value"
        extras = extra if isinstance(extra, list) else [extra]
        for e in extras:
            if not isinstance(e, Value):
                raise TypeError(
                    f"compile: f's second output must be a Value or a list of Values, "
                    f"got {type(e).__name__} {e!r}"
                )
        tape.outputs = [result, *extras]
    elif isinstance(result, Value):
        tape.outputs = [result]
    else:
        raise TypeError(
            f"compile needs f to return a Value (or a Value and a list of Values), "
            f"got {type(result).__name__}"
        )
    return aux


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
    """A name that cannot clash with a generated one (t<k>, t<k>_d<i>, F<k>, L<k>, p<k>, *_bar)."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and _RESERVED.fullmatch(name) is None
    )


def _literal(x: float) -> Expr:
    if math.isfinite(x):
        text = repr(x)
        return text, _UNARY if text.startswith("-") else _ATOM, 0
    return f"float({str(x)!r})", _ATOM, 0


def _binary(left: Expr, symbol: str, right: Expr, prec: int) -> Expr:
    lt = left[0] if left[1] >= prec else f"({left[0]})"
    rt = right[0] if right[1] > prec else f"({right[0]})"
    return f"{lt} {symbol} {rt}", prec, 1 + max(left[2], right[2])


def _neg(x: Expr) -> Expr:
    return ("-" + (x[0] if x[1] >= _UNARY else f"({x[0]})")), _UNARY, 1 + x[2]


def _atom(name: str) -> Expr:
    return name, _ATOM, 0


# The rows written as Python arithmetic: those whose forward *is* the operator (total on floats,
# IEEE results, no exception), so the expression gives the row's float. Every other row, `/`
# included (its forward has its own zero-division rule), calls its op object.
_ARITH = {
    op: symbol
    for op, symbol, fn in (
        (ops.ADD, "+", operator.add),
        (ops.SUB, "-", operator.sub),
        (ops.MUL, "*", operator.mul),
    )
    if op.forward is fn
}
_PREC = {"+": _ADD, "-": _ADD, "*": _MUL}


class _Program:
    """A traced run of ``f`` as a program: inputs, leaves read per call, literals, operations.

    Nodes are taken in the order ``f`` made them (parents always come first), keeping those
    the outputs depend on. A node *varies* when it depends on an argument or on a leaf made
    outside ``f`` (read on every call); the others are written as literals.
    """

    def __init__(self, tape: _Tape) -> None:
        self.tape = tape
        self.root = tape.outputs[0]
        self.inputs = {leaf: i for i, leaf in enumerate(tape.inputs)}
        made, detached = tape.made, tape.detached
        self.parents: dict[Value, tuple[Value, ...]] = made
        if detached:
            self.parents = {n: tuple(self.source_of(p) for p in ps) for n, ps in made.items()}
        self.outputs = [self.source_of(o) for o in tape.outputs]
        live = set(self.outputs)
        parents = self.parents
        for node in reversed(made):
            if node in live:
                live.update(parents[node])
        self.order = [node for node in made if node in live]  # the nodes to compute, in order
        self.externals: list[Value] = []
        self.varies: set[Value] = set(self.inputs)
        self.leaf_kind: dict[Value, str] = {}
        varies, externals = self.varies, self.externals
        for node in self.order:
            for p in parents[node]:
                if p not in made and p not in self.leaf_kind:
                    self._classify(p)
            if not varies.isdisjoint(parents[node]):
                varies.add(node)
            op = tape.op_of[node]
            if isinstance(op, HandWrittenOp) and (node in varies or node.requires_grad):
                raise ValueError(
                    f"compile cannot compile the node made by {op!r}: it has a hand-written "
                    "backward (a custom Function or a checkpoint) whose saved numbers belong "
                    "to one call; use custom_op (a derivative rule) instead of a Function, and "
                    "call the segment without checkpoint() (compiled code keeps no graph)"
                )
            if node._hooks:
                raise ValueError(
                    f"compile does not support hooks (register_hook), found on {node!r}"
                )
        for o in self.outputs:
            if o not in made and o not in self.leaf_kind:
                self._classify(o)
        del externals

    def source_of(self, node: Value) -> Value:
        """``node`` with detach() seen through: a detached copy is its source's number."""
        detached = self.tape.detached
        while node in detached:
            node = detached[node]
        return node

    def _classify(self, leaf: Value) -> None:
        """A node ``f`` did not make: an argument, a literal, or a leaf read on every call."""
        if leaf._hooks:
            raise ValueError(f"compile does not support hooks (register_hook), found on {leaf!r}")
        if leaf in self.inputs:
            kind = "input"
        elif leaf.grad_fn is not None:
            raise ValueError(
                f"compile cannot compile {leaf!r} (made by {leaf.grad_fn!r}): f uses a node "
                "computed before f was called; compute it inside f, from its arguments and "
                "leaf parameters"
            )
        elif leaf in self.tape.created:
            kind = "literal"
        else:
            kind = "external"
            self.externals.append(leaf)
            self.varies.add(leaf)
        self.leaf_kind[leaf] = kind

    @property
    def signature(self) -> tuple[object, ...]:
        """The program's shape: ops, wiring, constants and the leaves read, to compare traces."""
        index: dict[Value, int] = {}
        sig: list[object] = []
        for leaf, kind in self.leaf_kind.items():
            index[leaf] = len(sig)
            if kind == "input":
                sig.append(("input", self.inputs[leaf]))
            elif kind == "literal":
                sig.append(("const", leaf.data))
            else:
                sig.append(("leaf", id(leaf)))
        for node in self.order:
            index[node] = len(sig)
            if node not in self.varies:
                sig.append(("const", node.data))
            else:
                sig.append((self.tape.op_of[node], tuple(index[p] for p in self.parents[node])))
        return (tuple(index[o] for o in self.outputs), *sig)

    def generate(self, names: list[str]) -> tuple[str, dict[str, Any]]:
        """The source of ``forward_backward(*inputs, *externals)`` and the objects it calls."""
        varies, parents, source_of = self.varies, self.parents, self.source_of
        op_of = self.tape.op_of
        root = self.root
        # How often each node's value is used forward, and which values the backward may read
        # (the forward keeps those in variables): the code written below for a node with an op
        # reads its parents (of a product, only the other factor) and, in L<k>(...), the node.
        uses = Counter(chain.from_iterable(parents[node] for node in self.order))
        needed: set[Value] = set(self.outputs)
        inline = tuple(op for op in (ops.ADD, ops.SUB, ops.NEG) if op in _SHARES)
        for node in self.order:
            op, prev = node.grad_fn, node._prev
            if op is None or op in inline:
                continue
            if op is ops.MUL and op in _SHARES and len(prev) == 2:
                if prev[0].requires_grad:
                    needed.add(source_of(prev[1]))
                if prev[1].requires_grad:
                    needed.add(source_of(prev[0]))
            else:
                needed.update(source_of(p) for p in prev)
                needed.add(node)

        expr: dict[Value, Expr] = {}
        used: dict[str, Any] = {"MASKED": ops.MASKED}
        op_ids: dict[Op, int] = {}
        lines: list[str] = []
        count = [0]

        def temp() -> str:
            count[0] += 1
            return f"t{count[0]}"

        def ident(op: Op) -> int:
            k = op_ids.get(op)
            if k is None:
                k = op_ids[op] = len(op_ids)
                used[f"F{k}"], used[f"L{k}"] = op.forward, op.local
            return k

        args = list(names)
        for k, leaf in enumerate(self.externals):
            expr[leaf] = _atom(f"p{k}")
            args.append(f"p{k}")
        for leaf, i in self.inputs.items():
            expr[leaf] = _atom(names[i])
        for leaf, kind in self.leaf_kind.items():
            if kind == "literal":
                expr[leaf] = _literal(leaf.data)
        lines.append(f"def forward_backward({', '.join(args)}):")
        lines.append("    # forward")
        arith, prec = _ARITH, _PREC
        neg_op = ops.NEG if ops.NEG in _SHARES else None
        for node in self.order:
            if node not in varies:
                expr[node] = _literal(node.data)
                continue
            op = op_of[node]
            ins = [expr[p] for p in parents[node]]
            symbol = arith.get(op)
            if symbol is not None and len(ins) == 2:
                e = _binary(ins[0], symbol, ins[1], prec[symbol])
            elif op is neg_op and len(ins) == 1:
                e = _neg(ins[0])
            else:
                e = (f"F{ident(op)}({', '.join([x[0] for x in ins])})", _ATOM,
                     1 + max([x[2] for x in ins], default=0))  # fmt: skip
            if e[2] > _MAX_DEPTH or node in needed or uses[node] > 1:
                t = temp()
                lines.append(f"    {t} = {e[0]}")
                e = (t, _ATOM, 0)
            expr[node] = e
        for copy in self.tape.detached:  # backward reads a detached copy as its source
            seen = expr.get(source_of(copy))
            if seen is not None:
                expr[copy] = seen

        # Backward: the engine's own reverse pass walks the traced graph (on the trace's
        # numbers, which are not what is written) and calls emit at each node it visits, in its
        # order. emit writes the node's adjoint as the sum of the shares written for it so far,
        # then the node's shares for its parents that require grad, the edges the pass follows
        # (every one: whether a partial is MASKED is known only when the code runs). The nodes,
        # the edges and the order of every sum are the pass's, so the floats are backward()'s.
        lines.append("    # backward: the engine's reverse pass, one node at a time")
        pending: dict[Value, list[Expr]] = {root: [_literal(1.0)]}  # each adjoint's shares
        add_op = ops.ADD if ops.ADD in _ARITH else None
        mul_op = ops.MUL if ops.MUL in _ARITH else None

        def emit(node: Value, _adjoint: Any, _shares: Any, _adjoints: dict[Value, Any]) -> None:
            terms = pending.pop(node)
            g = terms[0] if len(terms) == 1 else _sum(terms, lines, temp)
            op, prev = node.grad_fn, node._prev
            want = [p.requires_grad for p in prev]
            own = expr[node][0]
            if (g[1] != _ATOM and sum(want) > 1) or g[2] >= _MAX_DEPTH:
                name = f"{own}_bar" if own.isidentifier() else f"{temp()}_bar"
                lines.append(f"    {name} = {g[0]}")
                g = (name, _ATOM, 0)
            if op is add_op and len(prev) == 2:  # the two most common rows, written out
                parts = [g, g]
            elif op is mul_op and len(prev) == 2:
                a, b = expr[prev[0]], expr[prev[1]]
                lt = g[0] if g[1] >= _MUL else f"({g[0]})"
                depth = g[2] + 1
                parts = [
                    (f"{lt} * {b[0] if b[1] > _MUL else f'({b[0]})'}", _MUL,
                     max(depth, b[2] + 1)) if want[0] else g,
                    (f"{lt} * {a[0] if a[1] > _MUL else f'({a[0]})'}", _MUL,
                     max(depth, a[2] + 1)) if want[1] else g,
                ]  # fmt: skip
            else:
                assert op is not None  # the pass visits only nodes with an op
                rules = _SHARES.get(op)
                vals = [expr[p] for p in prev]
                if rules is not None and len(prev) == len(rules):
                    out = expr[node] if node in needed else _literal(0.0)
                    parts = [rule(g, *vals, out) if ok else g for rule, ok in zip(rules, want)]
                else:  # partials known only at run time, where any of them may be MASKED
                    call = f"L{ident(op)}({', '.join([v[0] for v in [*vals, expr[node]]])})"
                    base = own if own.isidentifier() else temp()
                    if len(prev) == 1:
                        parts = [_masked_share(g, f"{base}_d0", f"{call}[0]")]
                    else:
                        ds = [f"{base}_d{i}" for i in range(len(prev))]
                        lines.append(f"    ({', '.join(ds)},) = {call}")
                        parts = [_masked_share(g, d) for d in ds]
            for p, ok, share in zip(prev, want, parts):
                if ok:
                    found = pending.get(p)
                    if found is None:
                        pending[p] = [share]
                    else:
                        found.append(share)

        engine.adjoints({root: 1.0}, hooks=False, visit=emit)

        grads: list[str] = []
        for leaf, name in zip(self.tape.inputs, names):
            grads.append(_leaf_grad(pending.get(leaf), f"{name}_bar", lines, temp))
        learned = [
            _leaf_grad(pending.get(leaf), f"p{k}_bar", lines, temp)
            for k, leaf in enumerate(self.externals)
            if leaf.requires_grad
        ]
        outs = [expr[o][0] for o in self.outputs]
        lines.append(f"    return {outs[0]}, {_tuple(grads)}, {_tuple(learned)}"
                     + "".join(f", {o}" for o in outs[1:]))  # fmt: skip
        return "\n".join(lines) + "\n", used


def _tuple(items: list[str]) -> str:
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"


def _leaf_grad(terms: list[Expr] | None, name: str, lines: list[str],
               temp: Callable[[], str]) -> str:  # fmt: skip
    """A leaf's adjoint, the sum of its shares once the pass is over (0.0 if it got none)."""
    if terms is None:
        return "0.0"
    g = terms[0] if len(terms) == 1 else _sum(terms, lines, temp)
    if g[1] == _ATOM:
        return g[0]
    lines.append(f"    {name} = {g[0]}")
    return name


def _masked_share(g: Expr, d: str, partial: str = "") -> Expr:
    """The engine's share ``g * d`` for a partial ``d`` known only at run time: 0.0 where
    ``d is MASKED``, as the pass adds it (so an inf or nan ``g`` stays out). ``partial`` is
    the call that gives ``d`` when no line has put it in a variable yet."""
    test = f"({d} := {partial})" if partial else d
    product = _binary(g, "*", _atom(d), _MUL)
    return f"0.0 if {test} is MASKED else {product[0]}", _COND, 1 + product[2]


def _sum(terms: list[Expr], lines: list[str], temp: Callable[[], str]) -> Expr:
    """``((s0 + s1) + s2) + ...``: the dynamic engine's order; split when too deep."""
    total = terms[0]
    for term in terms[1:]:
        if max(total[2], term[2]) >= _MAX_DEPTH:
            t = temp()
            lines.append(f"    {t} = {total[0]}")
            total = _atom(t)
        total = _binary(total, "+", term, _ADD)
    return total


# The shares g * d node / d parent of the arithmetic rows, written as the dynamic engine
# computes them (g * 1.0 is g and g * -1.0 is -g for every float, so those stay short).
_SHARE_RULES: dict[Op, tuple[Callable[..., Expr], ...]] = {
    ops.ADD: (lambda g, a, b, o: g, lambda g, a, b, o: g),
    ops.SUB: (lambda g, a, b, o: g, lambda g, a, b, o: _neg(g)),
    ops.NEG: (lambda g, a, o: _neg(g),),
    ops.MUL: (
        lambda g, a, b, o: _binary(g, "*", b, _MUL),
        lambda g, a, b, o: _binary(g, "*", a, _MUL),
    ),
}
_SHARES: dict[Op, tuple[Callable[..., Expr], ...]] = {
    op: rules
    for op, rules in _SHARE_RULES.items()
    if op in _ARITH or (op is ops.NEG and op.forward is operator.neg)
}
