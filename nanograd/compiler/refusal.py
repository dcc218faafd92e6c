""":class:`TracedNumberError`: what tracing raises where Python asks for the number of a traced value."""

from __future__ import annotations


class TracedNumberError(TypeError):
    """Python asked for the number of a traced value (one that depends on an argument) while tracing.

    The message names the arguments the value depends on and what to use instead:
    :func:`nanograd.where`, :func:`nanograd.maximum` or :func:`nanograd.take` keep the
    choice in the graph, and ``compile(fn, static_argnums=...)`` makes an argument a
    Python value that is traced once per distinct value.
    """


#: The advice of a TracedNumberError, by what Python wanted the number for.
ADVICE = {
    "truth": (
        "so Python cannot branch on it (if, while, and, or, max(), sorted()); keep the choice in the graph "
        "with nanograd.where(condition, x, y), nanograd.maximum(x, y) or nanograd.minimum(x, y)"
    ),
    "index": "so it cannot index a list or count (values[i], range(i)); use nanograd.take(values, i)",
    "number": (
        "use its methods (x.exp(), x.log(), ...) and nanograd.where, maximum, minimum or take instead of "
        "Python on its number"
    ),
    "text": "format the results after the call: f.map(...) returns the numbers",
    "graph": "walk, draw or backpropagate the result of the compiled call (f(x), f.mean(X)) outside the function",
}
