"""The backward walkthrough: every step agrees with backward(), and the frames show it."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import assert_close, central_difference, expression, reals

from chainrule import Value
from chainrule.viz import STYLE, backward_frames, backward_steps, render_backward
from chainrule.viz.trace import format_number

SVG = "{http://www.w3.org/2000/svg}"


def test_steps_of_a_small_expression_in_closed_form() -> None:
    x, w, b, y = expression()
    steps = list(backward_steps(y))
    assert [s.node._op for s in steps] == ["**", "+", "*"]  # output first
    square, plus, times = steps
    assert square.adjoint == 1.0
    assert square.local == (-10.0, 0.0)  # d(u**2)/du = 2u = -10; the exponent is a constant
    assert square.accumulates == (True, False)
    assert plus.adjoint == -10.0 and plus.local == (1.0, 1.0)
    assert plus.contributions == (-10.0, -10.0)
    assert times.local == (-3.0, 2.0)  # d(xw)/dx = w, d(xw)/dw = x
    assert times.contributions == (30.0, -20.0)
    assert times.adjoints[x] == 30.0 and times.adjoints[w] == -20.0 and times.adjoints[b] == -10.0
    assert [s.index for s in steps] == [0, 1, 2]


def test_steps_do_not_touch_grad() -> None:
    x, w, b, y = expression()
    list(backward_steps(y))
    assert [v.grad for v in (x, w, b, y)] == [0.0, 0.0, 0.0, 0.0]


def test_fan_out_receives_one_share_per_use() -> None:
    a = Value(3.0, label="a")
    out = a * a + a  # d/da = 2a + 1 = 7
    plus, times = backward_steps(out)
    assert plus.adjoints[a] == 1.0  # partial: only the "+ a" path so far
    assert times.contributions == (3.0, 3.0)  # one share per use of a in a * a
    assert times.adjoints[a] == 7.0


# Random expressions with fan-out: each op combines two earlier nodes (any of them, so a
# node is often used several times). The functions keep values bounded and away from
# kinks, so the central-difference oracle applies.
OPS = [
    lambda u, v: u * v,
    lambda u, v: u + v,
    lambda u, v: u - v,
    lambda u, v: (u * 0.5).tanh() * v,
    lambda u, v: u.sigmoid() + v * v,
    lambda u, v: (u * u + 1.0).log() - v,
]

programs = st.lists(
    st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 100), st.integers(0, 100)),
    min_size=1,
    max_size=8,
)


def build(program: list[tuple[int, int, int]], *leaves: Value) -> Value:
    nodes = list(leaves)
    for op, i, j in program:
        nodes.append(OPS[op](nodes[i % len(nodes)], nodes[j % len(nodes)]))
    return nodes[-1]


@given(program=programs, xs=st.lists(reals(-2.0, 2.0), min_size=3, max_size=3))
def test_every_step_matches_the_adjoints_of_backward(
    program: list[tuple[int, int, int]], xs: list[float]
) -> None:
    leaves = [Value(x) for x in xs]
    out = build(program, *leaves)
    steps = list(backward_steps(out))
    assert all(v.grad == 0.0 for v in leaves)
    out.backward()
    for step in steps:
        # when the walk reaches a node its adjoint is final: it equals backward()'s
        assert_close(step.adjoint, step.node.grad, atol=1e-12, rtol=1e-12)
        for d, share in zip(step.local, step.contributions, strict=True):
            assert_close(share, step.adjoint * d, atol=1e-12, rtol=1e-12)
    final = steps[-1].adjoints if steps else {}
    for i, leaf in enumerate(leaves):
        walked = final.get(leaf, 0.0)
        assert_close(walked, leaf.grad, atol=1e-12, rtol=1e-12)
        assert_close(walked, central_difference(lambda *v: build(program, *v), xs, i))


def test_a_value_without_grad_has_no_walkthrough(tmp_path: Path) -> None:
    c = Value(2.0, requires_grad=False) * 3.0
    with pytest.raises(ValueError, match="does not require grad"):
        list(backward_steps(c))
    with pytest.raises(ValueError, match="does not require grad"):
        render_backward(c, tmp_path)


def test_gradient_seed_scales_every_adjoint() -> None:
    x, *_, y = expression()
    last = list(backward_steps(y, gradient=2.0))[-1]
    assert last.adjoints[x] == 60.0


# --- frames ---


def node_fills(svg_path: Path) -> dict[str, str]:
    out = {}
    for g in ET.parse(svg_path).getroot().iter(f"{SVG}g"):
        if g.get("class") == "node":
            title = g.find(f"{SVG}title")
            shape = g.find(f"{SVG}polygon")
            if shape is None:
                shape = g.find(f"{SVG}ellipse")
            assert title is not None and title.text and shape is not None
            out[title.text] = shape.get("fill", "")
    return out


def grad_text(svg_path: Path, node: str) -> str:
    for g in ET.parse(svg_path).getroot().iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if g.get("class") == "node" and title is not None and title.text == node:
            return ["".join(t.itertext()) for t in g.iter(f"{SVG}text")][-1].replace("\xa0", " ")
    raise KeyError(node)


def test_render_backward_svg_frames_highlight_each_step(tmp_path: Path) -> None:
    x, *_, y = expression()
    files = render_backward(y, tmp_path)
    steps = list(backward_steps(y))
    assert len(files.frames) == len(steps) + 1  # one per step, and the finished gradients
    current = STYLE["current"]["fillcolor"]
    for frame, step in zip(files.frames, steps):
        fills = node_fills(frame)
        highlighted = [name for name, f in fills.items() if f == current]
        assert highlighted == [f"v{[6, 4, 2][step.index]}"]
    # adjoints fill in as the walk proceeds: x is unknown until the last step
    assert grad_text(files.frames[0], "v0").strip() == "grad ?"
    assert grad_text(files.frames[2], "v0").strip() == "grad 30"
    assert grad_text(files.frames[-1], "v3").strip() == "grad -10"
    assert "Step 3 of 3 (what backward() would do): at #2 = x * w" in files.captions[2]
    assert "x receives -10 × -3 = 30" in files.captions[2]
    assert files.captions[-1].startswith("Done: ∂y/∂x = 30, ∂y/∂w = -20, ∂y/∂b = -10")
    assert x.grad == 0.0  # nothing was written to .grad


def svg_text(path: Path) -> str:
    return "".join(ET.parse(path).getroot().itertext()).replace("\xa0", " ")


def test_each_caption_is_shown_once_on_the_page_and_never_inside_its_frame(
    tmp_path: Path,
) -> None:
    files = render_backward(expression()[3], tmp_path, legend=True)
    page = files.html.read_text()
    scripted = page[: page.index("<noscript>")] + page[page.index("</noscript>") :]
    for frame, caption in zip(files.frames, files.captions, strict=True):
        text = svg_text(frame)
        assert not any(line.strip() in text for line in caption.splitlines()), frame.name
        assert "Step " not in text and "Done:" not in text
        first = json.dumps(caption.splitlines()[0])[1:-1]
        assert scripted.count(first) == 1  # in the script's list; shown above the frame


def test_the_page_says_backward_was_not_called(tmp_path: Path) -> None:
    y = expression()[3]
    files = render_backward(y, tmp_path)
    assert files.status == "not called"
    assert "backward() was not called: this is what it would do" in files.html.read_text()
    assert all("(what backward() would do)" in c for c in files.captions[:-1])
    assert "would add (it was not called)" in files.captions[-1]


def test_after_backward_the_page_walks_the_pass_that_ran(tmp_path: Path) -> None:
    x, _, _, y = expression()
    y.backward()
    files = render_backward(y, tmp_path)
    assert files.status == "ran"
    assert "backward() ran this pass: each leaf's .grad holds these numbers" in (
        files.html.read_text()
    )
    assert not any("would" in c for c in files.captions)
    assert f"∂y/∂x = {format_number(x.grad)}" in files.captions[-1]


def test_the_page_says_when_grad_holds_other_numbers(tmp_path: Path) -> None:
    a = Value(3.0, label="a")
    b = a * a
    d = b * b
    d.backward()  # a.grad = 4 a**3 = 108, the pass of d, not of b
    files = render_backward(b, tmp_path)
    assert files.status == "differs"
    assert "adds up every backward() call" in files.html.read_text()
    y = expression()[3]
    y.backward()
    y.backward()  # two calls add up
    assert backward_frames(y)[0].status == "differs"


def test_frames_share_one_layout(tmp_path: Path) -> None:
    a = Value(3.0, label="a")
    files = render_backward((a * a + a).tanh(), tmp_path, legend=True)
    boxes = {ET.parse(f).getroot().get("viewBox") for f in files.frames}
    assert len(boxes) == 1  # the picture does not jump from frame to frame
    legend = "".join(ET.parse(files.frames[0]).getroot().itertext())
    assert "node the backward pass is at" in legend and "share of the adjoint" in legend


def test_partial_sums_are_marked(tmp_path: Path) -> None:
    a = Value(3.0, label="a")
    files = render_backward(a * a + a, tmp_path)
    assert grad_text(files.frames[0], "v0").strip() == "grad 1 so far"
    assert grad_text(files.frames[1], "v0").strip() == "grad 7"


def test_html_page_steps_through_the_frames_without_external_scripts(tmp_path: Path) -> None:
    files = render_backward(expression()[3], tmp_path)
    page = files.html.read_text()
    assert 'id="prev"' in page and 'id="next"' in page
    assert "<script src" not in page and "http" not in page
    for frame in files.frames:
        assert f'"{frame.name}"' in page


def test_png_frames_make_an_animated_gif(tmp_path: Path) -> None:
    from PIL import Image

    files = render_backward(expression()[3], tmp_path, "png")
    assert files.gif is not None
    with Image.open(files.gif) as gif:
        assert gif.n_frames == len(files.frames) == 4
        assert gif.info["loop"] == 0


def test_without_pillow_the_gif_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.warns(UserWarning, match="pip install pillow"):
        files = render_backward(expression()[3], tmp_path, "png")
    assert files.gif is None and len(files.frames) == 4


def test_walkthrough_refuses_large_graphs_and_bad_formats(tmp_path: Path) -> None:
    v = Value(1.0)
    for _ in range(40):
        v = v * 1.01 + 0.1
    with pytest.raises(ValueError, match="max_nodes=60"):
        render_backward(v, tmp_path)
    with pytest.raises(ValueError, match="format must be 'svg' or 'png'"):
        render_backward(expression()[3], tmp_path, "pdf")


def test_caption_of_a_square_labels_each_argument_and_states_the_sum(tmp_path: Path) -> None:
    x = Value(1.5, label="x")
    h = x * 1.5
    h.label = "h"
    q = h * h
    q.label = "q"
    caption = render_backward(q, tmp_path).captions[0].splitlines()
    assert caption[2:] == [
        "  local ∂q/∂(first h) = 2.25  ->  h receives 1 × 2.25 = 2.25",
        "  local ∂q/∂(second h) = 2.25  ->  h receives 1 × 2.25 = 2.25",
        "  h is used twice: ∂q/∂h = 2.25 + 2.25 = 4.5, so h receives 4.5 in all",
    ]


# --- reusing a folder: the frames of an earlier run are replaced, nothing else is touched ---


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_a_shorter_run_leaves_no_stale_frames_and_no_foreign_file_is_touched(
    tmp_path: Path,
) -> None:
    a = Value(3.0, label="a")
    long_run = render_backward((a * a + a).tanh() * 2, tmp_path)
    assert len(long_run.frames) > 4
    mine = {"notes.txt": "keep", "frame_01.svg": "two digits", "my_frame_000.svg": "prefix"}
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "frame_999.svg").mkdir()  # a folder with a frame's name is not a frame
    short_run = render_backward(expression()[3], tmp_path)
    assert len(short_run.frames) == 4
    frames = {f"frame_{k:03d}.svg" for k in range(4)}
    assert _names(tmp_path) == frames | {"index.html", "frame_999.svg", *mine}
    assert all((tmp_path / name).read_text() == text for name, text in mine.items())
    page = short_run.html.read_text()
    assert f'"frame_{len(long_run.frames) - 1:03d}.svg"' not in page


def test_an_svg_run_removes_the_png_frames_and_gif_of_a_png_run(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    render_backward(expression()[3], tmp_path, "png")
    assert "backward.gif" in _names(tmp_path)
    files = render_backward(expression()[3], tmp_path, "svg")
    assert files.gif is None
    assert _names(tmp_path) == {f.name for f in files.frames} | {"index.html"}


def test_a_failed_run_leaves_the_earlier_walkthrough_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chainrule.viz.walkthrough as walkthrough
    from chainrule.viz.draw import pipe_source

    render_backward(expression()[3], tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls: list[int] = []

    def fail_on_the_third_frame(source: str, format: str) -> bytes:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("dot crashed")
        return pipe_source(source, format)

    monkeypatch.setattr(walkthrough, "pipe_source", fail_on_the_third_frame)
    a = Value(3.0, label="a")
    with pytest.raises(RuntimeError, match="dot crashed"):
        render_backward((a * a + a).tanh(), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_backward_frames_are_what_render_backward_draws(tmp_path: Path) -> None:
    root = expression()[3]
    frames = backward_frames(root)
    files = render_backward(root, tmp_path)
    assert [f.caption for f in frames] == files.captions
    assert frames[-1].current is None and all(f.current is not None for f in frames[:-1])
    assert all(f.dot.startswith("digraph chainrule {") for f in frames)
    titled = backward_frames(root, titles=True)
    assert all(f.caption.splitlines()[0] in t.dot for f, t in zip(frames, titled))
    assert not any(f.caption.splitlines()[0] in f.dot for f in frames)


def test_the_docs_page_shows_each_frames_caption_as_render_backward_writes_it() -> None:
    """docs/concepts/graphs.md shows the frames of docs/img/graphs/walkthrough/, each under
    its caption, written out as text: they must be the captions of that walkthrough."""
    import re

    import make_graph_docs  # scripts/make_graph_docs.py

    root = Path(__file__).resolve().parent.parent
    _, w, b, y = make_graph_docs.expression()
    y.backward()
    captions = [f.caption for f in backward_frames(y, params=[w, b])]
    page = (root / "docs" / "concepts" / "graphs.md").read_text(encoding="utf-8")
    frames = page[page.index('<div class="walk-frames"') : page.index("</div>")]
    assert re.findall(r"```text\n(.*?)\n```", frames, re.S) == captions
    shown = re.findall(r"\]\(\.\./img/graphs/walkthrough/(frame_\d+\.svg)\)", frames)
    assert shown == [f"frame_{k:03d}.svg" for k in range(len(captions))]
