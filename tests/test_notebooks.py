"""Both notebooks are committed clean: nbformat 4, no outputs, no execution counts."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT


@pytest.mark.parametrize("name", ["demo.ipynb", "trace_graph.ipynb"])
def test_notebook_is_committed_without_outputs(name: str) -> None:
    nb = json.loads((ROOT / name).read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code)
