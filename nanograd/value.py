"""``Value``: one real number in a graph of scalar operations, and backpropagation.

Every arithmetic operator and math method on a ``Value`` looks its op up in the
op table (:mod:`nanograd.ops`), computes the result with the op's forward rule and
records the inputs and the op on the new node. ``backpropagate()`` then walks the
graph from the output back to the inputs, applying each op's vjp rule: that loop,
:func:`_propagate`, is the chain rule, and it is the only place it lives.

A node stores data, not closures: its op and its one or two inputs, in order (two
slots, read as the ordered tuple ``inputs``, so ``a + a`` keeps both edges). Graphs
therefore contain no reference cycles and are freed as soon as the last reference to
the output goes away; and with one garbage-collected object per node instead of a
node plus a tuple, the cycle collector has half as much to scan.

Numbers and errors
------------------
* A ``Value`` holds a Python float. Non-real input (``"abc"``, ``None``, complex)
  raises ``TypeError`` naming the operation and the value.
* Domain errors raise the exception Python's :mod:`math` would, with the op and its
  inputs in the message: ``ValueError`` for ``log``/``sqrt`` outside their domain and
  for a negative base to a fractional power (never a complex number),
  ``ZeroDivisionError`` for division by zero and zero to a negative power.
* Overflow: when finite inputs give an infinite or NaN result (``exp(1000)``,
  ``1e308 * 10``), the op raises ``OverflowError``. Infinite or NaN *inputs* are
  allowed and follow IEEE-754 (``inf + 1 == inf``), as in PyTorch.
* Backpropagation follows IEEE-754 as PyTorch float64 does (an overflowing gradient
  is +-inf), except where a local derivative is infinite (``sqrt`` or ``x ** 0.5`` at
  0): it raises ``ZeroDivisionError`` naming the op. The gradient of ``x ** y`` with
  respect to ``y`` is NaN for a negative ``x``, as in PyTorch.
* Backpropagation reads the numbers held in the graph: assigning ``.data`` of a used
  Value before ``backpropagate()`` gives gradients at the new number (not detected).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import operator
import sys
from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING

from .ops import FLOAT_MATH, OPS, Op, power

if TYPE_CHECKING:
    import torch

Number = int | float

_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("nanograd_grad_enabled", default=True)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Within this block operations build no graph: results are plain leaves.

    Use it for inference and for parameter updates. The setting is per thread and
    per asyncio task (a :mod:`contextvars` variable).
    """
    token = _grad_enabled.set(False)
    try:
        yield
    finally:
        _grad_enabled.reset(token)


def is_grad_enabled() -> bool:
    """Whether operations currently record the graph (``False`` inside ``no_grad``)."""
    return _grad_enabled.get()


def _to_float(x: object, what: str) -> float:
    """Convert a real number to float, or raise a TypeError naming ``what`` and ``x``."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:  # an int past 1.8e308: its repr may run to thousands of digits
            size = f"{'-' if x < 0 else ''}10**{math.log10(abs(x)):.1f}"
            raise OverflowError(f"{what}: {size} is too large for a float (at most {sys.float_info.max!r})") from None
    raise TypeError(f"{what}: expected a real number or a Value, got {x!r} of type {type(x).__name__}")


def _call(op: Op, args: tuple[float, ...]) -> str:
    """``op(x, y)`` as error messages show it, with the exponent of ``power(k)``."""
    call = f"{op.name}({', '.join(repr(a) for a in args)})"
    return call if op.param is None else f"{call} with exponent {op.param!r}"


def _op_error(op: Op, args: tuple[float, ...], e: Exception, during: str = "") -> Exception:
    """``e`` re-raised as the same type, with a message naming the op and its inputs."""
    return type(e)(f"{during}{_call(op, args)}: {e}")


def _check_finite(op: Op, out: float, args: tuple[float, ...]) -> None:
    # Overflow policy: a finite input (a constant exponent included) never silently becomes inf or nan.
    if all(math.isfinite(a) for a in args) and math.isfinite(op.param or 0.0):
        raise OverflowError(f"{_call(op, args)} is not finite: {out!r}")


def _node(data: float, rule: Op, a: Value, b: Value | None = None) -> Value:
    """A new Value produced by ``rule`` from ``a`` (and ``b``); a leaf under ``no_grad``."""
    out = Value.__new__(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    if _grad_enabled.get():
        out._a, out._b, out._rule = a, b, rule
    else:
        out._a = out._b = out._rule = None
    return out


def _apply1(rule: Op, a: Value) -> Value:
    """``rule`` applied to one Value: forward on floats, then a new node."""
    x = a.data
    try:
        out = rule.forward(FLOAT_MATH, x)
    except (ArithmeticError, ValueError) as e:
        raise _op_error(rule, (x,), e) from None
    if not math.isfinite(out):
        _check_finite(rule, out, (x,))
    return _node(out, rule, a)


def _apply2(rule: Op, a: Value, b: Value) -> Value:
    """``rule`` applied to two Values: forward on floats, then a new node."""
    x, y = a.data, b.data
    try:
        out = rule.forward(FLOAT_MATH, x, y)
    except (ArithmeticError, ValueError) as e:
        raise _op_error(rule, (x, y), e) from None
    if not math.isfinite(out):
        _check_finite(rule, out, (x, y))
    return _node(out, rule, a, b)


class Value:
    """A scalar in a computation graph: ``.of`` is the number, ``.gradient`` its gradient.

    The micrograd names ``.data``, ``.grad`` and ``.backward()`` are the same
    attributes and method under a second name. ``label`` is an optional name shown
    by :func:`nanograd.draw_dot`.
    """

    __slots__ = ("_a", "_b", "_rule", "data", "grad", "label")

    def __init__(self, data: Number, label: str = "") -> None:
        self.data = _to_float(data, "Value")
        self.grad = 0.0
        self._a: Value | None = None  # first input (None for a leaf)
        self._b: Value | None = None  # second input (None for a leaf or a unary op)
        self._rule: Op | None = None
        self.label = label

    # -- names -----------------------------------------------------------------
    @property
    def of(self) -> float:
        """The number this Value holds (same as ``.data``)."""
        return self.data

    @of.setter
    def of(self, x: Number) -> None:
        self.data = _to_float(x, "Value.of")

    @property
    def gradient(self) -> float:
        """d(output)/d(this value) after ``backpropagate()`` (same as ``.grad``)."""
        return self.grad

    @gradient.setter
    def gradient(self, g: Number) -> None:
        self.grad = _to_float(g, "Value.gradient")

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The Values this one was computed from, as an ordered tuple (empty for a leaf)."""
        if self._b is not None:
            return (self._a, self._b)
        return () if self._a is None else (self._a,)

    @property
    def op(self) -> Op | None:
        """The op table entry that produced this Value, or ``None`` for a leaf."""
        return self._rule

    @property
    def _prev(self) -> tuple[Value, ...]:
        """micrograd's name for :attr:`inputs` (read-only)."""
        return self.inputs

    @property
    def _op(self) -> str:
        """micrograd's name for the op symbol, ``''`` for a leaf (read-only)."""
        return self._rule.symbol if self._rule is not None else ""

    def __repr__(self) -> str:
        return f"Value(of={self.data!r}, gradient={self.grad!r})"

    # -- operators not generated from the table (see the end of this module) -------
    def __pow__(self, other: Value | Number) -> Value:
        if isinstance(other, Value):
            return _apply2(OPS["pow"], self, other)
        return _apply1(power(_to_float(other, "**")), self)

    def __rpow__(self, other: Number) -> Value:
        return _apply2(OPS["pow"], _as_value(other, "**"), self)

    def __neg__(self) -> Value:
        return _apply1(OPS["neg"], self)

    def __pos__(self) -> Value:
        return self

    def __float__(self) -> float:
        return self.data

    # -- PyTorch (the optional extra, imported on first use) ---------------------------
    @classmethod
    def from_torch(cls, tensor: torch.Tensor) -> Value:
        """A new leaf holding the number in a 0-d or one-element torch tensor."""
        from .pytorch import value_from_tensor

        return value_from_tensor(tensor)

    def to_torch(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """A 0-d torch tensor holding this Value's number (float64 unless ``dtype`` says otherwise)."""
        from .pytorch import value_to_tensor

        return value_to_tensor(self) if dtype is None else value_to_tensor(self, dtype)

    # -- backpropagation -------------------------------------------------------------
    def backpropagate(self) -> None:
        """Fill ``.gradient`` of every Value this one depends on with d(self)/d(value).

        Leaves (inputs and parameters) *accumulate*, like PyTorch's ``.grad``: a
        second call adds the same gradient again, so clear them between steps with
        :func:`zero_grad` (or ``Module.zero_grad()``). Intermediate nodes are reset
        on every call, so nothing is counted twice through them. The traversal is
        iterative: graphs millions of nodes deep need no recursion.
        """
        _propagate(self)

    backward = backpropagate


def _number(x: Value | Number, what: str) -> float:
    """The number in ``x``, a Value or a real number; TypeError names ``what``."""
    return x.data if isinstance(x, Value) else _to_float(x, what)


def _as_value(x: Value | Number, what: str) -> Value:
    """``x`` itself if it is a Value, else a new constant leaf; TypeError names ``what``."""
    return x if isinstance(x, Value) else Value(_to_float(x, what))


def _binary(op: Op, name: str, reflected: bool = False) -> Callable[[Value, Value | Number], Value]:
    """The operator method ``name`` for binary ``op``; ``reflected`` for ``__radd__`` and friends."""

    def method(self: Value, other: Value | Number) -> Value:
        if type(other) is not Value:
            other = _as_value(other, op.symbol)
        return _apply2(op, other, self) if reflected else _apply2(op, self, other)

    method.__name__ = name
    method.__doc__ = f"{op.doc} (op {op.name!r})"
    return method


def _unary(op: Op) -> Callable[[Value], Value]:
    """The method ``Value.<op.name>()`` for unary ``op``."""

    def method(self: Value) -> Value:
        return _apply1(op, self)

    method.__name__ = op.name
    method.__doc__ = f"{op.doc} (op {op.name!r})"
    return method


def _comparison(compare: Callable[[float, float], bool], symbol: str) -> Callable[[Value, Value | Number], bool]:
    """``<`` and friends: compare the numbers and return a plain bool (``==`` stays identity)."""

    def method(self: Value, other: Value | Number) -> bool:
        return compare(self.data, _number(other, symbol))

    method.__name__ = f"__{compare.__name__}__"
    return method


#: Binary op name -> the Python operator that applies it (``__add__`` and ``__radd__``).
#: ``**`` is written out in the class: a number as exponent selects a different op.
OPERATORS = {"add": "add", "sub": "sub", "mul": "mul", "div": "truediv"}

for _op_name, _dunder in OPERATORS.items():
    setattr(Value, f"__{_dunder}__", _binary(OPS[_op_name], f"__{_dunder}__"))
    setattr(Value, f"__r{_dunder}__", _binary(OPS[_op_name], f"__r{_dunder}__", reflected=True))
for _op in OPS.values():
    if _op.arity == 1 and _op.name != "neg":  # neg is the operator -v
        setattr(Value, _op.name, _unary(_op))
for _compare, _symbol in ((operator.lt, "<"), (operator.le, "<="), (operator.gt, ">"), (operator.ge, ">=")):
    setattr(Value, f"__{_compare.__name__}__", _comparison(_compare, _symbol))
del _op_name, _dunder, _op, _compare, _symbol


#: Stack marker in :func:`_topological_order`: the node below it has all its inputs done.
_INPUTS_DONE = object()


def _topological_order(root: Value) -> list[Value]:
    """Every Value ``root`` depends on, each one after all of its inputs (``root`` last).

    An iterative depth-first walk (no recursion limit). Intermediate nodes have their
    gradient reset to 0 on the way, so a second backprop counts nothing twice.
    """
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if node is _INPUTS_DONE:
            node = stack.pop()
            node.grad = 0.0
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        a, b = node._a, node._b
        if a is None:  # a leaf
            order.append(node)
            continue
        stack.append(node)
        stack.append(_INPUTS_DONE)
        if a not in visited:
            stack.append(a)
        if b is not None and b not in visited:
            stack.append(b)
    return order


def _propagate(root: Value) -> None:
    """The chain rule: from ``root`` back, add each node's vjp into its inputs' gradients.

    Nodes are visited in reverse topological order, so a node's gradient is complete
    (every node computed from it has passed its share on) before it is passed on.
    """
    order = _topological_order(root)
    root.grad = 1.0 if root._rule is not None else root.grad + 1.0
    for node in reversed(order):
        rule = node._rule
        if rule is None:
            continue
        a, b = node._a, node._b
        try:
            if b is None:
                grads = rule.vjp(FLOAT_MATH, node.grad, node.data, a.data)
            else:
                grads = rule.vjp(FLOAT_MATH, node.grad, node.data, a.data, b.data)
        except (ArithmeticError, ValueError) as e:
            args = tuple(v.data for v in node.inputs)
            raise _op_error(rule, args, e, during="backpropagate through ") from None
        a.grad += grads[0]
        if b is not None:
            b.grad += grads[1]


def zero_grad(values: Iterable[Value]) -> None:
    """Set ``.gradient`` of each Value to 0 (call it between training steps)."""
    for v in values:
        v.grad = 0.0


#: The math namespace for Values: op rules evaluated with it build graphs, which is
#: what makes higher-order gradients possible.
VALUE_MATH = SimpleNamespace(
    **{op.name: _unary(op) for op in OPS.values() if op.arity == 1 and op.name != "neg"},
    sign=lambda v: FLOAT_MATH.sign(v.data),
    pow=lambda x, y: x**y,
    xlogy=lambda x, y: x * y.log() if x.data != 0.0 else 0.0,
    where=FLOAT_MATH.where,
)
