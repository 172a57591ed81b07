"""The backward pass, one node at a time: how a learner *sees* the chain rule.

Reverse mode visits the nodes in reverse topological order. When it reaches a node, every
path from the output to that node has already been accounted for, so the node's adjoint
``a = d out / d node`` is final. The node then sends each parent ``p_i`` the share

    share_i = a * d node / d p_i        (the chain rule)

and the parent adds it to what it has: ``adjoint(p_i) += share_i`` (a parent used twice —
fan-out — receives two shares, and their sum is its adjoint, by the multivariable chain
rule). :func:`backward_steps` watches the engine's own reverse pass do exactly that,
without writing any ``.grad``; :func:`render_backward` draws one picture per
step.
"""

from __future__ import annotations

import html
import io
import json
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chainrule.engine import adjoints as reverse_pass
from chainrule.viz.dot import Overlay, digraph, dot_lines
from chainrule.viz.draw import pipe_source, require_dot, require_graphviz
from chainrule.viz.trace import (
    DEFAULT_MAX_NODES,
    Trace,
    as_float,
    format_number,
    local_partials,
    requires_grad,
    trace,
)

if TYPE_CHECKING:
    from chainrule.engine import Value

__all__ = [
    "STATUS_NOTES",
    "BackwardFrame",
    "BackwardStep",
    "PassStatus",
    "WalkthroughFiles",
    "backward_frames",
    "backward_steps",
    "grad_status",
    "render_backward",
]


@dataclass(frozen=True)
class BackwardStep:
    """What the backward pass does at one node.

    ``contributions[i] = adjoint * local[i]`` is added to ``parents[i]``'s adjoint when
    ``accumulates[i]`` (the parent requires grad; constants get nothing). ``adjoints``
    holds every adjoint known after this step (partial sums for nodes not yet visited).
    """

    index: int
    node: Value
    adjoint: float
    parents: tuple[Value, ...]
    local: tuple[float, ...]
    contributions: tuple[float, ...]
    accumulates: tuple[bool, ...]
    adjoints: Mapping[Value, float]


def backward_steps(
    root: Value, gradient: float = 1.0, *, max_nodes: int | None = DEFAULT_MAX_NODES
) -> Iterator[BackwardStep]:
    """Yield the steps of ``root.backward(gradient)``, output first, without touching ``.grad``.

    The steps are those of the engine's own reverse pass (:func:`chainrule.engine.adjoints`,
    watched node by node), with each node's local derivatives beside its shares. ``.grad`` is
    neither read nor written and the graph is unchanged; hooks are not run. After the last
    step, ``step.adjoints[leaf]`` equals what ``backward()`` leaves in ``leaf.grad`` (when
    the leaf's ``grad`` started at 0). Every step keeps a snapshot of all adjoints, so
    ``max_nodes`` (:class:`GraphTooLargeError` above it) keeps the cost from growing as n².
    """
    tr = trace(root, max_nodes=max_nodes)
    yield from _steps(tr, root, gradient)


def _steps(tr: Trace, root: Value, gradient: float) -> Iterator[BackwardStep]:
    if not root.requires_grad:
        raise ValueError(
            "nothing to walk through: this Value does not require grad (it was built under "
            "no_grad(), from constants only, or by detach()), so backward() has no steps"
        )
    steps: list[BackwardStep] = []

    def visit(node: Value, a: Any, shares: Any, adj: dict[Value, Any]) -> None:
        takes = tuple(bool(p.requires_grad) for p in node._prev)
        shares = tuple(as_float(s) for s in shares)
        snapshot = {n: as_float(g) for n, g in adj.items()}
        steps.append(BackwardStep(len(steps), node, as_float(a), node._prev,
                                  local_partials(node), shares, takes, snapshot))  # fmt: skip

    reverse_pass({root: gradient}, hooks=False, visit=visit)  # the engine's own pass, observed
    yield from steps


@dataclass(frozen=True)
class WalkthroughFiles:
    """The files :func:`render_backward` wrote."""

    frames: list[Path]
    captions: list[str]
    html: Path
    gif: Path | None
    status: PassStatus = "ran"


def _name(node: Value, names: Mapping[int, str]) -> str:
    return names.get(id(node)) or node.label or format_number(node.data)


def _expr(node: Value, names: Mapping[int, str]) -> str:
    args = [_name(p, names) for p in node._prev]
    if len(args) == 2 and len(node._op) <= 2:
        return f"{args[0]} {node._op} {args[1]}"
    return f"{node._op}({', '.join(args)})"


_ORDINALS = ("first", "second", "third", "fourth")


def _caption(step: BackwardStep, total: int, out: str, names: Mapping[int, str]) -> str:
    """What one step does, in words. A parent used twice (``q = h * h``) gets one partial per
    argument, labelled by position (``∂q/∂(first h)``), then their sum, which is ``∂q/∂h``."""
    name = _name(step.node, names)
    a = format_number(step.adjoint)
    lines = [f"Step {step.index + 1} of {total}: at {name} = {_expr(step.node, names)}"]
    lines.append(f"  its adjoint is complete: ∂{out}/∂{name} = {a}")
    uses: dict[int, list[int]] = {}  # id(parent) -> its argument positions
    for pos, parent in enumerate(step.parents):
        uses.setdefault(id(parent), []).append(pos)
    for pos, (parent, d, share, take) in enumerate(
        zip(step.parents, step.local, step.contributions, step.accumulates)
    ):
        p = _name(parent, names)
        if not take:
            lines.append(f"  {p} is a constant: it needs no gradient")
            continue
        here = uses[id(parent)]
        if len(here) > 1:
            k = here.index(pos)
            which = _ORDINALS[k] if k < len(_ORDINALS) else f"argument {pos + 1}:"
            wrt = f"({which} {p})"
        else:
            wrt = p
        lines.append(
            f"  local ∂{name}/∂{wrt} = {format_number(d)}  ->  {p} receives "
            f"{a} × {format_number(d)} = {format_number(share)}"
        )
        if len(here) > 1 and pos == here[-1]:
            partials = [step.local[i] for i in here]
            total_d = sum(partials)
            summed = " + ".join(format_number(x) for x in partials)
            lines.append(
                f"  {p} is used {'twice' if len(here) == 2 else f'{len(here)} times'}: "
                f"∂{name}/∂{p} = {summed} = "
                f"{format_number(total_d)}, so {p} receives "
                f"{format_number(sum(step.contributions[i] for i in here))} in all"
            )
    return "\n".join(lines)


PassStatus = Literal["ran", "not called", "differs"]
"""How a walkthrough relates to the ``.grad`` the reader sees: ``"ran"`` (backward() ran this
pass: the leaves' ``.grad`` hold its numbers), ``"not called"`` (every ``.grad`` is still 0:
the walkthrough shows what backward() would do), ``"differs"`` (``.grad`` holds other numbers:
several calls added up, or a pass from another output)."""

STATUS_NOTES: dict[PassStatus, str] = {
    "ran": "backward() ran this pass: each leaf's .grad holds these numbers.",
    "not called": "backward() was not called: this is what it would do (every .grad is 0).",
    "differs": (
        "The leaves' .grad differ from this pass: .grad adds up every backward() call since "
        "the last zero_grad(), from whichever output it started."
    ),
}
"""One sentence per :data:`PassStatus`, for the page that shows the frames."""


def grad_status(tr: Trace, final: Mapping[Value, float]) -> PassStatus:
    """Compare the leaves' ``.grad`` with the adjoints of this pass (``final``).

    ``backward()`` adds each leaf's adjoint into its ``.grad`` with the same reverse pass, so
    after one call from zero grads they are equal to the bit.
    """
    leaves = [n for n in tr.nodes if not n._prev and requires_grad(n)]
    grads = [as_float(n.grad) for n in leaves]
    if all(g == final.get(n, 0.0) for n, g in zip(leaves, grads)):
        return "ran"
    if all(g == 0.0 for g in grads):
        return "not called"
    return "differs"


def _done(
    tr: Trace, final: Mapping[Value, float], out: str, names: Mapping[int, str], ran: bool
) -> str:
    leaves = [n for n in tr.nodes if not n._prev and n.requires_grad and n in final]
    shown = ", ".join(f"∂{out}/∂{_name(n, names)} = {format_number(final[n])}" for n in leaves[:6])
    more = f" and {len(leaves) - 6} more" if len(leaves) > 6 else ""
    adds = "adds" if ran else "would add (it was not called)"
    return f"Done: {shown}{more}\n  the numbers backward() {adds} into each leaf's .grad"


def _pad(captions: list[str]) -> list[str]:
    """Same number of lines, same line width: the caption box, and so the layout, never moves."""
    split = [c.split("\n") for c in captions]
    rows = max(len(lines) for lines in split)
    width = max(len(line) for lines in split for line in lines)
    return [
        "\n".join(line.ljust(width) for line in [*lines, *[""] * (rows - len(lines))])
        for lines in split
    ]


def _overlay(
    tr: Trace,
    children: Mapping[int, list[int]],
    step: BackwardStep | None,
    final: Mapping[Value, float],
) -> Overlay:
    """Adjoints known at this step; partial sums marked, the current node and its edges hot.

    Nodes are numbered in topological order and visited from the highest number down, so
    when the walk is at node ``c`` a node's adjoint is complete once all its children have
    numbers ``>= c``: every path from the output to it has been accounted for.
    """
    known = final if step is None else step.adjoints
    c = None if step is None else tr.index(step.node)
    grads: dict[int, str] = {}
    for i, node in enumerate(tr.nodes):
        if node in known:
            text = format_number(known[node])
            complete = c is None or all(ch >= c for ch in children.get(i, ()))
            grads[i] = text if complete else f"{text} so far"
    if step is None or c is None:
        return Overlay(grads=grads)
    labels = {
        (c, pos): format_number(share)
        for pos, (share, take) in enumerate(zip(step.contributions, step.accumulates))
        if take
    }
    return Overlay(grads=grads, current=c, edge_labels=labels, hot=set(labels))


@dataclass(frozen=True)
class BackwardFrame:
    """One picture of the walkthrough: its caption, its DOT text and the highlighted node.

    ``current`` is the highlighted node's number in the drawing (its DOT name is
    ``v<current>``); ``None`` on the last frame, which shows the finished gradients.
    ``status`` says whether backward() ran this pass (:data:`PassStatus`).
    """

    caption: str
    dot: str
    current: int | None
    status: PassStatus = "ran"


def backward_frames(
    root: Value,
    gradient: float = 1.0,
    *,
    rankdir: str = "LR",
    params: Iterable[Value] | None = None,
    labels: Mapping[Value, str] | None = None,
    legend: bool = False,
    max_nodes: int | None = 60,
    titles: bool = False,
    fontname: str = "monospace",
    called: bool | None = None,
) -> list[BackwardFrame]:
    """The frames of the backward walkthrough as DOT text: one per step, then the result.

    What :func:`render_backward` draws, without graphviz: the playground renders the same
    frames in the browser. ``titles=True`` writes each caption into its picture too (for a
    picture seen alone, such as a GIF; a page that shows the caption leaves it out).
    Each frame's ``status`` compares the leaves' ``.grad`` with this pass
    (:func:`grad_status`); ``called`` is what the caller knows for sure: ``False`` when
    backward() was not called, ``True`` when it was (then the frames never say it was not).
    When backward() was not called, every caption says so.
    """
    tr = trace(root, max_nodes=max_nodes, params=params)
    children = _children(tr)
    steps = list(_steps(tr, root, gradient))
    final = steps[-1].adjoints if steps else {root: float(gradient)}
    status = grad_status(tr, final)
    if called is False:
        status = "not called"
    elif called and status == "not called":
        status = "differs"
    # unlabelled computed nodes are named by their number, so captions can point at them
    shown = {n: f"#{i}" for i, n in enumerate(tr.nodes) if n._prev and not n.label}
    shown.update(labels or {})
    names = {id(k): v for k, v in shown.items()}
    out = _name(root, names) if root.label or root in (labels or {}) else "out"
    captions = [_caption(s, len(steps), out, names) for s in steps]
    if status == "not called":
        captions = [c.replace(":", " (what backward() would do):", 1) for c in captions]
    captions.append(_done(tr, final, out, names, ran=status != "not called"))
    overlays = [_overlay(tr, children, s, final) for s in steps]
    overlays.append(_overlay(tr, children, None, final))
    # every frame gets the widest text of its node or edge, so nothing moves between frames
    width = {i: max(len(o.grads.get(i, "?")) for o in overlays) for i in range(len(tr))}
    edge_width: dict[tuple[int, int], int] = {}
    for o in overlays:
        for key, text in o.edge_labels.items():
            edge_width[key] = max(edge_width.get(key, 0), len(text))
    frames = []
    titled = _pad(captions) if titles else [None] * len(captions)
    for caption, title, overlay in zip(captions, titled, overlays):
        overlay.width.update(width)
        overlay.edge_width.update(edge_width)
        lines = dot_lines(
            tr,
            rankdir=rankdir,
            legend=legend,
            labels=shown,
            title=title,
            overlay=overlay,
            fontname=fontname,
        )
        frames.append(BackwardFrame(caption, digraph(lines), overlay.current, status))
    return frames


def render_backward(
    root: Value,
    folder: str | Path,
    format: str = "svg",
    *,
    rankdir: str = "LR",
    gradient: float = 1.0,
    params: Iterable[Value] | None = None,
    labels: Mapping[Value, str] | None = None,
    legend: bool = False,
    max_nodes: int | None = 60,
    gif: bool = True,
    duration_ms: int = 1500,
) -> WalkthroughFiles:
    """Draw the backward pass of ``root`` as one frame per step, plus a page to step through.

    Writes ``frame_000.<format>`` ... (``svg`` or ``png``): each frame highlights the node
    being processed, labels its outgoing edges with the shares it sends, and shows every
    adjoint known so far (``so far`` marks a partial sum, ``?`` a node not reached yet); a
    last frame shows the finished gradients. Also writes ``index.html`` with prev/next
    buttons (and arrow keys; no external scripts), which shows each frame's caption once,
    above it, and, for ``png``, an animated ``backward.gif`` (needs Pillow) whose pictures
    carry their captions. ``max_nodes`` defaults low: a walkthrough is for small graphs.
    ``.grad`` is not touched; the page says whether backward() ran this pass, was not called
    (the frames show what it would do), or left other numbers in ``.grad``
    (:func:`grad_status`, also in the result's ``status``).

    The folder may be reused: the frames (``frame_<number>.svg`` / ``.png``) and
    ``backward.gif`` of an earlier walkthrough there are deleted first, and ``index.html``
    is rewritten; any other file in the folder is left alone. Every frame is drawn before
    the folder is touched, so an error (no ``dot``, a graph too large) leaves it as it was.
    """
    if format not in ("svg", "png"):
        raise ValueError(f"format must be 'svg' or 'png', got {format!r}")
    require_graphviz()
    require_dot()
    options: dict[str, Any] = dict(
        rankdir=rankdir, params=params, labels=labels, legend=legend, max_nodes=max_nodes
    )
    drawn = backward_frames(root, gradient, **options)
    pictures = [pipe_source(frame.dot, format) for frame in drawn]
    animation: list[bytes] = []
    if format == "png" and gif:  # a GIF is seen alone: its pictures carry their captions
        called = drawn[0].status != "not called"
        titled = backward_frames(root, gradient, titles=True, called=called, **options)
        animation = [pipe_source(frame.dot, "png") for frame in titled]
    captions = [frame.caption for frame in drawn]
    # every frame is drawn before the folder is touched: a failure leaves an earlier run whole
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_own_files(folder)
    frames: list[Path] = []
    for k, picture in enumerate(pictures):
        path = folder / f"frame_{k:03d}.{format}"
        path.write_bytes(picture)
        frames.append(path)
    page = folder / "index.html"
    status = drawn[0].status
    page.write_text(_html(frames, captions, status), encoding="utf-8")
    gif_path = _gif(animation, folder / "backward.gif", duration_ms) if animation else None
    return WalkthroughFiles(frames, captions, page, gif_path, status)


_OWN_FILE = re.compile(r"frame_\d{3,}\.(svg|png)|backward\.gif")
"""The names ``render_backward`` writes (besides ``index.html``, which it rewrites)."""


def _remove_own_files(folder: Path) -> None:
    """Delete the frames and GIF of an earlier walkthrough in ``folder``, and nothing else, so
    that no stale frame from a longer or other-format run is mixed with the new ones."""
    for path in folder.iterdir():
        if _OWN_FILE.fullmatch(path.name) and path.is_file():
            path.unlink()


def _children(tr: Trace) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for p, c, _ in tr.edges():
        out.setdefault(p, []).append(c)
    return out


def _gif(frames: list[bytes], path: Path, duration_ms: int) -> Path | None:
    try:
        from PIL import Image
    except ImportError:
        warnings.warn(
            "the animated GIF needs Pillow (pip install pillow); wrote the frames and "
            "index.html only",
            stacklevel=3,
        )
        return None
    images = [Image.open(io.BytesIO(f)).convert("RGB") for f in frames]
    # dot sizes each frame to fit; pad them all to one canvas so the animation does not jump
    width = max(im.width for im in images)
    height = max(im.height for im in images)
    canvas: list[Any] = []
    for im in images:
        frame = Image.new("RGB", (width, height), "white")
        frame.paste(im, (0, 0))
        canvas.append(frame.quantize(colors=64))
    canvas[0].save(path, save_all=True, append_images=canvas[1:], duration=duration_ms, loop=0)
    return path


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Backward pass, step by step</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #111827; }}
nav {{ display: flex; gap: .75rem; align-items: center; margin-bottom: .75rem; }}
button {{ font-size: 1rem; padding: .3rem .9rem; }}
pre {{ background: #f3f4f6; padding: .6rem; white-space: pre-wrap; }}
img {{ max-width: 100%; border: 1px solid #e5e7eb; }}
.status {{ padding: .5rem .75rem; border-left: .3rem solid #2563eb; background: #eff6ff; }}
.not-called, .differs {{ border-color: #b45309; background: #fffbeb; font-weight: 600; }}
</style>
</head>
<body>
<h1>Backward pass, step by step</h1>
<p class="status {status_class}">{status}</p>
<nav>
<button id="prev" type="button">&#9664; prev</button>
<span id="counter"></span>
<button id="next" type="button">next &#9654;</button>
<span>(or the arrow keys)</span>
</nav>
<pre id="caption"></pre>
<img id="frame" src="{first}" alt="the graph at this step, as the caption above describes">
<noscript><ol>{items}</ol></noscript>
<script>
const frames = {frames};
const captions = {captions};
let k = 0;
function show(i) {{
  k = Math.max(0, Math.min(frames.length - 1, i));
  document.getElementById("frame").src = frames[k];
  document.getElementById("caption").textContent = captions[k];
  document.getElementById("counter").textContent = (k + 1) + " / " + frames.length;
  document.getElementById("prev").disabled = k === 0;
  document.getElementById("next").disabled = k === frames.length - 1;
}}
document.getElementById("prev").onclick = () => show(k - 1);
document.getElementById("next").onclick = () => show(k + 1);
document.addEventListener("keydown", (e) => {{
  if (e.key === "ArrowLeft") show(k - 1);
  if (e.key === "ArrowRight") show(k + 1);
}});
show(0);
</script>
</body>
</html>
"""


def _html(frames: list[Path], captions: list[str], status: PassStatus) -> str:
    names = [f.name for f in frames]
    items = "".join(
        f'<li><pre>{html.escape(c)}</pre><img src="{html.escape(n)}" alt="frame {i}"></li>'
        for i, (n, c) in enumerate(zip(names, captions))
    )
    # json.dumps then escaping "</" keeps captions from closing the script element
    return _PAGE.format(
        status=html.escape(STATUS_NOTES[status], quote=False),
        status_class=status.replace(" ", "-"),
        first=html.escape(names[0]),
        items=items,
        frames=json.dumps(names).replace("</", "<\\/"),
        captions=json.dumps(captions).replace("</", "<\\/"),
    )
