"""The node and the walk: semantics, deep graphs, memory, bad input, modes, hooks, anomaly."""

from __future__ import annotations

import gc
import math
import pickle
import tracemalloc
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import assert_close, central_difference, reals, reverse_mode

import chainrule as cr
from chainrule import Value, anomaly, autograd, ops
from chainrule.engine import adjoints, apply, topological_order
from chainrule.ops import Op

# --- micrograd compatibility ---


def test_micrograd_attributes_and_repr() -> None:
    a, b = Value(2.0, label="a"), Value(-3.0)
    c = a * b
    assert c._prev == (a, b) and isinstance(c._prev, tuple)
    assert c._op == "*" and c.label == "" and a.label == "a"
    assert a.grad == 0.0 and isinstance(a.grad, float)
    assert repr(c) == "Value(data=-6.0, grad=0.0)"
    assert (a + 1)._prev[1].requires_grad is False  # the constant 1
    assert Value(3)._prev == () and Value(3).data == 3.0


def test_reflected_operators() -> None:
    x = Value(2.0)
    expr: Callable[[], Value]
    for expr, value, grad in [
        (lambda: 3 + x, 5.0, 1.0),
        (lambda: 3 - x, 1.0, -1.0),
        (lambda: 3 * x, 6.0, 3.0),
        (lambda: 1 / x, 0.5, -0.25),
        (lambda: 2**x, 4.0, 4.0 * math.log(2)),
        (lambda: -x, -2.0, -1.0),
        (lambda: +x, 2.0, 1.0),
    ]:
        x.zero_grad()
        y = expr()
        y.backward()
        assert (y.data, x.grad) == pytest.approx((value, grad))


# --- the += rule and backward twice ---


def test_fan_out_accumulates() -> None:
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    y = Value(3.0)
    a = y * 2
    b = y + 1
    (a * b).backward()  # d/dy (2y (y + 1)) = 4y + 2
    assert y.grad == 14.0


def test_backward_twice_adds_the_same_to_leaves_and_never_double_counts_interior() -> None:
    x = Value(2.0)
    h = x * x  # interior, used twice
    y = h * h + h
    y.backward()
    first = x.grad  # d/dx (x^4 + x^2) = 4x^3 + 2x = 36
    interior = h.grad  # 2h + 1 = 9
    y.backward()
    assert first == 36.0 and interior == 9.0
    assert x.grad == 72.0  # leaves accumulate exactly once more
    assert h.grad == 9.0  # interior shows the latest call, not 18


def test_backward_with_gradient_seed() -> None:
    x = Value(2.0)
    (x * 3).backward(gradient=0.5)
    assert x.grad == 1.5


def test_topological_order_is_deterministic_and_parents_first() -> None:
    x, y = Value(1.0), Value(2.0)
    z = (x * y + x) * (y + 3)
    order = topological_order(z)
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for parent in node._prev:
            if parent.requires_grad:
                assert position[id(parent)] < position[id(node)]
    assert [n.data for n in order] == [n.data for n in topological_order(z)]
    assert order[-1] is z and len(order) == len({id(n) for n in order})


# --- random expression trees with shared subexpressions ---

BINOPS = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
          lambda a, b: a * 0.5 + b.tanh()]  # fmt: skip
UNOPS = [lambda a: a.tanh(), lambda a: a.sigmoid(), lambda a: a.sin(), lambda a: a * a,
         lambda a: (a * 0.3).exp(), lambda a: a.softplus()]  # fmt: skip


@st.composite
def programs(draw: st.DrawFn) -> list[tuple[int, int, int, int]]:
    """A random straight-line program over 3 inputs; each step may reuse any earlier node."""
    steps = []
    for k in range(draw(st.integers(1, 12))):
        node = st.integers(0, 3 + k - 1)  # any input or earlier step
        steps.append((draw(st.integers(0, 1)), draw(st.integers(0, 5)), draw(node), draw(node)))
    return steps


def run_program(steps: list[tuple[int, int, int, int]], *inputs: Value) -> Value:
    nodes = list(inputs)
    for kind, op, i, j in steps:
        if kind == 0:
            nodes.append(BINOPS[op % len(BINOPS)](nodes[i], nodes[j]))
        else:
            nodes.append(UNOPS[op](nodes[i]))
    return nodes[-1] + 0.0 * nodes[0] + 0.0 * nodes[1] + 0.0 * nodes[2]


@given(programs(), reals(-1.5, 1.5), reals(-1.5, 1.5), reals(-1.5, 1.5))
def test_random_expression_dags_match_central_differences(
    steps: list[tuple[int, int, int, int]], a: float, b: float, c: float
) -> None:
    f = lambda *xs: run_program(steps, *xs)
    grads = reverse_mode(f, [a, b, c])
    for i, g in enumerate(grads):
        assert_close(g, central_difference(f, [a, b, c], i), atol=1e-4, rtol=1e-4)


# --- deep graphs and memory ---


@pytest.mark.slow
def test_million_node_chain_has_no_recursion_limit() -> None:
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


@pytest.mark.slow
def test_graph_is_freed_by_reference_counting_alone() -> None:
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        baseline, _ = tracemalloc.get_traced_memory()
        x = Value(0.5)
        y = x
        for _ in range(100_000):
            y = (y * 0.999 + 0.001).tanh()
        y.backward()
        built, _ = tracemalloc.get_traced_memory()
        del y
        freed, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        gc.enable()
    assert built - baseline > 10_000_000
    # back to baseline without gc.collect(): no cycles (a few 100 kB of interpreter caches
    # and allocator bookkeeping may remain, against ~100 MB for the graph)
    assert freed - baseline < 0.01 * (built - baseline)


def test_partials_use_the_parents_numbers_when_backward_runs() -> None:
    a, b = Value(2.0), Value(3.0)
    c = a * b
    a.data = 10.0  # as in micrograd, the rule reads a.data during backward
    c.backward()
    assert b.grad == 10.0 and a.grad == 3.0


def test_a_node_refers_to_its_op_object_and_stores_no_closure() -> None:
    a, b = Value(2.0), Value(3.0)
    c = a * b
    assert c.grad_fn is ops.MUL and c._op == "*" and c._prev == (a, b)
    assert c.grad_fn.local(a.data, b.data, c.data) == (3.0, 2.0)
    assert (a + b).grad_fn is (b + c).grad_fn is ops.ADD
    assert a.grad_fn is None and a.is_leaf and not c.is_leaf
    assert set(Value.__slots__) == {
        "_data",
        "_grad",
        "_hooks",
        "_op",
        "_prev",
        "grad_fn",
        "label",
        "requires_grad",
    }


def test_apply_makes_nodes_of_any_arity() -> None:
    add3 = Op("add3", lambda a, b, c: a + b + c, lambda a, b, c, out: (1.0, 2.0, 3.0))
    x, y = Value(1.0), Value(2.0)
    out = apply(add3, x, y, 4.0)  # a number becomes a constant leaf
    assert out.data == 7.0 and out.grad_fn is add3 and out._prev[:2] == (x, y)
    out.backward()
    assert (x.grad, y.grad, out._prev[2].grad) == (1.0, 2.0, 0.0)
    with pytest.raises(TypeError, match="expected a Value or a real number, got str"):
        apply(add3, x, y, "4")  # type: ignore[arg-type]  # the wrong type is the test
    with cr.no_grad():
        assert apply(add3, x, y, 1.0).grad_fn is None


def test_adjoints_writes_no_grad_and_matches_backward() -> None:
    x, w = Value(0.5), Value(-1.5)
    y = (x * w).tanh() * x
    grads = adjoints({y: 1.0})
    assert x.grad == 0.0 and w.grad == 0.0 and y.grad == 0.0
    y.backward()
    assert grads[x] == x.grad and grads[w] == w.grad and grads[y] == 1.0


def test_adjoints_of_a_lone_value_seed_it_with_one_and_bad_seeds_are_named() -> None:
    x = Value(3.0)
    y = x * x
    assert adjoints(y) == adjoints({y: 1.0}) == {y: 1.0, x: 6.0}
    assert adjoints({y: 0.5})[x] == 3.0
    with pytest.raises(TypeError, match="needs a real number, got str"):
        adjoints({y: "1"})  # type: ignore[dict-item]


def test_a_node_reached_only_through_masked_edges_gets_a_zero_adjoint() -> None:
    # relu at -1 passes no gradient, but x and h are still reached: their adjoint is 0.0
    x = Value(-1.0)
    h = x * 2.0
    y = h.relu()
    assert adjoints(y) == {y: 1.0, h: 0.0, x: 0.0}
    h.grad = 123.0  # an interior .grad left from an earlier call is replaced
    y.backward()
    assert (h.grad, x.grad) == (0.0, 0.0)
    assert autograd.grad([y], [x]) == (0.0,)  # used (PyTorch gives 0, not "unused")


def test_no_gradient_leaves_a_node_that_only_masked_edges_reach() -> None:
    # relu'(0) is a structural zero: nothing reaches the sqrt node, so its slope of inf at 0
    # never meets a gradient (PyTorch computes 0 * inf = nan here)
    x = Value(0.0)
    x.sqrt().relu().backward()
    assert x.grad == 0.0
    z = Value(-1.0)
    z.relu().sqrt().backward()  # an inf adjoint arrives at relu; the masked edge passes nothing
    assert z.grad == 0.0


def test_an_op_with_the_wrong_number_of_partials_is_refused() -> None:
    bad = Op("bad_arity_test", lambda x: x, lambda x, out: (1.0, 2.0))
    with pytest.raises(ValueError, match=r"op 'bad_arity_test' gave 2 partials for 1 inputs"):
        apply(bad, Value(1.0)).backward()


def test_a_failed_backward_leaves_every_grad_unchanged() -> None:
    a, b = Value(-2.0), Value(3.0)
    x = Value(1.0)
    y = x * 2.0 + a**b  # d/db of a**b needs a > 0: the pass fails after x's share is known
    x.grad = 5.0
    with pytest.raises(ValueError, match="needs a > 0"):
        y.backward()
    assert (x.grad, a.grad, b.grad) == (5.0, 0.0, 0.0)


def test_gc_tracked_objects_per_node_stay_within_budget() -> None:
    """Each node: the Value and its parents tuple; its op is shared by every node of the op.

    The GC's cost with the collector on grows with these counts (benchmarks/mlp_vs_micrograd.py).
    """
    w, b = Value(0.5), Value(0.1)
    gc.collect()
    before = len(gc.get_objects())
    y = Value(1.0)
    for _ in range(1000):
        y = y * w + b
    created = len(gc.get_objects()) - before
    assert created <= 1 + 1000 * (2 + 2)  # 4 per mul-add pair, 2 per node
    y.backward()
    assert b.grad == pytest.approx(sum(0.5**k for k in range(1000)))  # dy/db = sum of w**k


# --- bad input ---


@pytest.mark.parametrize("bad", ["abc", None, [1], {1: 2}, 1 + 2j, True, object()])
def test_value_rejects_non_real_input(bad: object) -> None:
    with pytest.raises(
        TypeError, match=f"Value\\(\\) needs a real number, got {type(bad).__name__}"
    ):
        Value(bad)  # type: ignore[arg-type]


def test_value_accepts_ints_fractions_and_numpy_like_reals() -> None:
    assert Value(3).data == 3.0 and isinstance(Value(3).data, float)
    assert Value(Fraction(1, 4)).data == 0.25  # type: ignore[arg-type]  # a Real, hinted float


def test_operations_with_non_numbers_raise_type_error() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match="str"):
        x + "a"  # type: ignore[operator]
    with pytest.raises(TypeError):
        "a" * x  # type: ignore[operator]
    with pytest.raises(TypeError):
        x + True  # bool is an int to the type checker, a TypeError here
    with pytest.raises(TypeError):
        x.leaky_relu("0.1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "error", "message"),
    [
        (lambda: Value(1.0) / 0, ZeroDivisionError, "division by zero: 1.0 / 0.0"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"0.0 \*\* -1.0 is undefined"),
        (lambda: Value(0.0).log(), ValueError, "log is undefined at x=0.0"),
        (lambda: Value(-1.0).log(), ValueError, r"log is undefined at x=-1.0 \(needs x > 0\)"),
        (lambda: Value(-1.0).sqrt(), ValueError, "sqrt is undefined at x=-1.0"),
        (lambda: Value(-8.0) ** 0.5, ValueError, "negative base needs an integer exponent"),
        (lambda: (Value(-2.0) ** Value(2.0)).backward(), ValueError, r"d/db of a\*\*b needs a > 0"),
    ],
)
def test_domain_errors_are_clear(expr, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message):
        expr()


def test_documented_ieee_cases() -> None:
    x = Value(0.0)
    x.sqrt().backward()
    assert x.grad == math.inf  # the slope of sqrt at 0 is infinite
    y = Value(-2.0)
    (y ** Value(2.0, requires_grad=False)).backward()
    assert y.grad == -4.0  # a constant exponent needs no log of the base
    z = Value(float("nan"))
    assert math.isnan((z * 2).data)  # NaN input propagates (IEEE); detect_anomaly finds it


# --- modes, leaves, hooks ---


def test_leaves_detach_item() -> None:
    x = Value(2.0)
    y = x * 3
    assert x.is_leaf and not y.is_leaf
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.data == 6.0
    assert y.item() == 6.0
    c = Value(5.0, requires_grad=False)
    out = x * c
    out.backward()
    assert c.grad == 0.0 and x.grad == 5.0


# --- gradcheck ---


def test_numpy_scalars_are_reals_and_numpy_bools_and_arrays_are_not() -> None:
    np = pytest.importorskip("numpy")
    assert Value(np.float32(1.5)).data == 1.5 and Value(np.int64(3)).data == 3.0
    for product in (np.float64(2.0) * Value(3.0), np.float32(2.0) * Value(3.0)):
        assert isinstance(product, Value) and product.data == 6.0
    with pytest.raises(TypeError, match="got bool"):
        Value(np.bool_(True))
    with pytest.raises(TypeError, match="got ndarray"):
        Value(np.array([1.0]))


# --- .data holds a float ---


def test_data_refuses_a_value_and_names_the_fix() -> None:
    x = Value(2.0)
    (x * x).backward(create_graph=True)  # x.grad is now a Value
    with pytest.raises(TypeError, match=r"x\.grad\.data"):
        x.data -= 0.1 * x.grad
    assert x.data == 2.0 and type(x.data) is float  # unchanged
    x.data -= 0.1 * x.grad.data
    assert x.data == pytest.approx(1.6)


@pytest.mark.parametrize("bad", ["abc", None, [1.0], True, 1j])
def test_data_refuses_what_is_not_a_real_number(bad: object) -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match=r"Value\.data needs a"):
        x.data = bad
    assert x.data == 1.0


def test_data_stores_any_real_number_as_a_float() -> None:
    np = pytest.importorskip("numpy")
    x = Value(1.0)
    for number, want in [
        (3, 3.0),
        (Fraction(1, 4), 0.25),
        (np.float32(1.5), 1.5),
        (np.int64(7), 7.0),
    ]:
        x.data = number
        assert type(x.data) is float and x.data == want
        assert type(Value(number).data) is float


def test_backward_takes_a_value_seed() -> None:
    x = Value(3.0)
    (x * x).backward(Value(2.0))
    assert x.grad == 12.0
    x = Value(3.0)
    (x * x).backward(Value(2.0), create_graph=True)
    assert x.grad.data == 12.0


# --- a backward() that raises changes nothing ---


def _raises_part_way(x: Value, w: Value) -> Value:
    """x gets its share first; the d/db of (-2) ** w, met later in the pass, raises."""
    return (x * 3.0) + (Value(-2.0) ** w)


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_backward_that_raises_leaves_every_grad_as_it_was(create_graph: bool) -> None:
    x, w = Value(1.5), Value(2.0)
    x.grad, w.grad = 0.25, -1.0
    y = _raises_part_way(x, w)
    inner = y._prev[0]
    inner.grad = 7.0
    with pytest.raises(ValueError, match=r"d/db of a\*\*b needs a > 0"):
        y.backward(create_graph=create_graph)
    assert (x.grad, w.grad, inner.grad, y.grad) == (0.25, -1.0, 7.0, 0.0)


def test_a_hook_that_raises_leaves_every_grad_as_it_was() -> None:
    x, w = Value(1.5), Value(2.0)
    x.grad = 0.5

    def boom(g: float) -> float:
        raise RuntimeError("hook failed")

    y = x * w + w
    w.register_hook(boom)
    with pytest.raises(RuntimeError, match="hook failed"):
        y.backward()
    assert (x.grad, w.grad) == (0.5, 0.0)


# --- the learner's mistakes (the table in docs/concepts/numerical-stability.md) ---


def test_comparisons_compare_the_numbers_and_build_no_graph() -> None:
    a, b = Value(1.0), Value(2.0)
    assert (a < b, a <= b, a > b, a >= b) == (True, True, False, False)
    assert (a < 2, a > 0.5, a >= 1) == (True, True, True)
    assert 2 > a  # noqa: SIM300 -- the reflected comparison
    assert Value(3.0) == 3.0 and Value(3.0) != 4.0 and Value(3.0) == Value(3.0)
    assert Value(math.nan) != Value(math.nan)
    assert a._prev == () and b._prev == ()
    assert max(a, b) is b and min(a, b) is a  # one of the Values, its graph intact
    y = max(a * 2, b)
    y.backward()
    assert (a.grad, b.grad) == (2.0, 0.0)
    with pytest.raises(TypeError):
        _ = a < "1"


def test_values_stay_hashable_by_identity() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a == b and len({a, b}) == 2 and {a: 1, b: 2}[a] == 1
    y = a * b + a
    y.backward()  # the walk keys nodes by identity: both leaves get their own gradient
    assert (a.grad, b.grad) == (2.0, 1.0)


def test_truth_format_and_float() -> None:
    assert not Value(0.0) and Value(-0.5) and Value(math.nan)
    loss = Value(0.123456)
    assert f"{loss:.4f}" == "0.1235" and f"{loss:e}" == format(0.123456, "e")
    assert f"{loss}" == repr(loss)
    with pytest.raises(TypeError, match=r"x\.data"):
        float(loss)
    with pytest.raises(TypeError, match=r"x\.cos\(\)"):
        math.cos(loss)
    assert loss.item() == 0.123456


# --- hooks at masked nodes, re-entrant backward, pickling ---


def test_a_hook_on_a_node_only_masked_edges_reach_is_called_with_zero() -> None:
    x = Value(-1.0)
    r = x * 1.0
    seen: list[float] = []
    r.register_hook(seen.append)
    r.relu().backward()  # relu'(-1) is a structural zero: r's adjoint is 0, as in PyTorch
    assert seen == [0.0] and x.grad == 0.0


class _Deep(cr.Function):
    """A Function whose backward runs a whole backward of its own (PyTorch's deep re-entrant
    test): ``depth`` levels of nested passes; the deepest calls ``bottom()`` when given."""

    @staticmethod
    def forward(
        ctx: object, x: float, depth: int, bottom: Callable[[], None] | None = None
    ) -> float:
        ctx.depth, ctx.bottom = depth, bottom  # type: ignore[attr-defined]
        return x

    @staticmethod
    def backward(ctx: object, g: float) -> tuple[float, None, None]:
        depth, bottom = ctx.depth, ctx.bottom  # type: ignore[attr-defined]
        if depth > 0:
            inner = Value(1.0)
            _Deep.apply(inner, depth - 1, bottom).backward()
            assert inner.grad == 2.0
        elif bottom is not None:
            bottom()
        return g * 2.0, None, None


def test_re_entrant_backward_runs_two_thousand_levels_deep() -> None:
    x = Value(3.0)
    (_Deep.apply(x, 2000) * 1.5).backward()
    assert x.grad == 3.0


def _inf_slope() -> None:
    """A pass that meets an inf slope: d sqrt(x)/dx at x = 0."""
    (Value(0.0).sqrt() * 2).backward()


@pytest.mark.parametrize("depth", [5, 40, 100])  # past 32 levels the passes run in new threads
def test_anomaly_detection_reaches_the_passes_of_a_deep_re_entrant_backward(depth: int) -> None:
    with cr.detect_anomaly(), pytest.raises(cr.AnomalyError, match=r"test_engine\.py"):
        _Deep.apply(Value(1.0), depth, _inf_slope).backward()
    assert not anomaly.STATE.active and not anomaly.STATE.here.sites  # all threads switched off
    _Deep.apply(Value(1.0), depth, _inf_slope).backward()  # without detection the inf just flows


def _fail() -> None:
    raise ArithmeticError("the deepest level failed")


def test_an_error_deep_in_a_re_entrant_backward_reaches_the_caller() -> None:
    x = Value(1.0)
    with pytest.raises(ArithmeticError, match=r"deepest level failed"):
        _Deep.apply(x, 100, _fail).backward()
    assert x.grad == 0.0


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_values_pickle_at_every_protocol(protocol: int) -> None:
    a = Value(1.5, label="a")
    y = (a * 2.0).sqrt().tanh() ** 2.0
    for v in (Value(1.0), Value(2.0, requires_grad=False), y):
        clone = pickle.loads(pickle.dumps(v, protocol=protocol))
        assert (clone.data, clone.requires_grad, clone._op) == (v.data, v.requires_grad, v._op)
    clone = pickle.loads(pickle.dumps(y, protocol=protocol))
    clone.backward()
    y.backward()
    (leaf,) = (n for n in topological_order(clone) if n.label == "a")
    assert leaf.grad == a.grad and clone.grad_fn is y.grad_fn  # a built-in op, by name


def test_a_custom_op_refuses_pickling_by_name() -> None:
    y = apply(Op("mine", lambda x: x, lambda x, out: (1.0,)), Value(1.0))
    with pytest.raises(TypeError, match=r"Op\('mine'\) is not a built-in op"):
        pickle.dumps(y)


def test_every_client_stores_through_store() -> None:
    from chainrule.engine import store

    a, b = Value(2.0), Value(3.0)
    c = a * b
    a.grad = 1.0
    store(adjoints(c * 2.0))
    assert (a.grad, b.grad, c.grad) == (7.0, 4.0, 2.0)
