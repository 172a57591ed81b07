"""docs/howto/debugging.md shows what scripts/vanishing_gradients.py computes."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_vanishing_gradient_table_is_current_and_vanishes() -> None:
    import vanishing_gradients as module  # scripts/vanishing_gradients.py

    assert module.table() in (ROOT / "docs" / "howto" / "debugging.md").read_text()
    sigmoid = module.adjoints_through(activation="sigmoid")
    assert sigmoid[-1] == 1.0 and sigmoid[0] < 1e-10  # 20 sigmoid layers: the gradient vanishes
