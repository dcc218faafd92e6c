"""``Node``: what one vertex of a graph holds, and nothing else.

A :class:`~nanograd.value.Value` is a Node with arithmetic. The graph walks and the
chain rule (:mod:`nanograd.backprop`) read only what is declared here, so this is the
whole data structure of backpropagation.
"""

from __future__ import annotations

from typing import Any

from .ops import Op


class Node:
    """A number in a graph: its data, its gradient, and the op and operands that computed it.

    An operand is another Node, or a plain float: a *literal*, such as the ``1.0`` of
    ``x + 1.0``, which is a constant and takes no gradient. A leaf (an input or a
    parameter) has no op and no operands.
    """

    __slots__ = ("_a", "_b", "_operation", "data", "grad", "label")

    #: The number.
    data: float
    #: d(output)/d(this node) after backpropagation: a float, or a Value with ``create_graph``.
    grad: Any
    #: An optional name, shown in drawings.
    label: str
    # How the node was computed, in three slots so that a node stays small:
    #   _operation  the op table entry, None for a leaf;
    #   _a, _b      the operands: x and y (binary), x and None (unary), None and None (a leaf),
    #               or a tuple of all operands and () for an op of any other arity.
    _operation: Op | None
    _a: Any
    _b: Any

    @property
    def op(self) -> Op | None:
        """The op table entry that computed this node, or ``None`` for a leaf."""
        return self._operation

    @property
    def operands(self) -> tuple[Any, ...]:
        """The operands this node was computed from, in order: Nodes, and plain floats for literals."""
        a, b = self._a, self._b
        if type(a) is tuple:
            return a
        if a is None:
            return ()
        return (a,) if b is None else (a, b)

    def _set_operands(self, op: Op | None, operands: tuple[Any, ...]) -> None:
        """Store ``op`` and its ``operands`` in the node's slots (see the comment on the slots)."""
        self._operation = op
        if op is None:
            self._a = self._b = None
        elif len(operands) == 1:
            self._a, self._b = operands[0], None
        elif len(operands) == 2:
            self._a, self._b = operands
        else:
            self._a, self._b = tuple(operands), ()
