"""chainrule: scalar reverse-mode automatic differentiation, to learn and show backpropagation.

>>> from chainrule import Value
>>> x = Value(2.0)
>>> y = x * x + 3 * x
>>> y.backward()
>>> x.grad
7.0
"""

from chainrule.anomaly import AnomalyError, detect_anomaly
from chainrule.engine import HookHandle, Value, topological_order
from chainrule.functional import (
    abs,
    cos,
    erf,
    exp,
    gelu,
    leaky_relu,
    log,
    relu,
    sigmoid,
    silu,
    sin,
    softplus,
    sqrt,
    tanh,
)
from chainrule.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.gradcheck import GradcheckError, gradcheck, numerical_gradient

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "GradcheckError",
    "HookHandle",
    "Value",
    "__version__",
    "abs",
    "cos",
    "detect_anomaly",
    "enable_grad",
    "erf",
    "exp",
    "gelu",
    "gradcheck",
    "is_grad_enabled",
    "leaky_relu",
    "log",
    "no_grad",
    "numerical_gradient",
    "relu",
    "set_grad_enabled",
    "sigmoid",
    "silu",
    "sin",
    "softplus",
    "sqrt",
    "tanh",
    "topological_order",
]

# --- transforms, forward mode, custom ops, checkpointing ---
# (the function `checkpoint` shadows the attribute `chainrule.checkpoint`; the module stays
# importable with `from chainrule.checkpoint import checkpoint_sequential`)
from chainrule import forward, func
from chainrule.checkpoint import checkpoint, checkpoint_sequential
from chainrule.forward import Dual, jvp
from chainrule.function import Function, FunctionCtx, custom_op

__all__ += [
    "Dual",
    "Function",
    "FunctionCtx",
    "checkpoint",
    "checkpoint_sequential",
    "custom_op",
    "forward",
    "func",
    "jvp",
]
# --- end transforms, forward mode, custom ops, checkpointing ---

# --- performance: the compiled path ---
# (the function `compile` shadows the attribute `chainrule.compile` and, inside this package's
# namespace only, the builtin; the module stays importable as `chainrule.compile`)
from chainrule.compile import CompiledFunction, TraceChangedError, compile  # noqa: E402

__all__ += ["CompiledFunction", "TraceChangedError", "compile"]
# --- end performance ---

# --- nn, losses, optim, data ---
from chainrule import data, losses, nn, optim  # noqa: E402

__all__ += ["data", "losses", "nn", "optim"]
# --- end nn, losses, optim, data ---

# --- viz (graphviz itself is imported only when a picture is drawn) ---
from chainrule.viz import draw_dot, to_dot  # noqa: E402

__all__ += ["draw_dot", "to_dot"]
# --- end viz ---
