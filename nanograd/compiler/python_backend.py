"""The python backend: the graph interpreted on floats with FLOAT_MATH, one sample at a time.

It needs only the standard library. Each sample runs the op table's forward rules node by
node and, for each output asked for, the vjp rules backward; a sample in which a number
stops being finite, a domain error is raised or a take's index is not a whole number in
range runs by the eager engine instead (:func:`.eager.eager_sample`), which raises its
error or gives its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..float_math import FLOAT_GRAD_MATH, FLOAT_MATH
from ..ops import Op
from .eager import eager_sample
from .graph import LEAF_KINDS, TAKE, Graph, differentiable, op_of
from .lowering import Plan
from .result import Result


class _Irregular(Exception):
    """A number stopped being finite, or a take's index is not a whole number in range."""


class PythonBackend:
    """The graph interpreted on floats with FLOAT_MATH, sample by sample."""

    name = "python"

    def column(self, batch: Any) -> list[Any]:
        """A batch as a list of floats (N,) or of lists of floats (N, k)."""
        rows = batch.tolist() if hasattr(batch, "tolist") else list(batch)
        return [[float(e) for e in x] if isinstance(x, list) else float(x) for x in rows]

    def shape(self, column: list[Any]) -> tuple[int, ...]:
        """(N,) or (N, k); ValueError for ragged or deeper rows."""
        if all(isinstance(x, float) for x in column):
            return (len(column),)
        lengths = {len(x) if isinstance(x, list) and all(isinstance(e, float) for e in x) else -1 for x in column}
        if len(lengths) != 1 or -1 in lengths:
            raise ValueError("compile: expected a batch of shape (N,) or (N, k), got ragged or nested rows")
        return (len(column), lengths.pop())

    def join(self, parts: list[Any]) -> Any:
        """Rows of all chunks, as a numpy array when numpy is installed."""
        rows = [y for part in parts for y in part]
        try:
            import numpy as np
        except ImportError:
            return rows
        return np.asarray(rows, dtype=np.float64)

    def stack(self, parts: list[list[Any]]) -> list[Any]:
        """Lists of one length along a new second axis."""
        return [list(row) for row in zip(*parts)]

    def run(
        self,
        graph: Graph,
        plan: Plan | None,
        params: list[float],
        batch: list[Any],
        wrt: Sequence[int],
        arguments: bool = True,
    ) -> Result:
        """Outputs and gradients as :meth:`ArrayBackend.run <.arrays.ArrayBackend.run>` gives them, as lists."""
        n = len(batch[0]) if batch else 1
        ops = [None if node.op in LEAF_KINDS or node.op == TAKE else op_of(node.op, node.param) for node in graph.nodes]
        outputs: list[list[float]] = []
        param_grads = [[0.0] * graph.n_params for _ in wrt]
        arg_grads: list[list[list[Any]]] = [[[] for _ in graph.args] for _ in wrt]
        upstream = [_upstream(graph, o) for o in wrt]
        for s in range(n):
            sample = [column[s] for column in batch]
            try:
                values = self._forward(graph, ops, params, sample)
                grads = [self._backward(graph, ops, values, o, up) for o, up in zip(wrt, upstream)]
                outs = [values[o] for o in graph.outputs]
                sample_grads = [self._collect(graph, g) for g in grads]
            except (ArithmeticError, ValueError, _Irregular):
                outs, sample_grads = eager_sample(graph, params, sample, wrt)  # the eager engine decides
            outputs.append(outs)
            for w, (p, per_argument) in enumerate(sample_grads):
                param_grads[w] = [a + b for a, b in zip(param_grads[w], p)]
                for a, g in enumerate(per_argument):
                    arg_grads[w][a].append(g)
        return Result(outputs, [(param_grads[w], arg_grads[w] if arguments else []) for w in range(len(wrt))])

    @staticmethod
    def _forward(graph: Graph, ops: list[Op | None], params: list[float], sample: list[Any]) -> list[float]:
        values: list[float] = []
        for node, op in zip(graph.nodes, ops):
            if node.op == "arg":
                a, e = node.slot
                x = sample[a] if graph.args[a] is None else sample[a][e]
            elif node.op == "param":
                x = params[node.slot[0]]
            elif node.op == "const":
                x = node.value
            elif op is None:  # take
                i = values[node.inputs[0]]
                if not (math.isfinite(i) and i == math.floor(i) and 0 <= i < len(node.inputs) - 1):
                    raise _Irregular
                x = values[node.inputs[1 + int(i)]]
            else:
                x = op.forward(FLOAT_MATH, *(values[j] for j in node.inputs))
            if not math.isfinite(x):
                raise _Irregular
            values.append(x)
        return values

    @staticmethod
    def _backward(
        graph: Graph, ops: list[Op | None], values: list[float], output: int, upstream: list[bool]
    ) -> list[float]:
        grads = [0.0] * len(values)
        grads[graph.outputs[output]] = 1.0
        for i in range(len(values) - 1, -1, -1):
            node, op, g = graph.nodes[i], ops[i], grads[i]
            if not node.inputs or not upstream[i]:  # as the eager engine, only what the output depends on
                continue
            if op is None:  # take: the gradient to the chosen input
                grads[node.inputs[1 + int(values[node.inputs[0]])]] += g
                continue
            shares = op.vjp(FLOAT_GRAD_MATH, g, values[i], *(values[j] for j in node.inputs))
            first = len(node.inputs) - len(differentiable(node.op, node.inputs))  # a select's comparison: no edge
            for j, share in zip(node.inputs[first:], shares[first:]):
                grads[j] += share
        if not all(map(math.isfinite, grads)):
            raise _Irregular
        return grads

    @staticmethod
    def _collect(graph: Graph, grads: list[float]) -> tuple[list[float], list[Any]]:
        """(per captured slot, per argument) gradients from per-node ones."""
        params = [0.0] * graph.n_params
        per_arg: list[Any] = [0.0 if k is None else [0.0] * k for k in graph.args]
        for node, g in zip(graph.nodes, grads):
            if node.op == "param":
                params[node.slot[0]] += g
            elif node.op == "arg":
                a, e = node.slot
                if graph.args[a] is None:
                    per_arg[a] += g
                else:
                    per_arg[a][e] += g
        return params, per_arg


def _upstream(graph: Graph, output: int) -> list[bool]:
    """Per node: does output number ``output`` depend on it?"""
    up = [False] * len(graph.nodes)
    up[graph.outputs[output]] = True
    for i in range(len(graph.nodes) - 1, -1, -1):
        if up[i]:
            for j in differentiable(graph.nodes[i].op, graph.nodes[i].inputs):
                up[j] = True
    return up
