"""detect_anomaly: nesting restores the state, and one state per thread (forced with events)."""

from __future__ import annotations

import math
import threading

import pytest
from threads import run_in_thread

import chainrule as cr
from chainrule import Value, anomaly


def _sqrt_at_zero() -> tuple[Value, Value]:
    """A graph whose backward meets an inf slope: d sqrt(x)/dx at x = 0."""
    x = Value(0.0)
    return x, x.sqrt() * 2


def test_nested_and_reentered_blocks_restore_the_state() -> None:
    outer = cr.detect_anomaly()
    with outer:
        with outer:  # the same object again, while open
            assert anomaly.STATE.here.on
        assert anomaly.STATE.here.on  # the inner exit restored "on", not "off"
        x, y = _sqrt_at_zero()
        assert anomaly.STATE.here.sites  # creation sites kept until the outermost exit
        with pytest.raises(cr.AnomalyError, match=r"op 'sqrt'.*test_anomaly.py:\d+"):
            y.backward()
    assert not anomaly.STATE.here.on and not anomaly.STATE.here.sites
    assert not anomaly.STATE.active  # no thread detects any more
    x, y = _sqrt_at_zero()
    y.backward()  # no check outside: IEEE's inf goes through
    assert x.grad == math.inf


def test_an_exception_inside_restores_the_state() -> None:
    with pytest.raises(KeyError), cr.detect_anomaly():
        raise KeyError("boom")
    assert not anomaly.STATE.here.on and not anomaly.STATE.here.sites
    assert not anomaly.STATE.active


def test_another_threads_detect_anomaly_does_not_reach_this_one() -> None:
    inside, done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with cr.detect_anomaly():
            seen.append(anomaly.STATE.here.on)
            inside.set()
            assert done.wait(timeout=30)
            seen.append(anomaly.STATE.here.on)

    thread, errors = run_in_thread(other)
    assert inside.wait(timeout=30)
    # the other thread is inside detect_anomaly now; this one builds and differentiates freely
    assert anomaly.STATE.active and not anomaly.STATE.here.on  # on in some thread, not here
    x, y = _sqrt_at_zero()
    y.backward()
    assert x.grad == math.inf
    nan = Value(math.nan)
    z = (nan * 2).tanh()
    z.backward()
    assert math.isnan(nan.grad)
    assert not anomaly.STATE.here.sites  # and none of these nodes was recorded here
    done.set()
    thread.join()
    assert not errors and seen == [True, True]
    assert not anomaly.STATE.active


def test_this_threads_detect_anomaly_still_raises_while_another_thread_is_outside() -> None:
    inside, done = threading.Event(), threading.Event()
    results: list[float] = []

    def other() -> None:
        assert inside.wait(timeout=30)
        x, y = _sqrt_at_zero()  # built and differentiated while the main thread detects
        y.backward()
        results.append(x.grad)
        done.set()

    thread, errors = run_in_thread(other)
    with cr.detect_anomaly():
        inside.set()
        assert done.wait(timeout=30)
        _, y = _sqrt_at_zero()
        with pytest.raises(cr.AnomalyError, match="op 'sqrt'"):
            y.backward()
    thread.join()
    assert not errors and results == [math.inf]


def test_detect_anomaly_names_the_op_and_line() -> None:
    with cr.detect_anomaly():
        x = Value(0.0)
        y = x.sqrt() * 2  # the slope of sqrt at 0 is inf
        with pytest.raises(cr.AnomalyError, match=r"op 'sqrt'.*test_anomaly.py:\d+"):
            y.backward()
        nan = Value(float("nan"))
        z = (nan * 2).tanh()
        with pytest.raises(cr.AnomalyError, match="forward produced nan"):
            z.backward()
