"""Applying any op of the table to Values: ``op(x)`` for ops without a method, and nodes of any arity.

``Value``'s methods apply the built-in ops (``x + y``, ``x.tanh()``). An op added with
:func:`~nanograd.ops.register_op` has no method: calling it, ``op(x, y)``, comes here.
:func:`make_node` records a node computed outside the engine, with any number of inputs
(a compiled batch reduction, a micrograd-style custom op).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .errors import short, to_float
from .float_math import FLOAT_MATH
from .grad_mode import recording
from .ops import Op, set_applier
from .value import Operand, Value, as_literal, floats_forward, new_node, number_of, unary_node


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
        return unary_node(op, _on_floats(op), a if isinstance(a, Value) else Value(as_literal(a, op)))
    if op.arity == 2:
        return _binary(op, *args)
    raise TypeError(f"op {op.name!r} has {op.arity} inputs: record such nodes with make_node()")


def _binary(op: Op, a: Operand, b: Operand) -> Value:
    """``op`` applied to two operands; a number becomes a literal (two numbers: the first a leaf)."""
    if not isinstance(a, Value) and not isinstance(b, Value):
        a = Value(as_literal(a, op))
    a, b = (x if isinstance(x, Value) else as_literal(x, op) for x in (a, b))
    return new_node(floats_forward(op, _on_floats(op), number_of(a), number_of(b)), op, a, b)


def make_node(op: Op, inputs: Sequence[Value], data: float) -> Value:
    """Record a node computed outside the engine, with any number of inputs.

    Backprop calls ``op.vjp(m, g, out, *input_numbers)``, which must return one
    gradient per input. This is how n-ary nodes (a compiled batch reduction, a
    micrograd-style custom op) join the ordinary graph and its one chain rule. ``data`` is
    taken as it is, inf or NaN too: the overflow policy is for the engine's own ops (a
    compiled mean over a batch holding inf is inf).
    """
    inputs = tuple(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"make_node({op.name!r}): every input must be a Value, got {short(x)}")
    if len(inputs) != op.arity:
        raise TypeError(f"make_node({op.name!r}): the op takes {op.arity} inputs, got {len(inputs)}")
    out = Value(to_float(data, f"make_node({op.name!r})"))
    if recording():
        out._set_operands(op, inputs)
    return out


set_applier(apply)
