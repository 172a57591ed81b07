"""DOT source for a computation graph, with no dependency at all.

Each value is a record ``label | data | grad``; the operation that produced it is a small
circle between its inputs and it, as in micrograd's ``draw_dot``. The fill colour says what
kind of node it is:

======================  =========================================================
output                  the value you call ``backward()`` on (orange, bold border)
intermediate            computed by an operation (white)
parameter               a leaf that requires grad: what training updates (blue)
input                   a leaf that requires grad but is not in ``params`` (green)
constant                ``requires_grad=False``: a wrapped number or data (grey, dashed)
======================  =========================================================

With ``direction="backward"`` the arrows point from the output towards the leaves and each
edge into a parent carries that parent's share of the adjoint,
``share_i = adjoint * d node / d parent_i``, as the engine's reverse pass computes it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chainrule.engine import Value
from chainrule.engine import adjoints as reverse_pass
from chainrule.viz.trace import (
    DEFAULT_MAX_NODES,
    KINDS,
    Kind,
    Trace,
    as_float,
    format_number,
    labels_of,
    parents,
    requires_grad,
    trace,
)

__all__ = ["STYLE", "digraph", "dot_lines", "parameter_names", "to_dot", "trainable"]

Direction = Literal["forward", "backward"]

STYLE: dict[str, dict[str, str]] = {
    "output": {"fillcolor": "#fde2b3", "color": "#d97706", "penwidth": "2"},
    "intermediate": {"fillcolor": "#ffffff", "color": "#4b5563"},
    "parameter": {"fillcolor": "#d6e6fa", "color": "#2563eb"},
    "input": {"fillcolor": "#d9f2df", "color": "#15803d"},
    "constant": {"fillcolor": "#eeeeee", "color": "#9ca3af", "style": "filled,dashed"},
    "op": {"fillcolor": "#f5f3ff", "color": "#6b7280"},
    "current": {"fillcolor": "#fff36b", "color": "#b91c1c", "penwidth": "3"},
}
"""Node colours per kind (also ``op`` circles and the walkthrough's ``current`` node)."""

BACKWARD_COLOR = "#b91c1c"
"""Colour of edges that carry adjoints."""

_LEGEND_TEXT: dict[str, str] = {
    "output": "output",
    "intermediate": "intermediate",
    "parameter": "parameter (leaf, requires grad)",
    "input": "input (leaf, requires grad)",
    "constant": "constant (requires_grad=False)",
}


# How a model's parameter path is shortened in a picture: "layers.1.neurons.0.w.2" -> "L1.n0.w2".
_SHORT_PATH = {"layers": "L", "neurons": "n"}


def parameter_names(model: Any) -> dict[Value, str]:
    """Short picture names for the parameters of ``model`` (anything with ``named_parameters()``).

    Each container index is glued to its letter, so an MLP's weight 2 of neuron 0 in layer 1,
    ``layers.1.neurons.0.w.2``, is drawn as ``L1.n0.w2`` and that neuron's bias as ``L1.n0.b``;
    a lone neuron's are ``w0, w1, ..., b``.
    """
    names: dict[Value, str] = {}
    for path, param in model.named_parameters():
        parts: list[str] = []
        for part in path.split("."):
            if part.isdigit() and parts:
                parts[-1] += part
            else:
                parts.append(_SHORT_PATH.get(part, part))
        names[param] = ".".join(parts)
    return names


def trainable(
    params: Any, labels: Mapping[Value, str] | None
) -> tuple[list[Value] | None, dict[Value, str]]:
    """``params`` as a list of Values, and the picture names: a model passed as ``params``
    (anything with ``named_parameters()``) names its unlabelled parameters; ``labels`` win."""
    names: dict[Value, str] = {}
    if params is not None and hasattr(params, "named_parameters"):
        names = {p: name for p, name in parameter_names(params).items() if not p.label}
        params = list(names) + [p for p in params.parameters() if p not in names]
    names.update(labels or {})
    return (None if params is None else list(params)), names


def _quote(text: str) -> str:
    """A DOT double-quoted string; backslashes are kept as escapes for graphviz."""
    return '"' + text.replace('"', '\\"') + '"'


def _plain(text: str) -> str:
    """Text shown verbatim in an ordinary label (no graphviz escapes such as ``\\n``)."""
    return text.replace("\\", "\\\\").replace("\n", " ")


def _field(text: str) -> str:
    """Text shown verbatim in one field of a record label."""
    out = _plain(text)
    for ch in "{}|<>":
        out = out.replace(ch, "\\" + ch)
    return out.strip() or "\\ "


def _attrs(attrs: Mapping[str, str]) -> str:
    return " ".join(f"{key}={_quote(value)}" for key, value in attrs.items())


@dataclass
class Overlay:
    """What a walkthrough frame changes on top of the plain drawing (all keyed by number)."""

    grads: dict[int, str] = field(default_factory=dict)
    """grad text per node; a node missing here shows ``?``."""
    current: int | None = None
    edge_labels: dict[tuple[int, int], str] = field(default_factory=dict)
    """text on the edge into argument ``pos`` of node ``child``: key ``(child, pos)``."""
    hot: set[tuple[int, int]] = field(default_factory=set)
    """edges ``(child, pos)`` drawn in the adjoint colour, pointing back to the parent."""
    width: dict[int, int] = field(default_factory=dict)
    """grad text padded to this many characters, so every frame has the same layout."""
    edge_width: dict[tuple[int, int], int] = field(default_factory=dict)
    """edge labels padded likewise (an edge label takes room in the layout)."""


def dot_lines(
    tr: Trace,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    direction: Direction = "forward",
    legend: bool = False,
    precision: int = 4,
    labels: Mapping[Value, str] | None = None,
    title: str | None = None,
    overlay: Overlay | None = None,
    fontname: str = "Helvetica",
) -> list[str]:
    """The body of the DOT graph as lines (``graphviz.Digraph(body=...)`` takes them as is)."""
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
    names = labels_of(labels)
    lines = _header(rankdir, title, fontname)
    grads, shares = _adjoint_texts(tr, direction, precision, overlay)
    backward = direction == "backward"
    for i, node in enumerate(tr.nodes):
        kind = tr.kinds[i]
        style = dict(STYLE[kind])
        style.setdefault("style", "filled")
        if overlay is not None and overlay.current == i:
            style.update(STYLE["current"])
            if kind == "constant":
                style["style"] = "filled"
        record = _record(
            node,
            names.get(id(node), node.label),
            kind,
            rankdir,
            grads.get(i) if show_grad else None,
            precision,
            0 if overlay is None else overlay.width.get(i, 0),
        )
        lines.append(f"\tv{i} [{_attrs({'label': record, 'shape': 'record', **style})}]\n")
        prev = parents(node)
        if not prev:
            continue
        lines.extend(_op_lines(tr, i, prev, backward, shares, overlay))
    if legend:
        lines.extend(_legend(tr, backward, walkthrough=overlay is not None))
    return lines


def _header(rankdir: str, title: str | None, fontname: str) -> list[str]:
    """The graph, node and edge defaults: the first lines of every drawing."""
    graph = {
        "rankdir": rankdir,
        "bgcolor": "white",
        "fontname": fontname,
        "fontsize": "12",
        "nodesep": "0.25",
        "ranksep": "0.4",
    }
    if title:
        # one left-justified line per line of the title
        text = "".join(_plain(line) + "\\l" for line in title.split("\n"))
        graph.update(label=text, labelloc="t", labeljust="l")
    return [
        f"\tgraph [{_attrs(graph)}]\n",
        f"\tnode [{_attrs({'fontname': fontname, 'fontsize': '11'})}]\n",
        f"\tedge [{_attrs({'fontname': fontname, 'fontsize': '10', 'arrowsize': '0.7'})}]\n",
    ]


def _op_lines(
    tr: Trace,
    i: int,
    prev: tuple[Value, ...],
    backward: bool,
    shares: dict[tuple[int, int], str],
    overlay: Overlay | None,
) -> list[str]:
    """Node ``i``'s op circle, the edges from its drawn parents, and a note for cut parents."""
    node = tr.nodes[i]
    op_style = {
        "label": _plain(node._op or "?"),
        "shape": "circle",
        "width": "0.3",
        "margin": "0.02",
        "fontsize": "10",
        "style": "filled",
        **STYLE["op"],
    }
    lines = [f"\top{i} [{_attrs(op_style)}]\n", f"\top{i} -> v{i}{_edge_style(backward, None)}\n"]
    for pos, parent in enumerate(prev):
        p = tr.number.get(id(parent))
        if p is None:
            continue
        key = (i, pos)
        label = shares.get(key)
        hot = overlay is not None and key in overlay.hot
        if overlay is not None and key in overlay.edge_width:
            label = (label or "").ljust(overlay.edge_width[key])
        lines.append(f"\tv{p} -> op{i}{_edge_style(backward, label, hot, parent)}\n")
    if i in tr.cut:
        hidden = sum(id(p) not in tr.number for p in prev)
        more = {
            "label": f"... {hidden} parent{'s' * (hidden > 1)} not drawn",
            "shape": "plaintext",
            "fontcolor": "#6b7280",
        }
        lines.append(f"\tmore{i} [{_attrs(more)}]\n")
        lines.append(f"\tmore{i} -> op{i} [{_attrs({'style': 'dashed', 'color': '#9ca3af'})}]\n")
    return lines


def _adjoint_texts(
    tr: Trace, direction: Direction, precision: int, overlay: Overlay | None
) -> tuple[dict[int, str], dict[tuple[int, int], str]]:
    """grad text per node and share text per edge ``(child, pos)``."""
    if overlay is not None:
        shown = {i: overlay.grads.get(i, "?") for i in range(len(tr))}
        return shown, dict(overlay.edge_labels)
    if direction == "forward":
        return {i: format_number(n.grad, precision) for i, n in enumerate(tr.nodes)}, {}
    if len(tr.roots) != 1:
        raise ValueError(
            f"direction='backward' needs one output, got {len(tr.roots)}; draw each output "
            "on its own (the adjoints of different outputs are different numbers)"
        )
    foreign = next((n for n in tr.nodes if not isinstance(n, Value)), None)
    if foreign is not None:
        raise TypeError(
            "direction='backward' recomputes the adjoints with chainrule's backward rules, so "
            f"it needs chainrule Values, got a {type(foreign).__name__}; call its own "
            "backward() and draw it with direction='forward' (the default) to see its grads"
        )
    root = tr.roots[0]
    given: dict[Value, tuple[Any, ...]] = {}  # node -> the shares the pass gave its parents
    adj = reverse_pass({root: 1.0}, hooks=False, visit=lambda n, g, s, a: given.update({n: s}))
    grads: dict[int, str] = {}
    shares: dict[tuple[int, int], str] = {}
    for i, node in enumerate(tr.nodes):
        grads[i] = format_number(as_float(adj.get(node, 0.0)), precision)
        for pos, share in enumerate(given.get(node, ())):
            if node._prev[pos].requires_grad:
                shares[(i, pos)] = format_number(as_float(share), precision)
    return grads, shares


def _record(
    node: Value, label: str, kind: Kind, rankdir: str, grad: str | None, precision: int, width: int
) -> str:
    data = format_number(node.data, precision)
    if kind == "constant" and not label:
        fields = [data]  # a wrapped number: the number says it all
    else:
        fields = [_field(label)] if label else []
        fields.append(f"data {data}")
        if grad is not None and requires_grad(node):
            # no-break spaces pad it (a record trims plain blanks) to the same width in every frame
            fields.append(f"grad {_field(grad)}" + "\u00a0" * (width - len(grad)))
    body = " | ".join(fields)
    # In a left-to-right layout a record's fields stack vertically unless braced.
    return f"{{ {body} }}" if rankdir in ("LR", "RL") else body


def _edge_style(
    backward: bool, label: str | None, hot: bool = False, parent: Value | None = None
) -> str:
    attrs: dict[str, str] = {}
    no_grad = parent is not None and not requires_grad(parent)
    if backward:
        # Keep the forward layout (output on the right) but point the arrows back.
        attrs["dir"] = "back"
        attrs["color"] = "#9ca3af" if no_grad else BACKWARD_COLOR
    if no_grad:
        attrs["style"] = "dashed"
        attrs.setdefault("color", "#9ca3af")
    if label is not None:
        attrs["label"] = _plain(label)
        attrs["fontcolor"] = BACKWARD_COLOR
    if hot:
        attrs.update(color=BACKWARD_COLOR, penwidth="2.5", dir="back")
    return f" [{_attrs(attrs)}]" if attrs else ""


def _legend(tr: Trace, backward: bool, walkthrough: bool = False) -> list[str]:
    """One node holding a small table: a swatch per kind present, the op circle, the arrows."""
    rows = ['<tr><td colspan="2" align="left"><b>legend</b></td></tr>']
    for kind in [k for k in KINDS if k in tr.kinds]:
        st = STYLE[kind]
        rows.append(
            f'<tr><td bgcolor="{st["fillcolor"]}" color="{st["color"]}" border="1"'
            f' width="24"> </td><td align="left">{html.escape(_LEGEND_TEXT[kind])}</td></tr>'
        )
    op = STYLE["op"]
    rows.append(
        f'<tr><td bgcolor="{op["fillcolor"]}" color="{op["color"]}" border="1"'
        ' style="rounded">op</td><td align="left">operation that made the value</td></tr>'
    )
    if walkthrough:
        cur = STYLE["current"]
        rows.append(
            f'<tr><td bgcolor="{cur["fillcolor"]}" color="{cur["color"]}" border="1"> </td>'
            '<td align="left">node the backward pass is at</td></tr>'
        )
        rows.append(
            '<tr><td align="left">grad ?</td><td align="left">not reached yet</td></tr>'
            '<tr><td align="left">so far</td><td align="left">a partial sum: more shares to come'
            "</td></tr>"
        )
    if backward or walkthrough:
        rows.append(
            f'<tr><td><font color="{BACKWARD_COLOR}">&#8592; 0.5</font></td>'
            '<td align="left">share of the adjoint sent to a parent</td></tr>'
        )
    table = '<table border="0" cellborder="0" cellspacing="3">' + "".join(rows) + "</table>"
    return [f'\tlegend [shape="plaintext" label=<{table}>]\n']


def to_dot(
    root: Value | Sequence[Value],
    rankdir: str = "LR",
    show_grad: bool = True,
    *,
    direction: Direction = "forward",
    legend: bool = False,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    depth: int | None = None,
    params: Any = None,
    labels: Mapping[Value, str] | None = None,
    precision: int = 4,
    title: str | None = None,
) -> str:
    """DOT source of the graph that computed ``root`` (works without graphviz installed).

    Deterministic: nodes are named ``v0, v1, ...`` by topological position (op circles
    ``op<i>``), so the same graph gives the same text on every run and machine.

    - ``show_grad``: show each node's ``grad`` (after ``backward()``).
    - ``direction="backward"``: arrows from the output to the leaves, labelled with each
      parent's share of the adjoint; the adjoints are recomputed on a private copy seeded with
      1.0 (``.grad`` is neither read nor written), so no ``backward()`` call is needed.
    - ``legend``: add a box explaining the colours.
    - ``max_nodes``: refuse graphs with more value nodes (:class:`GraphTooLargeError`);
      ``depth=k`` draws only the ``k`` levels nearest the output, with "n more" markers.
    - ``params``: the trainable leaves (e.g. ``model.parameters()``); other leaves that
      require grad are then drawn as inputs. Pass the model itself (``params=model``) and its
      parameters are also named by their place in it (:func:`parameter_names`: ``L0.n1.w0``
      is layer 0, neuron 1, weight 0). ``labels``: names for nodes without changing them.
    - ``precision``: significant digits of the numbers shown.
    """
    params, labels = trainable(params, labels)
    tr = trace(root, max_nodes=max_nodes, depth=depth, params=params)
    lines = dot_lines(
        tr,
        rankdir=rankdir,
        show_grad=show_grad,
        direction=direction,
        legend=legend,
        precision=precision,
        labels=labels,
        title=title,
    )
    return digraph(lines)


def digraph(lines: list[str]) -> str:
    """The DOT source of a graph made of ``lines`` (what :func:`dot_lines` returns)."""
    return "digraph chainrule {\n" + "".join(lines) + "}\n"
