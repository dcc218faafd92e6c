"""Data-dependent choices as graph operations: ``where``, ``maximum``, ``minimum`` and ``take``.

Python chooses with numbers: ``if x > 0``, ``max(a, b)``, ``logits[label]``. Inside
:func:`nanograd.compile` the numbers of the arguments are not known while the function is
traced, so such Python raises ``TracedNumberError`` there. These functions make the
choice part of the graph instead, and do the same eagerly, so one function serves both::

    y = nanograd.where(x > 0, x, 0.01 * x)      # a leaky ReLU
    m = nanograd.maximum(a, b)                   # an op of the table, like a.maximum(b)
    p = nanograd.take(log_probs, label)          # log_probs[label], label an argument
    e = nanograd.take(embedding, token)          # a row of a table of vectors

Eagerly, ``where`` and ``take`` are plain choices: they return the chosen Value itself
(a number becomes a constant leaf), so the gradient flows to it and to nothing else. A
traced condition or index (the compiler's tracer) records the choice instead, through
the ``__nanograd_where__`` and ``__nanograd_take__`` methods of its class.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, overload

from .errors import short as _short
from .ops import OPS
from .value import Operand, Value


def where(condition: object, x: Operand, y: Operand) -> Value:
    """``x`` where ``condition`` holds, else ``y``.

    ``condition`` is a comparison: a ``bool`` eagerly (comparing Values compares their
    numbers), a recorded condition inside a compiled function (where ``x > 0``, ``a <= b``
    and their combinations with ``&`` and ``|`` are traced). Both ``x`` and ``y`` are
    computed either way; only the chosen one gets a gradient. A NaN compares false, so
    ``where(x > 0, a, b)`` is ``b`` for a NaN ``x``, as in Python.
    """
    select = getattr(type(condition), "__nanograd_where__", None)
    if select is not None:
        return select(condition, x, y)  # type: ignore[no-any-return]
    if type(condition) is not bool and getattr(getattr(condition, "dtype", None), "kind", "") != "b":
        raise TypeError(
            f"where: the condition must be a comparison such as x > 0 (a bool), got {_short(condition)} "
            f"of type {type(condition).__name__}"
        )
    return _as_value(x if condition else y)


def maximum(x: Operand, y: Operand) -> Value:
    """The larger of ``x`` and ``y`` (op ``maximum``): NaN if either is; a tie shares the gradient."""
    return OPS["maximum"](x, y)  # type: ignore[no-any-return]


def minimum(x: Operand, y: Operand) -> Value:
    """The smaller of ``x`` and ``y`` (op ``minimum``): NaN if either is; a tie shares the gradient."""
    return OPS["minimum"](x, y)  # type: ignore[no-any-return]


@overload
def take(values: Sequence[Sequence[Operand]], index: Operand) -> list[Value]: ...
@overload
def take(values: Sequence[Operand], index: Operand) -> Value: ...
def take(values: Sequence[Any], index: Operand) -> Value | list[Value]:
    """``values[index]`` for a whole-number ``index`` from 0 to ``len(values) - 1``.

    ``values`` holds Values or numbers, or rows of them (a table of vectors, such as an
    embedding): then the result is the row, as a list. ``index`` is a number or a Value
    holding a whole number (a class label, a token id: in a compiled function, an
    argument). A fractional, infinite or NaN index raises ``ValueError``, one outside the
    range ``IndexError`` (a negative index does not count from the end).
    """
    pick = getattr(type(index), "__nanograd_take__", None)
    if pick is not None:
        return pick(index, values)  # type: ignore[no-any-return]
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ValueError(f"take: expected a non-empty list of values, got {_short(values)}")
    chosen = values[whole_index(index, len(values), "take")]
    if isinstance(chosen, Sequence) and not isinstance(chosen, str):
        return [_as_value(v) for v in chosen]
    return _as_value(chosen)


def whole_index(index: object, n: int, what: str) -> int:
    """``index`` (a number or a Value) as an int in ``range(n)``; ValueError or IndexError naming ``what``."""
    number: Any = index.data if isinstance(index, Value) else index
    if isinstance(number, bool) or not isinstance(number, numbers.Real):
        raise TypeError(f"{what}: the index must be a whole number, got {_short(index)} of type {type(index).__name__}")
    x = float(number)
    if not math.isfinite(x) or x != math.floor(x):
        raise ValueError(f"{what}: the index must be a whole number, got {number!r}")
    i = int(x)
    if not 0 <= i < n:
        raise IndexError(f"{what}: index {i} is out of range for {n} values (0 to {n - 1})")
    return i


def _as_value(x: object) -> Value:
    """``x`` itself if it is a Value, else a constant leaf holding the number (TypeError if none)."""
    return x if isinstance(x, Value) else Value(x)  # type: ignore[arg-type]
