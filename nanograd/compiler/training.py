"""Compiled training: the loss, its gradient and the optimiser's update, on arrays.

::

    objective = nanograd.compile(lambda x, y: (1 + -y * model(x)).relu() + l2_penalty(params, 1e-4))
    step = objective.train_step(SGD(model.parameters(), lr=0.1))
    for k in range(100):
        loss = step(X, y)   # the mean loss of the batch, before this step's update

One call of a :class:`TrainStep` does what the plain loop does::

    loss = objective.mean(X, y); optimizer.zero_grad(); loss.backpropagate(); optimizer.step()

with the same numbers (to rounding: sums run in another order), but without a Value per
parameter on the way: the parameters' numbers are read into one array, the backend
computes the mean loss and its gradient with respect to all of them at once, the
optimiser updates the array (:meth:`~nanograd.optim.Optimizer.step_arrays`) and the new
numbers are written back into the parameters' Values. So after each call ``p.data`` is
the trained number, and the model can be saved or run eagerly; a number changed by hand
between calls is read at the next one. Not written: ``p.grad`` (the gradient stays in
the backend's array; :meth:`~nanograd.compiler.CompiledFunction.value_and_grad` returns it).

On the ``python`` backend a step is the plain loop above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..optim import Optimizer
from ..value import Value

if TYPE_CHECKING:
    from . import CompiledFunction, _Compiled

__all__ = ["TrainStep", "value_and_grad"]


class _Binding:
    """How the captured parameters of one trace meet a list of Values ``wrt``.

    ``take`` picks each captured parameter's number from the numbers of ``wrt`` followed
    by those of the captured parameters that are not in it (``others``, read at each call);
    the gradient of ``wrt`` is the trace's gradient at ``found`` put at ``places`` (0 elsewhere).
    """

    def __init__(self, captured: list[Value], wrt: list[Value], backend: Any, like: Any) -> None:
        where = {id(v): k for k, v in enumerate(wrt)}
        self.others = [v for v in captured if id(v) not in where]
        extra = iter(range(len(wrt), len(wrt) + len(self.others)))
        take = [where[id(v)] if id(v) in where else next(extra) for v in captured]
        found = [s for s, v in enumerate(captured) if id(v) in where]
        self.n = len(wrt)
        self.take = backend.index(take, like)
        self.found = backend.index(found, like)
        self.places = backend.index([where[id(captured[s])] for s in found], like)
        self.identity = take == list(range(len(wrt))) and len(captured) == len(wrt)


def _check_distinct(wrt: list[Value], what: str) -> None:
    if len({id(v) for v in wrt}) != len(wrt):
        raise ValueError(f"{what}: a Value appears more than once in the parameters")
    bad = [v for v in wrt if not isinstance(v, Value)]
    if bad:
        raise TypeError(f"{what}: expected Values, got {bad[0]!r} of type {type(bad[0]).__name__}")


class _Trainer:
    """The array work shared by :class:`TrainStep` and :func:`value_and_grad`."""

    def __init__(self, f: CompiledFunction, wrt: list[Value], what: str) -> None:
        _check_distinct(wrt, what)
        self.f, self.wrt, self.what = f, wrt, what
        self._bindings: dict[int, tuple[_Compiled, _Binding]] = {}

    def numbers(self, like: Any) -> Any:
        """The numbers of ``wrt`` as a 1-D array of the backend (on ``like``'s device)."""
        try:
            return self.f.backend.asarray([v.data for v in self.wrt], like)
        except (TypeError, ValueError):
            self.f._param_numbers(self.wrt)  # names the Value that holds no float
            raise

    def loss_and_grad(self, batches: tuple[Any, ...]) -> tuple[float, Any, Any]:
        """The mean of the outputs over the batch, its gradient with respect to ``wrt``, and the
        numbers of ``wrt`` it was computed at (1-D arrays of the backend)."""
        f = self.f
        compiled, columns = f._prepare(batches, self.what)
        if compiled.graph.vector:
            raise ValueError(
                f"{self.what}: the function returns {len(compiled.graph.outputs)} Values; training needs one (the loss)"
            )
        numbers = self.numbers(columns[0] if columns else None)
        binding = self._binding(compiled, numbers)
        row = numbers if binding.identity else self._params_row(binding, numbers)
        n = len(columns[0]) if columns else 1
        total, grads = 0.0, 0.0  # added up over the chunks; grads becomes an array
        for chunk in f._chunks(compiled, columns, 1):
            result = f.backend.run(compiled.graph, compiled.plan, row, chunk, [0], arguments=False)
            total += float(result.outputs[:, 0].sum())
            grads = result.grads[0][0] + grads
        scale = 1.0 / n
        total, grads = total * scale, grads * scale  # the eager order: sum(terms) * (1.0 / n)
        return total, self._wrt_grads(binding, grads, numbers), numbers

    def _binding(self, compiled: _Compiled, like: Any) -> _Binding:
        cached = self._bindings.get(id(compiled))
        if cached is None or cached[0] is not compiled:
            cached = (compiled, _Binding(compiled.params, self.wrt, self.f.backend, like))
            self._bindings[id(compiled)] = cached
            if len(self._bindings) > 2 * len(self.f._cache) + 1:  # traces the function dropped
                live = {id(c) for c in self.f._cache.values()}
                self._bindings = {k: v for k, v in self._bindings.items() if k in live}
        return cached[1]

    def _params_row(self, binding: _Binding, numbers: Any) -> Any:
        if binding.others:
            others = self.f.backend.asarray(self.f._param_numbers(binding.others), numbers)
            numbers = self.f.backend.join([numbers, others])
        return numbers[binding.take]

    def _wrt_grads(self, binding: _Binding, grads: Any, like: Any) -> Any:
        if binding.identity:
            return grads
        out = self.f.backend.zeros(1, binding.n, like)[0]
        out[binding.places] = grads[binding.found]
        return out


def value_and_grad(f: CompiledFunction, batches: tuple[Any, ...], wrt: list[Value]) -> tuple[float, Any]:
    """``f``'s mean over the batch and its gradient with respect to ``wrt`` (an array in ``wrt``'s order)."""
    if f.backend.name == "python":
        raise ValueError(f"compile({f.__name__}).value_and_grad needs an array backend (numpy or torch), not python")
    loss, grads, _ = _Trainer(f, list(wrt), f"compile({f.__name__}).value_and_grad").loss_and_grad(batches)
    return loss, grads


class TrainStep:
    """One training step of a compiled loss on arrays: ``loss = step(X, y)`` (see the module docstring).

    Made by ``nanograd.compile(fn).train_step(optimizer)``: ``fn`` returns the loss of one
    sample, a step minimises its mean over the batch with ``optimizer``.
    """

    def __init__(self, f: CompiledFunction, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"compile({f.__name__}).train_step: expected an optimizer, got {optimizer!r}")
        self.f = f
        self.optimizer = optimizer
        self._trainer = _Trainer(f, optimizer.params, f"compile({f.__name__}).train_step")

    def __repr__(self) -> str:
        return f"{self.f!r}.train_step({type(self.optimizer).__name__})"

    def __call__(self, *batches: Any) -> float:
        """Train on one batch: returns the mean loss before the update; the parameters hold the new numbers."""
        f, optimizer = self.f, self.optimizer
        if f.backend.name == "python":
            total = f.mean(*batches)
            optimizer.zero_grad()
            total.backpropagate()
            optimizer.step()
            return total.data
        loss, grads, numbers = self._trainer.loss_and_grad(batches)
        new = optimizer.step_arrays(numbers, grads)
        for p, x in zip(optimizer.params, new.tolist()):
            p.data = x
        return loss
