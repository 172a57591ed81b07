"""chainrule.viz drawings: DOT text, real ``dot`` renders checked by parsing the SVG, errors."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from oracle import expression

from chainrule import Value
from chainrule.nn import MLP
from chainrule.viz import (
    STYLE,
    Graph,
    GraphTooLargeError,
    GraphvizNotFoundError,
    draw_dot,
    format_number,
    module_graph,
    render,
    repr_mimebundle,
    to_dot,
    to_text,
)
from chainrule.viz.draw import pipe_source

SVG = "{http://www.w3.org/2000/svg}"


def svg_nodes(svg: str | bytes) -> dict[str, ET.Element]:
    """The ``<g class="node">`` elements of an SVG by their title (the DOT node name)."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            title = g.find(f"{SVG}title")
            assert title is not None and title.text is not None
            out[title.text] = g
    return out


def texts(g: ET.Element) -> list[str]:
    return ["".join(t.itertext()).replace("\xa0", " ") for t in g.iter(f"{SVG}text")]


def fill(g: ET.Element) -> str:
    shape = g.find(f"{SVG}polygon")
    if shape is None:
        shape = g.find(f"{SVG}ellipse")
    assert shape is not None
    return shape.get("fill", "")


def edge_texts(svg: str | bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [
        "".join(t.itertext())
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "edge"
        for t in g.iter(f"{SVG}text")
    ]


# --- numbers and DOT text (no graphviz needed) ---


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (2.0, "2"),
        (-0.0, "0"),
        (0.5, "0.5"),
        (-0.761594155955765, "-0.7616"),
        (12345.6, "12346"),
        (1.5e-7, "1.5e-7"),
        (3.2e12, "3.2e12"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
    ],
)
def test_format_number_is_short_and_readable(x: float, text: str) -> None:
    assert format_number(x) == text


def test_format_number_reads_values() -> None:
    assert format_number(Value(0.25)) == "0.25"


def test_to_dot_is_deterministic_and_names_nodes_by_position() -> None:
    first = to_dot(expression()[3])
    # different objects at different addresses, same graph: same text
    second = to_dot(expression()[3])
    assert first == second
    assert "v0 [" in first and "op6 [" in first
    assert str(id(expression()[0])) not in first


def test_to_dot_shows_label_data_and_grad() -> None:
    y = expression()[3]
    y.backward()
    dot = to_dot(y)
    assert '"{ x | data 2 | grad 30 }"' in dot
    assert '"{ w | data -3 | grad -20 }"' in dot
    assert '"{ y | data 25 | grad 1 }"' in dot
    assert '"{ 2 }"' in dot  # the wrapped exponent: a constant, no grad field
    assert dot.count('shape="circle"') == 3  # *, +, **


def test_show_grad_and_precision() -> None:
    t = Value(0.5, label="t").tanh()
    assert '"{ t | data 0.5 }"' in to_dot(t, show_grad=False)
    assert "data 0.46 | grad 0" in to_dot(t, precision=2)  # tanh(0.5) = 0.4621


def test_to_dot_equals_draw_dot_source() -> None:
    y = expression()[3]
    assert draw_dot(y, legend=True).source == to_dot(y, legend=True)


def test_labels_with_dot_syntax_are_escaped_and_render() -> None:
    a = Value(1.0, label='a|b{c}<d> "q" \\')
    out = a * 2
    svg = pipe_source(to_dot(out), "svg").decode()
    shown = texts(svg_nodes(svg)["v0"])
    assert shown[0] == 'a|b{c}<d> "q" \\'


def test_bad_options_say_what_was_expected() -> None:
    y = expression()[3]
    with pytest.raises(ValueError, match="rankdir must be"):
        to_dot(y, rankdir="XY")
    with pytest.raises(ValueError, match="direction must be"):
        to_dot(y, direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        to_dot(y, depth=0)
    with pytest.raises(TypeError, match="draws Values, got float"):
        to_dot(3.0)  # type: ignore[arg-type]


# --- real renders, checked by parsing the SVG ---


def test_svg_has_every_node_with_its_numbers_and_kind_colours() -> None:
    _x, w, b, y = expression()
    y.backward()
    svg = pipe_source(to_dot(y, params=[w, b]), "svg")
    nodes = svg_nodes(svg)
    assert len(nodes) == 7 + 3  # 7 values, 3 operations
    assert texts(nodes["v0"]) == ["x", "data 2", "grad 30"]
    assert texts(nodes["v1"]) == ["w", "data -3", "grad -20"]
    assert texts(nodes["v3"]) == ["b", "data 1", "grad -10"]
    assert texts(nodes["v6"]) == ["y", "data 25", "grad 1"]
    assert texts(nodes["op6"]) == ["**"]
    assert fill(nodes["v0"]) == STYLE["input"]["fillcolor"]  # x is not in params
    assert fill(nodes["v1"]) == fill(nodes["v3"]) == STYLE["parameter"]["fillcolor"]
    assert fill(nodes["v2"]) == STYLE["intermediate"]["fillcolor"]
    assert fill(nodes["v5"]) == STYLE["constant"]["fillcolor"]
    assert fill(nodes["v6"]) == STYLE["output"]["fillcolor"]
    assert fill(nodes["op2"]) == STYLE["op"]["fillcolor"]
    assert nodes["op2"].find(f"{SVG}ellipse") is not None  # op circles
    assert nodes["v0"].find(f"{SVG}polygon") is not None  # value records


def test_without_params_every_leaf_that_requires_grad_is_a_parameter() -> None:
    y = expression()[3]
    nodes = svg_nodes(pipe_source(to_dot(y), "svg"))
    assert fill(nodes["v0"]) == STYLE["parameter"]["fillcolor"]


def test_legend_lists_the_kinds_present() -> None:
    _x, w, b, y = expression()
    svg = pipe_source(to_dot(y, legend=True, params=[w, b]), "svg")
    legend = svg_nodes(svg)["legend"]
    shown = " ".join(texts(legend))
    for word in ("output", "intermediate", "parameter", "input", "constant", "op"):
        assert word in shown
    fills = {p.get("fill") for p in legend.iter(f"{SVG}polygon")}
    for kind in ("output", "parameter", "input", "constant"):
        assert STYLE[kind]["fillcolor"] in fills


def test_backward_direction_carries_each_share_on_its_edge() -> None:
    x, _w, _b, y = expression()
    svg = pipe_source(to_dot(y, direction="backward", legend=True), "svg")
    # shares: y -> (x*w+b): 2(xw+b) = -10; + sends -10 to both; * sends -10*w = 30, -10*x = -20
    assert sorted(edge_texts(svg)) == sorted(["-10", "-10", "-10", "30", "-20"])
    nodes = svg_nodes(svg)
    assert texts(nodes["v0"])[-1] == "grad 30"  # adjoints recomputed, no backward() needed
    assert x.grad == 0.0 and y.grad == 0.0  # ... and .grad untouched


def test_render_writes_svg_png_pdf_and_dot_by_extension(tmp_path: Path) -> None:
    y = expression()[3]
    assert render(y, tmp_path / "g.svg").read_bytes().lstrip().startswith(b"<?xml")
    assert render(y, tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert render(y, tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"
    assert render(y, tmp_path / "g.dot").read_text() == to_dot(y)
    with pytest.raises(ValueError, match=r"cannot tell the file type from 'g\.txt'"):
        render(y, tmp_path / "g.txt")


def test_render_replaces_a_file_by_default_and_refuses_with_overwrite_false(
    tmp_path: Path,
) -> None:
    x = Value(2.0, label="x")
    for ext in ("dot", "svg"):
        path = tmp_path / f"g.{ext}"
        render(x * 3, path)
        first = path.read_bytes()
        render(x * 4 + 1, path)  # a re-run notebook cell redraws its picture
        second = path.read_bytes()
        assert second != first and b"4" in second
        with pytest.raises(FileExistsError, match=rf"g\.{ext}' exists; pass overwrite=True"):
            render(x * 5, path, overwrite=False)
        assert path.read_bytes() == second
        fresh = tmp_path / f"new.{ext}"
        assert render(x * 5, fresh, overwrite=False).read_bytes() != b""
    graph = module_graph(MLP(2, [1], seed=0))
    with pytest.raises(FileExistsError):
        graph.render(tmp_path / "g.svg", overwrite=False)
    assert graph.render(tmp_path / "g.svg").read_bytes() != second


def test_a_failed_render_leaves_the_old_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = render(expression()[3], tmp_path / "g.svg")
    before = path.read_bytes()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no dot anywhere
    with pytest.raises(GraphvizNotFoundError):
        render(Value(1.0) * 2, path)
    assert path.read_bytes() == before


def test_top_to_bottom_layout_renders() -> None:
    y = expression()[3]
    dot = to_dot(y, rankdir="TB")
    assert '"x | data 2 | grad 0"' in dot  # no braces: fields side by side in TB too
    assert len(svg_nodes(pipe_source(dot, "svg"))) == 10


def test_several_outputs_draw_together() -> None:
    a = Value(1.5, label="a")
    outs = [a * 2, a.tanh()]
    nodes = svg_nodes(pipe_source(to_dot(outs), "svg"))
    values = [n for n in nodes if n.startswith("v")]
    assert len(values) == 4  # a, 2, a*2, tanh(a)
    assert sum(fill(nodes[v]) == STYLE["output"]["fillcolor"] for v in values) == 2
    with pytest.raises(ValueError, match="needs one output"):
        to_dot(outs, direction="backward")


# --- large graphs ---


def chain(n: int) -> Value:
    v = Value(0.1, label="x")
    for _ in range(n):
        v = v * 1.0001 + 0.5
    return v


def test_large_graph_is_refused_with_a_clear_message() -> None:
    big = chain(1000)  # 4001 value nodes
    with pytest.raises(GraphTooLargeError, match=r"more than max_nodes=500 value nodes;.*depth=3"):
        to_dot(big)
    with pytest.raises(GraphTooLargeError):
        render(big, "never-written.svg")


def test_depth_draws_only_the_last_levels_with_markers() -> None:
    big = chain(1000)
    dot = to_dot(big, depth=3)
    nodes = svg_nodes(pipe_source(dot, "svg"))
    values = [n for n in nodes if n.startswith("v")]
    # out = p + 0.5; p = v * 1.0001: three levels hold out; p, 0.5; v, 1.0001
    assert len(values) == 5
    more = [g for n, g in nodes.items() if n.startswith("more")]
    assert len(more) == 1  # only v has parents left out
    assert texts(more[0]) == ["... 2 parents not drawn"]


def test_max_nodes_none_draws_everything() -> None:
    dot = to_dot(chain(200), max_nodes=None)
    # x, then per link: the constant 1.0001, the product, the constant 0.5, the sum
    assert "v800 [" in dot and "v801 [" not in dot


# --- missing graphviz or dot ---


def test_missing_dot_gives_one_message_with_install_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    y = expression()[3]
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no dot anywhere
    with pytest.raises(GraphvizNotFoundError) as info:
        render(y, tmp_path / "g.svg")
    message = str(info.value)
    assert "`dot` program was not found" in message
    assert 'pip install "chainrule[viz]"' in message
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert to_dot(y).startswith("digraph")  # still works
    assert render(y, tmp_path / "g.dot").exists()  # writing DOT needs no dot


def test_missing_python_package_gives_the_same_help(monkeypatch: pytest.MonkeyPatch) -> None:
    y = expression()[3]
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    with pytest.raises(GraphvizNotFoundError, match="graphviz Python package is not installed"):
        draw_dot(y)
    assert to_dot(y).startswith("digraph")


# --- notebooks ---


def test_value_shows_itself_as_svg_in_a_notebook() -> None:
    y = expression()[3]
    bundle = y._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    assert len(svg_nodes(bundle["image/svg+xml"])) == 10
    assert bundle["text/plain"] == repr(y)
    assert set(repr_mimebundle(y, include=["text/plain"])) == {"text/plain"}
    assert set(repr_mimebundle(y, exclude=["image/svg+xml"])) == {"text/plain"}


def test_notebook_falls_back_to_text_without_dot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    y = expression()[3]
    monkeypatch.setenv("PATH", str(tmp_path))
    bundle = y._repr_mimebundle_()
    assert list(bundle) == ["text/plain"]
    assert "#6 y = #4 ** #5" in bundle["text/plain"]
    assert "pip install" not in bundle["text/plain"]  # one line of why, not the whole help
    assert "`dot` program was not found" in bundle["text/plain"]


def test_notebook_draws_the_last_levels_of_a_large_graph() -> None:
    bundle = repr_mimebundle(chain(1000))
    nodes = svg_nodes(bundle["image/svg+xml"])
    assert 0 < len([n for n in nodes if n.startswith("v")]) < 30
    assert "showing the last 4 levels" in bundle["text/plain"]


def test_notebook_display_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    import chainrule.viz.draw as draw_module

    def broken(source: str, format: str = "svg") -> bytes:
        raise RuntimeError("dot crashed\nwith details")

    monkeypatch.setattr(draw_module, "pipe_source", broken)
    y = expression()[3]
    bundle = repr_mimebundle(y)
    assert list(bundle) == ["text/plain"]
    assert bundle["text/plain"].endswith("(dot crashed)")
    assert Graph(y)._repr_svg_() is None
    assert repr_mimebundle(42) == {
        "text/plain": "42\n(chainrule.viz draws Values, got int 42 "
        "(for a model, use chainrule.viz.module_graph(model, inputs)))"
    }


def test_graph_options_apply_to_the_notebook_view() -> None:
    g = Graph(chain(100), max_nodes=50, depth=2)
    nodes = svg_nodes(g._repr_mimebundle_()["image/svg+xml"])
    assert len([n for n in nodes if n.startswith("v")]) == 3  # out; the product and 0.5
    assert "showing the last" not in g._repr_mimebundle_()["text/plain"]


def test_to_text_lists_the_graph_in_topological_order() -> None:
    y = expression()[3]
    y.backward()
    lines = to_text(y).splitlines()
    assert lines[0] == "#0 x parameter   data 2  grad 30"
    assert lines[2] == "#2 = #0 * #1   data -6  grad -10"
    assert lines[5] == "#5 constant   data 2"
    assert "... 3 more nodes ..." in to_text(y, max_lines=4)


def test_graph_wrapper_renders_and_displays(tmp_path: Path) -> None:
    _x, w, b, y = expression()
    g = Graph(y, legend=True, params=[w, b])
    assert g.source == to_dot(y, legend=True, params=[w, b])
    assert "legend" in svg_nodes(g._repr_svg_() or "")
    assert set(g._repr_mimebundle_()) == {"image/svg+xml", "text/plain"}
    assert g.render(tmp_path / "g.png").stat().st_size > 0
    assert g.pipe("svg").lstrip().startswith(b"<?xml")
    assert repr(g) == "Graph(7 values, output 25)"
    assert g.digraph().source == g.source


# --- models ---


def test_graph_of_one_neuron() -> None:
    nn = pytest.importorskip("chainrule.nn")
    neuron = nn.Neuron(3, seed=0)
    g = module_graph(neuron, [1.0, -2.0, 0.5])
    nodes = svg_nodes(g.pipe("svg"))
    params = [v for v, n in nodes.items() if fill(n) == STYLE["parameter"]["fillcolor"]]
    assert len(params) == 4  # w0, w1, w2, b
    shown = {texts(nodes[v])[0] for v in params}
    assert shown == {"w0", "w1", "w2", "b"}
    inputs = {texts(n)[0] for n in nodes.values() if fill(n) == STYLE["constant"]["fillcolor"]}
    assert inputs == {"x0", "x1", "x2"}
    assert all(p.label == "" for p in neuron.parameters())  # named in the picture only


def test_an_mlps_parameters_are_named_by_layer_and_neuron_in_the_picture() -> None:
    nn = pytest.importorskip("chainrule.nn")
    model = nn.MLP(2, [2, 1], seed=0)
    loss = (model([Value(1.0), Value(-2.0)]) - 1.0) ** 2
    nodes = svg_nodes(pipe_source(to_dot(loss, params=model), "svg"))
    params = [n for n in nodes.values() if fill(n) == STYLE["parameter"]["fillcolor"]]
    shown = {texts(n)[0] for n in params}
    expected = {f"L0.n{j}.{p}" for j in (0, 1) for p in ("w0", "w1", "b")}
    assert shown == expected | {"L1.n0.w0", "L1.n0.w1", "L1.n0.b"}
    # draw_dot and module_graph name them the same way; a label the user set wins
    model.layers[1].neurons[0].b.label = "bias out"
    assert ">bias out<" in draw_dot(loss, params=model).pipe(format="svg").decode()
    assert "L0.n1.w0" in module_graph(model).source
    assert all(p.label == "" for p in model.parameters()[:-1])  # named in the picture only


def test_any_model_shaped_object_can_be_drawn() -> None:
    class Scale:
        def __init__(self) -> None:
            self.k = Value(3.0, label="k")

        def parameters(self) -> list[Value]:
            return [self.k]

        def __call__(self, xs: list[Value]) -> Value:
            return self.k * xs[0]

    g = module_graph(Scale(), [2.0], loss=lambda out: (out - 1.0) ** 2)
    assert "{ k | data 3 |" in g.source
    assert "{ x0 | data 2" in g.source
    with pytest.raises(ValueError, match="pass inputs"):
        module_graph(Scale())
    with pytest.raises(TypeError, match="needs a model"):
        module_graph(42)


class Scalar:
    """A learner's own node, not chainrule's: micrograd's five fields, parents in a set."""

    def __init__(
        self, data: float, children: tuple[Scalar, ...] = (), op: str = "", label: str = ""
    ) -> None:
        self.data, self.grad, self.label = data, 0.0, label
        self._prev, self._op = set(children), op

    def __mul__(self, other: Scalar) -> Scalar:
        return Scalar(self.data * other.data, (self, other), "*")


def test_any_object_with_the_five_node_fields_is_drawn() -> None:
    a, b = Scalar(2.0, label="a"), Scalar(-3.0, label="b")
    product = a * b
    product.label, product.grad, a.grad = "c", 1.0, -3.0
    c: Any = product  # the annotations say Value; the renderer reads only the five fields
    source = to_dot(c)
    assert "{ c | data -6 | grad 1 }" in source
    assert "{ a | data 2 | grad -3 }" in source and "{ b | data -3 | grad 0 }" in source
    assert source.count("-> op2") == 2 and 'label="*"' in source
    # a set has no order: either parent may come first
    assert re.fullmatch(r"#2 c = #[01] \* #[01]   data -6  grad 1", to_text(c).splitlines()[-1])
    nodes = svg_nodes(pipe_source(draw_dot(c).source, "svg"))
    assert len(nodes) == 4  # three values and the op circle
    with pytest.raises(TypeError, match="needs chainrule Values, got a Scalar"):
        to_dot(c, direction="backward")


# --- the docs page and its pictures ---

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "concepts" / "graphs.md"
PICTURES = ROOT / "docs" / "img" / "graphs"


def test_code_on_the_graphs_page_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("chainrule.nn")
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.M | re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), namespace)
    assert (tmp_path / "walkthrough" / "index.html").exists()
    assert (tmp_path / "walkthrough_png" / "backward.gif").exists()
    images = re.findall(r"\]\((\.\./img/graphs/[^)]+)\)", PAGE.read_text())
    assert images
    for image in images:
        assert (PAGE.parent / image).exists(), image


def test_committed_pictures_show_what_the_code_draws_now(tmp_path: Path) -> None:
    import make_graph_docs as script  # scripts/make_graph_docs.py

    written = script.generate(tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in written)
    committed = sorted(
        p.relative_to(PICTURES).as_posix() for p in PICTURES.rglob("*") if p.is_file()
    )
    assert names == committed, "rerun: python scripts/make_graph_docs.py"
    for name in names:
        if name.endswith(".svg"):
            # same nodes, same numbers; coordinates may differ between Graphviz versions
            fresh = {k: texts(g) for k, g in svg_nodes((tmp_path / name).read_bytes()).items()}
            old = {k: texts(g) for k, g in svg_nodes((PICTURES / name).read_bytes()).items()}
            assert fresh == old, f"{name} is stale: rerun python scripts/make_graph_docs.py"
