"""A fast path for ``Value.backpropagate()``: the reference of :mod:`nanograd.backprop`, optimised.

What it optimises, and why (``benchmarks/`` measures each part):

* **One walk, no set.** :func:`backprop_order` visits only the computed Values (leaves need
  no visit) and marks each visited node by writing a mark of its own into its gradient,
  instead of keeping a set of visited nodes. Backprop must reset those gradients to 0
  anyway, which it then does.
* **Add and mul written out.** They are most nodes of any weighted sum, so the loop applies
  their table rules ``(g, g)`` and ``(g * y, g * x)`` inline instead of calling ``vjp``.
* **Fixed arities.** A unary node, a Value with a literal and two Values call ``vjp`` with
  the numbers directly, without building an argument list.

It handles floats only: ``create_graph`` runs through the reference, and so does any node
it does not recognise (:func:`nanograd.backprop.chain_rule_at`). ``tests/test_fast_backprop.py``
checks that every op's gradients here equal the table's bit for bit, and that random graphs
give bit-identical gradients on both paths. ``set_fast_backprop(False)`` or
``NANOGRAD_FAST_BACKPROP=0`` switches this module off.
"""

from __future__ import annotations

import os
from typing import Any

from .backprop import _INPUTS_DONE, chain_rule_at, numbers_of
from .errors import op_error
from .float_math import FLOAT_GRAD_MATH
from .gc_tuning import make_room_for_graphs
from .node import Node
from .ops import OPS

#: Whether ``Value.backpropagate()`` takes this fast path (see :func:`set_fast_backprop`).
enabled = os.environ.get("NANOGRAD_FAST_BACKPROP", "1") != "0"

_ADD, _MUL = OPS["add"], OPS["mul"]


def set_fast_backprop(on: bool) -> None:
    """Let ``backpropagate()`` take the fast path (the default), or run the reference chain rule.

    The reference, :func:`nanograd.backprop.backward`, is the short loop to read and to step
    through in a debugger; both give the same gradients bit for bit. The environment variable
    ``NANOGRAD_FAST_BACKPROP=0`` switches the fast path off from the start.
    """
    global enabled
    enabled = bool(on)


def backward(root: Node) -> None:
    """:func:`nanograd.backprop.backward` on floats, with the same result bit for bit."""
    order = backprop_order(root)  # intermediate gradients are 0 from here on
    make_room_for_graphs(len(order))
    root.grad = 1.0 if root._operation is not None else root.grad + 1.0
    order.reverse()
    chain_rule(order)


def chain_rule(nodes: list[Node]) -> None:
    """:func:`nanograd.backprop.chain_rule_at` on floats for each of ``nodes`` (outputs first), bit for bit."""
    m = FLOAT_GRAD_MATH
    for node in nodes:
        op = node._operation
        a, b = node._a, node._b
        if op is _ADD and type(a) is not float:  # x + y, x + 1.0
            g = node.grad
            a.grad += g
            if type(b) is not float:
                b.grad += g
        elif op is _MUL and type(a) is not float:  # x * y, x * 2.0
            g = node.grad
            if type(b) is float:
                a.grad += g * b
            else:
                a.grad += g * b.data
                b.grad += g * a.data
        elif type(a) is tuple or type(a) is float:  # an n-ary node, or a literal on the left (1.0 / x)
            chain_rule_at(node, m)
        else:
            try:
                # Each rule is evaluated before the gradient it adds into is read: a micrograd-style
                # custom op's rule adds into its inputs' gradients itself.
                if b is None:  # x.tanh()
                    (ga,) = op.vjp(m, node.grad, node.data, a.data)  # type: ignore[union-attr]
                    a.grad += ga
                elif type(b) is float:  # x - 1.0
                    ga = op.vjp(m, node.grad, node.data, a.data, b)[0]  # type: ignore[union-attr]
                    a.grad += ga
                else:  # x / y
                    ga, gb = op.vjp(m, node.grad, node.data, a.data, b.data)  # type: ignore[union-attr]
                    a.grad += ga
                    b.grad += gb
            except (ArithmeticError, ValueError) as e:
                raise op_error(op, numbers_of(node.operands), e, during="backpropagate through ") from None  # type: ignore[arg-type]


class _WalkMark(float):
    """0.0 as an object of its own: what :func:`backprop_order` writes into each gradient it reaches.

    The walk recognises the nodes it has visited by the identity of its mark, a new
    object per walk (the identity of plain floats is an implementation detail: PyPy
    compares them by value). A float subclass, so that a walk cut short (Ctrl-C)
    leaves zeros behind, not a foreign object.
    """

    __slots__ = ()


def backprop_order(root: Node) -> list[Node]:
    """The computed Values ``root`` depends on, in ``topological_order``'s order, their gradients set to 0.

    The walk of :func:`nanograd.backprop.topological_order` without the leaves, which also
    does backprop's reset of the intermediate gradients: it marks a node as visited by
    setting its gradient to this walk's own :class:`_WalkMark`, so it keeps no set of
    visited nodes, then sets those gradients to 0.0.
    """
    order: list[Node] = []
    mark = _WalkMark()
    stack: list[Any] = [root] if root._operation is not None else []
    push, pop, finish = stack.append, stack.pop, order.append  # bound once: the loop is hot
    while stack:
        node = pop()
        if node is _INPUTS_DONE:
            finish(pop())
            continue
        if node.grad is mark:
            continue
        node.grad = mark
        a, b = node._a, node._b
        if type(a) is tuple:  # an n-ary node
            push(node)
            push(_INPUTS_DONE)
            for x in reversed(a):
                if x.grad is not mark and x._operation is not None:
                    push(x)
            continue
        visit_a = type(a) is not float and a.grad is not mark and a._operation is not None
        visit_b = b is not None and type(b) is not float and b.grad is not mark and b._operation is not None
        if visit_a or visit_b:
            # The inputs still to visit go on the stack above the node, the last first, so that
            # they are listed in argument order; a node with none is done at once.
            push(node)
            push(_INPUTS_DONE)
            if visit_b:
                push(b)
            if visit_a:
                push(a)
        else:
            finish(node)
    for node in order:
        node.grad = 0.0
    return order
