"""The op table: every operation nanograd knows, in one place.

Each :class:`Op` says how to compute its result (``forward``) and how to push a
gradient back to its inputs (``vjp``, the vector-Jacobian product). Both rules are
written against a *math namespace* ``m`` (:class:`MathNamespace`) instead of the
:mod:`math` module, so the same rule runs on Python floats (:data:`FLOAT_MATH`: the
eager engine's backprop), on :class:`~nanograd.value.Value` objects
(``VALUE_MATH``: ``backpropagate(create_graph=True)``, i.e. higher-order gradients)
and on torch tensors (``nanograd.pytorch.TORCH_MATH``: the PyTorch bridge).

Rule signatures::

    forward(m, *inputs)           -> output
    vjp(m, g, out, *inputs)       -> one gradient contribution per input

where ``g`` is the gradient arriving at the output and ``out`` is the output
itself (so ``exp`` can reuse its result, as PyTorch's derivatives.yaml does).
The engine's backprop (``_chain_rule`` in ``value.py``) evaluates ``vjp`` for every
node; ``Value``'s operator methods compute the forward on floats inline for speed,
and ``tests/test_value.py`` checks each of them against ``forward``.

How to add an op
----------------
1. Add one ``Op(...)`` entry to :data:`OPS` below (name, symbol, arity, forward,
   vjp). Use only ``+ - * /``, comparisons and functions of ``m`` in the rules;
   if you need a new function, add it to :class:`MathNamespace` and every namespace
   (a test fails until you do).
2. Give ``Value`` its one-line method in ``value.py`` (a test fails until you do).
3. Add one row to ``OP_CASES`` in ``tests/test_ops.py``: an expression that runs on
   Values and torch tensors alike, and the input range; the PyTorch,
   finite-difference and second-derivative tests pick it up from there.

Outside the library, :func:`register_op` adds an op at run time (no method; apply
it as ``op(x)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol


class MathNamespace(Protocol):
    """The functions op rules may call on ``m``; every backend provides all of them.

    ``FLOAT_MATH`` and ``FLOAT_GRAD_MATH`` (below) work on Python floats,
    ``nanograd.value.VALUE_MATH`` on Values (so rules build graphs: higher-order
    gradients), ``nanograd.pytorch.TORCH_MATH`` on tensors and
    ``nanograd.compiler.backends.NUMPY_MATH()`` on numpy arrays. ``tests/test_ops.py``
    checks that each namespace has every function.
    """

    def exp(self, x: Any, /) -> Any: ...
    def log(self, x: Any, /) -> Any: ...
    def sqrt(self, x: Any, /) -> Any: ...
    def sin(self, x: Any, /) -> Any: ...
    def cos(self, x: Any, /) -> Any: ...
    def tanh(self, x: Any, /) -> Any: ...
    def sigmoid(self, x: Any, /) -> Any: ...
    def relu(self, x: Any, /) -> Any: ...
    def abs(self, x: Any, /) -> Any: ...
    def sign(self, x: Any, /) -> Any: ...
    def pow(self, x: Any, y: Any, /) -> Any: ...
    def div(self, x: Any, y: Any, /) -> Any:
        """``x / y``; rules use it where a derivative can be infinite (``sqrt`` at 0)."""

    def xlogy(self, x: Any, y: Any, /) -> Any: ...
    def where(self, condition: Any, x: Any, y: Any, /) -> Any:
        """``x`` where ``condition`` holds, else ``y``: the select that keeps ``0 * inf`` out of a rule."""


#: The names every :class:`MathNamespace` provides.
MATH_FUNCTIONS = tuple(name for name in MathNamespace.__dict__ if not name.startswith("_"))


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: its name, display symbol, arity and its two rules.

    ``param`` is the op's constant parameter, kept as data (the exponent of
    :func:`power`; ``None`` for the other ops), so a graph can be written out and read
    back by op name alone (:func:`lookup`). Calling an op applies it to Values or
    numbers: ``OPS["tanh"](x)`` is ``x.tanh()``.
    """

    name: str
    symbol: str
    arity: int
    forward: Callable[..., Any]
    vjp: Callable[..., tuple[Any, ...]]
    doc: str = ""
    param: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.arity, int) or self.arity < 1:
            raise ValueError(f"Op {self.name!r}: arity must be a positive int, got {self.arity!r}")

    def __repr__(self) -> str:
        param = "" if self.param is None else f", param={self.param!r}"
        return f"Op({self.name!r}, symbol={self.symbol!r}, arity={self.arity}{param})"

    def __call__(self, *args: Any) -> Any:
        """Apply the op to ``arity`` Values or numbers and return the new Value."""
        from .value import apply  # the engine imports this module, not the other way round

        return apply(self, *args)

    def __reduce__(self) -> tuple[Callable[..., Op], tuple[str, float | None]]:
        # Pickled by name: the rules are code and never travel.
        return lookup, (self.name, self.param)


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


def _ieee_div(x: float, y: float) -> float:
    # x / y, but a nonzero x over 0 is inf with x's sign (0's sign aside: sqrt'(-0.0) is +inf,
    # as in PyTorch) and 0 / 0 is NaN, instead of a ZeroDivisionError.
    try:
        return x / y
    except ZeroDivisionError:
        return math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x)


def _ieee_pow(x: float, y: float) -> float:
    # _float_pow, but 0 to a negative power is +-inf (IEEE-754, PyTorch), not an error.
    if x == 0.0 and y < 0:
        odd = float(y).is_integer() and y % 2 == 1
        return math.copysign(math.inf, x) if odd else math.inf
    return _float_pow(x, y)


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
    div=_ieee_div,
)

#: ``FLOAT_MATH`` for backpropagation. A derivative that is infinite (``sqrt`` or
#: ``x ** 0.5`` at 0) is ``inf``, as in PyTorch, rather than an error: a later select
#: (``relu`` where it is flat) or a zero gradient can still make the result finite.
FLOAT_GRAD_MATH = SimpleNamespace(**{**vars(FLOAT_MATH), "pow": _ieee_pow})


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
    # y * x ** (y - 1) first, as PyTorch and micrograd group it: g * y alone can underflow.
    return m.where(zero, 0.0, g * (y * m.pow(x, m.where(zero, 1.0, y - 1))))


def _pow_exponent_grad(m: Any, g: Any, out: Any, x: Any) -> Any:
    """``g * out * log(x)``, the gradient of ``out = x ** y`` for ``y``.

    NaN for a negative ``x`` (no real logarithm), as in PyTorch, except where ``out``
    is 0 (PyTorch: NaN there too). At ``x == 0`` it is 0 for ``y >= 0`` (as in
    PyTorch: ``0 ** y`` is flat for ``y > 0``), NaN for a NaN ``y``.
    """
    return g * m.where(_is_zero(m, x), 0.0 * out, m.xlogy(out, x))


def _share_of_extreme(m: Any, g: Any, loses: Any, wins: Any, ties: Any) -> Any:
    """One input's share of ``g`` in ``maximum`` or ``minimum``, as in PyTorch.

    0 where the input ``loses`` (is not the result), ``g`` where it ``wins``, half of
    ``g`` where the two inputs tie, and ``g`` where a NaN leaves them unordered (the
    result is NaN, and PyTorch passes ``g`` to both).
    """
    return m.where(loses, 0.0, m.where(wins, g, m.where(ties, 0.5 * g, g)))


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        # -- binary arithmetic -------------------------------------------------
        Op("add", "+", 2, lambda m, x, y: x + y, lambda m, g, out, x, y: (g, g), "x + y"),
        Op("sub", "-", 2, lambda m, x, y: x - y, lambda m, g, out, x, y: (g, -g), "x - y"),
        Op("mul", "*", 2, lambda m, x, y: x * y, lambda m, g, out, x, y: (g * y, g * x), "x * y"),
        # d(x/y)/dy = -x/y**2 = -out/y, with out/y first (as PyTorch): g * out alone can underflow
        Op("div", "/", 2, lambda m, x, y: x / y, lambda m, g, out, x, y: (g / y, -g * (out / y)), "x / y"),
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
        Op("sqrt", "sqrt", 1, lambda m, x: m.sqrt(x), lambda m, g, out, x: (m.div(g, 2 * out),), "square root, x >= 0"),
        # abs'(0) is taken as 0, as PyTorch does.
        Op("abs", "abs", 1, lambda m, x: m.abs(x), lambda m, g, out, x: (g * m.sign(x),), "|x|"),
        Op("sin", "sin", 1, lambda m, x: m.sin(x), lambda m, g, out, x: (g * m.cos(x),), "sin(x)"),
        Op("cos", "cos", 1, lambda m, x: m.cos(x), lambda m, g, out, x: (-g * m.sin(x),), "cos(x)"),
        # -- data-dependent choices: selects, so an infinite g never meets a 0 ----------
        # The forward is a select on comparisons, no arithmetic: NaN wins (y >= y is False
        # only for a NaN y), and a tie gives x, as in PyTorch.
        Op(
            "maximum",
            "max",
            2,
            lambda m, x, y: m.where(x < y, y, m.where(y >= y, x, y)),
            lambda m, g, out, x, y: (
                _share_of_extreme(m, g, x < y, x > y, x >= y),
                _share_of_extreme(m, g, y < x, y > x, y >= x),
            ),
            "the larger of x and y (NaN if either is NaN)",
        ),
        Op(
            "minimum",
            "min",
            2,
            lambda m, x, y: m.where(y < x, y, m.where(y >= y, x, y)),
            lambda m, g, out, x, y: (
                _share_of_extreme(m, g, x > y, x < y, x <= y),
                _share_of_extreme(m, g, y > x, y < x, y <= x),
            ),
            "the smaller of x and y (NaN if either is NaN)",
        ),
    )
}


#: Exponent -> its ``power`` op. ``3`` and ``3.0`` are equal keys, so they share one op.
POWERS: dict[float, Op] = {}
_MAX_CACHED_POWERS = 1024


def power(k: float) -> Op:
    """The unary op ``x ** k`` for a constant exponent ``k`` (symbol ``**k``, ``param`` k).

    A constant exponent is not a graph node, so ``(-2) ** 3`` needs no logarithm
    of a negative number. Ops are cached per exponent (``3`` and ``3.0`` are one op).
    """
    op = POWERS.get(k)
    if op is not None:
        return op
    if not isinstance(k, (int, float)) or isinstance(k, bool):
        raise TypeError(f"power: the exponent must be a real number, got {k!r} of type {type(k).__name__}")
    k = float(k)
    # An integral exponent stays an int inside the rules, so x ** 3 is computed as Python computes it.
    e: float = int(k) if k.is_integer() else k
    op = Op(
        "power",
        f"**{e:g}",
        1,
        lambda m, x: m.pow(x, e),
        # x ** 0 is constant: its derivative is 0 everywhere, 0 ** 0 and an infinite g included.
        (lambda m, g, out, x: (0.0,)) if e == 0 else (lambda m, g, out, x: (g * (e * m.pow(x, e - 1)),)),
        f"x ** {e:g}, constant exponent",
        param=k,
    )
    if len(POWERS) < _MAX_CACHED_POWERS:
        POWERS[k] = op
    return op


def lookup(name: str, param: float | None = None) -> Op:
    """The op called ``name`` (``power`` needs its exponent as ``param``); ValueError if unknown."""
    if name == "power":
        if not isinstance(param, (int, float)) or isinstance(param, bool):
            raise ValueError(f"op 'power' needs its exponent as a number (param), got {param!r}")
        return power(param)
    op = OPS.get(name)
    if op is None:
        raise ValueError(f"unknown op {name!r} (known ops: {', '.join(sorted(OPS))}, power)")
    if param is not None:
        raise ValueError(f"op {name!r} takes no param, got {param!r}")
    return op


def register_op(
    name: str,
    symbol: str,
    arity: int,
    forward: Callable[..., Any],
    vjp: Callable[..., tuple[Any, ...]],
    doc: str = "",
) -> Op:
    """Add a new op to :data:`OPS` and return it; apply it with ``op(x)`` or ``op(x, y)``.

    Write both rules with the math namespace ``m`` (``m.exp``, ``m.log``, ...; see
    :class:`MathNamespace`) and ``+ - * /``: the same rules then run on floats, on
    Values (higher-order gradients) and on torch tensors. ``vjp`` must return a tuple
    with one gradient per input; a rule that does not raises a ``TypeError`` naming the op.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"register_op: the name must be an identifier, got {name!r}")
    if name in OPS or name == "power":
        raise ValueError(f"register_op: an op named {name!r} exists already")
    if arity not in (1, 2):
        raise ValueError(f"register_op {name!r}: arity must be 1 or 2, got {arity!r}")

    def checked_vjp(m: MathNamespace, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        grads = vjp(m, g, out, *xs)
        if not isinstance(grads, tuple) or len(grads) != arity:
            raise TypeError(f"op {name!r}: vjp must return a tuple of {arity} gradient(s), got {grads!r}")
        return grads

    op = Op(name, symbol, arity, forward, checked_vjp, doc)
    OPS[name] = op
    return op
