"""What a ``Value`` does besides backpropagation.

:mod:`chainrule.engine` keeps what a learner reads to see the chain rule: the node, ``apply``
and the reverse pass. ``Value`` inherits the rest from :class:`Conveniences`: Python's
comparisons and formatting (on the number, as on a 0-d PyTorch tensor), hooks, PyTorch's
in-place flags (``detach_``, ``requires_grad_``, ``retain_grad``) and the picture a notebook
shows. None of it builds a graph.
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chainrule.ops import is_real

if TYPE_CHECKING:
    from typing_extensions import Self

    from chainrule.ops import Op

__all__ = ["Conveniences", "HookHandle", "as_float", "run_hooks"]

Hook = Callable[[Any], Any]


def as_float(data: object, what: str = "Value()") -> float:
    """``data`` as a float, or a TypeError naming what was given."""
    if type(data) is float:
        return data
    if isinstance(data, Conveniences):
        raise TypeError(
            f"{what} needs a float, got a Value ({data!r}); after backward(create_graph=True) "
            "the grads are Values: take the number, e.g. x.data -= lr * x.grad.data"
        )
    if not is_real(data):
        raise TypeError(f"{what} needs a real number, got {type(data).__name__} {data!r}")
    return float(data)


def _set_data(node: Conveniences, data: object) -> None:
    node._data = data if type(data) is float else as_float(data, "Value.data")


def run_hooks(node: Conveniences, adjoint: Any) -> Any:
    """The adjoint after ``node``'s hooks: each may return a replacement (None keeps it)."""
    for hook in list(node._hooks or ()):
        replaced = hook(adjoint)
        if replaced is not None:
            adjoint = replaced
    return adjoint


def _comparison(compare: Callable[[float, float], bool]) -> Callable[[Any, object], Any]:
    """A comparison of the numbers inside two Values (or a Value and a real number)."""

    def method(self: Conveniences, other: object) -> Any:
        if isinstance(other, Conveniences):
            return compare(self._data, other._data)
        if isinstance(other, numbers.Real):
            return compare(self._data, float(other))
        return NotImplemented

    method.__name__ = f"__{compare.__name__}__"
    return method


class Conveniences:
    """Comparisons, formatting, hooks and in-place flags of :class:`~chainrule.Value`."""

    if TYPE_CHECKING:  # the node's fields, which Value defines as slots
        _data: float
        _hooks: list[Hook] | None
        _op: str
        _prev: tuple[Any, ...]
        grad: Any
        grad_fn: Op | None
        label: str
        requires_grad: bool
    else:
        __slots__ = ()  # no __dict__ on a Value

    # the number: read at C speed, checked on assignment (a float, never a Value or a string)
    if TYPE_CHECKING:

        @property
        def data(self) -> float: ...
        @data.setter
        def data(self, data: object) -> None: ...
    else:
        data = property(operator.attrgetter("_data"), _set_data, doc="The number, a float.")

    @property
    def is_leaf(self) -> bool:
        """True for inputs and constants: nodes no op made."""
        return self.grad_fn is None

    def detach(self) -> Self:
        """A new leaf with the same number, cut from the graph (requires_grad=False)."""
        return type(self)(self._data, label=self.label, requires_grad=False)  # type: ignore[call-arg]

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
        return self._data != 0.0

    def __float__(self) -> float:
        """Refused: ``math.cos(x)`` would quietly become a number cut from the graph."""
        raise TypeError(
            f"float() of a Value would cut it from the graph: use x.data (or x.item()) for the "
            f"number, and x.cos() / chainrule.cos(x) rather than math.cos(x) to keep the "
            f"gradient (got {self!r})"
        )

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats the number; a bare ``f"{loss}"`` is the repr."""
        return format(self._data, spec) if spec else repr(self)

    def item(self) -> float:
        """The number, as a plain float."""
        return self._data

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
        try:
            from chainrule.viz import repr_mimebundle
        except ImportError:
            return {"text/plain": repr(self)}
        result: dict[str, str] = repr_mimebundle(self, include, exclude)
        return result


class HookHandle:
    """Returned by :meth:`Value.register_hook`; ``remove()`` unregisters the hook."""

    __slots__ = ("_hook", "_node")

    def __init__(self, node: Conveniences, hook: Hook) -> None:
        self._node, self._hook = node, hook

    def remove(self) -> None:
        hooks = self._node._hooks
        if hooks is not None and self._hook in hooks:
            hooks.remove(self._hook)
