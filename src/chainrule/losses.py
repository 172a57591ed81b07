"""Loss functions: one scalar :class:`~chainrule.Value` that says how wrong a model is.

Predictions may be Values or plain numbers, one sample or a list of samples; targets are
numbers. Each loss averages over the samples (``reduction="mean"``) or adds them up
(``reduction="sum"``).

============================================  =========================  ========================
loss                                          per sample                 d loss / d prediction
============================================  =========================  ========================
``mse(p, t)``                                 ``(p - t)**2``             ``2 (p - t)``
``hinge(s, y)``, ``y`` in {-1, 1}             ``max(0, margin - y s)``   ``-y`` inside the margin
``binary_cross_entropy_with_logits(z, y)``    ``softplus(z) - y z``      ``sigmoid(z) - y``
``cross_entropy(z, t)``                       ``logsumexp(z) - z_t``     ``softmax(z) - onehot(t)``
============================================  =========================  ========================

``cross_entropy`` is one fused node per sample, the n-ary op ``CROSS_ENTROPY``: its gradient
is exactly ``softmax(z) - onehot(t)``, computed with the max subtracted first, so logits of
1000 neither overflow nor lose the gradient. Its partials are written with chainrule
operations, so ``backward(create_graph=True)`` can differentiate it again.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Literal

from chainrule import ops
from chainrule.engine import Value, apply, constant

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge",
    "l2_penalty",
    "mse",
]

Scalar = float | int | Value
Reduction = Literal["mean", "sum"]


def _samples(x: Scalar | Sequence[Scalar], what: str) -> list[Scalar]:
    items = [x] if isinstance(x, (Value, int, float, numbers.Real)) else list(x)
    if not items:
        raise ValueError(f"{what} is empty: a loss needs at least one sample")
    return items


def _pairs(
    pred: Scalar | Sequence[Scalar], target: Scalar | Sequence[Scalar], loss: str
) -> tuple[list[Scalar], list[Scalar]]:
    p = _samples(pred, f"{loss}: the prediction")
    t = _samples(target, f"{loss}: the target")
    if len(p) != len(t):
        raise ValueError(f"{loss}: got {len(p)} predictions but {len(t)} targets")
    return p, t


def _data(x: Scalar) -> float:
    return x.data if isinstance(x, Value) else float(x)


def _reduce(terms: list[Value], reduction: Reduction) -> Value:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total * (1.0 / len(terms)) if len(terms) > 1 else total
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def _value(x: Scalar) -> Value:
    return constant(x, "Value()")


def mse(
    pred: Scalar | Sequence[Scalar],
    target: Scalar | Sequence[Scalar],
    reduction: Reduction = "mean",
) -> Value:
    """Mean squared error ``1/n sum (p_i - t_i)**2``;  d/dp_i = 2 (p_i - t_i) / n."""
    terms = []
    for p, t in zip(*_pairs(pred, target, "mse"), strict=True):
        d = _value(p) - t
        terms.append(d * d)
    return _reduce(terms, reduction)


def hinge(
    scores: Scalar | Sequence[Scalar],
    labels: Scalar | Sequence[Scalar],
    margin: float = 1.0,
    reduction: Reduction = "mean",
) -> Value:
    """Max-margin loss ``1/n sum max(0, margin - y_i s_i)`` with labels ``y_i`` in {-1, +1}.

    The loss of micrograd's moons demo: a sample costs nothing once its score is on the right
    side by at least ``margin``;  d/ds_i = -y_i / n while inside the margin, else 0.
    """
    s, y = _pairs(scores, labels, "hinge")
    terms = []
    for si, yi in zip(s, y, strict=True):
        label = _data(yi)
        if label not in (-1.0, 1.0):
            raise ValueError(
                f"hinge needs labels -1 or +1, got {label!r}; map 0/1 labels with 2 * y - 1"
            )
        v = _value(si)
        terms.append((margin - v if label > 0 else margin + v).relu())
    return _reduce(terms, reduction)


def binary_cross_entropy_with_logits(
    logits: Scalar | Sequence[Scalar],
    targets: Scalar | Sequence[Scalar],
    reduction: Reduction = "mean",
) -> Value:
    """``-[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))]`` for targets ``y`` in [0, 1].

    Written as ``softplus(z) - y z``, which equals it exactly and is finite for every finite
    ``z`` (softplus is computed as ``max(z, 0) + log1p(exp(-|z|))``);
    d/dz = sigmoid(z) - y.
    """
    z, y = _pairs(logits, targets, "binary_cross_entropy_with_logits")
    terms = []
    for zi, yi in zip(z, y, strict=True):
        if not 0.0 <= _data(yi) <= 1.0:
            raise ValueError(
                f"binary_cross_entropy_with_logits needs targets in [0, 1], got {_data(yi)!r}"
            )
        v = _value(zi)
        terms.append(v.softplus() - yi * v)
    return _reduce(terms, reduction)


CROSS_ENTROPY = ops.CROSS_ENTROPY  # the fused row of cross_entropy, in the ops table


def _cross_entropy_one(logits: Sequence[Scalar], target: int | Sequence[Scalar]) -> Value:
    z = [_value(zi) for zi in logits]
    k = len(z)
    if k < 1:
        raise ValueError("cross_entropy needs at least one logit per sample")
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        target = int(target)  # numpy's integers too
        if not 0 <= target < k:
            raise ValueError(f"cross_entropy: class index {target} out of range for {k} logits")
        y = [constant(1.0 if i == target else 0.0) for i in range(k)]
    elif isinstance(target, (Value, int, numbers.Number)):
        raise TypeError(
            f"cross_entropy needs an int class index or a list of {k} probabilities, "
            f"got {type(target).__name__} {target!r}"
        )
    else:
        y = [_value(yi) for yi in target]
        if len(y) != k:
            raise ValueError(f"cross_entropy: got {k} logits but a target of length {len(y)}")
    return apply(CROSS_ENTROPY, *z, *y)


def cross_entropy(
    logits: Sequence[Scalar] | Sequence[Sequence[Scalar]],
    target: int | Sequence[Scalar] | Sequence[int] | Sequence[Sequence[Scalar]],
    reduction: Reduction = "mean",
) -> Value:
    """Cross entropy of ``softmax(logits)`` against a class index (or a distribution).

    One sample: ``logits`` is a list of ``k`` scores and ``target`` an ``int`` in ``[0, k)``
    or ``k`` probabilities. A batch: a list of such lists and a list of targets. Per sample::

        loss = logsumexp(z) - z_t = -log softmax(z)_t,   d loss / d z = softmax(z) - onehot(t)
    """
    rows = list(logits)
    if rows and isinstance(rows[0], (Value, numbers.Real)):
        return _cross_entropy_one(rows, target)  # type: ignore[arg-type]
    targets = list(target)  # type: ignore[arg-type]
    if not rows:
        raise ValueError("cross_entropy: the logits are empty: a loss needs at least one sample")
    if len(rows) != len(targets):
        raise ValueError(f"cross_entropy: got {len(rows)} samples but {len(targets)} targets")
    return _reduce(
        [_cross_entropy_one(z, t) for z, t in zip(rows, targets, strict=True)],  # type: ignore[arg-type]
        reduction,
    )


def l2_penalty(params: Iterable[Value], alpha: float = 1e-4) -> Value:
    """L2 regularisation ``alpha * sum_j p_j**2``;  d/dp_j = 2 alpha p_j.

    Add it to the data loss to prefer small weights (micrograd's demo uses ``alpha = 1e-4``).
    """
    squares = [p * p for p in params]
    if not squares:
        raise ValueError("l2_penalty got no parameters")
    return alpha * _reduce(squares, "sum")
