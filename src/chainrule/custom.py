"""Custom operations: your own forward and backward rule as one node of the graph.

Two forms, as in PyTorch and JAX:

* :class:`Function` — a class with ``forward(ctx, *args)`` on plain floats and
  ``backward(ctx, grad_out)`` returning ``grad_out * d out / d arg`` for each argument;
  ``ctx.save_for_backward(...)`` keeps what backward needs. ``MyOp.apply(x, ...)``
  makes one node whose ``_prev`` are the ``Value`` arguments.
* :func:`custom_op` — a decorator for a scalar function and its partial derivatives.
  The pair is an :class:`~chainrule.ops.Op` like a built-in row (but not added to the
  catalogue :data:`chainrule.ops.OPS`: it lives as long as you hold it), so it also works
  in forward mode (:class:`~chainrule.dual.Dual`) and, when the derivative is written
  with chainrule operations, under ``create_graph=True``.

Either way :func:`chainrule.engine.apply` makes the node and the reverse pass does
``parent.grad += share`` for you; check your rule with :func:`chainrule.gradcheck`.
A ``Function``'s node has a :class:`HandWrittenOp`, an op whose backward gives the shares
directly; :mod:`chainrule.checkpointing` makes one for each segment it recomputes.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chainrule import anomaly
from chainrule.dual import Dual
from chainrule.engine import Value, constant
from chainrule.grad_mode import is_grad_enabled, no_grad, set_grad_enabled
from chainrule.ops import MASKED, Op, evaluate, is_node, is_real, number, tangent_sum

__all__ = ["CustomOp", "Function", "FunctionCtx", "HandWrittenOp", "custom_op"]


class FunctionCtx:
    """Scratch space shared by one call's ``forward`` and ``backward``.

    ``save_for_backward(*values)`` stores numbers for backward (``ctx.saved_values``);
    ``needs_input_grad[i]`` says whether argument ``i`` is a Value that requires grad;
    ``mark_non_differentiable(*outputs)`` makes outputs constants (PyTorch's names).
    Any other attribute may be set freely (``ctx.alpha = alpha``).
    """

    def __init__(self, needs_input_grad: tuple[bool, ...] = ()) -> None:
        self.saved_values: tuple[Any, ...] = ()
        self.needs_input_grad = needs_input_grad
        self.non_differentiable: tuple[Any, ...] = ()
        self._outputs: tuple[Any, ...] = ()  # what forward returned, for the marks

    def save_for_backward(self, *values: Any) -> None:
        """Keep ``values`` for backward, as ``ctx.saved_values`` (in the same order)."""
        self.saved_values = values

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """In forward: these outputs (the very objects forward returns) are not
        differentiable, an index or a flag, say. They come back as constants (a Value that
        does not require grad), and backward gets no ``grad_out`` for them but 0.0."""
        self.non_differentiable = outputs

    if TYPE_CHECKING:  # for type checkers only: any other attribute may be set and read

        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...


class Function:
    """Base class for a custom operation with a hand-written backward rule.

    Subclasses define two static methods::

        class Cube(Function):
            @staticmethod
            def forward(ctx, x):            # x is a float
                ctx.save_for_backward(x)
                return x**3
            @staticmethod
            def backward(ctx, grad_out):    # grad_out = d loss / d out
                (x,) = ctx.saved_values
                return grad_out * 3 * x**2  # d loss / d x

        y = Cube.apply(Value(2.0))          # a node: y._prev == (x,), y._op == "Cube"

    ``backward`` returns one entry per argument of ``forward`` (a single number when
    there is one argument); ``None`` means "no gradient" (e.g. for a setting that is
    not a Value), and trailing ``None``s beyond the arguments are ignored (PyTorch).
    A ``forward`` returning a tuple of numbers has several outputs: ``apply`` returns a
    tuple of nodes and ``backward(ctx, *grad_outs)`` takes one adjoint per output.
    Arguments that are Values reach ``forward`` as their ``data``.
    Forward mode (:class:`~chainrule.Dual`) takes its partials from ``backward`` with a
    unit ``grad_out``, or from a ``jvp(ctx, *tangents)`` static method when one is defined.
    Any first derivative works, inside any transform; a second derivative of the
    Function itself needs :func:`custom_op` instead: a backward on floats cannot be
    differentiated again, and chainrule says so rather than return a wrong number.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **_: Any) -> Any:
        """The output as a float (or a tuple of floats), from float (and other) arguments."""
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outs: Any, **_: Any) -> Any:
        """``sum_k grad_out_k * d out_k / d arg_i`` for each argument (or None)."""
        raise NotImplementedError("a Function subclass must define backward(ctx, grad_out)")

    @staticmethod
    def jvp(ctx: FunctionCtx, *tangents: Any) -> Any:
        """Optional: ``sum_i d out_k / d arg_i * tangent_i`` for each output (PyTorch's jvp).

        Forward mode uses it when a subclass defines it; otherwise it takes the partials
        from ``backward`` with a unit ``grad_out``. ``tangents`` has one entry per argument
        of ``forward`` (0.0 for one that does not vary).
        """
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the operation: a Value node for Value inputs, a Dual for Dual inputs.

        With only plain numbers it returns a plain float. A ``forward`` that returns a
        tuple of numbers gives a tuple of outputs, one node (or Dual) each. Keyword
        arguments that name a parameter of ``forward`` count as that positional argument;
        other keywords (``forward(ctx, x, *, mode)``) reach forward as they are and receive
        no gradient. An argument that is not a number, a Value or a Dual (a flag, a string,
        a callable) is passed through; backward returns None for it.
        """
        args, kwargs = cls._bind(args, kwargs)
        ctx = FunctionCtx(tuple(_varies(a) for a in args))
        outs = cls._run_forward(ctx, args, kwargs)
        fixed = cls._non_differentiable(ctx, outs)
        positions = tuple(i for i, a in enumerate(args) if isinstance(a, (Value, Dual)))
        if not positions:
            return outs if len(outs) > 1 else outs[0]
        inputs = [args[i] for i in positions]
        values_in = any(isinstance(a, Value) for a in inputs)
        nodes = [(constant(float(o)) if values_in else float(o)) if fixed[k]
                 else evaluate(cls._op(ctx, outs, k, len(args), positions), *inputs)
                 for k, o in enumerate(outs)]  # fmt: skip
        return tuple(nodes) if len(outs) > 1 else nodes[0]

    @classmethod
    def _bind(cls, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """Keywords that name a positional parameter of forward join ``args`` there."""
        if not kwargs:
            return args, kwargs
        signature = _signature(cls.forward)
        if signature is None:
            return args, kwargs
        who = f"{cls.__name__}.apply"
        positional, keywords = _bound(who, "forward", signature, (None, *args), kwargs)
        return positional[1:], keywords  # None stood for ctx, forward's first parameter

    @classmethod
    def _non_differentiable(cls, ctx: FunctionCtx, outs: tuple[Any, ...]) -> list[bool]:
        """For each output, whether forward marked it (by identity) as not differentiable."""
        constant = [False] * len(outs)
        for marked in ctx.non_differentiable:
            hits = [k for k, o in enumerate(ctx._outputs) if o is marked]
            if len(hits) != 1:
                where = "none of" if not hits else f"several ({hits}) of"
                raise ValueError(
                    f"{cls.__name__}: ctx.mark_non_differentiable got {marked!r}, which is "
                    f"{where} the objects forward returned; pass each output forward returns"
                )
            constant[hits[0]] = True
        return constant

    @classmethod
    def _op(cls, ctx: FunctionCtx, outs: tuple[float, ...], k: int, nargs: int,
            positions: tuple[int, ...]) -> HandWrittenOp:  # fmt: skip
        """The op of output ``k``: its backward sees grad_out for this output and 0 for the
        others (backward is linear in the grad_outs, so the shares add up correctly)."""

        def vjp(g: float, *xs_out: Any) -> tuple[float, ...]:
            gs = [0.0] * len(outs)
            gs[k] = g
            return cls._shares(ctx, gs, nargs, positions)

        tangent = None
        if cls.jvp is not Function.jvp:  # the class's own forward rule, as PyTorch's jvp

            def tangent(tangents: Any, xs: Any, out: Any) -> Any:
                ts: list[Any] = [0.0] * nargs
                for i, t in zip(positions, tangents):
                    ts[i] = 0.0 if t is None else t
                result = cls.jvp(ctx, *ts)
                return result[k] if isinstance(result, tuple) else result

        return HandWrittenOp(cls.__name__, lambda *xs: outs[k], cls._no_second_order,
                             f"custom Function {cls.__name__}", backward=vjp,
                             tangent=tangent)  # fmt: skip

    # --- helpers (classmethods so a subclass's name shows in every error) ---

    @classmethod
    def _run_forward(cls, ctx: FunctionCtx, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> tuple[float, ...]:  # fmt: skip
        """The outputs of forward, as a tuple of floats (one for a single output)."""
        plain = [_plain(a) for a in args]
        with no_grad():
            out = cls.forward(ctx, *plain, **kwargs)
        outs = tuple(out) if isinstance(out, tuple) and out else (out,)
        for o in outs:
            if not is_real(o):
                raise TypeError(
                    f"{cls.__name__}.forward must return a real number (or a tuple of them), "
                    f"got {type(out).__name__} {out!r}"
                )
        ctx._outputs = outs  # what mark_non_differentiable names, by identity
        return tuple(float(o) for o in outs)

    @classmethod
    def _grads(cls, ctx: FunctionCtx, gs: list[Any], nargs: int) -> tuple[Any, ...]:
        """Call backward and check it returned one entry per argument.

        Trailing ``None``s beyond the arguments are accepted and dropped, as in PyTorch.
        """
        result = cls.backward(ctx, *gs)
        grads: tuple[Any, ...] = result if isinstance(result, tuple) else (result,)
        if len(grads) > nargs and all(g is None for g in grads[nargs:]):
            grads = grads[:nargs]
        if len(grads) != nargs:
            raise ValueError(
                f"{cls.__name__}.backward returned {len(grads)} gradient(s) for "
                f"{nargs} argument(s) of forward; return one per argument (None for none)"
            )
        return grads

    @classmethod
    def _shares(
        cls, ctx: FunctionCtx, gs: list[Any], nargs: int, positions: tuple[int, ...]
    ) -> tuple[float, ...]:
        grads = cls._grads(ctx, gs, nargs)
        shares: list[float] = []
        for i in positions:
            share = grads[i]
            if share is None:  # no gradient flows along this edge, as a MASKED partial
                shares.append(MASKED)
            elif not is_real(share):
                raise TypeError(
                    f"{cls.__name__}.backward must return numbers (or None), got "
                    f"{type(share).__name__} {share!r} for argument {i}"
                )
            else:
                shares.append(float(share))
        return tuple(shares)

    @classmethod
    def _no_second_order(cls, *inputs: Any) -> tuple[Any, ...]:
        raise RuntimeError(
            f"custom Function {cls.__name__} has a backward on floats only, so it cannot be "
            "differentiated twice (create_graph=True, chainrule.transforms.hessian, "
            "grad(grad(f))); "
            "use chainrule.custom.custom_op with a derivative written with chainrule "
            "operations instead"
        )


class CustomOp:
    """A scalar function with its derivative, usable on Values, Duals and numbers.

    Made by :func:`custom_op`. Calling it on Values adds one node (``_op == name``);
    on Duals it runs forward mode; on plain numbers it returns ``forward(*args)``.
    """

    def __init__(
        self, forward: Callable[..., float], derivative: Callable[..., Any], name: str
    ) -> None:
        self.forward = forward
        self.derivative = derivative
        self._signature = _signature(forward)
        self._arity = _arity(self._signature)
        self._wants_out = "out" in _parameters(derivative)
        self.name = name
        self.op = self._make_op((), {})
        self.__name__ = getattr(forward, "__name__", name)
        self.__doc__ = forward.__doc__

    def __repr__(self) -> str:
        return f"CustomOp({self.name!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = self._bind(args, kwargs)
        fixed = tuple((i, a) for i, a in enumerate(args) if not _numeric(a))
        inputs = [a for a in args if _numeric(a)]
        op = self.op if not (fixed or kwargs) else self._make_op(fixed, kwargs)
        return evaluate(op, *inputs)  # a node, a dual number, or on numbers forward's float

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """The call's arguments as forward's positional ones (keywords that name one, and
        defaults, included) and its keyword-only ones, which receive no gradient."""
        if self._signature is None or (not kwargs and len(args) == self._arity):
            return args, kwargs  # nothing to bind (the common call, kept fast)
        return _bound(self.name, "the function", self._signature, args, kwargs)

    def _make_op(self, fixed: tuple[tuple[int, Any], ...], kwargs: dict[str, Any]) -> Op:
        """The op of a call: its inputs are the numeric positional arguments; ``fixed``
        (position, value) arguments and keyword-only ones ride along, constants."""

        def full(xs: Sequence[Any]) -> list[Any]:  # forward's positional arguments
            it = iter(xs)
            given = dict(fixed)
            return [given[i] if i in given else next(it) for i in range(len(xs) + len(given))]

        def forward(*xs: Any) -> float:
            return self._checked_forward(*full(xs), **kwargs)

        def local(*inputs: Any) -> tuple[Any, ...]:
            *xs, out = inputs
            return self._local(full(xs), {i for i, _ in fixed}, kwargs, out)

        return Op(self.name, forward, local, f"custom op {self.name}")

    def _checked_forward(self, *xs: Any, **kwargs: Any) -> float:
        out = self.forward(*(float(x) if is_real(x) else x for x in xs), **kwargs)
        if not is_real(out):
            raise TypeError(
                f"custom op {self.name} must return a real number, got {type(out).__name__} {out!r}"
            )
        return float(out)

    def _local(self, xs: list[Any], fixed: set[int], kwargs: dict[str, Any],
               out: Any) -> tuple[Any, ...]:  # fmt: skip
        """The ops-table rule: partials d out / d input_i, on floats or on Values. The
        derivative gets forward's arguments and may give a partial for every positional
        one (None, or anything, where the argument is not a number) or only for the numbers."""
        keywords = {**kwargs, "out": out} if self._wants_out else kwargs
        try:
            d = self.derivative(*xs, **keywords)
        except TypeError as err:
            if all(is_real(x) for i, x in enumerate(xs) if i not in fixed):
                raise
            raise TypeError(
                f"the derivative of custom op {self.name} failed on Values ({err}); to "
                "differentiate it twice (create_graph=True) write it with chainrule "
                "functions and arithmetic (chainrule.cos(x), chainrule.exp(x), x * x), which "
                "accept floats and Values, instead of math.*"
            ) from err
        partials = d if isinstance(d, tuple) else tuple(d) if isinstance(d, list) else (d,)
        if fixed and len(partials) == len(xs):
            partials = tuple(p for i, p in enumerate(partials) if i not in fixed)
        if len(partials) != len(xs) - len(fixed):
            raise ValueError(
                f"the derivative of custom op {self.name} returned {len(partials)} partial(s) "
                f"for {len(xs) - len(fixed)} input(s); return one per input"
            )
        return partials


def custom_op(
    derivative: Callable[..., Any], *, name: str | None = None
) -> Callable[[Callable[..., float]], CustomOp]:
    """Decorator: a scalar function of floats plus its partial derivatives.

    ``derivative(*xs)`` returns ``d f / d x_i`` — one number for a function of one
    input, a tuple for several; it may take ``out=`` to reuse the output::

        @custom_op(derivative=lambda x, out: 1.0 - out * out)
        def my_tanh(x):
            return math.tanh(x)

        my_tanh(Value(0.5))   # a node; backward uses the derivative
        my_tanh(0.5)          # a float

    The pair becomes an :class:`~chainrule.ops.Op` (named ``name``, default the function's
    name; the name only labels nodes), so the same rule serves reverse mode, forward mode and — when
    ``derivative`` uses chainrule's functions (``chainrule.cos(x)``, which take floats and
    Values alike) rather than ``math`` — second derivatives.
    """
    if not callable(derivative):
        raise TypeError(f"custom_op needs a callable derivative, got {type(derivative).__name__}")

    def decorate(forward: Callable[..., float]) -> CustomOp:
        if not callable(forward):
            raise TypeError(f"custom_op decorates a function, got {type(forward).__name__}")
        base = name if name is not None else getattr(forward, "__name__", "custom_op")
        return CustomOp(forward, derivative, base)

    return decorate


@dataclass(frozen=True, eq=False, repr=False)
class HandWrittenOp(Op):
    """An op whose ``backward(g, *xs, out)`` gives the inputs' shares directly, with no
    local partials (a custom ``Function``, a ``checkpoint`` segment).

    ``backward`` works on numbers. Forward mode takes the partials from it with a unit
    seed (or from ``tangent(tangents, xs, out)`` when given). Where the shares or partials
    would have to be differentiated again (a Value adjoint under ``create_graph``, inputs
    that are graph nodes or duals), each number becomes a node whose own derivative is
    ``local``, which raises: a first derivative works, only a second one is refused.
    """

    backward: Callable[..., Sequence[Any]] = field(kw_only=True)
    tangent: Callable[..., Any] | None = field(default=None, kw_only=True)

    def vjp(self, g: Any, xs: Sequence[Any], out: Any) -> list[Any]:
        if g is MASKED:  # only masked edges lead here: none leaves either
            return [MASKED] * len(xs)
        shares = list(_reentrant(self.backward, number(g), *map(number, xs), number(out)))
        if len(shares) != len(xs):
            raise ValueError(f"op {self.name!r} gave {len(shares)} partials for {len(xs)} inputs")
        return [self._first_order(s, (g, *xs)) for s in shares]

    def jvp(self, tangents: Sequence[Any], xs: Sequence[Any], out: Any) -> Any:
        if self.tangent is not None and not any(is_node(x) for x in xs):
            return self.tangent(tangents, xs, out)  # its primals are numbers: first order
        partials = self.vjp(1.0, xs, out)
        return tangent_sum(partials, tangents)

    def _first_order(self, number: Any, depends_on: Sequence[Any]) -> Any:
        """``number`` as it is, or as a node of ``depends_on`` that refuses differentiation."""
        if number is MASKED or not any(is_node(x) for x in depends_on):
            return number
        refuse = self.local  # any derivative of it raises, in either mode
        op = HandWrittenOp(f"{self.name} backward", lambda *_: number, refuse, backward=refuse)
        return evaluate(op, *depends_on)


_DEPTH = threading.local()  # .depth: how many hand-written backwards run, nested, in this thread
_THREAD_EVERY = 32  # nested backwards per thread: each level costs about 10 Python frames


def _reentrant(backward: Callable[..., Sequence[Any]], *args: Any) -> Sequence[Any]:
    """``backward(*args)``, which may itself run a reverse pass (a re-entrant backward).

    Every ``_THREAD_EVERY`` levels of such nesting the call runs in a fresh thread, with
    this thread's grad mode and anomaly detection, and this one waits for it: each thread
    starts with an empty Python stack, so nesting is bounded by memory, not by the recursion
    limit (PyTorch's engine does the same).
    """
    here = _DEPTH
    depth = getattr(here, "depth", 0)  # 0 in a thread that has run none
    if depth < _THREAD_EVERY:
        here.depth = depth + 1
        try:
            return backward(*args)
        finally:
            here.depth = depth
    mode, detection = is_grad_enabled(), anomaly.STATE.carried()
    result: list[Any] = []

    def run() -> None:
        try:
            with set_grad_enabled(mode), detection:
                result.append(_reentrant(backward, *args))
        except BaseException as err:  # raised again in the waiting thread
            result.append(err)

    thread = threading.Thread(target=run, name="chainrule-reentrant-backward")
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    shares: Sequence[Any] = result[0]
    return shares


def _bound(who: str, where: str, signature: inspect.Signature, args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:  # fmt: skip
    """``args`` and ``kwargs`` bound to ``signature``, defaults included: the positional values,
    then the keyword-only ones as a dict; those receive no gradient, so a varying one is refused."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as err:
        raise TypeError(f"{who}(): {err}") from None
    bound.apply_defaults()
    for key, value in bound.kwargs.items():
        if _varies(value):
            raise TypeError(
                f"{who}(): keyword-only argument {key}={value!r} receives no gradient; make it "
                f"a positional parameter of {where} to differentiate it"
            )
    return bound.args, {k: _plain(v) for k, v in bound.kwargs.items()}


def _varies(x: object) -> bool:
    """Whether an argument is differentiated: a Value that requires grad, or a Dual."""
    return isinstance(x, Dual) or (isinstance(x, Value) and x.requires_grad)


def _parameters(f: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(f).parameters)
    except (TypeError, ValueError):  # some builtins have no signature
        return {}


def _signature(f: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(f)
    except (TypeError, ValueError):  # some builtins have no signature
        return None


def _arity(signature: inspect.Signature | None) -> int | None:
    """How many positional parameters a function has, when it has no others."""
    if signature is None:
        return None
    params = signature.parameters.values()
    if any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        return None
    return len(params)


def _numeric(x: object) -> bool:
    """Whether an argument of a custom op is one of its inputs: a number, a Value, a Dual.
    Anything else (a flag, a string, a callable, None) is passed through, not differentiated."""
    return isinstance(x, (Value, Dual)) or is_real(x)


def _plain(x: Any) -> Any:
    """A keyword-only argument as forward gets it: a constant Value as its number."""
    return x.data if isinstance(x, (Value, Dual)) else x
