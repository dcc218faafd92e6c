"""Backpropagation: the chain rule, applied to a graph of Values from the output back to the inputs.

A Value computed by an op remembers the op (an entry of the op table,
:mod:`nanograd.ops`) and its operands. Backpropagation is then three steps:

1. order the graph so that every Value comes after the Values it was computed from
   (:func:`topological_order`);
2. seed the output: d(out)/d(out) = 1;
3. visit the Values in the reverse order, so that a Value's gradient is complete before
   it is passed on, and at each one add ``op.vjp``'s share of its gradient into each of its
   inputs (:func:`chain_rule_at`): that is the chain rule.

:func:`backward` is exactly that, and it is the reference: it handles every case (an op
of any arity, micrograd-style custom ops, ``create_graph``). ``Value.backpropagate()``
runs a faster loop over the same rules (:mod:`nanograd.fast_backprop`), checked bit for bit
against this one; ``nanograd.set_fast_backprop(False)`` (or ``NANOGRAD_FAST_BACKPROP=0``
in the environment) runs everything through the reference instead, to step through it in
a debugger.

A node's operand is a Value, or a plain float: a *literal* such as the ``1.0`` of ``x + 1.0``,
a constant that needs no gradient. With ``create_graph`` the rules are evaluated on Values
(:data:`VALUE_MATH`), so the gradients are Values too and can be backpropagated again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar

from .errors import op_error
from .float_math import FLOAT_GRAD_MATH
from .gc_tuning import make_room_for_graphs
from .grad_mode import ieee_arithmetic
from .node import Node

N = TypeVar("N", bound=Node)


def backward(root: Node, seed: Any = 1.0) -> None:
    """Fill ``.grad`` of every Value ``root`` depends on with d(root)/d(that value): the reference.

    ``seed`` is d(root)/d(root), 1. A Value seed (``backpropagate(create_graph=True)``) makes
    the rules run on Values, so that every gradient is a Value with a graph of its own.
    Leaves (inputs and parameters) accumulate: a second call adds the gradient again.
    Intermediate Values start from 0 on every call.
    """
    computed = [node for node in topological_order(root) if node.op is not None]  # 1. inputs first
    for node in computed:
        node.grad = 0.0  # computed Values restart from 0; leaves accumulate, as in PyTorch
    make_room_for_graphs(len(computed))
    root.grad = seed if root.op is not None else root.grad + seed  # 2. seed the output
    create_graph = type(seed) is not float
    math = VALUE_MATH if create_graph else FLOAT_GRAD_MATH
    with ieee_arithmetic() if create_graph else contextlib.nullcontext():
        for node in reversed(computed):  # 3. outputs first: a node's gradient is complete when it is reached
            chain_rule_at(node, math)


def chain_rule_at(node: Node, math: SimpleNamespace) -> None:
    """The chain rule at one node: add its op's vjp of ``node.grad`` into each of its inputs' gradients."""
    op = node.op
    if op is None:
        return  # a leaf: nothing to pass on
    operands = node.operands
    numbers = numbers_of(operands)
    try:
        if math is VALUE_MATH:  # rules evaluated on the Values themselves build the gradient's graph
            shares = op.vjp(math, node.grad, node, *operands)
        else:
            shares = op.vjp(math, node.grad, node.data, *numbers)
    except (ArithmeticError, ValueError) as e:
        raise op_error(op, numbers, e, during="backpropagate through ") from None
    for x, share in zip(operands, shares):
        if type(x) is not float:  # a literal takes no gradient
            x.grad += share


#: Stack marker of the graph walk: the node below it has all its inputs listed.
_INPUTS_DONE = object()


def numbers_of(operands: tuple[Any, ...]) -> list[float]:
    """The numbers of a node's operands (a literal is its own number)."""
    return [x if type(x) is float else x.data for x in operands]


def topological_order(root: N) -> list[N]:
    """Every Value ``root`` depends on, each one after all of its inputs (``root`` last).

    A pure, iterative depth-first walk: it changes nothing, and any depth works (no
    recursion). Literal operands are not Values and are not listed (see ``Value.operands``).
    Inputs are listed in argument order, so ``x * y`` lists ``x`` before ``y``.
    """
    order: list[N] = []
    visited: set[N] = set()
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if node is _INPUTS_DONE:
            order.append(stack.pop())  # all its inputs are listed: list the node
            continue
        if node in visited:
            continue
        visited.add(node)
        stack += (node, _INPUTS_DONE)
        # The inputs go on the stack above the node, the last first, so they are listed in order.
        stack += [x for x in reversed(node.operands) if type(x) is not float and x not in visited]
    return order


# -- the math namespace for Values ----------------------------------------------------------


def _on_values(name: str) -> Callable[[Any], Any]:
    """``m.name(x)`` for rules run on Values: the Value method ``name``, or the float function on a literal."""
    on_float = getattr(FLOAT_GRAD_MATH, name)
    return lambda x: on_float(x) if type(x) is float else getattr(x, name)()


def _value_pow(x: Any, y: Any) -> Any:
    return FLOAT_GRAD_MATH.pow(x, y) if type(x) is float and type(y) is float else x**y


def _value_xlogy(x: Any, y: Any) -> Any:
    # x * log(y) with 0 where x == 0, as FLOAT_GRAD_MATH.xlogy; its graph is x * log(y) elsewhere.
    x_number = x if type(x) is float else x.data
    return 0.0 if x_number == 0.0 else x * VALUE_MATH.log(y)


def _value_where(condition: Any, a: Any, b: Any) -> Any:
    # The condition is a bool (Value comparisons compare the numbers), except that a condition
    # whose class defines __nanograd_where__ (a comparison of the compiler's tracer, which has
    # no truth value yet) records the select.
    select = getattr(type(condition), "__nanograd_where__", None)
    return select(condition, a, b) if select is not None else FLOAT_GRAD_MATH.where(condition, a, b)


#: The math namespace for Values: op rules evaluated with it build graphs, which is what
#: makes higher-order gradients possible (``backpropagate(create_graph=True)``). A function
#: of a literal is a literal (a float); :func:`backward` evaluates the rules inside
#: :func:`~nanograd.grad_mode.ieee_arithmetic`, so they give ``inf`` and ``NaN`` exactly
#: where the same rules on floats do.
VALUE_MATH = SimpleNamespace(
    **{name: _on_values(name) for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs")},
    sign=lambda x: FLOAT_GRAD_MATH.sign(x if type(x) is float else x.data),
    pow=_value_pow,
    xlogy=_value_xlogy,
    div=lambda x, y: FLOAT_GRAD_MATH.div(x, y) if type(x) is float and type(y) is float else x / y,
    where=_value_where,
)
