"""The benchmarks compare like with like: every engine and the hand-written floor compute the same
numbers. Timing is never asserted here (benchmarks/run.py measures it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainrule import Value, compile

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (benchmarks/run.py)

TOL = 1e-12


def _chainrule() -> run.Engine:
    engines, _ = run.engines()
    return next(e for e in engines if e.name == "chainrule")


def test_floor_mlp_gradient_is_chainrules() -> None:
    xs, ys = run.make_problem()
    flat = run.mlp_init()
    params = [Value(p) for p in flat]
    loss = run.mlp_loss(params, [[Value(a, requires_grad=False) for a in x] for x in xs], ys)
    loss.backward()
    floor_loss, floor_grad = run.floor_mlp_grad(flat, xs, ys)
    assert floor_loss == pytest.approx(loss.data, abs=TOL)
    assert floor_grad == pytest.approx([p.grad for p in params], abs=TOL)
    assert any(g != 0.0 for g in floor_grad)


def test_compiled_mlp_matches_the_floor() -> None:  # and so the engine (test above)
    xs, ys = run.make_problem()
    flat = run.mlp_init()
    step = compile(lambda *ps: run.mlp_loss(list(ps), [[float(a) for a in x] for x in xs], ys))
    loss, grads = step(*flat)
    floor_loss, floor_grad = run.floor_mlp_grad(flat, xs, ys)
    assert loss == pytest.approx(floor_loss, abs=TOL)
    assert list(grads) == pytest.approx(floor_grad, abs=TOL)


@pytest.mark.parametrize("n", [2, 10, 1_001])
def test_floor_chain_and_fanout(n: int) -> None:
    e = _chainrule()
    root, (x,) = run.chain(e, n)
    root.backward()
    assert x.grad == pytest.approx(run.floor_chain(n), rel=TOL)
    root, (x,) = run.fanout(e, n)
    root.backward()
    assert x.grad == pytest.approx(run.floor_fanout(n), abs=TOL)


def test_floor_dag_and_node_count() -> None:
    prog = run.dag_program(500)
    root, leaves = run.dag(_chainrule(), prog)
    root.backward()
    assert [v.grad for v in leaves] == pytest.approx(run.floor_dag(prog), rel=1e-9, abs=TOL)
    assert run.count_nodes(root) > 500


def test_pairwise_sum_is_balanced() -> None:
    terms: list[Any] = [Value(float(i)) for i in range(1_000)]
    total = run.pairwise_sum(terms)
    assert total.data == sum(range(1_000))
    depth, node = 0, total
    while node._prev:
        node, depth = node._prev[0], depth + 1
    assert depth == 10  # ceil(log2(1000))


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
    assert "## The issue's targets, from this run" in done.stdout
    assert not (tmp_path / "p.md").exists()
