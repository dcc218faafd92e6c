"""Shared test helpers."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import socket
import stat
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


def make_socket(tmp_path: Path, name: str = "model.json") -> Path:
    """A Unix socket at ``tmp_path / name`` (the file stays after the socket is closed)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / name))
    return tmp_path / name


def make_device_node(tmp_path: Path, name: str = "model.json") -> Path:
    """A character device node (a null device, 1:3) at ``tmp_path / name``; needs root.

    Tests never point at ``/dev``: this node is their own, in their temporary directory.
    """
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    os.mknod(tmp_path / name, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    return tmp_path / name


def make_link_to_fifo(tmp_path: Path, name: str = "model.json") -> Path:
    """A symbolic link at ``tmp_path / name`` to a FIFO next to it."""
    (tmp_path / name).symlink_to(make_fifo(tmp_path, "pipe"))
    return tmp_path / name


def make_link_to_device_node(tmp_path: Path, name: str = "model.json") -> Path:
    """A symbolic link at ``tmp_path / name`` to a device node of the test's own (see make_device_node)."""
    (tmp_path / name).symlink_to(make_device_node(tmp_path, "null"))
    return tmp_path / name


def make_directory(tmp_path: Path, name: str = "model.json") -> Path:
    """An empty directory at ``tmp_path / name``."""
    (tmp_path / name).mkdir()
    return tmp_path / name


#: Things that are not regular files, by name, each made by ``make(tmp_path, name)`` inside a
#: test's temporary directory: no writer may replace them.
NOT_REGULAR_FILES: dict[str, Callable[..., Path]] = {
    "fifo": make_fifo,
    "socket": make_socket,
    "device": make_device_node,
    "directory": make_directory,
    "link-to-fifo": make_link_to_fifo,
    "link-to-device": make_link_to_device_node,
}


def file_kind(path: Path) -> int:
    """The file type bits of what ``path`` points to (``stat.S_IFMT``), to check it is unchanged."""
    return stat.S_IFMT(path.stat().st_mode)
