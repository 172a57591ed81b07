"""Watch an adjoint shrink through 20 sigmoid layers with hooks (the table in the debugging guide).

python scripts/vanishing_gradients.py            # print the table
python scripts/vanishing_gradients.py --write    # refresh it in docs/howto/debugging.md
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from chainrule import Value


def adjoints_through(layers: int = 20, activation: str = "sigmoid", seed: int = 0) -> list[float]:
    """|d loss / d h_k| for each layer k, recorded by hooks during one backward pass."""
    rng = random.Random(seed)
    seen: dict[int, float] = {}
    h = Value(0.5)
    for k in range(layers):
        h = getattr(h * rng.uniform(0.5, 1.5) + rng.uniform(-0.5, 0.5), activation)()
        h.register_hook(lambda g, k=k: seen.__setitem__(k, abs(g)))
    h.backward()
    return [seen[k] for k in range(layers)]


PAGE = Path(__file__).resolve().parent.parent / "docs" / "howto" / "debugging.md"
START, END = "<!-- vanishing:start -->", "<!-- vanishing:end -->"


def table() -> str:
    """A markdown table of |adjoint| per layer, output layer first."""
    names = ("sigmoid", "tanh", "relu")
    columns = {name: adjoints_through(activation=name) for name in names}
    lines = ["| layer | sigmoid | tanh | relu |", "|---:|---:|---:|---:|"]
    for k in range(19, -1, -1):
        lines.append(f"| {k + 1} | " + " | ".join(f"{columns[n][k]:.3e}" for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    text = table()
    if "--write" not in sys.argv:
        print(text)
        return
    page = PAGE.read_text()
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    PAGE.write_text(f"{head}{START}\n{text}\n{END}{tail}")
    print(f"wrote the table into {PAGE}")


if __name__ == "__main__":
    main()
