"""Shared test helpers."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nanograd import Value

ROOT = Path(__file__).resolve().parent.parent


def load_module(path: Path) -> ModuleType:
    """Import the Python file at ``path`` (in ``examples/`` or ``scripts/``, which are not packages)."""
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def executed_notebook() -> Callable[[str], Any]:
    """``executed_notebook(name)``: the notebook ``name`` (at the repository root) run top to bottom.

    Each notebook runs once per test session, by ``scripts/make_notebooks.py``, which also
    writes the committed outputs; any cell error fails the test.
    """
    pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    make_notebooks = load_module(ROOT / "scripts" / "make_notebooks.py")
    return functools.cache(lambda name: make_notebooks.execute(ROOT / name))


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


def seed_example() -> tuple[Value, Value, Value]:
    """The seed README's example: its inputs ``a`` and ``b`` (labelled) and its output ``g``."""
    a = Value(-4.0, label="a")
    b = Value(2.0, label="b")
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return a, b, g


def make_fifo(tmp_path: Path, name: str = "model.json") -> Path:
    """A named pipe at ``tmp_path / name``: reading it would wait for a writer forever."""
    os.mkfifo(tmp_path / name)
    return tmp_path / name


def make_dev_zero_link(tmp_path: Path, name: str = "model.json") -> Path:
    """A symbolic link at ``tmp_path / name`` to ``/dev/zero``, which never ends."""
    (tmp_path / name).symlink_to("/dev/zero")
    return tmp_path / name


def chromium() -> str | None:
    """A Chromium installed on the system (never downloaded)."""
    return os.environ.get("NANOGRAD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The system Chromium, headless, driven by Playwright; skips the test when either is missing."""
    path = chromium()
    if path is None:
        pytest.skip("no Chromium installed: apt-get install chromium, or set NANOGRAD_CHROMIUM=/path/to/chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright for Python: pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path)
        yield b
        b.close()
