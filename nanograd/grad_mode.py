"""Grad mode: whether operations record the graph (:func:`no_grad`), and how gradients compute.

Both settings are :mod:`contextvars` variables, so they are per thread and per asyncio task.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("nanograd_grad_enabled", default=True)
_ieee: contextvars.ContextVar[bool] = contextvars.ContextVar("nanograd_ieee_arithmetic", default=False)

#: Whether operations record the graph now: bound once, the engine asks for every node.
recording = _grad_enabled.get
#: Whether Value arithmetic follows IEEE-754 now (see :func:`ieee_arithmetic`).
ieee = _ieee.get


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Within this block operations build no graph: results are plain leaves.

    Use it for inference and for parameter updates. The setting is per thread and
    per asyncio task (a :mod:`contextvars` variable).
    """
    token = _grad_enabled.set(False)
    try:
        yield
    finally:
        _grad_enabled.reset(token)


def is_grad_enabled() -> bool:
    """Whether operations currently record the graph (``False`` inside ``no_grad``)."""
    return _grad_enabled.get()


@contextlib.contextmanager
def ieee_arithmetic() -> Iterator[None]:
    """Within this block Value arithmetic follows IEEE-754 instead of raising.

    A Value's forward raises on a domain error or an overflow from finite inputs, so the
    user learns where a model went wrong. Gradients follow IEEE-754 as PyTorch does:
    ``backpropagate(create_graph=True)`` evaluates the rules on Values inside this block,
    so a second derivative is ``inf`` or ``NaN`` exactly where the first-order rules,
    evaluated on floats, give ``inf`` or ``NaN``.
    """
    token = _ieee.set(True)
    try:
        yield
    finally:
        _ieee.reset(token)
