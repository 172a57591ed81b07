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
the running averages as JSON-serialisable plain numbers, to resume training later. Loading is
all or nothing: every entry is checked (the constructor's checks, plus one finite number per
parameter) before any is set, so a bad file leaves the optimizer as it was.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from chainrule.engine import Value
from chainrule.ops import is_real

__all__ = ["SGD", "Adam", "Optimizer"]


def _grad(p: Value) -> float:
    """The gradient as a float, also after ``backward(create_graph=True)`` made it a Value."""
    g = p.grad
    return g.data if isinstance(g, Value) else float(g)


# --- checks shared by the constructors and load_state_dict: each returns the clean value ---


def _real(name: str, x: object) -> float:
    """``x`` as a float if it is a real number (what ``Value()`` accepts), else a TypeError."""
    if not is_real(x):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__} {x!r}")
    return float(x)


def _check_nonnegative(name: str, x: object) -> float:
    """A finite real ``>= 0`` (lr, weight_decay)."""
    value = _real(name, x)
    if not 0.0 <= value < math.inf:  # also rejects NaN
        raise ValueError(f"{name} must be >= 0 and finite, got {x!r}")
    return value


def _check_positive(name: str, x: object) -> float:
    """A finite real ``> 0`` (eps)."""
    value = _real(name, x)
    if not 0.0 < value < math.inf:
        raise ValueError(f"{name} must be > 0 and finite, got {x!r}")
    return value


def _check_fraction(name: str, x: object) -> float:
    """A real in ``[0, 1)`` (momentum, each of Adam's betas)."""
    value = _real(name, x)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {x!r}")
    return value


def _check_betas(name: str, x: object) -> tuple[float, float]:
    """A pair ``(b1, b2)``, both in ``[0, 1)``; a JSON list is accepted."""
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence) or len(x) != 2:
        raise TypeError(f"{name} must be a pair (b1, b2), got {type(x).__name__} {x!r}")
    try:
        return (_check_fraction(f"{name}[0]", x[0]), _check_fraction(f"{name}[1]", x[1]))
    except ValueError:
        raise ValueError(f"{name} must both be in [0, 1), got {x!r}") from None


def _check_count(name: str, x: object) -> int:
    """An integer ``>= 0`` (Adam's step count ``t``)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(x).__name__} {x!r}")
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {x!r}")
    return int(x)


def _check_flag(name: str, x: object) -> bool:
    if not isinstance(x, bool):
        raise TypeError(f"{name} must be True or False, got {type(x).__name__} {x!r}")
    return x


def _check_per_param(
    name: str, x: object, n: int, *, allow_none: bool = False, nonnegative: bool = False
) -> list[Any]:
    """One finite float per parameter (``None`` allowed where ``allow_none``), as a new list."""
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"{name} must be a list of {n} numbers, got {type(x).__name__}")
    if len(x) != n:
        raise ValueError(f"{name} has {len(x)} entries, need {n} (one per parameter)")
    out: list[Any] = []
    for i, item in enumerate(x):
        if item is None and allow_none:
            out.append(None)
            continue
        value = _real(f"{name}[{i}]", item)
        if not math.isfinite(value) or (nonnegative and value < 0.0):
            bound = ">= 0 and finite" if nonnegative else "finite"
            raise ValueError(f"{name}[{i}] must be {bound}, got {item!r}")
        out.append(value)
    return out


def _check_nesterov(nesterov: object, momentum: float) -> bool:
    if _check_flag("nesterov", nesterov) and momentum == 0.0:
        raise ValueError("nesterov=True needs a momentum > 0")
    return bool(nesterov)


class Optimizer:
    """Holds the parameters to update and the learning rate ``lr``.

    Subclasses implement :meth:`step`, list in ``_saved`` the attributes that
    :meth:`state_dict` records and check each of them in :meth:`_parse`. A parameter given
    twice is updated once.
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
        number of parameters (in the same order).

        All or nothing: every entry is checked first (its type, its range, one finite number
        per parameter), and only then are they all set. On any error the optimizer is
        exactly as it was, and the error names the entry, what it holds and what it needs.
        """
        name = type(self).__name__
        if not isinstance(state, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(state).__name__}")
        if state.get("optimizer") != name or state.get("params") != len(self.params):
            raise ValueError(
                f"state_dict is for {state.get('optimizer')} over {state.get('params')} "
                f"parameters, this is {name} over {len(self.params)}"
            )
        missing = [key for key in self._saved if key not in state]
        if missing:
            raise ValueError(f"state_dict for {name} lacks {', '.join(missing)}")
        unexpected = [key for key in state if key not in {"optimizer", "params", *self._saved}]
        if unexpected:
            raise ValueError(
                f"state_dict for {name} has unexpected entries {', '.join(map(repr, unexpected))}"
            )
        try:
            values = self._parse(state)
        except (TypeError, ValueError) as error:
            raise type(error)(f"state_dict for {name}: {error}") from None
        for key, value in values.items():
            setattr(self, key, value)

    def _parse(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Check every saved entry of ``state``; return the values to set, changing nothing."""
        return {"lr": _check_nonnegative("lr", state["lr"])}

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
        self.momentum = _check_fraction("momentum", momentum)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.nesterov = _check_nesterov(nesterov, self.momentum)
        self.velocity: list[float | None] = [None] * len(self.params)

    def _parse(self, state: Mapping[str, Any]) -> dict[str, Any]:
        values = super()._parse(state)
        momentum = _check_fraction("momentum", state["momentum"])
        values.update(
            momentum=momentum,
            weight_decay=_check_nonnegative("weight_decay", state["weight_decay"]),
            nesterov=_check_nesterov(state["nesterov"], momentum),
            velocity=_check_per_param(
                "velocity", state["velocity"], len(self.params), allow_none=True
            ),
        )
        return values

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
        self.betas = _check_betas("betas", betas)
        self.eps = _check_positive("eps", eps)
        self.weight_decay = _check_nonnegative("weight_decay", weight_decay)
        self.t = 0
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def _parse(self, state: Mapping[str, Any]) -> dict[str, Any]:
        values = super()._parse(state)
        n = len(self.params)
        values.update(
            betas=_check_betas("betas", state["betas"]),
            eps=_check_positive("eps", state["eps"]),
            weight_decay=_check_nonnegative("weight_decay", state["weight_decay"]),
            t=_check_count("t", state["t"]),
            m=_check_per_param("m", state["m"], n),
            v=_check_per_param("v", state["v"], n, nonnegative=True),
        )
        return values

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
