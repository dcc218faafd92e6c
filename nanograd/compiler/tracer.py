"""Tracers: Values that hold no number, whose operators and methods record the graph.

Honest tracing
    Each traced argument is a :class:`Tracer`: a ``Value`` whose operators and methods
    record an op instead of computing one (``w * x`` with ``w`` a plain Value reaches
    ``Tracer.__rmul__``: Python asks a subclass's reflected operator first). A tracer has
    no number, so Python that would read one -- ``.data``, ``.of``, ``bool()`` (an ``if``,
    ``and``, ``while``), ``int()``, ``float()``, ``round()``, indexing a list with it,
    formatting it -- raises :class:`TracedNumberError` naming the arguments the value
    depends on and what to use instead, as ``jax.jit`` does. It is never silently frozen.
    A comparison of tracers is a :class:`Condition`: it has no truth value either, but
    :func:`nanograd.where` records it as a select (and ``&``, ``|`` combine conditions).
    :func:`nanograd.take` records a traced index, and :func:`nanograd.maximum` is an op.
"""

from __future__ import annotations

import contextvars
import numbers
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

from ..errors import short as _short
from ..ops import OPS, Op, power
from ..selection import where
from ..value import Value
from .graph import TAKE
from .refusal import ADVICE, TracedNumberError

__all__ = ["Condition", "Ref", "Tracer", "tracing"]

#: The tape of the call being traced in this thread and task (None: no tracing).
_tape: contextvars.ContextVar[_Tape | None] = contextvars.ContextVar("nanograd_tracing", default=None)


def tracing() -> bool:
    """Whether a function is being traced in this thread (compiled calls inside it are inlined)."""
    return _tape.get() is not None


#: An operand as the tape stores it: an earlier entry (int), a plain Value, or a literal (float).
Ref = int | Value | float


class _Tape:
    """What one traced call records: one entry per traced value, in the order they were made.

    An entry is a kind (``arg``, an op's name, a select's name or ``take``), the op's
    ``param`` and its operands (for an ``arg``, its slot). The tape only grows while the
    function runs; a tracer that escapes the call refuses to record afterwards.
    """

    __slots__ = ("fn_name", "kinds", "names", "open", "operands", "params", "positions", "shapes")

    def __init__(
        self, fn_name: str, names: tuple[str, ...], shapes: tuple[int | None, ...], positions: tuple[int, ...]
    ) -> None:
        # names, shapes and positions (in the call) have one entry per traced argument
        self.fn_name, self.names, self.shapes, self.positions = fn_name, names, shapes, positions
        self.kinds: list[str] = []
        self.params: list[float | None] = []
        self.operands: list[tuple[Any, ...]] = []
        self.open = True

    def record(self, kind: str, param: float | None, operands: tuple[Any, ...]) -> Tracer:
        """A new tracer for an entry ``kind(operands)``."""
        if not self.open:
            raise TracedNumberError(
                f"compile({self.fn_name}): a traced value was used after its function returned; "
                "keep traced values inside the function"
            )
        self.kinds.append(kind)
        self.params.append(param)
        self.operands.append(operands)
        t = _new_tracer(Tracer)
        t._tape, t._at = self, len(self.kinds) - 1
        return t

    def ref(self, x: object, what: str) -> Ref:
        """Operand ``x`` (a tracer, a plain Value, a condition or a number) as the tape stores it."""
        if type(x) is Tracer:
            if x._tape is not self:
                raise TracedNumberError(
                    f"compile({self.fn_name}): a traced value of another function's trace reached this one"
                )
            return x._at
        if isinstance(x, Value):
            return x
        if isinstance(x, Condition):
            return self.ref(x._number(), what)
        if type(x) is float:
            return x
        if isinstance(x, numbers.Real):
            try:
                return float(x)
            except OverflowError:
                raise OverflowError(f"{what}: {x!r} is too large for a float") from None
        raise TypeError(f"{what}: expected a real number or a Value, got {_short(x)} of type {type(x).__name__}")

    def depends_on(self, refs: Iterable[Ref]) -> list[tuple[int, int]]:
        """The argument slots that the entries ``refs`` depend on, sorted."""
        slots: set[tuple[int, int]] = set()
        seen: set[int] = set()
        stack = [r for r in refs if type(r) is int]
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            if self.kinds[i] == "arg":
                slots.add(self.operands[i])
            else:
                stack.extend(r for r in self.operands[i] if type(r) is int)
        return sorted(slots)

    def refuse(self, refs: Iterable[Ref], what: str, purpose: str) -> NoReturn:
        """Raise the TracedNumberError for ``what`` (``"bool() of a traced value"``) of a value made of ``refs``."""
        slots = self.depends_on(refs)
        by_argument: dict[int, list[int]] = {}
        for a, e in slots:
            by_argument.setdefault(a, []).append(e)
        parts = []
        for a, elements in by_argument.items():
            name = self.names[a]
            part = f"argument {self.positions[a]}" + (f" ({name})" if name else "")
            if self.shapes[a] is not None:
                shown = ", ".join(map(str, elements[:4])) + (", ..." if len(elements) > 4 else "")
                part += f" element{'s' if len(elements) > 1 else ''} {shown}"
            parts.append(part)
        static = ""
        if by_argument and purpose not in ("text", "graph"):
            numbers = ", ".join(str(self.positions[a]) for a in by_argument)
            static = f", or make the argument static: compile({self.fn_name}, static_argnums=({numbers},))"
        raise TracedNumberError(
            f"compile({self.fn_name}): {what}, which depends on "
            f"{' and '.join(parts) or 'the arguments'}: "
            f"{'it has no eager graph' if purpose == 'graph' else 'its number is not known'} while tracing, "
            f"{ADVICE[purpose]}{static}"
        )


_new_tracer = object.__new__


def _refused_attribute(name: str) -> Any:
    """A property of a tracer that refuses to be read or assigned: a traced value has no eager graph."""

    def get(self: Tracer) -> NoReturn:
        self._refuse(f"reading .{name} of a traced value", "graph")

    def set(self: Tracer, value: object) -> NoReturn:
        self._refuse(f"assigning .{name} of a traced value", "graph")

    return property(get, set)


class Tracer(Value):
    """A Value that holds no number: its operators and methods record the graph (see the module docstring)."""

    __slots__ = ("_at", "_tape")

    _tape: _Tape
    _at: int

    def _refuse(self, what: str, purpose: str) -> NoReturn:
        self._tape.refuse([self._at], what, purpose)

    def _record(self, name: str, *operands: object, param: float | None = None) -> Tracer:
        tape = self._tape
        return tape.record(name, param, tuple(tape.ref(x, name) for x in operands))

    # The arithmetic operators record most of a trace: these two are _record spelled out for them.
    def _binary(self, name: str, other: object) -> Tracer:
        """``name(self, other)`` recorded."""
        tape = self._tape
        return tape.record(name, None, (self._at, tape.ref(other, name)))

    def _reflected(self, name: str, other: object) -> Tracer:
        """``name(other, self)`` recorded."""
        tape = self._tape
        return tape.record(name, None, (tape.ref(other, name), self._at))

    def __repr__(self) -> str:
        tape = self._tape
        return f"Tracer(v{self._at} = {tape.kinds[self._at]} in the trace of {tape.fn_name})"

    # -- the number, refused ---------------------------------------------------------------
    @property
    def data(self) -> float:
        """A traced value has no number yet: reading it raises TracedNumberError."""
        self._refuse("reading .data of a traced value", "number")

    @data.setter
    def data(self, x: float) -> None:
        self._refuse("assigning .data of a traced value", "number")

    @property
    def of(self) -> float:
        self._refuse("reading .of of a traced value", "number")

    @of.setter
    def of(self, x: float) -> None:
        self._refuse("assigning .of of a traced value", "number")

    def __bool__(self) -> bool:
        self._refuse("bool() of a traced value", "truth")

    def __float__(self) -> float:
        self._refuse("float() of a traced value", "number")

    def __int__(self) -> int:
        self._refuse("int() of a traced value", "index")

    def __index__(self) -> int:
        self._refuse("a traced value used as an index", "index")

    def __complex__(self) -> complex:
        self._refuse("complex() of a traced value", "number")

    def __round__(self, ndigits: int | None = None) -> float:
        self._refuse("round() of a traced value", "number")

    def __trunc__(self) -> int:
        self._refuse("math.trunc() of a traced value", "number")

    def __floor__(self) -> int:
        self._refuse("math.floor() of a traced value", "number")

    def __ceil__(self) -> int:
        self._refuse("math.ceil() of a traced value", "number")

    def __format__(self, spec: str) -> str:
        self._refuse("formatting a traced value (an f-string, format())", "text")

    def __reduce__(self) -> NoReturn:
        self._refuse("pickling or copying a traced value", "graph")

    # -- what would walk an eager graph the tracer does not have ----------------------------
    inputs = _refused_attribute("inputs")
    operands = _refused_attribute("operands")
    op = _refused_attribute("op")
    _op = _refused_attribute("_op")
    _prev = _refused_attribute("_prev")
    _backward = _refused_attribute("_backward")
    gradient = _refused_attribute("gradient")

    def backpropagate(self, create_graph: bool = False) -> NoReturn:
        self._refuse("backpropagate() of a traced value", "graph")

    backward = backpropagate

    # -- arithmetic: one entry per op, operands in the order the eager engine would keep them ---
    def __add__(self, other: object) -> Tracer:
        return self._binary("add", other)

    def __radd__(self, other: object) -> Tracer:
        # w + x for a plain Value w is w.__add__(x) eagerly; 1 + x is x + 1 (Value's __radd__)
        return self._reflected("add", other) if isinstance(other, Value) else self._binary("add", other)

    def __sub__(self, other: object) -> Tracer:
        return self._binary("sub", other)

    def __rsub__(self, other: object) -> Tracer:
        return self._reflected("sub", other)

    def __mul__(self, other: object) -> Tracer:
        return self._binary("mul", other)

    def __rmul__(self, other: object) -> Tracer:
        # w * x for a plain Value w is w.__mul__(x) eagerly; 2 * x is x * 2 (Value's __rmul__)
        return self._reflected("mul", other) if isinstance(other, Value) else self._binary("mul", other)

    def __truediv__(self, other: object) -> Tracer:
        return self._binary("div", other)

    def __rtruediv__(self, other: object) -> Tracer:
        return self._reflected("div", other)

    def __pow__(self, other: object) -> Tracer:
        if isinstance(other, (Value, Condition)):
            return self._binary("pow", other)
        k = self._tape.ref(other, "**")
        return self._record("power", self, param=power(k).param)  # type: ignore[arg-type]

    def __rpow__(self, other: object) -> Tracer:
        return self._reflected("pow", other)

    def __neg__(self) -> Tracer:
        return self._record("neg", self)

    def relu(self) -> Tracer:
        return self._record("relu", self)

    def tanh(self) -> Tracer:
        return self._record("tanh", self)

    def sigmoid(self) -> Tracer:
        return self._record("sigmoid", self)

    def exp(self) -> Tracer:
        return self._record("exp", self)

    def log(self) -> Tracer:
        return self._record("log", self)

    def sqrt(self) -> Tracer:
        return self._record("sqrt", self)

    def abs(self) -> Tracer:
        return self._record("abs", self)

    def sin(self) -> Tracer:
        return self._record("sin", self)

    def cos(self) -> Tracer:
        return self._record("cos", self)

    def maximum(self, other: object) -> Tracer:
        return self._binary("maximum", other)

    def minimum(self, other: object) -> Tracer:
        return self._binary("minimum", other)

    # -- comparisons: conditions, for nanograd.where ----------------------------------------
    def __gt__(self, other: object) -> Condition:  # type: ignore[override]
        return Condition(self._tape, "gt", self, other)

    def __ge__(self, other: object) -> Condition:  # type: ignore[override]
        return Condition(self._tape, "ge", self, other)

    def __lt__(self, other: object) -> Condition:  # type: ignore[override]
        return Condition(self._tape, "gt", other, self)

    def __le__(self, other: object) -> Condition:  # type: ignore[override]
        return Condition(self._tape, "ge", other, self)

    # -- the hooks of nanograd.value.apply and nanograd.take --------------------------------
    @staticmethod
    def __nanograd_apply__(op: Op, args: Sequence[object]) -> Tracer:
        """``op(*args)`` recorded (``nanograd.value.apply`` calls this for an op with a tracer operand)."""
        tape = next(a._tape for a in args if type(a) is Tracer)
        return _apply(tape, op, args)

    def __nanograd_take__(self, values: Sequence[Any]) -> Tracer | list[Tracer]:
        return _take(self._tape, self._at, values)


def _apply(tape: _Tape, op: Op, args: Sequence[object]) -> Tracer:
    if op.name != "power" and OPS.get(op.name) is not op:
        raise TypeError(
            f"compile({tape.fn_name}): op {op.name!r} is not in the op table, so a graph cannot name it "
            "(add it with nanograd.register_op)"
        )
    if len(args) != op.arity:
        raise TypeError(f"op {op.name!r} takes {op.arity} operand(s), got {len(args)}")
    return tape.record(op.name, op.param, tuple(tape.ref(a, op.symbol) for a in args))


def _take(tape: _Tape, index: Ref, values: Sequence[Any]) -> Tracer | list[Tracer]:
    """A traced ``take``: one entry, or one per column for a table of rows."""
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ValueError(f"take: expected a non-empty list of values, got {_short(values)}")
    if not all(isinstance(row, Sequence) and not isinstance(row, str) for row in values):
        return tape.record(TAKE, None, (index, *(tape.ref(v, "take") for v in values)))
    widths = {len(row) for row in values}
    if len(widths) != 1:
        raise ValueError(f"take: the rows of a table must have one length, got lengths {sorted(widths)}")
    return [tape.record(TAKE, None, (index, *(tape.ref(v, "take") for v in column))) for column in zip(*values)]


class Condition:
    """A comparison of traced values (``x > 0``): no truth value while tracing, a select in ``where``.

    ``c1 & c2`` and ``c1 | c2`` combine conditions (as they combine bools eagerly). In
    arithmetic a condition is its number, 1 or 0, as a bool is (``sum(x > 0 for x in xs)``
    counts). ``not`` and ``~`` cannot be traced: swap ``x`` and ``y`` in ``where`` instead.
    """

    __slots__ = ("_a", "_b", "_kind", "_tape")

    _a: Any
    _b: Any

    def __init__(self, tape: _Tape, kind: str, a: object, b: object) -> None:
        # kind is "gt" or "ge" (a, b: operands), or "and" / "or" (a, b: conditions).
        self._tape, self._kind = tape, kind
        if kind in ("gt", "ge"):
            a, b = tape.ref(a, ">" if kind == "gt" else ">="), tape.ref(b, ">" if kind == "gt" else ">=")
        self._a, self._b = a, b

    def __repr__(self) -> str:
        return f"Condition({self._kind}) in the trace of {self._tape.fn_name}"

    def _refs(self) -> list[Ref]:
        if self._kind in ("gt", "ge"):
            return [self._a, self._b]
        return [*self._a._refs(), *self._b._refs()]

    def __nanograd_where__(self, x: Any, y: Any) -> Tracer:
        """``where(self, x, y)`` recorded: a select, or nested selects for ``&`` and ``|``."""
        tape = self._tape
        if self._kind in ("gt", "ge"):
            operands = (self._a, self._b, tape.ref(x, "where"), tape.ref(y, "where"))
            return tape.record("where_gt" if self._kind == "gt" else "where_ge", None, operands)
        left, right = self._a, self._b
        if self._kind == "and":
            return where(left, where(right, x, y), y)  # type: ignore[return-value]  # a tracer
        return where(left, x, where(right, x, y))  # type: ignore[return-value]  # a tracer

    def _number(self) -> Tracer:
        """The condition as a number: 1.0 where it holds, else 0.0."""
        return self.__nanograd_where__(1.0, 0.0)

    def _combine(self, kind: str, other: object) -> Condition | bool:
        if type(other) is bool:  # as bools combine: c & True is c, c & False is False
            return self if other == (kind == "and") else other
        if not isinstance(other, Condition):
            return NotImplemented  # type: ignore[no-any-return]
        return Condition(self._tape, kind, self, other)

    def __and__(self, other: object) -> Condition | bool:
        return self._combine("and", other)

    __rand__ = __and__

    def __or__(self, other: object) -> Condition | bool:
        return self._combine("or", other)

    __ror__ = __or__

    def _refuse(self, what: str, purpose: str) -> NoReturn:
        self._tape.refuse(self._refs(), what, purpose)

    def __bool__(self) -> bool:
        self._refuse("bool() of a comparison of traced values", "truth")

    def __invert__(self) -> NoReturn:
        raise TracedNumberError(
            f"compile({self._tape.fn_name}): ~ and not cannot be traced (on a bool, ~True is -2); "
            "write where(condition, y, x) instead of where(~condition, x, y)"
        )

    def __eq__(self, other: object) -> bool:
        self._refuse("== or != of a comparison of traced values", "truth")

    __ne__ = __eq__
    __hash__ = object.__hash__

    def __lt__(self, other: object) -> bool:
        self._refuse("ordering comparisons of traced values", "truth")

    __le__ = __gt__ = __ge__ = __lt__

    def __int__(self) -> int:
        self._refuse("int() of a comparison of traced values", "index")

    def __index__(self) -> int:
        self._refuse("a comparison of traced values used as an index", "index")

    def __float__(self) -> float:
        self._refuse("float() of a comparison of traced values", "number")

    def __format__(self, spec: str) -> str:
        self._refuse("formatting a comparison of traced values", "text")

    # -- arithmetic: the number 1 or 0 ----------------------------------------------------
    def __add__(self, other: object) -> Tracer:
        return self._number() + other

    __radd__ = __add__

    def __sub__(self, other: object) -> Tracer:
        return self._number() - other

    def __rsub__(self, other: object) -> Tracer:
        return other - self._number()

    def __mul__(self, other: object) -> Tracer:
        return self._number() * other

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Tracer:
        return self._number() / other

    def __rtruediv__(self, other: object) -> Tracer:
        return other / self._number()

    def __neg__(self) -> Tracer:
        return -self._number()

    @staticmethod
    def __nanograd_apply__(op: Op, args: Sequence[object]) -> Tracer:
        tape = next(a._tape for a in args if isinstance(a, Condition))
        return _apply(tape, op, args)

    def __nanograd_take__(self, values: Sequence[Any]) -> Tracer | list[Tracer]:
        return _take(self._tape, self._number()._at, values)
