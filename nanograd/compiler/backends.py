"""Backends: interpreters of the op table that run a traced graph over a batch.

Each backend is a math namespace for the op rules (``exp``, ``relu``, ``pow``, ...) plus a
loop; none restates a derivative. ``run(graph, plan, params, batch, wrt)`` returns a
:class:`Result`: the outputs and, for each output in ``wrt``, the gradients of its sum over
the batch (summed over the batch for the captured parameters, per sample for the arguments).

* ``python`` -- :data:`~nanograd.ops.FLOAT_MATH`, one sample at a time, standard library only
  (:mod:`.python_backend`).
* ``numpy``  -- ``NUMPY_MATH`` over the lowered :class:`~.lowering.Plan` (:mod:`.numpy_backend`).
* ``torch``  -- ``TORCH_MATH`` over the same plan, on the batch's device (:mod:`.torch_backend`).

Every backend falls back to the eager engine where numbers stop being finite
(:mod:`.eager`), so all three give the eager engine's numbers and raise its errors. A batch
is real numbers: ``bool``, integer and float arrays and lists are accepted by every
backend, complex numbers and anything else refused (:func:`check_numbers`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..value import Value
from .result import Result

if TYPE_CHECKING:
    from .arrays import ArrayBackend
    from .python_backend import PythonBackend

__all__ = ["BACKENDS", "Backend", "Result", "as_number", "check_numbers", "default_backend"]


def check_numbers(batch: Any, what: str) -> Any:
    """``batch`` with every element checked to be a real number (arrays and tensors by their dtype)."""
    dtype = getattr(batch, "dtype", None)
    if dtype is not None:
        is_complex = getattr(batch, "is_complex", None)
        complex_tensor = callable(is_complex) and is_complex()
        if complex_tensor or getattr(dtype, "kind", "f") not in "biuf":
            raise TypeError(f"{what}: expected real numbers, got an array of {dtype}")
        return batch
    if not isinstance(batch, (list, tuple)):
        raise TypeError(f"{what}: expected a batch (a list or array of numbers), got {type(batch).__name__}")
    return [check_numbers(x, what) if isinstance(x, (list, tuple)) else as_number(x, what) for x in batch]


def as_number(x: object, what: str) -> float:
    """``x`` (a real number, or a Value's number) as a float, or TypeError naming ``what``."""
    if isinstance(x, Value):
        return x.data
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"{what}: expected a real number or a Value, got {x!r} of type {type(x).__name__}")


def _python() -> PythonBackend:
    from .python_backend import PythonBackend

    return PythonBackend()


def _numpy() -> ArrayBackend:
    from .numpy_backend import NumpyBackend

    return NumpyBackend()


def _torch() -> ArrayBackend:
    from .torch_backend import TorchBackend

    return TorchBackend()


#: A backend: an interpreter of the op table (see the module docstring).
Backend = "PythonBackend | ArrayBackend"
#: Backend name -> a function making one (its module, and its array library, imported then).
BACKENDS: dict[str, Callable[[], PythonBackend | ArrayBackend]] = {"python": _python, "numpy": _numpy, "torch": _torch}


def default_backend() -> str:
    """``numpy`` when numpy is installed, else ``python``."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return "python"
    return "numpy"
