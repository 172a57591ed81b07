"""Toy datasets for two-dimensional classification, in pure Python.

Every generator returns ``(X, y)``: ``X`` is a list of points, each a list of floats, and
``y`` a list of integer class labels ``0 .. k-1``. Each takes ``n`` (number of points),
``noise`` (standard deviation of the Gaussian added to each coordinate) and ``seed`` (an
``int``, a ``random.Random``, or ``None`` for the global generator), so that the same seed gives
the same data on every machine. No NumPy or scikit-learn needed.

>>> X, y = make_moons(100, noise=0.1, seed=0)
>>> len(X), len(X[0]), sorted(set(y))
(100, 2, [0, 1])
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TypeVar

__all__ = [
    "as_rng",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spiral",
    "make_xor",
    "train_test_split",
]

Points = list[list[float]]
Labels = list[int]
Seed = int | random.Random | None

T = TypeVar("T")
U = TypeVar("U")


def as_rng(seed: Seed) -> random.Random:
    """A generator for ``seed``: used as is if it is one, fresh from an ``int``, or the
    global generator of the ``random`` module for ``None`` (``random.seed`` repeats it).

    ``nn`` uses it too: micrograd draws its weights from the global generator, so after
    ``random.seed(s)`` an ``MLP`` made with ``seed=None`` starts from micrograd's weights."""
    if isinstance(seed, random.Random):
        return seed
    if seed is None:
        return random._inst
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, a random.Random or None, got {seed!r}")
    return random.Random(seed)


def _check(n: int, noise: float, least: int = 1) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < least:
        raise ValueError(f"n must be an integer >= {least}, got {n!r}")
    if not noise >= 0.0:  # also rejects NaN
        raise ValueError(f"noise must be >= 0, got {noise!r}")


def _linspace(start: float, stop: float, num: int, endpoint: bool = True) -> list[float]:
    if num == 1:
        return [start]
    step = (stop - start) / (num - 1 if endpoint else num)
    return [start + i * step for i in range(num)]


def _finish(
    X: Points, y: Labels, noise: float, rng: random.Random, shuffle: bool
) -> tuple[Points, Labels]:
    """Add Gaussian noise to every coordinate, then shuffle points and labels together."""
    if noise > 0.0:
        X = [[c + rng.gauss(0.0, noise) for c in p] for p in X]
    if shuffle:
        order = list(range(len(X)))
        rng.shuffle(order)
        X = [X[i] for i in order]
        y = [y[i] for i in order]
    return X, y


def make_moons(
    n: int = 100, noise: float = 0.1, seed: Seed = None, *, shuffle: bool = True
) -> tuple[Points, Labels]:
    """Two interleaving half circles (scikit-learn's ``make_moons`` geometry).

    Class 0: ``(cos t, sin t)`` for ``t`` in ``[0, pi]``, the upper arc of the unit circle.
    Class 1: ``(1 - cos t, 1/2 - sin t)``, the same arc flipped and shifted to interlock.
    Class 0 gets ``n // 2`` points and class 1 the rest.
    """
    _check(n, noise, least=2)
    rng = as_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    X = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_out)]
    X += [[1.0 - math.cos(t), 0.5 - math.sin(t)] for t in _linspace(0.0, math.pi, n_in)]
    y = [0] * n_out + [1] * n_in
    return _finish(X, y, noise, rng, shuffle)


def make_circles(
    n: int = 100,
    noise: float = 0.05,
    seed: Seed = None,
    *,
    factor: float = 0.5,
    shuffle: bool = True,
) -> tuple[Points, Labels]:
    """Two concentric circles: class 0 on the unit circle, class 1 on radius ``factor``.

    Angles are evenly spaced on ``[0, 2 pi)``; class 0 gets ``n // 2`` points.
    """
    _check(n, noise, least=2)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = as_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    X = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, 2 * math.pi, n_out, endpoint=False)]
    X += [
        [factor * math.cos(t), factor * math.sin(t)]
        for t in _linspace(0.0, 2 * math.pi, n_in, endpoint=False)
    ]
    y = [0] * n_out + [1] * n_in
    return _finish(X, y, noise, rng, shuffle)


def make_spiral(
    n: int = 300,
    classes: int = 3,
    noise: float = 0.2,
    seed: Seed = None,
    *,
    shuffle: bool = True,
) -> tuple[Points, Labels]:
    """``classes`` interleaved spiral arms (the CS231n spiral), ``n // classes`` points each.

    Arm ``j`` has radius ``r`` running evenly over ``[0, 1]`` and angle
    ``t = 4 (j + r) + noise * N(0, 1)``, giving the point ``(r sin t, r cos t)``. The noise is
    on the angle, not the coordinates, so points stay inside the unit disc. Every arm starts
    at the origin, so the first point of each arm is the same point with different labels
    (no classifier gets those right). Points left over when ``n`` is not a multiple of
    ``classes`` go to the first arms.
    """
    _check(n, noise)
    if isinstance(classes, bool) or not isinstance(classes, int) or not 1 <= classes <= n:
        raise ValueError(f"classes must be an integer in [1, n={n}], got {classes!r}")
    rng = as_rng(seed)
    X: Points = []
    y: Labels = []
    for j in range(classes):
        size = n // classes + (1 if j < n % classes else 0)
        for r in _linspace(0.0, 1.0, size):
            t = 4.0 * (j + r) + (rng.gauss(0.0, noise) if noise > 0.0 else 0.0)
            X.append([r * math.sin(t), r * math.cos(t)])
            y.append(j)
    return _finish(X, y, 0.0, rng, shuffle)


def make_xor(
    n: int = 100, noise: float = 0.25, seed: Seed = None, *, shuffle: bool = True
) -> tuple[Points, Labels]:
    """Four Gaussian clusters at ``(+-1, +-1)``; the label is the XOR of the signs of the
    centre's coordinates: 1 for ``(-1, 1)`` and ``(1, -1)``, 0 for the other two corners.

    No single line separates the classes, which is why XOR needs a hidden layer.
    """
    _check(n, noise)
    rng = as_rng(seed)
    corners = [(-1.0, -1.0, 0), (-1.0, 1.0, 1), (1.0, -1.0, 1), (1.0, 1.0, 0)]
    X: Points = []
    y: Labels = []
    for i in range(n):
        cx, cy, label = corners[i % 4]
        X.append([cx, cy])
        y.append(label)
    return _finish(X, y, noise, rng, shuffle)


def make_blobs(
    n: int = 100,
    centers: int | Sequence[Sequence[float]] = 3,
    noise: float = 1.0,
    seed: Seed = None,
    *,
    box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
) -> tuple[Points, Labels]:
    """Isotropic Gaussian blobs, one class per centre, with standard deviation ``noise``.

    ``centers`` is either a number of centres, drawn uniformly in ``box`` on both axes (2-D),
    or the list of centres itself (any dimension). Points are dealt to the centres in turn.
    """
    _check(n, noise)
    rng = as_rng(seed)
    if isinstance(centers, bool):
        raise TypeError(f"centers must be a count or a list of points, got {centers!r}")
    if isinstance(centers, int):
        if centers < 1:
            raise ValueError(f"centers must be >= 1, got {centers}")
        lo, hi = box
        points = [[rng.uniform(lo, hi), rng.uniform(lo, hi)] for _ in range(centers)]
    else:
        points = [[float(c) for c in centre] for centre in centers]
        if not points:
            raise ValueError("centers must not be empty")
        dims = {len(p) for p in points}
        if len(dims) != 1:
            raise ValueError(f"all centers need the same dimension, got {sorted(dims)}")
    X = [list(points[i % len(points)]) for i in range(n)]
    y = [i % len(points) for i in range(n)]
    return _finish(X, y, noise, rng, shuffle)


def train_test_split(
    X: Sequence[T],
    y: Sequence[U],
    test_size: float | int = 0.25,
    seed: Seed = None,
    *,
    shuffle: bool = True,
) -> tuple[list[T], list[T], list[U], list[U]]:
    """Split ``X`` and ``y`` into ``X_train, X_test, y_train, y_test`` (scikit-learn's order).

    ``test_size`` is a fraction in ``(0, 1)`` (rounded up to whole samples) or a count.
    With ``shuffle=False`` the last samples form the test set.
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X and y need the same length, got {n} and {len(y)}")
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size as a fraction must be in (0, 1), got {test_size}")
        n_test = math.ceil(test_size * n)
    else:
        n_test = test_size
    if not 0 < n_test < n:
        raise ValueError(
            f"test_size={test_size!r} leaves {n_test} of {n} samples for testing; "
            "both the training and the test set need at least one"
        )
    order = list(range(n))
    if shuffle:
        as_rng(seed).shuffle(order)
    train, test = order[: n - n_test], order[n - n_test :]
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]
