"""Running Graphviz's ``dot`` with a time limit and a memory limit, for every drawing nanograd makes.

Laying out a graph of a few hundred nodes takes dot well under a second, but some shapes
make its layout take minutes and gigabytes. So nanograd never runs dot without limits:
:func:`run_dot` runs it as a subprocess that is killed after :data:`TIME_LIMIT` seconds and,
on POSIX, may map at most :data:`MEMORY_LIMIT` bytes (an address-space limit set in the
child before dot starts); hitting either raises :class:`DrawingError`, which says what to do.
:func:`drawing_type` is the ``graphviz.Digraph`` subclass that :func:`nanograd.draw_dot`
returns: its ``pipe()``, ``render()`` and notebook display all run dot through
:func:`run_dot`. Set the two limits on this module to change them
(``nanograd.render.TIME_LIMIT = 60``).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ._io import atomic_write

#: Seconds dot may run for one drawing.
TIME_LIMIT = 20.0
#: Bytes of address space dot may map (POSIX only; dot itself needs a few tens of MB).
MEMORY_LIMIT = 2 << 30

#: What to tell someone whose machine has no ``dot``: it is a system package, not a Python one.
INSTALL_DOT = (
    "install it with apt-get install graphviz (Debian, Ubuntu), brew install graphviz (macOS) "
    "or conda install graphviz, or see https://graphviz.org/download/"
)
#: What to tell someone whose Python has no ``graphviz`` package (nanograd's PyPI name belongs to another project).
INSTALL_GRAPHVIZ_PACKAGE = (
    "pip install graphviz (or, from a nanograd checkout, "
    'pip install -e ".[viz]" --config-settings editable_mode=compat)'
)


# What dot (or the loader starting it) says when the address-space limit stops it; a signal also counts.
_OUT_OF_MEMORY = ("out of memory", "cannot allocate memory", "failed to map segment")


class DrawingError(RuntimeError):
    """Graphviz's dot failed, ran past :data:`TIME_LIMIT` or needed more than :data:`MEMORY_LIMIT`."""


def import_graphviz() -> Any:
    """The graphviz Python package, or an ImportError saying how to install it."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(f"drawing needs the graphviz Python package: {INSTALL_GRAPHVIZ_PACKAGE}") from e
    return graphviz


def _limit_memory() -> None:  # pragma: no cover - runs in the child process, between fork and exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def run_dot(source: bytes, args: Sequence[str], quiet: bool = True) -> bytes:
    """Run ``dot *args`` on ``source`` (DOT text) within the limits and return what it writes.

    Raises:
        graphviz.ExecutableNotFound: no ``dot`` on the PATH (the message says how to install it).
        DrawingError: dot ran past :data:`TIME_LIMIT`, ran out of :data:`MEMORY_LIMIT` or
            failed; the message names the limit or quotes dot's own error.
    """
    try:
        done = subprocess.run(
            ["dot", *args],
            input=source,
            capture_output=True,
            timeout=TIME_LIMIT,
            preexec_fn=_limit_memory if os.name == "posix" else None,
        )
    except FileNotFoundError:
        error = import_graphviz().ExecutableNotFound(["dot"])
        error.args = (f"Graphviz's dot program is not on the PATH: {INSTALL_DOT}",)
        raise error from None
    except subprocess.TimeoutExpired:
        raise DrawingError(
            f"Graphviz's dot did not finish laying out the graph within {TIME_LIMIT:g} s "
            "(nanograd.render.TIME_LIMIT): draw fewer values (a smaller max_nodes) or raise the limit"
        ) from None
    except OSError as e:  # e.g. too little memory left to start it
        raise DrawingError(f"could not start Graphviz's dot: {e.strerror or e}") from None
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode < 0 or any(sign in stderr.lower() for sign in _OUT_OF_MEMORY):
        raise DrawingError(
            f"Graphviz's dot ran out of memory (at most {_mib(MEMORY_LIMIT)}, nanograd.render.MEMORY_LIMIT) "
            "or crashed: draw fewer values (a smaller max_nodes) or raise the limit"
        )
    if done.returncode != 0:
        first = next((line for line in stderr.splitlines() if line.strip()), "no message")
        raise DrawingError(f"Graphviz's dot failed (exit status {done.returncode}): {first[:200]}")
    if stderr and not quiet:
        sys.stderr.write(stderr)
    return done.stdout


def _dot_args(engine: str, format: str, renderer: str | None, formatter: str | None, neato_no_op: Any) -> list[str]:
    """The options graphviz itself would pass to dot (it also checks each value)."""
    from graphviz.backend.dot_command import command  # type: ignore[import-untyped]

    cmd = command(engine, format, renderer=renderer, formatter=formatter, neato_no_op=neato_no_op)
    return [os.fspath(part) for part in cmd[1:]]


def _pipe_lines(
    engine: str,
    format: str,
    input_lines: Iterator[str],
    *,
    input_encoding: str,
    renderer: str | None = None,
    formatter: str | None = None,
    neato_no_op: Any = None,
    quiet: bool = False,
) -> bytes:
    source = "".join(input_lines).encode(input_encoding)
    return run_dot(source, _dot_args(engine, format, renderer, formatter, neato_no_op), quiet=quiet)


def _pipe_lines_string(engine: str, format: str, input_lines: Iterator[str], *, encoding: str, **options: Any) -> str:
    return _pipe_lines(engine, format, input_lines, input_encoding=encoding, **options).decode(encoding)


def _render(
    engine: str,
    format: str | None = None,
    filepath: str | os.PathLike[str] | None = None,
    renderer: str | None = None,
    formatter: str | None = None,
    neato_no_op: Any = None,
    quiet: bool = False,
    *,
    outfile: str | os.PathLike[str] | None = None,
    raise_if_result_exists: bool = False,
    overwrite_filepath: bool = False,
) -> str:
    """graphviz's ``render`` backend: the same files, written from :func:`run_dot`'s output."""
    from graphviz.backend import rendering  # type: ignore[import-untyped]

    graphviz = import_graphviz()
    assert filepath is not None  # Digraph.render saves the source first and always passes its path
    source_path = Path(filepath)
    if outfile is not None:
        target = Path(outfile)
        format = rendering.get_format(target, format=format)
        if not overwrite_filepath and target.resolve() == source_path.resolve():
            raise ValueError(f"outfile {target.name!r} must be different from input file {source_path.name!r}")
    else:
        target = Path(rendering.get_outfile(source_path, format=format, renderer=renderer, formatter=formatter))
    if raise_if_result_exists and target.exists():
        raise graphviz.FileExistsError(f"output file exists: {os.fspath(target)!r}")
    assert format is not None
    output = run_dot(source_path.read_bytes(), _dot_args(engine, format, renderer, formatter, neato_no_op), quiet)
    with atomic_write(target, binary=True) as f:
        f.write(output)
    return os.fspath(target)


@functools.cache
def drawing_type() -> type:
    """``Drawing``: a ``graphviz.Digraph`` whose every rendering runs dot through :func:`run_dot`.

    graphviz routes ``pipe()``, ``render()`` and the notebook display through three
    backend functions, which it exposes as properties so that they can be replaced;
    this subclass replaces them.
    """
    digraph: Any = import_graphviz().Digraph

    class Drawing(digraph):  # type: ignore[misc]  # graphviz publishes no types
        """A ``graphviz.Digraph`` rendered within nanograd's time and memory limits (:mod:`nanograd.render`)."""

        @property
        def _pipe_lines(self) -> Any:
            return _pipe_lines

        @property
        def _pipe_lines_string(self) -> Any:
            return _pipe_lines_string

        @property
        def _render(self) -> Any:
            return _render

    return Drawing
