"""Loss functions and a weight penalty, composed from ``Value`` ops so they backpropagate.

Each loss takes a sequence of model outputs (Values) and a sequence of targets (numbers
or Values) of the same length and returns their mean as one Value. The mean is
``sum(terms) * (1.0 / n)``, the order micrograd's demo uses, so the numbers match it
bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

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
    # overflows. The branch is taken on the number, not through relu and abs, so the
    # gradient is sigmoid(z) - y everywhere, 0.5 - y at z == 0 included.
    if z.data > 0:
        return (z - z * y) + (1 + (-z).exp()).log()
    return -(z * y) + (1 + z.exp()).log()


def bce_with_logits_loss(logits: Sequence[Value], targets: Sequence[Target]) -> Value:
    """Binary cross-entropy of ``sigmoid(logit)`` against targets in [0, 1], computed stably.

    Equal to the mean of ``-y*log(sigmoid(z)) - (1-y)*log(1 - sigmoid(z))`` (PyTorch's
    ``binary_cross_entropy_with_logits``), but finite for logits of any size.
    """
    return _mean("bce_with_logits_loss", logits, targets, _bce_with_logit)


def l2_penalty(params: Iterable[Value], alpha: float) -> Value:
    """``alpha * sum(p * p)``: L2 regularisation of ``params`` (micrograd's ``reg_loss``)."""
    return alpha * sum((p * p for p in params), Value(0.0))
