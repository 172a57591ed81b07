"""Optimizers: turn the gradients left by ``backward()`` into parameter updates.

The loop is PyTorch's::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(100):
        loss = ...
        opt.zero_grad()
        loss.backward()
        opt.step()

``lr`` is a plain attribute, so a schedule is one line between steps
(``opt.lr = 1.0 - 0.9 * step / steps``). Updates change ``p.data`` in place and never build
graph nodes. ``state_dict()`` / ``load_state_dict()`` save and restore the hyperparameters and
the running averages as JSON-serialisable plain numbers, to resume training later.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from chainrule.engine import Value

__all__ = ["SGD", "Adam", "Optimizer"]


def _grad(p: Value) -> float:
    """The gradient as a float, also after ``backward(create_graph=True)`` made it a Value."""
    g = p.grad
    return g.data if isinstance(g, Value) else float(g)


def _check_nonnegative(name: str, x: float) -> float:
    if not x >= 0.0:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0, got {x!r}")
    return float(x)


class Optimizer:
    """Holds the parameters to update and the learning rate ``lr``.

    Subclasses implement :meth:`step` and list in ``_saved`` the attributes that
    :meth:`state_dict` records. A parameter given twice is updated once.
    """

    _saved: ClassVar[tuple[str, ...]] = ("lr",)

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        unique: dict[int, Value] = {}
        for p in params:
            if not isinstance(p, Value):
                raise TypeError(
                    f"{type(self).__name__} needs Values to optimise, got {type(p).__name__}"
                )
            unique.setdefault(id(p), p)
        if not unique:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self.params: list[Value] = list(unique.values())
        self.lr = _check_nonnegative("lr", lr)

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to 0.0 before the next ``backward()``."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Apply one update to every parameter from its current gradient."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and per-parameter state as plain numbers and lists (JSON-ready)."""
        state: dict[str, Any] = {"optimizer": type(self).__name__, "params": len(self.params)}
        for name in self._saved:
            value = getattr(self, name)
            state[name] = list(value) if isinstance(value, (list, tuple)) else value
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved, for the same kind of optimizer over the same
        number of parameters (in the same order); a mismatch is an error and changes nothing."""
        name = type(self).__name__
        if state.get("optimizer") != name or state.get("params") != len(self.params):
            raise ValueError(
                f"state_dict is for {state.get('optimizer')} over {state.get('params')} "
                f"parameters, this is {name} over {len(self.params)}"
            )
        missing = [key for key in self._saved if key not in state]
        if missing:
            raise ValueError(f"state_dict for {name} lacks {', '.join(missing)}")
        for key in self._saved:
            old = getattr(self, key)
            if isinstance(old, list) and len(state[key]) != len(old):
                raise ValueError(
                    f"state_dict[{key!r}] has {len(state[key])} entries, need {len(old)}"
                )
        for key in self._saved:
            old = getattr(self, key)
            new = state[key]
            setattr(self, key, type(old)(new) if isinstance(old, (list, tuple)) else new)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr:g})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay (PyTorch's rule).

    With ``g = grad + weight_decay * p``:

    - plain:     ``p <- p - lr * g``
    - momentum:  ``v <- momentum * v + g`` (``v = g`` on the first step), ``p <- p - lr * v``
    - nesterov:  as momentum, but ``p <- p - lr * (g + momentum * v)``
    """

    _saved = ("lr", "momentum", "weight_decay", "nesterov", "velocity")

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 0.01,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        *,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if nesterov and momentum == 0.0:
            raise ValueError("nesterov=True needs a momentum > 0")
        self.momentum = float(momentum)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.nesterov = nesterov
        self.velocity: list[float | None] = [None] * len(self.params)

    def step(self) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        for i, p in enumerate(self.params):
            g = _grad(p) + wd * p.data
            if mu:
                v = self.velocity[i]
                v = g if v is None else mu * v + g
                self.velocity[i] = v
                g = g + mu * v if self.nesterov else v
            p.data -= lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction; ``weight_decay`` adds ``wd * p`` to the
    gradient (L2, as in ``torch.optim.Adam``).

    At step ``t``::

        m <- b1 m + (1 - b1) g            v <- b2 v + (1 - b2) g**2
        m_hat = m / (1 - b1**t)           v_hat = v / (1 - b2**t)
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    _saved = ("lr", "betas", "eps", "weight_decay", "t", "m", "v")

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must both be in [0, 1), got {betas!r}")
        if not eps > 0.0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.t = 0
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def step(self) -> None:
        self.t += 1
        (b1, b2), lr, eps, wd = self.betas, self.lr, self.eps, self.weight_decay
        c1 = 1.0 - b1**self.t
        c2 = 1.0 - b2**self.t
        for i, p in enumerate(self.params):
            g = _grad(p) + wd * p.data
            m = self.m[i] = b1 * self.m[i] + (1.0 - b1) * g
            v = self.v[i] = b2 * self.v[i] + (1.0 - b2) * g * g
            p.data -= lr * (m / c1) / (math.sqrt(v / c2) + eps)
