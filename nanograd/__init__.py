"""nanograd: a scalar-valued automatic-differentiation engine with a small neural-net library.

The core (``Value``, the op table, ``no_grad``) needs only the standard library;
visualisation, the demo and the PyTorch bridge import their extras lazily.
"""

import importlib
import sys

from . import neural_net
from .ops import OPS, Op
from .value import Value, is_grad_enabled, no_grad, zero_grad

#: ``nanograd.nn`` is ``nanograd.neural_net`` under a shorter name (the same module object).
nn = neural_net
sys.modules[f"{__name__}.nn"] = neural_net

#: Names imported on first use, name -> submodule, so ``import nanograd`` loads no optional extra.
_LAZY_NAMES = {"draw_dot": "viz", "trace": "viz", "compile": "compiler", "Graph": "compiler"}


def __getattr__(name: str) -> object:
    """Import a name listed in ``_LAZY_NAMES`` from its submodule on first access."""
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f".{_LAZY_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OPS",
    "Graph",
    "Op",
    "Value",
    "compile",
    "draw_dot",
    "is_grad_enabled",
    "neural_net",
    "nn",
    "no_grad",
    "trace",
    "zero_grad",
]
__version__ = "0.1.0"
