"""Tests for nanograd._io: atomic writes, bounded reads of regular files, the writability probe."""

from __future__ import annotations

import ast
import contextlib
import errno
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import NOT_REGULAR_FILES, file_kind, make_dev_zero_link, make_fifo, raised_within

from nanograd._io import TEMP_SUFFIX, atomic_write, check_replaceable, check_writable, read_regular_file
from nanograd.explorer import Explorer
from nanograd.neural_net import MLP

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def test_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path) as f:
        f.write("new")
        assert path.read_text() == "old"  # nothing visible until the block ends
    assert path.read_text() == "new"
    with atomic_write(path, binary=True) as f:
        f.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)])
def test_a_new_file_gets_the_permissions_the_umask_allows(tmp_path: Path, mask: int, mode: int) -> None:
    with umask(mask), atomic_write(tmp_path / "new.json") as f:
        f.write("{}")
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_replacing_a_file_keeps_its_permissions(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "model.json"
    target.write_text("old")
    target.chmod(mode)
    with umask(0o022), atomic_write(target) as f:
        f.write("new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == mode


def test_a_symlink_is_written_through_to_its_target(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "model-v2.json"
    target.write_text("old")
    link = tmp_path / "model.json"
    link.symlink_to(Path("store") / "model-v2.json")  # relative, as `ln -s` usually makes them
    chain = tmp_path / "latest.json"
    chain.symlink_to(link)
    with atomic_write(chain) as f:
        f.write("new")
    assert chain.is_symlink() and link.is_symlink()
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "model.json", "store"]
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["model-v2.json"]


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "model.json"
    link.symlink_to(tmp_path / "real.json")
    with atomic_write(link) as f:
        f.write("new")
    assert link.is_symlink() and (tmp_path / "real.json").read_text() == "new"


@pytest.mark.parametrize("kind", NOT_REGULAR_FILES)
def test_only_regular_files_are_replaced(tmp_path: Path, kind: str) -> None:
    path = NOT_REGULAR_FILES[kind](tmp_path, "out.json")
    before, names = file_kind(path), sorted(p.name for p in tmp_path.iterdir())
    ran = []
    with pytest.raises(OSError, match="not a regular file; nanograd replaces regular files only") as error:
        with atomic_write(path) as f:
            ran.append(True)
            f.write("new")
    assert str(error.value).startswith(f"{path}: " if not path.is_symlink() else f"{path} (a link to ")
    assert isinstance(error.value, IsADirectoryError if kind == "directory" else FileExistsError)
    assert not ran  # refused before the caller's work
    assert file_kind(path) == before and sorted(p.name for p in tmp_path.iterdir()) == names
    with pytest.raises(type(error.value), match=str(path)):
        check_replaceable(path)


def test_a_special_file_that_appears_during_the_write_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    with pytest.raises(FileExistsError, match=f"{path}: a FIFO"), atomic_write(path) as f:
        f.write("new")
        make_fifo(tmp_path, "out.json")
    assert path.is_fifo()
    assert _temporaries(tmp_path) == []


def test_check_replaceable_passes_regular_files_links_to_them_and_new_names(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    for name in ("file", "link", "missing"):
        check_replaceable(tmp_path / name)


def test_only_the_temporary_files_own_descriptor_is_chmod_ed(tmp_path: Path) -> None:
    # Someone who may write in the directory swaps the temporary file for a link to a file of
    # theirs: following the name (os.chmod) would give that file the target's permissions.
    target, victim = tmp_path / "model.json", tmp_path / "victim"
    target.write_text("old")
    target.chmod(0o644)
    victim.write_text("theirs")
    victim.chmod(0o600)
    with pytest.raises(FileExistsError, match="replaced by another process"), atomic_write(target) as f:
        f.write("new")
        (tmp := tmp_path / _temporaries(tmp_path)[0]).unlink()
        tmp.symlink_to(victim)
    assert victim.stat().st_mode & 0o7777 == 0o600 and victim.read_text() == "theirs"
    assert not target.is_symlink() and target.read_text() == "old"
    assert _temporaries(tmp_path) == []


def test_set_id_bits_are_not_carried_over(tmp_path: Path) -> None:
    target = tmp_path / "tool"
    target.write_text("old")
    target.chmod(0o6755)
    with atomic_write(target) as f:
        f.write("new")
    assert target.stat().st_mode & 0o7777 == 0o755


def _save_model(path: Path) -> None:
    MLP(2, [1]).save(path)


def _save_page(path: Path) -> None:
    Explorer("<!doctype html>").save(path)


def _save_image(path: Path) -> None:
    figure = pytest.importorskip("matplotlib.figure")
    from nanograd.demo import save_figure

    save_figure(figure.Figure(), path)


@pytest.mark.parametrize("kind", ["fifo", "socket", "device", "directory", "link-to-device"])
@pytest.mark.parametrize("save", [_save_model, _save_page, _save_image], ids=["MLP.save", "Explorer.save", "demo"])
def test_every_writer_refuses_what_is_not_a_regular_file(
    tmp_path: Path, kind: str, save: Callable[[Path], None]
) -> None:
    path = NOT_REGULAR_FILES[kind](tmp_path, "out")
    before = file_kind(path)
    with pytest.raises(OSError, match=f"^{re.escape(str(path))}.*not a regular file"):
        save(path)
    assert file_kind(path) == before


def _opens_for_writing(call: ast.Call) -> bool:
    """Whether ``call`` writes a file by itself: ``open(p, "w")``, ``Path.write_text``, ``os.open(p, O_WRONLY)``."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    if name in ("write_text", "write_bytes"):
        return True
    if name == "open":
        flags = ast.unparse(call)
        if "os.devnull" in flags:  # opening the null device to write into it replaces nothing
            return False
        mode = next((a for a in call.args[1:2] if isinstance(a, ast.Constant) and isinstance(a.value, str)), None)
        return any(c in mode.value for c in "wax+") if mode is not None else "O_WRONLY" in flags or "O_RDWR" in flags
    return False


def test_only_the_io_module_opens_files_for_writing() -> None:
    # Every other writer goes through atomic_write, which refuses to replace special files.
    offenders = []
    for module in sorted((ROOT / "nanograd").rglob("*.py")):
        if module.name == "_io.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and _opens_for_writing(node):
                offenders.append(f"{module.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def _temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(TEMP_SUFFIX))


def test_temporary_files_are_recognisably_named(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    with atomic_write(path) as f:
        (name,) = _temporaries(tmp_path)
        assert name.startswith(f".model.json.{os.getpid()}.")
        f.write("x")
    assert _temporaries(tmp_path) == []


KILLED_MID_SAVE = """
import os, signal, sys
from nanograd.neural_net import MLP
from nanograd._io import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write("half a model")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_save_killed_by_sigkill_is_cleaned_up_by_the_next_save(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("old")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", KILLED_MID_SAVE, str(path)], env=env, timeout=60)
    assert result.returncode == -signal.SIGKILL
    (stale,) = _temporaries(tmp_path)
    assert stale.startswith(".model.json.") and (tmp_path / stale).read_text() == "half a model"
    assert path.read_text() == "old"  # the file itself was never half written
    (tmp_path / "other.json").write_text("")  # another file's temporaries are not touched
    other_stale = tmp_path / stale.replace("model", "other")
    other_stale.write_text("")
    with atomic_write(path) as f:
        f.write("new")
    assert path.read_text() == "new"
    assert _temporaries(tmp_path) == [other_stale.name]


@pytest.mark.parametrize("pid", [os.getpid(), os.getppid()], ids=["this-process", "a-running-process"])
def test_temporaries_of_running_writers_are_kept(tmp_path: Path, pid: int) -> None:
    busy = tmp_path / f".model.json.{pid}.0123abcd{TEMP_SUFFIX}"
    busy.write_text("being written")
    with atomic_write(tmp_path / "model.json") as f:
        f.write("new")
    assert busy.read_text() == "being written"


# -- bounded reads ---------------------------------------------------------------------------


def test_read_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    assert read_regular_file(path, max_bytes=5) == b"12345"
    with pytest.raises(ValueError, match=f"{path}: 5 bytes, more than the limit of 4"):
        read_regular_file(path, max_bytes=4)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing", max_bytes=5)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs POSIX FIFOs and /dev/zero")
@pytest.mark.parametrize(
    "make", [make_fifo, make_dev_zero_link, lambda tmp_path: tmp_path], ids=["fifo", "dev-zero", "dir"]
)
def test_only_regular_files_are_read_and_nothing_hangs(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path)
    error = raised_within(10, lambda: read_regular_file(path, max_bytes=100))
    assert isinstance(error, ValueError)
    assert str(error).startswith(f"{path}: not a regular file")


# -- writability probe ------------------------------------------------------------------------


def test_check_writable_leaves_nothing_behind(tmp_path: Path) -> None:
    check_writable(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_check_writable_refuses_a_read_only_directory() -> None:
    with pytest.raises(OSError):
        check_writable("/proc")  # read-only even for root


def test_check_writable_reports_a_full_disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # a full disk reports ENOSPC at the latest when flushing
    with pytest.raises(OSError, match="No space left"):
        check_writable(tmp_path)


def test_a_directory_that_cannot_be_listed_is_still_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unlistable(path: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(os, "scandir", unlistable)  # as in a directory with mode -wx (write, no read)
    with atomic_write(tmp_path / "out.txt") as f:
        f.write("new")
    assert (tmp_path / "out.txt").read_text() == "new"
