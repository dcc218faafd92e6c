"""Pickling and ``copy.deepcopy`` of graphs, as plain data and without recursion.

A leaf pickles as its numbers. A computed Value pickles as its leaves plus one tuple per
computed node, ``(class, op name, param, data, grad, label, operands)``, where an operand
is an ``int`` index into the leaves and the nodes before it, or a ``float`` literal. Ops
travel by name (their rules are code, and are looked up again on loading), so any depth
works and nothing but nanograd's own op table is called while loading.
"""

from __future__ import annotations

from typing import Any

from .backprop import topological_order
from .node import Node
from .ops import OPS, lookup


def reduce(v: Node) -> tuple[Any, ...]:
    """``v.__reduce__()``: how pickle and deepcopy rebuild ``v`` (see the module docstring)."""
    state = getattr(v, "__dict__", None)  # a subclass's own attributes
    if v._operation is None:
        return (rebuild_leaf, (type(v), v.data, v.grad, v.label, state))
    return (rebuild_graph, graph_as_data(v))


def rebuild_leaf(cls: type[Node], data: float, grad: Any, label: str, state: dict[str, Any] | None = None) -> Node:
    """A leaf of class ``cls`` with these fields (the unpickling side of :func:`reduce`)."""
    leaf = object.__new__(cls)
    leaf.data, leaf.grad, leaf.label = data, grad, label
    leaf._set_operands(None, ())
    if state:
        leaf.__dict__.update(state)
    return leaf


def graph_as_data(root: Node) -> tuple[list[Node], list[tuple[Any, ...]]]:
    """``root``'s graph as its leaves (Nodes, pickled as leaves) and its computed nodes as plain tuples."""
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
        operands = tuple(x if type(x) is float else index[x] for x in v.operands)
        index[v] = len(index)
        nodes.append((type(v), op.name, op.param, v.data, v.grad, v.label, operands))
    return leaves, nodes


def rebuild_graph(leaves: list[Node], nodes: list[tuple[Any, ...]]) -> Node:
    """The root of the graph :func:`graph_as_data` wrote (the unpickling side)."""
    built: list[Node] = list(leaves)
    for cls, name, param, data, grad, label, operands in nodes:
        v = object.__new__(cls)
        v.data, v.grad, v.label = data, grad, label
        v._set_operands(lookup(name, param), tuple(x if type(x) is float else built[x] for x in operands))
        built.append(v)
    return built[-1]
