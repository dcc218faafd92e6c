"""The eager engine's math namespaces: the op table's rules evaluated on Python floats.

:data:`FLOAT_MATH` is what a Value's forward computes with: a domain error (``log(-1)``,
``0 ** -1``, a negative number to a fractional power) raises, as :mod:`math` does, so
that the op can name itself and its inputs in the message. :data:`FLOAT_GRAD_MATH` is
what backpropagation computes with: IEEE-754 arithmetic as in PyTorch, where such a
result is ``inf`` or ``NaN`` instead, because a later select (``relu`` where it is flat)
or a zero gradient can still make the final gradient finite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace


def _float_pow(x: float, y: float) -> float:
    # IEEE-754 pow (an overflow is +-inf, left to the caller's overflow check), except
    # where a real power does not exist: a negative base, -inf included, to a fractional
    # power is a ValueError (never a complex number), 0 to a negative power a division
    # by zero.
    if x == 0.0 and y < 0:
        raise ZeroDivisionError(f"0.0 cannot be raised to the negative power {y!r}")
    if x < 0 and math.isfinite(y) and not float(y).is_integer():
        raise ValueError(f"a negative number ({x!r}) cannot be raised to the fractional power {y!r}")
    try:
        return math.pow(x, y)
    except OverflowError:
        return -math.inf if x < 0 and y % 2 == 1 else math.inf  # an odd power keeps the sign


def _float_periodic(f: Callable[[float], float]) -> Callable[[float], float]:
    # sin and cos of +-inf are NaN, as in IEEE-754 and PyTorch (math raises ValueError).
    def periodic(x: float) -> float:
        return f(x) if not math.isinf(x) else math.nan

    periodic.__name__ = f.__name__
    return periodic


def _float_sigmoid(x: float) -> float:
    # Two branches keep exp() from overflowing for large |x|.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _float_xlogy(x: float, y: float) -> float:
    # x * log(y), with 0 when x == 0 (the exponent gradient of 0 ** k); nan for y < 0.
    if x == 0.0:
        return 0.0
    return x * math.log(y) if y > 0 else math.nan


def _ieee_div(x: float, y: float) -> float:
    # x / y, but a nonzero x over 0 is inf with x's sign (0's sign aside: sqrt'(-0.0) is +inf,
    # as in PyTorch) and 0 / 0 is NaN, instead of a ZeroDivisionError.
    try:
        return x / y
    except ZeroDivisionError:
        return math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x)


def _ieee_pow(x: float, y: float) -> float:
    # 0 to a negative power is +-inf and a negative base to a fractional power NaN
    # (IEEE-754, PyTorch), not an error.
    if x == 0.0 and y < 0:
        odd = float(y).is_integer() and y % 2 == 1
        return math.copysign(math.inf, x) if odd else math.inf
    if x < 0 and math.isfinite(y) and not float(y).is_integer():
        return math.nan
    return _float_pow(x, y)


def _ieee_log(x: float) -> float:
    # log(0) is -inf and the log of a negative number NaN, as in IEEE-754 and PyTorch.
    if x > 0 or math.isnan(x):
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _ieee_exp(x: float) -> float:
    # An exp beyond float64's range is inf, as in IEEE-754 and PyTorch.
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _ieee_sqrt(x: float) -> float:
    # The square root of a negative number is NaN, as in IEEE-754 and PyTorch.
    return math.sqrt(x) if not x < 0 else math.nan


#: The math namespace for Python floats, used by a Value's forward.
FLOAT_MATH = SimpleNamespace(
    exp=math.exp,
    log=math.log,
    sqrt=math.sqrt,
    sin=_float_periodic(math.sin),
    cos=_float_periodic(math.cos),
    tanh=math.tanh,
    sigmoid=_float_sigmoid,
    relu=lambda x: 0.0 if x < 0 else x,  # micrograd's form: NaN stays NaN
    sign=lambda x: float((x > 0) - (x < 0)),
    abs=abs,
    pow=_float_pow,
    xlogy=_float_xlogy,
    where=lambda c, a, b: a if c else b,
    div=_ieee_div,
)

#: ``FLOAT_MATH`` for backpropagation, with IEEE-754 results where ``FLOAT_MATH`` raises: a
#: derivative that is infinite (``sqrt`` or ``x ** 0.5`` at 0) is ``inf`` and one that does
#: not exist is ``NaN``, as in PyTorch.
FLOAT_GRAD_MATH = SimpleNamespace(
    **{**vars(FLOAT_MATH), "exp": _ieee_exp, "log": _ieee_log, "sqrt": _ieee_sqrt, "pow": _ieee_pow}
)
