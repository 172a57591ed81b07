"""Grad mode: decorators restore per call, generators, re-entrancy, and one mode per thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator

import pytest
from threads import run_in_thread

import chainrule as cr
from chainrule import Value
from chainrule.grad_mode import _GradSwitch

SWITCHES: list[tuple[str, Callable[[], _GradSwitch], bool]] = [
    ("no_grad", cr.no_grad, False),
    ("enable_grad", cr.enable_grad, True),
    ("set_grad_enabled(False)", lambda: cr.set_grad_enabled(False), False),
    ("set_grad_enabled(True)", lambda: cr.set_grad_enabled(True), True),
]
ids = [name for name, _, _ in SWITCHES]


def builds_graph() -> bool:
    """Whether an operation in the calling thread records a node right now."""
    return (Value(2.0) * Value(3.0))._prev != ()


@pytest.fixture(autouse=True)
def grad_mode_on_after_each_test() -> Generator[None, None, None]:
    yield
    assert cr.is_grad_enabled(), "a test left grad mode off"
    cr.set_grad_enabled(True)


@pytest.mark.parametrize("outer", [True, False])
@pytest.mark.parametrize(("name", "make", "mode"), SWITCHES, ids=ids)
def test_decorating_changes_nothing_until_the_call(
    name: str, make: Callable[[], _GradSwitch], mode: bool, outer: bool
) -> None:
    with cr.set_grad_enabled(outer):

        @make()
        def f() -> tuple[bool, bool]:
            return cr.is_grad_enabled(), builds_graph()

        assert cr.is_grad_enabled() is outer  # the def did not flip the mode
        assert f() == (mode, mode)
        assert cr.is_grad_enabled() is outer  # and the call put it back
        assert f.__name__ == "f"


@pytest.mark.parametrize("outer", [True, False])
@pytest.mark.parametrize(("name", "make", "mode"), SWITCHES, ids=ids)
def test_recursive_decorated_function_restores_the_callers_mode(
    name: str, make: Callable[[], _GradSwitch], mode: bool, outer: bool
) -> None:
    seen: list[bool] = []

    @make()
    def countdown(n: int) -> int:
        seen.append(cr.is_grad_enabled())
        if n == 0:
            return 0
        with cr.set_grad_enabled(not mode):  # the inner call must switch back to ``mode``
            return 1 + countdown(n - 1)

    with cr.set_grad_enabled(outer):
        assert countdown(5) == 5
        assert cr.is_grad_enabled() is outer
    assert seen == [mode] * 6


@pytest.mark.parametrize(("name", "make", "mode"), SWITCHES, ids=ids)
def test_an_exception_restores_the_mode(
    name: str, make: Callable[[], _GradSwitch], mode: bool
) -> None:
    @make()
    def fail() -> None:
        raise KeyError("boom")

    for outer in (True, False):
        with cr.set_grad_enabled(outer):
            with pytest.raises(KeyError):
                fail()
            assert cr.is_grad_enabled() is outer
            with pytest.raises(KeyError), make():
                raise KeyError("boom")
            assert cr.is_grad_enabled() is outer


@pytest.mark.parametrize(("name", "make", "mode"), SWITCHES, ids=ids)
def test_one_object_entered_again_while_open(
    name: str, make: Callable[[], _GradSwitch], mode: bool
) -> None:
    for outer in (True, False):
        with cr.set_grad_enabled(outer):
            ctx = make()
            with ctx:
                assert cr.is_grad_enabled() is mode
                with cr.set_grad_enabled(not mode), ctx:
                    assert cr.is_grad_enabled() is mode
                assert cr.is_grad_enabled() is mode
            assert cr.is_grad_enabled() is outer
            with ctx:  # and reused after it closed
                assert cr.is_grad_enabled() is mode
            assert cr.is_grad_enabled() is outer


@pytest.mark.parametrize("outer", [True, False])
@pytest.mark.parametrize(("name", "make", "mode"), SWITCHES, ids=ids)
def test_on_a_generator_each_resumption_runs_under_the_mode(
    name: str, make: Callable[[], _GradSwitch], mode: bool, outer: bool
) -> None:
    @make()
    def gen(n: int) -> Generator[bool, str, str]:
        for _ in range(n):
            reply = yield builds_graph()
            assert reply == "go" and cr.is_grad_enabled() is mode
        return "done"

    with cr.set_grad_enabled(outer):
        g = gen(3)
        assert cr.is_grad_enabled() is outer  # creating the generator runs none of its body
        assert next(g) is mode
        assert cr.is_grad_enabled() is outer  # the caller's mode is back between yields
        assert g.send("go") is mode
        assert cr.is_grad_enabled() is outer
        assert [*_drive(g)] == [mode]
        assert cr.is_grad_enabled() is outer


def _drive(g: Generator[bool, str, str]) -> Generator[bool, None, None]:
    try:
        while True:
            yield g.send("go")
    except StopIteration as stop:
        assert stop.value == "done"


@pytest.mark.parametrize(("name", "make", "mode"), SWITCHES, ids=ids)
def test_generator_throw_and_close_run_under_the_mode(
    name: str, make: Callable[[], _GradSwitch], mode: bool
) -> None:
    log: list[tuple[str, bool]] = []

    @make()
    def gen() -> Generator[int, None, None]:
        try:
            while True:
                try:
                    yield 1
                except ValueError:
                    log.append(("caught", cr.is_grad_enabled()))
        finally:
            log.append(("closed", cr.is_grad_enabled()))

    for outer in (True, False):
        log.clear()
        with cr.set_grad_enabled(outer):
            g = gen()
            next(g)
            assert g.throw(ValueError("handled")) == 1
            assert cr.is_grad_enabled() is outer
            g.close()
            assert cr.is_grad_enabled() is outer
        assert log == [("caught", mode), ("closed", mode)]


def test_an_unhandled_throw_propagates_and_restores() -> None:
    @cr.no_grad()
    def gen() -> Generator[int, None, None]:
        yield 1

    g = gen()
    next(g)
    with pytest.raises(KeyError):
        g.throw(KeyError("out"))
    assert cr.is_grad_enabled()


def test_set_grad_enabled_called_alone_switches_at_once() -> None:
    cr.set_grad_enabled(False)
    assert not cr.is_grad_enabled() and not builds_graph()
    cr.set_grad_enabled(True)
    assert cr.is_grad_enabled() and builds_graph()


def test_set_grad_enabled_needs_a_bool() -> None:
    with pytest.raises(TypeError, match="set_grad_enabled\\(\\) needs True or False, got str"):
        cr.set_grad_enabled("no")  # type: ignore[arg-type]
    assert cr.is_grad_enabled()


# --- one grad mode per thread, forced with events (no sleeps) ---


@pytest.mark.parametrize(("name", "make", "mode"), SWITCHES, ids=ids)
def test_another_threads_mode_does_not_reach_this_one(
    name: str, make: Callable[[], _GradSwitch], mode: bool
) -> None:
    inside, done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with make():
            seen.append(cr.is_grad_enabled())
            inside.set()
            assert done.wait(timeout=30)

    with cr.set_grad_enabled(not mode):
        thread, errors = run_in_thread(other)
        assert inside.wait(timeout=30)
        # the other thread is inside its block now: this thread keeps its own mode
        x = Value(3.0)
        y = x * x
        assert cr.is_grad_enabled() is (not mode)
        assert (y._prev != ()) is (not mode)
        if not mode:
            y.backward()
            assert x.grad == 6.0
        done.set()
        thread.join()
    assert not errors and seen == [mode]


def test_a_new_thread_starts_with_grad_mode_on() -> None:
    seen: list[bool] = []
    with cr.no_grad():
        thread, errors = run_in_thread(lambda: seen.append(builds_graph()))
        thread.join()
    assert not errors and seen == [True]


def test_a_shared_decorated_function_keeps_each_threads_mode() -> None:
    entered, release = threading.Event(), threading.Event()
    seen: list[tuple[str, bool]] = []

    @cr.no_grad()
    def work(who: str, pause: bool) -> None:
        if pause:
            entered.set()
            assert release.wait(timeout=30)
        seen.append((who, cr.is_grad_enabled()))

    def other() -> None:
        work("other", pause=True)
        seen.append(("other after", cr.is_grad_enabled()))

    thread, errors = run_in_thread(other)
    assert entered.wait(timeout=30)
    work("main", pause=False)  # while the other thread is inside the same decorated call
    assert cr.is_grad_enabled()
    release.set()
    thread.join()
    assert not errors
    assert sorted(seen) == [("main", False), ("other", False), ("other after", True)]


@pytest.mark.parametrize("switch", [cr.no_grad, cr.enable_grad])
def test_decorating_without_parentheses_says_how(switch: type[_GradSwitch]) -> None:
    def f() -> None:
        pass

    with pytest.raises(TypeError, match=rf"write @{switch.__name__}\(\) with the parentheses"):
        switch(f)


def test_no_grad_builds_no_graph() -> None:
    x = Value(2.0)
    with cr.no_grad():
        y = x * 3 + 1
        with cr.enable_grad():
            z = x * 3
    assert y._prev == () and y.grad_fn is None and not y.requires_grad
    assert z._prev != ()
    with pytest.raises(RuntimeError, match="requires grad"):
        y.backward()
    assert cr.is_grad_enabled()

    @cr.no_grad()
    def f(v: Value) -> Value:
        return v * v

    assert f(x)._prev == ()


def test_the_count_of_threads_with_grad_off_follows_every_switch() -> None:
    from chainrule.grad_mode import OFF

    assert OFF.count == 0
    with cr.no_grad():
        assert OFF.count == 1
        with cr.no_grad():
            assert OFF.count == 1  # one thread, off once
        with cr.enable_grad():
            assert OFF.count == 0
            assert (Value(1.0) * Value(2.0))._prev != ()
        assert (Value(1.0) * Value(2.0))._prev == ()
    assert OFF.count == 0
    cr.set_grad_enabled(False)
    assert OFF.count == 1 and (Value(1.0) * Value(2.0))._prev == ()
    cr.set_grad_enabled(True)
    assert OFF.count == 0
