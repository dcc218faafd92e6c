"""Write ``gout.svg``: the graph of the README's 2D neuron, drawn by ``draw_dot``.

Usage: ``python scripts/make_gout.py [OUTPUT]`` (default: ``gout.svg`` at the repository root).
Needs, from a checkout, ``pip install -e ".[viz]"`` and Graphviz's ``dot`` program.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from nanograd import Value, draw_dot, nn

SEED = 1337  # the same seed as trace_graph.ipynb, so both show the same numbers
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "gout.svg"


def main(argv: list[str] | None = None) -> None:
    """Build and backpropagate the seeded 2D neuron, then write its graph as SVG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT, help="the SVG file to write")
    args = parser.parse_args(argv)

    random.seed(SEED)
    n = nn.Neuron(2)
    x = [Value(1.0), Value(-2.0)]
    y = n(x)
    y.backpropagate()
    args.output.write_bytes(draw_dot(y, format="svg").pipe())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
