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
of Values for an example that is an array); the Values it reaches but did not make (or made
and something else keeps) are the shared parameters, read on every call.

``in_axes`` says, as ``jax.vmap`` does, which arguments are batched (``0``: along their first
axis; any int: along that axis) and which are the same for every example (``None``).
``argnums`` asks for per-example gradients with respect to those arguments: the call then
returns ``(outputs, grads)``. ``f`` may return ``(loss, extras)`` with extras a Value or a
list of Values (a model's logits): the call then returns ``(losses, extras)`` too, the extras
as an array of shape ``(batch,)`` or ``(batch, k)``.

How the program is made (:mod:`chainrule.array_program`). The first call runs ``f`` on the
first example's numbers and records every node ``apply`` makes
(:data:`chainrule.engine.NODE_HOOKS`). The record becomes one Python function over arrays:

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
An example with an inf or nan among its numbers, outputs or gradients is computed by the engine
itself, one example at a time: there a node reached through masked edges only passes nothing,
where an array holds 0.0 for it (and 0.0 times an inf is nan).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from chainrule.array_ops import at_example
from chainrule.array_program import (
    MAX_BRANCHES,
    BranchError,
    Buffers,
    Guard,
    Program,
    Split,
    run_on,
)
from chainrule.engine import Value, adjoints
from chainrule.grad_mode import enable_grad
from chainrule.tracing import collector_paused, name_of, outputs_of

__all__ = ["BatchedFunction", "BranchError", "batched"]

Axes = int | Sequence[int | None] | None  # in_axes: one entry per argument, or one for all


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


class _Variant(NamedTuple):
    """One traced branch of ``f``: its program and the leaves the program reads."""

    code: Callable[..., Any]
    source: str
    externals: list[Value]  # leaves f reaches but did not make, read on every call
    learned: list[Value]  # those of them that receive a gradient
    aux: Any  # how f's extra outputs are shaped (None: f returns a Value)
    fused: bool  # whether it computes layers, into arrays kept from call to call


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
        self._spare: list[Buffers] = []  # the layers' arrays of the last call, to reuse
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
        bad = _not_finite(parts, arrays, axes, n)
        if bad is not None:  # where an inf or nan may take another way: the engine's numbers
            good = np.flatnonzero(~bad)
            parts = self._evaluate(arrays, axes, good, 0) if len(good) else []
            parts += [self._by_engine(arrays, axes, int(i)) for i in np.flatnonzero(bad)]
        totals: dict[Value, float] = {}
        for _, learned, results in parts:
            for p, total in zip(learned, np.asarray(results[3]).tolist()):
                totals[p] = totals.get(p, 0.0) + total
        scale = 1.0 / n if self.reduction == "mean" else 1.0
        for p, total in totals.items():
            p.grad = p.grad + total * scale
        return self._shaped(parts, arrays, axes, n)

    def _evaluate(self, arrays: list[Any], axes: tuple[bool, ...], idx: Any, first: int,
                  why: Guard | None = None) -> list[tuple[Any, list[Value], Any]]:  # fmt: skip
        """``(examples, parameters, results)`` for the examples ``idx``, by the branches from
        ``first`` on: where a guard (``why``) finds that some examples leave a branch, those
        go on to the next branch, traced on the first of them when there is none."""
        whole = len(idx) == len(arrays[axes.index(True)])
        sub = arrays if whole else [a[idx] if b else a for a, b in zip(arrays, axes)]
        k = first
        while True:
            if k == len(self._variants) and why is not None and self._traced >= MAX_BRANCHES:
                raise why.error(idx)
            try:
                if k == len(self._variants):
                    self._branch(sub, axes)
                variant = self._variants[k]
                return [(idx, variant.learned, self._run(variant, sub, axes, len(idx)))]
            except (ValueError, ArithmeticError) as error:  # name the example in the whole batch
                if whole or not hasattr(error, "example"):
                    raise
                raise at_example(error, int(idx[error.example])) from None
            except Split as split:
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
                f"{name_of(self.f)} returns {variant.aux or 'a Value'} for some examples and "
                f"{self._variants[0].aux or 'a Value'} for others: one shape of output, please"
            )
        self._variants.append(variant)

    def _by_engine(self, arrays: list[Any], axes: tuple[bool, ...],
                   i: int) -> tuple[Any, list[Value], Any]:  # fmt: skip
        """Example ``i`` by the engine itself: ``f`` on Values, then its reverse pass."""
        inputs, wanted, examples = set(), [], []
        for j, (a, is_batched) in enumerate(zip(arrays, axes)):
            row = a[i] if is_batched else a
            leaves = [Value(float(v), requires_grad=j in self.argnums) for v in row.ravel()]
            inputs.update(leaves)
            wanted += leaves if j in self.argnums else []
            examples.append(_nest(leaves, row.shape))
        try:
            with enable_grad():
                outputs, kind = outputs_of(self.f(*examples), "batched", rows=True)
            root = outputs[0]
            grads = adjoints(root) if kind != "rows" and root.requires_grad else {}
        except (ValueError, ArithmeticError) as error:
            raise at_example(error, i) from None
        params = [v for v in grads if v.grad_fn is None and v not in inputs]
        extras = tuple(o._data for o in outputs[1:])
        own = tuple(grads.get(leaf, 0.0) for leaf in wanted)
        results = (root._data, extras, own, [grads[p] for p in params])
        return np.array([i]), params, results

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
        buffers = spare.pop() if spare and spare[-1].n == n else Buffers(n)
        with np.errstate(all="ignore"):
            results = variant.code(n, *leaves, params, buffers)
        self._spare = [buffers]  # results never point into them: _shaped copies what it returns
        return results

    def _shaped(self, parts: list[tuple[Any, list[Value], Any]], arrays: list[Any],
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
        with collector_paused():
            tape = run_on(self.f, inputs, examples)
            if tape.aux == "rows" and self.argnums:
                raise TypeError("argnums needs f to return one Value (a loss), got a list")
            program = Program(tape, batched_inputs, backward=tape.aux != "rows", fuse=self.fuse)
            source, namespace = program.generate(self.f)
        exec(compile(source, f"<chainrule.batched {name_of(self.f)}>", "exec"), namespace)
        learned = list(program.learned)
        fused = bool(program.layers)
        return _Variant(namespace["program"], source, program.externals, learned, tape.aux, fused)


def _not_finite(parts: list[tuple[Any, list[Value], Any]], arrays: list[Any],
                axes: tuple[bool, ...], n: int) -> Any:  # fmt: skip
    """None when every output and gradient is finite; else, as a mask over the examples, those
    the engine computes instead: an example with an inf or nan among its numbers or results
    (a node the gradient reaches through masked edges only passes nothing in the engine, where
    the program's 0.0 times an inf is nan), or all of them when none is to blame."""
    numbers = [x for _, _, (out, _, grads, totals) in parts for x in (out, *grads, totals)]
    if all(np.all(np.isfinite(x)) for x in numbers):
        return None
    bad = np.zeros(n, dtype=bool)
    for a, is_batched in zip(arrays, axes):
        if is_batched:
            bad |= ~np.isfinite(a.reshape(n, -1)).all(axis=1)
        elif not np.all(np.isfinite(a)):
            bad[:] = True
    for idx, _, (out, _, grads, _) in parts:
        for x in (out, *grads):
            bad[idx] |= ~np.isfinite(np.broadcast_to(x, idx.shape))
    return bad if bad.any() else np.ones(n, dtype=bool)


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
