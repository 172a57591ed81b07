"""Batched programs: a per-example function traced once, run over a whole batch on numpy.

>>> import numpy as np
>>> from chainrule import batched, losses
>>> from chainrule.nn import MLP
>>> model = MLP(2, [4, 1], seed=0)
>>> step = batched(lambda x, y: losses.mse(model(x), y))
>>> X, Y = np.array([[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]]), np.array([1.0, 0.0, -1.0])
>>> per_example = step(X, Y)          # one loss per example, shape (3,)
>>> per_example.shape
(3,)

``step(X, Y)`` also adds the mean (``reduction="mean"``) or the sum (``"sum"``) over the
batch of every parameter's gradient to its ``.grad``, so ``optimizer.step()`` follows as in
the per-example training loop. ``f`` is the function one would write for one example, as for
:func:`~chainrule.compile`: its arguments are one example's numbers (a Value, or nested lists
of Values for an example that is an array); the Values it reaches but did not make are the
shared parameters, read on every call.

``in_axes`` says, as ``jax.vmap`` does, which arguments are batched (``0``: along their first
axis; any int: along that axis) and which are the same for every example (``None``).
``argnums`` asks for per-example gradients with respect to those arguments: the call then
returns ``(outputs, grads)``. ``f`` may return ``(loss, extras)`` with extras a Value or a
list of Values (a model's logits): the call then returns ``(losses, extras)`` too, the extras
as an array of shape ``(batch,)`` or ``(batch, k)``.

How the program is made. The first call runs ``f`` on the first example's numbers and records
every node ``apply`` makes (:data:`chainrule.engine.NODE_HOOKS`). The record becomes one
Python function over arrays:

* forward: each node's operation on whole arrays, from the op's row in
  :data:`chainrule.array_ops.ARRAY_FORMS` (``+``, ``-``, ``*`` and negation as arithmetic);
* backward: written by the engine's own reverse pass, :func:`~chainrule.engine.adjoints`, run on
  the traced graph with a ``visit`` callback, node by node in its order, so each per-example
  adjoint is the sum of the same shares as ``backward()``'s. A parameter's share is summed over
  the batch where it arises (``g @ x`` for a weight's ``g * x``);
* with ``fuse=True`` (the default) a layer of neurons ``b_j + sum_i w_ji x_i`` over the same
  inputs (as :class:`~chainrule.nn.Neuron` writes them) becomes one matrix product, forward
  and backward: only the order of the sums differs from the per-node program.

Python control flow on a number is guarded. Every read of an input-dependent number while
tracing (``.data``, ``.item()``, ``bool``, a comparison, a format; the door
:data:`chainrule.engine.READ_HOOKS`) is evaluated again over the whole batch on every call.
Examples that disagree with the traced one are split off and run by the program of their own
branch (traced on the first of them), so one program never runs one example's branch for all.
A read that gives more than 16 outcomes over a batch raises :class:`BranchError` naming the
line.

Numbers: float64 throughout. A domain error names the example (``log is undefined at x=-1.0
(needs x > 0), in example 3 of the batch``); overflow is inf; numpy's warnings stay inside.
"""

from __future__ import annotations

import gc
import operator
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from chainrule import engine, ops
from chainrule.array_ops import at_example, form_of, share
from chainrule.engine import Value
from chainrule.grad_mode import enable_grad
from chainrule.ops import MASKED, HandWrittenOp, Op

__all__ = ["BatchedFunction", "BranchError", "batched"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent)
_ATOM, _UNARY, _MUL, _ADD = 4, 3, 2, 1  # precedence, to parenthesize only where Python needs
_MAX_DEPTH = 60  # deepest expression on one line (Python's compiler recurses)


Axes = int | Sequence[int | None] | None  # in_axes: one entry per argument, or one for all


class BranchError(ValueError):
    """Examples of one batch take different branches of ``f``'s Python control flow."""


def batched(f: Callable[..., Any], in_axes: Axes = 0, *, argnums: int | Sequence[int] = (),
            reduction: str = "mean", fuse: bool = True) -> BatchedFunction:  # fmt: skip
    """``f(*one_example) -> Value`` as one array program over a batch of examples.

    ``in_axes`` (one entry per argument, or one for all): the axis an argument is batched
    along, or None for an argument shared by every example. Each call returns the per-example
    outputs and adds each parameter's gradient, averaged (``reduction="mean"``) or summed
    (``"sum"``) over the batch, to its ``.grad``. ``argnums``: arguments whose per-example
    gradients the call returns too.
    """
    return BatchedFunction(f, in_axes, argnums=argnums, reduction=reduction, fuse=fuse)


class _Read(NamedTuple):
    """One read of a node's number while tracing: ``how`` (``"data"``, ``"bool"``, ``"<"``,
    ...), the other operand of a comparison, what the read gave, and the user's line."""

    node: Value
    how: str
    other: Any
    result: Any
    where: str


class _Variant(NamedTuple):
    """One traced branch of ``f``: its program and the leaves the program reads."""

    code: Callable[..., Any]
    source: str
    externals: list[Value]  # leaves f reaches but did not make, read on every call
    learned: list[Value]  # those of them that receive a gradient
    aux: Any  # how f's extra outputs are shaped (None: f returns a Value)
    fused: bool  # whether it computes layers, into arrays kept from call to call


_MAX_BRANCHES = 16  # traces one call may make before it calls the branching hopeless


class BatchedFunction:
    """``f`` traced into an array program; see :func:`batched`. ``.source`` shows it."""

    def __init__(self, f: Callable[..., Any], in_axes: Axes = 0, *,
                 argnums: int | Sequence[int] = (), reduction: str = "mean",
                 fuse: bool = True) -> None:  # fmt: skip
        if not callable(f):
            raise TypeError(f"batched needs a function, got {type(f).__name__} {f!r}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.f = f
        self.in_axes = in_axes
        self.argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        self.reduction = reduction
        self.fuse = fuse
        self._variants: list[_Variant] = []  # one per branch of f seen, newest last
        self._key: tuple[Any, ...] = ()
        self._spare: list[_Buffers] = []  # the layers' arrays of the last call, to reuse
        self.__doc__ = getattr(f, "__doc__", None)

    @property
    def source(self) -> str:
        """The generated program (of the latest branch traced: see :attr:`sources`)."""
        return self.sources[-1]

    @property
    def sources(self) -> list[str]:
        """The program of each branch of ``f`` traced so far, oldest first."""
        if not self._variants:
            raise RuntimeError("nothing traced yet: call the batched function once")
        return [v.source for v in self._variants]

    @property
    def parameters(self) -> list[Value]:
        """The leaves ``f`` closes over whose ``.grad`` each call accumulates."""
        return list({p: None for v in self._variants for p in v.learned})

    def __call__(self, *args: Any) -> Any:
        arrays, axes, n = self._arrays(args)
        key = (tuple(a.shape[1:] if b else a.shape for a, b in zip(arrays, axes)), axes)
        if key != self._key:
            self._variants, self._key = [], key
        self._traced = 0
        parts = self._evaluate(arrays, axes, np.arange(n), 0)
        totals: dict[Value, float] = {}
        for _, k, results in parts:
            for p, total in zip(self._variants[k].learned, results[3].tolist()):
                totals[p] = totals.get(p, 0.0) + total
        scale = 1.0 / n if self.reduction == "mean" else 1.0
        for p, total in totals.items():
            p.grad = p.grad + total * scale
        return self._shaped(parts, arrays, axes, n)

    def _evaluate(self, arrays: list[Any], axes: tuple[bool, ...], idx: Any, first: int,
                  why: _Guard | None = None) -> list[tuple[Any, int, Any]]:  # fmt: skip
        """``(examples, branch, results)`` for the examples ``idx``, by the branches from
        ``first`` on: where a guard (``why``) finds that some examples leave a branch, those
        go on to the next branch, traced on the first of them when there is none."""
        whole = len(idx) == len(arrays[axes.index(True)])
        sub = arrays if whole else [a[idx] if b else a for a, b in zip(arrays, axes)]
        k = first
        while True:
            if k == len(self._variants) and why is not None and self._traced >= _MAX_BRANCHES:
                raise why.error(idx)
            try:
                if k == len(self._variants):
                    self._branch(sub, axes)
                return [(idx, k, self._run(self._variants[k], sub, axes, len(idx)))]
            except (ValueError, ArithmeticError) as error:  # name the example in the whole batch
                if whole or not hasattr(error, "example"):
                    raise
                raise at_example(error, int(idx[error.example])) from None
            except _Split as split:
                same = np.broadcast_to(split.same, idx.shape)
                if not same.any():
                    k, why = k + 1, split.guard
                    continue
                return [*self._evaluate(arrays, axes, idx[same], k, why),
                        *self._evaluate(arrays, axes, idx[~same], k + 1, split.guard)]  # fmt: skip

    def _branch(self, arrays: list[Any], axes: tuple[bool, ...]) -> None:
        """Trace ``f`` on the first of ``arrays``' examples: one more branch."""
        self._traced += 1
        variant = self._trace(arrays, axes)
        if self._variants and variant.aux != self._variants[0].aux:
            raise TypeError(
                f"{_name(self.f)} returns {variant.aux or 'a Value'} for some examples and "
                f"{self._variants[0].aux or 'a Value'} for others: one shape of output, please"
            )
        self._variants.append(variant)

    def _run(self, variant: _Variant, arrays: list[Any], axes: tuple[bool, ...], n: int) -> Any:
        leaves: list[Any] = []
        for a, is_batched in zip(arrays, axes):
            if is_batched:
                leaves.extend(np.ascontiguousarray(a.reshape(n, -1).T))  # one row per number
            else:
                leaves.extend(float(v) for v in a.ravel())
        params = np.array([p.data for p in variant.externals])
        if not variant.fused:
            with np.errstate(all="ignore"):  # overflow is inf, 0 * inf is nan: IEEE, as the rows
                return variant.code(n, *leaves, params)
        spare = self._spare
        buffers = spare.pop() if spare and spare[-1].n == n else _Buffers(n)
        with np.errstate(all="ignore"):
            results = variant.code(n, *leaves, params, buffers)
        self._spare = [buffers]  # results never point into them: _shaped copies what it returns
        return results

    def _shaped(self, parts: list[tuple[Any, int, Any]], arrays: list[Any],
                axes: tuple[bool, ...], n: int) -> Any:  # fmt: skip
        """The call's results as arrays, one row per example, each from its branch."""
        kind = self._variants[0].aux
        columns: list[Any] = []  # the outputs, then the inputs' gradients, then the extras
        for idx, _, (out, aux, grads, _) in parts:
            values = [out, *aux] if kind == "rows" else [out, *grads, *aux]
            if not columns:
                columns = [np.empty(n) for _ in values]
            for column, value in zip(columns, values):
                column[idx] = value
        if kind == "rows":
            return np.stack(columns, axis=-1)
        results: list[Any] = [columns[0]]
        rest = iter(columns[1:])
        if self.argnums:
            per_arg = []
            for i, (a, is_batched) in enumerate(zip(arrays, axes)):
                shape = a.shape[1:] if is_batched else a.shape
                if i in self.argnums:
                    cols = [next(rest) for _ in range(int(np.prod(shape)))]
                    per_arg.append(np.stack(cols, axis=-1).reshape((n, *shape)))
            results.append(tuple(per_arg) if len(per_arg) > 1 else per_arg[0])
        if kind is not None:
            extras = list(rest)
            results.append(np.stack(extras, axis=-1) if kind == "list" else extras[0])
        return results[0] if len(results) == 1 else tuple(results)

    def _arrays(self, args: tuple[Any, ...]) -> tuple[list[Any], tuple[bool, ...], int]:
        """The arguments as float64 arrays, batch axis first, and the batch size."""
        axes = self.in_axes
        axes_list = list(axes) if isinstance(axes, (list, tuple)) else [axes] * len(args)
        if len(axes_list) != len(args):
            raise TypeError(f"in_axes has {len(axes_list)} entries for {len(args)} arguments")
        for i in self.argnums:
            if not 0 <= i < len(args):
                raise ValueError(f"argnums names argument {i}, but f got {len(args)} arguments")
        arrays: list[Any] = []
        sizes: set[int] = set()
        for i, (arg, axis) in enumerate(zip(args, axes_list)):
            a = np.asarray(arg)
            if a.dtype.kind not in "iuf":
                raise TypeError(
                    f"batched takes arrays of real numbers, got {a.dtype} for argument {i}"
                )
            a = a.astype(np.float64)
            if axis is not None:
                if (
                    isinstance(axis, bool)
                    or not isinstance(axis, int)
                    or not -a.ndim <= axis < a.ndim
                ):
                    raise ValueError(
                        f"in_axes[{i}] = {axis!r} is no axis of argument {i} (shape {a.shape})"
                    )
                a = np.moveaxis(a, axis, 0)
                sizes.add(a.shape[0])
            arrays.append(a)
        if not sizes:
            raise ValueError("batched needs at least one batched argument (in_axes all None)")
        if len(sizes) > 1:
            raise ValueError(f"batched arguments disagree on the batch size: {sorted(sizes)}")
        n = sizes.pop()
        if n == 0:
            raise ValueError("the batch is empty: batched needs at least one example")
        return arrays, tuple(axis is not None for axis in axes_list), n

    def _trace(self, arrays: list[Any], axes: tuple[bool, ...]) -> _Variant:
        inputs: list[Value] = []
        examples = []
        for i, (a, is_batched) in enumerate(zip(arrays, axes)):
            first = a[0] if is_batched else a
            leaves = [Value(float(v), requires_grad=i in self.argnums) for v in first.ravel()]
            inputs.extend(leaves)
            examples.append(_nest(leaves, first.shape))
        batched_inputs = {leaf for leaf, b in zip(inputs, _flags(arrays, axes)) if b}
        was_enabled = gc.isenabled()
        gc.disable()  # a trace holds many objects and no cycles: the collector would only walk
        try:
            with _tracing(inputs) as tape:
                aux = _run(self.f, examples, tape)
            if aux == "rows" and self.argnums:
                raise TypeError("argnums needs f to return one Value (a loss), got a list")
            program = _Program(tape, inputs, batched_inputs, backward=aux != "rows", fuse=self.fuse)
            source, namespace = program.generate(self.f)
        finally:
            if was_enabled:
                gc.enable()
        exec(compile(source, f"<chainrule.batched {_name(self.f)}>", "exec"), namespace)
        learned = list(program.learned)
        fused = bool(program.layers)
        return _Variant(namespace["program"], source, program.externals, learned, aux, fused)


def _flags(arrays: list[Any], axes: tuple[bool, ...]) -> Iterator[bool]:
    """For each number of one example, in order: is it batched?"""
    for a, is_batched in zip(arrays, axes):
        size = int(np.prod(a.shape[1:] if is_batched else a.shape))
        yield from [is_batched] * size


def _nest(leaves: list[Value], shape: tuple[int, ...]) -> Any:
    """One example's leaves shaped as its numbers: a Value, a list, a list of lists, ..."""
    if not shape:
        return leaves[0]
    size = len(leaves) // shape[0] if shape[0] else 0
    return [_nest(leaves[i * size : (i + 1) * size], shape[1:]) for i in range(shape[0])]


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__qualname__", None) or repr(f)


class _Tape:
    """What one run of ``f`` did: every node made, every detach, every leaf created, every
    read of an input-dependent number."""

    def __init__(self, inputs: list[Value]) -> None:
        self.made: dict[Value, tuple[Value, ...]] = {}  # node -> its parents, in making order
        self.op_of: dict[Value, Op] = {}
        self.detached: dict[Value, Value] = {}  # x.detach() -> x
        self.created: set[Value] = set()  # leaves made by Value(...) during the run
        self.varying: set[Value] = set(inputs)  # nodes whose number depends on the inputs
        self.reads: list[_Read] = []
        self.outputs: list[Value] = []  # the root, then f's extra outputs

    def varies(self, x: object) -> bool:
        """Whether ``x`` is a node whose number can differ between examples or calls: one
        computed from the inputs, or a leaf ``f`` did not make (a parameter)."""
        if not isinstance(x, Value):
            return False
        return x in self.varying or (x not in self.made and x not in self.created)


def _where() -> str:
    """file:line of the innermost caller outside chainrule (the user's line)."""
    frame = sys._getframe(2)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


@contextmanager
def _tracing(inputs: list[Value]) -> Iterator[_Tape]:
    """Record, while ``f`` runs, the nodes ``apply`` makes (:data:`~chainrule.engine.NODE_HOOKS`),
    every read of an input-dependent number (:data:`~chainrule.engine.READ_HOOKS`: the door
    from a Value to a Python value, ``detach`` included) and the leaves ``Value(...)`` makes.

    Swaps ``Value.__init__`` for the duration: not thread-safe, so do not build graphs in
    other threads while a function is traced.
    """
    tape = _Tape(inputs)
    init = Value.__init__

    def made(out: Value, op: Op, parents: tuple[Value, ...]) -> None:
        tape.made[out] = parents
        tape.op_of[out] = op
        if any(tape.varies(p) for p in parents):
            tape.varying.add(out)

    def read(node: Value, how: str, other: object, result: object) -> None:
        if how == "detach":  # a new leaf with the node's number: the number, recomputed
            assert isinstance(result, Value)
            tape.created.discard(result)
            tape.detached[result] = node
            if tape.varies(node):
                tape.varying.add(result)
        elif how in _GUARDS and (tape.varies(node) or tape.varies(other)):
            tape.reads.append(_Read(node, how, other, result, _where()))

    def new_init(self: Value, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        tape.created.add(self)

    Value.__init__ = new_init  # type: ignore[method-assign]
    engine.NODE_HOOKS.append(made)
    engine.READ_HOOKS.append(read)
    try:
        yield tape
    finally:
        engine.READ_HOOKS.remove(read)
        engine.NODE_HOOKS.remove(made)
        Value.__init__ = init  # type: ignore[method-assign]


def _run(f: Callable[..., Any], examples: list[Any], tape: _Tape) -> Any:
    """Run ``f`` on the first example; return how its extra outputs are shaped (None if none)."""
    try:
        with enable_grad():
            result = f(*examples)
    except (ValueError, ArithmeticError) as error:
        if hasattr(error, "example"):  # named already (by a batched function inside f)
            raise
        raise at_example(error, 0) from error
    aux: Any = None
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], Value):
        result, extra = result
        aux = "list" if isinstance(extra, list) else "value"
        extras = extra if isinstance(extra, list) else [extra]
        for e in extras:
            if not isinstance(e, Value):
                raise TypeError(
                    f"batched: f's second output must be a Value or a list of Values, "
                    f"got {type(e).__name__} {e!r}"
                )
        tape.outputs = [result, *extras]
    elif isinstance(result, Value):
        tape.outputs = [result]
    elif isinstance(result, list) and result and all(isinstance(r, Value) for r in result):
        tape.outputs = result  # a model's outputs, to evaluate (no gradient: no one root)
        aux = "rows"
    else:
        raise TypeError(
            f"batched needs f to return a Value, a Value and a list of Values, or a list of "
            f"Values (forward only), got {type(result).__name__}"
        )
    return aux


# --- the generated program ---


class _E(NamedTuple):
    """An expression of the generated program: its text, precedence, nesting depth, whether
    it is an array over the batch, and (for a product's share) its two factors."""

    text: str
    prec: int = _ATOM
    depth: int = 0
    batched: bool = False
    factors: tuple[_E, _E] | None = None


def _literal(x: float) -> _E:
    text = repr(x) if x == x and abs(x) != float("inf") else ("nan" if x != x else f"{x}")
    return _E(text, _UNARY if text.startswith("-") else _ATOM)


def _binary(left: _E, symbol: str, right: _E, prec: int) -> _E:
    lt = left.text if left.prec >= prec else f"({left.text})"
    rt = right.text if right.prec > prec else f"({right.text})"
    depth = 1 + max(left.depth, right.depth)
    return _E(f"{lt} {symbol} {rt}", prec, depth, left.batched or right.batched)


def _neg(x: _E) -> _E:
    text = x.text if x.prec >= _UNARY else f"({x.text})"
    return _E(f"-{text}", _UNARY, 1 + x.depth, x.batched)


_PRECEDENCE = {"+": _ADD, "-": _ADD, "*": _MUL}


class _Split(Exception):
    """Raised by a guard: the examples where ``same`` is False left the traced branch."""

    def __init__(self, same: Any, guard: _Guard) -> None:
        super().__init__()
        self.same, self.guard = same, guard


class _Guard:
    """One read of the trace, evaluated again over the batch on every call."""

    def __init__(self, read: _Read, name: str) -> None:
        self.how, self.result, self.where, self.name = read.how, read.result, read.where, name
        self.traced = read.node._data  # the number the traced example gave

    def __call__(self, value: Any, other: Any = None) -> None:
        if self.how in _NUMBER:
            same = (value == self.traced) | (np.isnan(value) & np.isnan(self.traced))
        elif self.how == "bool":
            same = (value != 0.0) == self.result
        else:
            same = _COMPARE[self.how](value, other) == self.result
        if not np.all(same):
            raise _Split(same, self)

    def error(self, examples: Any) -> BranchError:
        """The examples still leave every branch traced: the read gives too many outcomes."""
        shown = ", ".join(str(i) for i in examples[:5]) + (", ..." if len(examples) > 5 else "")
        return BranchError(
            f"{self.name}: the Python code at {self.where} reads a number ({self.describe()}) "
            f"and takes more than {_MAX_BRANCHES} different branches over this batch (examples "
            f"{shown} still fit none of them): a number read to be used, not only compared, "
            "differs from example to example. Write the computation with operations (relu, "
            "abs, maximum, minimum, clamp) instead of Python on .data."
        )

    def describe(self) -> str:
        if self.how in _NUMBER:
            return f"{self.how} gave {self.traced!r} for the traced example"
        return f"'{_SYMBOL.get(self.how, self.how)}' gave {self.result!r} for the traced example"


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}  # fmt: skip
_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_NUMBER = ("data", "item", "format", "repr")  # reads that hand out the number itself
_GUARDS = {*_COMPARE, *_NUMBER, "bool"}  # the refused conversions raise: nothing to guard


class _Program:
    """A traced run of ``f`` as an array program: inputs, parameters, literals, operations.

    Nodes are taken in the order ``f`` made them, keeping those the outputs and the guarded
    reads depend on. A node *varies* when it depends on an input or on a leaf made outside
    ``f`` (a parameter, read on every call); the others are literals. A node is *batched*
    (an array with one number per example) when it depends on a batched input.
    """

    def __init__(self, tape: _Tape, inputs: list[Value], batched_inputs: set[Value],
                 backward: bool = True, fuse: bool = True) -> None:  # fmt: skip
        self.tape = tape
        self.backward = backward
        self.inputs = {leaf: i for i, leaf in enumerate(inputs)}
        made, source_of = tape.made, self.source_of
        self.parents = {n: tuple(source_of(p) for p in ps) for n, ps in made.items()}
        self.outputs = [source_of(o) for o in tape.outputs]
        self.reads = tape.reads
        live = set(self.outputs)
        for r in self.reads:
            live.update(source_of(x) for x in (r.node, r.other) if isinstance(x, Value))
        for node in reversed(made):
            if node in live:
                live.update(self.parents[node])
        self.order = [node for node in made if node in live]  # the nodes to compute, in order
        self.externals: list[Value] = []
        self.kind: dict[Value, str] = {}  # a leaf's kind: "input", "literal" or "external"
        self.varies: set[Value] = set(self.inputs)
        self.batched: set[Value] = set(batched_inputs)
        for leaf in chain(inputs, chain.from_iterable(self.parents[n] for n in self.order), live):
            if leaf not in made and leaf not in self.kind and leaf in live:
                self._classify(leaf)  # in the order f first used them: p0, p1, ...
        self._check_nodes()
        wanted = [*self.inputs, *self.externals] if backward else []
        self.wants = {leaf for leaf in wanted if leaf.requires_grad}  # a gradient reaches them
        for node in self.order:
            if node.grad_fn is not None and not self.wants.isdisjoint(node._prev):
                self.wants.add(node)
        learned = [p for p in self.externals if p in self.wants]
        self.learned = {p: k for k, p in enumerate(learned)}  # a parameter's place in grad
        self.layers = _find_layers(self) if fuse else []
        self.layer_of = {z: (k, j) for k, layer in enumerate(self.layers)
                         for j, z in enumerate(layer.zs)}  # fmt: skip
        self.absorbed = {node for layer in self.layers for node in layer.interior}
        self.fed: dict[Value, list[int]] = {}  # an input -> the layers it feeds
        for k, layer in enumerate(self.layers):
            for x in set(layer.inputs):
                self.fed.setdefault(x, []).append(k)

    def source_of(self, node: Value) -> Value:
        """``node`` with detach() seen through: a detached copy is its source's number."""
        while node in self.tape.detached:
            node = self.tape.detached[node]
        return node

    def _classify(self, leaf: Value) -> None:
        """A node ``f`` did not make: an argument, a literal, or a leaf read on every call."""
        if leaf._hooks:
            raise ValueError(f"batched does not support hooks (register_hook), found on {leaf!r}")
        if leaf in self.inputs:
            kind = "input"
        elif leaf.grad_fn is not None:
            raise ValueError(
                f"batched cannot use {leaf!r} (made by {leaf.grad_fn!r}): f uses a node "
                "computed before f was called; compute it inside f, from its arguments and "
                "leaf parameters"
            )
        elif leaf in self.tape.created:
            kind = "literal"
        else:
            kind = "external"
            self.externals.append(leaf)
            self.varies.add(leaf)
        self.kind[leaf] = kind

    def _check_nodes(self) -> None:
        """Which nodes vary or are batched; refuse what one array program cannot compute."""
        for node in self.order:
            parents = self.parents[node]
            if not self.varies.isdisjoint(parents):
                self.varies.add(node)
            if not self.batched.isdisjoint(parents):
                self.batched.add(node)
            op = self.tape.op_of[node]
            if node._hooks:
                raise ValueError(
                    f"batched does not support hooks (register_hook), found on {node!r}"
                )
            if node not in self.varies:
                continue
            if isinstance(op, HandWrittenOp):
                raise ValueError(
                    f"batched cannot run the node made by {op!r}: it has a hand-written "
                    "backward (a custom Function or a checkpoint) whose saved numbers belong "
                    "to one example; use custom_op (a derivative rule) with an array form"
                )
            form_of(op)  # a clear error now for an op without an array form

    def generate(self, f: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
        """The source of ``program(n, *inputs, *parameters)`` and the objects it calls."""
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "np": np, "S": share, "dot": _dot, "total": _total, "rows": _rows, "MASKED": MASKED,
            "inf": float("inf"), "nan": float("nan"),
        }  # fmt: skip
        self.names: dict[Op, int] = {}
        self.count = 0
        self.expr: dict[Value, _E] = {}
        for leaf, i in self.inputs.items():
            self.expr[leaf] = _E(f"x{i}", batched=leaf in self.batched)
        for k, leaf in enumerate(self.externals):
            self.expr[leaf] = _E(f"p{k}")
        for leaf, kind in self.kind.items():
            if kind == "literal":
                self.expr[leaf] = _literal(leaf._data)
        args = ["n", *[f"x{i}" for i in self.inputs.values()], "p", *(["buf"] * bool(self.layers))]
        self.lines.append("    # forward: every example at once")
        self._forward(_name(f))
        self.lines.append("    # backward: the engine's reverse pass, one node at a time")
        grads = self._backward()
        outs = [self.expr[o].text for o in self.outputs]
        self.lines.append(f"    return {outs[0]}, {_tuple(outs[1:])}, {_tuple(grads)}, grad")
        body = "\n".join(self.lines)
        used = sorted({int(k) for k in re.findall(r"\bp(\d+)\b", body)})
        header = [f"def program({', '.join(args)}):"]
        if used:  # the parameters the program names, as floats (a layer indexes p itself)
            names = ", ".join(f"p{k}" for k in used)
            header.append(f"    {names}, = p[{used!r}].tolist()")
        return "\n".join([*header, body]) + "\n", self.namespace

    def _temp(self) -> str:
        self.count += 1
        return f"t{self.count}"

    def _op_name(self, op: Op, prefix: str) -> str:
        k = self.names.get(op)
        if k is None:
            k = self.names[op] = len(self.names)
            form = form_of(op)
            self.namespace[f"A{k}"], self.namespace[f"L{k}"] = form.forward, form.local
        return f"{prefix}{k}"

    def _assign(self, e: _E, name: str = "") -> _E:
        name = name or self._temp()
        self.lines.append(f"    {name} = {e.text}")
        return _E(name, _ATOM, 0, e.batched)

    def _needed(self) -> set[Value]:
        """The values the backward (or a guard) reads: the forward keeps them in variables."""
        needed = set(self.outputs)
        for r in self.reads:
            needed.update(self.source_of(x) for x in (r.node, r.other) if isinstance(x, Value))
        for node in self.order:
            op, prev = node.grad_fn, node._prev
            if op is None or node not in self.wants:
                continue
            symbol = form_of(op).symbol
            if symbol == "*" and len(prev) == 2:
                for mine, other in ((prev[0], prev[1]), (prev[1], prev[0])):
                    if mine in self.wants:
                        needed.add(self.source_of(other))
            elif symbol not in ("+", "-", "neg"):
                needed.update(self.source_of(p) for p in prev)
                needed.add(node)
        return needed

    def _forward(self, name: str) -> None:
        needed, varies, expr = self._needed(), self.varies, self.expr
        uses = Counter(chain.from_iterable(self.parents[node] for node in self.order))
        guards = self._guards(name)
        self._emit_guards(guards.pop(-1, []))
        starts = {layer.start: k for k, layer in enumerate(self.layers)}
        for index, node in enumerate(self.order):
            if index in starts:
                self._layer_forward(starts[index])
            if node in self.absorbed or node in self.layer_of:
                pass  # computed by its layer's matrix product
            elif node not in varies:
                expr[node] = _literal(node._data)
            else:
                op = self.tape.op_of[node]
                symbol = form_of(op).symbol
                ins = [expr[p] for p in self.parents[node]]
                if symbol in _PRECEDENCE and len(ins) == 2:
                    e = _binary(ins[0], symbol, ins[1], _PRECEDENCE[symbol])
                elif symbol == "neg" and len(ins) == 1:
                    e = _neg(ins[0])
                else:
                    call = f"{self._op_name(op, 'A')}({', '.join(x.text for x in ins)})"
                    depth = 1 + max((x.depth for x in ins), default=0)
                    e = _E(call, _ATOM, depth, node in self.batched)
                if e.depth > _MAX_DEPTH or node in needed or uses[node] > 1:
                    e = self._assign(e)
                expr[node] = e
            self._emit_guards(guards.pop(index, []))

    def _guards(self, name: str) -> dict[int, list[tuple[str, list[Any]]]]:
        """Each guard and its operands, by the index of the node after which it can run (-1:
        at the start)."""
        position = {node: i for i, node in enumerate(self.order)}
        specs: dict[int, list[tuple[str, list[Any]]]] = {}
        for k, r in enumerate(self.reads):
            node = self.source_of(r.node)
            other = self.source_of(r.other) if isinstance(r.other, Value) else r.other
            operands = [x for x in (node, other) if isinstance(x, Value)]
            if not any(x in self.varies for x in operands):
                continue
            self.namespace[f"check{k}"] = _Guard(r, name)
            at = max(position.get(x, -1) for x in operands)
            specs.setdefault(at, []).append(
                (f"check{k}", [node, other] if r.how in _COMPARE else [node])
            )
        return specs

    def _emit_guards(self, specs: list[tuple[str, list[Any]]]) -> None:
        for guard, operands in specs:
            texts = [self.expr[x].text if isinstance(x, Value) else _literal(float(x)).text
                     for x in operands]  # fmt: skip
            self.lines.append(f"    {guard}({', '.join(texts)})")

    def _backward(self) -> list[str]:
        """The reverse pass as code: the engine's own pass walks the traced graph and calls
        ``emit`` at each node it visits, in its order; ``emit`` writes the node's adjoint (the
        sum of the shares written for it so far) and its shares for its parents. A
        parameter's share is summed over the batch at once, into ``grad``."""
        self.lines.append(f"    grad = np.zeros({len(self.learned)})  # the parameters' sums")
        root = self.outputs[0]
        self.pending: dict[Value, list[_E]] = {root: [_literal(1.0)]}
        self.layer_grads: list[dict[int, str] | None] = [{} for _ in self.layers]
        if root in self.wants and self.backward:
            try:
                engine.adjoints({root: 1.0}, hooks=False, visit=self._emit)
            except (ValueError, ArithmeticError) as error:  # on example 0's numbers
                raise at_example(error, 0) from error
        for k in range(len(self.layers)):
            self._layer_backward(k)  # a layer whose inputs the pass did not visit
        grads = []
        for leaf in self.inputs:
            if leaf.requires_grad:
                terms = self.pending.get(leaf)
                grads.append(self._sum(terms).text if terms else "0.0")
        return grads

    def _layer_forward(self, k: int) -> None:
        """A layer's neurons as one matrix product: ``Z = W @ X + b``, one row per neuron."""
        layer, index = self.layers[k], {p: i for i, p in enumerate(self.externals)}
        self.namespace[f"W{k}"] = np.array([[index[w] for w in ws] for ws in layer.weights])
        self.namespace[f"B{k}"] = np.array([[index[b]] for b in layer.biases])
        xs = ", ".join(self.expr[x].text for x in layer.inputs)
        self.lines.append(f"    X{k} = np.stack(({xs},), out=buf('X{k}', {len(layer.inputs)}))")
        m = len(layer.zs)
        self.lines.append(f"    Z{k} = np.matmul(p[W{k}], X{k}, out=buf('Z{k}', {m}))")
        self.lines.append(f"    Z{k} += p[B{k}]  # {m} neuron{'s' * (m > 1)}: Z = W @ X + b")
        for j, z in enumerate(layer.zs):
            self.expr[z] = _E(f"Z{k}[{j}]", batched=True)

    def _layer_backward(self, k: int) -> None:
        """A layer's shares from its neurons' adjoints ``G``: ``G @ X.T`` for the weights and
        ``G.sum(1)`` for the biases (summed over the batch), ``W.T @ G`` for its inputs."""
        grads, layer = self.layer_grads[k], self.layers[k]
        if not grads:  # written already, or no adjoint reached the layer
            return
        self.layer_grads[k] = None
        g = ", ".join(grads.get(j, "0.0") for j in range(len(layer.zs)))
        self.lines.append(f"    G{k} = rows(buf('G{k}', {len(layer.zs)}), {g})")
        if layer.zs[0] in self.wants:
            w = [[self.learned[w] for w in ws] for ws in layer.weights]
            self.namespace[f"WI{k}"] = np.array(w)
            self.namespace[f"BI{k}"] = np.array([self.learned[b] for b in layer.biases])
            self.lines.append(f"    grad[WI{k}] += G{k} @ X{k}.T")
            self.lines.append(f"    grad[BI{k}] += G{k}.sum(axis=1)")
        if any(x in self.wants for x in layer.inputs):
            rows = len(layer.inputs)
            self.lines.append(f"    XG{k} = np.matmul(p[W{k}].T, G{k}, out=buf('XG{k}', {rows}))")
            for i, x in enumerate(layer.inputs):
                if x in self.wants:
                    self._deliver(x, _E(f"XG{k}[{i}]", batched=True))

    def _emit(self, node: Value, _adjoint: Any, _shares: Any, _adjoints: Any) -> None:
        for k in self.fed.get(node, ()):  # the pass reached a layer's input: its shares first
            self._layer_backward(k)
        terms = self.pending.pop(node, None)
        op, prev = node.grad_fn, node._prev
        if terms is None or op is None:
            return
        if node in self.layer_of:  # a neuron of a layer: its adjoint joins the layer's
            k, j = self.layer_of[node]
            grads = self.layer_grads[k]
            assert grads is not None  # a layer's shares are written after all its neurons'
            grads[j] = self._assign(self._sum(terms), f"Z{k}_bar{j}").text
            return
        want = [p in self.wants for p in prev]
        if not any(want):
            return
        g = self._sum(terms)
        symbol = form_of(op).symbol
        simple = symbol in ("+", "-", "neg") or (symbol == "*" and len(prev) == 2)
        named = g.text.isidentifier() or g.text == "1.0"
        if (not named and (sum(want) > 1 or not simple)) or g.depth >= _MAX_DEPTH:
            own = self.expr[node].text
            g = self._assign(g, f"{own}_bar" if own.isidentifier() else "")
        values = [self.expr[self.source_of(p)] for p in prev]
        if symbol == "+" and len(prev) == 2:
            parts = [g, g]
        elif symbol == "-" and len(prev) == 2:
            parts = [g, _neg(g)]
        elif symbol == "neg" and len(prev) == 1:
            parts = [_neg(g)]
        elif symbol == "*" and len(prev) == 2:
            parts = [self._product(g, values[1]), self._product(g, values[0])]
        else:  # the op's partials, known only when the program runs (MASKED for some examples)
            own = self.expr[node].text
            base = own if own.isidentifier() else self._temp()
            ds = [f"{base}_d{i}" for i in range(len(prev))]
            texts = ", ".join(v.text for v in [*values, self.expr[node]])
            self.lines.append(f"    ({', '.join(ds)},) = {self._op_name(op, 'L')}({texts})")
            batched = g.batched or node in self.batched
            parts = [_E(f"S({g.text}, {d})", _ATOM, 1, batched) for d in ds]
        for parent, ok, part in zip(prev, want, parts):
            if ok:
                self._deliver(parent, part)

    @staticmethod
    def _product(g: _E, factor: _E) -> _E:
        product = factor if g.text == "1.0" else _binary(g, "*", factor, _MUL)  # 1.0 * x is x
        return product._replace(factors=(g, factor))

    def _deliver(self, parent: Value, part: _E) -> None:
        """A share for ``parent``: kept for its adjoint, or (a parameter's) summed over the
        batch at once: ``g @ x`` for a product, ``n * s`` for a share that is the same for
        every example (a partial may be one number for the whole batch: 1/b for a / b)."""
        slot = self.learned.get(parent)
        if slot is None:
            self.pending.setdefault(parent, []).append(part)
            return
        if part.factors is not None and all(x.batched for x in part.factors):
            total = f"dot({part.factors[0].text}, {part.factors[1].text}, n)"
        elif part.batched:
            total = f"total({part.text}, n)"
        else:
            total = _binary(_E("n"), "*", part, _MUL).text
        self.lines.append(f"    grad[{slot}] += {total}")

    def _sum(self, terms: list[_E]) -> _E:
        """``((s0 + s1) + s2) + ...``: the engine's order; split into lines when deep."""
        total = terms[0]
        for term in terms[1:]:
            if max(total.depth, term.depth) >= _MAX_DEPTH:
                total = self._assign(total)
            total = _binary(total, "+", term, _ADD)
        return total


class _Layer(NamedTuple):
    """Neurons ``z_j = b_j + sum_i w_ji x_i`` over the same inputs, as ``nn.Neuron`` writes
    them: computed together as one matrix product."""

    inputs: tuple[Value, ...]
    zs: list[Value]  # the neurons' pre-activations
    weights: list[list[Value]]  # weights[j][i] multiplies inputs[i] in zs[j]
    biases: list[Value]
    interior: list[Value]  # the products and partial sums the product replaces
    start: int  # the index in the program's order where the layer is computed


def _find_layers(program: _Program) -> list[_Layer]:
    """The neurons of ``program`` grouped by their inputs, where fusing changes nothing but
    the order of the sums: the products and partial sums serve their neuron alone, the
    weights and biases are parameters (all learned, or none of the layer's), distinct."""
    uses = Counter(chain.from_iterable(program.parents[node] for node in program.order))
    keep = set(program.outputs)
    for r in program.reads:
        keep.update(program.source_of(x) for x in (r.node, r.other) if isinstance(x, Value))
    position = {node: i for i, node in enumerate(program.order)}
    groups: dict[tuple[int, ...], list[tuple[Value, Any]]] = {}
    claimed: set[Value] = set()  # a partial sum of a neuron is no neuron of its own
    for node in reversed(program.order):
        found = None if node in claimed else _affine(program, node, uses, keep)
        if found is not None:
            claimed.update(found[3])
            groups.setdefault(tuple(id(x) for x in found[2]), []).insert(0, (node, found))
    layers = []
    for members in groups.values():
        zs = [z for z, _ in members]
        biases = [found[0] for _, found in members]
        weights = [found[1] for _, found in members]
        interior = [node for _, found in members for node in found[3]]
        params = [*biases, *chain.from_iterable(weights)]
        learned = [p in program.learned for p in params]
        if len(set(params)) < len(params) or len(set(learned)) > 1:
            continue
        if len({z in program.wants for z in zs}) > 1:
            continue
        inputs = tuple(members[0][1][2])
        start = min(position[node] for node in interior)
        if max((position.get(x, -1) for x in inputs), default=-1) < start:
            layers.append(_Layer(inputs, zs, weights, biases, interior, start))
    return sorted(layers, key=lambda layer: layer.start)


def _affine(program: _Program, z: Value, uses: Counter[Value], keep: set[Value]) -> Any:
    """``z = b + w_0 x_0 + ... + w_{k-1} x_{k-1}`` as ``(b, ws, xs, interior)``, or None."""
    ws: list[Value] = []
    xs: list[Value] = []
    interior: list[Value] = []
    node = z
    while program.tape.op_of.get(node) is ops.ADD and _untouched(node, program):
        a, m = program.parents[node]
        term = _term(program, m, uses, keep)
        if term is None:
            return None
        ws.append(term[0])
        xs.append(term[1])
        interior.append(m)
        if program.kind.get(a) == "external":
            return (a, ws[::-1], xs[::-1], interior) if len(xs) > 1 else None
        if a not in program.tape.made or uses[a] != 1 or a in keep:
            return None
        interior.append(a)
        node = a
    return None


def _term(program: _Program, m: Value, uses: Counter[Value], keep: set[Value]) -> Any:
    """A product ``w * x`` of a parameter and a batched value that serves one sum alone."""
    if program.tape.op_of.get(m) is not ops.MUL or uses[m] != 1 or m in keep:
        return None
    parents = program.parents[m]
    if not _untouched(m, program) or len(parents) != 2:
        return None
    for w, x in (parents, parents[::-1]):
        if program.kind.get(w) == "external" and x in program.batched and x is not w:
            return w, x
    return None


def _untouched(node: Value, program: _Program) -> bool:
    """The engine's parents of ``node`` are the ones it was made from (no detach between)."""
    prev = node._prev
    return not prev or all(a is b for a, b in zip(prev, program.parents[node], strict=True))


def _rows(out: Any, *gs: Any) -> Any:
    """The adjoints of a layer's neurons as the rows of ``out`` (a number: every example's)."""
    for j, g in enumerate(gs):
        out[j] = g
    return out


class _Buffers(dict[str, Any]):
    """The arrays a program writes its layers into, kept from one call to the next: a fresh
    array of a megabyte costs the operating system's page faults on every call, which took
    longer than the matrix product itself (5x at 10,000 examples, measured)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def __call__(self, name: str, rows: int) -> Any:
        found = self.get(name)
        if found is None:
            found = self[name] = np.empty((rows, self.n))
        return found


def _total(share: Any, n: int) -> Any:
    """A share summed over the batch: one number per example, or one for all ``n``."""
    return np.sum(share) if np.ndim(share) else n * share


def _dot(g: Any, x: Any, n: int) -> Any:
    """The share ``g * x`` summed over the batch, as one dot product where both are arrays."""
    return np.dot(g, x) if np.ndim(g) and np.ndim(x) else _total(g * x, n)


def _tuple(items: list[str]) -> str:
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
