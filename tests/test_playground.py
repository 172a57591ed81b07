"""The docs playground (docs/playground/): its Python half in CPython, then the page in Chromium.

The Python half (``scripts/playground.py``) is checked here against the library: the frames it
gives the page are the ones ``render_backward`` draws. The browser tests build the real site
(``mkdocs build --strict``), serve it on localhost and drive the page in the system Chromium
(tests/browser.py): every number, caption and highlighted node on the page is compared with
what chainrule computes in this process, and no request may leave localhost.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playground  # scripts/playground.py
import pytest
from browser import SCREENSHOT_DIR, WatchedPage, axe_violations, browser_page, serve

from chainrule import Value, __version__
from chainrule.viz import STYLE, to_dot
from chainrule.viz.trace import format_number

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_MS = 180_000  # Pyodide's first start in a busy CI machine: generous, never a sleep
RUN_TIMEOUT_MS = 60_000

DEFAULT = """\
from chainrule import Value

x = Value(2.0, label="x")
w = Value(-3.0, label="w")
b = Value(6.8813735870195432, label="b")
y = (x*w + b).tanh()
y.backward()
"""


def run_here(code: str) -> tuple[dict[str, Any], str]:
    """Run code as plain Python: its namespace and what it printed (the page's reference)."""
    namespace: dict[str, Any] = {"__name__": "__main__", "show": lambda v: v}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<expected>", "exec"), namespace)
    return namespace, out.getvalue()


# --- the Python half, in CPython ---------------------------------------------------------


def test_run_reports_values_and_gradients_of_the_engine() -> None:
    result = playground.run(DEFAULT + "print(x.grad)\n")
    namespace, printed = run_here(DEFAULT + "print(x.grad)\n")
    assert result["ok"] and result["error"] is None
    assert result["printed"] == printed
    rows = {row["name"]: row for row in result["values"]}
    assert list(rows) == ["x", "w", "b", "y"]
    for name, row in rows.items():
        v = namespace[name]
        assert row["exact_grad"] == repr(v.grad) and row["grad"] == format_number(v.grad)
        assert row["exact_data"] == repr(v.data)
    assert rows["x"]["grad"] == "-1.5" and rows["b"]["grad"] == "0.5"  # tanh' = 0.5 at y=1/√2
    assert result["view"]["root"] == "y"


def test_walkthrough_frames_are_the_ones_render_backward_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("graphviz", reason="render_backward needs the graphviz package")
    from chainrule.viz import render_backward, walkthrough

    namespace, _ = run_here(DEFAULT.replace("y = (x*w + b).tanh()", "n = x*w + b\ny = n.tanh()"))
    y = namespace["y"]
    labels = {namespace["n"]: "n", y: "y"}
    sources: list[str] = []

    def keep_source(source: str, format: str = "svg") -> bytes:
        sources.append(source)
        return b""

    monkeypatch.setattr(walkthrough, "require_dot", lambda: None)
    monkeypatch.setattr(walkthrough, "pipe_source", keep_source)
    files = render_backward(y, tmp_path, labels=labels, gif=False)
    frames = playground.walkthrough(y, labels)
    assert [f["caption"] for f in frames] == files.captions
    assert files.captions[0].startswith("Step 1 of 3: at y = tanh(n)")
    for frame, source in zip(frames, sources, strict=True):
        theirs_in_courier = source.replace('fontname="monospace"', 'fontname="Courier"')
        mine, theirs = frame["dot"].splitlines(), theirs_in_courier.splitlines()
        # the same picture; render_backward also writes the caption into it as the graph label
        assert mine[2:] == theirs[2:]
        assert theirs[1].startswith(mine[1].removesuffix("]"))
    assert [f["current"] for f in frames] == ["v5", "v4", "v2", None]  # y, n, x*w, done


def test_errors_show_the_learners_line_and_the_message() -> None:
    result = playground.run("from chainrule import Value\n\nx = Value(0.0)\ny = 1 / x\n")
    assert not result["ok"]
    error = result["error"]
    assert error["type"] == "ZeroDivisionError" and error["line"] == 4
    assert 'File "<your code>", line 4, in <module>' in error["text"]
    assert "y = 1 / x" in error["text"]
    assert error["text"].splitlines()[-1].startswith("ZeroDivisionError: ")
    assert "playground.py" not in error["text"]  # the runner's own frame is not the learner's
    syntax = playground.run("x = (1,\n")["error"]
    assert syntax["type"] == "SyntaxError" and syntax["line"] == 1
    assert playground.run("show(3)")["error"]["text"].endswith(
        "TypeError: show() needs a Value, got int 3"
    )


def test_the_drawn_value_is_shown_or_the_last_one_nothing_uses() -> None:
    code = "from chainrule import Value\na = Value(1.0)\nb = a * 2\nc = Value(5.0)\n"
    assert playground.run(code)["view"]["root"] == "c"
    assert playground.run(code + "show(b)\n")["view"]["root"] == "b"
    assert playground.run("x = 1\n")["view"] is None
    constant = playground.run("from chainrule import Value\nk = Value(2.0, requires_grad=False)")
    view = constant["view"]
    assert view["frames"] == [] and "does not require grad" in view["walk_note"]


def test_a_graph_too_large_to_draw_is_a_note_not_an_error() -> None:
    code = "from chainrule import Value\nv = Value(0.5)\nfor _ in range(300):\n    v = v * 1.0\n"
    result = playground.run(code)
    assert result["ok"] and result["error"] is None
    view = result["view"]
    assert view["graph"] is None and view["frames"] == []
    assert "more than 200 values" in view["note"]
    middle = playground.run(code.replace("300", "40"))["view"]  # drawn, too long to step
    assert middle["graph"] and middle["frames"] == [] and "more than 60" in middle["walk_note"]


# --- the walkthrough shows only what happened ---

NO_BACKWARD = "from chainrule import Value\nx = Value(3.0)\ny = x*x + 1\n"
FAILS_BEFORE_BACKWARD = (
    "from chainrule import Value\nx = Value(1.0)\ny = x.log() + (x - 2).log()\ny.backward()\n"
)
SHOW_ONE_WALK_ANOTHER = (
    "from chainrule import Value\na = Value(2.0)\nb = a * 3\nshow(b)\nd = b * b * a\nd.backward()\n"
)


def test_without_backward_the_walkthrough_says_it_is_what_backward_would_do() -> None:
    result = playground.run(NO_BACKWARD)
    rows = {row["name"]: row for row in result["values"]}
    assert rows["x"]["grad"] == "0" and rows["y"]["grad"] == "0"  # nothing ran
    view = result["view"]
    assert view["walk_note"].startswith("backward() was not called: this is what it would do.")
    assert "call y.backward() to run this pass" in view["walk_note"]
    assert [f["status"] for f in view["frames"]] == ["not called"] * 3
    assert view["frames"][0]["caption"].startswith("Step 1 of 2 (what backward() would do): at y")
    assert "would add (it was not called)" in view["frames"][-1]["caption"]


def test_after_an_error_no_pass_is_invented() -> None:
    result = playground.run(FAILS_BEFORE_BACKWARD)
    assert not result["ok"] and result["error"]["type"] == "ValueError"
    view = result["view"]
    assert view["root"] == "x"  # the graph of what was built before the error
    assert view["frames"] == [] and view["walk"] is None
    assert view["walk_note"] == (
        "Your code stopped with an error before backward() ran: there is no pass to show."
    )
    ran_then_failed = playground.run(NO_BACKWARD + "y.backward()\nValue(-1.0).log()\n")
    assert not ran_then_failed["ok"]  # the pass ran before the error: it is shown
    assert ran_then_failed["view"]["frames"][-1]["caption"].startswith("Done: ∂y/∂x = 6")


def test_the_walkthrough_follows_the_backward_that_ran_whatever_show_draws() -> None:
    result = playground.run(SHOW_ONE_WALK_ANOTHER)
    namespace, _ = run_here(SHOW_ONE_WALK_ANOTHER)
    a = namespace["a"]
    assert a.grad == 27 * 2.0**2  # d = 9 a**3
    view = result["view"]
    assert view["root"] == "b" and view["walk"] == "d"
    assert view["frames"][-1]["caption"].startswith(f"Done: ∂d/∂a = {format_number(a.grad)}")
    assert [f["status"] for f in view["frames"]] == ["ran"] * len(view["frames"])
    assert "show(b) picks the graph at the end of the page" in view["walk_note"]
    assert "The pass of d.backward(), which your code ran." in view["walk_note"]


def test_a_second_backward_is_walked_and_the_sum_in_grad_explained() -> None:
    view = playground.run(NO_BACKWARD + "y.backward()\ny.backward()\n")["view"]
    assert "(the last of its 2 backward() calls)" in view["walk_note"]
    assert "adds up every backward() call" in view["walk_note"]
    assert view["frames"][0]["status"] == "differs"


def test_tracebacks_show_only_the_learners_lines() -> None:
    code = "from chainrule import Value\ndef f(v):\n    return v.log()\n\nf(Value(-1.0))\n"
    text = playground.run(code)["error"]["text"]
    assert text.splitlines() == [
        "Traceback (most recent call last):",
        '  File "<your code>", line 5, in <module>',
        "    f(Value(-1.0))",
        '  File "<your code>", line 3, in f',
        "    return v.log()",
        "ValueError: log is undefined at x=-1.0 (needs x > 0)",
    ]


def test_a_new_layout_redraws_the_last_run_without_running_it_again() -> None:
    code = NO_BACKWARD.replace("y = x*x + 1", "y = x*x + 1\nprint('ran')")
    first = playground.run(code, "LR")
    again = playground.relayout("TB")
    assert again["printed"] == first["printed"] == "ran\n"
    assert again["view"]["rankdir"] == "TB" and first["view"]["rankdir"] == "LR"
    assert [f["caption"] for f in again["view"]["frames"]] == [
        f["caption"] for f in first["view"]["frames"]
    ]
    assert 'rankdir="TB"' in again["view"]["frames"][1]["dot"]


def test_deep_graphs_are_drawn_top_to_bottom_unless_asked_otherwise() -> None:
    chain = "from chainrule import Value\nv = Value(0.5)\n" + "v = v.tanh()\n" * 6
    assert playground.depth(run_here(chain)[0]["v"]) == 7
    assert playground.run(chain)["view"]["rankdir"] == "TB"
    assert 'rankdir="TB"' in playground.run(chain)["view"]["frames"][0]["dot"]
    assert playground.run(chain, "LR")["view"]["rankdir"] == "LR"
    assert playground.run(DEFAULT)["view"]["rankdir"] == "LR"  # 4 levels: x, x*w, +b, tanh
    bad = playground.run(DEFAULT, "diagonal")["error"]["text"]
    assert bad.endswith("ValueError: layout must be 'auto', 'LR' or 'TB', got 'diagonal'")


def test_the_site_ships_exactly_chainrules_source() -> None:
    pytest.importorskip("mkdocs", reason="the docs extra (mkdocs) is not installed")
    import playground_site as site  # scripts/playground_site.py

    data = site.source_zip()
    assert data == site.source_zip()  # the same bytes for the same source
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    src = ROOT / "src"
    expected = {p.relative_to(src).as_posix() for p in (src / "chainrule").rglob("*.py")}
    assert names == expected | {"chainrule/py.typed"}
    assert "pyodide/pyodide.asm.wasm" in {
        f"{Path(p).parent.name}/{Path(p).name}" for p in site.runtime_files().values()
    }


# --- the page, in Chromium ----------------------------------------------------------------


@pytest.fixture(scope="module")
def site(built_site: Path) -> Path:
    """The site tests/conftest.py builds once per run, with the playground's runtimes in it."""
    if not (ROOT / "node_modules" / "pyodide").is_dir():
        message = "the playground's runtimes are not installed: run `npm ci` (make test does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return built_site


@pytest.fixture(scope="module")
def watched(site: Path) -> Iterator[WatchedPage]:
    """The playground page, Python started and the starting example run once."""
    with serve(site) as base, browser_page(width=1280, height=900) as w:
        w.page.set_default_timeout(RUN_TIMEOUT_MS)
        w.page.goto(base + "playground/")
        w.page.wait_for_selector('.crp[data-runs="1"]', timeout=START_TIMEOUT_MS)
        yield w


def runs(page: Any) -> int:
    return int(page.get_attribute(".crp", "data-runs"))


def run_code(page: Any, code: str | None = None, *, keys: bool = False) -> None:
    """Put code in the editor (if given), run it with the button or Ctrl+Enter, wait for it."""
    if code is not None:
        page.fill("#crp-code", code)
    before = runs(page)
    if keys:
        page.press("#crp-code", "Control+Enter")
    else:
        page.click("#crp-run")
    page.wait_for_selector(f'.crp[data-runs="{before + 1}"][data-state="ready"]')


def table(page: Any) -> dict[str, tuple[str, str, str]]:
    """Rows of the values table: name -> (shown grad, exact grad, shown data)."""
    rows = page.eval_on_selector_all(
        "#crp-values tbody tr[data-name]",
        """rows => rows.map(r => [r.dataset.name, r.querySelector('.crp-grad').textContent,
                                  r.querySelector('.crp-grad').dataset.exact,
                                  r.querySelector('.crp-data').textContent])""",
    )
    return {name: (grad, exact, data) for name, grad, exact, data in rows}


_NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
# Pyodide's libm (musl) and glibc may round tanh or exp differently in the last bit; a
# wrong derivative is off by far more than 1e-12 relative.
REL = 1e-12


def same_text_and_numbers(shown: str, expected: str) -> None:
    """Equal text, and numbers equal to ``REL``."""
    assert _NUMBER.sub("#", shown) == _NUMBER.sub("#", expected)
    for a, b in zip(_NUMBER.findall(shown), _NUMBER.findall(expected), strict=True):
        assert float(a) == pytest.approx(float(b), rel=REL, abs=1e-15)


def check_against_engine(page: Any) -> dict[str, Any]:
    code = page.input_value("#crp-code")
    namespace, printed = run_here(code)
    assert page.get_attribute(".crp", "data-result") == "ok"
    same_text_and_numbers(page.inner_text("#crp-printed").rstrip("\n"), printed.rstrip("\n"))
    shown = table(page)
    values = {k: v for k, v in namespace.items() if isinstance(v, Value)}
    assert list(shown) == list(values)
    for name, v in values.items():
        grad, exact, data = shown[name]
        assert float(exact) == pytest.approx(v.grad, rel=REL, abs=1e-15), name
        assert data == format_number(v.data), name
        assert grad == (format_number(v.grad) if v.requires_grad else "–"), name
    return namespace


@pytest.mark.slow
@pytest.mark.browser
def test_the_starting_example_shows_the_engines_gradients(watched: WatchedPage) -> None:
    page = watched.page
    assert page.input_value("#crp-code").startswith(DEFAULT)
    about = page.inner_text("#crp-about")
    assert re.match(rf"Python 3\.\d+\.\d+ \(Pyodide [\d.]+\) and chainrule {__version__},", about)
    check_against_engine(page)
    run_code(page)  # the Run button
    namespace = check_against_engine(page)
    run_code(page, keys=True)  # Ctrl+Enter in the editor
    check_against_engine(page)
    assert float(table(page)["x"][1]) == pytest.approx(namespace["x"].grad, rel=REL) == -1.5


@pytest.mark.slow
@pytest.mark.browser
def test_the_graph_has_the_nodes_and_labels_of_to_dot(watched: WatchedPage) -> None:
    page = watched.page
    run_code(page, DEFAULT)
    namespace, _ = run_here(DEFAULT)
    dot = to_dot(namespace["y"], labels={namespace["y"]: "y"}, legend=True)
    expected = set(re.findall(r"^\t((?:v|op)\d+) \[", dot, re.M))
    titles = page.eval_on_selector_all(
        "#crp-graph svg g.node > title", "ts => ts.map(t => t.textContent)"
    )
    assert set(titles) - {"legend"} == expected and "legend" in titles
    text = page.inner_text("#crp-graph-title") + (page.text_content("#crp-graph svg") or "")
    for fragment in ["The graph of y", "tanh", "data 2", "data -3", "data 0.7071", "grad -1.5"]:
        assert fragment in text
    for label in ["x", "w", "b", "y"]:
        assert page.locator(
            "#crp-graph svg g.node text", has_text=re.compile(rf"^{label}$")
        ).count()


def fill_of(page: Any, node: str) -> str | None:
    fill: str | None = page.evaluate(
        """name => {
             const g = [...document.querySelectorAll('#crp-frame svg g.node')]
               .find(g => g.querySelector('title').textContent === name);
             const shape = g && g.querySelector('polygon, ellipse, path');
             return shape ? shape.getAttribute('fill') : null;
           }""",
        node,
    )
    return fill


@pytest.mark.slow
@pytest.mark.browser
def test_the_walkthrough_steps_with_chainrules_captions(watched: WatchedPage) -> None:
    page = watched.page
    run_code(page, DEFAULT)
    namespace, _ = run_here(DEFAULT)
    expected = playground.walkthrough(namespace["y"], {namespace["y"]: "y"})
    assert len(expected) == 4  # tanh, +, *, then the finished gradients
    hot = STYLE["current"]["fillcolor"]
    nodes = page.eval_on_selector_all(
        "#crp-frame svg g.node > title", "ts => ts.map(t => t.textContent)"
    )
    for k, frame in enumerate(expected):
        if k:
            page.click("#crp-next")
        page.wait_for_selector(f'.crp[data-step="{k}"]')
        assert page.inner_text("#crp-caption") == frame["caption"]
        counter = page.inner_text("#crp-counter")
        assert counter == ("Done (3 steps)" if frame["current"] is None else f"Step {k + 1} of 3")
        highlighted = [n for n in nodes if fill_of(page, n) == hot]
        assert highlighted == ([] if frame["current"] is None else [frame["current"]])
    assert "∂y/∂x = -1.5" in page.inner_text("#crp-caption")
    assert page.is_disabled("#crp-next") and not page.is_disabled("#crp-prev")
    page.click("#crp-prev")
    page.wait_for_selector('.crp[data-step="2"]')
    assert page.inner_text("#crp-caption") == expected[2]["caption"]
    page.keyboard.press("ArrowLeft")  # the arrow keys step too (focus is not in the editor)
    page.wait_for_selector('.crp[data-step="1"]')
    assert fill_of(page, "v4") == hot and "receives 0.5 × 1 = 0.5" in expected[1]["caption"]


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("preset", ["fanout", "neuron", "softmax", "tanh"])
def test_every_preset_runs_and_matches_the_engine(watched: WatchedPage, preset: str) -> None:
    page = watched.page
    before = runs(page)
    page.click(f'[data-preset="{preset}"]')
    page.wait_for_selector(f'.crp[data-runs="{before + 1}"][data-state="ready"]')
    assert page.get_attribute(f'[data-preset="{preset}"]', "aria-pressed") == "true"
    namespace = check_against_engine(page)
    page.wait_for_selector('.crp[data-step="0"]')
    assert page.inner_text("#crp-caption").startswith("Step 1 of ")
    if preset == "fanout":  # x is used twice: two shares of 3, summed
        assert table(page)["x"][0] == "6" and namespace["x"].grad == 6.0
        assert "x receives 1 × 3 = 3" in page.inner_text("#crp-caption")


@pytest.mark.slow
@pytest.mark.browser
def test_an_error_in_the_code_is_shown_in_the_page(watched: WatchedPage) -> None:
    page = watched.page
    run_code(page, "from chainrule import Value\n\nx = Value(-1.0, label='x')\ny = x.log()\n")
    assert page.get_attribute(".crp", "data-result") == "error"
    assert page.is_visible("#crp-error")
    text = page.inner_text("#crp-error")
    assert 'File "<your code>", line 4, in <module>' in text
    assert text.splitlines()[-1] == "ValueError: log is undefined at x=-1.0 (needs x > 0)"
    assert "ValueError" in page.inner_text("#crp-status")
    selected = page.evaluate(
        "() => { const e = document.getElementById('crp-code');"
        " return e.value.slice(e.selectionStart, e.selectionEnd); }"
    )
    assert selected == "y = x.log()"  # the failing line is selected in the editor
    assert table(page)["x"][2] == "-1"  # what was built before the error is still shown
    run_code(page, "for i in range(3:\n    print(i)\n")
    assert "SyntaxError" in page.inner_text("#crp-error")
    run_code(page, DEFAULT)
    assert page.is_hidden("#crp-error") and page.get_attribute(".crp", "data-result") == "ok"


def docs_picture(page: Any, path: Path) -> None:
    """The examples, the editor, the values and the walkthrough, small: docs/img/playground.png.

    Refresh the committed picture with ``cp out/screenshots/playground-docs.png docs/img/``
    after a change to the page's look.
    """
    pil_image = pytest.importorskip("PIL.Image", reason="Pillow shrinks the docs picture")
    box = page.evaluate(
        """() => {
             const top = document.querySelector('.crp-presets').getBoundingClientRect();
             const end = document.querySelector('.crp-walk').getBoundingClientRect();
             return {x: top.left + scrollX - 8, y: top.top + scrollY - 8,
                     width: end.width + 16, height: end.bottom - top.top + 16};
           }"""
    )
    page.screenshot(path=str(path), full_page=True, clip=box)
    with pil_image.open(path) as image:
        small = image.convert("RGB")
        small.thumbnail((960, 960))
        small.quantize(colors=96).save(path, optimize=True)


@pytest.mark.slow
@pytest.mark.browser
def test_nothing_left_localhost_and_a_screenshot_is_taken(watched: WatchedPage) -> None:
    page = watched.page
    before = runs(page)
    page.click('[data-preset="tanh"]')  # the starting example, which prints its gradients
    page.wait_for_selector(f'.crp[data-runs="{before + 1}"][data-state="ready"]')
    page.click("#crp-next")
    page.wait_for_selector('.crp[data-step="1"]')
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the theme's sticky header stays on top
    page.screenshot(path=str(SCREENSHOT_DIR / "playground.png"), full_page=True)
    docs_picture(page, SCREENSHOT_DIR / "playground-docs.png")
    assert watched.external_requests == [], "the playground loaded from another host"
    assert watched.failed_requests == []
    assert watched.console_errors == []


@pytest.mark.slow
@pytest.mark.browser
def test_an_endless_loop_can_be_stopped_and_python_restarts(watched: WatchedPage) -> None:
    page = watched.page
    before = runs(page)
    page.fill("#crp-code", "while True:\n    pass\n")
    page.click("#crp-run")
    page.click("#crp-stop")  # waits until the button shows, a few seconds into the run
    page.wait_for_selector(f'.crp[data-runs="{before + 1}"]')
    assert page.inner_text("#crp-error").startswith("Stopped: your code was still running")
    assert page.input_value("#crp-code") == "while True:\n    pass\n"
    page.wait_for_selector('.crp[data-state="ready"]', timeout=START_TIMEOUT_MS)
    run_code(page, DEFAULT)
    check_against_engine(page)


# --- what happened, in the page ---------------------------------------------------------


@pytest.mark.slow
@pytest.mark.browser
def test_without_backward_the_page_marks_the_walkthrough_as_a_preview(
    watched: WatchedPage,
) -> None:
    page = watched.page
    run_code(page, NO_BACKWARD)
    assert page.get_attribute(".crp", "data-walk") == "not called"
    assert page.inner_text("#crp-walk-note").startswith(
        "backward() was not called: this is what it would do."
    )
    page.wait_for_selector('.crp[data-step="0"]')
    assert page.inner_text("#crp-caption").startswith("Step 1 of 2 (what backward() would do)")
    assert {name: row[0] for name, row in table(page).items()} == {"x": "0", "y": "0"}
    assert page.evaluate(  # the frame is marked too, not only the words
        "() => getComputedStyle(document.querySelector('.crp-walk')).borderStyle"
    ).startswith("dashed")


@pytest.mark.slow
@pytest.mark.browser
def test_after_an_error_the_page_shows_no_pass(watched: WatchedPage) -> None:
    page = watched.page
    run_code(page, DEFAULT)  # a pass on screen, which must not stay
    page.wait_for_selector("#crp-frame svg")
    run_code(page, FAILS_BEFORE_BACKWARD)
    assert page.get_attribute(".crp", "data-result") == "error"
    assert page.get_attribute(".crp", "data-walk") == "none"
    assert page.inner_text("#crp-walk-note") == (
        "Your code stopped with an error before backward() ran: there is no pass to show."
    )
    assert page.locator("#crp-frame svg").count() == 0
    assert page.inner_text("#crp-counter") == "–" and page.is_disabled("#crp-next")
    text = page.inner_text("#crp-error")
    assert "chainrule/" not in text  # the library's own frames are left out
    assert text.splitlines()[-1] == "ValueError: log is undefined at x=-1.0 (needs x > 0)"


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_walks_the_pass_whose_numbers_the_table_shows(watched: WatchedPage) -> None:
    page = watched.page
    run_code(page, SHOW_ONE_WALK_ANOTHER)
    namespace, _ = run_here(SHOW_ONE_WALK_ANOTHER)
    assert page.inner_text("#crp-graph-title") == "The graph of b"
    assert page.inner_text("#crp-walk-title") == "Backward pass of d, step by step"
    assert page.get_attribute(".crp", "data-walk") == "ran"
    page.click("#crp-next")
    while not page.is_disabled("#crp-next"):
        page.click("#crp-next")
    page.wait_for_selector('.crp[data-current=""]')  # the last frame: the finished gradients
    a_grad = table(page)["a"][0]
    assert a_grad == format_number(namespace["a"].grad) == "108"
    assert page.inner_text("#crp-caption").startswith(f"Done: ∂d/∂a = {a_grad}")


@pytest.mark.slow
@pytest.mark.browser
def test_editing_the_code_clears_the_examples_highlight(watched: WatchedPage) -> None:
    page = watched.page
    before = runs(page)
    page.click('[data-preset="fanout"]')
    page.wait_for_selector(f'.crp[data-runs="{before + 1}"][data-state="ready"]')
    assert page.locator('[data-preset][aria-pressed="true"]').count() == 1
    page.fill("#crp-code", NO_BACKWARD)  # replaced: no longer the example
    assert page.locator('[data-preset][aria-pressed="true"]').count() == 0
    page.click('[data-preset="fanout"]')
    page.wait_for_selector(f'.crp[data-runs="{before + 2}"][data-state="ready"]')
    page.press("#crp-code", "End")
    page.keyboard.type("# my note")  # typing into the example's code changes it too
    assert page.locator('[data-preset][aria-pressed="true"]').count() == 0


@pytest.mark.slow
@pytest.mark.browser
def test_a_new_layout_keeps_the_step_and_does_not_run_again(watched: WatchedPage) -> None:
    page = watched.page
    page.select_option("#crp-layout", "LR")
    run_code(page, DEFAULT + "import random\nprint(random.random())\n")
    printed = page.inner_text("#crp-printed")
    page.click("#crp-next")
    page.click("#crp-next")
    page.wait_for_selector('.crp[data-step="2"]')
    caption = page.inner_text("#crp-caption")
    before, layouts = runs(page), int(page.get_attribute(".crp", "data-layouts") or 0)
    box = page.eval_on_selector("#crp-frame svg", "s => s.viewBox.baseVal.width")
    page.select_option("#crp-layout", "TB")
    page.wait_for_selector(f'.crp[data-layouts="{layouts + 1}"][data-state="ready"]')
    page.wait_for_selector('.crp[data-step="2"]')
    assert runs(page) == before and page.inner_text("#crp-printed") == printed  # not run again
    assert page.inner_text("#crp-caption") == caption
    assert page.eval_on_selector("#crp-frame svg", "s => s.viewBox.baseVal.width") < box
    page.select_option("#crp-layout", "auto")
    page.wait_for_selector(f'.crp[data-layouts="{layouts + 2}"][data-state="ready"]')


# --- sharing and downloads ------------------------------------------------------------------

SHARED = """\
from chainrule import Value

# shared: "quotes", ünïcode, #hash & ampersand
x = Value(1.5, label="x")
y = (x * x).exp()
y.backward()
"""


def shared_text(page: Any, kind: str) -> str:
    page.click("#crp-link" if kind == "link" else "#crp-embed-code")
    page.wait_for_selector(f'#crp-shared[data-kind="{kind}"]:not([hidden])')
    text: str = page.input_value("#crp-share-text")
    return text


@pytest.mark.slow
@pytest.mark.browser
def test_a_link_reopens_the_playground_with_the_same_code(watched: WatchedPage) -> None:
    page = watched.page
    page.select_option("#crp-layout", "TB")
    run_code(page, SHARED)
    link = shared_text(page, "link")
    base, _, fragment = link.partition("#")
    assert base == page.url.split("#")[0] and "code=" in fragment and "layout=TB" in fragment
    other = page.context.new_page()
    requested: list[str] = []
    other.on("request", lambda request: requested.append(request.url))
    other.goto(link)
    other.wait_for_selector('.crp[data-runs="1"]', timeout=START_TIMEOUT_MS)
    assert other.input_value("#crp-code") == SHARED
    assert other.input_value("#crp-layout") == "TB"
    assert other.locator('[data-preset][aria-pressed="true"]').count() == 0
    assert other.get_attribute(".crp", "data-result") == "ok"
    assert table(other)["x"] == table(page)["x"]
    other.close()
    # the code stays in the fragment: no request carried it to the server
    packed = fragment.split("code=")[1].split("&")[0]
    assert requested and not [url for url in requested if packed in url or "code=" in url]
    page.select_option("#crp-layout", "auto")


@pytest.mark.slow
@pytest.mark.browser
def test_the_embed_view_is_the_playground_without_the_site(watched: WatchedPage) -> None:
    page = watched.page
    run_code(page, SHARED)
    snippet = shared_text(page, "embed")
    match = re.fullmatch(
        r'<iframe src="([^"]+)" title="chainrule playground"[^>]*></iframe>', snippet
    )
    assert match and "embed=1" in match[1]
    other = page.context.new_page()
    other.set_viewport_size({"width": 900, "height": 700})
    other.goto(match[1])
    other.wait_for_selector('.crp[data-runs="1"]', timeout=START_TIMEOUT_MS)
    for hidden in [".md-header", ".md-sidebar--primary", ".md-footer", "h1", ".crp-presets",
                   ".crp-graph", "#crp-link"]:  # fmt: skip
        assert other.locator(hidden).first.is_hidden(), hidden
    for shown in ["#crp-code", "#crp-values", "#crp-frame svg", "#crp-caption", "#crp-full"]:
        assert other.locator(shown).is_visible(), shown
    assert other.input_value("#crp-code") == SHARED
    assert "embed" not in (other.get_attribute("#crp-full", "href") or "")
    assert axe_violations(other) == []
    other.close()


def downloaded(page: Any, button: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    path = download.path()
    return download.suggested_filename, Path(path).read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.browser
def test_the_graph_and_the_current_step_download_as_svg(watched: WatchedPage) -> None:
    import xml.etree.ElementTree as ET

    page = watched.page
    run_code(page, DEFAULT)
    name, text = downloaded(page, "#crp-save-graph")
    assert name == "graph-of-y.svg"
    svg = ET.fromstring(text.encode())
    titles = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")}
    assert {"v0", "v1", "v2", "legend"} <= titles
    page.click("#crp-next")
    page.wait_for_selector('.crp[data-step="1"]')
    caption = page.inner_text("#crp-caption")
    name, text = downloaded(page, "#crp-save-step")
    assert name == "backward-step-2-of-3.svg"
    svg = ET.fromstring(text.encode())
    words = "\n".join("".join(t.itertext()) for t in svg.iter("{http://www.w3.org/2000/svg}tspan"))
    assert words == caption  # the saved picture carries its caption, once
    hot = STYLE["current"]["fillcolor"]
    fills = [e.get("fill") for e in svg.iter() if e.get("fill") == hot]
    assert len(fills) == 1  # the node this step is at


@pytest.mark.slow
@pytest.mark.browser
def test_every_state_of_the_page_passes_axe_in_both_themes(watched: WatchedPage) -> None:
    """axe-core's WCAG 2 A/AA rules on what a run leaves on screen: a preview's banner, an
    error, the share box (tests/test_site.py checks the page as it opens)."""
    page = watched.page
    found = {}
    for scheme in ("default", "slate"):
        page.evaluate(f"() => document.body.setAttribute('data-md-color-scheme', '{scheme}')")
        run_code(page, NO_BACKWARD)
        found[f"{scheme}: preview"] = axe_violations(page)
        shared_text(page, "link")
        run_code(page, FAILS_BEFORE_BACKWARD)
        found[f"{scheme}: error, share box"] = axe_violations(page)
        run_code(page, NO_BACKWARD + "y.backward()\ny.backward()\n")
        found[f"{scheme}: grads added up"] = axe_violations(page)
    page.evaluate("() => document.body.setAttribute('data-md-color-scheme', 'default')")
    assert {state: v for state, v in found.items() if v} == {}


def test_a_backward_on_an_unnamed_value_and_a_training_loop() -> None:
    code = "from chainrule import Value\nx = Value(2.0)\n(x * x).backward()\n"
    view = playground.run(code)["view"]
    assert view["walk_note"] == "The pass of backward(), which your code ran."
    assert view["frames"][-1]["caption"].startswith("Done: ∂out/∂x = 4")
    loop = (
        "from chainrule import Value\nw = Value(1.0)\nfor _ in range(50):\n"
        "    loss = (w * 3.0 - 6.0) ** 2\n    w.zero_grad()\n    loss.backward()\n"
        "    w.data -= 0.01 * w.grad\n"
    )
    result = playground.run(loop)
    view = result["view"]
    assert "(the last of its 50 backward() calls)" in view["walk_note"]
    assert view["walk"] == "loss" and view["frames"][0]["status"] == "ran"
    rows = {row["name"]: row for row in result["values"]}
    assert view["frames"][-1]["caption"].startswith(f"Done: ∂loss/∂w = {rows['w']['grad']}")


def test_a_value_of_zero_is_drawn_and_walked_like_any_other() -> None:
    view = playground.run("from chainrule import Value\nx = Value(0.0)\ny = x * x\nshow(y)\n")[
        "view"
    ]
    assert view["root"] == "y" and view["walk"] == "y"
