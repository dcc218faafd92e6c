"""Safe file I/O: atomic writes, and bounded reads of regular files only.

* :func:`atomic_write`: a reader sees the old file or the new one, never half of one; it
  replaces regular files only (never a FIFO, socket, device or directory: as root, saving
  to ``/dev/null`` must not replace the machine's ``/dev/null``).
* :func:`read_regular_file`: the bytes of a file of bounded size; FIFOs, devices and
  directories are refused without reading from them (so nothing hangs or runs forever).
* :func:`check_writable` and :func:`check_replaceable`: fail early, before a long computation
  whose result could not be saved.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

#: The end of every temporary file name ``atomic_write`` uses: ``.NAME.PID.RANDOM.nanograd-tmp``
#: next to ``NAME``, where PID is the writing process.
TEMP_SUFFIX = ".nanograd-tmp"


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` may still be running (True when that cannot be told cheaply)."""
    if pid == os.getpid() or os.name != "posix":  # another thread of ours; on Windows os.kill would kill
        return True
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to another user
        return True
    return True


def _remove_stale_temporaries(target: Path) -> None:
    """Delete the temporary files of earlier writes to ``target`` whose process has died (e.g. SIGKILL).

    Only names of the form :func:`atomic_write` gives are touched, and only when their PID no
    longer runs, so concurrent writers (other processes or threads) keep their files.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]+{re.escape(TEMP_SUFFIX)}")
    try:
        with os.scandir(target.parent) as entries:
            stale = [e.path for e in entries if (m := pattern.fullmatch(e.name)) and not _process_alive(int(m[1]))]
    except OSError:  # e.g. a directory we may write to but not list: cleaning up is only a courtesy
        return
    for path in stale:
        with contextlib.suppress(FileNotFoundError):  # another writer removed it first
            os.unlink(path)


def _kind(mode: int) -> str:
    """What a file of ``mode`` is, for error messages: ``a FIFO``, ``a directory``, ..."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def _replaceable_mode(target: Path, path: str | os.PathLike[str]) -> int | None:
    """The permission bits of the regular file ``target`` (``path`` resolved), None if nothing is there.

    Anything else raises OSError naming ``path``: IsADirectoryError for a directory,
    FileExistsError for a FIFO, socket or device (which a rename would replace by a file).
    """
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(info.st_mode):
        # Permission bits only: set-user-ID and set-group-ID would pass to content we wrote.
        return stat.S_IMODE(info.st_mode) & 0o777
    error = IsADirectoryError if stat.S_ISDIR(info.st_mode) else FileExistsError
    shown = str(path) if os.path.abspath(path) == str(target) else f"{path} (a link to {target})"
    raise error(f"{shown}: {_kind(info.st_mode)}, not a regular file; nanograd replaces regular files only")


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """Raise OSError naming ``path`` if :func:`atomic_write` would refuse to replace it.

    A missing file, a regular file or a symbolic link to one pass; a directory, FIFO,
    socket or device (or a link to one) does not. Checks before work whose result would
    then be lost.
    """
    _replaceable_mode(Path(os.path.realpath(path)), path)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], binary: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path``.

    The data is flushed to disk before :func:`os.replace` renames the temporary file
    over ``path`` (same directory, so the rename is atomic). If the block raises, the
    temporary file is removed and ``path`` is left as it was.

    * Only a regular file is replaced: a directory, FIFO, socket or device at ``path``
      raises OSError naming it (see :func:`check_replaceable`), before the block runs and
      again before the rename.
    * If ``path`` is a symbolic link, the file it points to is replaced; the link stays.
    * A replaced file keeps its permission bits (set-user-ID and set-group-ID excepted);
      a new file gets those the umask allows (``0o666 & ~umask``, as ``open()`` gives).
      Only the temporary file's own descriptor is ever chmod-ed.
    * The temporary file is named ``.NAME.PID.RANDOM.nanograd-tmp``. One left behind by a
      process that was killed (SIGKILL, power loss) is deleted by the next write to ``path``.
      If another process swaps it for something else meanwhile, the write raises OSError.
    """
    target = Path(os.path.realpath(path))
    _replaceable_mode(target, path)
    _remove_stale_temporaries(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
    # O_EXCL never reuses an existing name; mode 0o666 lets the umask decide, as open() does.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
            f.flush()
            mode = _replaceable_mode(target, path)  # again: something else may be there by now
            if mode is not None:  # a replaced file keeps its permissions
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, mode)
                else:  # Windows before Python 3.13: only the read-only bit, and links need privileges
                    os.chmod(tmp, mode)
            os.fsync(fd)
            if not os.path.samestat(os.fstat(fd), os.lstat(tmp)):
                raise FileExistsError(f"{tmp}: the temporary file was replaced by another process")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _require_regular(path: str | os.PathLike[str], info: os.stat_result, max_bytes: int) -> None:
    """Raise ValueError naming ``path`` unless ``info`` describes a regular file of at most ``max_bytes``."""
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: not a regular file ({_kind(info.st_mode)}), nothing is read from it")
    if info.st_size > max_bytes:
        raise ValueError(f"{path}: {info.st_size:,} bytes, more than the limit of {max_bytes:,}")


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The contents of ``path``, which must be a regular file of at most ``max_bytes`` bytes.

    Anything else raises ValueError naming ``path``: a directory, a FIFO (opened without
    waiting for a writer, never read), a device such as ``/dev/zero`` or a file that is (or
    grows while being read) larger than ``max_bytes``. At most ``max_bytes + 1`` bytes are
    read. A missing file raises FileNotFoundError.
    """
    _require_regular(path, os.stat(path), max_bytes)
    # O_NONBLOCK: opening a FIFO (swapped in after the check above) must not wait for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    with os.fdopen(os.open(path, flags), "rb") as f:
        _require_regular(path, os.fstat(f.fileno()), max_bytes)
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{path}: more than the limit of {max_bytes:,} bytes")
    return data


def check_writable(directory: str | os.PathLike[str]) -> None:
    """Raise OSError unless a file can be created in ``directory`` and 64 KiB written to disk there.

    Catches a read-only or full file system before work whose result could not be saved;
    the probe file has no name (or is deleted at once) and is gone even after a crash.
    """
    with tempfile.TemporaryFile(dir=directory) as f:
        f.write(bytes(64 * 1024))
        f.flush()
        os.fsync(f.fileno())
