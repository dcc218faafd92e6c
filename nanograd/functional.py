"""Derivatives as functions: :func:`grad`, the Hessian, and gradient checking against finite differences.

:func:`grad` returns gradients without touching any ``.gradient``. :func:`hessian` and
:func:`gradcheck` take a function ``fn(*values) -> Value`` (as ``torch.autograd.functional.hessian``
and ``torch.autograd.gradcheck`` do) and the point to evaluate it at, as numbers or
Values (only their numbers are used: ``fn`` runs on fresh leaves, so no ``.gradient``
is touched). Second derivatives come from differentiating the gradient graph that
``nanograd.grad(..., create_graph=True)`` builds, i.e. from the op table's own vjp
rules evaluated on Values; there is no second set of rules.

:func:`gradcheck` is the tool for checking an op you wrote (see
:func:`nanograd.ops.register_op`)::

    gradcheck(lambda x, y: x * y.sin(), [0.5, 2.0], order=2)  # True, or GradcheckError
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .backprop import topological_order
from .errors import short
from .grad_mode import no_grad
from .value import Value

Number = int | float
#: A scalar function of Values: ``fn(*values) -> Value``.
Function = Callable[..., Value]
#: Derivatives as rows: ``rows[i][j]`` is output ``i`` differentiated by input ``j``.
Matrix = list[list[float]]


def zero_grad(values: Iterable[Value]) -> None:
    """Set ``.gradient`` of each Value to 0 (call it between training steps)."""
    for v in values:
        v.grad = 0.0


def grad(out: Value, wrt: Sequence[Value], create_graph: bool = False) -> list[Any]:
    """The gradients d(out)/d(w) for each ``w`` in ``wrt``, leaving every ``.gradient`` as it was.

    With ``create_graph=True`` the results are Values that can be differentiated
    again: ``grad(grad(f, [x])[0], [x])`` is the second derivative. A ``w`` that
    ``out`` does not depend on gets 0.
    """
    if not isinstance(out, Value):
        raise TypeError(f"grad: out must be a Value, got {short(out)}")
    wrt = list(wrt)
    for w in wrt:
        if not isinstance(w, Value):
            raise TypeError(f"grad: wrt must be Values, got {short(w)}")
    nodes = set(topological_order(out)) | set(wrt)
    saved = {v: v.grad for v in nodes}
    try:
        for v in nodes:
            v.grad = 0.0
        out.backpropagate(create_graph=create_graph)
        if not create_graph:
            return [w.grad for w in wrt]
        return [w.grad if isinstance(w.grad, Value) else Value(w.grad) for w in wrt]  # unreached: a new 0
    finally:
        for v, g in saved.items():
            v.grad = g


class GradcheckError(AssertionError):
    """An analytical derivative disagrees with its finite-difference estimate (raised by :func:`gradcheck`)."""


def hessian(fn: Function, inputs: Sequence[Value | Number]) -> Matrix:
    """The matrix of second derivatives ``d2 fn / d inputs[i] d inputs[j]`` at ``inputs``.

    ``fn(*values)`` must return a Value. Returns nested lists of floats, row ``i``
    being the gradient of ``d fn / d inputs[i]``. ``inputs`` are numbers or Values
    (only their numbers are read; their ``.gradient`` is left alone).
    """
    xs = _leaves(inputs)
    return _second_derivatives(_call(fn, xs, "hessian"), xs)


def gradcheck(
    fn: Function,
    inputs: Sequence[Value | Number],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    order: int = 1,
) -> bool:
    """Check the derivatives of ``fn`` at ``inputs`` against central finite differences.

    Like ``torch.autograd.gradcheck``: each analytical derivative ``a`` must be within
    ``atol + rtol * |n|`` of its estimate ``n``, obtained by moving one input by
    ``eps`` either way. With ``order=2`` the second derivatives (:func:`hessian`) are
    checked too, against finite differences of the (already checked) gradient, like
    ``torch.autograd.gradgradcheck``.

    Returns ``True``, or raises :class:`GradcheckError` naming the derivative and
    the input (its ``label`` if ``inputs`` holds labelled Values), the analytical and
    numerical values and their difference.
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order!r}")
    if not eps > 0:
        raise ValueError(f"gradcheck: eps must be positive, got {eps!r}")
    point = [_number(x) for x in inputs]
    names = [x.label if isinstance(x, Value) and x.label else f"input {i}" for i, x in enumerate(inputs)]

    def value(p: list[float]) -> list[float]:
        with no_grad():
            return [_call(fn, _leaves(p), "gradcheck").data]

    def gradient(p: list[float]) -> list[float]:
        xs = _leaves(p)
        return _floats(grad(_call(fn, xs, "gradcheck"), xs))

    checks: list[tuple[Matrix, Callable[[list[float]], list[float]], str]] = [
        ([gradient(point)], value, "d(fn)/d({j})"),
    ]
    if order == 2:
        checks.append((hessian(fn, point), gradient, "d2(fn)/d({i})d({j})"))
    for analytical, differentiated, what in checks:
        numerical = _central_differences(differentiated, point, eps)
        for i, row in enumerate(analytical):
            for j, a in enumerate(row):
                n = numerical[i][j]
                if not abs(a - n) <= atol + rtol * abs(n):
                    name = what.format(i=names[i], j=names[j])
                    raise GradcheckError(
                        f"gradcheck: {name} at inputs {point} is wrong: analytical {a!r}, "
                        f"numerical {n!r} (central differences, eps={eps!r}), difference {abs(a - n)!r} "
                        f"> atol + rtol * |numerical| = {atol + rtol * abs(n)!r}"
                    )
    return True


def _number(x: Value | Number) -> float:
    return x.data if isinstance(x, Value) else float(x)


def _leaves(inputs: Sequence[Value | Number]) -> list[Value]:
    """Fresh leaves holding the numbers of ``inputs`` (labels kept, for error messages and drawings)."""
    return [Value(_number(x), label=x.label if isinstance(x, Value) else "") for x in inputs]


def _call(fn: Function, xs: list[Value], who: str) -> Value:
    out = fn(*xs)
    if not isinstance(out, Value):
        raise TypeError(f"{who}: fn must return a Value, got {out!r} of type {type(out).__name__}")
    return out


def _floats(values: Sequence[Value | Number]) -> list[float]:
    return [_number(v) for v in values]


def _second_derivatives(out: Value, xs: list[Value]) -> Matrix:
    """Row ``i``: the gradient of ``d out / d xs[i]``, itself differentiated through its graph."""
    return [_floats(grad(g, xs)) if isinstance(g, Value) else [0.0] * len(xs) for g in grad(out, xs, create_graph=True)]


def _central_differences(h: Callable[[list[float]], list[float]], point: list[float], eps: float) -> Matrix:
    """``rows[i][j]``: d h(p)[i] / d p[j] at ``point`` by central differences of step ``eps``."""
    columns = []
    for j in range(len(point)):
        up = h([p + eps * (k == j) for k, p in enumerate(point)])
        down = h([p - eps * (k == j) for k, p in enumerate(point)])
        columns.append([(u - d) / (2 * eps) for u, d in zip(up, down)])
    return [list(row) for row in zip(*columns)]
