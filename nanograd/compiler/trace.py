"""Tracing: run a function once on Values and record the graph it builds as a :class:`Graph`.

Values created while the function runs form the graph. Every other Value it reaches (a
model's parameters, or any Value computed before the call) is *captured*: it becomes a
``param`` slot whose current number is read at every call. Leaves created during the
call (the ``1`` in ``1 + x``) become constants. The function is called twice to tell the
two apart: created Values are new objects at every call, captured ones are not.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..backprop import VALUE_MATH, topological_order
from ..gc_tuning import make_room_for_graphs
from ..ops import lookup
from ..value import Value
from .graph import Graph, Node

#: One call's arguments: a number for a scalar argument, a sequence of numbers for a vector one.
Sample = Sequence[float | Sequence[float]]


@dataclass
class Trace:
    """A traced call: its graph, the captured Values (in slot order) and the eager output."""

    graph: Graph
    params: list[Value]
    output: Value


def argument_values(shapes: Sequence[int | None], sample: Sample) -> list[Value | list[Value]]:
    """Fresh leaves holding one sample, structured as ``shapes`` says."""
    return [Value(x) if isinstance(x, (int, float)) else [Value(e) for e in x] for x in sample]


def trace(fn: Callable[..., object], shapes: Sequence[int | None], sample: Sample) -> Trace:
    """Call ``fn`` once on ``sample`` and record the graph; TypeError if it returns no Value."""
    args = argument_values(shapes, sample)
    out = _call(fn, args)
    order = topological_order(out)
    make_room_for_graphs(len(order))  # the second call builds a graph as large
    # Call fn a second time: the Values it creates are new objects each time, the Values it
    # captures are the same objects in both graphs. (No hook into Value is needed.)
    captured = set(topological_order(_call(fn, argument_values(shapes, sample))))
    slots = {v: (a, 0) for a, v in enumerate(args) if isinstance(v, Value)}
    slots.update({v: (a, e) for a, vs in enumerate(args) if isinstance(vs, list) for e, v in enumerate(vs)})
    index: dict[Value, int] = {}
    nodes: list[Node] = []
    params: list[Value] = []
    for v in _stopping_at_captured(out, order, captured):
        if v in slots:
            node = Node("arg", slot=slots[v])
        elif v in captured:
            node = Node("param", slot=(len(params),))
            params.append(v)
        elif v.op is None:
            node = Node("const", value=v.data)
        else:
            node = Node(v.op.name, tuple(_operand_index(x, index, nodes) for x in v.operands), v.op.param)
        index[v] = len(nodes)
        nodes.append(node)
    return Trace(Graph(tuple(shapes), len(params), tuple(nodes)), params, out)


def _operand_index(x: Value | float, index: dict[Value, int], nodes: list[Node]) -> int:
    """The node of operand ``x``: its Value's, or a new constant node for a literal number."""
    if isinstance(x, Value):
        return index[x]
    nodes.append(Node("const", value=x))
    return len(nodes) - 1


def _call(fn: Callable[..., object], args: list[Value | list[Value]]) -> Value:
    out = fn(*args)
    if not isinstance(out, Value):
        raise TypeError(f"compile: {_name(fn)} must return one Value, got {type(out).__name__}")
    return out


def _stopping_at_captured(out: Value, order: list[Value], captured: set[Value]) -> list[Value]:
    """``order``, ``topological_order(out)``, without the Values only reachable through captured ones."""
    needed = {out}
    for v in reversed(order):
        if v in needed and v not in captured:
            needed.update(x for x in v.operands if isinstance(x, Value))
    return [v for v in order if v in needed]


def replay(graph: Graph, params: Sequence[float], sample: Sample, backpropagate: bool) -> Value:
    """Run ``graph`` on one sample with the eager engine (raising exactly its errors)."""
    args = argument_values(graph.args, sample)
    flat = [v if isinstance(v, list) else [v] for v in args]
    leaves = [Value(p) for p in params]
    values: list[Value] = []
    for n in graph.nodes:
        if n.op == "arg":
            a, e = n.slot
            values.append(flat[a][e])
        elif n.op == "param":
            values.append(leaves[n.slot[0]])
        elif n.op == "const":
            values.append(Value(n.value))  # type: ignore[arg-type]
        else:
            values.append(lookup(n.op, n.param).forward(VALUE_MATH, *(values[i] for i in n.inputs)))
    if backpropagate:
        values[-1].backpropagate()
    return values[-1]


def _name(fn: Callable[..., object]) -> str:
    return getattr(fn, "__name__", repr(fn))


def as_number(x: object, what: str) -> float:
    """``x`` as a float, or TypeError naming ``what``."""
    if isinstance(x, Value):
        return x.data
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"{what}: expected a real number or a Value, got {x!r} of type {type(x).__name__}")
