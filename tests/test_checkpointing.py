"""checkpoint: same numbers as the plain graph, far fewer nodes kept alive."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import assert_close, reals
from test_docs import DOCS, python_blocks

from chainrule import Value, no_grad
from chainrule import autograd as chainrule_autograd
from chainrule.checkpointing import checkpoint, checkpoint_sequential
from chainrule.transforms import grad


def layer(a: float, b: float) -> Callable[[Any], Any]:
    return lambda v: (v * a + b).tanh()


def graph_size(root: Value) -> int:
    """Every node reachable from root through _prev (constants included)."""
    seen, stack = {root}, [root]
    while stack:
        for p in stack.pop()._prev:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return len(seen)


@given(
    coeffs=st.lists(st.tuples(reals(-2, 2), reals(-1, 1)), min_size=1, max_size=12),
    x0=reals(-1, 1),
    segments=st.integers(1, 12),
)
def test_checkpointed_chain_gives_identical_values_and_gradients(
    coeffs: list[tuple[float, float]], x0: float, segments: int
) -> None:
    layers = [layer(a, b) for a, b in coeffs]
    x = Value(x0)
    y = x
    for f in layers:
        y = f(y)
    (y * y).backward()

    xc = Value(x0)
    yc = checkpoint_sequential(layers, segments, xc)
    (yc * yc).backward()
    assert yc.data == y.data
    assert xc.grad == x.grad  # the same operations in the same order: bit-identical


def test_leaves_closed_over_by_the_segment_get_their_gradients() -> None:
    w, b = Value(0.7), Value(-0.2)
    f: Callable[[Value], Value] = lambda v: (v * w + b).tanh() * w

    x = Value(1.3)
    f(x).backward()
    expected = (x.grad, w.grad, b.grad)
    for leaf in (x, w, b):
        leaf.zero_grad()
    checkpoint(f, x).backward()
    assert (x.grad, w.grad, b.grad) == expected


def test_several_inputs_settings_and_outputs() -> None:
    def f(u: Value, v: Value, scale: float) -> list[Value]:
        return [(u * v).sin() * scale, u.exp() + v]

    def run(use_checkpoint: bool) -> tuple[float, ...]:
        u, v = Value(0.3), Value(-1.1)
        outs = checkpoint(f, u, v, 2.0) if use_checkpoint else f(u, v, 2.0)
        (outs[0] * outs[1]).backward()
        return outs[0].data, outs[1].data, u.grad, v.grad

    assert run(True) == run(False)


def test_a_second_backward_accumulates_like_the_plain_graph() -> None:
    x = Value(0.5)
    y = checkpoint(lambda v: v.sin() * v, x)
    y.backward()
    y.backward()
    assert_close(x.grad, 2 * (math.cos(0.5) * 0.5 + math.sin(0.5)), atol=1e-15, rtol=1e-15)


def test_only_inputs_and_output_are_kept() -> None:
    x = Value(0.5)
    y = checkpoint(lambda v: ((v * 2.0).tanh() + 1.0).log().exp(), x)
    assert y._prev == (x,) and y._op == "checkpoint"
    assert graph_size(y) == 2


def test_checkpoint_every_sqrt_l_layers_keeps_o_sqrt_l_nodes_alive() -> None:
    # Count live Value objects at the peak of backward: inside each recomputed segment.
    L = 64
    layers = [layer(0.9, 0.05) for _ in range(L)]
    peak = [0]

    def live_values() -> int:
        return sum(isinstance(o, Value) for o in gc.get_objects())

    def probe(v: Any) -> Any:
        peak[0] = max(peak[0], live_values())
        return v

    gc.collect()
    baseline = live_values()
    x = Value(0.3)
    y = x
    for f in layers:
        y = f(y)
    plain = live_values() - baseline
    del y

    x = Value(0.3)
    y = checkpoint_sequential([*layers[:8], probe, *layers[8:]], 8, x)
    kept = live_values() - baseline
    y.backward()
    during = peak[0] - baseline
    # plain: 4 nodes per layer (v*a, the constants a and b, +, tanh) -> about 4L = 256
    assert plain >= 4 * L
    # checkpointed: x and 8 segment outputs; at the peak also one segment of 8 layers
    assert kept <= 8 + 4
    assert during <= 4 * 8 + 8 + 8 + 4
    assert x.grad != 0.0


def test_no_grad_and_constant_inputs_build_no_graph() -> None:
    with no_grad():
        y = checkpoint(lambda v: v * 2.0, Value(1.0))
    assert y._prev == () and not y.requires_grad
    z = checkpoint(lambda v: v * 2.0, Value(1.0, requires_grad=False))
    assert z._prev == () and not z.requires_grad and z.data == 2.0


def test_func_grad_differentiates_through_a_checkpoint() -> None:
    block = lambda v: (v * v + 0.5).log().sin()
    assert grad(lambda x: checkpoint(block, x))(0.7) == grad(block)(0.7)


def test_create_graph_through_a_checkpoint_gives_a_first_derivative_only() -> None:
    x = Value(1.5)
    y = checkpoint(lambda v: v * v, x)
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 3.0
    with pytest.raises(RuntimeError, match=r"a checkpoint cannot be differentiated twice"):
        x.grad.backward()


def test_bad_usage() -> None:
    with pytest.raises(TypeError, match=r"checkpoint: fn must return a Value, got float"):
        checkpoint(lambda v: 3.0, Value(1.0))
    with pytest.raises(TypeError, match=r"checkpoint needs a function"):
        checkpoint(3, Value(1.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"segments >= 1"):
        checkpoint_sequential([layer(1.0, 0.0)], 0, Value(1.0))


def test_checkpoint_sequential_on_a_list_state() -> None:
    def mix(vs: list[Value]) -> list[Value]:
        a, b = vs
        return [(a * b).tanh(), (a - b).sin()]

    def run(segments: int | None) -> tuple[float, ...]:
        a, b = Value(0.4), Value(0.9)
        fns = [mix] * 6
        if segments is None:
            out: Any = [a, b]
            for f in fns:
                out = f(out)
        else:
            out = checkpoint_sequential(fns, segments, [a, b])
        (out[0] + out[1] * 2.0).backward()
        return out[0].data, out[1].data, a.grad, b.grad

    # fan-out adds shares in another order, so equal up to rounding, not bit for bit
    for segments in (2, 6):
        for a, b in zip(run(segments), run(None)):
            assert_close(a, b, atol=1e-15, rtol=1e-13)


def test_the_docs_page_runs() -> None:
    """Every python block of docs/howto/checkpointing.md, in order, in one namespace."""
    namespace: dict[str, object] = {}
    for block in python_blocks((DOCS / "howto" / "checkpointing.md").read_text()):
        exec(compile(block, "docs/howto/checkpointing.md", "exec"), namespace)


def test_values_inside_a_list_or_tuple_input_get_their_gradients() -> None:
    a, b, c = Value(1.5), Value(2.0), Value(-0.5)
    y = checkpoint(lambda pair, t, k: pair[0] * pair[1] * t[0] + k, [a, b], (c,), 3.0)
    y.backward()
    assert (y.data, a.grad, b.grad, c.grad) == (1.5, -1.0, -0.75, 3.0)


def test_a_namedtuple_output() -> None:
    from collections import namedtuple

    Pair = namedtuple("Pair", "double triple")
    x = Value(2.0)
    out = checkpoint(lambda v: Pair(v * 2.0, v * 3.0), x)
    assert isinstance(out, Pair) and (out.double.data, out.triple.data) == (4.0, 6.0)
    (out.double + out.triple).backward()
    assert x.grad == 5.0


# --- checkpoint writes no .grad: the enclosing pass stores every share ---


def _model(prior: float) -> tuple[Value, Value, Value, list[Value]]:
    """x, w, b with .grad set to ``prior``; the leaves in a list."""
    x, w, b = Value(0.4), Value(-1.3), Value(0.25)
    for v in (x, w, b):
        v.grad = prior
    return x, w, b, [x, w, b]


def _segment(w: Value, b: Value) -> Callable[[Value], Value]:
    return lambda v: ((v * w + b).tanh() * w).sin()


def _grads(leaves: list[Value]) -> list[Any]:
    return [v.grad for v in leaves]


@pytest.mark.parametrize("prior", [0.0, 1.5])
def test_checkpoint_and_the_plain_graph_write_the_same_grads(prior: float) -> None:
    results = []
    for wrap in (lambda f, v: f(v), checkpoint):
        x, w, b, leaves = _model(prior)
        y = wrap(_segment(w, b), x) * x
        assert _grads(leaves) == [prior] * 3  # nothing written before backward
        y.backward()
        results.append(_grads(leaves))
    assert results[0] == pytest.approx(results[1], rel=1e-15)


def test_autograd_grad_through_a_checkpoint_touches_no_grad() -> None:
    for wrap in (lambda f, v: f(v), checkpoint):
        x, w, b, leaves = _model(0.5)
        y = wrap(_segment(w, b), x)
        got = chainrule_autograd.grad(y, [x, w], allow_unused=True)
        assert _grads(leaves) == [0.5] * 3
        plain_x, plain_w, b2, _ = _model(0.0)
        want = chainrule_autograd.grad(_segment(plain_w, b2)(plain_x), [plain_x, plain_w])
        assert got == pytest.approx(want, rel=1e-15)
    x, w = Value(2.0), Value(3.0)
    y = checkpoint(lambda v: v * w, x)
    assert chainrule_autograd.grad(y, [x, w], allow_unused=True) == (3.0, 2.0)
    assert (x.grad, w.grad) == (0.0, 0.0)
    chainrule_autograd.backward(y, inputs=[x])
    assert (x.grad, w.grad) == (3.0, 0.0)
    assert grad(lambda v: checkpoint(lambda u: u * w, v))(2.0) == 3.0 and w.grad == 0.0


def test_hooks_on_the_parents_of_a_checkpoint_run_once() -> None:
    seen: dict[str, list[float]] = {"plain": [], "checkpoint": []}
    for name, wrap in (("plain", lambda f, v: f(v)), ("checkpoint", checkpoint)):
        x, w, b, _ = _model(0.0)
        w.register_hook(seen[name].append)
        wrap(_segment(w, b), x).backward()
    assert len(seen["checkpoint"]) == 1
    assert seen["checkpoint"] == pytest.approx(seen["plain"], rel=1e-15)


def test_a_backward_that_raises_after_a_checkpoint_writes_nothing() -> None:
    x, w, b, leaves = _model(0.25)
    y = checkpoint(_segment(w, b), x)
    bad = y * x.relu()

    def hook(g: float) -> None:  # x is the last node of the pass, after the checkpoint's
        raise ValueError("a hook raised")

    x.register_hook(hook)
    with pytest.raises(ValueError, match=r"a hook raised"):
        bad.backward()
    assert _grads(leaves) == [0.25] * 3  # w and b untouched, though the segment ran


@pytest.mark.parametrize("seed", range(12))
def test_checkpoint_of_a_random_graph_over_every_op_matches_the_plain_graph(seed: int) -> None:
    from test_second_order_routes import program

    f = program(seed)
    grads = []
    for wrap in (lambda g, *v: g(*v), checkpoint):
        x0, x1, x2 = Value(0.3 + 0.1 * seed % 1.0), Value(-0.7), Value(1.1)
        x2.grad = 0.5  # an earlier gradient, accumulated into
        y = wrap(lambda a, b, c=x2: f(a, b, c), x0, x1)  # x2 is closed over, not an input
        before = [x0.grad, x1.grad, x2.grad]
        got = [g or 0.0 for g in chainrule_autograd.grad(y, [x0, x1, x2], allow_unused=True)]
        assert [x0.grad, x1.grad, x2.grad] == before  # autograd.grad writes nothing
        y.backward()
        grads.append((got, [x0.grad, x1.grad, x2.grad]))
    (plain_got, plain), (ckpt_got, ckpt) = grads
    assert list(ckpt_got) == pytest.approx(list(plain_got), rel=1e-14, abs=1e-15)
    assert ckpt == pytest.approx(plain, rel=1e-14, abs=1e-15)
    assert ckpt[2] == pytest.approx(0.5 + plain_got[2], rel=1e-14)
