"""Gradient checkpointing: trade compute for memory by recomputing a segment in backward.

Reverse mode keeps every intermediate node of the forward pass alive until backward
has used it, so a chain of L layers holds O(L) nodes. ``checkpoint(fn, *inputs)``
runs ``fn`` on fresh leaves holding the inputs' numbers and keeps only one node, whose
parents are the inputs and the leaves ``fn`` closes over (a layer's weights). When the
reverse pass reaches that node, its backward

1. rebuilds the segment from the saved input numbers, with grad enabled,
2. runs the reverse pass through the rebuilt segment, seeded with the adjoint ``g``,
3. returns ``g · d out / d parent_i`` for each parent and drops the rebuilt graph.

It writes no ``.grad``: the enclosing pass stores every share as it stores any other
(``backward``, ``autograd.grad`` and the transforms alike), and calls the hooks.

Checkpointing every ``√L`` layers keeps ``√L`` segment outputs plus one rebuilt
segment of ``√L`` layers alive at a time: O(√L) nodes for about one extra forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.custom import HandWrittenOp
from chainrule.engine import Value, adjoints, apply, between, topological_order
from chainrule.grad_mode import enable_grad
from chainrule.ops import MASKED

__all__ = ["checkpoint", "checkpoint_sequential"]


def _no_second_order(*inputs: Any) -> tuple[Any, ...]:
    raise RuntimeError(
        "a checkpoint cannot be differentiated twice: the segment is rebuilt and "
        "differentiated to first order only (its gradient under create_graph=True is a "
        "number that cannot be differentiated again); call the function without "
        "checkpoint() to take higher derivatives"
    )


class _Saved:
    """What the closure keeps of a Value input: its number and flag, not the node."""

    __slots__ = ("data", "requires_grad")

    def __init__(self, value: Value) -> None:
        self.data, self.requires_grad = value.data, value.requires_grad


def checkpoint(fn: Callable[..., Any], *inputs: Any) -> Any:
    """``fn(*inputs)`` without keeping the graph inside ``fn``; backward recomputes it.

    ``inputs`` are Values (differentiated) or anything else (passed through as is).
    ``fn`` must be deterministic and return a Value or a list/tuple of Values. Leaves
    it closes over (a layer's weights) become parents of the checkpoint node, so they get
    their shares from the same reverse pass; a non-leaf Value it closes over counts
    through the leaves below it (pass it in ``inputs`` to keep its own adjoint). Hooks
    on nodes inside the segment are not called (the segment is rebuilt); hooks on the
    parents are. For k outputs the segment is recomputed once per output.
    Gradients are those of ``fn(*inputs)``: the same operations, bit for bit along a
    chain; where shares fan in, their additions may happen in another order.

    >>> from chainrule import Value
    >>> x = Value(0.5)
    >>> y = checkpoint(lambda v: (v * v).tanh() * 3.0, x)
    >>> y.backward()
    >>> round(x.grad, 12) == round(3 * (1 - math.tanh(0.25) ** 2) * 2 * 0.5, 12)
    True
    """
    if not callable(fn):
        raise TypeError(f"checkpoint needs a function, got {type(fn).__name__} {fn!r}")
    if any(type(a) in (list, tuple) and any(isinstance(v, Value) for v in a) for a in inputs):
        return _checkpoint_flat(fn, inputs)
    saved = tuple(_Saved(a) if isinstance(a, Value) else a for a in inputs)
    result, leaves = _segment(fn, saved)
    many = isinstance(result, (list, tuple))
    outs = list(result) if many else [result]
    for k, o in enumerate(outs):
        if not isinstance(o, Value):
            where = f"output {k} of fn" if many else "fn"
            raise TypeError(
                f"checkpoint: {where} must return a Value, got {type(o).__name__} {o!r}"
            )
    # the leaves fn closes over (a layer's weights) become parents too, so the one reverse
    # pass hands them their shares; the segment's own graph is dropped here
    own = set(leaves)
    closed_over = [n for n in topological_order(outs)
                   if n.grad_fn is None and n.requires_grad and n not in own]  # fmt: skip
    parents = (*(a for a in inputs if isinstance(a, Value) and a.requires_grad), *closed_over)
    nodes = []
    for k, o in enumerate(outs):
        vjp = _recompute(fn, saved, closed_over, k, many)
        op = HandWrittenOp("checkpoint", lambda *xs, data=o.data: data, _no_second_order,
                           "a recomputed segment (checkpoint)", backward=vjp)  # fmt: skip
        nodes.append(apply(op, *parents))
    if many:
        if hasattr(result, "_fields"):  # a namedtuple takes its fields one by one
            return type(result)(*nodes)
        return type(result)(nodes) if isinstance(result, tuple) else nodes
    return nodes[0]


def _checkpoint_flat(fn: Callable[..., Any], inputs: tuple[Any, ...]) -> Any:
    """``checkpoint(fn, [a, b], c)``: the Values inside list/tuple inputs become inputs too."""
    kinds = [type(a) if type(a) in (list, tuple) else None for a in inputs]
    sizes = [len(a) if kind else 1 for a, kind in zip(inputs, kinds)]
    flat = [v for a, kind in zip(inputs, kinds) for v in (a if kind else (a,))]

    def unflattened(*xs: Any) -> Any:  # keeps sizes and kinds only, never the Values
        args, start = [], 0
        for kind, size in zip(kinds, sizes):
            args.append(kind(xs[start : start + size]) if kind else xs[start])
            start += size
        return fn(*args)

    return checkpoint(unflattened, *flat)


def _segment(fn: Callable[..., Any], saved: tuple[Any, ...]) -> tuple[Any, list[Value]]:
    """``fn`` on fresh leaves made from the saved numbers: its result and the leaves of the
    inputs that require grad."""
    leaves: list[Value] = []
    args = []
    for a in saved:
        if isinstance(a, _Saved):
            args.append(Value(a.data, requires_grad=a.requires_grad))
            if a.requires_grad:
                leaves.append(args[-1])
        else:
            args.append(a)
    return fn(*args), leaves


def _recompute(fn: Callable[..., Any], saved: tuple[Any, ...], closed_over: list[Value],
               k: int, many: bool) -> Callable[..., list[Any]]:  # fmt: skip
    """The checkpoint node's backward: rebuild the segment, run the reverse pass through it."""

    def vjp(g: float, *xs_out: Any) -> list[Any]:
        with enable_grad():
            result, leaves = _segment(fn, saved)
        out = result[k] if many else result
        if not isinstance(out, Value):
            raise TypeError(f"checkpoint: fn returned {type(out).__name__} on recomputation")
        ends = [*leaves, *closed_over]
        if not out.requires_grad:
            return [MASKED] * len(ends)
        # The same reverse pass as backward(), over the segment only: the shares of its
        # inputs and of the leaves it closes over go back to the enclosing pass, which
        # stores them and calls their hooks (so none is called here)
        grads = adjoints({out: g}, hooks=False, only=between([out], ends))
        return [grads.get(end, MASKED) for end in ends]

    return vjp


def checkpoint_sequential(functions: Sequence[Callable[[Any], Any]], segments: int, x: Any) -> Any:
    """Run ``x`` through ``functions`` in order, checkpointing ``segments`` equal chunks.

    ``x`` is a Value, or a list of Values when each function maps a list to a list
    (a layer of several neurons).

    Only each chunk's output is kept; backward recomputes one chunk at a time. With
    L functions, ``segments = round(√L)`` gives the O(√L) memory of the module docs.
    The last chunk is checkpointed too, unlike PyTorch's version, so that peak memory
    is set by the chunk size alone.
    """
    fns = list(functions)
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise ValueError(f"checkpoint_sequential needs segments >= 1, got {segments!r}")
    if not fns:
        return x
    segments = min(segments, len(fns))
    size = math.ceil(len(fns) / segments)

    def run(chunk: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
        def segment(v: Any) -> Any:
            for f in chunk:
                v = f(v)
            return v

        return segment

    for start in range(0, len(fns), size):
        segment = run(fns[start : start + size])
        if isinstance(x, (list, tuple)):
            x = checkpoint(lambda *vs, segment=segment: segment(list(vs)), *x)
        else:
            x = checkpoint(segment, x)
    return x
