"""Numbers in, errors out: converting operands to floats, and messages that name the op and its inputs.

Numbers and errors
------------------
* A ``Value`` holds a Python float. Non-real input (``"abc"``, ``None``, complex,
  a numpy array) raises ``TypeError`` naming the operation and the value.
  ``float(v)`` and ``math.exp(v)`` raise ``TypeError`` too: they would silently
  detach the number from the graph (read it with ``.of``; use ``v.exp()``).
* Domain errors raise the exception Python's :mod:`math` would, with the op and its
  inputs in the message: ``ValueError`` for ``log``/``sqrt`` outside their domain and
  for a negative base to a fractional power (never a complex number),
  ``ZeroDivisionError`` for division by zero and zero to a negative power.
* Overflow: when finite inputs give an infinite or NaN result (``exp(1000)``,
  ``1e308 * 10``), the op raises ``OverflowError``. Infinite or NaN *inputs* are
  allowed and follow IEEE-754 (``inf + 1 == inf``), as in PyTorch.
* Backpropagation follows IEEE-754 as PyTorch float64 does: an overflowing gradient
  is +-inf, and so is an infinite local derivative (``sqrt`` or ``x ** 0.5`` at 0);
  a derivative that does not exist is NaN (the gradient of ``x ** y`` with respect to
  ``y`` for a negative ``x``). Second derivatives (``create_graph=True``) follow the
  same arithmetic (:func:`~nanograd.grad_mode.ieee_arithmetic`).
* Backpropagation reads the numbers held in the graph: assigning ``.data`` of a used
  Value before ``backpropagate()`` gives gradients at the new number (not detected).
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ops import Op


def short(x: object) -> str:
    """``repr(x)``, cut short so that an error message stays one readable line."""
    text = repr(x)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-10:]} ({len(text)} characters)"


def to_float(x: object, what: str) -> float:
    """Convert a real number to float, or raise a TypeError naming ``what`` and ``x``."""
    if type(x) is float:
        return x
    if type(x) is int or isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:  # an int past 1.8e308: its repr may run to thousands of digits
            size = f"{'-' if x < 0 else ''}10**{math.log10(abs(x)):.1f}"
            raise OverflowError(f"{what}: {size} is too large for a float (at most {sys.float_info.max!r})") from None
    raise TypeError(f"{what}: expected a real number or a Value, got {short(x)} of type {type(x).__name__}")


def describe_call(op: Op, args: Iterable[float]) -> str:
    """``op(x, y)`` as error messages show it, with the exponent of ``power(k)``."""
    call = f"{op.name}({', '.join(repr(a) for a in args)})"
    return call if op.param is None else f"{call} with exponent {op.param!r}"


def op_error(op: Op, args: Iterable[float], e: Exception, during: str = "") -> Exception:
    """``e`` as the same exception type, with a message naming the op and its inputs."""
    return type(e)(f"{during}{describe_call(op, args)}: {e}")
