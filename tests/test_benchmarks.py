"""The benchmarks compare like with like: every engine and the hand-written floor compute the same
numbers. Timing is never asserted here (benchmarks/run.py measures it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import run  # benchmarks/run.py
import workloads  # benchmarks/workloads.py

from chainrule import Value, compile

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"

TOL = 1e-12


def _chainrule() -> workloads.Engine:
    engines, _ = workloads.engines()
    return next(e for e in engines if e.name == "chainrule")


def test_floor_mlp_gradient_is_chainrules() -> None:
    xs, ys = workloads.make_problem()
    flat = workloads.mlp_init()
    params = [Value(p) for p in flat]
    loss = workloads.mlp_loss(params, [[Value(a, requires_grad=False) for a in x] for x in xs], ys)
    loss.backward()
    floor_loss, floor_grad = workloads.floor_mlp_grad(flat, xs, ys)
    assert floor_loss == pytest.approx(loss.data, abs=TOL)
    assert floor_grad == pytest.approx([p.grad for p in params], abs=TOL)
    assert any(g != 0.0 for g in floor_grad)


@pytest.mark.parametrize("points", [10, pytest.param(100, marks=pytest.mark.slow)])
def test_compiled_mlp_matches_the_floor(points: int) -> None:  # and so the engine (test above)
    """The benchmark's compiled step on its 100 points (a 65,818-node trace), and on 10."""
    xs, ys = workloads.make_problem()
    xs, ys = xs[:points], ys[:points]
    flat = workloads.mlp_init()
    step = compile(
        lambda *ps: workloads.mlp_loss(list(ps), [[float(a) for a in x] for x in xs], ys)
    )
    loss, grads = step(*flat)
    floor_loss, floor_grad = workloads.floor_mlp_grad(flat, xs, ys)
    assert loss == pytest.approx(floor_loss, abs=TOL)
    assert list(grads) == pytest.approx(floor_grad, abs=TOL)


@pytest.mark.parametrize("n", [2, 10, 1_001])
def test_floor_chain_and_fanout(n: int) -> None:
    e = _chainrule()
    root, (x,) = workloads.chain(e, n)
    root.backward()
    assert x.grad == pytest.approx(workloads.floor_chain(n), rel=TOL)
    root, (x,) = workloads.fanout(e, n)
    root.backward()
    assert x.grad == pytest.approx(workloads.floor_fanout(n), abs=TOL)


def test_floor_dag_and_node_count() -> None:
    prog = workloads.dag_program(500)
    root, leaves = workloads.dag(_chainrule(), prog)
    root.backward()
    assert [v.grad for v in leaves] == pytest.approx(workloads.floor_dag(prog), rel=1e-9, abs=TOL)
    assert workloads.count_nodes(root) > 500


def test_pairwise_sum_is_balanced() -> None:
    terms: list[Any] = [Value(float(i)) for i in range(1_000)]
    total = workloads.pairwise_sum(terms)
    assert total.data == sum(range(1_000))
    depth, node = 0, total
    while node._prev:
        node, depth = node._prev[0], depth + 1
    assert depth == 10  # ceil(log2(1000))


def _imports(path: Path) -> set[str]:
    """Top-level module names ``path`` imports, anywhere in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle in ``graph`` as a path [a, b, ..., a], or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str]:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep, [*path, dep])):
                return found
        state[name] = 2
        return []

    for name in sorted(graph):
        if name not in state and (found := visit(name, [name])):
            return found
    return []


def test_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_benchmark_scripts_import_no_circle() -> None:
    """Scripts share benchmarks/workloads.py and never import each other in a circle."""
    scripts = {p.stem: p for p in BENCH.glob("*.py")}
    graph = {name: _imports(path) & set(scripts) for name, path in scripts.items()}
    assert {"run", "workloads", "profile_engine", "mlp_vs_micrograd"} <= set(graph)
    assert _cycle(graph) == [], f"import circle in benchmarks/: {' -> '.join(_cycle(graph))}"
    assert graph["workloads"] == set() and graph["profile_engine"] == {"workloads"}
    assert "mlp_vs_micrograd" not in graph["run"]  # run.py starts it as a child process


def test_fill_page_replaces_only_the_generated_part() -> None:
    page = f"# P\n\nintro\n\n{run.BEGIN}\n\nold table\n\n{run.END}\n\n## History\n\nkept\n"
    filled = run.fill_page(page, "| new |")
    assert filled == f"# P\n\nintro\n\n{run.BEGIN}\n\n| new |\n\n{run.END}\n\n## History\n\nkept\n"
    with pytest.raises(ValueError, match="GENERATED"):
        run.fill_page("# P\n\nno markers\n", "| new |")


def test_the_committed_page_has_its_markers() -> None:
    page = (BENCH.parent / "docs" / "performance.md").read_text()
    markers = [run.BEGIN, run.END, run.VERSIONS_BEGIN, run.VERSIONS_END, run.BATCHED_BEGIN,
               run.BATCHED_END]  # fmt: skip
    assert [page.count(m) for m in markers] == [1] * len(markers)
    assert sorted(markers, key=page.index) == markers


def test_fill_page_replaces_only_the_part_between_the_markers_it_is_given() -> None:
    page = f"{run.BEGIN}\nA\n{run.END}\n{run.VERSIONS_BEGIN}\nB\n{run.VERSIONS_END}\nhand\n"
    filled = run.fill_page(page, "new B", run.VERSIONS_BEGIN, run.VERSIONS_END)
    assert (
        filled
        == f"{run.BEGIN}\nA\n{run.END}\n{run.VERSIONS_BEGIN}\n\nnew B\n\n{run.VERSIONS_END}\nhand\n"
    )


def test_the_row_per_python_shows_each_supported_version_measured_or_absent() -> None:
    def measured(micrograd: float, chainrule: float, gc_off: float) -> dict[str, Any]:
        engines = {"micrograd 0.1.0": {"time": micrograd, "bytes_per_node": 744.0},
                   "chainrule": {"time": chainrule, "bytes_per_node": 186.0}}  # fmt: skip
        return {"python": "CPython 3.12.1", "engines": engines, "repeats": 1,
                "micrograd_gc_off_time": gc_off}  # fmt: skip

    # the least time of each engine over the rounds, whichever round it came from
    rounds = run.least(run.least(None, measured(4.2, 1.5, 0.6)), measured(5.0, 1.0, 0.5))
    assert rounds["repeats"] == 2
    lines = run.python_lines({"3.12": rounds}, ("3.12", "3.14"), 2, "Generated by a test.")
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| Python")]
    assert rows == [
        "| CPython 3.12.1 | 4.200 s | 1.000 s | 4.20x | 0.50x | 0.25 (186 / 744) |",
        "| 3.14 | absent on this machine | - | - | - | - |",
    ]
    assert run.supported_pythons()[:4] == ("3.10", "3.11", "3.12", "3.13")


def test_batched_lines_write_one_row_per_batch_size_from_the_scripts_json() -> None:
    sizes = {"10": 5e-5, "10000": 5e-7}
    figures = {
        "workload": "MLP", "repeats": 3,
        "per_example_loop": {"compiled": 8e-5, "dynamic": 1.4e-3},
        "batched_fused": {"per_example": sizes, "trace_seconds": 0.012, "trace_in_steps": 2.4},
        "batched_unfused": {"per_example": {"10": 1e-4, "10000": 1e-6}},
        "speedup_vs_compiled_loop": 160.0, "fusion_gain": 2.0,
    }  # fmt: skip
    lines = run.batched_lines(figures, "Generated by a test.")
    assert "| 10 | 50.000 | 100.000 | not installed |" in lines
    assert "| 10,000 | 0.500 | 1.000 | not installed |" in lines
    assert any("160x less per example" in line for line in lines)
    assert not any("PyTorch 2" in line for line in lines)  # no torch, no ratio


@pytest.mark.slow
def test_quick_run_prints_every_engine(tmp_path: Path) -> None:
    """`run.py --quick` runs end to end (a missing peer is skipped with a line), writes nothing."""
    done = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--out", str(tmp_path / "p.md")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    for engine in ("chainrule ", "chainrule gc off", "chainrule compiled", "floor (plain floats)"):
        assert engine in done.stdout
    assert "## Goals, and what this run measured" in done.stdout
    try:
        import micrograd  # noqa: F401
    except ImportError:
        return
    # mlp_vs_micrograd.py --json ran as a child, and its JSON became the page's table
    assert "`mlp_vs_micrograd.py` failed" not in done.stdout
    assert "| the same, 3 steps in a fresh process (`mlp_vs_micrograd.py`) | not" not in done.stdout
    fresh = done.stdout.split("| engine (MLP 2-16-16-1, 100 points, 3 SGD steps")[1].splitlines()
    cells = [row.strip("| ").split(" | ") for row in fresh[2:4]]
    assert [c[0] for c in cells] == ["micrograd 0.1.0", "chainrule"]
    assert cells[0][3:] == cells[1][3:] == ["65,818", "0.714169"]  # same graph, same final loss
    assert not (tmp_path / "p.md").exists()


def test_the_hvp_methods_compute_the_closed_form() -> None:
    """benchmarks/hvp.py times four ways to H v: each gives the Rosenbrock closed form."""
    import hvp  # benchmarks/hvp.py

    x = [0.3, -0.7, 1.1, 0.2, -1.4]
    v = [1.0, -2.0, 0.5, 0.0, 3.0]
    exact = hvp.rosenbrock_hvp(x, v)
    assert any(e != 0.0 for e in exact)
    for name, method in hvp.METHODS.items():
        tol = 1e-5 if name == "finite differences" else 1e-9
        assert method(hvp.rosenbrock, x, v) == pytest.approx(exact, abs=tol), name


@pytest.mark.slow
def test_ab_versions_loads_a_revision_as_a_package_of_its_own(tmp_path: Path) -> None:
    import ab_versions  # benchmarks/ab_versions.py

    found = subprocess.run(["git", "-C", str(BENCH), "rev-parse", "HEAD"], capture_output=True)
    if found.returncode:
        pytest.skip("not a git checkout")
    sys.path.insert(0, str(tmp_path))
    try:
        value = ab_versions.extract("HEAD", "chainrule_ab_test", tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
    assert value.__module__ == "chainrule_ab_test.engine" and value is not Value
    assert workloads.train(value, steps=1) == workloads.train(Value, steps=1)
