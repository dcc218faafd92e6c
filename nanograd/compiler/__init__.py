"""``nanograd.compile``: trace a function once, then run it over whole batches.

::

    model = nanograd.nn.MLP(2, [16, 16, 3])
    loss = nanograd.compile(lambda x, label: cross_entropy([model(x)], [label]))
    total = loss.mean(X, labels) + l2   # one Value whose inputs are the model's parameters
    total.backpropagate()               # fills every parameter's .gradient, as eagerly
    scores = nanograd.compile(model).map(grid)   # (N, 3): one row of logits per point

``fn`` takes Values (a scalar argument) or lists of Values (a vector argument) and
returns one Value or a list of Values. It is traced once per argument structure: called on
*tracers*, Values that hold no number (:mod:`.trace`), so Python that would read the
number of an argument or of anything computed from one (``if x > 0``, ``max()``,
``values[label]``, ``x.data``) raises :class:`TracedNumberError` at trace time, naming the
argument, instead of freezing the first sample's choice. Data-dependent choices go in the
graph with :func:`nanograd.where`, :func:`nanograd.maximum` and :func:`nanograd.take` (an
index argument: a class label, a token id). Arguments that are structure (a length, a flag)
can be declared static: ``compile(fn, static_argnums=(1,))`` passes them to ``fn`` as they
are and traces once per distinct value (they must be hashable).

Values that ``fn`` reaches but did not create (a model's parameters) are *captured by
reference*: their current ``.of`` is read at every call, so optimiser updates need no
recompiling. Leaves that ``fn`` creates (the ``1`` in ``1 + x``) are constants.

Calls
    ``f(x, y)`` one sample: a Value (or a list of Values) connected to the argument Values
    and the captured Values. ``f.map(X, Y)`` the outputs of a batch, no graph: shape
    ``(N,)`` for one output, ``(N, k)`` for a list of k; a numpy array (a torch tensor on the
    ``torch`` backend, on the batch's device; a list on the ``python`` backend without numpy).
    ``f.evaluate(X, Y, gradients=True)`` also each sample's gradient with respect to each
    argument: shaped like the argument's batch for one output, with an axis of k after the
    first for k outputs (the per-sample Jacobian). ``f.mean(X, Y)`` / ``f.sum(X, Y)`` one
    Value whose inputs are the captured Values (one node of the ordinary graph); they need
    ``fn`` to return one Value (a ValueError otherwise).

Exactness
    Results equal the eager engine's to rounding (1e-9 relative: sums run in another
    order). Where a number stops being finite the eager engine decides, sample by sample:
    it raises its error (naming the op) or its IEEE numbers stand, on every backend.
    ``check=True`` also runs ``fn`` eagerly on the first call's samples and raises
    ValueError where the numbers differ. A second derivative through a compiled call
    (``backpropagate(create_graph=True)``) replays the call eagerly, so it is exact too.

Limits
    ``fn`` is called twice when tracing (what it creates is new at each call, what it
    captures is not: that is how the two are told apart), and must build the same graph
    both times. Python that reads a *captured* number runs once, at trace time. Up to
    :data:`MAX_TRACES` traces (argument structures and static values) are kept, the least
    recently used dropped first. A compiled function called inside a traced one is traced
    inline; its ``map``, ``mean``, ``sum`` and ``evaluate`` cannot be (TracedNumberError).
    Tracing is not thread-safe.

Memory
    Batches are processed in chunks of at most :data:`CHUNK_NUMBERS` numbers of
    intermediate storage (32 MiB; for graphs of more than 8k numbers per sample, chunks of
    :data:`MIN_CHUNK_ROWS` samples), so memory beyond the inputs and outputs stays
    bounded whatever N is.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..backprop import VALUE_MATH
from ..functional import grad
from ..generic_ops import make_node
from ..grad_mode import is_grad_enabled
from ..ops import Op
from ..optim import Optimizer
from ..value import Value
from .backends import BACKENDS, Result, as_number, check_numbers, default_backend
from .eager import leaves_for, run_eagerly
from .graph import Graph, Node
from .lowering import Plan, build_plan
from .trace import Condition, TracedNumberError, Tracer, trace, tracing

if TYPE_CHECKING:
    from .training import TrainStep

__all__ = [
    "CHUNK_NUMBERS",
    "MAX_TRACES",
    "CompiledFunction",
    "Condition",
    "Graph",
    "Node",
    "Plan",
    "TracedNumberError",
    "Tracer",
    "compile",
]

#: Most numbers of intermediate storage one chunk of a batch may use (4 Mi float64 = 32 MiB).
CHUNK_NUMBERS = 1 << 22
#: Fewest rows per chunk: below this, per-step overhead would dominate (graphs over 8k nodes).
MIN_CHUNK_ROWS = 256
#: ``check=True`` compares at most this many samples of the first call with eager runs.
CHECK_SAMPLES = 1000
#: Most traces one compiled function keeps (argument structures times static values).
MAX_TRACES = 64


@dataclass
class _Compiled:
    """One trace: the graph, the captured Values and the lowered plan."""

    graph: Graph
    params: list[Value]
    plan: Plan | None


def compile(
    fn: Callable[..., object], backend: str | None = None, check: bool = False, static_argnums: Sequence[int] = ()
) -> CompiledFunction:
    """Compile ``fn`` (Values in, a Value or a list of Values out); see the package docstring.

    ``backend`` is ``'numpy'`` (the default when numpy is installed), ``'python'`` (standard
    library only) or ``'torch'``. ``check=True`` compares each new trace with eager runs of
    ``fn`` on the first call's samples. ``static_argnums`` are the positions of arguments
    passed to ``fn`` as they are, one trace per distinct (hashable) value.
    """
    return CompiledFunction(fn, backend, check, static_argnums)


class CompiledFunction:
    """A compiled function: call it, or ``.map``, ``.evaluate``, ``.mean``, ``.sum`` a batch."""

    def __init__(
        self,
        fn: Callable[..., object],
        backend: str | None = None,
        check: bool = False,
        static_argnums: Sequence[int] = (),
    ) -> None:
        if not callable(fn):
            raise TypeError(f"compile: expected a function, got {fn!r}")
        name = default_backend() if backend is None else backend
        if name not in BACKENDS:
            raise ValueError(f"compile: unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
        static = tuple(sorted(set(static_argnums)))
        if any(type(p) is not int or p < 0 for p in static):
            raise ValueError(f"compile: static_argnums must be argument positions (ints >= 0), got {static_argnums!r}")
        self.fn = fn
        self.backend: Any = BACKENDS[name]()
        self.check = check
        self.static_argnums = static
        self._cache: OrderedDict[tuple[Any, ...], _Compiled] = OrderedDict()
        self._last: _Compiled | None = None
        self.__name__ = getattr(fn, "__name__", "compiled")

    def __repr__(self) -> str:
        return f"compile({self.__name__}, backend={self.backend.name!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Pickled and deep-copied without its traces (they hold the captured Values, which a
        # copy of ``fn`` replaces) and with the backend by name: the copy traces again.
        return {**self.__dict__, "backend": self.backend.name, "_cache": OrderedDict(), "_last": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, backend=BACKENDS[state["backend"]]())

    @property
    def graph(self) -> Graph:
        """The graph of the most recent call's trace (``print`` it to read it)."""
        return self._latest().graph

    @property
    def plan(self) -> Plan:
        """The lowered plan of the most recent call's trace (``print`` it to read its array steps)."""
        compiled = self._latest()
        return compiled.plan if compiled.plan is not None else build_plan(compiled.graph)

    def _latest(self) -> _Compiled:
        if self._last is None:
            raise ValueError(f"compile({self.__name__}): not traced yet; call it once first")
        return self._last

    # -- calls ---------------------------------------------------------------------------------
    def __call__(self, *args: Any) -> Any:
        """One sample: ``fn(*args)`` as a Value (or list), connected to the argument and captured Values."""
        if tracing():  # inside another traced function: trace this one inline
            return self.fn(*args)
        static, traced = self._split(args)
        shapes = tuple(len(a) if isinstance(a, (list, tuple)) else None for a in traced)
        sample = [
            [as_number(e, f"{self.__name__} argument {i}") for e in a]
            if k is not None
            else as_number(a, f"{self.__name__} argument {i}")
            for i, (a, k) in enumerate(zip(traced, shapes))
        ]
        batch = [self._column([x]) for x in sample]
        compiled = self._compiled(shapes, static, batch)
        flat = [v for a in traced for v in (a if isinstance(a, (list, tuple)) else [a])]
        inputs = [v for v in flat if isinstance(v, Value)]
        graph = compiled.graph
        wanted = is_grad_enabled() and bool(inputs or compiled.params)
        result = self._run(compiled, batch, range(len(graph.outputs)) if wanted else ())
        values = self._rows(result.outputs)[0]
        nodes = []
        for o, data in enumerate(values):
            if not wanted:
                nodes.append(Value(data))
                continue
            param_grads, arg_grads = result.grads[o]
            jacobian: list[float] = []
            for a, g in zip(traced, arg_grads):
                row = self._rows(g)[0]
                elements = a if isinstance(a, (list, tuple)) else [a]
                jacobian += [
                    gi for v, gi in zip(elements, row if isinstance(row, list) else [row]) if isinstance(v, Value)
                ]
            higher = _call_replay(graph, compiled.params, traced, sample, o)
            nodes.append(self._node(compiled, float(data), inputs, jacobian + self._list(param_grads), higher))
        return nodes if graph.vector else nodes[0]

    def map(self, *batches: Any) -> Any:
        """The outputs for a batch: (N,) for one output, (N, k) for k (see the package docstring)."""
        compiled, columns = self._prepare(batches, "map")
        outputs = [self._run(compiled, chunk, ()).outputs for chunk in self._chunks(compiled, columns, 0)]
        return self._shaped(compiled, self.backend.join(outputs))

    def evaluate(self, *batches: Any, gradients: bool = False) -> tuple[Any, list[Any] | None]:
        """The outputs of a batch (as :meth:`map`) and, with ``gradients``, each sample's gradient
        of each output with respect to each argument (one array per argument; see the package
        docstring for the shapes); builds no graph."""
        compiled, columns = self._prepare(batches, "evaluate")
        k = len(compiled.graph.outputs)
        wrt = range(k) if gradients else ()
        results = [self._run(compiled, chunk, wrt) for chunk in self._chunks(compiled, columns, len(wrt))]
        outputs = self._shaped(compiled, self.backend.join([r.outputs for r in results]))
        if not gradients:
            return outputs, None
        per_argument = []
        for a in range(len(compiled.graph.args)):
            parts = [r.grads[0][1][a] if not compiled.graph.vector else self._stack(r, a, k) for r in results]
            per_argument.append(self.backend.join(parts))
        return outputs, per_argument

    def sum(self, *batches: Any) -> Value:
        """The sum of the outputs over a batch, as one Value connected to the captured Values."""
        return self._reduce(batches, "sum")

    def mean(self, *batches: Any) -> Value:
        """The mean of the outputs over a batch, as one Value connected to the captured Values."""
        return self._reduce(batches, "mean")

    def value_and_grad(self, *batches: Any, wrt: Sequence[Value]) -> tuple[float, Any]:
        """The mean of the outputs over a batch and its gradient with respect to ``wrt``, on arrays.

        Returns ``(loss, grads)``: a float and a 1-D array of the backend in the order of
        ``wrt`` (0 for a Value the function does not capture); builds no graph and writes
        no ``.grad``. Needs the numpy or torch backend. See :mod:`.training`.
        """
        from .training import value_and_grad

        return value_and_grad(self, batches, list(wrt))

    def train_step(self, optimizer: Optimizer) -> TrainStep:
        """A :class:`~.training.TrainStep`: ``loss = step(X, y)`` trains on a batch with ``optimizer``.

        One call: the mean loss over the batch, its gradient and the optimiser's update, on
        arrays; the parameters' Values hold the new numbers afterwards. See :mod:`.training`.
        """
        from .training import TrainStep

        return TrainStep(self, optimizer)

    # -- internals -------------------------------------------------------------------------------
    def _prepare(self, batches: tuple[Any, ...], method: str) -> tuple[_Compiled, list[Any]]:
        """The trace for these batches (tracing on first use) and the batches as columns."""
        if tracing():
            raise TracedNumberError(
                f"compile({self.__name__}).{method}() inside a traced function would run at trace time and freeze "
                f"its numbers; call compile({self.__name__}) on one sample there instead (it is traced inline)"
            )
        static, traced = self._split(batches)
        columns = self._columns(traced)
        return self._compiled(self._shapes(columns), static, columns), columns

    def _split(self, args: Sequence[Any]) -> tuple[dict[int, object], list[Any]]:
        """The static arguments by position, and the others in order."""
        if self.static_argnums and self.static_argnums[-1] >= len(args):
            raise TypeError(
                f"compile({self.__name__}): static_argnums={self.static_argnums} but the call has {len(args)} arguments"
            )
        static = {p: args[p] for p in self.static_argnums}
        for p, x in static.items():
            if not isinstance(x, Hashable):
                raise TypeError(
                    f"compile({self.__name__}): static argument {p} must be hashable, got {type(x).__name__}"
                )
        return static, [a for p, a in enumerate(args) if p not in static]

    def _reduce(self, batches: tuple[Any, ...], how: str) -> Value:
        compiled, columns = self._prepare(batches, how)
        if compiled.graph.vector:
            raise ValueError(
                f"compile({self.__name__}).{how}(): the function returns {len(compiled.graph.outputs)} Values; "
                f"{how} needs one (return the loss, or use map)"
            )
        n = len(columns[0]) if columns else 1
        scale = 1.0 / n if how == "mean" else 1.0
        wrt = (0,) if is_grad_enabled() and compiled.params else ()
        total, grads = 0.0, None
        for chunk in self._chunks(compiled, columns, len(wrt)):
            result = self._run(compiled, chunk, wrt, arguments=False)
            total += sum(row[0] for row in self._rows(result.outputs))
            if wrt:
                chunk_grads = self._list(result.grads[0][0])
                grads = chunk_grads if grads is None else [a + b for a, b in zip(grads, chunk_grads)]
        total *= scale  # the eager order: sum(terms) * (1.0 / n)
        jacobian = None if grads is None else list(map(scale.__mul__, grads))
        higher = _batch_replay(compiled.graph, columns, scale)
        return self._node(compiled, total, [], jacobian, higher)

    def _node(
        self,
        compiled: _Compiled,
        data: float,
        inputs: list[Value],
        jacobian: list[float] | None,
        higher: Callable[[Value, tuple[Value, ...]], tuple[Value, ...]],
    ) -> Value:
        """``data`` as one node of the ordinary graph with inputs ``inputs`` + the captured Values.

        ``jacobian`` holds d(data)/d(input) for each of them (None: build no graph). Run on
        Values (``create_graph=True``), its rule is ``higher``: the call replayed eagerly.
        """
        if not jacobian or not is_grad_enabled():  # nothing to differentiate, or no graph wanted
            return Value(data)

        def vjp(m: Any, g: Any, out: Any, *xs: Any) -> tuple[Any, ...]:
            if m is VALUE_MATH:
                return higher(g, xs)
            return tuple(map(g.__mul__, jacobian))  # g * each entry, in C

        op = Op(
            name=f"compiled {self.__name__}",
            symbol=self.__name__,
            arity=len(jacobian),
            forward=lambda m, *xs: data,
            vjp=vjp,
            doc="a compiled function: gradients computed by its backend",
        )
        return make_node(op, inputs + compiled.params, data)

    def _compiled(self, shapes: tuple[int | None, ...], static: dict[int, object], columns: list[Any]) -> _Compiled:
        """The cached trace for ``shapes`` and ``static``, tracing (and checking) on first use."""
        key = (shapes, tuple(static.items()))
        compiled = self._cache.get(key)
        if compiled is None:
            t = trace(self.fn, shapes, static, self.__name__)
            plan = None if self.backend.name == "python" else build_plan(t.graph)
            compiled = _Compiled(t.graph, t.params, plan)
            if self.check:
                self._check(compiled, static, columns)
            self._cache[key] = compiled
            while len(self._cache) > MAX_TRACES:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        self._last = compiled
        return compiled

    def _check(self, compiled: _Compiled, static: dict[int, object], columns: list[Any]) -> None:
        """Run ``fn`` eagerly on the first samples and compare: the first difference raises ValueError."""
        rows = [self._rows(c) for c in columns]
        outputs = self._rows(self._run(compiled, columns, ()).outputs)
        for s in range(min(len(outputs), CHECK_SAMPLES)):
            args: list[Any] = leaves_for(compiled.graph, [r[s] for r in rows])
            for p in sorted(static):
                args.insert(p, static[p])
            eager = self.fn(*args)
            eager_values = [v.data for v in (eager if isinstance(eager, (list, tuple)) else [eager])]  # type: ignore[union-attr]
            for o, (a, b) in enumerate(zip(outputs[s], eager_values)):
                same = (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                if not same:
                    raise ValueError(
                        f"compile({self.__name__}, check=True): sample {s} output {o}: compiled {a!r}, eager {b!r}"
                    )

    def _run(self, compiled: _Compiled, columns: list[Any], wrt: Sequence[int], arguments: bool = True) -> Result:
        """The backend's outputs for ``columns``, and the gradients of the outputs in ``wrt``
        (with respect to the captured parameters, and to the arguments too with ``arguments``)."""
        params = self._param_numbers(compiled.params)
        return self.backend.run(compiled.graph, compiled.plan, params, columns, list(wrt), arguments)  # type: ignore[no-any-return]

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
    def _columns(self, batches: Sequence[Any]) -> list[Any]:
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
        column = self.backend.column(check_numbers(batch, what))
        if len(self.backend.shape(column)) not in (1, 2):
            raise ValueError(f"{what}: expected shape (N,) or (N, k), got {self.backend.shape(column)}")
        return column

    def _shapes(self, columns: list[Any]) -> tuple[int | None, ...]:
        return tuple(shape[1] if len(shape) == 2 else None for shape in map(self.backend.shape, columns))

    def _chunks(self, compiled: _Compiled, columns: list[Any], passes: int) -> list[list[Any]]:
        """``columns`` cut into chunks of rows whose intermediate arrays fit in CHUNK_NUMBERS numbers.

        ``passes`` backward passes each need gradients as large as the values.
        """
        n = len(columns[0]) if columns else 1
        plan = compiled.plan
        per_sample = plan.sample_width if plan is not None else len(compiled.graph.nodes)
        rows = max(MIN_CHUNK_ROWS, CHUNK_NUMBERS // ((1 + passes) * per_sample))
        if n <= rows or not columns:
            return [columns]
        return [[c[s : s + rows] for c in columns] for s in range(0, n, rows)]

    def _shaped(self, compiled: _Compiled, outputs: Any) -> Any:
        """Outputs (N, k) as the caller expects them: (N,) for a function returning one Value."""
        if compiled.graph.vector:
            return outputs
        return [row[0] for row in outputs] if isinstance(outputs, list) else outputs[:, 0]

    def _stack(self, result: Result, a: int, k: int) -> Any:
        return self.backend.stack([result.grads[o][1][a] for o in range(k)])

    @staticmethod
    def _rows(x: Any) -> list[Any]:
        return x if isinstance(x, list) else x.tolist()

    @staticmethod
    def _list(x: Any) -> list[Any]:
        return x if isinstance(x, list) else x.tolist()


def _call_replay(
    graph: Graph, params: list[Value], traced: list[Any], sample: list[Any], output: int
) -> Callable[[Value, tuple[Value, ...]], tuple[Value, ...]]:
    """The rule on Values of a one-sample call's node: the call replayed eagerly, differentiated as a graph."""

    def higher(g: Value, xs: tuple[Value, ...]) -> tuple[Value, ...]:
        given = iter(xs)
        args: list[Any] = []
        for a, numbers in zip(traced, sample):
            elements = a if isinstance(a, (list, tuple)) else [a]
            values = [
                next(given) if isinstance(v, Value) else Value(float(x))
                for v, x in zip(elements, numbers if isinstance(numbers, list) else [numbers])
            ]
            args.append(values if isinstance(a, (list, tuple)) else values[0])
        out = run_eagerly(graph, list(xs[len(xs) - len(params) :]), args)[output]
        return tuple(g * d for d in grad(out, list(xs), create_graph=True))

    return higher


def _batch_replay(
    graph: Graph, columns: list[Any], scale: float
) -> Callable[[Value, tuple[Value, ...]], tuple[Value, ...]]:
    """The rule on Values of a ``mean``/``sum`` node: every sample replayed eagerly, as the eager loss."""

    def higher(g: Value, xs: tuple[Value, ...]) -> tuple[Value, ...]:
        params = list(xs)
        rows = [c if isinstance(c, list) else c.tolist() for c in columns]
        n = len(rows[0]) if rows else 1
        terms = [run_eagerly(graph, params, leaves_for(graph, [r[s] for r in rows]))[0] for s in range(n)]
        total = sum(terms, Value(0.0)) * scale
        return tuple(g * d for d in grad(total, params, create_graph=True))

    return higher
