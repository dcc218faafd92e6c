"""Loss functions, softmax and a weight penalty, composed from ``Value`` ops so they backpropagate.

Each loss takes a sequence of model outputs and a sequence of targets (numbers or Values)
of the same length and returns their mean as one Value. The mean is
``sum(terms) * (1.0 / n)``, the order micrograd's demo uses, so the numbers match it
bit for bit. For classification an output is a list of logits and a target a class
index: :func:`cross_entropy`.

Everything here traces honestly under :func:`nanograd.compile`: no number is read in
Python, choices are :func:`nanograd.where`, :func:`nanograd.maximum` and
:func:`nanograd.take`, so a target can be an argument of the compiled function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .selection import maximum, take, where
from .value import Number, Value

Target = Value | Number


def _mean(
    name: str, outputs: Sequence[Value], targets: Sequence[Target], term: Callable[[Value, Target], Value]
) -> Value:
    """``term(output, target)`` averaged over the pairs; ValueError for empty or unequal inputs."""
    if len(outputs) != len(targets):
        raise ValueError(f"{name}: {len(outputs)} outputs but {len(targets)} targets")
    if not outputs:
        raise ValueError(f"{name}: no outputs to average")
    terms = [term(s, y) for s, y in zip(outputs, targets)]
    return sum(terms, Value(0.0)) * (1.0 / len(terms))


def hinge_loss(scores: Sequence[Value], targets: Sequence[Target]) -> Value:
    """Max-margin (SVM) loss: the mean of ``relu(1 - y * score)`` for targets ``y`` in {-1, +1}."""
    return _mean("hinge_loss", scores, targets, lambda s, y: (1 + -y * s).relu())


def mse_loss(predictions: Sequence[Value], targets: Sequence[Target]) -> Value:
    """Mean squared error: the mean of ``(prediction - target) ** 2``."""
    return _mean("mse_loss", predictions, targets, lambda p, y: (p - y) ** 2)


def _bce_with_logit(z: Value, y: Target) -> Value:
    # max(z, 0) - z*y + log(1 + exp(-|z|)): exp never sees a positive argument, so nothing
    # overflows. Both pieces are selects on z > 0, not relu and abs, so the gradient is
    # sigmoid(z) - y everywhere, 0.5 - y at z == 0 included.
    positive = z > 0
    return where(positive, z - z * y, -(z * y)) + (1 + where(positive, -z, z).exp()).log()


def bce_with_logits_loss(logits: Sequence[Value], targets: Sequence[Target]) -> Value:
    """Binary cross-entropy of ``sigmoid(logit)`` against targets in [0, 1], computed stably.

    Equal to the mean of ``-y*log(sigmoid(z)) - (1-y)*log(1 - sigmoid(z))`` (PyTorch's
    ``binary_cross_entropy_with_logits``), but finite for logits of any size.
    """
    return _mean("bce_with_logits_loss", logits, targets, _bce_with_logit)


def l2_penalty(params: Iterable[Value], alpha: float) -> Value:
    """``alpha * sum(p * p)``: L2 regularisation of ``params`` (micrograd's ``reg_loss``)."""
    return alpha * sum((p * p for p in params), Value(0.0))


def _largest(values: Sequence[Value | Number]) -> Value | Number:
    """The maximum of ``values`` with :func:`nanograd.maximum`, pairwise (a tree log2(n) deep)."""
    level = list(values)
    while len(level) > 1:
        pairs: list[Value | Number] = [maximum(a, b) for a, b in zip(level[::2], level[1::2])]
        level = pairs + level[len(pairs) * 2 :]
    return level[0]


def _shifted(name: str, logits: Sequence[Value | Number]) -> list[Value]:
    """``logits`` minus the largest one: every entry <= 0, so ``exp`` cannot overflow."""
    if not logits:
        raise ValueError(f"{name}: no logits")
    top = _largest(logits)
    return [z - top for z in logits]  # type: ignore[misc]


def log_softmax(logits: Sequence[Value | Number]) -> list[Value]:
    """``log(softmax(logits))``, computed stably as ``z - max - log(sum(exp(z - max)))``.

    No entry overflows or underflows to ``-inf`` by itself, whatever the size of the logits
    (``[1000, -1000]`` gives ``[0, -2000]``). The maximum is :func:`nanograd.maximum`, so the
    function traces; its share of the gradient is zero up to rounding.
    """
    shifted = _shifted("log_softmax", logits)
    exps = [s.exp() for s in shifted]
    log_total = sum(exps[1:], exps[0]).log()
    return [s - log_total for s in shifted]


def softmax(logits: Sequence[Value | Number]) -> list[Value]:
    """``exp(z) / sum(exp(z))`` over ``logits``, with the largest logit subtracted first (no overflow)."""
    exps = [s.exp() for s in _shifted("softmax", logits)]
    total = sum(exps[1:], exps[0])
    return [e / total for e in exps]


def cross_entropy(logits: Sequence[Sequence[Value | Number]], targets: Sequence[Value | Number]) -> Value:
    """Softmax cross-entropy: the mean over samples of ``-log_softmax(logits)[target]``.

    ``logits`` holds one list of class scores per sample, ``targets`` one class index per
    sample (an int, or a Value or number holding a whole number from 0 to the number of
    classes - 1; inside a compiled function, an argument). The same as PyTorch's
    ``torch.nn.functional.cross_entropy(logits, targets)`` with its default mean.
    """
    return _mean("cross_entropy", logits, targets, lambda z, t: -take(log_softmax(z), t))  # type: ignore[arg-type]
