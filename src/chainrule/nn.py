"""Neural networks built from scalar :class:`~chainrule.Value` s: ``Neuron``, ``Layer``, ``MLP``.

The classes and their signatures are micrograd's, so its demo runs unchanged::

    model = MLP(2, [16, 16, 1])          # ReLU hidden layers, linear output
    score = model([x0, x1])              # a single Value, since the last layer has 1 neuron
    loss.backward(); model.zero_grad()

and grow the conveniences a PyTorch user expects: ``named_parameters()``, ``state_dict()``,
a choice of activation and of initialisation, reproducible seeds and a readable ``repr``.

A neuron computes ``act(b + sum_i w_i x_i)``. Weights start uniform in ``[-1, 1]`` as in
micrograd (``init="uniform"``; with ``seed=None`` and the same ``random.seed`` they are
micrograd's very weights), or scaled to the layer size: ``init="xavier"`` draws from
``U(-a, a)`` with ``a = sqrt(6 / (nin + nout))`` (Glorot & Bengio, 2010, for tanh/sigmoid),
``init="he"`` from ``N(0, 2 / nin)`` (He et al., 2015, for ReLU). Biases start at 0.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

from chainrule.data import Seed, as_rng
from chainrule.engine import Value, constant
from chainrule.ops import is_real

__all__ = ["ACTIVATIONS", "MLP", "Layer", "Module", "Neuron"]

Scalar = float | int | Value
Init = Literal["uniform", "xavier", "he"]

ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": lambda v: v.relu(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "leaky_relu": lambda v: v.leaky_relu(),
    "gelu": lambda v: v.gelu(),
    "silu": lambda v: v.silu(),
    "linear": lambda v: v,
}
"""Activation name -> function applied to a neuron's pre-activation."""


def _draw(init: str, nin: int, nout: int, rng: random.Random) -> float:
    """One initial weight for a neuron with ``nin`` inputs in a layer of ``nout`` neurons."""
    if init == "uniform":
        return rng.uniform(-1.0, 1.0)
    if init == "xavier":
        a = math.sqrt(6.0 / (nin + nout))
        return rng.uniform(-a, a)
    if init == "he":
        return rng.gauss(0.0, math.sqrt(2.0 / nin))
    raise ValueError(f"init must be 'uniform', 'xavier' or 'he', got {init!r}")


def _as_inputs(x: Scalar | Sequence[Scalar], nin: int) -> list[Value]:
    """Check the input count and wrap plain numbers once, as constants, so that every neuron
    of a layer shares them instead of wrapping each number again."""
    items: Sequence[Scalar] = [x] if isinstance(x, (Value, int, float, numbers.Real)) else x
    if any(hasattr(xi, "__len__") and not isinstance(xi, str) for xi in items):
        raise TypeError(
            f"expected one sample of {nin} numbers, got {len(items)} sequences (a batch?); "
            "a model takes one sample at a time: [model(x) for x in batch]"
        )
    if len(items) != nin:
        raise ValueError(f"expected {nin} inputs, got {len(items)}")
    return [constant(xi, "Value()") for xi in items]


def _named(obj: object, name: str, seen: set[int]) -> Iterator[tuple[str, Value]]:
    if isinstance(obj, Value):
        if id(obj) not in seen:
            seen.add(id(obj))
            yield name, obj
    elif isinstance(obj, Module):
        for attr, value in vars(obj).items():
            yield from _named(value, f"{name}.{attr}" if name else attr, seen)
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from _named(item, f"{name}.{i}", seen)


class Module:
    """Base class: finds its parameters by walking its attributes.

    Every attribute that is a ``Value``, a ``Module``, or a list/tuple of them is part of the
    model, named by its path (``layers.0.neurons.3.w.1``), as in PyTorch. A subclass only
    defines ``__init__`` and ``forward``.
    """

    def forward(self, x: Any) -> Any:
        """The model's output for input ``x``."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, parameter)`` pairs in a fixed order; a shared parameter appears once."""
        return list(_named(self, "", set()))

    def parameters(self) -> list[Value]:
        """All trainable Values, in the order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many scalars the model learns."""
        return len(self.parameters())

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` back to 0.0 (gradients accumulate otherwise)."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict[str, float]:
        """Parameter values by name, as plain floats: ``json.dump`` can write it as is."""
        return {name: float(p.data) for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, float]) -> None:
        """Copy values from a :meth:`state_dict` into this model's parameters.

        The names must match exactly; otherwise nothing is changed and the error lists what is
        missing and what is unexpected (a model of another size or shape). Values may be any
        real number that ``Value()`` accepts (int, float, numpy floats). All or nothing: every
        entry is checked before any parameter is set.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state_dict must be a dict, got {type(state).__name__}")
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise ValueError(
                f"state_dict does not fit {type(self).__name__} "
                f"({len(own)} parameters, got {len(state)} entries): "
                + "; ".join(
                    f"{what} {len(keys)} key(s): {_preview(keys)}"
                    for what, keys in (("missing", missing), ("unexpected", unexpected))
                    if keys
                )
            )
        values: dict[str, float] = {}
        for key, value in state.items():
            if not is_real(value):  # what Value() accepts
                raise TypeError(
                    f"state_dict[{key!r}] must be a number, got {type(value).__name__} {value!r}"
                )
            values[key] = float(value)
        for key, value in values.items():
            own[key].data = value


def _preview(keys: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _activation(nonlin: bool, activation: str | None) -> str:
    name = activation if activation is not None else ("relu" if nonlin else "linear")
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return name


class Neuron(Module):
    """``act(b + sum_i w_i x_i)`` with ``nin`` weights ``w`` and a bias ``b``.

    ``nonlin`` picks ReLU or linear (micrograd's switch); ``activation`` names any entry of
    :data:`ACTIVATIONS` and wins over ``nonlin``. ``fan_out`` is the size of the layer the
    neuron sits in, used by ``init="xavier"`` only.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        *,
        activation: str | None = None,
        init: Init = "uniform",
        seed: Seed = None,
        fan_out: int = 1,
    ) -> None:
        if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
            raise ValueError(f"nin must be a positive integer, got {nin!r}")
        rng = as_rng(seed)
        self.w = [Value(_draw(init, nin, fan_out, rng)) for _ in range(nin)]
        self.b = Value(0.0)
        self.activation = _activation(nonlin, activation)

    @property
    def nin(self) -> int:
        return len(self.w)

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self.activation != "linear"

    def forward(self, x: Scalar | Sequence[Scalar]) -> Value:
        return self._forward(_as_inputs(x, len(self.w)))

    def _forward(self, x: list[Value]) -> Value:
        act = self.b
        for wi, xi in zip(self.w, x, strict=True):
            act = act + wi * xi
        return ACTIVATIONS[self.activation](act)

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs.

    Returns a list of ``nout`` Values, or the single Value itself when ``nout == 1``
    (micrograd's convention, so a one-output model gives a scalar to put in a loss).
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        nonlin: bool = True,
        *,
        activation: str | None = None,
        init: Init = "uniform",
        seed: Seed = None,
    ) -> None:
        if isinstance(nout, bool) or not isinstance(nout, int) or nout < 1:
            raise ValueError(f"nout must be a positive integer, got {nout!r}")
        rng = as_rng(seed)
        self.neurons = [
            Neuron(nin, nonlin, activation=activation, init=init, seed=rng, fan_out=nout)
            for _ in range(nout)
        ]

    @property
    def nin(self) -> int:
        return self.neurons[0].nin

    @property
    def nout(self) -> int:
        return len(self.neurons)

    @property
    def activation(self) -> str:
        return self.neurons[0].activation

    def forward(self, x: Scalar | Sequence[Scalar]) -> Value | list[Value]:
        inputs = _as_inputs(x, self.nin)
        out = [n._forward(inputs) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: ``nin`` inputs, then one :class:`Layer` per entry of ``nouts``.

    Hidden layers use ``activation`` (ReLU by default); the last layer uses
    ``final_activation`` (linear by default, so scores are unbounded, as a loss expects).
    Given the same ``seed``, two models start from identical weights.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        *,
        activation: str = "relu",
        final_activation: str = "linear",
        init: Init = "uniform",
        seed: Seed = None,
    ) -> None:
        if not nouts:
            raise ValueError("nouts must list at least one layer size, got an empty list")
        rng = as_rng(seed)
        sizes = [nin, *nouts]
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation=activation if i < len(nouts) - 1 else final_activation,
                init=init,
                seed=rng,
            )
            for i in range(len(nouts))
        ]

    @property
    def nin(self) -> int:
        return self.layers[0].nin

    def forward(self, x: Scalar | Sequence[Scalar]) -> Value | list[Value]:
        out: Value | list[Value] = _as_inputs(x, self.nin)
        for layer in self.layers:
            out = layer(out)
        return out

    def __repr__(self) -> str:
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        sizes = " -> ".join(str(n) for n in [self.nin] + [layer.nout for layer in self.layers])
        return f"MLP({sizes}, {self.num_parameters()} parameters)(\n" + "\n".join(lines) + "\n)"
