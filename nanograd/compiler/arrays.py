"""The plan interpreter shared by the numpy and torch backends: a :class:`Plan` run on 2-D arrays.

:class:`ArrayBackend` runs the steps forward (each register an array of one row per
sample, or one row that broadcasts) and, for each output asked for, backward: one
gradient array per register, the op table's vjp rules for ``Map`` steps, matrix products
for ``Linear`` and ``Contract``, scatters for ``Gather`` and ``Take``. A subclass supplies
the array library and its math namespace.

Finite numbers only, on the fast path. Where a number stops being finite (a non-finite
argument, parameter or constant, an overflow, a domain error, also inside a rule) or a take
meets an index that is not a whole number in range, the batch is halved until the samples
that are not clean stand alone; those run by the eager engine (:func:`.eager.eager_sample`),
which raises its own error or gives its own numbers: IEEE results where eager has them, its
exceptions where it raises. The other samples keep the array results. Such batches are
slower: the fast path is for finite data.

A rule of a registered op that calls Python's ``**`` or ``/`` on floats raises in the eager
engine where IEEE arithmetic gives inf or 0 (``(1e300) ** 2``); numpy traps that, torch
cannot see it inside the rule and keeps the IEEE result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from .eager import eager_sample
from .graph import SELECTS, Graph, op_of
from .lowering import Argument, Array, Contract, Gather, Input, Leaves, Linear, Map, Plan, Take
from .result import Result


class _Irregular(Exception):
    """A take met an index that is not a whole number in range (the eager engine decides)."""


class ArrayBackend:
    """Runs a :class:`Plan` with array operations; a subclass supplies the array library."""

    name = ""
    math: Any

    def __init__(self) -> None:
        # (purpose, id of a part of a plan) -> (the part, its index array): made once per plan
        self._cache: dict[tuple[str, int], tuple[object, Any]] = {}

    # -- what a subclass provides ----------------------------------------------------------
    def column(self, batch: Any) -> Array:
        """A batch (numbers, nested lists or an array, already checked to hold real numbers) as float64."""
        raise NotImplementedError

    def asarray(self, data: Any, like: Array | None) -> Array:
        """``data`` as a float64 array (on ``like``'s device)."""
        raise NotImplementedError

    def index(self, data: Any, like: Array | None) -> Array:
        """``data`` as an integer index array (on ``like``'s device)."""
        raise NotImplementedError

    def zeros(self, rows: int, cols: int, like: Array) -> Array:
        """A (rows, cols) float64 array of zeros on ``like``'s device."""
        raise NotImplementedError

    def shape(self, a: Array) -> tuple[int, ...]:
        return tuple(a.shape)

    def join(self, parts: list[Array]) -> Array:
        """Arrays one after the other (rows)."""
        raise NotImplementedError

    def concat(self, parts: list[Array]) -> Array:
        """Arrays side by side (columns), broadcasting single rows."""
        raise NotImplementedError

    def sum_rows(self, a: Array) -> Array:
        """The column sums of ``a`` as one row."""
        raise NotImplementedError

    def sum_columns(self, a: Array) -> Array:
        """The row sums of ``a`` as one column."""
        raise NotImplementedError

    def add_columns(self, target: Array, cols: Array, values: Array) -> None:
        """``target[:, cols] += values`` in place, adding up repeated columns."""
        raise NotImplementedError

    def take_columns(self, table: Array, cols: Array) -> Array:
        """``out[n, o] = table[n, cols[n, o]]``; either may have one row, which broadcasts."""
        raise NotImplementedError

    def put_columns(self, like: Array, cols: Array, values: Array) -> Array:
        """The gradient of :meth:`take_columns`: ``values`` added into zeros shaped like ``like`` at ``cols``."""
        raise NotImplementedError

    def whole_in_range(self, x: Array, n: int) -> Array:
        """Per element: is ``x`` a whole number from 0 to n - 1 (False for NaN)?"""
        raise NotImplementedError

    def to_int(self, x: Array) -> Array:
        """``x`` (whole numbers) as an index array."""
        raise NotImplementedError

    def finite_rows(self, a: Array) -> list[bool]:
        """Per row of ``a``: are all its numbers finite?"""
        raise NotImplementedError

    def true_rows(self, mask: Array) -> list[bool]:
        """Per row of a boolean ``mask``: is it true everywhere?"""
        raise NotImplementedError

    def select_rows(self, a: Array, rows: list[int]) -> Array:
        """The rows ``rows`` of ``a``."""
        raise NotImplementedError

    def trapping(self) -> Any:
        """A context in which a non-finite result raises FloatingPointError, if the library can."""
        return contextlib.nullcontext()

    def quiet(self) -> Any:
        """A context in which non-finite results are silent."""
        return contextlib.nullcontext()

    def clean(self, inputs: list[Array], values: list[Array], grads: list[Array]) -> bool:
        """Whether a run that raised no FloatingPointError may be trusted: every number was finite.

        ``inputs`` are the arguments, parameters and constants, ``values`` and ``grads`` what the
        run computed. Gradients must be checked: a select sends 0 to the branch it did not
        choose, which the eager engine never backpropagates, and 0 * NaN there (a rule's
        discarded branch) is NaN. A library whose ``trapping`` catches every non-finite value
        made from finite inputs need not check the values (numpy); this default checks all.
        """
        return all(all(self.finite_rows(a)) for a in inputs + values + grads)

    # -- running a batch ----------------------------------------------------------------------
    def run(self, graph: Graph, plan: Plan, params: list[float], batch: list[Array], wrt: Sequence[int]) -> Result:
        """Outputs of ``graph`` lowered as ``plan``, and gradients of the outputs in ``wrt``."""
        leaves = self._leaves(plan, params, batch)
        fast = self._fast(graph, plan, batch, leaves, wrt)
        return fast if fast is not None else self._careful(graph, plan, params, batch, leaves, wrt)

    def _leaves(self, plan: Plan, params: list[float], batch: list[Array]) -> list[Array]:
        like = batch[0] if batch else None
        return [self.asarray([params], like), self.asarray([plan.constants], like)]

    def _fast(
        self, graph: Graph, plan: Plan, batch: list[Array], leaves: list[Array], wrt: Sequence[int]
    ) -> Result | None:
        """The arrays' result if every number on the way was finite (and every index valid), else None."""
        rows = len(batch[0]) if batch else 1
        try:
            with self.trapping():
                R = self._forward(plan, batch, leaves)
                G = [self._backward(plan, R, o, rows) for o in wrt]
        except (FloatingPointError, _Irregular):
            return None
        if not self.clean([*batch, *leaves], R, [g for gs in G for g in gs if g is not None]):
            return None
        return self._result(graph, plan, R, G)

    def _careful(
        self,
        graph: Graph,
        plan: Plan,
        params: list[float],
        batch: list[Array],
        leaves: list[Array],
        wrt: Sequence[int],
    ) -> Result:
        """The slow path: the batch halved until the samples that are not clean run alone, eagerly.

        Samples come left to right, so the first error raised is the eager engine's for the
        first sample that has one.
        """
        rows = len(batch[0])
        like = batch[0]
        columns = [c.tolist() for c in batch]
        outputs: list[list[float]] = [[] for _ in range(rows)]
        param_grads = [[0.0] * graph.n_params for _ in wrt]
        arg_grads: list[list[list[Any]]] = [[[None] * rows for _ in graph.args] for _ in wrt]
        pending = [list(range(rows // 2, rows)), list(range(rows // 2))]  # the whole batch failed already
        while pending:
            chunk = pending.pop()
            if not chunk:
                continue
            fast = self._fast(graph, plan, [self.select_rows(c, chunk) for c in batch], leaves, wrt)
            if fast is None and len(chunk) > 1:
                half = len(chunk) // 2
                pending += [chunk[half:], chunk[:half]]
                continue
            if fast is not None:
                for r, row in zip(chunk, fast.outputs.tolist()):
                    outputs[r] = row
                chunk_grads = [(p.tolist(), [g.tolist() for g in per_argument]) for p, per_argument in fast.grads]
            else:
                (r,) = chunk
                outputs[r], sample_grads = eager_sample(graph, params, [c[r] for c in columns], wrt)
                chunk_grads = [(p, [[g] for g in per_argument]) for p, per_argument in sample_grads]
            for w, (p, per_argument) in enumerate(chunk_grads):
                param_grads[w] = [a + b for a, b in zip(param_grads[w], p)]
                for a, g in enumerate(per_argument):
                    for r, x in zip(chunk, g):
                        arg_grads[w][a][r] = x
        grads = [
            (self.asarray(param_grads[w], like), [self.asarray(g, like) for g in arg_grads[w]]) for w in range(len(wrt))
        ]
        return Result(self.asarray(outputs, like), grads)

    def _result(self, graph: Graph, plan: Plan, R: list[Array], G: list[list[Array | None]]) -> Result:
        rows = R[0].shape[0] if graph.args else 1
        like = R[plan.params]
        outputs = self.concat([self.zeros(rows, 0, like), *(R[r][:, c : c + 1] for r, c in plan.outputs)])
        grads = []
        for gs in G:
            p: Any = gs[plan.params]
            arg_grads = []
            for a, k in enumerate(graph.args):
                g: Any = gs[a] if gs[a] is not None else self.zeros(rows, k or 1, like)
                arg_grads.append(g[:, 0] if k is None else g)
            grads.append((self.zeros(1, graph.n_params, like)[0] if p is None else p[0], arg_grads))
        return Result(outputs, grads)

    # -- forward ----------------------------------------------------------------------------
    def _cached(self, purpose: str, part: object, make: Callable[[], Any]) -> Any:
        """An index array for a part of a plan, made once (the plan keeps the part alive)."""
        cached = self._cache.get((purpose, id(part)))
        if cached is None or cached[0] is not part:
            cached = (part, make())
            self._cache[purpose, id(part)] = cached
        return cached[1]

    def _selector(self, cols: tuple[int, ...], like: Array) -> Any:
        """What selects columns ``cols``: a slice (a view) when they are consecutive, else an index array."""

        def make() -> Any:
            if cols == tuple(range(cols[0], cols[0] + len(cols))):
                return slice(cols[0], cols[0] + len(cols))
            return self.index(cols, like)

        return self._cached("select", cols, make)

    def _forward(self, plan: Plan, batch: list[Array], leaves: list[Array]) -> list[Array]:
        param_row, const_row = leaves
        R: list[Array] = []
        for step in plan.steps:
            if isinstance(step, Argument):
                x = batch[step.index]
                R.append(x if x.ndim == 2 else x[:, None])
            elif isinstance(step, Leaves):
                R.append(param_row if step.kind == "param" else const_row)
            elif isinstance(step, Gather):
                R.append(self.concat([R[r][:, self._selector(cols, param_row)] for r, cols in step.parts]))
            elif isinstance(step, Map):
                R.append(op_of(step.name, step.param).forward(self.math, *(self._read(R, x) for x in step.inputs)))
            elif isinstance(step, Linear):
                R.append(self._linear(step, R, param_row))
            elif isinstance(step, Contract):
                R.append(self._contract(step, R))
            else:
                cols = self._take_columns(step, R)
                R.append(self.take_columns(self._read(R, step.table), cols))
        return R

    def _read(self, R: list[Array], x: Input) -> Array:
        """What input ``x`` reads: a register, or a view of some of its columns."""
        reg, cols = x
        return R[reg] if cols is None else R[reg][:, self._selector(cols, R[reg])]

    def _weights(self, step: Linear, param_row: Array) -> Array:
        return param_row[0][self._cached("weights", step.weights, lambda: self.index(step.weights, param_row))]

    def _linear(self, step: Linear, R: list[Array], param_row: Array) -> Array:
        x, W = self._read(R, step.x), self._weights(step, param_row)
        out = x @ W.T if step.blocks == 1 else (x.reshape(x.shape[0], step.blocks, -1) @ W.T).reshape(x.shape[0], -1)
        if step.bias_slots:
            return out + param_row[:, self._cached("bias", step.bias_slots, lambda: self.index(step.bias_slots, x))]
        return out if step.bias is None else out + self._read(R, step.bias)

    def _contract(self, step: Contract, R: list[Array]) -> Array:
        total = None
        if step.a is not None and step.b is not None:
            products = self._read(R, step.a) * self._read(R, step.b)
            total = products.reshape(products.shape[0], -1, step.products).sum(-1)
        if step.c is not None:
            terms = self._read(R, step.c)
            rest = terms.reshape(terms.shape[0], -1, step.terms).sum(-1)
            total = rest if total is None else total + rest
        return total

    def _take_columns(self, step: Take, R: list[Array]) -> Array:
        """The columns of its table a take picks: ``o * size + index``; _Irregular for a bad index."""
        index = self._read(R, step.index)
        if not all(self.true_rows(self.whole_in_range(index, step.size))):
            raise _Irregular  # the eager engine decides: its IndexError or ValueError
        outputs = self._read(R, step.table).shape[1] // step.size
        offsets = self._cached("offsets", step, lambda: self.index([o * step.size for o in range(outputs)], index))
        return self.to_int(index) + offsets

    # -- backward ---------------------------------------------------------------------------
    def _backward(self, plan: Plan, R: list[Array], output: int, rows: int) -> list[Array | None]:
        """One gradient per register of the output summed over the batch; None where nothing flowed."""
        param_row = R[plan.params]
        G: list[Array | None] = [None] * len(R)

        def add(x: Input, g: Any) -> None:
            """Add ``g``, the gradient of what input ``x`` read, into its register's gradient."""
            j, cols = x
            if not plan.needs_grad[j]:
                return
            rows, width = R[j].shape[0], R[j].shape[1] if cols is None else len(cols)
            if not hasattr(g, "shape"):  # a number from a rule: x ** 0 passes 0.0 on, as eagerly
                g = self.zeros(rows, width, param_row) + g
            if g.shape[0] != rows:
                g = self.sum_rows(g)
            if g.shape[1] != width:
                g = self.sum_columns(g)
            if cols is not None:
                whole = self.zeros(rows, R[j].shape[1], param_row)
                self.add_columns(whole, self._cached("scatter", cols, lambda: self.index(cols, param_row)), g)
                g = whole
            G[j] = g if G[j] is None else G[j] + g

        reg, col = plan.outputs[output]
        seed = self.zeros(R[reg].shape[0], R[reg].shape[1], param_row)
        seed[:, col] = 1.0 if R[reg].shape[0] == rows else float(rows)  # one row stands for every sample
        G[reg] = seed
        param_grads = self.zeros(1, plan.widths[plan.params], param_row)
        for i in range(len(plan.steps) - 1, -1, -1):
            step, g = plan.steps[i], G[i]
            if g is None:
                continue
            if isinstance(step, Gather):
                start = 0
                for r, cols in step.parts:
                    add((r, cols), g[:, start : start + len(cols)])
                    start += len(cols)
            elif isinstance(step, Map):
                inputs = [self._read(R, x) for x in step.inputs]
                shares = list(zip(step.inputs, op_of(step.name, step.param).vjp(self.math, g, R[i], *inputs)))
                for x, gx in shares[2:] if step.name in SELECTS else shares:  # a select's comparison: no edge
                    add(x, gx)
            elif isinstance(step, Linear):
                self._linear_backward(step, R, g, add, param_grads, param_row)
            elif isinstance(step, Contract):
                self._contract_backward(step, R, g, add)
            elif isinstance(step, Take):
                cols = self._take_columns(step, R)
                add(step.table, self.put_columns(self._read(R, step.table), cols, g))
        G[plan.params] = param_grads if G[plan.params] is None else G[plan.params] + param_grads
        return G

    def _linear_backward(
        self,
        step: Linear,
        R: list[Array],
        g: Array,
        add: Callable[[Input, Any], None],
        param_grads: Array,
        param_row: Array,
    ) -> None:
        x, W = self._read(R, step.x), self._weights(step, param_row)
        if step.blocks == 1:
            add(step.x, g @ W)
        else:
            add(step.x, (g.reshape(g.shape[0], step.blocks, -1) @ W).reshape(g.shape[0], -1))
        g_rows = g if g.shape[0] == x.shape[0] else self.sum_rows(g)
        outs, ins = len(step.weights), len(step.weights[0])
        gW = g_rows.reshape(-1, outs).T @ x.reshape(-1, ins)
        flat = self._cached("flat", step.weights, lambda: self.index([w for row in step.weights for w in row], x))
        self.add_columns(param_grads, flat, gW.reshape(1, -1))
        if step.bias_slots:
            slots = self._cached("bias", step.bias_slots, lambda: self.index(step.bias_slots, x))
            self.add_columns(param_grads, slots, self.sum_rows(g))
        elif step.bias is not None:
            add(step.bias, g)

    def _contract_backward(self, step: Contract, R: list[Array], g: Array, add: Callable[[Input, Any], None]) -> None:
        g3 = g.reshape(g.shape[0], -1, 1)
        if step.a is not None and step.b is not None:
            a, b = self._read(R, step.a), self._read(R, step.b)
            ga = g3 * b.reshape(b.shape[0], -1, step.products)
            gb = g3 * a.reshape(a.shape[0], -1, step.products)
            add(step.a, ga.reshape(ga.shape[0], -1))
            add(step.b, gb.reshape(gb.shape[0], -1))
        if step.c is not None:
            gc = g3 + self.zeros(1, self._read(R, step.c).shape[1], g).reshape(1, -1, step.terms)
            add(step.c, gc.reshape(gc.shape[0], -1))
