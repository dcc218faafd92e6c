"""``trace_graph.ipynb`` runs top to bottom, draws the README's neuron and shows its explore page."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import pytest

NOTEBOOK = "trace_graph.ipynb"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_notebook_draws_the_expression_and_the_neuron(executed_notebook: Callable[[str], Any]) -> None:
    pytest.importorskip("graphviz")
    nb = executed_notebook(NOTEBOOK)
    outputs = {cell.id: cell.outputs[0]["data"] for cell in nb.cells if cell.get("outputs")}
    svgs = {name: data["image/svg+xml"] for name, data in outputs.items() if "image/svg+xml" in data}
    assert "grad 1.0000" in svgs["expression"] and "grad 2.0000" in svgs["expression"]
    assert "relu" in svgs["neuron"] and "data 0.1024" in svgs["neuron"]  # random.seed(1337)
    assert "x1" in svgs["labels"] and "w2" in svgs["labels"]
    assert outputs["explore"]["text/html"].startswith("<iframe srcdoc=")  # explore's page, inline
    assert "w2.grad += " in outputs["explore"]["text/html"]
