"""Anomaly detection: find the operation that first produced NaN or inf.

Inside ``with detect_anomaly():`` every new node remembers the source line that created
it, and ``backward()`` checks each value and each adjoint it computes. The first
non-finite number raises :class:`AnomalyError` naming the operation and that line.
Recording a stack per node is slow: use it to debug, not to train.

Anomaly detection is per thread, like grad mode: ``detect_anomaly`` in one thread records
and checks only that thread's operations and backward passes.
"""

from __future__ import annotations

import math
import os
import threading
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from chainrule.engine import NODE_HOOKS, PASS_HOOKS, Value, Visit

__all__ = ["AnomalyError", "detect_anomaly"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class AnomalyError(ArithmeticError):
    """A NaN or inf appeared in the forward values or in the backward adjoints."""


class _ThisThread(threading.local):
    """Whether detection is on in the current thread, and the sites it recorded."""

    def __init__(self) -> None:
        self.on = False
        self.sites: dict[int, tuple[Value, str]] = {}


class _AnomalyState:
    """``active`` is True while detection is on in *some* thread: the one cheap test the engine
    makes per node before calling in here. ``here.on`` says whether it is on in *this* thread,
    and :meth:`record` and the checks do nothing in a thread where it is off. (A per-thread
    read costs about ten times a slot read, and the common case is detection off everywhere.)
    """

    __slots__ = ("_lock", "_threads", "active", "here")

    def __init__(self) -> None:
        self.active = False
        self.here = _ThisThread()
        self._threads = 0  # how many threads have detection on
        self._lock = threading.Lock()

    def switch(self, on: bool) -> None:
        """Turn detection on or off in the current thread (dropping its sites when off)."""
        here = self.here
        if here.on != on:
            here.on = on
            with self._lock:
                self._threads += 1 if on else -1
                self.active = self._threads > 0
                _watch(self.active)
        if not on:
            here.sites.clear()

    def carried(self) -> AbstractContextManager[None]:
        """This thread's detection, to turn on in another thread (a re-entrant backward's
        fresh one): on there with the same recorded sites while the block runs, or nothing."""
        here = self.here  # a thread-local: read its fields in this thread, now
        return self._joined(here.sites) if here.on else nullcontext()

    @contextmanager
    def _joined(self, sites: dict[int, tuple[Value, str]]) -> Iterator[None]:
        here = self.here
        own, here.sites = here.sites, sites  # shared: sites recorded there show here too
        self.switch(True)
        try:
            yield
        finally:
            here.sites = own  # before switching off, which clears this thread's sites
            self.switch(False)

    def record(self, node: Value, *_: object) -> None:
        """Remember where ``node`` was created: the first frame outside chainrule."""
        here = self.here
        if not here.on:
            return
        site = "<unknown>"
        for frame in reversed(traceback.extract_stack()):
            if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
                site = f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
                break
        # keeping the node alive keeps its id() unique while the record exists
        here.sites[id(node)] = (node, site)

    def site(self, node: Value) -> str:
        entry = self.here.sites.get(id(node))
        return entry[1] if entry is not None else "<created outside detect_anomaly>"


STATE = _AnomalyState()


def _watch(on: bool) -> None:
    """Have ``apply`` report every new node to :meth:`_AnomalyState.record`, and every reverse
    pass check its steps through :func:`checking` (or stop both)."""
    for hooks, hook in ((NODE_HOOKS, STATE.record), (PASS_HOOKS, checking)):
        if on and hook not in hooks:
            hooks.append(hook)  # type: ignore[arg-type]
        elif not on and hook in hooks:
            hooks.remove(hook)  # type: ignore[arg-type]


class _Saved(threading.local):
    """For one ``detect_anomaly`` object, in one thread: the states to restore, one per ``with``."""

    def __init__(self) -> None:
        self.stack: list[bool] = []


class detect_anomaly:
    """Context manager: record creation sites and check backward for NaN/inf in this thread.

    Nested and re-entered blocks restore the state they found; the recorded sites are
    dropped when the outermost block of the thread exits.
    """

    def __init__(self) -> None:
        self._saved = _Saved()

    def __enter__(self) -> detect_anomaly:
        self._saved.stack.append(STATE.here.on)
        STATE.switch(True)
        return self

    def __exit__(self, *exc: object) -> None:
        STATE.switch(self._saved.stack.pop())


def _describe(node: Value) -> str:
    if node.grad_fn is None:
        return f"the leaf {node.label or node._op or 'leaf'!r} (data={node.data!r}), an input"
    return f"op {node._op!r} (data={node.data!r}) created at {STATE.site(node)}"


def checking(order: list[Value], visit: Visit | None) -> Visit | None:
    """``visit`` plus this thread's checks, when detection is on: the forward values of the
    nodes in ``order`` at once, then the shares of each step of the reverse pass."""
    if not (STATE.active and STATE.here.on):
        return visit
    check_forward(order)

    def checked(node: Value, adjoint: Any, shares: Any, adjoints: dict[Value, Any]) -> None:
        check_shares(node, tuple(shares))
        if visit is not None:
            visit(node, adjoint, shares, adjoints)

    return checked


def check_forward(order: list[Value]) -> None:
    """Raise at the first node whose value is non-finite while its parents' are finite."""
    if not STATE.here.on:
        return
    for node in order:
        if not math.isfinite(node.data) and all(math.isfinite(p.data) for p in node._prev):
            raise AnomalyError(f"forward produced {node.data!r} in {_describe(node)}")


def check_shares(node: Value, shares: tuple[Any, ...]) -> None:
    """Raise if the backward closure of ``node`` returned a non-finite share."""
    if not STATE.here.on:
        return
    for parent, share in zip(node._prev, shares):
        value = float(getattr(share, "data", share))
        if not math.isfinite(value):
            raise AnomalyError(
                f"backward produced {value!r} for the input {parent.label or parent._op or 'leaf'}"
                f" of {_describe(node)}"
            )
