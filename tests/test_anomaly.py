"""Anomaly detection: the op and the line that first produced NaN or inf."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import Value


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
