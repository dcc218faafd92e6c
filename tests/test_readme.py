"""The README's Python examples run as written and print what the README says."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import subprocess
import sys

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
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["24.7041", "138.8338", "645.5773"]
    assert falling_losses(lines[3:]) == [0.1165, 0.0711, 0.0643, 0.0612, 0.0600]  # the torch loop, as commented
    # Newton's method, the gradient-penalty fit, and the registered softplus checked by gradcheck:
    assert {"0.693147180560", "0.84", "0.6931471805599453 True"} <= set(lines)


def falling_losses(lines: list[str]) -> list[float]:
    """The losses printed as ``step k  loss x`` lines, after checking that each is below the one before."""
    losses = [float(line.split()[-1]) for line in lines if line.startswith("step ")]
    assert len(losses) >= 2 and all(b < a for a, b in itertools.pairwise(losses)), lines
    return losses


def test_readme_distributed_script_trains_in_two_processes(tmp_path) -> None:
    """The README's ``train_ddp.py``: DistributedDataParallel, gloo, two processes on the loopback interface."""
    pytest.importorskip("torch.distributed")
    pytest.importorskip("sklearn")
    (script,) = [
        block for block in re.findall(r"```py\n(.*?)```", README, flags=re.S) if "DistributedDataParallel" in block
    ]
    path = tmp_path / "train_ddp.py"
    path.write_text(script, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, env=env)

    result = run()
    if result.returncode != 0 and "SIGABRT" in result.stderr and result.stdout.count("loss") == 5:
        # Seen once in about 30 runs: gloo aborting in its teardown after training had finished.
        # That is gloo's, not this script's; one more run must pass.
        result = run()
    assert result.returncode == 0, result.stderr[-2000:]
    losses = falling_losses(result.stdout.splitlines())
    assert len(losses) == 5
