"""Write ``gout.svg``: the graph of the README's 2D neuron, drawn by ``draw_dot`` with its values named.

Usage: ``python scripts/make_gout.py [OUTPUT]`` (default: ``gout.svg`` at the repository root).
Needs, from a checkout, ``pip install -e ".[viz]" --config-settings editable_mode=compat`` and
Graphviz's ``dot`` program.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from readme_neuron import labelled_neuron

from nanograd import draw_dot

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "gout.svg"


def main(argv: list[str] | None = None) -> None:
    """Build and backpropagate the seeded, labelled 2D neuron, then write its graph as SVG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT, help="the SVG file to write")
    args = parser.parse_args(argv)
    args.output.write_bytes(draw_dot(labelled_neuron(), format="svg").pipe())
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
