"""``Value``: one real number in a graph of scalar operations.

Every operator and math method of ``Value`` is a short method that names its op in the
op table (:mod:`nanograd.ops`), computes the result on floats and records a new node:
the op and its operands (see :class:`~nanograd.node.Node`). ``backpropagate()`` then
applies the chain rule from the output back to the inputs: the algorithm is
:func:`nanograd.backprop.backward`, about fifteen lines, and it is where to start reading.

A plain number used as an operand (``x + 1.0``, ``2 * x``) is stored in the node as a
float, a *literal*, not a new leaf: it costs nothing to create, walk or backpropagate
through. Graphs hold no reference cycles. Results of operations are plain ``Value``
objects, also for operands of a subclass. Numbers, errors and IEEE-754: :mod:`nanograd.errors`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

from . import backprop, fast_backprop, pickling
from .errors import describe_call, op_error, to_float
from .float_math import FLOAT_GRAD_MATH, FLOAT_MATH
from .grad_mode import ieee, recording
from .micrograd_compat import MicrogradNames, literal_leaf, record_custom_node
from .node import Node
from .ops import OPS, POWERS, Op, power

#: A plain real number.
Number = int | float
#: What arithmetic accepts next to a Value: another Value or a real number.
Operand = Union["Value", float, int]

_isfinite = math.isfinite
_new_value = object.__new__


def new_node(data: float, op: Op, a: object, b: object) -> Value:
    """A new Value produced by ``op`` from operands ``a`` and ``b`` (None when unary); a leaf under ``no_grad``.

    ``Value.__add__`` and ``Value.__mul__`` write these lines out instead of calling
    this function: they make most nodes of any weighted sum, and the call is an
    eighth of their cost (``tests/test_value.py`` checks that their nodes are the same).
    """
    if not _isfinite(data):
        check_overflow(op, data, (a,) if b is None else (a, b))
    out = _new_value(Value)
    out.data, out.grad, out.label = data, 0.0, ""
    if recording():
        out._a, out._b, out._operation = a, b, op
    else:
        out._a = out._b = out._operation = None
    return out


def check_overflow(op: Op, data: float, operands: Sequence[object]) -> None:
    """The overflow policy: a finite input never silently becomes inf or NaN (IEEE-754 within ieee_arithmetic)."""
    args = backprop.numbers_of(tuple(operands))
    if all(map(_isfinite, args)) and _isfinite(op.param or 0.0) and not ieee():  # an exponent is an input too
        raise OverflowError(f"{describe_call(op, args)} is not finite: {data!r}")


def _recover(op: Op, args: Sequence[float], e: Exception) -> float:
    """What ``op``'s forward gives on ``args`` after raising ``e``: IEEE-754's result within
    :func:`~nanograd.grad_mode.ieee_arithmetic`, else ``e`` again, naming the op and its inputs."""
    if ieee():  # Python's / raises where IEEE-754 divides into an infinity or a NaN
        result: float = FLOAT_GRAD_MATH.div(*args) if op is _DIV else op.forward(FLOAT_GRAD_MATH, *args)
        return result
    raise op_error(op, args, e) from None


def floats_forward(op: Op, fn: Callable[..., float], *args: float) -> float:
    """``fn(*args)``, ``op``'s forward on floats (see :func:`_recover` for its errors)."""
    try:
        return fn(*args)
    except (ArithmeticError, ValueError) as e:
        return _recover(op, args, e)


def unary_node(op: Op, fn: Callable[[float], float], a: Value) -> Value:
    """``op`` applied to the Value ``a``; ``fn`` is its forward on floats (tested against the table's)."""
    x = a.data
    try:
        out = fn(x)
    except (ArithmeticError, ValueError) as e:
        out = _recover(op, (x,), e)
    return new_node(out, op, a, None)


def as_literal(x: object, op: Op) -> float:
    """A plain-number operand as a float; TypeError names the op's symbol and the value."""
    return x if type(x) is float else to_float(x, op.symbol)


def _coerce(x: object, op: Op, reflected: str = "") -> Any:
    """An operand that is neither a float nor a plain Value: a Value subclass, or a number as a literal.

    An instance of a subclass that overrides the ``reflected`` operator gives ``NotImplemented``,
    so that Python calls that operator instead (as it does for a subclass of the left operand).
    """
    if isinstance(x, Value):
        return NotImplemented if reflected and getattr(type(x), reflected) is not getattr(Value, reflected) else x
    return as_literal(x, op)


def number_of(x: Value | float) -> float:
    """The number of an operand: a literal is its own number."""
    return x if type(x) is float else x.data  # type: ignore[union-attr]


_ADD, _SUB, _MUL, _DIV, _POW, _NEG = (OPS[name] for name in ("add", "sub", "mul", "div", "pow", "neg"))
_float_pow = FLOAT_MATH.pow
_RELU, _TANH, _SIGMOID, _EXP, _LOG, _SQRT, _ABS, _SIN, _COS = (
    OPS[name] for name in ("relu", "tanh", "sigmoid", "exp", "log", "sqrt", "abs", "sin", "cos")
)


class Value(Node, MicrogradNames):
    """A scalar in a computation graph: ``.of`` is the number, ``.gradient`` its gradient.

    The micrograd names ``.data``, ``.grad`` and ``.backward()`` are the same
    attributes and method under a second name. ``label`` is an optional name shown
    by :func:`nanograd.draw_dot`.

    ``Value(data, children, op_symbol)`` is micrograd's way to write a custom op:
    assign the node's ``_backward`` afterwards (see :mod:`nanograd.micrograd_compat`).
    """

    __slots__ = ()

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "", *, label: str = "") -> None:
        self.data = to_float(data, "Value")
        self.grad = 0.0
        self.label = label
        self._a = self._b = self._operation = None
        if isinstance(_children, str):
            raise TypeError(f"Value: the second argument is micrograd's children tuple; write label={_children!r}")
        record_custom_node(self, tuple(_children), _op)

    # -- names -----------------------------------------------------------------
    @property
    def of(self) -> float:
        """The number this Value holds (same as ``.data``)."""
        return self.data

    @of.setter
    def of(self, x: float) -> None:
        self.data = to_float(x, "Value.of")

    @property
    def gradient(self) -> Any:
        """d(output)/d(this value) after ``backpropagate()`` (same as ``.grad``)."""
        return self.grad

    @gradient.setter
    def gradient(self, g: float) -> None:
        self.grad = to_float(g, "Value.gradient")

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The Values this one was computed from, as an ordered tuple (empty for a leaf).

        A literal operand (the ``1.0`` of ``x + 1.0``) appears as a new constant leaf at
        each read, holding the gradient it would have received as a leaf; the graph keeps
        the plain number (see :attr:`operands`). Reading changes nothing.
        """
        return tuple(x if type(x) is not float else literal_leaf(self, i, Value) for i, x in enumerate(self.operands))

    def __repr__(self) -> str:
        return f"Value(of={self.data!r}, gradient={self.grad!r})"

    def __format__(self, spec: str) -> str:
        """``f"{v:.4f}"`` formats the number; ``f"{v}"`` is the repr."""
        return format(self.data, spec) if spec else repr(self)

    # -- arithmetic: one method per op ---------------------------------------------
    def __add__(self, other: Operand) -> Value:
        """x + y (op 'add')."""
        if type(other) is float:  # a literal
            data = self.data + other
        elif type(other) is Value:
            data = self.data + other.data
        else:
            other = _coerce(other, _ADD, "__radd__")
            if other is NotImplemented:
                return NotImplemented
            data = self.data + number_of(other)
        # new_node(data, _ADD, self, other), written out
        if not _isfinite(data):
            check_overflow(_ADD, data, (self, other))
        out = _new_value(Value)
        out.data, out.grad, out.label = data, 0.0, ""
        if recording():
            out._a, out._b, out._operation = self, other, _ADD
        else:
            out._a = out._b = out._operation = None
        return out

    #: y + x is recorded as x + y: addition commutes exactly in floating point.
    __radd__ = __add__

    def __mul__(self, other: Operand) -> Value:
        """x * y (op 'mul')."""
        if type(other) is float:  # a literal
            data = self.data * other
        elif type(other) is Value:
            data = self.data * other.data
        else:
            other = _coerce(other, _MUL, "__rmul__")
            if other is NotImplemented:
                return NotImplemented
            data = self.data * number_of(other)
        # new_node(data, _MUL, self, other), written out
        if not _isfinite(data):
            check_overflow(_MUL, data, (self, other))
        out = _new_value(Value)
        out.data, out.grad, out.label = data, 0.0, ""
        if recording():
            out._a, out._b, out._operation = self, other, _MUL
        else:
            out._a = out._b = out._operation = None
        return out

    #: y * x is recorded as x * y: multiplication commutes exactly in floating point.
    __rmul__ = __mul__

    def __sub__(self, other: Operand) -> Value:
        """x - y (op 'sub')."""
        if type(other) is not float and type(other) is not Value:
            other = _coerce(other, _SUB, "__rsub__")
            if other is NotImplemented:
                return NotImplemented
        return new_node(self.data - (other if type(other) is float else other.data), _SUB, self, other)  # type: ignore[union-attr]

    def __rsub__(self, other: Operand) -> Value:
        """y - x for a number y (op 'sub')."""
        y = _coerce(other, _SUB)
        return new_node(number_of(y) - self.data, _SUB, y, self)

    def __truediv__(self, other: Operand) -> Value:
        """x / y (op 'div'); ZeroDivisionError for y == 0."""
        if type(other) is not float and type(other) is not Value:
            other = _coerce(other, _DIV, "__rtruediv__")
            if other is NotImplemented:
                return NotImplemented
        x, y = self.data, other if type(other) is float else other.data  # type: ignore[union-attr]
        try:
            out = x / y
        except ZeroDivisionError as e:
            out = _recover(_DIV, (x, y), e)
        return new_node(out, _DIV, self, other)

    def __rtruediv__(self, other: Operand) -> Value:
        """y / x for a number y (op 'div')."""
        y = _coerce(other, _DIV)
        return new_node(floats_forward(_DIV, operator.truediv, number_of(y), self.data), _DIV, y, self)

    def __pow__(self, other: Operand) -> Value:
        """x ** k for a number k (op ``power(k)``), or x ** y for a Value y (op 'pow')."""
        if isinstance(other, Value):
            if _coerce(other, _POW, "__rpow__") is NotImplemented:
                return NotImplemented
            return new_node(floats_forward(_POW, _float_pow, self.data, other.data), _POW, self, other)
        op = POWERS.get(other) if type(other) is int or type(other) is float else None
        if op is None:  # a new exponent, or something that is not a number (named in the TypeError)
            op = power(as_literal(other, _POW))
        x, k = self.data, op.param
        try:
            # A positive base can take ** directly: no complex result, no division by zero.
            out = x**k if x > 0.0 else _float_pow(x, k)  # type: ignore[operator]
        except OverflowError:
            out = math.inf  # x > 0: left to the overflow check, as _float_pow does
        except (ArithmeticError, ValueError) as e:
            out = _recover(op, (x,), e)
        return new_node(out, op, self, None)

    def __rpow__(self, other: Operand) -> Value:
        """k ** x for a number k (op 'pow')."""
        y = _coerce(other, _POW)
        return new_node(floats_forward(_POW, _float_pow, number_of(y), self.data), _POW, y, self)

    def __neg__(self) -> Value:
        """-x (op 'neg')."""
        return new_node(-self.data, _NEG, self, None)

    def __pos__(self) -> Value:
        """+x is x itself."""
        return self

    # -- math methods: one per unary op of the table ------------------------------------
    def relu(self) -> Value:
        """max(x, 0) (op 'relu')."""
        return unary_node(_RELU, FLOAT_MATH.relu, self)

    def tanh(self) -> Value:
        """tanh(x) (op 'tanh')."""
        return unary_node(_TANH, FLOAT_MATH.tanh, self)

    def sigmoid(self) -> Value:
        """1 / (1 + exp(-x)) (op 'sigmoid')."""
        return unary_node(_SIGMOID, FLOAT_MATH.sigmoid, self)

    def exp(self) -> Value:
        """e ** x (op 'exp')."""
        return unary_node(_EXP, FLOAT_MATH.exp, self)

    def log(self) -> Value:
        """Natural logarithm (op 'log'); ValueError for x <= 0."""
        return unary_node(_LOG, FLOAT_MATH.log, self)

    def sqrt(self) -> Value:
        """Square root (op 'sqrt'); ValueError for x < 0."""
        return unary_node(_SQRT, FLOAT_MATH.sqrt, self)

    def abs(self) -> Value:
        """|x| (op 'abs')."""
        return unary_node(_ABS, FLOAT_MATH.abs, self)

    def sin(self) -> Value:
        """sin(x) (op 'sin')."""
        return unary_node(_SIN, FLOAT_MATH.sin, self)

    def cos(self) -> Value:
        """cos(x) (op 'cos')."""
        return unary_node(_COS, FLOAT_MATH.cos, self)

    def maximum(self, other: Operand) -> Value:
        """The larger of x and y, NaN if either is (op 'maximum'); a tie shares the gradient."""
        return OPS["maximum"](self, other)  # type: ignore[no-any-return]

    def minimum(self, other: Operand) -> Value:
        """The smaller of x and y, NaN if either is (op 'minimum'); a tie shares the gradient."""
        return OPS["minimum"](self, other)  # type: ignore[no-any-return]

    # -- comparisons: numbers in, bool out (== and hash stay identity) ---------------------
    def __lt__(self, other: Operand) -> bool:
        return self.data < _compared(other, "<")

    def __le__(self, other: Operand) -> bool:
        return self.data <= _compared(other, "<=")

    def __gt__(self, other: Operand) -> bool:
        return self.data > _compared(other, ">")

    def __ge__(self, other: Operand) -> bool:
        return self.data >= _compared(other, ">=")

    # -- what would silently leave the graph ---------------------------------------------
    def __float__(self) -> float:
        raise TypeError(
            "float(Value) would detach the number from the graph, so no gradient could reach it: "
            "read the number with .of (or .data), and use the Value's methods (v.exp(), v.log(), ...) "
            "instead of math.exp(v)"
        )

    #: numpy defers to Value's reflected operators instead of looping over an array with it.
    __array_ufunc__ = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickling and ``copy.deepcopy``: a graph as plain data, any depth (see :mod:`nanograd.pickling`)."""
        return pickling.reduce(self)

    # -- backpropagation -------------------------------------------------------------
    def backpropagate(self, create_graph: bool = False) -> None:
        """Fill ``.gradient`` of every Value this one depends on with d(self)/d(value).

        Leaves (inputs and parameters) *accumulate*, like PyTorch's ``.grad``: a
        second call adds the same gradient again, so clear them between steps with
        :func:`~nanograd.functional.zero_grad` (or ``Module.zero_grad()``). Intermediate
        nodes are reset on every call, so nothing is counted twice through them. The
        traversal is iterative: graphs millions of nodes deep need no recursion.

        With ``create_graph=True`` the gradients are themselves Values, computed by
        the same rules evaluated on Values, so they can be backpropagated again
        (second and higher derivatives; see :func:`~nanograd.functional.grad`).

        The algorithm is :func:`nanograd.backprop.backward`; on floats this runs its fast
        path, :mod:`nanograd.fast_backprop`, unless ``nanograd.set_fast_backprop(False)``.
        """
        if create_graph:
            backprop.backward(self, Value(1.0))
        elif fast_backprop.enabled:
            fast_backprop.backward(self)
        else:
            backprop.backward(self)

    backward = backpropagate


def _compared(x: Operand, what: str) -> float:
    """The number in ``x``, a Value or a real number, for a comparison; TypeError names ``what``."""
    return x.data if isinstance(x, Value) else to_float(x, what)
