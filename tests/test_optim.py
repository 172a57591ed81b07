"""Optimizers against updates computed by hand."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from chainrule import Value
from chainrule.optim import SGD, Adam, Optimizer


def _with_grad(data: float, grad: float) -> Value:
    p = Value(data)
    p.grad = grad
    return p


def test_sgd_plain_step_is_p_minus_lr_grad() -> None:
    p, q = _with_grad(1.0, 0.5), _with_grad(-2.0, -3.0)
    SGD([p, q], lr=0.1).step()
    assert p.data == pytest.approx(0.95, abs=1e-15)
    assert q.data == pytest.approx(-1.7, abs=1e-15)


def test_sgd_momentum_by_hand() -> None:
    # constant gradient 1, momentum 0.9, lr 0.1: v = 1, 1.9, 2.71 -> p = -0.1, -0.29, -0.561
    p = Value(0.0)
    opt = SGD([p], lr=0.1, momentum=0.9)
    for expected in (-0.1, -0.29, -0.561):
        p.grad = 1.0
        opt.step()
        assert p.data == pytest.approx(expected, abs=1e-12)


def test_sgd_nesterov_by_hand() -> None:
    # step 1: v = g = 1, update g + mu v = 1.9; step 2: v = 0.9 + 1 = 1.9, update 1 + 1.71
    p = Value(0.0)
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    p.grad = 1.0
    opt.step()
    assert p.data == pytest.approx(-0.19, abs=1e-12)
    opt.step()
    assert p.data == pytest.approx(-0.19 - 0.271, abs=1e-12)


def test_sgd_weight_decay_adds_wd_times_p_to_the_gradient() -> None:
    p = _with_grad(2.0, 0.0)
    SGD([p], lr=0.5, weight_decay=0.1).step()
    assert p.data == pytest.approx(2.0 - 0.5 * 0.1 * 2.0, abs=1e-15)


def test_sgd_on_a_quadratic_follows_the_closed_form() -> None:
    # f(p) = p**2, grad 2p: p_k = (1 - 2 lr)**k p_0
    p = Value(3.0)
    opt = SGD([p], lr=0.1)
    for _ in range(10):
        opt.zero_grad()
        (p * p).backward()
        opt.step()
    assert p.data == pytest.approx(3.0 * 0.8**10, rel=1e-12)


def test_lr_can_change_between_steps() -> None:
    p = Value(0.0)
    opt = SGD([p], lr=1.0)
    for lr in (1.0, 0.5, 0.25):
        opt.lr = lr
        p.grad = 1.0
        opt.step()
    assert p.data == pytest.approx(-1.75, abs=1e-15)


def _adam_reference(
    grads: list[float], lr: float, b1: float, b2: float, eps: float, p0: float = 0.0
) -> list[float]:
    """The update rule of Kingma & Ba, step by step, for a single parameter."""
    p, m, v, trajectory = p0, 0.0, 0.0, list[float]()
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        trajectory.append(p)
    return trajectory


def test_adam_first_step_moves_by_lr_times_sign() -> None:
    # after bias correction m_hat = g and v_hat = g**2, so the step is lr * g / (|g| + eps)
    p, q = _with_grad(1.0, 4.0), _with_grad(1.0, -0.001)
    Adam([p, q], lr=0.01).step()
    assert p.data == pytest.approx(1.0 - 0.01 * 4.0 / (4.0 + 1e-8), abs=1e-15)
    assert q.data == pytest.approx(1.0 + 0.01 * 0.001 / (0.001 + 1e-8), abs=1e-15)


def test_adam_two_steps_by_hand() -> None:
    # g = 1 then g = 3 with lr = 0.1, betas (0.5, 0.75), eps = 0:
    # t=2: m = 0.5*0.5 + 0.5*3 = 1.75, m_hat = 1.75/0.75; v = 0.75*0.25 + 0.25*9 = 2.4375,
    # v_hat = 2.4375/0.4375; p = -0.1 - 0.1 * m_hat / sqrt(v_hat)
    p = Value(0.0)
    opt = Adam([p], lr=0.1, betas=(0.5, 0.75), eps=1e-300)
    p.grad = 1.0
    opt.step()
    assert p.data == pytest.approx(-0.1, abs=1e-15)
    p.grad = 3.0
    opt.step()
    expected = -0.1 - 0.1 * (1.75 / 0.75) / math.sqrt(2.4375 / 0.4375)
    assert p.data == pytest.approx(expected, abs=1e-15)


def test_adam_matches_the_reference_over_many_steps() -> None:
    grads = [math.sin(1.7 * k) * (k + 1) for k in range(25)]
    p = Value(0.5)
    opt = Adam([p], lr=0.05, betas=(0.8, 0.95), eps=1e-6)
    got = []
    for g in grads:
        p.grad = g
        opt.step()
        got.append(p.data)
    assert got == pytest.approx(_adam_reference(grads, 0.05, 0.8, 0.95, 1e-6, p0=0.5), abs=1e-12)


def test_adam_weight_decay_and_convergence_on_a_bowl() -> None:
    # minimise (x - 3)**2 + (y + 1)**2
    x, y = Value(0.0), Value(0.0)
    opt = Adam([x, y], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        ((x - 3.0) ** 2 + (y + 1.0) ** 2).backward()
        opt.step()
    assert x.data == pytest.approx(3.0, abs=1e-2)
    assert y.data == pytest.approx(-1.0, abs=1e-2)
    p = _with_grad(2.0, 0.0)
    Adam([p], lr=0.1, weight_decay=0.5).step()  # g = 0.5 * 2 = 1 > 0: one step of -lr
    assert p.data == pytest.approx(1.9, abs=1e-7)


def test_zero_grad_and_duplicates() -> None:
    p = _with_grad(1.0, 2.0)
    opt = SGD([p, p], lr=0.1)
    assert len(opt.params) == 1
    opt.step()  # updated once, not twice
    assert p.data == pytest.approx(0.8, abs=1e-15)
    opt.zero_grad()
    assert p.grad == 0.0 and type(p.grad) is float
    assert repr(opt) == "SGD(1 parameters, lr=0.1)"


def test_a_gradient_left_as_a_value_by_create_graph_is_used_as_its_number() -> None:
    x = Value(2.0)
    (x * x * x).backward(create_graph=True)  # grad = 3 x**2 = 12, a Value
    assert isinstance(x.grad, Value)
    SGD([x], lr=0.01).step()
    assert x.data == pytest.approx(2.0 - 0.12, abs=1e-15)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: SGD(p, lr=-1.0), "lr must be >= 0"),
        (lambda p: SGD(p, lr=float("nan")), "lr must be >= 0"),
        (lambda p: SGD(p, lr=0.1, momentum=1.0), "momentum must be in"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), "nesterov"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1.0), "weight_decay"),
        (lambda p: Adam(p, betas=(0.9, 1.0)), "betas"),
        (lambda p: Adam(p, eps=0.0), "eps"),
        (lambda p: SGD([], lr=0.1), "empty"),
    ],
)
def test_bad_hyperparameters_say_what_was_wrong(
    make: Callable[[list[Value]], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make([Value(1.0)])


def test_non_values_are_rejected() -> None:
    with pytest.raises(TypeError, match="needs Values to optimise, got float"):
        SGD([1.0], lr=0.1)  # type: ignore[list-item]


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True),
        lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.9), weight_decay=0.01),
    ],
)
def test_state_dict_resumes_training_exactly(make: Callable[[list[Value]], Any]) -> None:
    a_params = [Value(1.0), Value(-2.0)]
    a = make(a_params)
    for k in range(3):
        for i, p in enumerate(a_params):
            p.grad = math.cos(k + i)
        a.step()
    saved = json.loads(json.dumps(a.state_dict()))
    b_params = [Value(p.data) for p in a_params]
    b = make(b_params)
    b.lr = 123.0  # overwritten by the load
    b.load_state_dict(saved)
    assert b.state_dict() == a.state_dict()
    for opt, params in ((a, a_params), (b, b_params)):
        for i, p in enumerate(params):
            p.grad = 0.3 * (i + 1)
        opt.step()
    assert [p.data for p in b_params] == [p.data for p in a_params]


def test_load_state_dict_mismatch_is_an_error() -> None:
    sgd = SGD([Value(1.0)], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="state_dict is for SGD over 1 parameters, this is Adam"):
        Adam([Value(1.0)]).load_state_dict(sgd)
    with pytest.raises(ValueError, match="this is SGD over 2"):
        SGD([Value(1.0), Value(2.0)], lr=0.1).load_state_dict(sgd)
    with pytest.raises(ValueError, match="lacks velocity"):
        SGD([Value(1.0)], lr=0.1).load_state_dict({k: v for k, v in sgd.items() if k != "velocity"})


# --- load_state_dict: all or nothing ---


def _trained(make: Callable[[list[Value]], Optimizer]) -> Optimizer:
    """An optimizer over two parameters after two steps, so every state entry is filled in."""
    params = [Value(1.0), Value(-2.0)]
    opt = make(params)
    for k in range(2):
        for i, p in enumerate(params):
            p.grad = math.sin(k + i + 1)
        opt.step()
    return opt


NAN, INF = math.nan, math.inf
SGD_BAD: list[tuple[str, object]] = [
    ("lr", "0.1"), ("lr", -1.0), ("lr", NAN), ("lr", INF), ("lr", True), ("lr", None),
    ("momentum", 1.0), ("momentum", -0.1), ("momentum", "0.9"), ("momentum", NAN),
    ("weight_decay", -1), ("weight_decay", INF), ("weight_decay", "0"),
    ("nesterov", "yes"), ("nesterov", 1), ("nesterov", None),
    ("velocity", [0.5]), ("velocity", [0.5, 0.5, 0.5]), ("velocity", "ab"), ("velocity", 3.0),
    ("velocity", [NAN, None]), ("velocity", [None, INF]), ("velocity", ["x", 1.0]),
    ("velocity", [True, 1.0]),
]  # fmt: skip
ADAM_BAD: list[tuple[str, object]] = [
    ("lr", "0.1"), ("lr", -1.0), ("lr", NAN),
    ("betas", 0.9), ("betas", [0.9]), ("betas", [0.9, 0.99, 0.5]), ("betas", [0.9, 1.0]),
    ("betas", [-0.1, 0.9]), ("betas", ["a", 0.9]), ("betas", [0.9, NAN]), ("betas", "ab"),
    ("eps", 0), ("eps", 0.0), ("eps", -1e-8), ("eps", INF), ("eps", "1e-8"), ("eps", NAN),
    ("weight_decay", -0.5),
    ("t", 1.5), ("t", -1), ("t", True), ("t", "3"), ("t", None),
    ("m", [None, 0.0]), ("m", [INF, 0.0]), ("m", [0.0]), ("m", 0.0), ("m", ["0", 0.0]),
    ("v", [-1.0, 0.0]), ("v", [NAN, 0.0]), ("v", [0.0, 0.0, 0.0]), ("v", [None, 0.0]),
]  # fmt: skip


def _snapshot(opt: Optimizer) -> dict[str, Any]:
    return copy.deepcopy({**vars(opt), "params": [(id(p), p.data) for p in opt.params]})


@pytest.mark.parametrize(
    ("make", "key", "bad"),
    [(lambda ps: SGD(ps, lr=0.1, momentum=0.9), key, bad) for key, bad in SGD_BAD]
    + [(lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.9)), key, bad) for key, bad in ADAM_BAD],
)
def test_a_bad_entry_is_an_error_and_changes_nothing(
    make: Callable[[list[Value]], Optimizer], key: str, bad: object
) -> None:
    opt = _trained(make)
    state = opt.state_dict()
    state.update(lr=0.5)  # a good change before the bad one in the dict: must not stick either
    state[key] = bad
    before = _snapshot(opt)
    with pytest.raises((TypeError, ValueError), match=f"state_dict for {type(opt).__name__}: "):
        opt.load_state_dict(state)
    assert _snapshot(opt) == before


def test_adam_lr_then_bad_betas_leaves_lr() -> None:
    opt = Adam([Value(1.0)], lr=0.1)
    state = {**opt.state_dict(), "lr": 0.5, "betas": 0.9}
    with pytest.raises(TypeError, match=r"betas must be a pair \(b1, b2\), got float 0.9"):
        opt.load_state_dict(state)
    assert opt.lr == 0.1 and opt.betas == (0.9, 0.999)


@pytest.mark.parametrize(
    ("state", "error", "message"),
    [
        ([("lr", 0.1)], TypeError, "state_dict must be a dict, got list"),
        ({"learning_rate": 0.1}, ValueError, "unexpected entries 'learning_rate'"),
        ({"nesterov": True, "momentum": 0.0}, ValueError, "nesterov=True needs a momentum > 0"),
        ({"lr": "0.1"}, TypeError, "lr must be a real number, got str '0.1'"),
        ({"velocity": [None, math.nan]}, ValueError, r"velocity\[1\] must be finite, got nan"),
    ],
)
def test_load_errors_name_the_entry_and_what_it_needs(
    state: Any, error: type[Exception], message: str
) -> None:
    opt = SGD([Value(1.0), Value(2.0)], lr=0.1, momentum=0.9, nesterov=True)
    if isinstance(state, dict):
        state = {**opt.state_dict(), **state}
    with pytest.raises(error, match=message):
        opt.load_state_dict(state)


def test_load_accepts_numpy_numbers_and_copies_the_lists() -> None:
    np = pytest.importorskip("numpy")
    a = _trained(lambda ps: Adam(ps, lr=0.05))
    assert isinstance(a, Adam)
    state = a.state_dict()
    b = Adam([Value(0.0), Value(0.0)])
    numpy_state = {
        **state,
        "lr": np.float64(state["lr"]),
        "eps": np.float32(1e-6),
        "t": np.int64(state["t"]),
        "m": [np.float64(x) for x in state["m"]],
        "betas": [np.float64(x) for x in state["betas"]],
    }
    b.load_state_dict(numpy_state)
    assert type(b.lr) is float and type(b.t) is int and type(b.eps) is float
    assert all(type(x) is float for x in b.m) and b.m == state["m"]
    assert b.eps == float(np.float32(1e-6)) and b.betas == a.betas
    numpy_state["m"][0] = 99.0  # the optimizer holds its own copy
    assert b.m[0] == state["m"][0]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda p: SGD(p, lr="0.1"), TypeError, "lr must be a real number, got str"),  # type: ignore[arg-type]
        (lambda p: SGD(p, lr=math.inf), ValueError, "lr must be >= 0 and finite"),
        (lambda p: SGD(p, 0.1, 0.9, nesterov=1), TypeError, "nesterov must be"),  # type: ignore[arg-type]
        (lambda p: Adam(p, betas=0.9), TypeError, "betas must be a pair"),  # type: ignore[arg-type]
        (lambda p: Adam(p, eps=math.inf), ValueError, "eps must be > 0 and finite"),
    ],
)
def test_constructors_check_like_the_loader(
    make: Callable[[list[Value]], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make([Value(1.0)])
