"""Switching graph building on and off: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

While grad mode is off, operations compute values only: results have no parents and no
backward closure, so they cost no memory for the graph (PyTorch's semantics and names).

The rules, as in PyTorch:

- Grad mode is per thread: ``no_grad`` in one thread never changes what another
  thread's operations record. A new thread starts with grad mode on.
- Each is a context manager and a decorator. As a decorator, every call enters the mode
  and restores, on return or on an exception, the mode the caller had: a recursive or a
  re-entrant decorated function leaves the caller's mode as it found it.
- On a generator function the mode applies inside the generator: each resumption
  (``next``, ``send``, ``throw``, ``close``) runs under the mode, and the caller's own mode
  is back between yields.
- ``set_grad_enabled(mode)`` also works as a plain call, which sets the mode at once
  (``set_grad_enabled(False)`` on its own line). As a decorator it does not change the mode
  at the ``def``: only calls of the decorated function run under it.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

__all__ = ["enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode(threading.local):
    """The one switch every operation reads, one per thread (on in every new thread)."""

    def __init__(self) -> None:  # runs once in each thread that reads the switch
        # set on the instance, not as a class default: a read then finds it at once
        self.enabled = True


MODE = _GradMode()


class _ThreadsOff:
    """How many threads have grad mode off: while none has, an operation reads only this slot."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


OFF = _ThreadsOff()
_OFF_LOCK = threading.Lock()


def _set_mode(mode: bool) -> None:
    """Switch this thread's grad mode, keeping ``OFF.count`` in step (raised before going off,
    lowered after coming back on, so a thread that reads 0 is never one that is off)."""
    if MODE.enabled == mode:
        return
    if not mode:
        with _OFF_LOCK:
            OFF.count += 1
        MODE.enabled = False
    else:
        MODE.enabled = True
        with _OFF_LOCK:
            OFF.count -= 1


def is_grad_enabled() -> bool:
    """True when operations in this thread record the graph (the default)."""
    return MODE.enabled


class _Saved(threading.local):
    """For one context object, in one thread: the modes to restore, one per open ``with``."""

    def __init__(self) -> None:
        self.stack: list[bool] = []
        self.pending: bool | None = None  # the mode before ``set_grad_enabled(m)`` was called


class _GradSwitch:
    """Set grad mode to ``self.mode`` on enter and put the caller's mode back on exit.

    The mode to restore is pushed per enter on a per-thread stack, so one object may be
    entered again while it is open (recursion) and from several threads at once.
    """

    mode: bool = True

    def __init__(self, *misuse: object) -> None:
        if misuse:
            name = type(self).__name__
            raise TypeError(
                f"{name}() takes no arguments, got {len(misuse)}; as a decorator, write "
                f"@{name}() with the parentheses"
            )
        self._saved = _Saved()

    def __enter__(self) -> None:
        self._saved.stack.append(MODE.enabled)
        _set_mode(self.mode)

    def __exit__(self, *exc: object) -> None:
        _set_mode(self._saved.stack.pop())

    def __call__(self, func: F) -> F:
        """Decorate ``func``: each call (or each generator resumption) runs under the mode."""
        if inspect.isgeneratorfunction(func):
            return self._wrap_generator(func)  # type: ignore[return-value]

        @functools.wraps(func)
        def call_under_mode(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return call_under_mode  # type: ignore[return-value]

    def _wrap_generator(
        self, func: Callable[..., Generator[Any, Any, Any]]
    ) -> Callable[..., Generator[Any, Any, Any]]:
        """A generator that forwards to ``func``'s, resuming it under the mode each time."""

        @functools.wraps(func)
        def generate_under_mode(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            gen = func(*args, **kwargs)
            try:
                with self:
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self:
                            gen.close()
                        raise
                    except BaseException as error:
                        with self:
                            response = gen.throw(error)
                    else:
                        with self:
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value

        return generate_under_mode


class no_grad(_GradSwitch):
    """Build no graph inside: ``with no_grad(): y = f(x)`` or ``@no_grad()``."""

    mode = False


class enable_grad(_GradSwitch):
    """Build the graph again inside a ``no_grad`` block: ``with enable_grad():``."""

    mode = True


class set_grad_enabled(_GradSwitch):
    """Grad mode on (``True``) or off (``False``): ``with set_grad_enabled(training):``.

    Called on its own, ``set_grad_enabled(False)`` switches the mode at once (PyTorch's
    function form). Used as ``with`` or as a decorator, it restores the caller's mode after.
    """

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(
                f"set_grad_enabled() needs True or False, got {type(mode).__name__} {mode!r}"
            )
        _GradSwitch.__init__(self)
        self.mode = mode
        self._saved.pending = MODE.enabled
        _set_mode(mode)

    def __enter__(self) -> None:
        pending, self._saved.pending = self._saved.pending, None
        self._saved.stack.append(MODE.enabled if pending is None else pending)
        _set_mode(self.mode)

    def __call__(self, func: F) -> F:
        # undo the switch made when the decorator expression was evaluated at the ``def``
        if self._saved.pending is not None:
            pending, self._saved.pending = self._saved.pending, None
            _set_mode(pending)
        return super().__call__(func)
