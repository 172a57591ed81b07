"""Walking a graph for drawing: which nodes, in what order, of what kind, with which adjoints.

Everything here is pure Python on the engine's public node fields (``data``, ``grad``,
``_prev``, ``_op``, ``label``, ``requires_grad``, ``grad_fn``), so :func:`to_dot` and the
walkthrough work without graphviz. Drawing forward needs only ``data``, ``grad``, ``_prev``,
``_op`` and ``label``: any object with those fields is drawn (a learner's own ``Value``
class, micrograd's, ...), its ``_prev`` may be any iterable (micrograd keeps a ``set``), and a
node without ``requires_grad`` counts as requiring grad.

Nodes are numbered by their position in a topological order (parents before children,
parents visited in argument order), never by ``id()``: the same graph always gets the same
numbers, so its DOT text is the same on every run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chainrule.engine import Value

__all__ = [
    "KINDS",
    "GraphTooLargeError",
    "Kind",
    "Trace",
    "format_number",
    "local_partials",
    "trace",
]

Kind = Literal["output", "intermediate", "parameter", "input", "constant"]
KINDS: tuple[Kind, ...] = ("output", "intermediate", "parameter", "input", "constant")
"""Every kind of value node, in the order the legend lists them."""

DEFAULT_MAX_NODES = 500
"""Above this many value nodes a drawing is refused: ``dot`` would take seconds to minutes."""


class GraphTooLargeError(ValueError):
    """The graph has more value nodes than ``max_nodes`` allows."""


@dataclass
class Trace:
    """The part of a graph that will be drawn.

    ``nodes`` is in topological order; a node's number is its position there. ``cut`` holds
    the numbers of drawn nodes whose parents were left out by a ``depth`` limit.
    """

    roots: tuple[Value, ...]
    nodes: list[Value]
    number: dict[int, int]  # id(node) -> position in ``nodes``
    kinds: list[Kind]
    cut: frozenset[int] = field(default_factory=frozenset)

    def __len__(self) -> int:
        return len(self.nodes)

    def index(self, node: Value) -> int:
        """The number of ``node`` in this drawing (KeyError if it is not drawn)."""
        return self.number[id(node)]

    def __contains__(self, node: object) -> bool:
        return id(node) in self.number

    def edges(self) -> list[tuple[int, int, int]]:
        """``(parent, child, argument position)`` for every drawn edge, in a fixed order."""
        out: list[tuple[int, int, int]] = []
        for c, node in enumerate(self.nodes):
            for pos, parent in enumerate(parents(node)):
                p = self.number.get(id(parent))
                if p is not None:
                    out.append((p, c, pos))
        return out


def parents(node: Value) -> tuple[Value, ...]:
    """``node._prev`` as a tuple (another class may keep its parents in a set or a list)."""
    prev = node._prev
    return prev if isinstance(prev, tuple) else tuple(prev)


def requires_grad(node: Value) -> bool:
    """``node.requires_grad``; True for a class without that field (micrograd's Value)."""
    return bool(getattr(node, "requires_grad", True))


def as_roots(root: Value | Sequence[Value]) -> tuple[Value, ...]:
    """One output or several, as a tuple (a model with several outputs draws them all)."""
    roots = tuple(root) if isinstance(root, Sequence) else (root,)
    for r in roots:
        if not hasattr(r, "_prev") or not hasattr(r, "data"):
            raise TypeError(
                f"chainrule.viz draws Values, got {type(r).__name__} {r!r}"
                " (for a model, use chainrule.viz.module_graph(model, inputs))"
            )
    if not roots:
        raise ValueError("nothing to draw: got an empty sequence of outputs")
    return roots


def _too_large(max_nodes: int, depth: int | None = None) -> GraphTooLargeError:
    where = "" if depth is None else f" within depth={depth}"
    return GraphTooLargeError(
        f"the graph has more than max_nodes={max_nodes} value nodes{where}; drawing it would "
        "take dot a long time and give an unreadable picture. Draw only the levels next to "
        "the output with depth=3 (say), or raise max_nodes (None for no limit) if you really "
        "want all of it."
    )


def _levels(roots: tuple[Value, ...], depth: int, max_nodes: int) -> set[int]:
    """ids of the nodes at most ``depth - 1`` steps from an output (breadth first)."""
    keep = {id(r) for r in roots}
    frontier = list(roots)
    for _ in range(depth - 1):
        nxt: list[Value] = []
        for node in frontier:
            for parent in parents(node):
                if id(parent) not in keep:
                    keep.add(id(parent))
                    nxt.append(parent)
        if len(keep) > max_nodes:
            raise _too_large(max_nodes, depth)
        frontier = nxt
    return keep


def trace(
    root: Value | Sequence[Value],
    *,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    depth: int | None = None,
    params: Iterable[Value] | None = None,
) -> Trace:
    """Collect the nodes to draw, in topological order, and classify each one.

    ``depth=k`` keeps only the ``k`` levels nearest the output(s) (level 0 is the output).
    ``params`` names the trainable leaves; when it is given, the other leaves that require
    grad are drawn as inputs, otherwise every leaf that requires grad is a parameter.
    Raises :class:`GraphTooLargeError` as soon as more than ``max_nodes`` nodes are found,
    so a huge graph costs at most ``max_nodes`` steps to refuse.
    """
    roots = as_roots(root)
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise ValueError(f"depth must be a positive integer (levels to draw), got {depth!r}")
    limit = math.inf if max_nodes is None else max_nodes
    allowed = _levels(roots, depth, int(limit)) if depth is not None else None
    # Iterative depth-first search: no recursion limit on long chains.
    order: list[Value] = []
    seen: set[int] = set()
    for r in roots:
        if id(r) in seen:
            continue
        seen.add(id(r))
        stack: list[tuple[Value, int]] = [(r, 0)]
        while stack:
            node, i = stack[-1]
            prev = parents(node)
            while i < len(prev) and (
                id(prev[i]) in seen or (allowed is not None and id(prev[i]) not in allowed)
            ):
                i += 1
            if i < len(prev):
                stack[-1] = (node, i + 1)
                seen.add(id(prev[i]))
                if len(seen) > limit:
                    raise _too_large(int(limit))
                stack.append((prev[i], 0))
            else:
                stack.pop()
                order.append(node)
    number = {id(n): i for i, n in enumerate(order)}
    root_ids = {id(r) for r in roots}
    param_ids = None if params is None else {id(p) for p in params}
    kinds = [_kind(n, id(n) in root_ids, param_ids) for n in order]
    cut = frozenset(number[id(n)] for n in order if any(id(p) not in number for p in parents(n)))
    return Trace(roots, order, number, kinds, cut)


def _kind(node: Value, is_root: bool, param_ids: set[int] | None) -> Kind:
    if is_root:
        return "output"
    if parents(node):
        return "intermediate"
    if not requires_grad(node):
        return "constant"
    if param_ids is None or id(node) in param_ids:
        return "parameter"
    return "input"


def as_float(x: Any) -> float:
    """A float from a number or a Value (``grad`` is a Value after ``create_graph=True``)."""
    return float(getattr(x, "data", x))


def local_partials(node: Value) -> tuple[float, ...]:
    """d node / d parent for each parent (the shares of an adjoint of 1.0)."""
    op = node.grad_fn
    if op is None:
        return ()
    xs = [p.data for p in node._prev]
    return tuple(as_float(d) for d in op.vjp(1.0, xs, node.data))


def format_number(x: Any, precision: int = 4) -> str:
    """A short, readable form of a number: ``precision`` significant digits, no noise.

    ``2.0 -> '2'``, ``-0.76159 -> '-0.7616'``, ``12345.6 -> '12346'``, ``1.5e-07 -> '1.5e-7'``.
    """
    v = as_float(x)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0.0:
        return "0"  # also for -0.0, which only confuses a reader
    digits = math.floor(math.log10(abs(v))) + 1
    # up to a million, show every integer digit rather than an exponent
    text = f"{v:.{max(precision, digits) if 0 < digits <= 7 else precision}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def labels_of(mapping: Mapping[Value, str] | None) -> dict[int, str]:
    """Label overrides keyed by ``id()`` (the nodes themselves are never relabelled)."""
    return {} if mapping is None else {id(k): v for k, v in mapping.items()}
