"""Draw the pictures of docs/concepts/graphs.md from the current code.

    python scripts/make_graph_docs.py                 # writes docs/img/graphs/
    python scripts/make_graph_docs.py OUT_DIR

Every picture on that page comes from here, never pasted by hand. The output is
deterministic (fixed numbers, nodes named by position), so rerunning it on unchanged code
leaves ``git status`` clean. Needs the graphviz Python package and the ``dot`` program.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from chainrule import Value
from chainrule.viz import module_graph, render, render_backward

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "img" / "graphs"


def expression() -> tuple[Value, Value, Value, Value]:
    """(x*w + b)**2 at x=2, w=-3, b=1."""
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(1.0, label="b")
    y = (x * w + b) ** 2
    y.label = "y"
    return x, w, b, y


def fan_out() -> Value:
    """L = a*b + a: ``a`` is used twice, so it receives two shares."""
    a, b = Value(3.0, label="a"), Value(2.0, label="b")
    c = a * b
    c.label = "c"
    out = c + a
    out.label = "L"
    return out


def neuron_graph(out: Path) -> list[Path]:
    """tanh(w0 x0 + w1 x1 + b) with micrograd's numbers, so the output is tanh(0.8814) = 0.7071."""
    b_value = 6.881373587019543
    try:
        from chainrule.nn import Neuron
    except ImportError:  # nn not there yet: the same neuron, built by hand
        x0 = Value(2.0, label="x0", requires_grad=False)
        x1 = Value(0.0, label="x1", requires_grad=False)
        w0, w1, b = Value(-3.0, label="w0"), Value(1.0, label="w1"), Value(b_value, label="b")
        n = (x0 * w0 + x1 * w1 + b).tanh()
        n.label = "out"
        n.backward()
        return [render(n, out / "neuron.svg", params=[w0, w1, b], legend=True)]
    neuron = Neuron(2, activation="tanh", seed=0)
    for w, value in zip(neuron.w, (-3.0, 1.0), strict=True):
        w.data = value
    neuron.b.data = b_value
    graph = module_graph(neuron, [2.0, 0.0], legend=True)
    graph.roots[0].backward()
    return [graph.render(out / "neuron.svg")]


def generate(out: Path = DEFAULT_OUT) -> list[Path]:
    """Write every picture of docs/concepts/graphs.md into ``out``; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    _, w, b, y = expression()
    y.backward()
    written.append(render(y, out / "expression.svg", params=[w, b], legend=True))
    written.append(render(y, out / "expression_backward.svg", params=[w, b], direction="backward"))

    loss = fan_out()
    loss.backward()
    written.append(render(loss, out / "fanout.svg", direction="backward", legend=True))

    written.extend(neuron_graph(out))

    frames = out / "walkthrough"
    if frames.exists():
        shutil.rmtree(frames)  # no stale frames from a longer graph
    _, w, b, y = expression()
    y.backward()  # as on the page: the walkthrough shows the pass that ran
    files = render_backward(y, frames, "svg", params=[w, b])
    written.extend([*files.frames, files.html])

    fan = out / "walkthrough_fanout"
    if fan.exists():
        shutil.rmtree(fan)
    loss = fan_out()
    loss.backward()
    files = render_backward(loss, fan, "png", duration_ms=2500)
    if files.gif is not None:
        # only the animation goes into the docs; the PNG frames were its raw material
        gif = files.gif.replace(out / "walkthrough_fanout.gif")
        written.append(gif)
    shutil.rmtree(fan)
    return written


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(f"usage: {argv[0]} [OUT_DIR]   (default: {DEFAULT_OUT})", file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    for path in generate(out):
        print(path.relative_to(out.parent) if path.is_relative_to(out.parent) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
