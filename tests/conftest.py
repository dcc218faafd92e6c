"""Shared test helpers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_notebook(name: str, tmp_path: Path, timeout: int = 600) -> object:
    """Execute the notebook ``name`` (at the repository root) top to bottom in ``tmp_path``.

    Returns the executed notebook; any cell error fails the test.
    """
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return nb


@pytest.fixture
def restore_op_table() -> Iterator[None]:
    """Undo any ``register_op`` a test makes, so later tests see the op table as shipped."""
    from nanograd import OPS

    saved = dict(OPS)
    yield
    OPS.clear()
    OPS.update(saved)


def raised_within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call()`` in a daemon thread and return what it raised (None if nothing).

    Fails the test if ``call`` is still running after ``seconds`` (e.g. blocked on a FIFO).
    """
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]
