"""Gradient checkpointing: trade compute for memory by recomputing a segment in backward.

Reverse mode keeps every intermediate node of the forward pass alive until backward
has used it, so a chain of L layers holds O(L) nodes. ``checkpoint(fn, *inputs)``
runs ``fn`` under :func:`~chainrule.no_grad` and keeps only one node, whose parents
are the inputs. When backward reaches that node, its closure

1. rebuilds the segment from the saved input numbers, with grad enabled,
2. runs a reverse pass through the rebuilt segment, seeded with the adjoint ``g``,
3. returns ``g · d out / d input_i`` for each input and drops the rebuilt graph.

Checkpointing every ``√L`` layers keeps ``√L`` segment outputs plus one rebuilt
segment of ``√L`` layers alive at a time: O(√L) nodes for about one extra forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from chainrule.engine import Value, adjoints, apply
from chainrule.grad_mode import enable_grad, no_grad
from chainrule.ops import HandWrittenOp

__all__ = ["checkpoint", "checkpoint_sequential"]


def _no_second_order(*inputs: Any) -> tuple[Any, ...]:
    raise RuntimeError(
        "create_graph=True cannot pass through a checkpoint: the segment is rebuilt and "
        "differentiated to first order only; call the function without checkpoint() to "
        "take higher derivatives"
    )


class _Saved:
    """What the closure keeps of a Value input: its number and flag, not the node."""

    __slots__ = ("data", "requires_grad")

    def __init__(self, value: Value) -> None:
        self.data, self.requires_grad = value.data, value.requires_grad


def checkpoint(fn: Callable[..., Any], *inputs: Any) -> Any:
    """``fn(*inputs)`` without keeping the graph inside ``fn``; backward recomputes it.

    ``inputs`` are Values (differentiated) or anything else (passed through as is).
    ``fn`` must be deterministic and return a Value or a list/tuple of Values; every
    non-leaf Value it uses must come in through ``inputs`` (leaves it closes over,
    such as a layer's weights, are fine: they receive their gradients during the
    recomputation). For k outputs the segment is recomputed once per output.
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
    with no_grad():
        result = fn(*inputs)
    many = isinstance(result, (list, tuple))
    outs = list(result) if many else [result]
    for k, o in enumerate(outs):
        if not isinstance(o, Value):
            where = f"output {k} of fn" if many else "fn"
            raise TypeError(
                f"checkpoint: {where} must return a Value, got {type(o).__name__} {o!r}"
            )
    parents = tuple(a for a in inputs if isinstance(a, Value) and a.requires_grad)
    saved = tuple(_Saved(a) if isinstance(a, Value) else a for a in inputs)
    nodes = []
    for k, o in enumerate(outs):
        vjp = _recompute(fn, saved, inputs, k, many)
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


def _recompute(
    fn: Callable[..., Any], saved: tuple[Any, ...], inputs: tuple[Any, ...], k: int, many: bool
) -> Callable[..., tuple[float, ...]]:
    """The checkpoint node's backward: rebuild the segment, run the reverse pass through it."""
    is_parent = tuple(isinstance(a, Value) and a.requires_grad for a in inputs)

    def vjp(g: Any, *xs_out: Any) -> tuple[float, ...]:
        if isinstance(g, Value):
            _no_second_order()
        leaves: list[Value] = []
        args: list[Any] = []
        for a, parent in zip(saved, is_parent):
            if isinstance(a, _Saved):
                leaf = Value(a.data, requires_grad=a.requires_grad)
                args.append(leaf)
                if parent:
                    leaves.append(leaf)
            else:
                args.append(a)
        with enable_grad():
            result = fn(*args)
        out = result[k] if many else result
        if not isinstance(out, Value):
            raise TypeError(f"checkpoint: fn returned {type(out).__name__} on recomputation")
        if not out.requires_grad:
            return tuple(0.0 for _ in leaves)
        # The same reverse pass as backward(), hooks included. Adjoints stay in the pass's
        # own dict: the segment's input leaves give the shares returned to the outer pass;
        # other leaves (weights fn closes over) accumulate their gradient as backward() does.
        grads = adjoints({out: g})
        inputs_of_segment = set(leaves)
        for node, a in grads.items():
            if node.grad_fn is None and node not in inputs_of_segment:
                node.grad = node.grad + a
        return tuple(grads.get(leaf, 0.0) for leaf in leaves)

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
