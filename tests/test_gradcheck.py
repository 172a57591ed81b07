"""gradcheck: passes correct derivatives, names the wrong ones, with one relative error."""

from __future__ import annotations

import math
import re

import pytest

import chainrule as cr
from chainrule import GradcheckError, Value, gradcheck
from chainrule.engine import apply
from chainrule.gradcheck import relative_error
from chainrule.ops import Op


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
    too_steep = Op("cube", lambda x: x * x * x, lambda x, out: (9.0 * x * x,))  # should be 3 x^2

    def cube_three_times_too_steep(x: Value) -> Value:
        return apply(too_steep, x)

    with pytest.raises(GradcheckError) as info:
        gradcheck(cube_three_times_too_steep, [1.5])
    row = str(info.value).splitlines()[-1].split()
    analytic, numeric, rel = float(row[2]), float(row[3]), float(row[5])
    assert analytic == 20.25 and numeric == pytest.approx(6.75)
    # |a - n| / |n| = 13.5 / 6.75 = 2; dividing by max(|a|, |n|) would give 0.667
    assert rel == pytest.approx(2.0, rel=1e-3) == relative_error(analytic, numeric)
    assert re.search(r"MISMATCH$", str(info.value))


def test_gradcheck_passes_and_catches_a_wrong_derivative() -> None:
    assert cr.gradcheck(lambda a, b: (a * b).tanh() + a.exp() / b, [0.3, 1.2])

    wrong = Op("wrong", lambda x: x * x, lambda x, out: (x,))  # d/dx x**2 is 2x, not x

    def wrong_square(x: Value) -> Value:
        return apply(wrong, x)

    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(wrong_square, [1.5])
    text = str(info.value)
    assert "MISMATCH" in text and "analytic" in text and "1.5" in text and "3" in text
