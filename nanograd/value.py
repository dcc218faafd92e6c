"""``Value``: one real number in a graph of scalar operations, and backpropagation.

Each operator and math method of ``Value`` is a short method that names its op from
the op table (:mod:`nanograd.ops`), computes the result and records a new node. The
chain rule lives in one loop, :func:`_chain_rule`: ``backpropagate()`` orders the
graph (:func:`_backprop_order`, the walk of :func:`topological_order` without the
leaves) and runs that loop from the output back to the inputs, evaluating each op's
vjp rule from the table.

A node stores data, not closures: its op and its inputs, in order (so ``a + a``
keeps both edges). A plain number used as an operand (``x + 1.0``, ``2 * x``) is
stored in the node as a float, a *literal*, rather than as a new leaf: it costs
nothing to create, to walk or to backpropagate through. ``inputs`` turns a literal
into a constant leaf the first time someone asks for it. Graphs contain no
reference cycles and are freed as soon as the last reference to the output goes
away.

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
  is +-inf, and so is an infinite local derivative (``sqrt`` or ``x ** 0.5`` at 0;
  the rules run with ``FLOAT_GRAD_MATH``). The gradient of ``x ** y`` with respect to
  ``y`` is NaN for a negative ``x``, as in PyTorch.
* Backpropagation reads the numbers held in the graph: assigning ``.data`` of a used
  Value before ``backpropagate()`` gives gradients at the new number (not detected).
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import math
import numbers
import operator
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any, Union

from .ops import FLOAT_GRAD_MATH, FLOAT_MATH, OPS, POWERS, MathNamespace, Op, power

#: A plain real number.
Number = int | float
#: What arithmetic accepts next to a Value: another Value or a real number.
Operand = Union["Value", float, int]

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


def _short(x: object) -> str:
    """``repr(x)``, cut short so that an error message stays one readable line."""
    text = repr(x)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-10:]} ({len(text)} characters)"


def _to_float(x: object, what: str) -> float:
    """Convert a real number to float, or raise a TypeError naming ``what`` and ``x``."""
    if type(x) is float:
        return x
    if type(x) is int or isinstance(x, numbers.Real):
        try:
            return float(x)
        except OverflowError:  # an int past 1.8e308: its repr may run to thousands of digits
            size = f"{'-' if x < 0 else ''}10**{math.log10(abs(x)):.1f}"
            raise OverflowError(f"{what}: {size} is too large for a float (at most {sys.float_info.max!r})") from None
    raise TypeError(f"{what}: expected a real number or a Value, got {_short(x)} of type {type(x).__name__}")


def _call(op: Op, args: Iterable[float]) -> str:
    """``op(x, y)`` as error messages show it, with the exponent of ``power(k)``."""
    call = f"{op.name}({', '.join(repr(a) for a in args)})"
    return call if op.param is None else f"{call} with exponent {op.param!r}"


def _op_error(op: Op, args: Iterable[float], e: Exception, during: str = "") -> Exception:
    """``e`` re-raised as the same type, with a message naming the op and its inputs."""
    return type(e)(f"{during}{_call(op, args)}: {e}")


def _node(data: float, op: Op, a: object, b: object) -> Value:
    """A new Value produced by ``op`` from ``a`` (and ``b``); a leaf under ``no_grad``.

    ``Value.__add__`` and ``Value.__mul__`` write these lines out instead of calling
    this function: they make most nodes of any weighted sum, and the call is an
    eighth of their cost (``tests/test_value.py`` checks that their nodes are the same).
    """
    if not _isfinite(data):
        _check_overflow(op, data, a, b)
    out = _new_value(Value)
    out.data, out.grad, out.label = data, 0.0, ""
    if _recording():
        out._a, out._b, out._operation = a, b, op
    else:
        out._a = out._b = out._operation = None
    return out


def _check_overflow(op: Op, data: float, a: object, b: object) -> None:
    """The overflow policy: a finite input never silently becomes inf or NaN."""
    args = _numbers(a, b)
    if all(_isfinite(x) for x in args) and _isfinite(op.param or 0.0):  # a constant exponent is an input too
        raise OverflowError(f"{_call(op, args)} is not finite: {data!r}")


_isfinite = math.isfinite
_recording = _grad_enabled.get  # bound once: called for every node
_new_value = object.__new__


def _forward(op: Op, fn: Callable[..., float], *args: float) -> float:
    """``fn(*args)``, ``op``'s forward on floats, its errors re-raised naming the op and the inputs."""
    try:
        return fn(*args)
    except (ArithmeticError, ValueError) as e:
        raise _op_error(op, args, e) from None


def _unary(op: Op, fn: Callable[[float], float], a: Value) -> Value:
    """``op`` applied to the Value ``a``; ``fn`` is its forward on floats (tested against the table's)."""
    x = a.data
    try:
        out = fn(x)
    except (ArithmeticError, ValueError) as e:
        raise _op_error(op, (x,), e) from None
    return _node(out, op, a, None)


def _literal(x: object, op: Op) -> float:
    """A plain-number operand as a float; TypeError names the op's symbol and the value."""
    return x if type(x) is float else _to_float(x, op.symbol)


def _on_floats(op: Op) -> Callable[..., float]:
    """``op``'s forward rule as a function of floats (for ops without a method)."""
    return lambda *xs: op.forward(FLOAT_MATH, *xs)


def apply(op: Op, *args: Operand) -> Value:
    """Apply ``op`` to ``arity`` operands (Values or numbers) and return the new Value.

    This is the generic path (``op(x)``, ops added with :func:`~nanograd.ops.register_op`);
    ``Value``'s methods do the same for the built-in ops. An operand whose class defines
    ``__nanograd_apply__(op, args)`` (the compiler's tracer) is handed the whole call instead.
    """
    for a in args:
        if type(a) is not Value and (hook := getattr(type(a), "__nanograd_apply__", None)) is not None:
            return hook(op, args)  # type: ignore[no-any-return]
    if len(args) != op.arity:
        raise TypeError(f"op {op.name!r} takes {op.arity} operand(s), got {len(args)}")
    if op.arity == 1:
        (a,) = args
        return _unary(op, _on_floats(op), a if isinstance(a, Value) else Value(_literal(a, op)))
    if op.arity == 2:
        a, b = args
        return _binary(op, a, b)
    raise TypeError(f"op {op.name!r} has {op.arity} inputs: record such nodes with make_node()")


def _binary(op: Op, a: Operand, b: Operand) -> Value:
    """``op`` applied to two operands; a number becomes a literal (two numbers: the first a leaf)."""
    if type(a) is not Value and type(b) is not Value:
        a = Value(_literal(a, op))
    x = a.data if type(a) is Value else _literal(a, op)
    y = b.data if type(b) is Value else _literal(b, op)
    return _node(_forward(op, _on_floats(op), x, y), op, a if type(a) is Value else x, b if type(b) is Value else y)


_ADD, _SUB, _MUL, _DIV, _POW, _NEG = (OPS[name] for name in ("add", "sub", "mul", "div", "pow", "neg"))
_divide, _float_pow = operator.truediv, FLOAT_MATH.pow
_RELU, _TANH, _SIGMOID, _EXP, _LOG, _SQRT, _ABS, _SIN, _COS = (
    OPS[name] for name in ("relu", "tanh", "sigmoid", "exp", "log", "sqrt", "abs", "sin", "cos")
)


class Value:
    """A scalar in a computation graph: ``.of`` is the number, ``.gradient`` its gradient.

    The micrograd names ``.data``, ``.grad`` and ``.backward()`` are the same
    attributes and method under a second name. ``label`` is an optional name shown
    by :func:`nanograd.draw_dot`.

    ``Value(data, children, op_symbol)`` is micrograd's way to write a custom op:
    assign the node's ``_backward`` afterwards (see :meth:`_backward`).
    """

    __slots__ = ("_a", "_b", "_operation", "data", "grad", "label")

    data: float
    #: A float, or a Value after ``backpropagate(create_graph=True)``.
    grad: Any
    label: str

    def __init__(self, data: float, _children: Iterable[Value] = (), _op: str = "", *, label: str = "") -> None:
        self.data = _to_float(data, "Value")
        self.grad = 0.0
        self.label = label
        # First input: a Value or a literal float, or a tuple of all inputs for an n-ary node (make_node).
        self._a: object = None
        self._b: object = None  # second input, a Value or a literal float; None for a unary op or a leaf
        self._operation: Op | None = None  # the op table entry that made this node; None for a leaf
        if isinstance(_children, str):
            raise TypeError(f"Value: the second argument is micrograd's children tuple; write label={_children!r}")
        if _children or _op:
            _custom_node(self, tuple(_children), _op)

    # -- names -----------------------------------------------------------------
    @property
    def of(self) -> float:
        """The number this Value holds (same as ``.data``)."""
        return self.data

    @of.setter
    def of(self, x: float) -> None:
        self.data = _to_float(x, "Value.of")

    @property
    def gradient(self) -> Any:
        """d(output)/d(this value) after ``backpropagate()`` (same as ``.grad``)."""
        return self.grad

    @gradient.setter
    def gradient(self, g: float) -> None:
        self.grad = _to_float(g, "Value.gradient")

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The Values this one was computed from, as an ordered tuple (empty for a leaf).

        A literal operand (the ``1.0`` of ``x + 1.0``) becomes a constant leaf the
        first time it is asked for, and stays that leaf.
        """
        if type(self._a) is float:
            self._a = self._literal_leaf(0)
        if type(self._b) is float:
            self._b = self._literal_leaf(1)
        return () if self._a is None else _operands(self._a, self._b)

    def _literal_leaf(self, i: int) -> Value:
        """Operand ``i``, a literal, as a constant leaf holding the gradient it has received.

        That gradient is the vjp rule's share for it, from this node's current
        gradient: what the constant would hold had it been a leaf all along.
        """
        leaf = Value(_operands(self._a, self._b)[i])
        if self.grad and type(self.grad) is float and self._operation is not None:
            numbers = _numbers(self._a, self._b)
            with contextlib.suppress(ArithmeticError, ValueError):
                leaf.grad = self._operation.vjp(FLOAT_GRAD_MATH, self.grad, self.data, *numbers)[i]
        return leaf

    @property
    def operands(self) -> tuple[Value | float, ...]:
        """Like :attr:`inputs`, but literal operands are the plain floats they are."""
        return () if self._a is None else _operands(self._a, self._b)

    @property
    def op(self) -> Op | None:
        """The op table entry that produced this Value, or ``None`` for a leaf."""
        return self._operation

    @property
    def _prev(self) -> tuple[Value, ...]:
        """micrograd's name for :attr:`inputs` (read-only)."""
        return self.inputs

    @property
    def _op(self) -> str:
        """micrograd's name for the op symbol, ``''`` for a leaf (read-only)."""
        return self._operation.symbol if self._operation is not None else ""

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's per-node backward step: calling it applies the chain rule at this node only.

        Assigning a function here (micrograd's custom-op idiom: ``out._backward = fn``,
        where ``fn`` adds into its inputs' ``.grad`` from ``out.grad``) makes that
        function this node's rule.
        """
        return lambda: _chain_rule((self,), create_graph=False)

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        if self._operation is None or self._operation.name != "custom":
            raise AttributeError("_backward can only be set on a node made as Value(data, children, op)")
        inputs = self._a
        assert type(inputs) is tuple
        self._operation = _custom_op(self._operation.symbol, len(inputs), fn)

    def __repr__(self) -> str:
        return f"Value(of={self.data!r}, gradient={self.grad!r})"

    # -- arithmetic: one method per op ---------------------------------------------
    def __add__(self, other: Operand) -> Value:
        """x + y (op 'add')."""
        if type(other) is float:  # a literal
            data = self.data + other
        elif type(other) is Value:
            data = self.data + other.data
        else:
            other = _to_float(other, _ADD.symbol)  # a literal
            data = self.data + other
        # _node(data, _ADD, self, other), written out
        if not _isfinite(data):
            _check_overflow(_ADD, data, self, other)
        out = _new_value(Value)
        out.data, out.grad, out.label = data, 0.0, ""
        if _recording():
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
            other = _to_float(other, _MUL.symbol)  # a literal
            data = self.data * other
        # _node(data, _MUL, self, other), written out
        if not _isfinite(data):
            _check_overflow(_MUL, data, self, other)
        out = _new_value(Value)
        out.data, out.grad, out.label = data, 0.0, ""
        if _recording():
            out._a, out._b, out._operation = self, other, _MUL
        else:
            out._a = out._b = out._operation = None
        return out

    #: y * x is recorded as x * y: multiplication commutes exactly in floating point.
    __rmul__ = __mul__

    def __sub__(self, other: Operand) -> Value:
        """x - y (op 'sub')."""
        y = other.data if type(other) is Value else other if type(other) is float else _to_float(other, _SUB.symbol)
        return _node(self.data - y, _SUB, self, other if type(other) is Value else y)

    def __rsub__(self, other: Operand) -> Value:
        """y - x for a number y (op 'sub')."""
        y = _literal(other, _SUB)
        return _node(y - self.data, _SUB, y, self)

    def __truediv__(self, other: Operand) -> Value:
        """x / y (op 'div'); ZeroDivisionError for y == 0."""
        y = other.data if type(other) is Value else other if type(other) is float else _to_float(other, _DIV.symbol)
        try:
            out = self.data / y
        except ZeroDivisionError as e:
            raise _op_error(_DIV, (self.data, y), e) from None
        return _node(out, _DIV, self, other if type(other) is Value else y)

    def __rtruediv__(self, other: Operand) -> Value:
        """y / x for a number y (op 'div')."""
        y = _literal(other, _DIV)
        return _node(_forward(_DIV, _divide, y, self.data), _DIV, y, self)

    def __pow__(self, other: Operand) -> Value:
        """x ** k for a number k (op ``power(k)``), or x ** y for a Value y (op 'pow')."""
        if type(other) is Value:
            return _node(_forward(_POW, _float_pow, self.data, other.data), _POW, self, other)
        op = POWERS.get(other) if type(other) is int or type(other) is float else None
        if op is None:  # a new exponent, or something that is not a number (named in the TypeError)
            op = power(_literal(other, _POW))
        x, k = self.data, op.param
        try:
            # A positive base can take ** directly: no complex result, no division by zero.
            out = x**k if x > 0.0 else _float_pow(x, k)  # type: ignore[operator]
        except OverflowError:
            out = math.inf  # x > 0: left to the overflow check, as _float_pow does
        except (ArithmeticError, ValueError) as e:
            raise _op_error(op, (x,), e) from None
        return _node(out, op, self, None)

    def __rpow__(self, other: Operand) -> Value:
        """k ** x for a number k (op 'pow')."""
        y = _literal(other, _POW)
        return _node(_forward(_POW, _float_pow, y, self.data), _POW, y, self)

    def __neg__(self) -> Value:
        """-x (op 'neg')."""
        return _node(-self.data, _NEG, self, None)

    def __pos__(self) -> Value:
        """+x is x itself."""
        return self

    # -- math methods: one per unary op of the table ------------------------------------
    def relu(self) -> Value:
        """max(x, 0) (op 'relu')."""
        return _unary(_RELU, FLOAT_MATH.relu, self)

    def tanh(self) -> Value:
        """tanh(x) (op 'tanh')."""
        return _unary(_TANH, FLOAT_MATH.tanh, self)

    def sigmoid(self) -> Value:
        """1 / (1 + exp(-x)) (op 'sigmoid')."""
        return _unary(_SIGMOID, FLOAT_MATH.sigmoid, self)

    def exp(self) -> Value:
        """e ** x (op 'exp')."""
        return _unary(_EXP, FLOAT_MATH.exp, self)

    def log(self) -> Value:
        """Natural logarithm (op 'log'); ValueError for x <= 0."""
        return _unary(_LOG, FLOAT_MATH.log, self)

    def sqrt(self) -> Value:
        """Square root (op 'sqrt'); ValueError for x < 0."""
        return _unary(_SQRT, FLOAT_MATH.sqrt, self)

    def abs(self) -> Value:
        """|x| (op 'abs')."""
        return _unary(_ABS, FLOAT_MATH.abs, self)

    def sin(self) -> Value:
        """sin(x) (op 'sin')."""
        return _unary(_SIN, FLOAT_MATH.sin, self)

    def cos(self) -> Value:
        """cos(x) (op 'cos')."""
        return _unary(_COS, FLOAT_MATH.cos, self)

    def maximum(self, other: Operand) -> Value:
        """The larger of x and y, NaN if either is (op 'maximum'); a tie shares the gradient."""
        return apply(OPS["maximum"], self, other)

    def minimum(self, other: Operand) -> Value:
        """The smaller of x and y, NaN if either is (op 'minimum'); a tie shares the gradient."""
        return apply(OPS["minimum"], self, other)

    # -- comparisons: numbers in, bool out (== and hash stay identity) ---------------------
    def __lt__(self, other: Operand) -> bool:
        return self.data < _number(other, "<")

    def __le__(self, other: Operand) -> bool:
        return self.data <= _number(other, "<=")

    def __gt__(self, other: Operand) -> bool:
        return self.data > _number(other, ">")

    def __ge__(self, other: Operand) -> bool:
        return self.data >= _number(other, ">=")

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
        # Pickling and copy.deepcopy: a leaf is its numbers; a computed Value is its leaves plus
        # its nodes as plain data (op names, not code), so any depth works without recursion.
        if self._operation is None:
            return (_leaf, (self.data, self.grad, self.label))
        return (_rebuild_graph, _graph_as_data(self))

    # -- backpropagation -------------------------------------------------------------
    def backpropagate(self, create_graph: bool = False) -> None:
        """Fill ``.gradient`` of every Value this one depends on with d(self)/d(value).

        Leaves (inputs and parameters) *accumulate*, like PyTorch's ``.grad``: a
        second call adds the same gradient again, so clear them between steps with
        :func:`zero_grad` (or ``Module.zero_grad()``). Intermediate nodes are reset
        on every call, so nothing is counted twice through them. The traversal is
        iterative: graphs millions of nodes deep need no recursion.

        With ``create_graph=True`` the gradients are themselves Values, computed by
        the same rules evaluated on Values, so they can be backpropagated again
        (second and higher derivatives; see :func:`grad`).
        """
        order = _backprop_order(self)  # intermediate gradients are 0 from here on
        _make_room_for_graphs(len(order))
        seed = 1.0 if self._operation is not None else self.grad + 1.0
        self.grad = Value(seed) if create_graph else seed
        order.reverse()
        _chain_rule(order, create_graph)

    backward = backpropagate


#: Whether nanograd may raise the cycle collector's first threshold (see :func:`set_gc_tuning`).
_gc_tuning = True
#: The threshold is kept at this many times the nodes of the largest graph backpropagated so far ...
_GC_HEADROOM = 4
#: ... but never raised beyond this.
_GC_MAX_THRESHOLD = 4_000_000


def _make_room_for_graphs(nodes: int) -> None:
    """Let the next graphs of this size be built and freed without a cycle collection.

    Graphs hold no reference cycles: reference counting frees each one as soon as the
    last reference to its output goes. But CPython's cycle collector runs every 700
    net object allocations and rescans every live graph node each time, which
    doubled the cost of building a graph. Its counter counts allocations minus
    frees, so a first threshold of a few graphs' worth of nodes lets training
    steps build and free their graphs without a collection, while cyclic garbage
    from other code is still collected, only after more allocations. Results do
    not change; memory stays flat (``tests/test_memory.py``).
    """
    if _gc_tuning:
        threshold, *older = gc.get_threshold()
        wanted = min(_GC_HEADROOM * nodes, _GC_MAX_THRESHOLD)
        if threshold < wanted:
            gc.set_threshold(wanted, *older)


def set_gc_tuning(enabled: bool) -> None:
    """Allow (the default) or forbid nanograd to raise the cycle collector's first threshold.

    ``backpropagate()`` raises ``gc.get_threshold()[0]`` to four times the computed
    nodes of the graph (at most 4,000,000) so that building the next graphs triggers
    no cycle collection; it never lowers it, and never turns the collector on or off.
    """
    global _gc_tuning
    _gc_tuning = bool(enabled)


def _leaf(data: float, grad: Any, label: str) -> Value:
    """A leaf with these fields (the unpickling side of ``Value.__reduce__``)."""
    v = Value(data, label=label)
    v.grad = grad
    return v


def _number(x: Operand, what: str) -> float:
    """The number in ``x``, a Value or a real number; TypeError names ``what``."""
    return x.data if isinstance(x, Value) else _to_float(x, what)


#: Stack marker in the graph walks: the node below it has all its inputs done.
_INPUTS_DONE = object()


def topological_order(root: Value) -> list[Value]:
    """Every Value ``root`` depends on, each one after all of its inputs (``root`` last).

    A pure, iterative depth-first walk: it changes nothing, and any depth works.
    Literal operands are not Values and are not listed (see ``Value.operands``).
    """
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Any] = [root]
    push, pop, finish, visit = stack.append, stack.pop, order.append, visited.add  # bound once: the loop is hot
    while stack:
        node = pop()
        if node is _INPUTS_DONE:
            finish(pop())
            continue
        if node in visited:
            continue
        visit(node)
        a, b = node._a, node._b
        # The inputs still to visit go on the stack above the node, the last first, so that
        # they are listed in argument order; a node with none is done at once.
        visit_a = type(a) is Value and a not in visited
        visit_b = type(b) is Value and b not in visited
        if visit_a or visit_b:
            push(node)
            push(_INPUTS_DONE)
            if visit_b:
                push(b)
            if visit_a:
                push(a)
        elif type(a) is tuple:  # an n-ary node: its leaves (often all its inputs) are listed at once
            for x in a:
                if x._operation is None and x not in visited:
                    visit(x)
                    finish(x)
            push(node)
            push(_INPUTS_DONE)
            for x in reversed(a):
                if x not in visited:
                    push(x)
        else:
            finish(node)
    return order


class _WalkMark(float):
    """0.0 as an object of its own: what backprop's walk writes into each gradient it reaches.

    The walk recognises the nodes it has visited by the identity of its mark, a new
    object per walk (the identity of plain floats is an implementation detail: PyPy
    compares them by value). A float subclass, so that a walk cut short (Ctrl-C)
    leaves zeros behind, not a foreign object.
    """

    __slots__ = ()


def _backprop_order(root: Value) -> list[Value]:
    """The computed Values ``root`` depends on, in :func:`topological_order`'s order, their gradients set to 0.

    Backpropagation's own walk: the same depth-first walk without the leaves, which
    also does backprop's reset of the intermediate gradients. It marks a node as
    visited by setting its gradient to this walk's own :class:`_WalkMark`, so it
    keeps no set of visited nodes, then sets those gradients to 0.0 (``tests/test_value.py``
    checks the order against ``topological_order``).
    """
    order: list[Value] = []
    mark = _WalkMark()
    stack: list[Any] = [root] if root._operation is not None else []
    push, pop, finish = stack.append, stack.pop, order.append
    while stack:
        node = pop()
        if node is _INPUTS_DONE:
            finish(pop())
            continue
        if node.grad is mark:
            continue
        node.grad = mark
        a, b = node._a, node._b
        visit_a = type(a) is Value and a.grad is not mark and a._operation is not None
        visit_b = type(b) is Value and b.grad is not mark and b._operation is not None
        if visit_a or visit_b:
            push(node)
            push(_INPUTS_DONE)
            if visit_b:
                push(b)
            if visit_a:
                push(a)
        elif type(a) is tuple:  # an n-ary node
            push(node)
            push(_INPUTS_DONE)
            for x in reversed(a):
                if x.grad is not mark and x._operation is not None:
                    push(x)
        else:
            finish(node)
    for node in order:
        node.grad = 0.0
    return order


def _chain_rule(nodes: Iterable[Value], create_graph: bool) -> None:
    """The chain rule: for each node, add its vjp into its inputs' gradients.

    ``nodes`` come outputs first (reverse topological order), so a node's gradient
    is complete before it is passed on. On floats the rule gets the numbers; with
    ``create_graph`` it gets the Values themselves and builds the gradient's graph.
    Add and mul, most nodes of any weighted sum, have their table rules written out
    (``(g, g)`` and ``(g * y, g * x)``; ``tests/test_ops.py`` checks every op's
    gradients here against its table rule). The other arms are the common shapes
    (unary, Value op literal, Value op Value, n-ary); the last handles the rest
    (a literal on the left, and ``create_graph``).
    """
    m = FLOAT_GRAD_MATH
    for node in nodes:
        op = node._operation
        if op is None:
            continue
        a, b = node._a, node._b
        try:
            if create_graph:
                grads = op.vjp(VALUE_MATH, node.grad, node, *_operands(a, b))
            elif op is _ADD and type(a) is Value:  # x + y, x + 1.0
                g = node.grad
                a.grad += g
                if type(b) is Value:
                    b.grad += g
                continue
            elif op is _MUL and type(a) is Value:  # x * y, x * 2.0
                g = node.grad
                if type(b) is Value:
                    a.grad += g * b.data
                    b.grad += g * a.data
                else:
                    a.grad += g * b
                continue
            elif b is None:  # x.tanh()
                a.grad += op.vjp(m, node.grad, node.data, a.data)[0]  # type: ignore[attr-defined]
                continue
            elif type(b) is float:  # x - 1.0
                a.grad += op.vjp(m, node.grad, node.data, a.data, b)[0]  # type: ignore[attr-defined]
                continue
            elif type(a) is Value and type(b) is Value:  # x / y
                ga, gb = op.vjp(m, node.grad, node.data, a.data, b.data)
                a.grad += ga
                b.grad += gb
                continue
            elif type(a) is tuple:  # make_node: any number of inputs, all Values
                for x, g in zip(a, op.vjp(m, node.grad, node.data, *[x.data for x in a])):
                    x.grad += g
                continue
            else:
                grads = op.vjp(m, node.grad, node.data, *_numbers(a, b))
        except (ArithmeticError, ValueError) as e:
            raise _op_error(op, _numbers(a, b), e, during="backpropagate through ") from None
        for x, g in zip(_operands(a, b), grads):
            if type(x) is Value:
                x.grad += g


def _operands(a: object, b: object) -> tuple[Any, ...]:
    """A node's operands from its two slots: a tuple in ``a`` (n-ary), or ``a`` and maybe ``b``."""
    if type(a) is tuple:
        return a
    return (a,) if b is None else (a, b)


def _numbers(a: object, b: object) -> list[float]:
    """The numbers of a node's operands (a literal is its own number)."""
    return [x.data if type(x) is Value else x for x in _operands(a, b)]


def make_node(op: Op, inputs: Sequence[Value], data: float) -> Value:
    """Record a node computed outside the engine, with any number of inputs.

    Backprop calls ``op.vjp(m, g, out, *input_numbers)``, which must return one
    gradient per input. This is how n-ary nodes (a compiled batch reduction, a
    micrograd-style custom op) join the ordinary graph and its one chain-rule loop.
    ``data`` is taken as it is, inf or NaN too: the overflow policy is for the engine's own
    ops, and the caller computed this number from more than ``inputs`` (a compiled mean
    over a batch that holds inf is inf).
    """
    inputs = tuple(inputs)
    if not set(map(type, inputs)) <= {Value}:
        bad = next(x for x in inputs if type(x) is not Value)
        raise TypeError(f"make_node({op.name!r}): every input must be a Value, got {_short(bad)}")
    if len(inputs) != op.arity:
        raise TypeError(f"make_node({op.name!r}): the op takes {op.arity} inputs, got {len(inputs)}")
    number = _to_float(data, f"make_node({op.name!r})")
    node = _node(number if _isfinite(number) else 0.0, op, inputs, ())
    node.data = number
    return node


def _custom_op(symbol: str, arity: int, fn: Callable[[], None] | None) -> Op:
    """The op of a micrograd-style custom node: its vjp calls the user's ``_backward``.

    That function adds into the inputs' ``.grad`` itself, so the rule returns zeros;
    it has no forward (the user computed the number) and cannot run on Values.
    """

    def vjp(m: MathNamespace, g: Any, out: Any, *xs: Any) -> tuple[float, ...]:
        if m is VALUE_MATH:
            raise TypeError(f"the custom op {symbol!r} has only a first-order _backward function")
        if fn is not None:
            fn()
        return (0.0,) * len(xs)

    def forward(m: MathNamespace, *xs: Any) -> Any:
        raise TypeError(f"the custom op {symbol!r} has no forward rule: its node holds the number it was given")

    return Op("custom", symbol or "custom", max(arity, 1), forward, vjp, "a micrograd-style custom op")


def _custom_node(node: Value, children: tuple[Value, ...], symbol: str) -> None:
    """Make ``node`` micrograd's ``Value(data, children, op)``: its gradient rule comes later."""
    for x in children:
        if type(x) is not Value:
            raise TypeError(f"Value: children must be Values, got {_short(x)}")
    if _grad_enabled.get() and children:
        node._a, node._b, node._operation = children, (), _custom_op(symbol, len(children), None)


def _graph_as_data(root: Value) -> tuple[list[Value], list[tuple[Any, ...]]]:
    """``root``'s graph as leaves (Values) and nodes (plain tuples), for pickling.

    Each node is ``(op name, param, data, grad, label, operands)`` where an operand
    is an ``int`` index into leaves + nodes, or a ``float`` literal.
    """
    order = topological_order(root)
    leaves = [v for v in order if v._operation is None]
    index = {v: i for i, v in enumerate(leaves)}
    nodes = []
    for v in order:
        op = v._operation
        if op is None:
            continue
        if op.name not in OPS and op.name != "power":
            raise TypeError(f"cannot pickle a Value made by the op {op.name!r}: its rule is code, not data")
        operands = tuple(index[x] if type(x) is Value else x for x in v.operands)
        index[v] = len(index)
        nodes.append((op.name, op.param, v.data, v.grad, v.label, operands))
    return leaves, nodes


def _rebuild_graph(leaves: list[Value], nodes: list[tuple[Any, ...]]) -> Value:
    """The root of the graph :func:`_graph_as_data` wrote (the unpickling side)."""
    from .ops import lookup

    built: list[Value] = list(leaves)
    for name, param, data, grad, label, operands in nodes:
        op = lookup(name, param)
        ins = [built[x] if type(x) is int else x for x in operands]
        v = _node(data, op, ins[0], ins[1] if len(ins) > 1 else None)
        v.grad, v.label = grad, label
        built.append(v)
    return built[-1]


def zero_grad(values: Iterable[Value]) -> None:
    """Set ``.gradient`` of each Value to 0 (call it between training steps)."""
    for v in values:
        v.grad = 0.0


def grad(out: Value, wrt: Sequence[Value], create_graph: bool = False) -> list[Any]:
    """The gradients d(out)/d(w) for each ``w`` in ``wrt``, leaving every ``.gradient`` as it was.

    With ``create_graph=True`` the results are Values that can be differentiated
    again: ``grad(grad(f, [x])[0], [x])`` is the second derivative. A ``w`` that
    ``out`` does not depend on gets 0.
    """
    if not isinstance(out, Value):
        raise TypeError(f"grad: out must be a Value, got {_short(out)}")
    wrt = list(wrt)
    for w in wrt:
        if not isinstance(w, Value):
            raise TypeError(f"grad: wrt must be Values, got {_short(w)}")
    nodes = set(topological_order(out)) | set(wrt)
    saved = {v: v.grad for v in nodes}
    try:
        for v in nodes:
            v.grad = 0.0
        out.backpropagate(create_graph=create_graph)
        if not create_graph:
            return [w.grad for w in wrt]
        return [w.grad if isinstance(w.grad, Value) else Value(w.grad) for w in wrt]  # unreached: a new 0
    finally:
        for v, g in saved.items():
            v.grad = g


def _lift(x: Value | float) -> Value:
    """``x`` as a Value (a literal operand becomes a constant leaf), for rules run on Values."""
    return x if isinstance(x, Value) else Value(x)  # a subclass (the compiler's tracer) as it is


def _value_xlogy(x: Value | float, y: Value | float) -> Value | float:
    # x * log(y) with 0 where x == 0, as FLOAT_MATH.xlogy; its graph is x * log(y) elsewhere.
    x_number = x.data if type(x) is Value else x
    return 0.0 if x_number == 0.0 else x * _lift(y).log()


def _value_where(condition: Any, a: Any, b: Any) -> Any:
    # FLOAT_MATH.where, except that a condition whose class defines __nanograd_where__ (a
    # comparison of the compiler's tracer, which has no truth value yet) records the select.
    select = getattr(type(condition), "__nanograd_where__", None)
    if select is not None:
        return select(condition, a, b)
    return a if condition else b


#: The math namespace for Values: op rules evaluated with it build graphs, which is
#: what makes higher-order gradients possible (``backpropagate(create_graph=True)``).
VALUE_MATH = SimpleNamespace(
    exp=lambda x: _lift(x).exp(),
    log=lambda x: _lift(x).log(),
    sqrt=lambda x: _lift(x).sqrt(),
    sin=lambda x: _lift(x).sin(),
    cos=lambda x: _lift(x).cos(),
    tanh=lambda x: _lift(x).tanh(),
    sigmoid=lambda x: _lift(x).sigmoid(),
    relu=lambda x: _lift(x).relu(),
    abs=lambda x: _lift(x).abs(),
    sign=lambda x: FLOAT_MATH.sign(x.data if type(x) is Value else x),
    pow=lambda x, y: _lift(x) ** y,
    xlogy=_value_xlogy,
    div=lambda x, y: x / y,
    where=_value_where,  # the condition is a bool: Value comparisons compare the numbers
)
