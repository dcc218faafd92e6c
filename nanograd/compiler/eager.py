"""A traced graph run by the eager engine: the reference every backend falls back to.

:func:`run_eagerly` builds, from a :class:`Graph` and leaves, the graph of Values the traced
function would have built eagerly: ops applied as ``op(*inputs)``, selects and takes by
:func:`nanograd.where` and :func:`nanograd.take`. So it raises exactly the eager engine's
errors, gives its numbers, and can be backpropagated (twice too). :func:`eager_sample` runs
one sample of a batch that way, with the gradients the backends return; they call it for
the samples where their array arithmetic met a non-finite number (the eager engine decides:
it raises its error, or its numbers stand).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..selection import take, where
from ..value import Value
from .graph import SELECTS, TAKE, Graph, op_of

#: One sample of a batch: a number per scalar argument, a list of numbers per vector argument.
Sample = Sequence[Any]


def run_eagerly(graph: Graph, params: Sequence[Value], args: Sequence[Value | Sequence[Value]]) -> list[Value]:
    """The outputs of ``graph`` computed by the eager engine on these leaves.

    ``params`` holds one Value per captured slot, ``args`` one Value (a scalar argument) or
    list of Values per traced argument.
    """
    values: list[Value] = []
    for n in graph.nodes:
        if n.op == "arg":
            a, e = n.slot
            arg = args[a]
            values.append(arg if graph.args[a] is None else arg[e])  # type: ignore[arg-type, index]
        elif n.op == "param":
            values.append(params[n.slot[0]])
        elif n.op == "const":
            values.append(Value(n.value))  # type: ignore[arg-type]
        elif n.op == TAKE:
            values.append(take([values[j] for j in n.inputs[1:]], values[n.inputs[0]]))
        elif n.op in SELECTS:
            a_, b, x, y = (values[j] for j in n.inputs)
            values.append(where(a_ > b if n.op == "where_gt" else a_ >= b, x, y))
        elif n.op == "power":  # as x ** k computes it (its errors word the exponent as Value.__pow__ does)
            values.append(values[n.inputs[0]] ** n.param)  # type: ignore[operator]
        else:
            values.append(op_of(n.op, n.param)(*(values[j] for j in n.inputs)))
    return [values[o] for o in graph.outputs]


def leaves_for(graph: Graph, sample: Sample) -> list[Value | list[Value]]:
    """Fresh leaves holding one sample's numbers, one per scalar argument, a list per vector argument."""
    return [Value(float(x)) if k is None else [Value(float(e)) for e in x] for x, k in zip(sample, graph.args)]


def eager_sample(
    graph: Graph, params: Sequence[float], sample: Sample, wrt: Sequence[int]
) -> tuple[list[float], list[tuple[list[float], list[Any]]]]:
    """One sample run eagerly: its outputs, and for each output in ``wrt`` the gradients of it.

    A gradient pair is (one number per captured slot, one number or list per argument).
    """
    leaves = [Value(p) for p in params]
    args = leaves_for(graph, sample)
    outputs = run_eagerly(graph, leaves, args)
    grads = []
    for o in wrt:
        for v in leaves + [x for a in args for x in (a if isinstance(a, list) else [a])]:
            v.grad = 0.0
        outputs[o].backpropagate()
        grads.append(([p.grad for p in leaves], [[x.grad for x in a] if isinstance(a, list) else a.grad for a in args]))
    return [v.data for v in outputs], grads
