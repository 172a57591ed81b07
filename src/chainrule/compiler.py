"""The backward pass as code: trace a scalar function, run straight-line Python after.

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
    t1_bar = -0.0 if (t2_d0 := L0(t1, t2)[0]) is MASKED else 1.0 * t2_d0
    x_bar = t1_bar + t1_bar * y
    y_bar = t1_bar * x
    return t2, (0.0 + x_bar, 0.0 + y_bar), ()

The first call runs ``f`` on :class:`~chainrule.Value` inputs and records, through the engine's
hooks (:data:`~chainrule.engine.NODE_HOOKS` and :data:`~chainrule.engine.READ_HOOKS`), every
node it makes (those made under :func:`~chainrule.no_grad` too) and every number it reads. The
record becomes one function:

* forward: each node's operation on floats, nested into one expression while a result is
  used once (``x * y + x`` is two nodes), so a layer's neuron is one line;
* backward: written by the engine's own reverse pass, :func:`~chainrule.engine.adjoints`, run
  once on the traced graph. At each node the pass visits, in its order, the code for the node's
  adjoint is written (the sum of the shares ``adjoint * d node / d parent`` written for it so
  far), then the code for its shares to its parents that require grad. The nodes reached, the
  edges, and the order in which each sum adds its shares are the pass's, so the results are the
  floats ``backward()`` gives. A partial known only when the code runs (relu's, abs's, clamp's)
  may be :data:`~chainrule.ops.MASKED`: the code then adds -0.0, which changes no sum.

``+``, ``-``, ``*`` and negation are written as arithmetic (one table, ``_ARITH``, holds each
one's forward and shares); every other operation calls its op object (``F<k>`` its forward,
``L<k>`` its local partials; the names are numbers, never the op's name, so any op of the
table and any :func:`~chainrule.custom.custom_op` compiles). ``MASKED`` is
:data:`chainrule.ops.MASKED` itself.

What is read on every call, so that no number is stale:

* the arguments, converted as ``Value()`` converts them (ints, numpy numbers, ``np.float32``);
* the ``.data`` of every leaf ``Value`` that ``f`` reaches but did not make (a model's
  parameters, constants made outside ``f``), with its ``requires_grad`` flag and its hooks;
* numbers computed from the inputs without a gradient (``detach()``, ``no_grad()`` blocks):
  they are computed again, as forward-only code.

Plain Python numbers ``f`` reads (a data set held in a list of floats) are constants of the
trace: pass data that changes as arguments, or as Values made outside ``f`` whose ``.data`` you
update.

What is guarded: every read of a number that depends on the inputs, through any door (``x > 0``,
``if x:``, ``max(x, y)``, ``x == y``, ``.data``, ``.item()``, ``f"{x:.3f}"``, a derivative
rule's branch when ``f`` differentiates inside), is recorded with what it decided:

* a comparison or truth test becomes a guard in the generated code, checked in its place in
  the forward: the same outcome runs on, another stops the code before it writes anything;
* a number handed to Python (``.data``, ``.item()``, a format, a branch of relu, abs,
  maximum, minimum, clamp, sign or ``%`` inside a ``grad`` or ``backward(create_graph=True)``
  that ``f`` calls) could be used anywhere, so ``f`` runs again on every call and the graph it
  builds must be one the cache holds;
* a leaf's ``requires_grad`` flag that changed since the trace selects another trace.

When no trace of the cache fits, ``f`` is traced again for the new path, up to ``cache_limit``
traces (8 by default, as torch.compile's); past it the call raises :class:`TraceChangedError`
naming the line that read the number. A failed call changes nothing. Retracing, not refusing
(JAX's jit refuses Python control flow on traced values), because ``compile`` drops into a
training loop whose code was written for the engine: a branch that settles on one or two paths
compiles, and a branch that keeps changing is named rather than silently frozen.

What runs on the engine instead, with the same numbers as ``backward()``: a call under
:func:`~chainrule.detect_anomaly` (which checks every step); a call while a parameter has hooks
(they run as in ``backward()``); and a call whose gradients came out nan, where the generated
code cannot tell a nan the engine also gives from an inf partial on a path the engine skips
(relu below 0 passes nothing at all).

Two forms of call:

* ``cf = compile(f)`` with ``f(x, y, ...)``: ``cf(1.0, 2.0)`` returns
  ``(f(x, y), (df/dx, df/dy))``;
* ``step = compile(lambda: loss_fn(model, X, y))``: ``step()`` returns the loss (a
  :class:`CompiledLoss`, read it with ``.data`` or ``.item()``) and adds every parameter's
  gradient to its ``.grad`` as ``loss.backward()`` would, so an optimizer works unchanged.
  ``f`` may return ``(loss, outputs)``, ``outputs`` a list of Values: ``step()`` then returns
  ``(loss, [floats])``.

Tracing installs hooks that the engine calls in every thread: nodes other threads make meanwhile
are recorded but feed no output, and their reads are ignored.
"""

from __future__ import annotations

import builtins
import inspect
import keyword
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chainrule import anomaly, engine, ops
from chainrule.custom import HandWrittenOp
from chainrule.engine import Value
from chainrule.grad_mode import enable_grad
from chainrule.ops import Op
from chainrule.tracing import Tape, TracedGraph, collector_paused, name_of, outputs_of, recording
from chainrule.value_base import as_float

__all__ = ["CompiledFunction", "CompiledLoss", "TraceChangedError", "compile"]

# Precedence of a generated expression, to parenthesize only where Python needs it.
_ATOM, _UNARY, _MUL, _ADD, _COND = 4, 3, 2, 1, 0
# Deepest expression written on one line; deeper ones are split (Python's compiler recurses).
_MAX_DEPTH = 100
# Generated identifiers; an argument name of f that could be one of them is not used.
_RESERVED = re.compile(r"t\d+(_d\d+)?|[FLp]\d+|float|MASKED|.*_bar")
# The comparisons a guard re-checks, by the name the read hooks give them.
_COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "bool": "!="}

# The compiled code reads these fields itself: the engine's own reads, which pass no door.
_DATA = operator.attrgetter("_data")
_FLAG = operator.attrgetter("requires_grad")
_HOOKS = operator.attrgetter("_hooks")

Expr = tuple[str, int, int]  # (source text, precedence, nesting depth)


class TraceChangedError(RuntimeError):
    """The function took a path that none of its compiled traces covers, past the cache limit."""


class CompiledLoss(Value):
    """The number a compiled training step returns: its gradients are already accumulated."""

    __slots__ = ()

    def backward(self, gradient: Value | float = 1.0, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:  # fmt: skip
        raise RuntimeError(
            "this loss comes from a compiled step, which already added every parameter's "
            "gradient to its .grad: call optimizer.step() without loss.backward()"
        )


def compile(f: Callable[..., Any], *, cache_limit: int = 8) -> CompiledFunction:
    """Compile ``f(*Values) -> Value`` into straight-line forward + backward Python.

    Called with numbers, the result returns ``(f(*xs), (df/dx_0, df/dx_1, ...))``; called with
    no arguments (``f`` takes none), it returns the loss and accumulates the ``.grad`` of the
    parameters ``f`` uses. It traces on the first call and whenever no trace it holds fits the
    call (another path through ``f``, another number of arguments, a parameter's changed
    ``requires_grad``), keeping at most ``cache_limit`` traces.
    """
    return CompiledFunction(f, cache_limit=cache_limit)


@dataclass
class _Trace:
    """One trace of ``f`` as code, and what a call must match to run it."""

    code: Callable[..., Any]
    source: str
    arity: int
    externals: list[Value]  # leaves f reaches but did not make, read per call
    flags: tuple[bool, ...]  # their requires_grad at the trace
    learned: list[Value]  # those that receive a gradient
    aux: Any  # how f's extra outputs are shaped (None: f returns a Value)
    guards: list[str]  # where f read the number each guard of the code re-checks
    numbers: list[str]  # where f read numbers it could use anywhere: f re-runs per call
    signature: tuple[object, ...] | None  # the graph a re-run must build (None: no re-run)


class CompiledFunction:
    """``f`` traced into generated code; see :func:`compile`. ``.source`` shows it."""

    def __init__(self, f: Callable[..., Any], *, cache_limit: int = 8) -> None:
        if not callable(f):
            raise TypeError(f"compile needs a function, got {type(f).__name__} {f!r}")
        if isinstance(cache_limit, bool) or not isinstance(cache_limit, int) or cache_limit < 1:
            raise ValueError(f"compile needs cache_limit >= 1 (an int), got {cache_limit!r}")
        self.f = f
        self.cache_limit = cache_limit
        self._cache: list[_Trace] = []  # the most recently used first
        self.__doc__ = getattr(f, "__doc__", None)

    @property
    def source(self) -> str:
        """The generated Python source of the trace used last."""
        if not self._cache:
            raise RuntimeError("nothing traced yet: call the compiled function once")
        return self._cache[0].source

    @property
    def data_reads(self) -> list[str]:
        """Where ``f`` read a number it could use anywhere (file:line), in the trace used last:
        such a function runs ``f`` again on every call to check its graph."""
        return sorted(set(self._cache[0].numbers)) if self._cache else []

    @property
    def guards(self) -> list[str]:
        """Where ``f`` read the outcome of each comparison the trace used last re-checks."""
        return list(self._cache[0].guards) if self._cache else []

    @property
    def traces(self) -> int:
        """How many traces the cache holds (at most ``cache_limit``)."""
        return len(self._cache)

    @property
    def parameters(self) -> list[Value]:
        """The leaves ``f`` closes over whose ``.grad`` each call accumulates."""
        return list(self._cache[0].learned) if self._cache else []

    def __call__(self, *xs: object) -> Any:
        args = _arguments(xs)
        found = None if anomaly.STATE.active else self._compiled(args)
        if not isinstance(found, tuple):  # the engine answers this call: see the docstring
            return self._by_engine(args, found)
        trace, (value, grads, learned_grads, *extras) = found
        engine.store(dict(zip(trace.learned, learned_grads)))  # as backward() stores
        return _result(args, value, grads, extras, trace.aux)

    def _compiled(self, xs: tuple[float, ...]) -> tuple[_Trace, tuple[Any, ...]] | Tape | None:
        """The trace that fits this call and what its code returned; else the engine answers
        (given the run of ``f`` at ``xs`` made here, if one was)."""
        tape: Tape | None = None  # f run again, for the traces whose graph must be checked
        missed: list[str] = []  # where the reads that decided otherwise were made
        for trace in self._cache:
            if trace.arity != len(xs):
                continue
            ext = trace.externals
            if ext and tuple(map(_FLAG, ext)) != trace.flags:
                continue
            if ext and any(map(_HOOKS, ext)):
                return tape  # hooks run as backward() runs them
            if trace.signature is not None:
                tape = tape or _record(self.f, xs)
                if _Program(tape).signature != trace.signature:
                    missed += trace.numbers
                    continue
            out = trace.code(*xs, *map(_DATA, ext))
            if type(out) is int:  # guard number out failed: another path
                missed.append(trace.guards[out])
                continue
            if trace is not self._cache[0]:
                self._cache.remove(trace)
                self._cache.insert(0, trace)
            return (trace, out) if _no_nan(out) else tape
        if len(self._cache) >= self.cache_limit:
            raise self._changed(xs, missed)
        tape = tape or _record(self.f, xs)
        trace = self._trace(xs, tape)
        self._cache.insert(0, trace)
        if any(map(_HOOKS, trace.externals)):
            return tape
        out = trace.code(*xs, *map(_DATA, trace.externals))
        if type(out) is int:
            raise RuntimeError(f"{name_of(self.f)} decided differently on one input, twice")
        return (trace, out) if _no_nan(out) else tape

    def _changed(self, xs: tuple[float, ...], missed: list[str]) -> TraceChangedError:
        shown = ", ".join(map(repr, xs[:4])) + (", ..." if len(xs) > 4 else "")
        where = ", ".join(sorted(set(missed))) or "no read: another number of arguments"
        return TraceChangedError(
            f"{name_of(self.f)} takes a path for inputs ({shown}) that none of its "
            f"{len(self._cache)} traces covers (cache_limit={self.cache_limit}): the number "
            f"read at {where} decided otherwise. Use an operation for the branch (relu, abs, "
            "maximum, clamp, ...), or compile with a larger cache_limit."
        )

    def _trace(self, xs: tuple[float, ...], tape: Tape) -> _Trace:
        with collector_paused():
            program = _Program(tape)
            source, used = program.generate(_input_names(self.f, len(xs)))
        namespace: dict[str, Any] = {"__builtins__": {"float": float}, **used}
        exec(builtins.compile(source, f"<chainrule.compile {name_of(self.f)}>", "exec"),
             namespace)  # fmt: skip
        ext = program.externals
        return _Trace(
            code=namespace["forward_backward"],
            source=source,
            arity=len(xs),
            externals=ext,
            flags=tuple(map(_FLAG, ext)),
            learned=[p for p in ext if p.requires_grad],
            aux=tape.aux,
            guards=[g.where for g in program.guards],
            numbers=program.numbers,
            signature=program.signature if program.numbers else None,
        )

    def _by_engine(self, xs: tuple[float, ...], run: Tape | None) -> Any:
        """This call on the engine: ``f`` on Values (unless ``run`` did it), then
        ``backward()``."""
        if run is None:
            run = Tape(inputs=[Value(x) for x in xs])
            with enable_grad():
                run.outputs, run.aux = outputs_of(self.f(*run.inputs), "compile")
        root = run.outputs[0]
        if root.requires_grad:
            root.backward()
        grads = tuple(leaf._grad for leaf in run.inputs)
        return _result(xs, root._data, grads, [o._data for o in run.outputs[1:]], run.aux)


def _result(xs: tuple[float, ...], value: float, grads: tuple[float, ...], extras: list[float],
            aux: Any) -> Any:  # fmt: skip
    """What a call returns: ``(value, grads, *extras)`` with arguments, else the loss."""
    if xs:
        return (value, grads, *extras) if extras else (value, grads)
    loss = CompiledLoss(value, requires_grad=False)
    if aux is None:
        return loss
    return loss, (list(extras) if aux == "list" else extras[0])


def _no_nan(out: tuple[Any, ...]) -> bool:
    """No gradient is nan: else an inf partial may have met a path the engine passes nothing
    along (the code adds -0.0 for it, and 0.0 * inf is nan), so the engine must decide."""
    total = sum(out[1]) + sum(out[2])
    return bool(total == total)


def _arguments(xs: tuple[object, ...]) -> tuple[float, ...]:
    """The arguments as floats, converted as ``Value()`` converts them."""
    if all(type(x) is float for x in xs):
        return xs  # type: ignore[return-value]
    floats = []
    for i, x in enumerate(xs):
        if isinstance(x, Value):
            raise TypeError(
                f"a compiled function takes numbers, got a Value for argument {i} ({x!r}): "
                "pass its number, x.data"
            )
        floats.append(as_float(x, f"argument {i} of the compiled function"))
    return tuple(floats)


def _record(f: Callable[..., Any], xs: tuple[float, ...]) -> Tape:
    """Run ``f`` on fresh leaves, watching the engine's hooks."""
    with collector_paused(), recording([Value(x) for x in xs]) as tape, enable_grad():
        tape.outputs, tape.aux = outputs_of(f(*tape.inputs), "compile")
    return tape


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


def _infix(symbol: str, prec: int) -> Callable[[Expr, Expr], Expr]:
    """The writer of ``left <symbol> right``, parenthesized only where Python needs it."""

    def write(left: Expr, right: Expr) -> Expr:
        lt = left[0] if left[1] >= prec else f"({left[0]})"
        rt = right[0] if right[1] > prec else f"({right[0]})"
        return f"{lt} {symbol} {rt}", prec, 1 + max(left[2], right[2])

    return write


_PLUS, _MINUS, _TIMES = _infix("+", _ADD), _infix("-", _ADD), _infix("*", _MUL)


def _neg(x: Expr) -> Expr:
    return ("-" + (x[0] if x[1] >= _UNARY else f"({x[0]})")), _UNARY, 1 + x[2]


def _atom(name: str) -> Expr:
    return name, _ATOM, 0


@dataclass(frozen=True)
class _Arith:
    """An op written as Python arithmetic: its forward expression and, beside it, each share
    ``g * d out / d input_i``: ``shares[i](g, input_j)`` for ``j = reads[i]``, or
    ``shares[i](g)`` where ``reads[i]`` is None; a share of None is ``g`` itself."""

    forward: Callable[..., Expr]
    shares: tuple[Callable[..., Expr] | None, ...]
    reads: tuple[int | None, ...]


# The rows written as Python arithmetic: those whose forward *is* the operator (total on floats,
# IEEE results, no exception), so the expression gives the row's float, and whose shares are
# written as the engine computes them (g * 1.0 is g and g * -1.0 is -g for every float). Every
# other row, `/` included (its forward has its own zero-division rule), calls its op object.
_ARITH: dict[Op, _Arith] = {
    op: row
    for op, fn, row in (
        (ops.ADD, operator.add, _Arith(_PLUS, (None, None), (None, None))),
        (ops.SUB, operator.sub, _Arith(_MINUS, (None, _neg), (None, None))),
        (ops.MUL, operator.mul, _Arith(_TIMES, (_TIMES, _TIMES), (1, 0))),
        (ops.NEG, operator.neg, _Arith(_neg, (_neg,), (None,))),
    )
    if op.forward is fn
}


@dataclass
class _Guard:
    """A comparison ``f`` made, re-checked by the code where ``f`` made it."""

    at: int  # placed after the first ``at`` nodes f made
    operands: tuple[Value | float, Value | float]
    symbol: str
    outcome: bool
    where: str


class _Program(TracedGraph):
    """A traced run of ``f`` as a program: inputs, leaves read per call, literals, operations,
    guards.

    Nodes are taken in the order ``f`` made them (parents always come first), keeping those
    the outputs and the guards depend on (see :class:`~chainrule.tracing.TracedGraph`); the
    nodes that do not vary are written as literals.
    """

    # A repr is for people (a printout, an error message): compile neither guards it nor runs
    # f again on every call for it (batched, which checks every read over the batch, does).
    IGNORED_READS = frozenset({"repr"})
    CANNOT = "compile cannot compile"

    def __init__(self, tape: Tape) -> None:
        super().__init__(tape)
        self.guards, self.numbers = self._reads()
        self.select([o for g in self.guards for o in g.operands if isinstance(o, Value)])
        self._check_nodes()

    def _reads(self) -> tuple[list[_Guard], list[str]]:
        """The comparisons to re-check, and where numbers were read that could go anywhere."""
        guards: list[_Guard] = []
        numbers: list[str] = []
        for r in self.reads:
            symbol = _COMPARE.get(r.how)
            if symbol is None:
                numbers.append(r.where)
                continue
            other = 0.0 if r.how == "bool" else r.other
            operands = tuple(
                self.source_of(x) if isinstance(x, Value) else float(x) for x in (r.node, other)
            )
            guards.append(_Guard(r.at, operands, symbol, bool(r.result), r.where))  # type: ignore[arg-type]
        return guards, numbers

    def check_leaf(self, leaf: Value, kind: str) -> None:
        """A parameter's hooks run: a call that finds them runs on the engine. A hook
        registered inside ``f`` would not (the compiled code does not run ``f`` again)."""
        if leaf._hooks and kind != "external":
            raise ValueError(_HOOKS_INSIDE.format(node=leaf))

    def _check_nodes(self) -> None:
        """Refuse the nodes compiled code cannot honour."""
        for node in self.order:
            op = self.tape.op_of[node]
            if isinstance(op, HandWrittenOp) and (node in self.varies or node.requires_grad):
                raise ValueError(
                    f"compile cannot compile the node made by {op!r}: it has a hand-written "
                    "backward (a custom Function or a checkpoint) whose saved numbers belong "
                    "to one call; use custom_op (a derivative rule) instead of a Function, and "
                    "call the segment without checkpoint() (compiled code keeps no graph)"
                )
            if node._hooks:
                raise ValueError(_HOOKS_INSIDE.format(node=node))

    @property
    def signature(self) -> tuple[object, ...]:
        """The program's shape: ops, wiring, constants (to the bit) and the leaves read, with
        their requires_grad flags, to compare the graphs of two runs."""
        index: dict[Value, int] = {}
        sig: list[object] = []
        for leaf, kind in self.leaf_kind.items():
            index[leaf] = len(sig)
            if kind == "input":
                sig.append(("input", self.inputs[leaf]))
            elif kind == "literal":
                sig.append(("const", leaf._data.hex()))
            else:
                sig.append(("leaf", id(leaf), leaf.requires_grad))
        for node in self.order:
            index[node] = len(sig)
            if node not in self.varies:
                sig.append(("const", node._data.hex()))
            else:
                sig.append((self.tape.op_of[node], tuple(index[p] for p in self.parents[node])))
        return (tuple(index[o] for o in self.outputs), *sig)

    def needed(self) -> set[Value]:
        """The values the backward reads, which the forward keeps in variables: of a node
        written as arithmetic, what its shares read (of a product, the other factor); of any
        other, its parents and itself (``L<k>(parents, node)``). Guards read their operands."""
        needed: set[Value] = set(self.outputs)
        detached = self.tape.detached
        source_of = self.source_of if detached else _same
        for node in self.order:
            op, prev = node.grad_fn, node._prev
            if op is None:
                continue
            row = _ARITH.get(op)
            if row is None or len(prev) != len(row.reads):
                needed.update(map(source_of, prev))
                needed.add(node)
                continue
            for parent, j in zip(prev, row.reads):
                if j is not None and parent.requires_grad:
                    needed.add(source_of(prev[j]))
        for g in self.guards:
            needed.update(o for o in g.operands if isinstance(o, Value))
        return needed

    def generate(self, names: list[str]) -> tuple[str, dict[str, Any]]:
        """The source of ``forward_backward(*inputs, *externals)`` and the objects it calls.

        A program whose numbers ``f`` read (checked by running ``f`` again) has no guards."""
        writer = _Writer(self, names)
        writer.forward(self.guards if not self.numbers else [])
        writer.backward()
        writer.finish(names)
        return "\n".join(writer.lines) + "\n", writer.used


_HOOKS_INSIDE = (
    "compile runs hooks registered on parameters (leaves made outside f), as backward() "
    "does, but not hooks registered inside f, found on {node!r}: the compiled code does not "
    "run f again to register them; register them outside f, or call backward() instead"
)


class _Writer:
    """The generated function's lines, written from a :class:`_Program`."""

    def __init__(self, program: _Program, names: list[str]) -> None:
        self.program = program
        self.lines: list[str] = []
        self.expr: dict[Value, Expr] = {}
        self.used: dict[str, Any] = {"MASKED": ops.MASKED}
        self.op_ids: dict[Op, int] = {}
        self.count = 0
        self.needed = program.needed()
        self.uses = program.tape.uses
        self.pending: dict[Value, list[Expr]] = {}  # each adjoint's shares, written so far
        args = list(names)
        for k, leaf in enumerate(program.externals):
            self.expr[leaf] = _atom(f"p{k}")
            args.append(f"p{k}")
        for leaf, i in program.inputs.items():
            self.expr[leaf] = _atom(names[i])
        for leaf, kind in program.leaf_kind.items():
            if kind == "literal":
                self.expr[leaf] = _literal(leaf._data)
        self.lines.append(f"def forward_backward({', '.join(args)}):")

    def temp(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def ident(self, op: Op) -> int:
        """The number ``k`` of ``op``'s ``F<k>`` (forward) and ``L<k>`` (local partials)."""
        k = self.op_ids.get(op)
        if k is None:
            k = self.op_ids[op] = len(self.op_ids)
            self.used[f"F{k}"], self.used[f"L{k}"] = op.forward, op.local
        return k

    def forward(self, guards: list[_Guard]) -> None:
        """Each node's value, in the order f made them; each guard where f compared."""
        program, expr, lines = self.program, self.expr, self.lines
        live, varies, needed, uses = program.live, program.varies, self.needed, self.uses
        op_of, parents, arith = program.tape.op_of, program.parents, _ARITH
        lines.append("    # forward")
        waiting = sorted(range(len(guards)), key=lambda k: guards[k].at, reverse=True)
        for position, node in enumerate(program.tape.made):
            while waiting and guards[waiting[-1]].at <= position:
                self.guard(waiting.pop(), guards)
            if node not in live:
                continue
            if node not in varies:
                expr[node] = _literal(node._data)
                continue
            op, ins = op_of[node], [expr[p] for p in parents[node]]
            row = arith.get(op)
            e = row.forward(*ins) if row and len(ins) == len(row.reads) else self.call(op, ins)
            if e[2] > _MAX_DEPTH or node in needed or uses[node] > 1:
                t = self.temp()
                lines.append(f"    {t} = {e[0]}")
                e = (t, _ATOM, 0)
            expr[node] = e
        while waiting:
            self.guard(waiting.pop(), guards)
        for copy in program.tape.detached:  # backward reads a detached copy as its source
            seen = expr.get(program.source_of(copy))
            if seen is not None:
                expr[copy] = seen

    def call(self, op: Op, ins: list[Expr]) -> Expr:
        """``F<k>(inputs)``: ``op``'s forward, for the rows not written as arithmetic."""
        return (f"F{self.ident(op)}({', '.join([x[0] for x in ins])})", _ATOM,
                1 + max([x[2] for x in ins], default=0))  # fmt: skip

    def guard(self, k: int, guards: list[_Guard]) -> None:
        """The line that stops the code, returning ``k``, where guard ``k`` decides otherwise."""
        g = guards[k]
        a, b = (self.expr[o] if isinstance(o, Value) else _literal(o) for o in g.operands)
        test = f"{a[0]} {g.symbol} {b[0]}"
        self.lines.append(f"    if {f'not ({test})' if g.outcome else test}: return {k}")

    def backward(self) -> None:
        """The engine's own reverse pass walks the traced graph (on the trace's numbers, which
        are not what is written) and calls :meth:`visit` at each node it visits, in its
        order: the nodes, the edges and the order of every sum are the pass's."""
        self.lines.append("    # backward: the engine's reverse pass, one node at a time")
        root = self.program.outputs[0]
        self.pending[root] = [_literal(1.0)]
        engine.adjoints({root: 1.0}, hooks=False, visit=self.visit)

    def visit(self, node: Value, _adjoint: Any, _shares: Any, _adjoints: Any) -> None:
        """Write ``node``'s adjoint (the sum of the shares written for it so far), then its
        shares ``g * d node / d parent`` for its parents that require grad (from ``_ARITH``,
        else from ``L<k>``): every edge the pass follows, since whether a partial is MASKED
        is known only when the code runs."""
        pending, expr = self.pending, self.expr
        terms = pending.pop(node)
        g = terms[0] if len(terms) == 1 else _sum(terms, self.lines, self.temp)
        op, prev = node.grad_fn, node._prev
        want = [p.requires_grad for p in prev]
        own = expr[node][0]
        if (g[1] != _ATOM and sum(want) > 1) or g[2] >= _MAX_DEPTH:
            name = f"{own}_bar" if own.isidentifier() else f"{self.temp()}_bar"
            self.lines.append(f"    {name} = {g[0]}")
            g = (name, _ATOM, 0)
        row = _ARITH.get(op)  # type: ignore[arg-type]
        if row is not None and len(prev) == len(row.reads):
            for p, ok, rule, k in zip(prev, want, row.shares, row.reads):
                if ok:
                    share = g if rule is None else rule(g) if k is None else rule(g, expr[prev[k]])
                    pending.setdefault(p, []).append(share)
        else:
            for p, ok, share in zip(
                prev, want, self.masked_shares(node, g, [expr[p] for p in prev])
            ):
                if ok:
                    pending.setdefault(p, []).append(share)

    def masked_shares(self, node: Value, g: Expr, vals: list[Expr]) -> list[Expr]:
        """The shares of a node whose partials ``L<k>`` gives when the code runs."""
        assert node.grad_fn is not None  # the pass visits only nodes with an op
        own = self.expr[node][0]
        call = f"L{self.ident(node.grad_fn)}({', '.join([v[0] for v in [*vals, self.expr[node]]])})"
        base = own if own.isidentifier() else self.temp()
        if len(vals) == 1:
            return [_masked_share(g, f"{base}_d0", f"{call}[0]")]
        ds = [f"{base}_d{i}" for i in range(len(vals))]
        self.lines.append(f"    ({', '.join(ds)},) = {call}")
        return [_masked_share(g, d) for d in ds]

    def finish(self, names: list[str]) -> None:
        """The return line: the value, the arguments' gradients as a fresh leaf's ``.grad``
        holds them (0.0 + adjoint), the parameters' adjoints, the extra outputs."""
        program, pending, lines, temp = self.program, self.pending, self.lines, self.temp
        grads = []
        for leaf, name in zip(program.tape.inputs, names):
            g = _leaf_grad(pending.get(leaf), f"{name}_bar", lines, temp)
            grads.append(g if g == "0.0" else f"0.0 + {g}")
        learned = [
            _leaf_grad(pending.get(leaf), f"p{k}_bar", lines, temp)
            for k, leaf in enumerate(program.externals)
            if leaf.requires_grad
        ]
        outs = [self.expr[o][0] for o in program.outputs]
        lines.append(f"    return {outs[0]}, {_tuple(grads)}, {_tuple(learned)}"
                     + "".join(f", {o}" for o in outs[1:]))  # fmt: skip


def _same(node: Value) -> Value:
    return node


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
    """The engine's share ``g * d`` for a partial ``d`` known only at run time. Where ``d is
    MASKED`` the pass adds nothing (so an inf or nan ``g`` stays out); the code adds -0.0,
    which leaves every sum as it was (x + -0.0 is x, for 0.0 too). ``partial`` is the call
    that gives ``d`` when no line has put it in a variable yet."""
    test = f"({d} := {partial})" if partial else d
    product = _TIMES(g, _atom(d))
    return f"-0.0 if {test} is MASKED else {product[0]}", _COND, 1 + product[2]


def _sum(terms: list[Expr], lines: list[str], temp: Callable[[], str]) -> Expr:
    """``((s0 + s1) + s2) + ...``: the dynamic engine's order; split when too deep."""
    total = terms[0]
    for term in terms[1:]:
        if max(total[2], term[2]) >= _MAX_DEPTH:
            t = temp()
            lines.append(f"    {t} = {total[0]}")
            total = _atom(t)
        total = _PLUS(total, term)
    return total
