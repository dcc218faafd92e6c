"""What a backend returns for a batch (:class:`Result`): the one type every backend module shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Result:
    """What a backend returns for a batch.

    ``outputs`` has shape (N, k), one column per output of the graph. ``grads`` has one
    entry per output asked for: the gradients of that output summed over the batch, with
    respect to the captured parameters (P,), and with respect to each argument per sample
    ((N,) for a scalar argument, (N, k) for a vector one).
    """

    outputs: Any
    grads: list[tuple[Any, list[Any]]]
