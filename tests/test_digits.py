"""examples/digits.py runs end to end on a small slice, batched and per example."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("numpy")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")
os.environ.setdefault("MPLBACKEND", "Agg")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits() -> Iterator[Any]:
    sys.path.insert(0, str(EXAMPLES))
    yield importlib.import_module("digits")
    sys.path.remove(str(EXAMPLES))


def _png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5_000, path


@pytest.mark.slow
def test_digits_trains_batched_on_a_slice(digits: Any, tmp_path: Path) -> None:
    result = digits.main(["--quick", "--no-progress", "--out", str(tmp_path)])
    _png(result["paths"]["training curve"])
    _png(result["paths"]["misclassified"])
    history = result["history"]
    assert result["epochs"] == 3 and len(history["loss"]) == 3
    assert history["loss"][-1] < history["loss"][0]
    assert result["test_accuracy"] > 0.5  # 3 epochs on 320 digits; the full run reaches 95%


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["compiled", "dynamic"])
def test_digits_projects_an_epoch_per_example(digits: Any, engine: str) -> None:
    result = digits.main(["--quick", "--no-progress", "--engine", engine])
    assert result["engine"] == engine and result["examples_timed"] == 20
    assert result["projected_epoch_seconds"] > 0 and result["batched_epoch_seconds"] > 0
