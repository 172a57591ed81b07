"""One definition of the relative error: the function, the failure table and the docs agree."""

from __future__ import annotations

import math
import re

import pytest

from chainrule import GradcheckError, Value, gradcheck
from chainrule.gradcheck import relative_error


@pytest.mark.parametrize(
    ("analytic", "numeric", "expected"),
    [
        (2.25, 6.75, 4.5 / 6.75),  # relative to the numeric reference, not to max(|a|, |n|)
        (-1.3, 0.4, 1.7 / 0.4),
        (3.0, 3.0, 0.0),
        (0.0, 0.0, 0.0),
        (1e-3, 0.0, math.inf),
    ],
)
def test_relative_error_is_the_error_over_the_numeric_partial(
    analytic: float, numeric: float, expected: float
) -> None:
    assert relative_error(analytic, numeric) == pytest.approx(expected, rel=1e-12)


def test_the_failure_table_prints_relative_error() -> None:
    def cube_three_times_too_steep(x: Value) -> Value:
        y = x * x * x
        y._backward = lambda g, out: (g * 9.0 * x.data * x.data,)  # should be 3 x^2
        y._prev = (x,)
        return y

    with pytest.raises(GradcheckError) as info:
        gradcheck(cube_three_times_too_steep, [1.5])
    row = str(info.value).splitlines()[-1].split()
    analytic, numeric, rel = float(row[2]), float(row[3]), float(row[5])
    assert analytic == 20.25 and numeric == pytest.approx(6.75)
    # |a - n| / |n| = 13.5 / 6.75 = 2; dividing by max(|a|, |n|) would give 0.667
    assert rel == pytest.approx(2.0, rel=1e-3) == relative_error(analytic, numeric)
    assert re.search(r"MISMATCH$", str(info.value))
