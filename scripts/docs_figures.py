"""Draw every figure of the documentation from the current code.

    python scripts/docs_figures.py OUT_DIR     # writes OUT_DIR/<name>.svg

The docs build calls :func:`generate` (through ``scripts/mkdocs_hooks.py``), so the site always
shows what this version of chainrule computes; nothing in the docs is a pasted picture. Output is
deterministic (fixed seeds, no timestamps in the SVGs).
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chainrule import Value

FIGURES: dict[str, Callable[[Path], None]] = {}


def figure(name: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    """Register a function that writes the figure ``<name>.svg`` to the path it is given."""

    def register(draw: Callable[[Path], None]) -> Callable[[Path], None]:
        FIGURES[name] = draw
        return draw

    return register


def _dot_to_svg(source: str, path: Path) -> None:
    result = subprocess.run(
        ["dot", "-Tsvg"], input=source.encode(), capture_output=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"dot failed on the source for {path.name}: {result.stderr.decode()}")
    path.write_bytes(result.stdout)


def _pyplot() -> Any:  # matplotlib.pyplot, with the Agg backend
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Stable ids and no date stamp: the same code draws byte-identical SVGs.
    plt.rcParams.update({"svg.hashsalt": "chainrule", "figure.dpi": 100, "font.size": 10})
    return plt


def _save(fig, path: Path) -> None:  # type: ignore[no-untyped-def]
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})


# --- computation graphs (chainrule.viz) ---


@figure("neuron-graph")
def neuron_graph(path: Path) -> None:
    """tanh(w x + b) after backward: the worked example of the chain-rule page."""
    from chainrule.viz import to_dot

    x, w, b = Value(2.0, label="x"), Value(-0.5, label="w"), Value(0.25, label="b")
    wx = w * x
    wx.label = "w·x"
    n = wx + b
    n.label = "n"
    out = n.tanh()
    out.label = "L"
    out.backward()
    _dot_to_svg(to_dot(out, params=[w, b], legend=True), path)


@figure("diamond-graph")
def diamond_graph(path: Path) -> None:
    """x fans out into a = x + 1 and b = 2x, which meet in L = a b: the shares add up in x."""
    from chainrule.viz import to_dot

    x = Value(3.0, label="x")
    a = x + 1
    a.label = "a"
    b = 2 * x
    b.label = "b"
    out = a * b
    out.label = "L"
    _dot_to_svg(to_dot(out, direction="backward", legend=True), path)


# --- numerical analysis (matplotlib) ---


@figure("fd-error")
def finite_difference_error(path: Path) -> None:
    """Forward vs central difference error against the step, for f(x) = sin(x) e^x at 0.7."""
    plt = _pyplot()

    def f(x: float) -> float:
        return math.sin(x) * math.exp(x)

    x0 = Value(0.7)
    (x0.sin() * x0.exp()).backward()
    exact = x0.grad
    steps = [10.0 ** (-k / 4) for k in range(4, 4 * 14 + 1)]
    forward = [abs((f(0.7 + h) - f(0.7)) / h - exact) for h in steps]
    central = [abs((f(0.7 + h) - f(0.7 - h)) / (2 * h) - exact) for h in steps]

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.loglog(steps, forward, "o-", ms=3, label="forward  (f(x+ε) − f(x)) / ε")
    ax.loglog(steps, central, "s-", ms=3, label="central  (f(x+ε) − f(x−ε)) / 2ε")
    ax.axvline(1e-6, color="grey", ls=":", lw=1)
    ax.annotate("gradcheck's ε = 1e-6", (1e-6, 1e-3), rotation=90, ha="right", color="grey")
    ax.set_xlabel("step ε")
    ax.set_ylabel("|difference quotient − exact derivative|")
    ax.set_title("Truncation error falls with ε, rounding error grows as 1/ε")
    ax.invert_xaxis()
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left")
    _save(fig, path)
    plt.close(fig)


# --- training (the configuration of docs/howto/train-mlp.md) ---


@figure("moons-training")
def moons_training(path: Path) -> None:
    """Loss curve and decision boundary of the MLP trained in the how-to."""
    from chainrule import losses, no_grad, optim
    from chainrule.data import make_moons, train_test_split
    from chainrule.nn import MLP

    plt = _pyplot()
    X, y = make_moons(100, noise=0.1, seed=1)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, seed=0)
    model = MLP(2, [8, 8, 1], activation="tanh", init="xavier", seed=0)
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    history = []
    for _ in range(50):
        loss = losses.binary_cross_entropy_with_logits([model(p) for p in X_train], y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.data)

    xs = [-1.5 + 4.0 * i / 39 for i in range(40)]
    ys = [-1.0 + 2.3 * j / 39 for j in range(40)]
    with no_grad():
        grid = [[model([gx, gy]).data for gx in xs] for gy in ys]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    ax1.plot(history)
    ax1.set_xlabel("step")
    ax1.set_ylabel("mean binary cross-entropy")
    ax1.set_title("training loss")
    ax2.contourf(xs, ys, grid, levels=[-1e9, 0.0, 1e9], colors=["#cfe0f3", "#fde2c8"])
    ax2.contour(xs, ys, grid, levels=[0.0], colors="black", linewidths=1)
    colors = ["tab:blue" if t == 0 else "tab:orange" for t in y]
    ax2.scatter([p[0] for p in X], [p[1] for p in X], c=colors, s=14)
    ax2.set_title("decision boundary (logit = 0), all 100 points")
    ax2.set_xlabel("first input $x_1$")
    ax2.set_ylabel("second input $x_2$")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def generate(out_dir: Path, names: list[str] | None = None) -> list[Path]:
    """Write the figures (all, or those named) into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(names or ()) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {sorted(FIGURES)}")
    written = []
    for name, draw in FIGURES.items():
        if names and name not in names:
            continue
        path = out_dir / f"{name}.svg"
        draw(path)
        written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR [FIGURE ...]   (figures: {', '.join(FIGURES)})")
    for written_path in generate(Path(sys.argv[1]), sys.argv[2:] or None):
        print(written_path)
