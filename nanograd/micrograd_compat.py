"""micrograd's names on a Value, and its way of writing a custom op.

micrograd code reads ``v._prev`` and ``v._op`` and writes custom ops as a node with
children and a backward function of its own::

    out = Value(t, (x,), 'tanh')          # the number, the children, the op symbol
    def _backward():
        x.grad += (1 - t**2) * out.grad   # adds into the children's gradients itself
    out._backward = _backward

Such a node is an op of the children's arity whose vjp calls that function
(:func:`custom_op`), so backpropagation still runs one chain rule over the op table's
entries. It has only first-order gradients: the function adds numbers, it builds no graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from .backprop import VALUE_MATH, chain_rule_at, numbers_of
from .errors import short
from .float_math import FLOAT_GRAD_MATH
from .grad_mode import recording
from .node import Node
from .ops import MathNamespace, Op

#: The op name of every micrograd-style custom node (``register_op`` refuses it).
CUSTOM = "custom"


def custom_op(symbol: str, arity: int, backward: Callable[[], None] | None) -> Op:
    """The op of a micrograd-style custom node: its vjp calls the user's ``backward`` function.

    That function adds into the inputs' ``.grad`` itself, so the rule returns zeros;
    it has no forward (the user computed the number) and cannot run on Values.
    """

    def vjp(m: MathNamespace, g: Any, out: Any, *xs: Any) -> tuple[float, ...]:
        if m is VALUE_MATH:
            raise TypeError(f"the custom op {symbol!r} has only a first-order _backward function")
        if backward is not None:
            backward()
        return (0.0,) * len(xs)

    def forward(m: MathNamespace, *xs: Any) -> Any:
        raise TypeError(f"the custom op {symbol!r} has no forward rule: its node holds the number it was given")

    return Op(CUSTOM, symbol or CUSTOM, max(arity, 1), forward, vjp, "a micrograd-style custom op")


def record_custom_node(node: Node, children: tuple[Node, ...], symbol: str) -> None:
    """Make ``node`` micrograd's ``Value(data, children, op)``; its gradient rule comes with ``_backward``.

    Under ``no_grad`` (or without children) the node stays a leaf, a constant result.
    """
    for x in children:
        if not isinstance(x, Node):
            raise TypeError(f"Value: children must be Values, got {short(x)}")
    if children and recording():
        node._set_operands(custom_op(symbol, len(children), None), children)


def literal_leaf(node: Node, i: int, leaf_class: type[Node]) -> Any:
    """Operand ``i`` of ``node``, a literal, as a new constant leaf of ``leaf_class``.

    It holds the vjp rule's share of the node's gradient, the gradient it would have
    received as a leaf, so that micrograd's drawing helpers, which walk ``_prev``, show it.
    """
    operands = node.operands
    leaf = leaf_class(operands[i])  # type: ignore[call-arg]
    if node.grad and type(node.grad) is float and node._operation is not None:
        with contextlib.suppress(ArithmeticError, ValueError):
            leaf.grad = node._operation.vjp(FLOAT_GRAD_MATH, node.grad, node.data, *numbers_of(operands))[i]
    return leaf


class MicrogradNames:
    """micrograd's attribute names (a mixin of :class:`~nanograd.value.Value`)."""

    __slots__ = ()

    @property
    def _prev(self) -> tuple[Any, ...]:
        """micrograd's name for ``inputs`` (read-only)."""
        return self.inputs  # type: ignore[attr-defined,no-any-return]

    @property
    def _op(self) -> str:
        """micrograd's name for the op symbol, ``''`` for a leaf (read-only)."""
        op: Op | None = self._operation  # type: ignore[attr-defined]
        return op.symbol if op is not None else ""

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's per-node backward step: calling it applies the chain rule at this node only.

        Assigning a function here (micrograd's custom-op idiom: ``out._backward = fn``,
        where ``fn`` adds into its inputs' ``.grad`` from ``out.grad``) makes that
        function this node's rule. On a leaf (for example a custom node made under
        ``no_grad``, which is a constant) the assignment does nothing, as a leaf's
        backward step does nothing in micrograd.
        """
        node: Node = self  # type: ignore[assignment]
        return lambda: chain_rule_at(node, FLOAT_GRAD_MATH)

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        node: Node = self  # type: ignore[assignment]
        if node._operation is None:
            return
        if node._operation.name != CUSTOM:
            raise AttributeError(
                f"_backward can only be set on a node made as Value(data, children, op), not on a "
                f"{node._operation.name!r} node: its rule is the op table's"
            )
        node._operation = custom_op(node._operation.symbol, len(node.operands), fn)
