"""PyTorch's graph API on a graph you have already built: ``grad`` and ``backward``.

Both are thin wrappers over the one reverse pass, :func:`chainrule.engine.adjoints`,
which takes several roots with a seed each and writes no ``.grad``:

* :func:`grad` returns ``d outputs / d inputs`` and leaves every ``.grad`` alone
  (``torch.autograd.grad``);
* :func:`backward` accumulates into ``.grad`` from several roots at once
  (``torch.autograd.backward``; also ``chainrule.backward``), exactly as calling
  ``Value.backward`` on ``sum_k grad_k * output_k`` would.

>>> from chainrule import Value
>>> x = Value(3.0)
>>> y = x * x
>>> grad(y, x)            # dy/dx = 2x, and x.grad is untouched
(6.0,)
>>> x.grad
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.engine import Value, adjoints, between, store
from chainrule.ops import MASKED

__all__ = ["backward", "grad"]

Values = Value | Sequence[Value]
Seeds = Value | float | Sequence[Value | float] | None


def _values(xs: Values, what: str) -> list[Value]:
    many: list[Any] = list(xs) if isinstance(xs, (list, tuple)) else [xs]
    if not many:
        raise ValueError(f"{what} is empty; give at least one Value")
    for i, x in enumerate(many):
        if not isinstance(x, Value):
            raise TypeError(f"{what}[{i}] must be a Value, got {type(x).__name__} {x!r}")
    return many


def _roots(outputs: Values, seeds: Seeds) -> dict[Value, Any]:
    """Each output (all must require grad) with its seed (1.0 when none is given); an
    output given twice gets the sum of its seeds."""
    outs = _values(outputs, "outputs")
    if seeds is None:
        gs: list[Any] = [1.0] * len(outs)
    else:
        gs = list(seeds) if isinstance(seeds, (list, tuple)) else [seeds]
        if len(gs) != len(outs):
            raise ValueError(f"got {len(gs)} gradient(s) for {len(outs)} output(s)")
    for i, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(
                f"output {i} does not require grad: it was built under no_grad(), from "
                "constants only, or by detach()"
            )
    summed: dict[Value, Any] = {}
    for o, g in zip(outs, gs):
        summed[o] = summed[o] + g if o in summed else g
    return summed


def grad(outputs: Values, inputs: Values, grad_outputs: Seeds = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Any, ...]:  # fmt: skip
    """``sum_k grad_outputs[k] * d outputs[k] / d inputs[i]`` for each input, as a tuple.

    One reverse pass from every output, over the part of the graph between the outputs
    and the inputs only (no hook below the inputs is called); no ``.grad`` is read or
    written. ``inputs`` may be leaves or interior nodes. An input the outputs do not
    depend on is an error unless ``allow_unused=True``, which gives ``None`` for it
    (PyTorch); ``allow_unused=True`` also gives ``None`` where only masked edges reach an
    input (a Function's backward returned None, relu below 0), which is 0.0 otherwise. With
    ``create_graph=True`` the gradients are Values that can be differentiated again.
    ``retain_graph`` is accepted and has no effect: chainrule never frees a graph.

    >>> a, b = Value(2.0), Value(5.0)
    >>> grad([a * b, a + b], [a, b], grad_outputs=[1.0, 10.0])  # (b + 10, a + 10)
    (15.0, 12.0)
    """
    del retain_graph
    seeds = _roots(outputs, grad_outputs)
    ins = _values(inputs, "inputs")
    for i, x in enumerate(ins):
        if not x.requires_grad:
            raise RuntimeError(f"inputs[{i}] does not require grad, so it has no gradient")
    grads = adjoints(seeds, create_graph=create_graph, only=between(seeds, ins))
    result = []
    for i, x in enumerate(ins):
        g = grads.get(x, MASKED)
        if g is MASKED and allow_unused:
            g = None  # no gradient reaches x (not even a masked edge's 0.0 counts)
        elif x not in grads:
            raise RuntimeError(
                f"inputs[{i}] was not used to compute the outputs; pass allow_unused=True "
                "to get None for it"
            )
        result.append(g)
    return tuple(result)


def backward(tensors: Values, grad_tensors: Seeds = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Values | None = None) -> None:  # fmt: skip
    """Accumulate ``sum_k grad_tensors[k] * d tensors[k] / d leaf`` into ``.grad``.

    One reverse pass from every root (``chainrule.backward([y1, y2], [g1, g2])``). As with
    ``Value.backward``, leaves accumulate with ``+=`` and interior nodes show this call's
    adjoints. ``inputs`` restricts the pass to the part of the graph above those nodes and
    the writing to them (PyTorch).
    """
    del retain_graph
    seeds = _roots(tensors, grad_tensors)
    wanted = None if inputs is None else set(_values(inputs, "inputs"))
    walk = None if wanted is None else between(seeds, wanted)
    grads = adjoints(seeds, create_graph=create_graph, only=walk)
    store(grads if wanted is None else {x: g for x, g in grads.items() if x in wanted})
