"""chainrule: scalar reverse-mode automatic differentiation, to learn and show backpropagation.

>>> from chainrule import Value
>>> x = Value(2.0)
>>> y = x * x + 3 * x
>>> y.backward()
>>> x.grad
7.0

The plain functions (``chainrule.tanh``, ``chainrule.relu``, ...) are made from the rows of
:data:`chainrule.ops.OPS` in :mod:`chainrule.functional`.
"""

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from chainrule import autograd, data, dual, functional, losses, nn, optim, pytree, transforms
from chainrule.anomaly import AnomalyError, detect_anomaly
from chainrule.autograd import backward
from chainrule.checkpointing import checkpoint, checkpoint_sequential
from chainrule.compiler import CompiledFunction, TraceChangedError, compile
from chainrule.custom import Function, FunctionCtx, custom_op
from chainrule.dual import Dual, jvp
from chainrule.engine import HookHandle, Value, apply, topological_order
from chainrule.functional import *  # noqa: F403  # one plain function per op row
from chainrule.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.gradcheck import GradcheckError, gradcheck, numerical_gradient
from chainrule.viz import draw_dot, to_dot

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "CompiledFunction",
    "Dual",
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "HookHandle",
    "TraceChangedError",
    "Value",
    "__version__",
    "apply",
    "autograd",
    "backward",
    "batched",
    "checkpoint",
    "checkpoint_sequential",
    "compile",
    "custom_op",
    "data",
    "detect_anomaly",
    "draw_dot",
    "dual",
    "enable_grad",
    "gradcheck",
    "is_grad_enabled",
    "jvp",
    "losses",
    "nn",
    "no_grad",
    "numerical_gradient",
    "optim",
    "pytree",
    "set_grad_enabled",
    "to_dot",
    "topological_order",
    "transforms",
    *[name for name in functional.__all__ if name != "Elementwise"],
]

if TYPE_CHECKING:
    from chainrule.batching import Axes, BatchedFunction


def batched(f: Callable[..., Any], in_axes: "Axes" = 0, *, argnums: int | Sequence[int] = (),
            reduction: str = "mean", fuse: bool = True) -> "BatchedFunction":  # fmt: skip
    """``f(*one_example) -> Value`` as one numpy program over a batch of examples (numpy
    needed: ``pip install chainrule[batched]``); see :func:`chainrule.batching.batched`."""
    try:
        from chainrule.batching import batched as make  # numpy is imported only here
    except ImportError as error:
        raise ImportError(
            f"chainrule.batched needs numpy ({error}): pip install 'chainrule[batched]'"
        ) from error

    return make(f, in_axes, argnums=argnums, reduction=reduction, fuse=fuse)


if TYPE_CHECKING:  # the plain functions of chainrule.functional, for type checkers

    def __getattr__(name: str) -> functional.Elementwise: ...
