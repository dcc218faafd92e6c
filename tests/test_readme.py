"""The README's Python examples run as written and print what the README says."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# Whole examples are fenced as ```python; excerpts (e.g. one op-table entry) as ```py.
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_the_examples() -> None:
    assert len(BLOCKS) >= 4


def test_readme_examples_run_in_order(restore_op_table: None) -> None:
    """The blocks share one namespace, as in a notebook: later ones use the trained model."""
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    pytest.importorskip("graphviz")
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in BLOCKS:
            exec(compile(block, "README.md", "exec"), namespace)
    assert out.getvalue().splitlines()[:3] == ["24.7041", "138.8338", "645.5773"]
    assert namespace["loss"].item() < 0.02  # the torch loop continued from the trained model
    # Newton's method, the gradient-penalty fit, and the registered softplus checked by gradcheck:
    assert {"0.693147180560", "0.84", "0.6931471805599453 True"} <= set(out.getvalue().splitlines())
