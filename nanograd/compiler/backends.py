"""Backends: interpreters of the op table that run a traced graph over a batch.

Each backend is a math namespace for the op rules (``exp``, ``relu``, ``pow``, ...) plus
a loop; none restates a derivative. ``run(graph, plan, params, batch, seed)`` returns the
outputs and, when ``seed`` (the gradient arriving at each output) is given, the gradients
of the captured parameters (summed over the batch) and of the arguments (per sample).

* ``python`` -- :data:`~nanograd.ops.FLOAT_MATH`, one sample at a time, standard library only.
* ``numpy``  -- :data:`NUMPY_MATH` over the lowered :class:`~.lowering.Plan` (matrix products).
* ``torch``  -- :data:`nanograd.pytorch.TORCH_MATH` over the same plan, on the batch's device.

Non-finite numbers follow the eager engine: when a backend sees one appear (numpy's
floating-point flags, a non-finite sum of torch's arrays, a float exception), it replays
the samples (the chunk's, or the one sample on ``python``) with the eager engine, which
raises its own error; if the eager engine raises nothing the number is legitimate IEEE
arithmetic (an infinite or NaN input) and is kept. Such batches are therefore slow: the
fast path is for finite data.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ..ops import FLOAT_GRAD_MATH, FLOAT_MATH, Op, lookup
from .graph import LEAF_KINDS, Graph
from .lowering import Argument, Array, Gather, Leaves, Linear, Map, Plan, build_plan
from .trace import replay


@dataclass
class Result:
    """Outputs (N,), and when a seed was given: parameter gradients (P,) and argument gradients."""

    outputs: Any
    param_grads: Any = None
    arg_grads: list[Any] | None = None


# -- pure Python ------------------------------------------------------------------------------


class PythonBackend:
    """The graph interpreted on floats with FLOAT_MATH, sample by sample."""

    name = "python"

    def column(self, batch: Any) -> list[Any]:
        """A batch as a list of floats (N,) or of lists of floats (N, k)."""
        return batch.tolist() if hasattr(batch, "tolist") else list(batch)

    def shape(self, column: list[Any]) -> tuple[int, ...]:
        """(N,) or (N, k); ValueError for ragged or deeper rows."""
        if all(isinstance(x, float) for x in column):
            return (len(column),)
        lengths = {len(x) if isinstance(x, list) and all(isinstance(e, float) for e in x) else -1 for x in column}
        if len(lengths) != 1 or -1 in lengths:
            raise ValueError("compile: expected a batch of shape (N,) or (N, k), got ragged or nested rows")
        return (len(column), lengths.pop())

    def ones(self, n: int, like: Any) -> list[float]:
        """The seed of a sum: n ones."""
        return [1.0] * n

    def join(self, parts: list[list[float]]) -> Any:
        """The outputs of all chunks, as a numpy array when numpy is installed."""
        outputs = [y for part in parts for y in part]
        try:
            import numpy as np
        except ImportError:
            return outputs
        return np.asarray(outputs, dtype=np.float64)

    def run(self, graph: Graph, plan: Plan | None, params: list[float], batch: list[Any], seed: Any) -> Result:
        n = len(batch[0]) if batch else 1
        outputs = []
        param_grads = [0.0] * graph.n_params
        arg_grads: list[list[Any]] = [[] for _ in graph.args]
        ops = [None if n.op in LEAF_KINDS else lookup(n.op, n.param) for n in graph.nodes]
        for s in range(n):
            sample = [column[s] for column in batch]
            try:
                values = self._forward(graph, ops, params, sample)
                grads = None if seed is None else self._backward(graph, ops, values, seed[s])
            except (ArithmeticError, ValueError):
                replay(graph, params, sample, seed is not None)  # raises the eager engine's error
                raise
            outputs.append(values[-1])
            if grads is not None:
                self._collect(graph, grads, param_grads, arg_grads)
        if seed is None:
            return Result(outputs)
        return Result(outputs, param_grads, arg_grads)

    @staticmethod
    def _forward(graph: Graph, ops: list[Op | None], params: list[float], sample: list[Any]) -> list[float]:
        values: list[float] = []
        for n, op in zip(graph.nodes, ops):
            if n.op == "arg":
                x = sample[n.slot[0]]
                values.append(float(x if graph.args[n.slot[0]] is None else x[n.slot[1]]))
            elif n.op == "param":
                values.append(params[n.slot[0]])
            elif n.op == "const":
                values.append(n.value)  # type: ignore[arg-type]
            elif op is not None:
                xs = [values[j] for j in n.inputs]
                out = op.forward(FLOAT_MATH, *xs)
                if not math.isfinite(out) and all(math.isfinite(x) for x in xs):
                    raise OverflowError  # replayed eagerly for the eager engine's message
                values.append(out)
        return values

    @staticmethod
    def _backward(graph: Graph, ops: list[Op | None], values: list[float], seed: float) -> list[float]:
        grads = [0.0] * len(values)
        grads[-1] = seed
        for i in range(len(values) - 1, -1, -1):
            n, op = graph.nodes[i], ops[i]
            if op is not None:
                contributions = op.vjp(FLOAT_GRAD_MATH, grads[i], values[i], *(values[j] for j in n.inputs))
                for j, g in zip(n.inputs, contributions):
                    grads[j] += g
        return grads

    @staticmethod
    def _collect(graph: Graph, grads: list[float], param_grads: list[float], arg_grads: list[list[Any]]) -> None:
        per_arg: list[Any] = [0.0 if k is None else [0.0] * k for k in graph.args]
        for n, g in zip(graph.nodes, grads):
            if n.op == "param":
                param_grads[n.slot[0]] += g
            elif n.op == "arg":
                a, e = n.slot
                if graph.args[a] is None:
                    per_arg[a] += g
                else:
                    per_arg[a][e] += g
        for a, g in enumerate(per_arg):
            arg_grads[a].append(g)


# -- numpy and torch: the lowered plan ------------------------------------------------------------


def _numpy_math() -> SimpleNamespace:
    import numpy as np

    def sigmoid(x: Array) -> Array:
        z = np.exp(-np.abs(x))  # as FLOAT_MATH: exp never sees a positive argument
        return np.where(x >= 0, 1 / (1 + z), z / (1 + z))

    def xlogy(x: Array, y: Array) -> Array:
        safe_y = np.where(y > 0, y, np.nan)
        return np.where(x == 0, 0.0, x * np.log(safe_y))

    return SimpleNamespace(
        exp=np.exp,
        log=np.log,
        sqrt=np.sqrt,
        sin=np.sin,
        cos=np.cos,
        tanh=np.tanh,
        sigmoid=sigmoid,
        relu=lambda x: np.where(x < 0, 0.0, x),  # NaN stays NaN, as in FLOAT_MATH
        sign=lambda x: (x > 0) * 1.0 - (x < 0),
        abs=np.abs,
        pow=np.power,
        xlogy=xlogy,
        where=np.where,
        div=np.divide,
    )


class ArrayBackend:
    """Runs a :class:`Plan` with array operations; a subclass supplies the array library."""

    name = ""
    math: Any

    def __init__(self) -> None:
        self._weights: dict[int, tuple[object, Array, Array, Array]] = {}  # id(plan part) -> indices
        self._selectors: dict[int, tuple[tuple[int, ...], Any]] = {}  # id(columns) -> slice or indices

    # -- what a subclass provides ----------------------------------------------------------
    def column(self, batch: Any) -> Array:
        """A batch (numbers, nested lists or an array) as a float64 array."""
        raise NotImplementedError

    def join(self, parts: list[Array]) -> Array:
        """Arrays one after the other (rows)."""
        raise NotImplementedError

    def ones(self, n: int, like: Array | None) -> Array:
        """n ones (on ``like``'s device)."""
        raise NotImplementedError

    def shape(self, a: Array) -> tuple[int, ...]:
        return tuple(a.shape)

    def asarray(self, data: Any, like: Array | None) -> Array:
        """``data`` as a float64 array (on ``like``'s device)."""
        raise NotImplementedError

    def index(self, data: Any, like: Array | None) -> Array:
        """``data`` as an integer index array."""
        raise NotImplementedError

    def concat(self, parts: list[Array]) -> Array:
        """Arrays side by side (columns), broadcasting single rows."""
        raise NotImplementedError

    def sum_rows(self, a: Array) -> Array:
        """The column sums of ``a`` as one row."""
        raise NotImplementedError

    def add_columns(self, target: Array, cols: Array, values: Array) -> None:
        """``target[:, cols] += values``, adding up repeated columns."""
        raise NotImplementedError

    def trapping(self) -> Any:
        """A context in which a non-finite result raises FloatingPointError, if the library can."""
        return contextlib.nullcontext()

    def quiet(self) -> Any:
        """A context in which non-finite results are silent."""
        return contextlib.nullcontext()

    def all_finite(self, arrays: list[Array]) -> bool:
        """Whether every number is finite (only needed where ``trapping`` cannot tell)."""
        return True

    # -- the interpreter --------------------------------------------------------------------
    def run(
        self, graph: Graph, plan: Plan | None, params: list[float], batch: list[Array], seed: Array | None
    ) -> Result:
        """Outputs, and gradients when ``seed`` is given, of ``graph`` lowered as ``plan``."""
        plan = build_plan(graph) if plan is None else plan
        like = batch[0] if batch else None
        param_row = self.asarray([params], like)
        const_row = self.asarray([plan.constants], like)

        def compute() -> tuple[list[Array], list[Array] | None]:
            weights: dict[int, Array] = {}  # step -> its weight matrix, gathered by the forward pass
            R = self._forward(plan, batch, param_row, const_row, weights)
            return R, None if seed is None else self._backward(plan, R, seed, weights)

        try:
            with self.trapping():
                R, G = compute()
            clean = self.all_finite(R + (G or []))
        except FloatingPointError:
            R, G, clean = [], None, False
        if not clean:  # the eager engine decides: it raises its error, or the numbers stand
            columns = [x.tolist() for x in batch]
            for s in range(len(columns[0]) if columns else 1):
                replay(graph, params, [column[s] for column in columns], seed is not None)
            if not R:
                with self.quiet():
                    R, G = compute()
        reg, col = plan.output
        outputs = R[reg][:, col]
        if G is None:
            return Result(outputs)
        arg_grads = [G[i] if k is not None else G[i][:, 0] for i, k in enumerate(graph.args)]
        return Result(outputs, G[plan.params][0], arg_grads)

    def _index(self, cols: tuple[int, ...], like: Array | None) -> Array:
        """``cols`` as an index array, made once per tuple (the plan keeps the tuple alive)."""
        cached = self._weights.get(id(cols))
        if cached is None:
            cached = (cols, self.index(cols, like), None, None)
            self._weights[id(cols)] = cached
        return cached[1]

    def _selector(self, cols: tuple[int, ...], like: Array | None) -> Any:
        """What selects columns ``cols``: a slice (a view) when they are consecutive, else an index array."""
        cached = self._selectors.get(id(cols))
        if cached is None:
            consecutive = cols == tuple(range(cols[0], cols[0] + len(cols)))
            cached = cols, slice(cols[0], cols[0] + len(cols)) if consecutive else self.index(cols, like)
            self._selectors[id(cols)] = cached
        return cached[1]

    def _indices(self, step: Linear, like: Array | None) -> tuple[Array, Array, Array]:
        """A Linear step's weight slots as an index matrix and a flat index, and its bias slots (cached)."""
        cached = self._weights.get(id(step))
        if cached is None:
            flat = [w for row in step.weights for w in row]
            indices = self.index(step.weights, like), self.index(flat, like), self.index(step.bias_slots, like)
            cached = (step, *indices)
            self._weights[id(step)] = cached
        return cached[1], cached[2], cached[3]

    def _forward(
        self, plan: Plan, batch: list[Array], param_row: Array, const_row: Array, weights: dict[int, Array]
    ) -> list[Array]:
        like = batch[0] if batch else None
        R: list[Array] = []
        for i, step in enumerate(plan.steps):
            if isinstance(step, Argument):
                x = batch[step.index]
                R.append(x if x.ndim == 2 else x[:, None])
            elif isinstance(step, Leaves):
                R.append(param_row if step.kind == "param" else const_row)
            elif isinstance(step, Gather):
                R.append(self.concat([R[r][:, self._selector(cols, like)] for r, cols in step.parts]))
            elif isinstance(step, Linear):
                W_index, _, bias_index = self._indices(step, like)
                bias = param_row[:, bias_index] if step.bias is None else R[step.bias]
                weights[i] = param_row[0][W_index]
                R.append(R[step.x] @ weights[i].T + bias)
            else:
                R.append(lookup(step.name, step.param).forward(self.math, *(R[i] for i in step.inputs)))
        return R

    def _backward(self, plan: Plan, R: list[Array], seed: Array, weights: dict[int, Array]) -> list[Array]:
        like = R[0]
        G: list[Array] = [None] * len(R)  # one gradient per register, in its shape; None: zero so far

        def add(j: int, g: Array) -> None:
            g = self._unbroadcast(g, R[j])
            G[j] = g if G[j] is None else G[j] + g

        reg, col = plan.output
        G[reg] = R[reg] * 0.0
        G[reg][:, col] += seed if R[reg].shape[0] == seed.shape[0] else seed.sum()
        G[plan.params] = R[plan.params] * 0.0
        for i in range(len(plan.steps) - 1, -1, -1):
            step, g = plan.steps[i], G[i]
            if g is None:
                continue
            if isinstance(step, Gather):
                start = 0
                for r, cols in step.parts:
                    if plan.needs_grad[r]:
                        part = R[r] * 0.0
                        g_part = self._unbroadcast(g[:, start : start + len(cols)], R[r])
                        self.add_columns(part, self._index(cols, like), g_part)
                        add(r, part)
                    start += len(cols)
            elif isinstance(step, Linear):
                _, flat, bias_index = self._indices(step, like)
                x = R[step.x]
                if plan.needs_grad[step.x]:
                    add(step.x, g @ weights[i])
                g_rows = g if g.shape[0] == x.shape[0] else self.sum_rows(g)
                self.add_columns(G[plan.params], flat, (g_rows.T @ x).reshape(1, -1))
                if step.bias is None:
                    self.add_columns(G[plan.params], bias_index, self.sum_rows(g))
                elif plan.needs_grad[step.bias]:
                    add(step.bias, g)
            elif isinstance(step, Map):
                op = lookup(step.name, step.param)
                for j, gj in zip(step.inputs, op.vjp(self.math, g, R[i], *(R[j] for j in step.inputs))):
                    if plan.needs_grad[j]:
                        add(j, gj)
        for j, r in enumerate(R):  # registers nothing flowed back to (unused arguments)
            if G[j] is None:
                G[j] = r * 0.0
        return G

    def _unbroadcast(self, g: Array, target: Array) -> Array:
        """``g`` in ``target``'s shape: summed over the rows ``target`` broadcasts over (one row against N)."""
        if getattr(g, "ndim", 0) < 2:  # a number, e.g. the 1 of add's rule
            return g + target * 0.0
        return g if g.shape[0] == target.shape[0] else self.sum_rows(g)


class NumpyBackend(ArrayBackend):
    """The plan on numpy arrays (float64), with numpy's floating-point flags as the finiteness check."""

    name = "numpy"

    def __init__(self) -> None:
        super().__init__()
        import numpy as np

        self.np = np
        self.math = NUMPY_MATH()

    def column(self, batch: Any) -> Array:
        return self.np.asarray(batch, dtype=self.np.float64)

    def join(self, parts: list[Array]) -> Array:
        return parts[0] if len(parts) == 1 else self.np.concatenate(parts)

    def ones(self, n: int, like: Array | None) -> Array:
        return self.np.ones(n)

    def asarray(self, data: Any, like: Array | None) -> Array:
        return self.np.asarray(data, dtype=self.np.float64)

    def index(self, data: Any, like: Array | None) -> Array:
        return self.np.asarray(data, dtype=self.np.intp)

    def concat(self, parts: list[Array]) -> Array:
        if len(parts) == 1:
            return parts[0]
        rows = max(p.shape[0] for p in parts)
        return self.np.concatenate([self.np.broadcast_to(p, (rows, p.shape[1])) for p in parts], axis=1)

    def sum_rows(self, a: Array) -> Array:
        return a.sum(axis=0, keepdims=True)

    def add_columns(self, target: Array, cols: Array, values: Array) -> None:
        if target.shape[0] == 1:  # bincount adds repeated columns up, and is fast
            target[0] += self.np.bincount(cols, weights=values[0], minlength=target.shape[1])
        else:
            self.np.add.at(target.T, cols, values.T)

    def trapping(self) -> Any:
        return self.np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")

    def quiet(self) -> Any:
        return self.np.errstate(all="ignore")


class TorchBackend(ArrayBackend):
    """The plan on torch tensors (float64, on the batch's device), with TORCH_MATH."""

    name = "torch"

    def __init__(self) -> None:
        super().__init__()
        import torch

        from ..pytorch import TORCH_MATH

        self.torch = torch
        self.math = TORCH_MATH

    def column(self, batch: Any) -> Array:
        if isinstance(batch, self.torch.Tensor):
            return batch.to(self.torch.float64)
        return self.torch.as_tensor(batch, dtype=self.torch.float64)

    def join(self, parts: list[Array]) -> Array:
        return parts[0] if len(parts) == 1 else self.torch.cat(parts)

    def ones(self, n: int, like: Array | None) -> Array:
        return self.torch.ones(n, dtype=self.torch.float64, device=None if like is None else like.device)

    def asarray(self, data: Any, like: Array | None) -> Array:
        device = None if like is None else like.device
        return self.torch.as_tensor(data, dtype=self.torch.float64, device=device)

    def index(self, data: Any, like: Array | None) -> Array:
        device = None if like is None else like.device
        return self.torch.as_tensor(data, dtype=self.torch.long, device=device)

    def concat(self, parts: list[Array]) -> Array:
        if len(parts) == 1:
            return parts[0]
        rows = max(p.shape[0] for p in parts)
        return self.torch.cat([p.expand(rows, p.shape[1]) for p in parts], dim=1)

    def sum_rows(self, a: Array) -> Array:
        return a.sum(dim=0, keepdim=True)

    def add_columns(self, target: Array, cols: Array, values: Array) -> None:
        target.index_add_(1, cols.reshape(-1), values.expand(target.shape[0], -1))

    def all_finite(self, arrays: list[Array]) -> bool:
        # One sum over everything: non-finite numbers propagate into it (a finite sum that
        # overflows only costs a needless eager replay).
        return math.isfinite(float(self.torch.cat([a.reshape(-1) for a in arrays]).sum()))


_NUMPY_MATH: SimpleNamespace | None = None


def NUMPY_MATH() -> SimpleNamespace:
    """The op table's math namespace for numpy arrays (numpy is imported on first use)."""
    global _NUMPY_MATH
    if _NUMPY_MATH is None:
        _NUMPY_MATH = _numpy_math()
    return _NUMPY_MATH


#: A backend: an interpreter of the op table (see the module docstring).
Backend = PythonBackend | ArrayBackend
BACKENDS: dict[str, type[Backend]] = {"python": PythonBackend, "numpy": NumpyBackend, "torch": TorchBackend}


def default_backend() -> str:
    """``numpy`` when numpy is installed, else ``python``."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return "python"
    return "numpy"
