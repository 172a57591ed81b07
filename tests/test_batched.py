"""Batched programs against the engine, example by example: every op, random graphs, MLP
losses, masked edges, inf and nan, domain errors and branch guards.

Tolerance: 1e-12 relative (of max(1, |want|)). The array forms call numpy's tanh, exp, log,
... where the rows call the math module's, which may differ in the last bit; a parameter's
gradient is summed over the batch in another order than a per-example loop adds it.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import pytest

np = pytest.importorskip("numpy")

from graphs import WOBBLE, random_graph  # noqa: E402

import chainrule  # noqa: E402
from chainrule import Value, apply, custom_op  # noqa: E402
from chainrule.array_ops import ARRAY_FORMS, define  # noqa: E402
from chainrule.batching import BranchError  # noqa: E402
from chainrule.losses import (  # noqa: E402
    cross_entropy,
    hinge,
    l2_penalty,
    mse,
)
from chainrule.nn import MLP  # noqa: E402
from chainrule.ops import OPS  # noqa: E402

TOL = 1e-12
INF, NAN = math.inf, math.nan

# One function per built-in op (by its OPS name), with examples that visit every branch.
CASES: dict[str, tuple[Callable[..., Value], list[tuple[float, ...]]]] = {
    "+": (lambda x, y: x + y, [(1.5, -2.0), (0.0, -0.0)]),
    "-": (lambda x, y: x - y, [(1.5, -2.0)]),
    "*": (lambda x, y: x * y, [(1.5, -2.0)]),
    "/": (lambda x, y: x / y, [(1.5, -2.0), (-0.3, 0.7)]),
    "**": (lambda x: x**3.0 + x**-1.5 * 2.0 + x**0.0, [(1.7,), (0.4,)]),
    "pow": (lambda x, y: x**y, [(1.7, 0.6), (0.5, -2.0), (0.0, 2.0)]),
    "neg": (lambda x: -x, [(1.5,)]),
    "ReLU": (lambda x: x.relu(), [(1.5,), (-1.5,), (0.0,)]),
    "leaky_relu": (lambda x, a: x.leaky_relu(a) + x.leaky_relu(0.1), [(1.5, 0.2), (-1.5, 0.2)]),
    "tanh": (lambda x: x.tanh(), [(0.3,), (-2.0,)]),
    "exp": (lambda x: x.exp(), [(0.3,), (-2.0,), (800.0,)]),
    "log": (lambda x: x.log(), [(0.3,), (2.0,)]),
    "sigmoid": (lambda x: x.sigmoid(), [(0.3,), (-30.0,)]),
    "softplus": (lambda x: x.softplus(), [(0.3,), (-3.0,)]),
    "gelu": (lambda x: x.gelu(), [(0.3,), (-1.2,)]),
    "silu": (lambda x: x.silu(), [(0.3,), (-1.2,)]),
    "sqrt": (lambda x: x.sqrt(), [(0.3,), (4.0,), (0.0,)]),
    "abs": (lambda x: abs(x), [(0.3,), (-4.0,), (0.0,)]),
    "sin": (lambda x: x.sin(), [(0.3,), (-4.0,)]),
    "cos": (lambda x: x.cos(), [(0.3,), (-4.0,)]),
    "erf": (lambda x: x.erf(), [(0.3,), (-1.0,)]),
    "cross_entropy": (
        lambda a, b, c, t: cross_entropy([a, b, c], [t, 1.0 - t, 0.0]),
        [(0.3, -1.2, 2.0, 1.0), (900.0, 1.0, -3.0, 0.25)],
    ),
    "tan": (lambda x: x.tan(), [(0.3,), (-1.2,)]),
    "sinh": (lambda x: x.sinh(), [(0.3,), (-2.0,), (800.0,)]),
    "cosh": (lambda x: x.cosh(), [(0.3,), (-2.0,)]),
    "rsqrt": (lambda x: apply(OPS["rsqrt"], x), [(0.3,), (4.0,)]),
    "asin": (lambda x: x.asin(), [(0.3,), (-0.9,), (1.0,)]),
    "acos": (lambda x: x.acos(), [(0.3,), (-0.9,)]),
    "atan": (lambda x: x.atan(), [(0.3,), (-4.0,)]),
    "asinh": (lambda x: x.asinh(), [(0.3,), (-4.0,)]),
    "acosh": (lambda x: x.acosh(), [(1.3,), (4.0,)]),
    "atanh": (lambda x: x.atanh(), [(0.3,), (-0.9,)]),
    "log2": (lambda x: x.log2(), [(0.3,), (4.0,)]),
    "log10": (lambda x: x.log10(), [(0.3,), (4.0,)]),
    "log1p": (lambda x: x.log1p(), [(0.3,), (-0.9,)]),
    "expm1": (lambda x: x.expm1(), [(0.3,), (-2.0,)]),
    "exp2": (lambda x: x.exp2(), [(0.3,), (-2.0,), (1024.2,)]),
    "sign": (lambda x: x.sign() * x, [(0.3,), (-2.0,), (0.0,)]),
    "reciprocal": (lambda x: x.reciprocal(), [(0.3,), (-2.0,)]),
    "square": (lambda x: x.square(), [(0.3,), (-2.0,)]),
    "hypot": (lambda x, y: x.hypot(y), [(0.3, -0.4), (0.0, 0.0)]),
    "atan2": (lambda y, x: y.atan2(x), [(0.3, -0.4), (-1.0, 2.0), (0.0, 0.0)]),
    "%": (lambda a, b: a % b, [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0)]),
    "fmod": (lambda a, b: a.fmod(b), [(7.5, 2.0), (-7.5, 2.0)]),
    "maximum": (lambda a, b: a.maximum(b), [(0.3, -0.4), (0.3, 0.3), (-1.0, 2.0)]),
    "minimum": (lambda a, b: a.minimum(b), [(0.3, -0.4), (0.3, 0.3), (-1.0, 2.0)]),
    "clamp": (lambda x, lo: x.clamp(lo, 1.0), [(0.3, 0.0), (-2.0, -1.0), (2.0, 0.0)]),
}


def _close(got: float, want: float) -> bool:
    """Equal to TOL relative; nan is nan and an inf is the same inf."""
    if math.isnan(want) or math.isinf(want):
        return math.isnan(got) if math.isnan(want) else got == want
    return abs(got - want) <= TOL * max(1.0, abs(want))


def _engine(f: Callable[..., Value], xs: Sequence[float]) -> tuple[float, list[float]]:
    """f's value and gradient on one example, by the engine."""
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    if out.requires_grad:
        out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def _assert_per_example(f: Callable[..., Value], examples: Sequence[Sequence[float]]) -> None:
    """Every example's value and input gradients, batched, equal the engine's."""
    X = np.array(examples, dtype=float)
    arity = X.shape[1]
    bf = chainrule.batched(f, argnums=tuple(range(arity)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's warnings stay inside the program
        values, grads = bf(*X.T)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for i, xs in enumerate(examples):
        want_value, want_grads = _engine(f, xs)
        assert _close(values[i], want_value), (i, values[i], want_value)
        for j, want in enumerate(want_grads):
            assert _close(grads[j][i], want), (i, j, grads[j][i], want)


def test_every_builtin_op_has_an_array_form_and_a_case() -> None:
    assert set(CASES) == set(OPS)  # a new row of the ops table needs a case here
    assert set(OPS.values()) <= set(ARRAY_FORMS)  # ... and an array form


@pytest.mark.parametrize("op", sorted(CASES))
def test_each_op_matches_the_engine_example_by_example(op: str) -> None:
    f, examples = CASES[op]
    rng = random.Random(op)
    jittered = [tuple(x + rng.uniform(-0.05, 0.05) * abs(x) for x in xs) for xs in examples]
    _assert_per_example(f, [*examples, *jittered])


@pytest.mark.parametrize("op", sorted(CASES))
def test_each_op_with_inf_and_nan_inputs(op: str) -> None:
    f, examples = CASES[op]
    arity = len(examples[0])
    special = [INF, -INF, NAN]
    batch = []
    for i in range(arity):
        for s in special:
            xs = list(examples[0])
            xs[i] = s
            try:
                _engine(f, xs)
            except (ValueError, ArithmeticError):
                continue  # outside the domain: the domain-error tests cover it
            batch.append(tuple(xs))
    if batch:
        _assert_per_example(f, batch)


# --- random graphs: batched == engine, per example, and the summed parameter gradients ---

define(WOBBLE.op, lambda x: x + 0.5 * np.sin(x), lambda x, out: (1.0 + 0.5 * np.cos(x),))


def _engine_sums(
    f: Callable[..., Value], X: Any, weights: list[Value]
) -> tuple[list[float], list[list[float]], list[float]]:
    """Per-example values and input gradients, and the weights' gradients summed, by the
    engine, one example at a time."""
    for w in weights:
        w.grad = 0.0
    values, grads = [], []
    for xs in X:
        value, g = _engine(f, [float(x) for x in xs])
        values.append(value)
        grads.append(g)
    return values, grads, [w.grad for w in weights]


@pytest.mark.parametrize("seed", range(30))
def test_random_graphs_match_the_engine(seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = [Value(float(w)) for w in rng.uniform(-1, 1, size=2)]
    f = random_graph(seed, weights)
    bf = chainrule.batched(f, argnums=(0, 1, 2), reduction="sum")
    for _ in range(3):  # new inputs and new weights, the same program
        X = rng.uniform(-2, 2, size=(17, 3))
        for w in weights:
            w.data = float(rng.uniform(-1, 1))
        want_values, want_grads, want_w = _engine_sums(f, X, weights)
        for w in weights:
            w.grad = 0.0
        values, per_example = bf(*X.T)
        assert all(map(_close, values, want_values))
        for j in range(3):
            assert all(_close(per_example[j][i], want_grads[i][j]) for i in range(len(X)))
        assert all(_close(w.grad, want) for w, want in zip(weights, want_w)), (
            [w.grad for w in weights],
            want_w,
        )


# --- MLP losses: the training loop's numbers ---


def _losses(model: MLP) -> dict[str, Callable[..., Value]]:
    return {
        "mse": lambda x, y: mse(model(x), y[0]),
        "cross_entropy": lambda x, y: cross_entropy(model(x), y),
        "bce written out": lambda x, y: (lambda z: z.softplus() - y[0] * z)(model(x)),
        "with l2_penalty": lambda x, y: mse(model(x), y[0]) + l2_penalty(model.parameters()),
    }


@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "bce written out", "with l2_penalty"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
@pytest.mark.parametrize("fuse", [True, False])
def test_mlp_losses_match_the_engine(loss: str, activation: str, fuse: bool) -> None:
    rng = np.random.default_rng(7)
    nout = 3 if loss == "cross_entropy" else 1
    model = MLP(4, [5, 5, nout], activation=activation, seed=3)
    f = _losses(model)[loss]
    X = rng.normal(size=(23, 4))
    Y = np.eye(3)[rng.integers(0, 3, size=23)] if nout == 3 else rng.normal(size=(23, 1))
    want = []
    for x, y in zip(X, Y):
        out = f([Value(float(v)) for v in x], [Value(float(v), requires_grad=False) for v in y])
        out.backward()
        want.append(out.data)
    want_grads = [p.grad / len(X) for p in model.parameters()]
    model.zero_grad()
    values = chainrule.batched(f, fuse=fuse)(X, Y)  # reduction="mean"
    assert all(map(_close, values, want))
    assert all(_close(p.grad, g) for p, g in zip(model.parameters(), want_grads))


def test_a_training_step_returns_outputs_too() -> None:
    model = MLP(2, [3, 2], seed=1)
    step = chainrule.batched(lambda x, y: (cross_entropy(model(x), y), model(x)))
    X = np.array([[0.5, 1.0], [-1.0, 2.0], [0.0, 0.0]])
    losses, logits = step(X, np.eye(2)[[0, 1, 1]])
    assert losses.shape == (3,) and logits.shape == (3, 2)
    for x, row in zip(X, logits):
        assert [v.data for v in model([float(v) for v in x])] == pytest.approx(row, rel=TOL)
    assert {id(p) for p in step.parameters} == {id(p) for p in model.parameters()}


def test_a_list_of_outputs_is_evaluated_without_gradients() -> None:
    model = MLP(2, [3, 2], seed=1)
    predict = chainrule.batched(lambda x: model(x))
    X = np.array([[0.5, 1.0], [-1.0, 2.0], [0.0, 0.0]])
    logits = predict(X)
    assert logits.shape == (3, 2) and predict.parameters == []
    for x, row in zip(X, logits):
        assert [v.data for v in model([float(v) for v in x])] == pytest.approx(row, rel=TOL)
    assert all(p.grad == 0.0 for p in model.parameters())


# --- masked edges, numeric policy, errors ---


def test_masked_edges_keep_inf_and_nan_adjoints_out() -> None:
    bf = chainrule.batched(lambda x: x.relu().sqrt(), argnums=0)
    _, grads = bf(np.array([-1.0, 4.0, 0.0]))
    assert list(grads) == [0.0, 0.25, 0.0]
    f = chainrule.batched(lambda x, y: x.relu() * y, argnums=(0, 1))
    _, (dx, dy) = f(np.array([-1.0, 2.0]), np.array([NAN, 3.0]))
    assert dx[0] == 0.0 and dx[1] == 3.0 and dy[0] == 0.0


@pytest.mark.parametrize("fuse", [True, False])
def test_inf_and_nan_inputs_through_an_mlp_match_the_engine(fuse: bool) -> None:
    model = MLP(3, [4, 4, 1], seed=2)
    f = lambda a, b, c: model([a, b, c]).tanh()
    X = np.random.default_rng(5).normal(size=(9, 3))
    X[1, 0], X[4, 2], X[6, 1], X[7, 0] = INF, -INF, NAN, -INF
    want_values, want_grads = [], []
    for x in X:
        value, grads = _engine(f, [float(v) for v in x])  # params' .grad add up here
        want_values.append(value)
        want_grads.append(grads)
    want_params = [p.grad for p in model.parameters()]
    model.zero_grad()
    bf = chainrule.batched(f, argnums=(0, 1, 2), reduction="sum", fuse=fuse)
    values, grads = bf(*X.T)
    assert all(map(_close, values, want_values))
    assert all(_close(grads[j][i], want_grads[i][j]) for i in range(9) for j in range(3))
    assert all(_close(p.grad, w) for p, w in zip(model.parameters(), want_params))


def test_a_node_reached_through_masked_edges_only_passes_nothing() -> None:
    w = Value(0.5)
    bf = chainrule.batched(lambda x: (w * x).relu())
    assert list(bf(np.array([-INF, 2.0, -1.0]))) == [0.0, 1.0, 0.0]
    assert w.grad == 2.0 / 3.0  # the engine's: 0 (nothing passes), 2, 0


def test_a_domain_error_names_the_example_and_changes_nothing() -> None:
    w = Value(1.0)
    bf = chainrule.batched(lambda x: (x * w).log())
    bf(np.array([1.0, 2.0]))
    before = w.grad
    with pytest.raises(ValueError, match=r"log is undefined at x=-3.0 .* in example 2 of"):
        bf(np.array([1.0, 2.0, -3.0, -4.0]))
    with pytest.raises(ZeroDivisionError, match="in example 1 of the batch"):
        chainrule.batched(lambda x: 1.0 / x)(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="in example 0 of the batch"):
        chainrule.batched(lambda x: x.sqrt())(np.array([-1.0, 0.0]))
    assert w.grad == before


def test_a_domain_error_in_a_branch_names_the_example_of_the_whole_batch() -> None:
    def f(x: Value) -> Value:
        return (x - 3.0).log() if x > 0 else x * 2.0

    bf = chainrule.batched(f)
    with pytest.raises(ValueError, match=r"x=-1.0 .* in example 3 of the batch"):
        bf(np.array([-1.0, 5.0, -2.0, 2.0]))  # x > 0 for examples 1 and 3; log(-1) at 3
    with pytest.raises(ValueError, match=r"x=-2.0 .* in example 2 of the batch"):
        chainrule.batched(f)(np.array([-1.0, 5.0, 1.0]))  # the branch traced on example 2


def test_overflow_is_inf_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values, grads = chainrule.batched(lambda x: x.exp() * 0.0, argnums=0)(
            np.array([1.0, 1000.0])
        )
    assert values[0] == 0.0 and math.isnan(values[1]) and math.isnan(grads[1])


def _branchy(x: Value) -> Value:
    if x > 0:
        return x * 2.0
    return x * 3.0


def test_examples_on_different_branches_run_by_their_own_program() -> None:
    bf = chainrule.batched(_branchy, argnums=0)
    assert list(bf(np.array([1.0, 2.0]))[0]) == [2.0, 4.0]
    values, dx = bf(np.array([1.0, -2.0, 5.0, -1.0]))
    assert list(values) == [2.0, -6.0, 10.0, -3.0] and list(dx) == [2.0, 3.0, 2.0, 3.0]
    assert len(bf.sources) == 2 and "3.0" in bf.sources[1]


def test_a_read_with_too_many_outcomes_is_refused_naming_the_line() -> None:
    def reads_data(x: Value) -> Value:
        return x * x.data  # a number used, not compared: one branch per value

    bf = chainrule.batched(reads_data)
    assert list(bf(np.array([1.0, 2.0, 1.0]))) == [1.0, 4.0, 1.0]  # two values: two branches
    with pytest.raises(BranchError, match=r"test_batched.py:\d+ .* more than 16 different"):
        bf(np.arange(40.0))


@pytest.mark.parametrize("fuse", [True, False])
def test_a_loss_that_reads_its_targets_splits_the_batch(fuse: bool) -> None:
    model = MLP(2, [3, 1], seed=0)

    def f(x: list[Value], y: Value) -> Value:
        return hinge(model(x), y)  # hinge branches on the label: a graph per label

    X = np.array([[0.5, 1.0], [-1.0, 2.0], [2.0, -1.0], [0.1, 0.2]])
    labels = np.array([1.0, -1.0, -1.0, 1.0])
    want = []
    for x, y in zip(X, labels):
        loss = f([Value(float(v)) for v in x], Value(float(y), requires_grad=False))
        loss.backward()
        want.append(loss.data)
    want_grads = [p.grad / len(X) for p in model.parameters()]
    model.zero_grad()
    values = chainrule.batched(f, fuse=fuse)(X, labels)
    assert all(map(_close, values, want))
    assert all(_close(p.grad, g) for p, g in zip(model.parameters(), want_grads))


def test_lists_and_other_axes() -> None:
    bf = chainrule.batched(lambda x: x[0] * x[1], in_axes=1)
    assert bf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).tolist() == [4.0, 10.0, 18.0]


def test_a_parameter_crossing_a_threshold_retraces() -> None:
    w = Value(0.5)

    def f(x: Value) -> Value:
        return x * w if w > 0 else x - w

    bf = chainrule.batched(f)
    assert list(bf(np.array([1.0, 2.0]))) == [0.5, 1.0]
    w.data = -1.0
    assert list(bf(np.array([1.0, 2.0]))) == [2.0, 3.0]


def test_errors_are_clear() -> None:
    odd = custom_op(lambda x: 1.0, name="no_array_form")(lambda x: x)
    with pytest.raises(TypeError, match=r"Op\('no_array_form'\) has no array form"):
        chainrule.batched(lambda x: odd(x))(np.array([1.0]))
    with pytest.raises(TypeError, match="real numbers, got <U1"):
        chainrule.batched(lambda x: x)(np.array(["a"]))
    with pytest.raises(ValueError, match="disagree on the batch size"):
        chainrule.batched(lambda x, y: x * y)(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="reduction must be"):
        chainrule.batched(lambda x: x, reduction="max")
    with pytest.raises(RuntimeError, match="nothing traced yet"):
        _ = chainrule.batched(lambda x: x).source


def test_in_axes_none_shares_an_argument() -> None:
    bf = chainrule.batched(lambda x, s: x * s[0] + s[1], in_axes=(0, None), argnums=1)
    values, ds = bf(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert list(values) == [7.0, 10.0] and ds.tolist() == [[1.0, 1.0], [2.0, 1.0]]


def test_the_program_reads_like_the_graph() -> None:
    w, b = Value(0.5), Value(0.1)
    bf = chainrule.batched(lambda x: (w * x + b).tanh())
    bf(np.array([1.0, 2.0]))
    assert "grad[0] += dot(t1_bar, x0, n)" in bf.source  # w's share summed as g @ x at once
    assert "# backward: the engine's reverse pass" in bf.source


def test_a_layer_is_one_matrix_product() -> None:
    model = MLP(3, [4, 2], seed=0)
    fused = chainrule.batched(lambda x: model(x))
    X = np.random.default_rng(1).normal(size=(6, 3))
    got, want = fused(X), chainrule.batched(lambda x: model(x), fuse=False)(X)
    assert np.allclose(got, want, rtol=TOL, atol=0.0)
    assert "Z0 += p[B0]  # 4 neurons: Z = W @ X + b" in fused.source
    assert "Z1 += p[B1]  # 2 neurons: Z = W @ X + b" in fused.source
    kept = got.copy()
    fused(X * 2.0)  # the layers' arrays are reused: what a call returned is not
    assert np.array_equal(got, kept)


def test_the_core_imports_without_numpy() -> None:
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import chainrule\n"
        "assert (chainrule.Value(2.0) * 3.0).data == 6.0\n"
        "try:\n    chainrule.batched(lambda x: x)\n"
        "except ImportError as e:\n    print('chainrule[batched]' in str(e))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
