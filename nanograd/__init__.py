"""nanograd: a scalar-valued automatic-differentiation engine with a small neural-net library.

The core (``Value``, the op table, ``no_grad``) needs only the standard library;
visualisation, the demo and the PyTorch bridge import their extras lazily.
"""

import sys

from . import neural_net
from .ops import OPS, Op
from .value import Value, is_grad_enabled, no_grad, zero_grad

#: ``nanograd.nn`` is ``nanograd.neural_net`` under a shorter name (the same module object).
nn = neural_net
sys.modules[f"{__name__}.nn"] = neural_net

__all__ = ["OPS", "Op", "Value", "is_grad_enabled", "nn", "neural_net", "no_grad", "zero_grad"]
__version__ = "0.1.0"
