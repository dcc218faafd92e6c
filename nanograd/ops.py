"""The op table: every operation nanograd knows, in one place.

Each :class:`Op` says how to compute its result (``forward``) and how to push a
gradient back to its inputs (``vjp``, the vector-Jacobian product). Both rules are
written against a *math namespace* ``m`` (:class:`MathNamespace`) instead of the
:mod:`math` module, so the same rule runs on Python floats
(:data:`~nanograd.float_math.FLOAT_MATH` and ``FLOAT_GRAD_MATH``: the eager engine), on
:class:`~nanograd.value.Value` objects (:data:`~nanograd.backprop.VALUE_MATH`:
``backpropagate(create_graph=True)``, i.e. higher-order gradients), on numpy arrays and
on torch tensors (the compiler's backends and the PyTorch bridge).

Rule signatures::

    forward(m, *inputs)           -> output
    vjp(m, g, out, *inputs)       -> one gradient contribution per input

where ``g`` is the gradient arriving at the output and ``out`` is the output
itself (so ``exp`` can reuse its result, as PyTorch's derivatives.yaml does).
The chain rule (:func:`nanograd.backprop.backward`) evaluates ``vjp`` for every node;
``Value``'s operator methods compute the forward on floats inline for speed, and
``tests/test_value.py`` checks each of them against ``forward``.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class MathNamespace(Protocol):
    """The functions op rules may call on ``m``; every backend provides all of them.

    ``nanograd.float_math.FLOAT_MATH`` and ``FLOAT_GRAD_MATH`` work on Python floats,
    ``nanograd.backprop.VALUE_MATH`` on Values (so rules build graphs: higher-order
    gradients), ``nanograd.pytorch.TORCH_MATH`` on tensors and
    ``nanograd.compiler.numpy_backend.NUMPY_MATH`` on numpy arrays. ``tests/test_ops.py``
    checks that each namespace has every function.
    """

    def exp(self, x: Any, /) -> Any:
        """e ** x."""

    def log(self, x: Any, /) -> Any:
        """The natural logarithm."""

    def sqrt(self, x: Any, /) -> Any:
        """The square root."""

    def sin(self, x: Any, /) -> Any:
        """sin(x)."""

    def cos(self, x: Any, /) -> Any:
        """cos(x)."""

    def tanh(self, x: Any, /) -> Any:
        """tanh(x)."""

    def sigmoid(self, x: Any, /) -> Any:
        """1 / (1 + e ** -x), without overflow."""

    def relu(self, x: Any, /) -> Any:
        """max(x, 0), NaN staying NaN."""

    def abs(self, x: Any, /) -> Any:
        """|x|."""

    def sign(self, x: Any, /) -> Any:
        """-1, 0 or 1 (0 for NaN)."""

    def pow(self, x: Any, y: Any, /) -> Any:
        """x ** y (real powers only)."""

    def div(self, x: Any, y: Any, /) -> Any:
        """``x / y`` following IEEE-754 (``1 / 0`` is inf); rules use it where a divisor can be 0."""

    def xlogy(self, x: Any, y: Any, /) -> Any:
        """x * log(y), 0 where x == 0."""

    def where(self, condition: Any, x: Any, y: Any, /) -> Any:
        """``x`` where ``condition`` holds, else ``y``: the select that keeps ``0 * inf`` out of a rule."""


#: How calling an op applies it to Values: :mod:`nanograd.generic_ops` installs its ``apply`` here
#: with :func:`set_applier` (the engine sits above the table; the table imports no engine).
_apply: Callable[..., Any] | None = None


def set_applier(apply: Callable[..., Any]) -> None:
    """Make ``op(*args)`` call ``apply(op, *args)`` (done once, by :mod:`nanograd.generic_ops`)."""
    global _apply
    _apply = apply


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
        if _apply is None:
            raise RuntimeError(f"op {self.name!r}: import nanograd to apply ops")
        return _apply(self, *args)

    def __reduce__(self) -> tuple[Callable[..., Op], tuple[str, float | None]]:
        # Pickled by name: the rules are code and never travel.
        return lookup, (self.name, self.param)


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
        # d(x/y)/dy = -x/y**2 = -out/y, with out/y first (as PyTorch): g * out alone can underflow.
        # m.div, not /, where a divisor can be 0: in a gradient's graph (IEEE-754) y == 0 exists.
        Op("div", "/", 2, lambda m, x, y: x / y, lambda m, g, out, x, y: (m.div(g, y), -g * m.div(out, y)), "x / y"),
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
        Op("log", "log", 1, lambda m, x: m.log(x), lambda m, g, out, x: (m.div(g, x),), "natural logarithm, x > 0"),
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


#: Names ``register_op`` refuses besides those in :data:`OPS`: ``power`` (:func:`power`'s ops,
#: looked up with their exponent), ``custom`` (micrograd-style custom nodes, which travel by
#: that name) and the leaf kinds of a compiled graph (``arg``, ``param``, ``const``).
RESERVED_NAMES = frozenset({"power", "custom", "arg", "param", "const"})
#: The longest name and display symbol ``register_op`` takes (names go into error messages,
#: symbols into drawings).
MAX_NAME_LENGTH = 64
MAX_SYMBOL_LENGTH = 32


def _on_numbers(*xs: Any) -> bool:
    # Whether a rule runs on plain Python numbers (FLOAT_MATH) rather than Values, tensors or arrays.
    return all(isinstance(x, (int, float)) for x in xs)


def _as_float(name: str, what: str, x: Any) -> float:
    """``x``, a rule's result on Python numbers, as a float; TypeError naming op ``name`` unless an int or float."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"op {name!r}: {what} must be a float, got {x!r:.60} of type {type(x).__name__}")
    try:
        return float(x)
    except OverflowError:  # an int beyond float's range
        raise OverflowError(f"op {name!r}: {what} {x!r:.60} does not fit in a float") from None


def _check_text(what: str, text: object, limit: int) -> str:
    """``text`` if it is a non-empty printable str of at most ``limit`` characters, else ValueError."""
    if not isinstance(text, str) or not 0 < len(text) <= limit or not text.isprintable():
        raise ValueError(
            f"register_op: the {what} must be a non-empty printable str of at most {limit} characters "
            f"(no control characters), got {text!r:.80}"
        )
    return text


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
    Values (higher-order gradients) and on torch tensors.

    ``name`` is an identifier of at most :data:`MAX_NAME_LENGTH` characters, neither an op
    of the table nor one of :data:`RESERVED_NAMES`; ``symbol`` (shown in drawings) a
    printable str of 1 to :data:`MAX_SYMBOL_LENGTH` characters; ``arity`` the int 1 or 2
    (ValueError otherwise). On Python numbers ``forward`` must return a real number (an int
    becomes a float; a bool or anything else raises TypeError naming the op), and ``vjp``
    must return a tuple of one gradient per input, each a number or of the type of ``g``
    (TypeError naming the op otherwise).
    """
    _check_text("name", name, MAX_NAME_LENGTH)
    if not name.isidentifier():
        raise ValueError(f"register_op: the name must be an identifier, got {name!r}")
    if name in OPS or name in RESERVED_NAMES:
        raise ValueError(f"register_op: an op named {name!r} exists already (or the name is reserved)")
    _check_text("symbol", symbol, MAX_SYMBOL_LENGTH)
    if type(arity) is not int or arity not in (1, 2):
        raise ValueError(f"register_op {name!r}: arity must be the int 1 or 2, got {arity!r}")
    for rule, what in ((forward, "forward"), (vjp, "vjp")):
        if not callable(rule):
            raise TypeError(f"register_op {name!r}: {what} must be a function, got {rule!r:.60}")
    if not isinstance(doc, str):
        raise TypeError(f"register_op {name!r}: doc must be a str, got {type(doc).__name__}")

    def checked_forward(m: MathNamespace, *xs: Any) -> Any:
        out = forward(m, *xs)
        if type(out) is float or not _on_numbers(*xs):
            return out  # on Values, tensors and arrays the namespace's own type
        return _as_float(name, "forward's result", out)

    def checked_vjp(m: MathNamespace, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
        grads = vjp(m, g, out, *xs)
        if not isinstance(grads, tuple) or len(grads) != arity:
            raise TypeError(f"op {name!r}: vjp must return a tuple of {arity} gradient(s), got {grads!r:.80}")
        if _on_numbers(g):
            return tuple(_as_float(name, "a gradient from vjp", x) for x in grads)
        for x in grads:
            if isinstance(x, bool) or not isinstance(x, (int, float, type(g))):
                raise TypeError(
                    f"op {name!r}: vjp returned {x!r:.60} of type {type(x).__name__} as a gradient; "
                    f"expected a number or a {type(g).__name__}"
                )
        return grads

    op = Op(name, symbol, arity, checked_forward, checked_vjp, doc)
    OPS[name] = op
    return op
