"""Stand-ins for core names that the core refactor is adding (``nanograd.value.make_node``,
``topological_order``, ``nanograd.ops.lookup`` and ``Op.param``).

Each name is taken from the core when it exists there; the fallback below is the smallest
thing that works with the current core. Delete a fallback once the core has the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

from .. import ops, value
from ..ops import FLOAT_MATH, OPS, Op, power
from ..value import Value, is_grad_enabled


@dataclass(frozen=True, slots=True)
class NaryOp(Op):
    """An op with any number of inputs, for nodes made by :func:`make_node` (not a table entry)."""

    def __post_init__(self) -> None:  # the table's arity check is for table entries only
        pass


def op_param(op: Op) -> float | None:
    """The constant exponent of a ``power`` op (``Op.param``), None for other ops."""
    if hasattr(op, "param"):
        return op.param  # type: ignore[no-any-return]
    if op.name != "power":
        return None
    # Ask the op's own forward rule which exponent it raises to.
    return float(op.forward(SimpleNamespace(pow=lambda x, k: k), 0.0))


def _lookup(name: str, param: float | None = None) -> Op:
    if name == "power":
        if param is None:
            raise ValueError("op 'power' needs its exponent (param)")
        return power(param)
    if name not in OPS:
        raise ValueError(f"unknown op {name!r}; the table has {', '.join(OPS)}, power")
    if param is not None:
        raise ValueError(f"op {name!r} takes no param, got {param!r}")
    return OPS[name]


def _topological_order(root: Value) -> list[Value]:
    order: list[Value] = []
    done: set[Value] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif node not in done:
            done.add(node)
            stack.append((node, True))
            stack.extend((x, False) for x in reversed(node.inputs) if x not in done)
    return order


#: Stand-in links: a link's number is d(node)/d(its second input); the gradient passes through.
_LINK = Op("link", "link", 2, lambda m, prev, x: prev, lambda m, g, out, prev, x: (g, g * out))
_FIRST_LINK = Op("link", "link", 1, lambda m, x: x, lambda m, g, out, x: (g * out,))
_ROOT = Op("n-ary", "n-ary", 1, lambda m, x: x, lambda m, g, out, x: (g,))


def _make_node(op: Op, inputs: Sequence[Value], data: float) -> Value:
    # The current backprop loop handles one or two inputs per node, so this stand-in records
    # an n-ary node as a chain of binary links (value._node, private): link i holds
    # J_i = d(node)/d(input i) from op.vjp at g = 1 and passes g * J_i to input i.
    if not is_grad_enabled() or not inputs:
        return Value(data)
    jacobian = op.vjp(FLOAT_MATH, 1.0, data, *(x.data for x in inputs))
    chain = value._node(jacobian[0], _FIRST_LINK, inputs[0])
    for j, x in zip(jacobian[1:], inputs[1:]):
        chain = value._node(j, _LINK, chain, x)
    return value._node(data, _ROOT, chain)


lookup = getattr(ops, "lookup", _lookup)
topological_order = getattr(value, "topological_order", _topological_order)
make_node = getattr(value, "make_node", _make_node)
