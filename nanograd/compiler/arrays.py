"""What the numpy and torch backends share: a :class:`Plan` run on 2-D arrays.

:class:`ArrayBackend` runs a plan's :class:`~.kernel.Kernel` (made once per plan) forward,
each register an array of one row per sample or one row that broadcasts, and, for each
output asked for, backward: one gradient array per register. A subclass supplies the
array library and its math namespace.

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
from .graph import Graph
from .kernel import IrregularIndex, Kernel
from .lowering import Array, Plan
from .result import Result

#: Most kernels a backend keeps (one per plan and device, the oldest dropped first).
MAX_KERNELS = 64


class ArrayBackend:
    """Runs a :class:`Plan` with array operations; a subclass supplies the array library."""

    name = ""
    math: Any

    def __init__(self) -> None:
        # (id of a plan, device, arguments) -> (the plan, its kernel): made once per plan and device
        self._kernels: dict[tuple[int, Any, bool], tuple[Plan, Kernel]] = {}

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

    def column_adder(self, cols: list[int], like: Array | None) -> Callable[[Array, Array], None]:
        """A function doing ``target[:, cols] += values`` in place, repeated columns adding up.

        Made once per part of a plan: the work that depends only on ``cols`` is done here.
        """
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

    def device(self, like: Array | None) -> Any:
        """Where ``like`` lives (index arrays are made there); None for a library with one device."""
        return None

    def clean(self, inputs: list[Array], registers: list[Array], returned: list[Array]) -> bool:
        """Whether a run that raised no FloatingPointError may be trusted: every number was finite.

        ``inputs`` are the arguments, parameters and constants, ``registers`` every value and
        gradient the run computed, ``returned`` the outputs and gradients it gives back.
        Gradients must be checked: a select sends 0 to the branch it did not choose, which
        the eager engine never backpropagates, and 0 * NaN there (a rule's discarded branch)
        is NaN. This default checks every register; a library whose ``trapping`` catches
        every non-finite value made from finite inputs need only check what a rule could
        make silently and what is returned (numpy).
        """
        return all(all(self.finite_rows(a)) for a in inputs + registers)

    def kernel(self, plan: Plan, like: Array | None, arguments: bool = True) -> Kernel:
        """The :class:`Kernel` of ``plan`` for ``like``'s device, made on first use.

        ``arguments=False``: one whose backward pass leaves out the arguments' gradients.
        """
        key = (id(plan), self.device(like), arguments)
        cached = self._kernels.get(key)
        if cached is None or cached[0] is not plan:
            cached = (plan, Kernel(self, plan, like, arguments))
            self._kernels[key] = cached
            while len(self._kernels) > MAX_KERNELS:  # the oldest first (dicts keep insertion order)
                del self._kernels[next(iter(self._kernels))]
        return cached[1]

    # -- running a batch ----------------------------------------------------------------------
    def run(
        self,
        graph: Graph,
        plan: Plan,
        params: Sequence[float] | Array,
        batch: list[Array],
        wrt: Sequence[int],
        arguments: bool = True,
    ) -> Result:
        """Outputs of ``graph`` lowered as ``plan``, and gradients of the outputs in ``wrt``.

        ``params`` holds the captured parameters' numbers (a list, or a 1-D array of this
        backend). ``arguments=False`` leaves the arguments' gradients out (an empty list each).
        """
        like = batch[0] if batch else None
        kernel = self.kernel(plan, like, arguments)
        row = self.asarray([params], like) if isinstance(params, (list, tuple)) else params.reshape(1, -1)  # type: ignore[union-attr]
        fast = self._fast(graph, kernel, batch, row, wrt)
        if fast is None:
            fast = self._careful(graph, kernel, row, batch, wrt)
        return fast

    def _fast(self, graph: Graph, kernel: Kernel, batch: list[Array], row: Array, wrt: Sequence[int]) -> Result | None:
        """The arrays' result if every number on the way was finite (and every index valid), else None."""
        rows = len(batch[0]) if batch else 1
        try:
            with self.trapping():
                R = kernel.forward(batch, row)
                G = [kernel.backward(R, o, rows) for o in wrt]
        except (FloatingPointError, IrregularIndex):
            return None
        result = self._result(graph, kernel, R, G)
        returned = [result.outputs, *(a for p, per_argument in result.grads for a in (p, *per_argument))]
        inputs = [*batch, row, kernel.constants]
        if not self.clean(inputs, [*R, *(g for gs in G for g in gs if g is not None)], returned):
            return None
        return result

    def _careful(self, graph: Graph, kernel: Kernel, row: Array, batch: list[Array], wrt: Sequence[int]) -> Result:
        """The slow path: the batch halved until the samples that are not clean run alone, eagerly.

        Samples come left to right, so the first error raised is the eager engine's for the
        first sample that has one.
        """
        rows = len(batch[0])
        like = batch[0]
        params = row[0].tolist()
        columns = [c.tolist() for c in batch]
        outputs: list[list[float]] = [[] for _ in range(rows)]
        param_grads = [[0.0] * graph.n_params for _ in wrt]
        arg_grads: list[list[list[Any]]] = [[[None] * rows for _ in graph.args] for _ in wrt]
        pending = [list(range(rows // 2, rows)), list(range(rows // 2))]  # the whole batch failed already
        while pending:
            chunk = pending.pop()
            if not chunk:
                continue
            fast = self._fast(graph, kernel, [self.select_rows(c, chunk) for c in batch], row, wrt)
            if fast is None and len(chunk) > 1:
                half = len(chunk) // 2
                pending += [chunk[half:], chunk[:half]]
                continue
            if fast is not None:
                for r, sample_outputs in zip(chunk, fast.outputs.tolist()):
                    outputs[r] = sample_outputs
                chunk_grads = [(p.tolist(), [g.tolist() for g in per_argument]) for p, per_argument in fast.grads]
            else:
                (r,) = chunk
                outputs[r], sample_grads = eager_sample(graph, params, [c[r] for c in columns], wrt)
                chunk_grads = [(p, [[g] for g in per_argument]) for p, per_argument in sample_grads]
            for w, (p, per_argument) in enumerate(chunk_grads):
                param_grads[w] = [a + b for a, b in zip(param_grads[w], p)]
                for a, g in enumerate(per_argument if kernel.arguments else ()):
                    for r, x in zip(chunk, g):
                        arg_grads[w][a][r] = x
        grads = [
            (self.asarray(p, like), [self.asarray(g, like) for g in gs] if kernel.arguments else [])
            for p, gs in zip(param_grads, arg_grads)
        ]
        return Result(self.asarray(outputs, like), grads)

    def _result(self, graph: Graph, kernel: Kernel, R: list[Array], G: list[list[Array | None]]) -> Result:
        """The outputs as an (N, k) array, and the gradients asked for."""
        rows = R[0].shape[0] if graph.args else 1
        like = kernel.like
        parts = kernel.outputs(R)
        if len(parts) > 1 or parts[0].shape[0] != rows:  # several, or one row standing for every sample
            parts = [self.zeros(rows, 0, like), *parts]
        outputs = self.concat(parts)
        grads = []
        for gs in G:
            p: Any = gs[kernel.plan.params]
            arg_grads = []
            for a, k in enumerate(graph.args if kernel.arguments else ()):
                g: Any = gs[a] if gs[a] is not None else self.zeros(rows, k or 1, like)
                arg_grads.append(g[:, 0] if k is None else g)
            grads.append((p[0], arg_grads))
        return Result(outputs, grads)
