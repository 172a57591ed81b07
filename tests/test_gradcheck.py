"""gradcheck: passes correct derivatives, names the wrong ones."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import Value
from chainrule.engine import apply
from chainrule.ops import Op


def test_gradcheck_passes_and_catches_a_wrong_derivative() -> None:
    assert cr.gradcheck(lambda a, b: (a * b).tanh() + a.exp() / b, [0.3, 1.2])

    wrong = Op("wrong", lambda x: x * x, lambda x, out: (x,))  # d/dx x**2 is 2x, not x

    def wrong_square(x: Value) -> Value:
        return apply(wrong, x)

    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(wrong_square, [1.5])
    text = str(info.value)
    assert "MISMATCH" in text and "analytic" in text and "1.5" in text and "3" in text
