"""``ValueBase``, the base class of ``Value``: everything a Value does that builds no graph.

:mod:`chainrule.engine` keeps what a learner reads to see the chain rule: the node, ``apply``
and the reverse pass. ``Value`` inherits the rest from :class:`ValueBase`: Python's
comparisons and formatting (on the number, as on a 0-d PyTorch tensor), hooks, PyTorch's
in-place flags (``detach_``, ``requires_grad_``, ``retain_grad``) and the picture a notebook
shows. None of it builds a graph.

Every way code outside the engine turns a Value into a Python value (``.data``, ``.item()``,
``< <= > >= == !=``, ``bool``, formats, ``detach``, and ``float``/``int``/``round``/``math.*``,
which refuse) passes through one function, :func:`read`, which tells the hooks of
:data:`READ_HOOKS`: ``compile`` turns what it sees there into guards.
"""

from __future__ import annotations

import ast
import linecache
import numbers
import operator
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chainrule.methods import Operators
from chainrule.ops import is_real

if TYPE_CHECKING:
    from typing_extensions import Self

    from chainrule.ops import Op

__all__ = ["PICTURE", "READ_HOOKS", "HookHandle", "ValueBase", "as_float", "read", "run_hooks"]

Hook = Callable[[Any], Any]

PICTURE: list[Callable[[Any, Any, Any], dict[str, str]]] = []
"""How a notebook shows a Value: :mod:`chainrule.viz` puts its drawing here when it is
imported (``import chainrule`` imports it), so this module needs no import of it."""

READ_HOOKS: list[Callable[[Any, str, object, object], None]] = []
"""Called as ``hook(node, how, other, result)`` with every read of a Value's number by code
outside the engine: ``how`` is the kind of read (``"data"``, ``"item"``, ``"bool"``,
``"format"``, ``"repr"``, ``"detach"``, the comparisons ``"lt"``, ``"le"``, ``"gt"``,
``"ge"``, ``"eq"``, ``"ne"``, and the refused ``"float"``, ``"int"``, ``"round"``, ...),
``other`` the other operand of a comparison (a Value, a number, or None) and ``result`` what
the caller receives (the refusals: the TypeError raised). ``compile`` records guards here."""


def read(node: ValueBase, how: str = "data", other: object = None, result: Any = ...) -> Any:
    """The one door from a Value to a Python value: ``result`` (by default, ``...``, the
    number itself: this function is also the getter of ``.data``), after the read hooks saw it.

    The engine's own reads (``apply``, the reverse pass) use ``_data`` and never pass here.
    """
    if result is ...:
        result = node._data
    for hook in READ_HOOKS:
        hook(node, how, other, result)
    return result


def as_float(data: object, what: str = "Value()") -> float:
    """``data`` as a float, or a TypeError naming what was given."""
    if type(data) is float:
        return data
    if isinstance(data, ValueBase):
        raise TypeError(
            f"{what} needs a float, got a Value ({data!r}); after backward(create_graph=True) "
            "the grads are Values: take the number, e.g. x.data -= lr * x.grad.data"
        )
    if not is_real(data):
        raise TypeError(f"{what} needs a real number, got {type(data).__name__} {data!r}")
    try:
        return float(data)
    except OverflowError:  # an int beyond the float range: 2**1024 and up
        raise OverflowError(
            f"{what} needs a number that fits a float (below 2**1024, about 1.8e308), got "
            f"{type(data).__name__} of {int(data).bit_length()} bits"  # type: ignore[call-overload]
        ) from None


def _set_data(node: ValueBase, data: object) -> None:
    node._data = data if type(data) is float else as_float(data, "Value.data")


def _set_grad(node: ValueBase, grad: object) -> None:
    if type(grad) is not float and not isinstance(grad, ValueBase):
        if not is_real(grad):
            raise TypeError(
                f"Value.grad needs a float (or a Value, after backward(create_graph=True)), "
                f"got {type(grad).__name__} {grad!r}"
            )
        grad = float(grad)
    node._grad = grad


def run_hooks(node: ValueBase, adjoint: Any) -> Any:
    """The adjoint after ``node``'s hooks: each may return a replacement (None keeps it)."""
    for hook in list(node._hooks or ()):
        replaced = hook(adjoint)
        if replaced is not None:
            adjoint = replaced
    return adjoint


def _comparison(compare: Callable[[float, float], bool]) -> Callable[[Any, object], Any]:
    """A comparison of the numbers inside two Values (or a Value and a real number)."""

    how = compare.__name__  # "lt", "eq", ...

    def method(self: ValueBase, other: object) -> Any:
        if isinstance(other, ValueBase):
            return read(self, how, other, compare(self._data, other._data))
        if isinstance(other, numbers.Real):
            return read(self, how, other, compare(self._data, float(other)))
        return NotImplemented

    method.__name__ = f"__{how}__"
    return method


def _called(frame: Any) -> str:
    """The name of the function a frame is calling (``math.exp``), or "" when unclear: the
    source span of the frame's current instruction, parsed."""
    if not hasattr(frame.f_code, "co_positions"):  # Python 3.10 keeps lines, not spans
        return _one_call_of_math(linecache.getline(frame.f_code.co_filename, frame.f_lineno))
    try:
        positions = list(frame.f_code.co_positions())[frame.f_lasti // 2]
        first, last, start, end = positions
        lines = [linecache.getline(frame.f_code.co_filename, n) for n in range(first, last + 1)]
        text = "".join(lines).encode()
        end += len(text) - len(lines[-1].encode())  # the end column counts in the last line
        call = ast.parse(text[start:end].decode(), mode="eval").body
    except (IndexError, TypeError, ValueError, SyntaxError):
        return ""
    return ast.unparse(call.func) if isinstance(call, ast.Call) else ""


def _one_call_of_math(line: str) -> str:
    """The one ``math.*`` function a source line calls (``math.exp``), or "" (none, or several)."""
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        return ""
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    called = [name for name in calls if name.startswith("math.")]
    return called[0] if len(called) == 1 else ""


def _refusal(node: ValueBase, how: str, fix: str, called: str = "") -> TypeError:
    """The TypeError for a conversion that would cut ``node`` from the graph, past the door."""
    error = TypeError(
        f"{called or how}() of a Value would cut it from the graph: {fix} (got {node!r})"
    )
    return read(node, how, None, error)  # type: ignore[no-any-return]


class ValueBase:
    """Comparisons, formatting, hooks and in-place flags of :class:`~chainrule.Value`."""

    if TYPE_CHECKING:  # the node's fields, which Value defines as slots
        _data: float
        _grad: Any
        _hooks: list[Hook] | None
        _op: str
        _prev: tuple[Any, ...]
        grad_fn: Op | None
        label: str
        requires_grad: bool
    else:
        __slots__ = ()  # no __dict__ on a Value

    # the number, read through the door and checked on assignment (a float, never a Value or
    # a string); the adjoint, read at C speed and checked on assignment (a float, or a Value
    # after backward(create_graph=True)): the engine writes both slots directly
    if TYPE_CHECKING:

        @property
        def data(self) -> float: ...
        @data.setter
        def data(self, data: object) -> None: ...
        @property
        def grad(self) -> Any: ...
        @grad.setter
        def grad(self, grad: object) -> None: ...
    else:
        data = property(read, _set_data, doc="The number, a float.")
        grad = property(operator.attrgetter("_grad"), _set_grad, doc="The adjoint d root / d node.")

    @property
    def is_leaf(self) -> bool:
        """True for inputs and constants: nodes no op made."""
        return self.grad_fn is None

    def detach(self) -> Self:
        """A new leaf with the same number, cut from the graph (requires_grad=False)."""
        copy = type(self)(self._data, label=self.label, requires_grad=False)  # type: ignore[call-arg]
        return read(self, "detach", None, copy)  # type: ignore[no-any-return]

    # Comparisons, truth and format specs use the number, as on a 0-d PyTorch tensor, and
    # build no graph. Hashing stays by identity: Values are dict keys and set members.
    __hash__ = object.__hash__
    __eq__ = _comparison(operator.eq)
    __ne__ = _comparison(operator.ne)
    __lt__ = _comparison(operator.lt)
    __le__ = _comparison(operator.le)
    __gt__ = _comparison(operator.gt)
    __ge__ = _comparison(operator.ge)

    def __bool__(self) -> bool:
        return read(self, "bool", None, self._data != 0.0)  # type: ignore[no-any-return]

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats the number; a bare ``f"{loss}"`` is the repr."""
        if not spec:
            return repr(self)
        return read(self, "format", None, format(self._data, spec))  # type: ignore[no-any-return]

    def item(self) -> float:
        """The number, as a plain float."""
        return read(self, "item", None, self._data)  # type: ignore[no-any-return]

    # Conversions that would hand out a number cut from the graph are refused, each naming
    # its fix: math.exp(x) and float(x) reach __float__, so it reads the caller's call
    def __float__(self) -> float:
        called = _called(sys._getframe(1)) or "float"
        method = called.rpartition(".")[2]
        keep = f"x.{method}() to keep the gradient, or " if hasattr(Operators, method) else ""
        number = "x.data (or x.item())" if called == "float" else f"{called}(x.data)"
        raise _refusal(self, "float", f"use {keep}{number} for the number", called)

    def __int__(self) -> int:
        raise _refusal(self, "int", "use int(x.data) for the number")

    def __round__(self, ndigits: int | None = None) -> float:
        digits = "" if ndigits is None else f", {ndigits!r}"
        raise _refusal(self, "round", f"round the number instead: round(x.data{digits})")

    def __trunc__(self) -> int:
        raise _refusal(self, "trunc", "use math.trunc(x.data) for the number", "math.trunc")

    def __floor__(self) -> int:
        raise _refusal(self, "floor", "use math.floor(x.data) for the number", "math.floor")

    def __ceil__(self) -> int:
        raise _refusal(self, "ceil", "use math.ceil(x.data) for the number", "math.ceil")

    def detach_(self) -> Self:
        """Cut this node from the graph in place: it becomes a leaf that requires no grad.

        Nodes already built from it stop here too (the graph links the nodes themselves).
        """
        self._prev, self.grad_fn, self._op, self.requires_grad = (), None, "", False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Self:
        """Set ``requires_grad`` on a leaf in place (PyTorch); returns the node."""
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad_ needs a bool, got {requires_grad!r}")
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_(False) works on leaves only; for an interior node use "
                "detach() (a new leaf) or detach_() (in place)"
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Accepted for PyTorch: every interior node keeps its adjoint already.

        Unlike PyTorch, an interior ``.grad`` shows the latest backward call's adjoint
        (it does not accumulate across calls); see ``backward``.
        """
        if not self.requires_grad:
            raise RuntimeError("retain_grad() needs a Value that requires grad")

    @property
    def retains_grad(self) -> bool:
        """True for interior nodes, whose ``.grad`` every backward call sets."""
        return self.grad_fn is not None

    def register_hook(self, hook: Hook) -> HookHandle:
        """Call ``hook(adjoint)`` when backward reaches this node; a non-None result replaces it.

        On a leaf the hook sees the adjoint contributed by this backward call.
        """
        if not callable(hook):
            raise TypeError(f"register_hook needs a callable, got {type(hook).__name__}")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return HookHandle(self, hook)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """In a notebook, show the graph as SVG (text when graphviz is missing)."""
        for draw in PICTURE:
            return draw(self, include, exclude)
        return {"text/plain": repr(self)}


class HookHandle:
    """Returned by :meth:`Value.register_hook`; ``remove()`` unregisters the hook."""

    __slots__ = ("_hook", "_node")

    def __init__(self, node: ValueBase, hook: Hook) -> None:
        self._node, self._hook = node, hook

    def remove(self) -> None:
        hooks = self._node._hooks
        if hooks is not None and self._hook in hooks:
            hooks.remove(self._hook)
