"""``trace_graph.ipynb`` runs top to bottom and draws the README's neuron."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_notebook

NOTEBOOK = "trace_graph.ipynb"


def test_notebook_is_committed_without_outputs() -> None:
    nb = json.loads((ROOT / NOTEBOOK).read_text())
    assert nb["nbformat"] == 4
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_notebook_draws_the_expression_and_the_neuron(tmp_path: Path) -> None:
    pytest.importorskip("graphviz")
    nb = run_notebook(NOTEBOOK, tmp_path)
    svgs = {cell.id: cell.outputs[0]["data"]["image/svg+xml"] for cell in nb.cells if cell.get("outputs")}
    assert "grad 1.0000" in svgs["expression"] and "grad 2.0000" in svgs["expression"]
    assert "relu" in svgs["neuron"] and "data 0.1024" in svgs["neuron"]  # random.seed(1337)
    assert "x1" in svgs["labels"] and "w2" in svgs["labels"]
