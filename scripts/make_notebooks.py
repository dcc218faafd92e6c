"""Run ``demo.ipynb`` and ``trace_graph.ipynb`` top to bottom and write them back with their outputs.

Usage: ``python scripts/make_notebooks.py [--check] [NOTEBOOK ...]`` (default: both notebooks at
the repository root). Needs the notebook, demo and viz extras (in a checkout of nanograd,
``pip install -e ".[test]" --config-settings editable_mode=compat``) and Graphviz's ``dot``.

The notebooks are committed with their outputs, so a code host shows the plots and drawings,
and each cell runs in a kernel started in a temporary folder, so nothing is written next to
them. ``--check`` writes nothing: it runs the notebooks and exits with status 1 if their
outputs differ from the committed ones; ``tests/test_notebooks.py`` makes the same comparison.

What is compared is what stays the same from run to run and machine to machine (see
:func:`summary`): for every code cell its execution count and, for each output, its kind,
its text (printed streams, ``text/plain`` representations, error names and messages) and the
media types it displays (``image/png``, ``image/svg+xml``, ``text/html``). The bytes of
images and drawings are not compared: they change with the versions of matplotlib and
Graphviz, while the numbers they show are printed by the cells or checked by the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("demo.ipynb", "trace_graph.ipynb")
#: How long one cell may run, in seconds.
CELL_TIMEOUT = 600


def execute(path: Path) -> Any:
    """The notebook at ``path`` executed top to bottom in a temporary folder (any cell error raises).

    What one cell prints arrives in pieces, as the kernel flushes; consecutive pieces of
    the same stream are joined into one output, so a run always stores the same outputs.
    """
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        client = nbclient.NotebookClient(
            nb,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            record_timing=False,  # timestamps differ at every run
            resources={"metadata": {"path": tmp}},
        )
        client.execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = _joined_streams(cell.outputs)
    return nb


def _joined_streams(outputs: list[Any]) -> list[Any]:
    """``outputs`` with each run of consecutive outputs of one stream joined into one."""
    joined: list[Any] = []
    for out in outputs:
        previous = joined[-1] if joined else None
        if out.output_type == "stream" and previous is not None and previous.get("name") == out.name:
            previous.text += out.text
        else:
            joined.append(out)
    return joined


def summary(nb: Any) -> list[tuple[Any, ...]]:
    """What a run of ``nb`` shows that does not depend on the machine: one entry per code cell.

    A displayed result that has a richer form than ``text/plain`` (a figure, a drawing, a
    page) is compared by its media types only: its plain text may hold a memory address
    (``<graphviz.graphs.Digraph at 0x...>``) or the drawing itself.
    """
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in _joined_streams(cell.outputs):
            if out.output_type == "stream":
                outputs.append(("stream", out.name, out.text))
            elif out.output_type == "error":
                outputs.append(("error", out.ename, out.evalue))
            else:
                data = out.get("data", {})
                plain = data.get("text/plain") if set(data) == {"text/plain"} else None
                outputs.append((out.output_type, plain, sorted(data)))
        cells.append((cell.get("id"), cell.execution_count, outputs))
    return cells


def main(argv: list[str] | None = None) -> int:
    """Execute the notebooks and write them back (or, with ``--check``, compare); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; fail if the outputs are not current")
    parser.add_argument("notebooks", nargs="*", type=Path, default=[ROOT / name for name in NOTEBOOKS])
    args = parser.parse_args(argv)
    stale = []
    for path in args.notebooks:
        nb = execute(path)
        if args.check:
            if summary(nb) != summary(nbformat.read(path, as_version=4)):
                stale.append(path)
        else:
            nbformat.write(nb, path)
            print(f"wrote {path}")
    for path in stale:
        print(f"{path}: the committed outputs are not current; run python scripts/make_notebooks.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
