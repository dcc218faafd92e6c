"""nanograd: a scalar-valued automatic-differentiation engine with a small neural-net library.

The core (``Value``, the op table, ``no_grad``, ``grad``) needs only the standard
library; visualisation, the demo and the PyTorch bridge import their extras when
their own modules are imported (``nanograd.viz``, ``nanograd.demo``, ``nanograd.pytorch``).
"""

from . import engine, neural_net, nn
from .compiler import Graph, compile
from .functional import GradcheckError, gradcheck, hessian
from .ops import OPS, Op, register_op
from .value import Value, grad, is_grad_enabled, no_grad, set_gc_tuning, topological_order, zero_grad
from .viz import draw_dot, trace

__all__ = [
    "OPS",
    "GradcheckError",
    "Graph",
    "Op",
    "Value",
    "compile",
    "draw_dot",
    "engine",
    "grad",
    "gradcheck",
    "hessian",
    "is_grad_enabled",
    "neural_net",
    "nn",
    "no_grad",
    "register_op",
    "set_gc_tuning",
    "topological_order",
    "trace",
    "zero_grad",
]
__version__ = "0.1.0"
