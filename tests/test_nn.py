"""Neuron, Layer, MLP and Module: shapes, parameters, state, seeds and one step of learning."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from oracle import assert_matches_central_difference

from chainrule import Value
from chainrule.losses import hinge, mse
from chainrule.nn import ACTIVATIONS, MLP, Layer, Module, Neuron
from chainrule.optim import SGD


def test_parameter_counts() -> None:
    assert len(Neuron(3).parameters()) == 4
    assert len(Layer(3, 4).parameters()) == 16
    model = MLP(2, [16, 16, 1])
    assert model.num_parameters() == len(model.parameters()) == (2 + 1) * 16 + 17 * 16 + 17
    assert all(isinstance(p, Value) and p.requires_grad for p in model.parameters())


def test_output_shapes_follow_micrograd() -> None:
    x = [0.5, -1.0, 2.0]
    assert isinstance(Neuron(3)(x), Value)
    assert isinstance(Layer(3, 1)(x), Value)  # a single Value when nout == 1
    out = Layer(3, 4)(x)
    assert isinstance(out, list) and len(out) == 4
    assert isinstance(MLP(3, [4, 1])(x), Value)
    assert len(MLP(3, [4, 2])(x)) == 2
    assert isinstance(MLP(1, [3, 1])(0.5), Value)  # one input may be given bare


def test_neuron_computes_act_of_b_plus_w_dot_x() -> None:
    n = Neuron(2)
    n.w[0].data, n.w[1].data, n.b.data = 2.0, -3.0, 0.5
    assert n([1.0, 1.0]).data == 0.0  # relu(-0.5)
    assert n([2.0, 1.0]).data == pytest.approx(1.5)
    assert Neuron(2, nonlin=False, seed=0).nonlin is False


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation(name: str) -> None:
    n = Neuron(1, activation=name)
    n.w[0].data, n.b.data = 1.0, 0.0
    expected: Callable[[float], float] = {
        "relu": lambda x: max(x, 0.0),
        "tanh": math.tanh,
        "sigmoid": lambda x: 1 / (1 + math.exp(-x)),
        "leaky_relu": lambda x: x if x > 0 else 0.01 * x,
        "gelu": lambda x: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
        "silu": lambda x: x / (1 + math.exp(-x)),
        "linear": lambda x: x,
    }[name]
    for x in (-1.3, 0.7):
        assert n([x]).data == pytest.approx(expected(x), abs=1e-12)
    assert repr(n) == f"Neuron(1, activation={name!r})"


def test_mlp_uses_relu_hidden_and_linear_last_by_default() -> None:
    model = MLP(2, [3, 3, 1], seed=0)
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "linear"]
    tanh_model = MLP(2, [3, 1], activation="tanh", final_activation="sigmoid", seed=0)
    assert [layer.activation for layer in tanh_model.layers] == ["tanh", "sigmoid"]
    assert 0.0 < tanh_model([1.0, 2.0]).data < 1.0


def test_readable_repr() -> None:
    text = repr(MLP(2, [16, 16, 1]))
    assert text.startswith("MLP(2 -> 16 -> 16 -> 1, 337 parameters)")
    assert "(0): Layer(2, 16, activation='relu')" in text
    assert "(2): Layer(16, 1, activation='linear')" in text
    assert repr(Layer(3, 2, activation="tanh")) == "Layer(3, 2, activation='tanh')"


@pytest.mark.parametrize("model", [Neuron(2), Layer(2, 3), MLP(2, [3, 1])])
@pytest.mark.parametrize("x", [[1.0], [1.0, 2.0, 3.0], []])
def test_wrong_number_of_inputs_says_expected_and_got(model: Module, x: list[float]) -> None:
    with pytest.raises(ValueError, match=f"expected 2 inputs, got {len(x)}"):
        model(x)


def test_inputs_that_are_not_numbers_are_named() -> None:
    with pytest.raises(TypeError, match="Value\\(\\) needs a real number, got str 'a'"):
        MLP(2, [1])(["a", 1.0])


def test_float_and_value_inputs_agree_and_values_get_gradients() -> None:
    model = MLP(2, [4, 1], seed=3)
    xs = [Value(0.3), Value(-0.8)]
    out = model(xs)
    assert out.data == model([0.3, -0.8]).data
    out.backward()
    f = lambda a, b: model([a, b])
    assert_matches_central_difference(f, [0.3, -0.8])
    assert any(x.grad != 0.0 for x in xs)


def test_gradients_with_respect_to_weights_match_central_differences() -> None:
    n = Neuron(3, activation="tanh", seed=1)

    def f(*w: Value) -> Any:  # a Module call returns Any
        n.w = list(w[:3])
        n.b = w[3]
        return n([0.5, -1.5, 2.0])

    start = [p.data for p in n.parameters()]
    assert_matches_central_difference(f, start)


def test_zero_grad_resets_every_parameter() -> None:
    model = MLP(2, [3, 1], seed=0)
    model([1.0, -1.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 and type(p.grad) is float for p in model.parameters())


def test_named_parameters_are_paths() -> None:
    model = MLP(2, [3, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:4] == [
        "layers.0.neurons.0.w.0",
        "layers.0.neurons.0.w.1",
        "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0",
    ]
    assert names[-1] == "layers.1.neurons.0.b"
    assert len(set(names)) == len(names) == model.num_parameters()


def test_a_custom_module_finds_its_parameters_and_shares_count_once() -> None:
    class Tied(Module):
        def __init__(self) -> None:
            self.scale = Value(2.0)
            self.body = MLP(1, [2, 1], seed=0)
            self.again = [self.scale]  # a shared parameter

        def forward(self, x: Any) -> Any:
            return self.scale * self.body(x)

    m = Tied()
    assert m.named_parameters()[0][0] == "scale"
    assert m.num_parameters() == 1 + 7
    assert isinstance(m(0.5), Value)
    with pytest.raises(NotImplementedError, match="must define forward"):
        Module()(1.0)


def test_state_dict_round_trips_through_json() -> None:
    model = MLP(2, [4, 4, 1], seed=1)
    state = json.loads(json.dumps(model.state_dict()))
    assert all(type(v) is float for v in state.values())
    clone = MLP(2, [4, 4, 1], seed=2)
    x = [0.7, -0.2]
    assert clone(x).data != model(x).data
    clone.load_state_dict(state)
    assert clone(x).data == model(x).data
    assert clone.state_dict() == model.state_dict()


def test_load_state_dict_mismatch_is_a_clear_error_and_changes_nothing() -> None:
    model = MLP(2, [4, 1], seed=1)
    before = model.state_dict()
    bigger = MLP(2, [5, 1], seed=1).state_dict()
    with pytest.raises(
        ValueError, match=r"does not fit MLP \(17 parameters, got 21 entries\)"
    ) as e:
        model.load_state_dict(bigger)
    assert "unexpected 4 key(s): 'layers.0.neurons.4.w.0'" in str(e.value)
    assert "(1 more)" in str(e.value)  # the fifth input weight of layer 1
    with pytest.raises(ValueError, match=r"missing 4 key\(s\): 'layers.0.neurons.4.w.0'"):
        MLP(2, [5, 1]).load_state_dict(before)
    assert model.state_dict() == before
    broken = dict(before, **{"layers.0.neurons.0.b": "zero"})
    with pytest.raises(TypeError, match=r"state_dict\['layers.0.neurons.0.b'\] must be a number"):
        model.load_state_dict(broken)  # type: ignore[arg-type]  # the wrong type is the test
    assert model.state_dict() == before


def test_load_state_dict_accepts_what_value_accepts() -> None:
    np = pytest.importorskip("numpy")
    model = MLP(2, [3, 1], seed=1)
    target = MLP(2, [3, 1], seed=2).state_dict()
    kinds = [np.float64, np.float32, np.int64, float, int, np.float16]
    state = {k: kinds[i % len(kinds)](round(v, 2)) for i, (k, v) in enumerate(target.items())}
    model.load_state_dict(state)
    loaded = model.state_dict()
    assert all(type(v) is float for v in loaded.values())
    assert loaded == {k: float(v) for k, v in state.items()}


@pytest.mark.parametrize("bad", [True, "numpy.bool_", None, "1.0", [1.0], 1 + 2j])
def test_a_bad_value_anywhere_changes_no_parameter(bad: object) -> None:
    if bad == "numpy.bool_":  # like bool, rejected by Value() too
        bad = pytest.importorskip("numpy").bool_(True)
    model = MLP(2, [3, 1], seed=1)
    before = model.state_dict()
    state = {k: v + 1.0 for k, v in before.items()}
    last = list(state)[-1]  # every other entry is good and comes first
    state[last] = bad  # type: ignore[assignment]  # the wrong type is the test
    with pytest.raises(TypeError, match=rf"state_dict\['{last}'\] must be a number, got"):
        model.load_state_dict(state)
    assert model.state_dict() == before
    with pytest.raises(TypeError, match="state_dict must be a dict, got list"):
        model.load_state_dict(list(state.items()))  # type: ignore[arg-type]


def test_same_seed_same_model() -> None:
    assert MLP(2, [3, 1], seed=7).state_dict() == MLP(2, [3, 1], seed=7).state_dict()
    assert MLP(2, [3, 1], seed=7).state_dict() != MLP(2, [3, 1], seed=8).state_dict()
    rng_a, rng_b = random.Random(5), random.Random(5)
    assert Neuron(3, seed=rng_a).state_dict() == Neuron(3, seed=rng_b).state_dict()
    random.seed(42)
    first = MLP(2, [3, 1]).state_dict()
    random.seed(42)
    assert MLP(2, [3, 1]).state_dict() == first
    with pytest.raises(TypeError, match="seed must be"):
        MLP(2, [1], seed="a")  # type: ignore[arg-type]


def test_init_schemes_have_their_scales() -> None:
    uniform = [p.data for p in Layer(50, 40, seed=0).parameters()]
    assert all(-1.0 <= w <= 1.0 for w in uniform) and max(uniform) > 0.9
    bound = math.sqrt(6 / (50 + 40))
    xavier = [n.w for n in Layer(50, 40, init="xavier", seed=0).neurons]
    weights = [w.data for ws in xavier for w in ws]
    assert all(abs(w) <= bound for w in weights) and max(weights) > 0.9 * bound
    he = [w.data for n in Layer(50, 40, init="he", seed=0).neurons for w in n.w]
    std = math.sqrt(sum(w * w for w in he) / len(he))
    assert std == pytest.approx(math.sqrt(2 / 50), rel=0.1)
    assert all(n.b.data == 0.0 for n in Layer(3, 2, init="he", seed=0).neurons)
    with pytest.raises(ValueError, match="init must be"):
        Neuron(2, init="lecun")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Neuron(0), "nin must be a positive integer, got 0"),
        (lambda: Layer(2, 0), "nout must be a positive integer, got 0"),
        (lambda: MLP(2, []), "at least one layer"),
        (lambda: Neuron(2, activation="swish"), "activation must be one of"),
    ],
)
def test_bad_arguments(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_one_training_step_lowers_the_loss() -> None:
    model = MLP(2, [8, 1], seed=0)
    X = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [-1.0, -0.5]]
    y = [1, -1, 1, -1]
    opt = SGD(model.parameters(), lr=0.05)

    def loss() -> Value:
        return hinge([model(x) for x in X], y)

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert loss().data < before.data


def test_a_small_regression_fits() -> None:
    model = MLP(1, [8, 1], activation="tanh", seed=0)
    xs = [i / 5 - 1 for i in range(11)]
    ys = [x * x for x in xs]
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(150):
        loss = mse([model(x) for x in xs], ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.data < 0.01


def test_micrograds_demo_gives_micrograds_numbers() -> None:
    """Same ``random.seed`` -> micrograd's weights; the same training steps -> its numbers."""
    mg_nn = pytest.importorskip("micrograd.nn")
    mg_engine = pytest.importorskip("micrograd.engine")
    from chainrule.data import make_moons
    from chainrule.losses import l2_penalty

    random.seed(1337)
    theirs = mg_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    ours = MLP(2, [16, 16, 1])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]

    X, labels = make_moons(16, noise=0.1, seed=0)
    y = [2 * t - 1 for t in labels]
    opt = SGD(ours.parameters(), lr=1.0)
    for k in range(3):
        lr = 1.0 - 0.9 * k / 100
        # micrograd's demo, verbatim but for the batch
        scores = [theirs(list(map(mg_engine.Value, x))) for x in X]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores, strict=True)]
        total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in theirs.parameters())
        theirs.zero_grad()
        total.backward()
        for p in theirs.parameters():
            p.data -= lr * p.grad
        # the same with chainrule's pieces
        loss = hinge([ours(x) for x in X], y) + l2_penalty(ours.parameters(), alpha=1e-4)
        opt.zero_grad()
        loss.backward()
        opt.lr = lr
        opt.step()
        assert loss.data == pytest.approx(total.data, abs=1e-12)
    assert [p.data for p in ours.parameters()] == pytest.approx(
        [p.data for p in theirs.parameters()], abs=1e-12
    )


def test_models_pickle_and_deepcopy() -> None:
    import copy
    import pickle

    model = MLP(2, [3, 1], activation="leaky_relu", seed=0)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert clone.state_dict() == model.state_dict()
        assert clone([0.2, -0.4]).data == model([0.2, -0.4]).data
        assert clone.parameters()[0] is not model.parameters()[0]


def test_a_batch_where_a_sample_is_expected_names_the_fix() -> None:
    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match=r"one sample at a time: \[model\(x\) for x in batch\]"):
        model([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match="a batch"):
        Layer(2, 2)([[1.0, 2.0], [3.0, 4.0]])
    assert model([1.0, 2.0]).data == model([Value(1.0), 2]).data
