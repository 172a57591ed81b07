"""Pictures of computation graphs: DOT text, graphviz drawings, and the backward pass step by step.

>>> from chainrule import Value
>>> from chainrule.viz import to_dot
>>> x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(1.0, label="b")
>>> y = (x * w + b) ** 2
>>> to_dot(y).startswith("digraph chainrule {")
True

:func:`to_dot` and :func:`backward_steps` need nothing beyond the standard library;
:func:`draw_dot`, :func:`render`, :func:`render_backward` and the notebook display need the
graphviz Python package and Graphviz's ``dot`` program (``pip install "chainrule[viz]"``).
"""

from chainrule.viz.dot import STYLE, to_dot
from chainrule.viz.draw import (
    Graph,
    GraphvizNotFoundError,
    draw_dot,
    module_graph,
    render,
    repr_mimebundle,
    repr_svg,
    to_text,
)
from chainrule.viz.trace import GraphTooLargeError, format_number
from chainrule.viz.walkthrough import (
    BackwardFrame,
    BackwardStep,
    WalkthroughFiles,
    backward_frames,
    backward_steps,
    render_backward,
)

__all__ = [
    "STYLE",
    "BackwardFrame",
    "BackwardStep",
    "Graph",
    "GraphTooLargeError",
    "GraphvizNotFoundError",
    "WalkthroughFiles",
    "backward_frames",
    "backward_steps",
    "draw_dot",
    "format_number",
    "module_graph",
    "render",
    "render_backward",
    "repr_mimebundle",
    "repr_svg",
    "to_dot",
    "to_text",
]
