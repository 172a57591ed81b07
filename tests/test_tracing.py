"""chainrule.tracing: one run of f recorded through the engine's hooks, its leaves sorted, and
compile and batched reading the same trace the same way (each refusing in its own words)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from chainrule import Function, Value, batched, engine
from chainrule.checkpointing import checkpoint
from chainrule.compiler import compile
from chainrule.tracing import Tape, TracedGraph, outputs_of, recording


class _Graph(TracedGraph):
    CANNOT = "this test cannot use"

    def check_leaf(self, leaf: Value, kind: str) -> None:
        pass


def _traced(f: Callable[..., Any], *xs: float) -> _Graph:
    with recording([Value(x) for x in xs]) as tape:
        tape.outputs, tape.aux = outputs_of(f(*tape.inputs), "this test")
    graph = _Graph(tape)
    graph.select([graph.source_of(r.node) for r in graph.reads])
    return graph


def test_leaves_are_arguments_literals_or_read_per_call() -> None:
    w = Value(0.5)
    kept: list[Value] = []

    def f(x: Value, unused: Value) -> Value:
        c = Value(3.0, requires_grad=False)  # only the run holds it: a literal
        k = Value(1.5)  # made here, but held outside the run too: read per call
        kept.append(k)
        return x * w + c * 2.0 + k * x

    g = _traced(f, 1.0, 2.0)
    x, unused = g.tape.inputs
    assert g.externals == [w, kept[0]]
    assert g.leaf_kind[x] == "input" and unused not in g.leaf_kind
    literals = [leaf for leaf, kind in g.leaf_kind.items() if kind == "literal"]
    assert sorted(leaf.data for leaf in literals) == [2.0, 3.0]
    constant = next(n for n in g.order if n.data == 6.0)  # c * 2.0: the same on every call
    assert constant not in g.varies and all(n in g.varies for n in g.order if n is not constant)


def test_reads_of_a_varying_number_are_kept_with_their_line() -> None:
    def f(x: Value) -> Value:
        c = Value(2.0, requires_grad=False)
        if c > 1.0:  # a constant's number: the same on every call
            x = x * c
        return x.tanh() if x > 0.0 else -x  # decides otherwise on another call

    g = _traced(f, 1.5)
    assert [(r.how, r.other, r.result) for r in g.reads] == [("gt", 0.0, True)]
    assert g.reads[0].where.endswith(f"test_tracing.py:{f.__code__.co_firstlineno + 4}")
    assert g.reads[0].at == 1  # after x * c
    assert len(g.tape.reads) == 2


def test_a_detached_copy_is_its_source_and_other_threads_reads_are_ignored() -> None:
    def f(x: Value) -> Value:
        y = x * 2.0
        other = threading.Thread(target=lambda: Value(1.0).data)
        other.start()
        other.join()
        return y.detach() * x

    g = _traced(f, 3.0)
    product = g.outputs[0]
    assert g.parents[product][0] is g.order[0] and g.order[0].data == 6.0
    assert g.tape.reads == [] and list(g.tape.detached.values()) == [g.order[0]]


def test_recording_leaves_no_hook_and_sorts_nothing_when_f_raises() -> None:
    with pytest.raises(KeyError), recording([Value(1.0)]) as tape:
        raise KeyError("boom")
    assert engine.NODE_HOOKS == [] and engine.READ_HOOKS == []
    assert tape.literals == set() and tape.held == set() and isinstance(tape, Tape)


def _lazy_parameter() -> tuple[Callable[[Value], Value], list[Value]]:
    """``f`` that makes its parameter on its first run and keeps it for the next ones."""
    kept: list[Value] = []

    def f(x: Value) -> Value:
        if not kept:
            kept.append(Value(2.0))
        return x * kept[0]

    return f, kept


def test_a_leaf_made_in_f_and_held_outside_is_read_per_call_by_both() -> None:
    np = pytest.importorskip("numpy")
    f, kept = _lazy_parameter()
    cf = compile(f)
    assert cf(1.5) == (3.0, (2.0,))
    kept[0].data = 5.0
    assert cf(1.5) == (7.5, (5.0,)) and cf.parameters == kept and kept[0].grad == 3.0
    f, kept = _lazy_parameter()
    bf = batched(f, reduction="sum")
    assert bf(np.array([1.5])).tolist() == [3.0]
    kept[0].data = 5.0
    assert bf(np.array([1.5, 1.0])).tolist() == [7.5, 5.0]
    assert bf.parameters == kept and kept[0].grad == 1.5 + 2.5


def test_a_node_computed_before_f_is_refused_by_each_in_its_own_words() -> None:
    np = pytest.importorskip("numpy")
    h = Value(0.5) * 3.0
    f = lambda x: x * h
    with pytest.raises(ValueError, match=r"^compile cannot compile .* computed before f"):
        compile(f)(2.0)
    with pytest.raises(ValueError, match=r"^batched cannot use .* computed before f"):
        batched(f)(np.array([2.0]))


def test_hooks_functions_and_checkpoints_are_refused_by_batched() -> None:
    np = pytest.importorskip("numpy")
    w = Value(0.5)
    w.register_hook(lambda g: g)
    with pytest.raises(ValueError, match=r"batched does not support hooks .* found on Value"):
        batched(lambda x: x * w)(np.array([2.0]))
    assert compile(lambda x: x * w)(2.0) == (1.0, (0.5,))  # compile runs them, on the engine

    def hooked(x: Value) -> Value:
        y = x * 2.0
        y.register_hook(lambda g: g)
        return y

    with pytest.raises(ValueError, match="batched does not support hooks"):
        batched(hooked)(np.array([2.0]))
    with pytest.raises(ValueError, match=r"Op\('_Cube'\).* belong to one example; use custom_op"):
        batched(lambda x: _Cube.apply(x) + x)(np.array([2.0]))
    v = Value(0.3)  # a parameter: the segment requires grad, so its backward would run
    with pytest.raises(ValueError, match=r"batched cannot run the node made by Op\('checkpoint'\)"):
        batched(lambda x: checkpoint(lambda u: (u * v).tanh(), x))(np.array([2.0]))


class _Cube(Function):
    @staticmethod
    def forward(ctx: Any, x: float) -> float:
        return x * x * x

    @staticmethod
    def backward(ctx: Any, grad_out: float) -> float:
        raise AssertionError("never called: the node is refused")
