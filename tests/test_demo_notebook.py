"""``demo.ipynb`` is committed clean, runs top to bottom and trains the classifier to 100%."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_notebook

NOTEBOOK = "demo.ipynb"


def test_notebook_runs_and_reaches_full_accuracy(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    nb = run_notebook(NOTEBOOK, tmp_path)
    printed = "".join(
        output.get("text", "") for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "final loss 0.0110, accuracy 100.0%" in printed
