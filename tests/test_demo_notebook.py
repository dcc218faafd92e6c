"""``demo.ipynb`` runs top to bottom and trains the classifier to 100%."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

NOTEBOOK = "demo.ipynb"


def test_notebook_runs_and_reaches_full_accuracy(executed_notebook: Callable[[str], Any]) -> None:
    pytest.importorskip("sklearn")
    nb = executed_notebook(NOTEBOOK)
    printed = "".join(
        output.get("text", "") for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "final loss 0.0110, accuracy 100.0%" in printed
