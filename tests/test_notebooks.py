"""Both notebooks are committed with their outputs, and those outputs are what a run gives today.

``python scripts/make_notebooks.py`` writes them; its docstring says what is compared.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ROOT, load_module

#: Per notebook, the media types its committed outputs must show on a code host.
PICTURES = {"demo.ipynb": {"image/png": 3}, "trace_graph.ipynb": {"image/svg+xml": 3, "text/html": 1}}


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_notebook_is_committed_with_its_outputs(name: str) -> None:
    nb = json.loads((ROOT / name).read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    shown = [kind for cell in code for out in cell["outputs"] for kind in out.get("data", {})]
    assert {kind: shown.count(kind) for kind in PICTURES[name]} == PICTURES[name]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
@pytest.mark.parametrize("name", sorted(PICTURES))
def test_committed_outputs_are_current(name: str, executed_notebook: Callable[[str], Any]) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("graphviz")
    nbformat = pytest.importorskip("nbformat")
    make_notebooks = load_module(ROOT / "scripts" / "make_notebooks.py")
    committed = make_notebooks.summary(nbformat.read(ROOT / name, as_version=4))
    assert committed == make_notebooks.summary(executed_notebook(name)), "run python scripts/make_notebooks.py"


def test_the_comparison_sees_a_changed_number_and_ignores_image_bytes() -> None:
    nbformat = pytest.importorskip("nbformat")
    make_notebooks = load_module(ROOT / "scripts" / "make_notebooks.py")
    nb = nbformat.read(ROOT / "demo.ipynb", as_version=4)
    before = make_notebooks.summary(nb)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}):
                out.data["image/png"] = "AAAA"  # other bytes: another matplotlib
    assert make_notebooks.summary(nb) == before
    (printing,) = [
        cell for cell in nb.cells if "final loss" in "".join(o.get("text", "") for o in cell.get("outputs", []))
    ]
    printing.outputs[-1].text = printing.outputs[-1].text.replace("0.0110", "0.0111")
    assert make_notebooks.summary(nb) != before
