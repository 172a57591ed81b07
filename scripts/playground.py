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
import functools
import io
import json
import linecache
import sys
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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


def error_report(exc: BaseException) -> dict[str, Any]:
    """The learner's side of a traceback: their own lines and the message.

    chainrule's frames (and this module's) are left out, as a teacher would when showing a
    class what went wrong: the message names what was given and what was expected.
    """
    te = traceback.TracebackException.from_exception(exc)
    keep = [f for f in te.stack if f.filename == FILENAME]
    line = keep[-1].lineno if keep else None
    lines = ["Traceback (most recent call last):"] if keep else []
    for f in keep:
        lines.append(f'  File "{f.filename}", line {f.lineno}, in {f.name}')
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


@dataclass
class Backward:
    """The backward() calls the learner's code made that finished: how many, and the last one's
    ``(root, gradient)`` (only the last: a training loop's earlier graphs are freed)."""

    count: int = 0
    last: tuple[Value, Any] | None = None


@contextlib.contextmanager
def watching_backward() -> Iterator[Backward]:
    """Record every ``Value.backward`` call made inside the block (the page walks through the
    pass that really ran, and says so when none did)."""
    seen = Backward()
    original = Value.backward

    @functools.wraps(original)
    def backward(self: Value, gradient: Any = 1.0, *args: Any, **kwargs: Any) -> None:
        original(self, gradient, *args, **kwargs)
        seen.count += 1
        seen.last = (self, gradient)

    setattr(Value, "backward", backward)  # noqa: B010 (mypy: assigning to a method)
    try:
        yield seen
    finally:
        setattr(Value, "backward", original)  # noqa: B010


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
    root: Value,
    labels: Mapping[Value, str],
    rankdir: str = "LR",
    gradient: Any = 1.0,
    called: bool | None = None,
) -> list[dict[str, Any]]:
    """One frame per step of ``root.backward(gradient)``, then the finished gradients.

    Each frame has the caption and the DOT text ``render_backward`` draws for that step (the
    caption sits in the page, not in the picture; the font is :data:`FONT`) and ``current``,
    the DOT name (``v<i>``) of the highlighted node (``None`` on the last frame). ``called``
    is passed to :func:`~chainrule.viz.backward_frames` (False: the captions say backward()
    was not called).
    """
    frames = backward_frames(
        root,
        as_float(gradient),
        rankdir=rankdir,
        labels=labels,
        max_nodes=WALK_MAX_NODES,
        fontname=FONT,
        called=called,
    )
    return [
        {
            "caption": frame.caption,
            "dot": frame.dot,
            "current": None if frame.current is None else f"v{frame.current}",
            "status": frame.status,
        }
        for frame in frames
    ]


@dataclass
class Ran:
    """What a run left behind, kept so that a new layout redraws it without running again."""

    values: dict[str, Value]
    shown: Value | None  # the Value show() picked
    unused: Value | None  # the last Value that no other uses (drawn when show() was not called)
    backward: Backward
    failed: bool


def first(*values: Value | None) -> Value | None:
    """The first that is not None (``a or b`` would ask a Value for its truth, a number's)."""
    return next((v for v in values if v is not None), None)


def _name(v: Value, labels: Mapping[Value, str]) -> str:
    return labels.get(v) or v.label or "the output"


def walk_of(ran: Ran, labels: Mapping[Value, str]) -> tuple[Value | None, Any, bool, str]:
    """Which pass the walkthrough shows: ``(root, gradient, called, note)``.

    The last backward() call the code made, whose numbers the table shows; without one, a
    preview of ``shown.backward()``, marked as such; after an error, no pass at all (it
    would be a pass that never ran, of whatever Value the error left behind).
    """
    if ran.backward.last is not None:
        root, gradient = ran.backward.last
        name = labels.get(root) or root.label
        count = ran.backward.count
        note = f"The pass of {name + '.' if name else ''}backward(), which your code ran"
        note += "." if count == 1 else f" (the last of its {count} backward() calls)."
        if ran.shown is not None and ran.shown is not root:
            note += (
                f" show({_name(ran.shown, labels)}) picks the graph at the end of the page; "
                "the walkthrough follows the backward() that ran."
            )
        return root, gradient, True, note
    drawn = first(ran.shown, ran.unused)
    if ran.failed or drawn is None:
        note = "Your code stopped with an error before backward() ran: there is no pass to show."
        return None, 1.0, False, note if ran.failed else "Run code that builds a Value."
    note = (
        "backward() was not called: this is what it would do. The table shows .grad as your "
        f"code left it; call {_name(drawn, labels)}.backward() to run this pass."
    )
    return drawn, 1.0, False, note


def describe(ran: Ran, layout: str = "auto") -> dict[str, Any] | None:
    """The graph of the shown Value and the walkthrough of the pass that ran (:func:`walk_of`),
    named by the learner's variables."""
    if ran.shown is None and ran.unused is None and ran.backward.last is None:
        return None
    labels = {v: name for name, v in ran.values.items() if not v.label}
    root, gradient, called, walk_note = walk_of(ran, labels)
    # the graph: show()'s Value, else the pass's root, else the last Value nothing uses
    shown = first(ran.shown, root, ran.unused)
    assert shown is not None
    out: dict[str, Any] = {"root": _name(shown, labels), "frames": [], "walk": None}
    out["walk_note"] = walk_note
    try:
        rankdir = choose_rankdir(shown, layout)
    except GraphTooLargeError:
        out.update(graph=None, rankdir=None)
        out["note"] = (
            f"The graph of {out['root']} has more than {GRAPH_MAX_NODES} values: too many to "
            "draw here. show() a smaller part of it."
        )
        return out
    out["rankdir"] = rankdir
    out["graph"] = to_dot(
        shown, rankdir=rankdir, labels=labels, legend=True, max_nodes=GRAPH_MAX_NODES
    )
    if root is None:
        return out
    out["walk"] = _name(root, labels)
    if not root.requires_grad:
        out["walk_note"] = (
            "This Value does not require grad (it was built from constants only, under "
            "no_grad() or by detach()), so backward() has no steps to show."
        )
        return out
    try:
        out["frames"] = walkthrough(root, labels, rankdir, gradient, called)
    except GraphTooLargeError:
        out["walk_note"] = (
            f"The graph has more than {WALK_MAX_NODES} values: too many to step through "
            "one by one. Try a smaller example."
        )
    else:
        if out["frames"][0]["status"] == "differs":
            out["walk_note"] += (
                " The table's .grad hold other numbers: .grad adds up every backward() call "
                "since the last zero_grad()."
            )
    return out


_last: list[tuple[Ran, dict[str, Any]]] = []
"""The last run and its result, for :func:`relayout`."""


def run(code: str, layout: str = "auto") -> dict[str, Any]:
    """Run the learner's code in a fresh namespace and describe what it printed and built.

    ``layout`` is the graphs' direction: ``"LR"``, ``"TB"`` or ``"auto"`` (:func:`choose_rankdir`).
    ``ok`` is False when the code raised; ``error`` then holds the readable traceback.
    The values and the graph are described even after an error, for the Values built before
    it; the walkthrough shows only a backward() that ran (:func:`walk_of`).
    """
    _shown.clear()
    _last.clear()
    namespace: dict[str, Any] = {"__name__": "__main__", "show": show}
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(keepends=True), FILENAME)
    printed = io.StringIO()
    result: dict[str, Any] = {"ok": True, "error": None}
    with (
        contextlib.redirect_stdout(printed),
        contextlib.redirect_stderr(printed),
        watching_backward() as backward,
    ):
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
    shown = _shown[-1] if _shown else None
    _shown.clear()
    ran = Ran(values, shown, pick_root(values), backward, failed=not result["ok"])
    _last.append((ran, result))
    return with_view(ran, result, layout)


def with_view(ran: Ran, result: dict[str, Any], layout: str) -> dict[str, Any]:
    """``result`` with the graph and the walkthrough drawn for ``layout``."""
    result = dict(result, view=None)
    try:
        result["view"] = describe(ran, layout)
    except Exception as exc:
        if result["ok"]:
            result["ok"] = False
            result["error"] = error_report(exc)
    return result


def relayout(layout: str) -> dict[str, Any]:
    """The last run's result drawn for another ``layout``, without running the code again."""
    if not _last:
        raise RuntimeError("nothing to lay out: no code has run yet")
    ran, result = _last[-1]
    return with_view(ran, result, layout)


def run_json(code: str, layout: str = "auto") -> str:
    """:func:`run`, as JSON text (what the page reads)."""
    return json.dumps(run(code, layout))


def relayout_json(layout: str) -> str:
    """:func:`relayout`, as JSON text."""
    return json.dumps(relayout(layout))


def versions() -> str:
    """What the page says it runs: chainrule's and Python's versions, as JSON text."""
    return json.dumps({"chainrule": chainrule.__version__, "python": sys.version.split()[0]})
