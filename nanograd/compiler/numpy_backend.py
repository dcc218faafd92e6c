"""The numpy backend: the plan on float64 arrays, and the op table's math namespace for numpy.

numpy's floating-point flags are the check of the fast path: within ``trapping()`` an
overflow, a division by zero or an invalid operation raises, and every value that is not
finite comes from one of those or from an input that is not finite. So a run that raised
nothing on finite inputs computed finite values, except where a rule makes a NaN without a
flag, on purpose, in a branch a select discards (``xlogy``): a NaN that a select keeps
reaches what the run returns, so the outputs and gradients returned are checked too.
Anything else goes to the eager engine (see :mod:`.arrays`).

Large batches make large arrays, and glibc's ``malloc`` by default hands a freed block
at the top of its heap back to the operating system once it exceeds a few times the
largest block freed so far: so every call of a kernel over 10,000 samples gave back its
whole working set at the end and touched it page by page again at the next call, which
cost more than the arithmetic. The backend therefore asks ``malloc`` (through
``mallopt``, where the C library has it) to keep up to :data:`KEEP_FREED` bytes at the
top of the heap and to serve blocks below :data:`HEAP_BLOCKS` from the heap. That
changes no number, only how much freed memory the process keeps for reuse;
``NANOGRAD_MALLOC_TUNING=0`` leaves ``malloc`` as it is.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from .arrays import ArrayBackend
from .lowering import Array


def _sigmoid(x: Array) -> Array:
    z = np.exp(-np.abs(x))  # as FLOAT_MATH: exp never sees a positive argument
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _xlogy(x: Array, y: Array) -> Array:
    safe_y = np.where(y > 0, y, np.nan)
    return np.where(x == 0, 0.0, x * np.log(safe_y))


#: The op table's math namespace for numpy arrays.
NUMPY_MATH = SimpleNamespace(
    exp=np.exp,
    log=np.log,
    sqrt=np.sqrt,
    sin=np.sin,
    cos=np.cos,
    tanh=np.tanh,
    sigmoid=_sigmoid,
    relu=lambda x: np.where(x < 0, 0.0, x),  # NaN stays NaN, as in FLOAT_MATH
    sign=lambda x: (x > 0) * 1.0 - (x < 0),
    abs=np.abs,
    pow=np.power,
    xlogy=_xlogy,
    where=np.where,
    div=np.divide,
)


#: Freed memory that ``malloc`` keeps at the top of its heap for the next call (bytes).
KEEP_FREED = 256 << 20
#: Blocks up to this size come from ``malloc``'s heap, not from a mapping of their own (glibc's maximum).
HEAP_BLOCKS = 32 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters, from glibc's malloc.h


def keep_freed_memory(libc: Any = None) -> bool:
    """Ask the C library's ``malloc`` to keep freed memory for reuse (see the module docstring).

    Returns whether it could (a C library without ``mallopt``, such as macOS's, cannot).
    """
    if os.environ.get("NANOGRAD_MALLOC_TUNING", "1") == "0":
        return False
    try:
        mallopt = (ctypes.CDLL(None) if libc is None else libc).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_BLOCKS)) and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_FREED))


class NumpyBackend(ArrayBackend):
    """The plan on numpy arrays (float64), with numpy's floating-point flags as the finiteness check."""

    name = "numpy"
    math = NUMPY_MATH

    def __init__(self) -> None:
        super().__init__()
        keep_freed_memory()

    def column(self, batch: Any) -> Array:
        if hasattr(batch, "detach"):  # a torch tensor
            batch = batch.detach().cpu().numpy()
        return np.asarray(batch, dtype=np.float64)

    def asarray(self, data: Any, like: Array | None) -> Array:
        return np.asarray(data, dtype=np.float64)

    def index(self, data: Any, like: Array | None) -> Array:
        return np.asarray(data, dtype=np.intp)

    def zeros(self, rows: int, cols: int, like: Array) -> Array:
        return np.zeros((rows, cols))

    def join(self, parts: list[Array]) -> Array:
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def stack(self, parts: list[Array]) -> Array:
        """Arrays of one shape along a new second axis."""
        return np.stack(parts, axis=1)

    def concat(self, parts: list[Array]) -> Array:
        if len(parts) == 1:
            return parts[0]
        rows = max(p.shape[0] for p in parts)
        return np.concatenate([p if p.shape[0] == rows else np.broadcast_to(p, (rows, p.shape[1])) for p in parts], 1)

    def sum_rows(self, a: Array) -> Array:
        return a.sum(axis=0, keepdims=True)

    def sum_columns(self, a: Array) -> Array:
        return a.sum(axis=1, keepdims=True)

    def column_adder(self, cols: list[int], like: Array | None) -> Callable[[Array, Array], None]:
        index = np.asarray(cols, dtype=np.intp)
        order = np.argsort(index, kind="stable")  # each column's shares side by side ...
        ordered = index[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # ... summed by reduceat
        distinct = ordered[starts]

        def add(target: Array, values: Array) -> None:
            if target.shape[0] == 1 and values.shape[0] == 1:  # bincount adds repeated columns up, and is fast
                target[0] += np.bincount(index, weights=values[0], minlength=target.shape[1])
            else:
                target[:, distinct] += np.add.reduceat(values[:, order], starts, axis=1)

        return add

    def take_columns(self, table: Array, cols: Array) -> Array:
        if table.shape[0] == 1:
            return table[0][cols]
        if cols.shape[0] == 1:
            return table[:, cols[0]]
        return np.take_along_axis(table, cols, axis=1)

    def put_columns(self, like: Array, cols: Array, values: Array) -> Array:
        out = np.zeros(like.shape)
        if like.shape[0] == 1:  # one row for every sample: the samples' shares add up
            cols, values = np.broadcast_arrays(cols, values)
            out[0] = np.bincount(cols.ravel(), weights=values.ravel(), minlength=like.shape[1])
        elif cols.shape[0] == 1:
            out[:, cols[0]] = values  # the columns of one row are distinct: one per output
        else:
            np.put_along_axis(out, cols, values, axis=1)
        return out

    def whole_in_range(self, x: Array, n: int) -> Array:
        return (x >= 0) & (x < n) & (np.floor(x) == x)

    def to_int(self, x: Array) -> Array:
        return x.astype(np.intp)

    def finite_rows(self, a: Array) -> list[bool]:
        return np.isfinite(a).all(axis=1).tolist()  # type: ignore[no-any-return]

    def true_rows(self, mask: Array) -> list[bool]:
        return mask.all(axis=1).tolist()  # type: ignore[no-any-return]

    def select_rows(self, a: Array, rows: list[int]) -> Array:
        return a[rows]

    def trapping(self) -> Any:
        return np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")

    def quiet(self) -> Any:
        return np.errstate(all="ignore")

    def clean(self, inputs: list[Array], registers: list[Array], returned: list[Array]) -> bool:
        return all(np.isfinite(a).all() for a in inputs + returned)
