"""``nanograd.compile``: trace a scalar function once, then run it over whole batches.

::

    model = nanograd.nn.MLP(2, [16, 16, 1])
    loss = nanograd.compile(lambda x, y: (1 + -y * model(x)).relu())
    total = loss.mean(X, Y) + l2        # one Value whose inputs are model's parameters
    total.backpropagate()               # fills every parameter's .gradient, as eagerly
    scores = nanograd.compile(model).map(grid)   # a numpy array, no graph built

``fn`` takes Values (a scalar argument) or lists of Values (a vector argument) and
returns one Value. Values that ``fn`` reaches but did not create (a model's parameters)
are *captured by reference*: their current ``.of`` is read at every call, so optimiser
updates need no recompiling. Leaves that ``fn`` creates (the ``1`` above) are constants.

Calls
    ``f(x, y)`` one sample, a Value connected to the arguments and the captured Values;
    ``f.map(X, Y)`` the outputs of a batch as an array (shape ``(N, k)`` for a k-vector
    argument, ``(N,)`` for a scalar one), no graph; ``f.mean(X, Y)`` / ``f.sum(X, Y)`` one
    Value whose inputs are the captured Values (one node of the ordinary graph).

Limits (as with ``jax.jit``)
    ``fn`` is traced with the numbers of the first sample: Python control flow that depends
    on data (``if x > 0``, ``max``) is frozen. ``check=True`` traces every sample of the
    first call again and raises ``ValueError`` naming the first node that differs. A new
    argument structure (another vector length, a scalar instead of a vector) traces again;
    each structure's graph is cached. Gradients through a compiled call are first order.
    Tracing is not thread-safe.

Memory
    Batches are processed in chunks of at most :data:`CHUNK_NUMBERS` numbers of
    intermediate storage (32 MiB; for graphs of more than 8k nodes, chunks of
    :data:`MIN_CHUNK_ROWS` samples), so ``map``, ``mean`` and ``sum`` need a bounded
    amount of memory beyond the inputs and outputs, whatever N is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..generic_ops import make_node
from ..grad_mode import is_grad_enabled
from ..ops import Op
from ..value import Value
from .backends import BACKENDS, ArrayBackend, Backend, default_backend
from .graph import Graph, Node
from .lowering import Plan, build_plan
from .trace import as_number, trace

__all__ = ["CHUNK_NUMBERS", "CompiledFunction", "Graph", "Node", "compile"]

#: Most numbers of intermediate storage one chunk of a batch may use (4 Mi float64 = 32 MiB).
CHUNK_NUMBERS = 1 << 22
#: Fewest rows per chunk: below this, per-step overhead would dominate (graphs over 8k nodes).
MIN_CHUNK_ROWS = 256
#: ``check=True`` traces at most this many samples of the first call again.
CHECK_SAMPLES = 1000


@dataclass
class _Compiled:
    """One argument structure's trace: the graph, the captured Values and the lowered plan."""

    graph: Graph
    params: list[Value]
    plan: Plan | None


def compile(fn: Callable[..., object], backend: str | None = None, check: bool = False) -> CompiledFunction:
    """Compile ``fn`` (Values in, one Value out); see the package docstring.

    ``backend`` is ``'numpy'`` (the default when numpy is installed), ``'python'`` (standard
    library only) or ``'torch'``. ``check=True`` compares the compiled graph with fresh
    eager traces of the first call's samples.
    """
    return CompiledFunction(fn, backend, check)


class CompiledFunction:
    """A compiled scalar function: call it, or ``.map``, ``.mean``, ``.sum`` a batch."""

    def __init__(self, fn: Callable[..., object], backend: str | None = None, check: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"compile: expected a function, got {fn!r}")
        name = default_backend() if backend is None else backend
        if name not in BACKENDS:
            raise ValueError(f"compile: unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
        self.fn = fn
        self.backend: Backend = BACKENDS[name]()
        self.check = check
        self._cache: dict[tuple[int | None, ...], _Compiled] = {}
        self._last: _Compiled | None = None
        self.__name__ = getattr(fn, "__name__", "compiled")

    def __repr__(self) -> str:
        return f"compile({self.__name__}, backend={self.backend.name!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Pickled and deep-copied without its traces (they hold the captured Values, which a
        # copy of ``fn`` replaces) and with the backend by name: the copy traces again.
        return {**self.__dict__, "backend": self.backend.name, "_cache": {}, "_last": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, backend=BACKENDS[state["backend"]]())

    @property
    def graph(self) -> Graph:
        """The graph of the most recent call's argument structure."""
        if self._last is None:
            raise ValueError(f"compile({self.__name__}): not traced yet; call it once first")
        return self._last.graph

    # -- calls ---------------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Value:
        """One sample: a Value equal to ``fn(*args)``, connected to the argument and captured Values."""
        shapes = tuple(len(a) if isinstance(a, (list, tuple)) else None for a in args)
        sample = [
            [as_number(e, f"{self.__name__} argument {i}") for e in a]
            if k is not None
            else as_number(a, f"{self.__name__} argument {i}")
            for i, (a, k) in enumerate(zip(args, shapes))
        ]
        batch = [self._column([x]) for x in sample]
        compiled = self._compiled(shapes, batch)
        result = self._run(compiled, batch, is_grad_enabled())
        inputs = [v for a in args for v in (a if isinstance(a, (list, tuple)) else [a]) if isinstance(v, Value)]
        data = float(self._to_list(result.outputs)[0])
        if result.param_grads is None:
            return self._node(compiled, data, inputs, None)
        jacobian: list[float] = []
        for a, g in zip(args, result.arg_grads or []):
            row = self._to_list(g)[0]
            elements = a if isinstance(a, (list, tuple)) else [a]
            grads = row if isinstance(row, list) else [row]
            jacobian += [gi for v, gi in zip(elements, grads) if isinstance(v, Value)]
        return self._node(compiled, data, inputs, jacobian + self._to_list(result.param_grads))

    def map(self, *batches: Any) -> Any:
        """The outputs for a batch, as a numpy array (a list on the ``python`` backend without numpy)."""
        columns = self._columns(batches)
        compiled = self._compiled(self._shapes(columns), columns)
        outputs = [self._run(compiled, chunk, False).outputs for chunk in self._chunks(compiled, columns)]
        return self._join(outputs)

    def evaluate(self, *batches: Any, gradients: bool = False) -> tuple[Any, list[Any] | None]:
        """The outputs of a batch and, with ``gradients``, each sample's gradient with respect
        to each argument (one array per argument, shaped like its batch); builds no graph."""
        columns = self._columns(batches)
        compiled = self._compiled(self._shapes(columns), columns)
        results = [self._run(compiled, chunk, gradients) for chunk in self._chunks(compiled, columns)]
        outputs = self._join([r.outputs for r in results])
        if not gradients:
            return outputs, None
        per_argument = zip(*(r.arg_grads for r in results))
        return outputs, [self._join(list(parts)) for parts in per_argument]

    def sum(self, *batches: Any) -> Value:
        """The sum of the outputs over a batch, as one Value connected to the captured Values."""
        return self._reduce(batches, "sum")

    def mean(self, *batches: Any) -> Value:
        """The mean of the outputs over a batch, as one Value connected to the captured Values."""
        return self._reduce(batches, "mean")

    # -- internals -------------------------------------------------------------------------------
    def _reduce(self, batches: tuple[Any, ...], how: str) -> Value:
        columns = self._columns(batches)
        compiled = self._compiled(self._shapes(columns), columns)
        scale = 1.0 / self._length(columns) if how == "mean" else 1.0
        total, grads = 0.0, None
        for chunk in self._chunks(compiled, columns):
            result = self._run(compiled, chunk, is_grad_enabled())
            total += float(sum(self._to_list(result.outputs)))
            if result.param_grads is not None:
                chunk_grads = self._to_list(result.param_grads)
                grads = chunk_grads if grads is None else [a + b for a, b in zip(grads, chunk_grads)]
        total *= scale  # the eager order: sum(terms) * (1.0 / n)
        jacobian = None if grads is None else list(map(scale.__mul__, grads))
        return self._node(compiled, total, [], jacobian)

    def _node(self, compiled: _Compiled, data: float, inputs: list[Value], jacobian: list[float] | None) -> Value:
        """``data`` as one node of the ordinary graph with inputs ``inputs`` + the captured Values.

        ``jacobian`` holds d(data)/d(input) for each of them (None: build no graph).
        """
        if not jacobian or not is_grad_enabled():  # nothing to differentiate, or no graph wanted
            return Value(data)
        op = Op(
            name=f"compiled {self.__name__}",
            symbol=self.__name__,
            arity=len(jacobian),
            forward=lambda m, *xs: data,
            vjp=lambda m, g, out, *xs: tuple(map(g.__mul__, jacobian)),  # g * each entry, in C
            doc="a compiled function: gradients computed by its backend",
        )
        return make_node(op, inputs + compiled.params, data)

    def _compiled(self, shapes: tuple[int | None, ...], columns: list[Any]) -> _Compiled:
        """The cached trace for ``shapes``, tracing (and checking) on the first call."""
        compiled = self._cache.get(shapes)
        if compiled is None:
            t = trace(self.fn, shapes, self._sample(columns, 0))
            plan = build_plan(t.graph) if isinstance(self.backend, ArrayBackend) else None
            compiled = _Compiled(t.graph, t.params, plan)
            if self.check:
                self._check(compiled, columns)
            self._cache[shapes] = compiled
        self._last = compiled
        return compiled

    def _check(self, compiled: _Compiled, columns: list[Any]) -> None:
        """Trace samples again and compare: the first node that differs raises ValueError."""
        outputs = self._to_list(self._run(compiled, columns, False).outputs)
        for s in range(min(self._length(columns), CHECK_SAMPLES)):
            t = trace(self.fn, compiled.graph.args, self._sample(columns, s))
            differs = _first_difference(compiled.graph, t.graph)
            if differs is not None:
                raise ValueError(
                    f"compile({self.__name__}, check=True): sample {s} takes another path through the function "
                    f"(control flow that depends on data is frozen when tracing): {differs}"
                )
            if not math.isclose(outputs[s], t.output.data, rel_tol=1e-9, abs_tol=1e-12):
                raise ValueError(
                    f"compile({self.__name__}, check=True): sample {s}: "
                    f"compiled {outputs[s]!r}, eager {t.output.data!r}"
                )

    def _run(self, compiled: _Compiled, columns: list[Any], gradients: bool) -> Any:
        """The backend's outputs for ``columns``, and with ``gradients`` those of the output sum."""
        params = self._param_numbers(compiled.params)
        seed = None
        if gradients:
            seed = self.backend.ones(len(columns[0]) if columns else 1, columns[0] if columns else None)
        return self.backend.run(compiled.graph, compiled.plan, params, columns, seed)

    def _param_numbers(self, params: list[Value]) -> list[float]:
        numbers = [p.data for p in params]
        if not set(map(type, numbers)) <= {float}:
            for i, (p, x) in enumerate(zip(params, numbers)):
                if type(x) is not float:
                    raise TypeError(
                        f"compile({self.__name__}): captured Value {i} {p.label!r} holds {x!r} of type "
                        f"{type(x).__name__}, expected a float"
                    )
        return numbers

    # -- batches ---------------------------------------------------------------------------------
    def _columns(self, batches: tuple[Any, ...]) -> list[Any]:
        """Each argument's batch as an array (N,) or (N, k), checked."""
        columns = [self._column(b, i) for i, b in enumerate(batches)]
        lengths = {len(c) for c in columns}
        if len(lengths) > 1:
            raise ValueError(
                f"compile({self.__name__}): arguments have different batch sizes {[len(c) for c in columns]}"
            )
        if lengths == {0}:
            raise ValueError(f"compile({self.__name__}): the batch is empty")
        return columns

    def _column(self, batch: Any, i: int = 0) -> Any:
        """One argument's batch as the backend's array, (N,) or (N, k)."""
        what = f"compile({self.__name__}) argument {i}"
        column = self.backend.column(_numbers(batch, what))
        if len(self.backend.shape(column)) not in (1, 2):
            raise ValueError(f"{what}: expected shape (N,) or (N, k), got {self.backend.shape(column)}")
        return column

    def _shapes(self, columns: list[Any]) -> tuple[int | None, ...]:
        return tuple(shape[1] if len(shape) == 2 else None for shape in map(self.backend.shape, columns))

    @staticmethod
    def _length(columns: list[Any]) -> int:
        return len(columns[0]) if columns else 1

    def _sample(self, columns: list[Any], s: int) -> list[Any]:
        return [c[s] if isinstance(c, list) else c[s].tolist() for c in columns]

    def _chunks(self, compiled: _Compiled, columns: list[Any]) -> list[list[Any]]:
        """``columns`` cut into chunks of rows whose intermediate arrays fit in CHUNK_NUMBERS numbers."""
        n = self._length(columns)
        plan = compiled.plan
        per_sample = plan.sample_width if plan is not None else len(compiled.graph.nodes)
        rows = max(MIN_CHUNK_ROWS, CHUNK_NUMBERS // (2 * per_sample))  # 2: values and gradients
        if n <= rows or not columns:
            return [columns]
        return [[c[s : s + rows] for c in columns] for s in range(0, n, rows)]

    @staticmethod
    def _to_list(x: Any) -> list[Any]:
        return x if isinstance(x, list) else x.tolist()

    def _join(self, outputs: list[Any]) -> Any:
        return self.backend.join(outputs)


def _numbers(batch: Any, what: str) -> Any:
    """``batch`` with every element checked to be a real number (arrays pass as they are)."""
    if hasattr(batch, "dtype"):
        if getattr(batch.dtype, "kind", "f") not in "biuf" and not str(batch.dtype).startswith("torch."):
            raise TypeError(f"{what}: expected numbers, got an array of {batch.dtype}")
        return batch
    if not isinstance(batch, (list, tuple)):
        raise TypeError(f"{what}: expected a batch (a list or array of numbers), got {type(batch).__name__}")
    return [_numbers(x, what) if isinstance(x, (list, tuple)) else as_number(x, what) for x in batch]


def _first_difference(compiled: Graph, traced: Graph) -> str | None:
    """A description of the first node where two graphs differ, or None."""
    for i, (a, b) in enumerate(zip(compiled.nodes, traced.nodes)):
        if (a.op, a.inputs, a.param, a.slot) != (b.op, b.inputs, b.param, b.slot):
            return f"node {i} is {_describe(b)} in this sample's trace but {_describe(a)} in the compiled graph"
    if len(compiled.nodes) != len(traced.nodes):
        return f"this sample's trace has {len(traced.nodes)} nodes, the compiled graph {len(compiled.nodes)}"
    return None


def _describe(n: Node) -> str:
    if n.inputs:
        return f"{n.op}{'' if n.param is None else f'({n.param:g})'} of nodes {list(n.inputs)}"
    return f"{n.op} {n.slot or n.value}"
