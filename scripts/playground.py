"""The Python half of the docs playground (``docs/playground/``), run inside Pyodide.

:func:`run` executes a learner's code and describes what it built, as one JSON-ready dict: what
the code printed, every variable that holds a :class:`~chainrule.Value` (its ``data`` and
``grad``), the DOT text of the graph (:func:`chainrule.viz.to_dot`) and the backward pass step
by step. The steps, their captions and the highlighted frames come from
:mod:`chainrule.viz.walkthrough` itself (the code behind :func:`~chainrule.viz.render_backward`),
so the page shows exactly what the library computes; the browser only draws the DOT text.

The same module runs in CPython, where the tests check it against ``render_backward``.
"""

from __future__ import annotations

import contextlib
import io
import json
import linecache
import sys
import traceback
from collections.abc import Mapping
from typing import Any

import chainrule
from chainrule import Value, topological_order
from chainrule.viz import to_dot
from chainrule.viz.trace import GraphTooLargeError, as_float, format_number, trace
from chainrule.viz.walkthrough import backward_frames

FILENAME = "<your code>"
"""The file name tracebacks give the learner's code."""

MAX_PRINTED = 20_000
"""Characters of printed output kept (a loop that prints a million lines stays readable)."""

FONT = "Courier"
"""The frames' fixed-width font. ``render_backward`` asks for ``monospace``, which the ``dot``
program measures with the real font; Graphviz in WebAssembly has no fonts and estimates text
widths from built-in tables, where only Courier is fixed-width (``monospace`` would be measured
as Times, and the text would overflow its boxes)."""

WIDE_DEPTH = 6
"""Graphs with more value levels than this are drawn top to bottom when the layout is "auto":
a long chain drawn left to right is too wide to read on a projected screen."""

GRAPH_MAX_NODES = 200
WALK_MAX_NODES = 60
"""A walkthrough is for small graphs, as with ``render_backward``."""


def show(value: Value) -> Value:
    """Draw this Value's graph and walk through its backward pass (predefined in the page)."""
    if not isinstance(value, Value):
        raise TypeError(f"show() needs a Value, got {type(value).__name__} {value!r}")
    _shown.append(value)
    return value


_shown: list[Value] = []


def named_values(namespace: Mapping[str, Any]) -> dict[str, Value]:
    """The learner's variables that hold a Value, in the order they were first assigned."""
    return {
        name: v
        for name, v in namespace.items()
        if isinstance(v, Value) and not name.startswith("_")
    }


def pick_root(values: Mapping[str, Value]) -> Value | None:
    """The Value to draw when the code does not call ``show``: the last one no other uses."""
    used: set[int] = set()
    for v in values.values():
        if v.requires_grad:
            used.update(id(p) for p in topological_order(v) if p is not v)
    roots = [v for v in values.values() if id(v) not in used]
    return roots[-1] if roots else None


def error_report(exc: BaseException, library_frames: int = 2) -> dict[str, Any]:
    """The readable end of a traceback: the learner's frames, the library frames just after.

    Frames of this module are dropped; library paths are shortened to ``chainrule/...``.
    """
    te = traceback.TracebackException.from_exception(exc)
    frames = list(te.stack)
    user = [i for i, f in enumerate(frames) if f.filename == FILENAME]
    line = frames[user[-1]].lineno if user else None
    if user:
        keep = frames[user[0] : user[-1] + 1 + library_frames]
    else:
        keep = frames[-library_frames:] if library_frames else []
    keep = [f for f in keep if f.filename != __file__]
    lines = ["Traceback (most recent call last):"] if keep else []
    for f in keep:
        name = f.filename
        if "chainrule/" in name and name != FILENAME:
            name = "chainrule/" + name.rsplit("chainrule/", 1)[1]
        lines.append(f'  File "{name}", line {f.lineno}, in {f.name}')
        if f.line:
            lines.append(f"    {f.line.strip()}")
    if isinstance(exc, SyntaxError) and exc.filename == FILENAME:
        line = exc.lineno
    lines.extend(part.rstrip("\n") for part in te.format_exception_only())
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "line": line,
        "text": "\n".join(lines),
    }


def depth(root: Value) -> int:
    """Value levels on the longest path from a leaf to ``root`` (a leaf alone: 1)."""
    tr = trace(root, max_nodes=GRAPH_MAX_NODES)
    level: list[int] = []
    for node in tr.nodes:  # parents come first
        parents = [level[p] for p in (tr.number.get(id(q)) for q in node._prev) if p is not None]
        level.append(1 + max(parents, default=0))
    return level[-1]


def choose_rankdir(root: Value, layout: str) -> str:
    """``LR`` or ``TB`` for the layout asked for: ``"LR"``, ``"TB"`` or ``"auto"``."""
    if layout in ("LR", "TB"):
        return layout
    if layout != "auto":
        raise ValueError(f"layout must be 'auto', 'LR' or 'TB', got {layout!r}")
    return "TB" if depth(root) > WIDE_DEPTH else "LR"


def walkthrough(
    root: Value, labels: Mapping[Value, str], rankdir: str = "LR"
) -> list[dict[str, Any]]:
    """One frame per step of ``root.backward()``, then the finished gradients.

    Each frame has the caption and the DOT text ``render_backward`` draws for that step (the
    caption sits in the page, not in the picture; the font is :data:`FONT`) and ``current``,
    the DOT name (``v<i>``) of the highlighted node (``None`` on the last frame).
    """
    frames = backward_frames(
        root, rankdir=rankdir, labels=labels, max_nodes=WALK_MAX_NODES, fontname=FONT
    )
    return [
        {
            "caption": frame.caption,
            "dot": frame.dot,
            "current": None if frame.current is None else f"v{frame.current}",
        }
        for frame in frames
    ]


def describe(root: Value, values: Mapping[str, Value], layout: str = "auto") -> dict[str, Any]:
    """The graph of ``root`` and its backward walkthrough, named by the learner's variables."""
    labels = {v: name for name, v in values.items() if not v.label}
    out: dict[str, Any] = {"root": labels.get(root) or root.label or "the output"}
    try:
        rankdir = choose_rankdir(root, layout)
    except GraphTooLargeError:
        out.update(graph=None, frames=[], rankdir=None)
        out["note"] = (
            f"The graph of {out['root']} has more than {GRAPH_MAX_NODES} values: too many to "
            "draw here. show() a smaller part of it."
        )
        return out
    out["rankdir"] = rankdir
    out["graph"] = to_dot(
        root, rankdir=rankdir, labels=labels, legend=True, max_nodes=GRAPH_MAX_NODES
    )
    if not root.requires_grad:
        out["note"] = (
            "This Value does not require grad (it was built from constants only, under "
            "no_grad() or by detach()), so backward() has no steps to show."
        )
        out["frames"] = []
    else:
        try:
            out["frames"] = walkthrough(root, labels, rankdir)
        except GraphTooLargeError:
            out["frames"] = []
            out["note"] = (
                f"The graph has more than {WALK_MAX_NODES} values: too many to step through "
                "one by one. Try a smaller example."
            )
    return out


def run(code: str, layout: str = "auto") -> dict[str, Any]:
    """Run the learner's code in a fresh namespace and describe what it printed and built.

    ``layout`` is the graphs' direction: ``"LR"``, ``"TB"`` or ``"auto"`` (:func:`choose_rankdir`).
    ``ok`` is False when the code raised; ``error`` then holds the readable traceback.
    The values, the graph and the walkthrough are described even after an error, for the
    Values built before it.
    """
    _shown.clear()
    namespace: dict[str, Any] = {"__name__": "__main__", "show": show}
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(keepends=True), FILENAME)
    printed = io.StringIO()
    result: dict[str, Any] = {"ok": True, "error": None}
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            exec(compile(code, FILENAME, "exec"), namespace)
        except BaseException as exc:  # the learner's code may raise anything, even SystemExit
            result["ok"] = False
            result["error"] = error_report(exc)
    text = printed.getvalue()
    if len(text) > MAX_PRINTED:
        text = text[:MAX_PRINTED] + f"\n... ({len(text) - MAX_PRINTED} more characters)"
    result["printed"] = text
    values = named_values(namespace)
    result["values"] = [
        {
            "name": name,
            "label": v.label,
            "data": format_number(v.data),
            "grad": format_number(v.grad),
            "exact_data": repr(as_float(v.data)),
            "exact_grad": repr(as_float(v.grad)),
            "requires_grad": v.requires_grad,
        }
        for name, v in values.items()
    ]
    root = _shown[-1] if _shown else pick_root(values)
    result["view"] = None
    if root is not None:
        try:
            result["view"] = describe(root, values, layout)
        except Exception as exc:
            if result["ok"]:
                result["ok"] = False
                result["error"] = error_report(exc, library_frames=1)
    _shown.clear()
    return result


def run_json(code: str, layout: str = "auto") -> str:
    """:func:`run`, as JSON text (what the page reads)."""
    return json.dumps(run(code, layout))


def versions() -> str:
    """What the page says it runs: chainrule's and Python's versions, as JSON text."""
    return json.dumps({"chainrule": chainrule.__version__, "python": sys.version.split()[0]})
