"""Toy datasets: shapes, labels, determinism per seed, and geometry."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from chainrule.data import (
    make_blobs,
    make_circles,
    make_moons,
    make_spiral,
    make_xor,
    train_test_split,
)

GENERATORS = [
    (make_moons, 2),
    (make_circles, 2),
    (make_spiral, 3),
    (make_xor, 2),
    (make_blobs, 3),
]


@pytest.mark.parametrize(("make", "k"), GENERATORS)
@pytest.mark.parametrize("n", [7, 100])
def test_shapes_and_labels(make: Callable[..., Any], k: int, n: int) -> None:
    X, y = make(n, seed=0)
    assert len(X) == len(y) == n
    assert all(len(p) == 2 and all(type(c) is float for c in p) for p in X)
    assert all(type(label) is int for label in y)
    assert set(y) == set(range(k))
    assert all(abs(y.count(c) - n / k) <= 1 for c in range(k))  # balanced classes


@pytest.mark.parametrize(("make", "k"), GENERATORS)
def test_same_seed_same_data_other_seed_other_data(make: Callable[..., Any], k: int) -> None:
    assert make(50, seed=3) == make(50, seed=3)
    assert make(50, seed=3) != make(50, seed=4)
    assert make(50, seed=random.Random(3)) == make(50, seed=3)


def test_seed_none_follows_global_random_state() -> None:
    random.seed(11)
    first = make_moons(20)
    random.seed(11)
    assert make_moons(20) == first


def test_moons_without_noise_lie_on_two_half_circles() -> None:
    X, y = make_moons(101, noise=0.0, seed=0)
    assert y.count(0) == 50 and y.count(1) == 51
    for (a, b), label in zip(X, y, strict=True):
        if label == 0:  # upper half of the unit circle centred at (0, 0)
            assert math.hypot(a, b) == pytest.approx(1.0) and b >= -1e-12
        else:  # lower half of the unit circle centred at (1, 0.5)
            assert math.hypot(a - 1.0, b - 0.5) == pytest.approx(1.0) and b <= 0.5 + 1e-12
    # the arcs run over the whole half circle: end points included
    assert any(p == pytest.approx([1.0, 0.0]) for p in X)
    assert any(p == pytest.approx([-1.0, 0.0]) for p in X)
    assert any(p == pytest.approx([2.0, 0.5]) for p in X)


def test_moons_noise_has_the_requested_scale() -> None:
    clean, _ = make_moons(2000, noise=0.0, seed=1, shuffle=False)
    noisy, _ = make_moons(2000, noise=0.1, seed=1, shuffle=False)
    diffs = [a - b for p, q in zip(noisy, clean, strict=True) for a, b in zip(p, q, strict=True)]
    std = math.sqrt(sum(d * d for d in diffs) / len(diffs))
    assert std == pytest.approx(0.1, rel=0.05)


def test_circles_radii() -> None:
    X, y = make_circles(40, noise=0.0, factor=0.3, seed=0)
    for p, label in zip(X, y, strict=True):
        assert math.hypot(*p) == pytest.approx(1.0 if label == 0 else 0.3)
    with pytest.raises(ValueError, match="factor"):
        make_circles(10, factor=1.5)


def test_spiral_arms_wind_and_stay_in_the_unit_disc() -> None:
    X, y = make_spiral(300, classes=3, noise=0.0, seed=0, shuffle=False)
    assert all(math.hypot(*p) <= 1.0 + 1e-12 for p in X)
    # without noise, point i of arm j sits at radius r and angle 4 (j + r) in (sin, cos) form
    arm1 = [p for p, label in zip(X, y, strict=True) if label == 1]
    r = 0.5
    mid = arm1[len(arm1) // 2]
    assert math.hypot(*mid) == pytest.approx(r, abs=0.01)
    assert math.atan2(mid[0], mid[1]) % (2 * math.pi) == pytest.approx(
        (4 * (1 + math.hypot(*mid))) % (2 * math.pi)
    )
    assert set(make_spiral(10, classes=5, seed=0)[1]) == set(range(5))


def test_xor_labels_are_the_xor_of_the_quadrant() -> None:
    X, y = make_xor(200, noise=0.1, seed=0)
    for (a, b), label in zip(X, y, strict=True):
        assert label == int((a > 0) != (b > 0))


def test_blobs_centres_and_spread() -> None:
    centres = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]
    X, y = make_blobs(3000, centers=centres, noise=0.5, seed=0)
    for k, c in enumerate(centres):
        members = [p for p, label in zip(X, y, strict=True) if label == k]
        mean = [sum(p[d] for p in members) / len(members) for d in range(2)]
        assert mean == pytest.approx(c, abs=0.05)
    X3, _ = make_blobs(6, centers=[[1.0, 2.0, 3.0]], noise=0.0, seed=0)
    assert X3 == [[1.0, 2.0, 3.0]] * 6


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_moons(1), "n must be"),
        (lambda: make_moons(10, noise=-1.0), "noise must be"),
        (lambda: make_moons(10, seed="x"), "seed must be"),  # type: ignore[arg-type]
        (lambda: make_spiral(10, classes=0), "classes must be"),
        (lambda: make_blobs(10, centers=[[0.0], [1.0, 2.0]]), "same dimension"),
    ],
)
def test_bad_arguments_say_what_was_wrong(call: Callable[[], object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_train_test_split_partitions_and_keeps_pairs() -> None:
    X = [[float(i), float(-i)] for i in range(20)]
    y = list(range(20))
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=0)
    assert len(X_tr) == len(y_tr) == 15 and len(X_te) == len(y_te) == 5
    assert sorted(y_tr + y_te) == y
    assert all(p[0] == label for p, label in zip(X_tr + X_te, y_tr + y_te, strict=True))
    assert train_test_split(X, y, seed=0) == train_test_split(X, y, seed=0)
    assert train_test_split(X, y, test_size=3, shuffle=False)[3] == [17, 18, 19]
    with pytest.raises(ValueError, match="same length"):
        train_test_split(X, y[:-1])
    with pytest.raises(ValueError, match="at least one"):
        train_test_split(X, y, test_size=20)
