"""Drawing with graphviz: ``draw_dot``, ``render``, notebook display and the ``Graph`` wrapper.

The graphviz Python package and Graphviz's ``dot`` program are optional
(``pip install "chainrule[viz]"`` plus the system package); both are looked for only when a
picture is asked for, and a missing one gives a single message saying how to install it.
:func:`chainrule.viz.to_dot` never needs either.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from chainrule.engine import Value, constant
from chainrule.value_base import PICTURE
from chainrule.viz.dot import dot_lines, to_dot, trainable
from chainrule.viz.trace import (
    DEFAULT_MAX_NODES,
    GraphTooLargeError,
    as_roots,
    format_number,
    parents,
    requires_grad,
    trace,
)

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]

__all__ = [
    "FORMATS",
    "Graph",
    "GraphvizNotFoundError",
    "draw_dot",
    "module_graph",
    "render",
    "repr_mimebundle",
    "repr_svg",
    "to_text",
]

FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif")
"""File types :func:`render` writes with ``dot``; ``.dot``/``.gv`` write the source itself."""

NOTEBOOK_MAX_NODES = 200
"""Larger graphs are shown in a notebook as their last levels only, so a cell never hangs."""

NOTEBOOK_DEPTH = 4

INSTALL_HINT = (
    "Install both with:\n"
    '    pip install "chainrule[viz]"      # the graphviz Python package\n'
    "    sudo apt-get install graphviz     # the dot program (Debian/Ubuntu)\n"
    "    brew install graphviz             # the dot program (macOS)\n"
    "    conda install -c conda-forge graphviz   # both, in a conda environment\n"
    "chainrule.viz.to_dot(root) still works without them and returns the DOT text."
)


class GraphvizNotFoundError(RuntimeError):
    """The graphviz Python package or Graphviz's ``dot`` program is missing."""


def _missing(what: str) -> GraphvizNotFoundError:
    return GraphvizNotFoundError(
        f"drawing a graph needs the graphviz Python package and Graphviz's `dot` program, "
        f"but {what}.\n{INSTALL_HINT}"
    )


def require_graphviz() -> ModuleType:
    """The ``graphviz`` module, imported on first use; a clear error when it is missing."""
    try:
        import graphviz
    except ImportError:
        raise _missing("the graphviz Python package is not installed") from None
    module: ModuleType = graphviz
    return module


def require_dot() -> None:
    """Check that Graphviz's ``dot`` program is on ``PATH``."""
    if shutil.which("dot") is None:
        raise _missing("the `dot` program was not found on PATH")


def draw_dot(
    root: Value | Sequence[Value],
    format: str = "svg",
    rankdir: str = "LR",
    **options: Any,
) -> graphviz.Digraph:
    """The graph of ``root`` as a ``graphviz.Digraph`` (micrograd's name and signature).

    ``options`` are those of :func:`to_dot` (``show_grad``, ``direction``, ``legend``,
    ``max_nodes``, ``depth``, ``params``, ``labels``, ``precision``, ``title``);
    ``draw_dot(loss, params=model)`` names a model's parameters (``L0.n1.w0``). The result
    displays itself in Jupyter and has graphviz's ``render``/``pipe`` methods; its ``source``
    is exactly ``to_dot(root, rankdir, ...)``.
    """
    gv = require_graphviz()
    params, options["labels"] = trainable(options.pop("params", None), options.get("labels"))
    tr = trace(
        root,
        max_nodes=options.pop("max_nodes", DEFAULT_MAX_NODES),
        depth=options.pop("depth", None),
        params=params,
    )
    body = dot_lines(tr, rankdir=rankdir, **options)
    return gv.Digraph("chainrule", format=format, body=body)


def pipe_source(source: str, format: str = "svg") -> bytes:
    """Run ``dot -T<format>`` on DOT text and return the picture."""
    gv = require_graphviz()
    require_dot()
    try:
        data: bytes = gv.Source(source).pipe(format=format)
    except gv.ExecutableNotFound:
        raise _missing("the `dot` program could not be run") from None
    return data


def render(
    root: Value | Sequence[Value], path: str | Path, *, overwrite: bool = True, **options: Any
) -> Path:
    """Write the graph of ``root`` to ``path``; the file type comes from the extension.

    ``.svg``, ``.png``, ``.pdf`` (and ``.jpg``, ``.gif``) are drawn by ``dot``; ``.dot`` or
    ``.gv`` write the DOT source and need nothing installed. ``options`` as in
    :func:`to_dot`. Returns the path written.

    An existing file at ``path`` is replaced (``overwrite=True``, the default, so that
    re-running a notebook cell redraws its picture), but only once the picture is drawn: an
    error leaves the old file as it was. With ``overwrite=False`` an existing file raises
    :class:`FileExistsError` and nothing is drawn or written.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    ext = path.suffix.lower().lstrip(".")
    rankdir = options.pop("rankdir", "LR")
    if ext in ("dot", "gv"):
        path.write_text(to_dot(root, rankdir, **options), encoding="utf-8")
        return path
    if ext not in FORMATS:
        raise ValueError(
            f"cannot tell the file type from {path.name!r}: use one of "
            + ", ".join(f".{f}" for f in (*FORMATS, "dot", "gv"))
        )
    source = to_dot(root, rankdir, **options)
    path.write_bytes(pipe_source(source, "jpg" if ext == "jpeg" else ext))
    return path


# --- text and notebook display ---


def to_text(root: Value | Sequence[Value], max_lines: int = 40, precision: int = 4) -> str:
    """The graph as a numbered list in topological order: one line per value.

    ``#3 = #0 * #1   data -6  grad 1`` — what a notebook shows when graphviz is missing.
    """
    tr = trace(root, max_nodes=None)
    rows: list[str] = []
    for i, node in enumerate(tr.nodes):
        name = f"{node.label} " if node.label else ""
        prev = parents(node)
        if prev:
            args = [f"#{tr.index(p)}" for p in prev]
            binary = len(args) == 2 and len(node._op) <= 2
            expr = f" {node._op} ".join(args) if binary else f"{node._op}({', '.join(args)})"
            expr = f"= {expr}"
        else:
            expr = tr.kinds[i]
        grad = f"  grad {format_number(node.grad, precision)}" if requires_grad(node) else ""
        rows.append(f"#{i} {name}{expr}   data {format_number(node.data, precision)}{grad}")
    if len(rows) > max_lines:
        head = max_lines // 2
        skipped = len(rows) - max_lines
        rows = [*rows[:head], f"... {skipped} more nodes ...", *rows[-(max_lines - head) :]]
    return "\n".join(rows)


def _svg_for(root: Value | Sequence[Value], **options: Any) -> tuple[str, str]:
    """SVG text and a note; a graph too large to draw whole shows its last levels."""
    options = dict(options)
    limit = options.pop("max_nodes", NOTEBOOK_MAX_NODES)
    note = ""
    try:
        source = to_dot(root, max_nodes=limit, **options)
    except GraphTooLargeError:
        if options.get("depth") is not None:
            raise
        options["depth"] = NOTEBOOK_DEPTH
        source = to_dot(root, max_nodes=limit, **options)
        note = (
            f"the graph has more than {limit} values: showing the last {NOTEBOOK_DEPTH} "
            "levels; chainrule.viz.draw_dot(root, depth=k, max_nodes=n) draws more"
        )
    return pipe_source(source, "svg").decode("utf-8"), note


def _bundle(
    root: Value | Sequence[Value],
    text: str,
    include: Iterable[str] | None,
    exclude: Iterable[str] | None,
    options: dict[str, Any],
) -> dict[str, str]:
    bundle: dict[str, str] = {}
    try:
        svg, note = _svg_for(root, **options)
        bundle["image/svg+xml"] = svg
        if note:
            text = f"{text}\n({note})"
    # A notebook cell must show something whatever goes wrong in drawing: never raise here.
    except Exception as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        with contextlib.suppress(Exception):  # not a graph at all: the repr alone will do
            text = f"{text}\n{to_text(root)}"
        text = f"{text}\n({first})"
    bundle["text/plain"] = text
    if include is not None:
        wanted = set(include)
        bundle = {k: v for k, v in bundle.items() if k in wanted}
    if exclude is not None:
        unwanted = set(exclude)
        bundle = {k: v for k, v in bundle.items() if k not in unwanted}
    return bundle


def repr_mimebundle(
    obj: Any,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    **options: Any,
) -> dict[str, str]:
    """Jupyter's rich display of a Value (or a :class:`Graph`): its graph as SVG, plus text.

    ``Value._repr_mimebundle_`` calls this. When graphviz or ``dot`` is missing, or drawing
    fails for any other reason, the bundle holds text only (the repr, a numbered listing
    of the graph and one line saying why); it never raises. ``options`` as in :func:`to_dot`.
    """
    if isinstance(obj, Graph):
        return obj._repr_mimebundle_(include, exclude)
    return _bundle(obj, repr(obj), include, exclude, options)


PICTURE.append(repr_mimebundle)  # what Value._repr_mimebundle_ shows in a notebook


def repr_svg(obj: Any, **options: Any) -> str | None:
    """SVG of a Value's graph, for ``_repr_svg_``; ``None`` (no SVG) when it cannot be drawn."""
    try:
        return _svg_for(obj, **options)[0]
    except Exception:
        return None


class Graph:
    """A computation graph with drawing options: shows itself in a notebook, renders to files.

    >>> g = Graph(loss, legend=True)        # doctest: +SKIP
    >>> g.render("loss.svg")                # doctest: +SKIP

    ``options`` are those of :func:`to_dot` and are used by every method.
    """

    def __init__(self, root: Value | Sequence[Value], **options: Any) -> None:
        self.roots = as_roots(root)
        self.options = options

    @property
    def _root(self) -> Value | Sequence[Value]:
        return self.roots[0] if len(self.roots) == 1 else list(self.roots)

    @property
    def source(self) -> str:
        """The DOT text (no dependency needed)."""
        return to_dot(self._root, **self.options)

    def digraph(self, format: str = "svg") -> graphviz.Digraph:
        """The ``graphviz.Digraph`` (see :func:`draw_dot`)."""
        return draw_dot(self._root, format=format, **self.options)

    def render(self, path: str | Path, *, overwrite: bool = True) -> Path:
        """Write an SVG/PNG/PDF/DOT file, chosen by the extension of ``path`` (see
        :func:`render` for ``overwrite``)."""
        return render(self._root, path, overwrite=overwrite, **self.options)

    def pipe(self, format: str = "svg") -> bytes:
        """The picture as bytes."""
        return pipe_source(self.source, format)

    def text(self) -> str:
        """The graph as a numbered list (see :func:`to_text`)."""
        return to_text(self._root)

    def _repr_svg_(self) -> str | None:
        return repr_svg(self._root, **self.options)

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, str]:
        return _bundle(self._root, repr(self), include, exclude, self.options)

    def __repr__(self) -> str:
        n = len(trace(self._root, max_nodes=None))
        outs = ", ".join(f"{r.data:.4g}" for r in self.roots)
        return f"Graph({n} values, output{'s' if len(self.roots) > 1 else ''} {outs})"


def module_graph(
    module: Any,
    inputs: Sequence[Any] | None = None,
    *,
    loss: Callable[[Any], Value] | None = None,
    **options: Any,
) -> Graph:
    """The graph of one forward pass of a model: ``module(inputs)``, drawn.

    Duck-typed: ``module`` is callable and has ``parameters()`` (and, optionally,
    ``named_parameters()`` for names and ``nin`` for the input count). ``inputs`` default
    to ``1.0, 2.0, ...`` made into labelled constants ``x0, x1, ...``. Parameters are
    drawn blue and named by their place in the model (``L0.n1.w0`` for an MLP, ``w0`` and
    ``b`` for a neuron: see :func:`~chainrule.viz.dot.parameter_names`) without relabelling
    them; ``loss``
    maps the output(s) to one Value to draw instead (e.g. a squared error).
    """
    if not callable(module) or not hasattr(module, "parameters"):
        raise TypeError(
            f"module_graph needs a model: a callable with parameters(), got {type(module).__name__}"
        )
    if inputs is None:
        nin = getattr(module, "nin", None)
        if not isinstance(nin, int):
            raise ValueError(
                f"cannot tell how many inputs {type(module).__name__} takes: pass inputs=[...]"
            )
        inputs = [float(i + 1) for i in range(nin)]
    xs = [constant(x, "module_graph inputs", label=f"x{i}") for i, x in enumerate(inputs)]
    out = module(xs)
    if loss is not None:
        out = loss(out)
    labels: dict[Value, str] = {}
    if isinstance(out, Value) and not out.label:
        labels[out] = "out"
    labels.update(options.pop("labels", None) or {})
    named = hasattr(module, "named_parameters")
    return Graph(out, params=module if named else list(module.parameters()), labels=labels,
                 **options)  # fmt: skip
