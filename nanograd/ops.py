"""The op table: every operation nanograd knows, in one place.

Each :class:`Op` says how to compute its result (``forward``) and how to push a
gradient back to its inputs (``vjp``, the vector-Jacobian product). Both rules are
written against a *math namespace* ``m`` instead of the :mod:`math` module, so
the same rule runs on Python floats (:data:`FLOAT_MATH`, the eager engine), on
:class:`~nanograd.value.Value` objects (higher-order gradients) and on torch
tensors (:data:`nanograd.pytorch.TORCH_MATH`); a batched backend would only need a
numpy namespace. A namespace must
provide the functions the rules call: ``exp log sqrt sin cos tanh sigmoid relu
abs sign pow xlogy where`` (``where(c, a, b)`` is ``a`` where ``c`` holds, else ``b``:
the select that keeps ``0 * inf`` out of a rule). Ops are unary or binary.

Rule signatures::

    forward(m, *inputs)           -> output
    vjp(m, g, out, *inputs)       -> one gradient contribution per input

where ``g`` is the gradient arriving at the output and ``out`` is the output
itself (so ``exp`` can reuse its result, as PyTorch's derivatives.yaml does).

How to add an op
----------------
1. Add one ``Op(...)`` entry to :data:`OPS` below (name, symbol, arity, forward,
   vjp). Use only ``+ - * /``, comparisons and functions of ``m`` in the rules;
   if you need a new function, add it to every math namespace.
2. Unary ops become methods of ``Value`` automatically (``Value.<name>()``);
   a binary op gets its Python operator from ``OPERATORS`` in ``value.py``.
3. Add one row to ``OP_CASES`` in ``tests/test_ops.py``: an expression that runs on
   Values and torch tensors alike, and the input range; the PyTorch,
   finite-difference and second-derivative tests pick it up from there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: its name, display symbol, arity and its two rules."""

    name: str
    symbol: str
    arity: int
    forward: Callable[..., Any]
    vjp: Callable[..., tuple]
    doc: str = ""
    param: float | None = None  # the constant exponent of power(k); None for other ops

    def __post_init__(self) -> None:
        if self.arity not in (1, 2):
            raise ValueError(f"Op {self.name!r}: arity must be 1 or 2, got {self.arity!r}")

    def __repr__(self) -> str:
        return f"Op({self.name!r}, symbol={self.symbol!r}, arity={self.arity})"


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


#: The math namespace for Python floats, used by the eager engine.
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
)


def _is_zero(m: Any, v: Any) -> Any:
    # v == 0 in every namespace (a Value's == is identity); False for NaN.
    return m.abs(v) <= 0


def _pow_base_grad(m: Any, g: Any, x: Any, y: Any) -> Any:
    """``g * y * x ** (y - 1)``, the gradient of ``x ** y`` for ``x``.

    Where ``y == 0`` it is 0 (as in PyTorch), even at ``x == 0`` or for an infinite
    ``g``: both selects are needed because every argument is evaluated, so the
    discarded branch must not divide by zero either.
    """
    zero = _is_zero(m, y)
    return m.where(zero, 0.0, g * y * m.pow(x, m.where(zero, 1.0, y - 1)))


def _pow_exponent_grad(m: Any, g: Any, out: Any, x: Any) -> Any:
    """``g * out * log(x)``, the gradient of ``out = x ** y`` for ``y``.

    NaN for a negative ``x`` (no real logarithm), as in PyTorch, except where ``out``
    is 0 (PyTorch: NaN there too). At ``x == 0`` it is 0 for ``y >= 0`` (as in
    PyTorch: ``0 ** y`` is flat for ``y > 0``), NaN for a NaN ``y``.
    """
    return g * m.where(_is_zero(m, x), 0.0 * out, m.xlogy(out, x))


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        # -- binary arithmetic -------------------------------------------------
        Op("add", "+", 2, lambda m, x, y: x + y, lambda m, g, out, x, y: (g, g), "x + y"),
        Op("sub", "-", 2, lambda m, x, y: x - y, lambda m, g, out, x, y: (g, -g), "x - y"),
        Op("mul", "*", 2, lambda m, x, y: x * y, lambda m, g, out, x, y: (g * y, g * x), "x * y"),
        # d(x/y)/dy = -x/y**2 = -out/y
        Op("div", "/", 2, lambda m, x, y: x / y, lambda m, g, out, x, y: (g / y, -g * out / y), "x / y"),
        # d(x**y)/dy = x**y * log(x) = out * log(x)
        Op(
            "pow",
            "**",
            2,
            lambda m, x, y: m.pow(x, y),
            lambda m, g, out, x, y: (_pow_base_grad(m, g, x, y), _pow_exponent_grad(m, g, out, x)),
            "x ** y, both differentiable",
        ),
        # -- unary -------------------------------------------------------------
        Op("neg", "neg", 1, lambda m, x: -x, lambda m, g, out, x: (-g,), "-x"),
        # A select, not g * (out > 0): an infinite g gives 0 where relu is flat, and a NaN
        # input passes g on, as in PyTorch.
        Op("relu", "relu", 1, lambda m, x: m.relu(x), lambda m, g, out, x: (m.where(out <= 0, 0.0, g),), "max(x, 0)"),
        Op("tanh", "tanh", 1, lambda m, x: m.tanh(x), lambda m, g, out, x: (g * ((1 - out) * (1 + out)),), "tanh(x)"),
        Op(
            "sigmoid",
            "sigmoid",
            1,
            lambda m, x: m.sigmoid(x),
            lambda m, g, out, x: (g * out * (1 - out),),
            "1 / (1 + exp(-x))",
        ),
        Op("exp", "exp", 1, lambda m, x: m.exp(x), lambda m, g, out, x: (g * out,), "e ** x"),
        Op("log", "log", 1, lambda m, x: m.log(x), lambda m, g, out, x: (g / x,), "natural logarithm, x > 0"),
        Op("sqrt", "sqrt", 1, lambda m, x: m.sqrt(x), lambda m, g, out, x: (g / (2 * out),), "square root, x >= 0"),
        # abs'(0) is taken as 0, as PyTorch does.
        Op("abs", "abs", 1, lambda m, x: m.abs(x), lambda m, g, out, x: (g * m.sign(x),), "|x|"),
        Op("sin", "sin", 1, lambda m, x: m.sin(x), lambda m, g, out, x: (g * m.cos(x),), "sin(x)"),
        Op("cos", "cos", 1, lambda m, x: m.cos(x), lambda m, g, out, x: (-g * m.sin(x),), "cos(x)"),
    )
}


def power(k: float) -> Op:
    """The unary op ``x ** k`` for a constant exponent ``k`` (symbol ``**k``).

    A constant exponent is not a graph node, so ``(-2) ** 3`` needs no logarithm
    of a negative number. Ops are cached per exponent (``3`` and ``3.0`` are one op).
    """
    k = float(k)
    return _power(int(k) if k.is_integer() else k)


@lru_cache(maxsize=256)
def _power(k: float) -> Op:
    # x ** 0 is constant: its derivative is 0 everywhere, 0 ** 0 and an infinite g included.
    vjp = (lambda m, g, out, x: (0.0,)) if k == 0 else (lambda m, g, out, x: (g * k * m.pow(x, k - 1),))
    return Op("power", f"**{k:g}", 1, lambda m, x: m.pow(x, k), vjp, f"x ** {k:g}, constant exponent", param=k)
