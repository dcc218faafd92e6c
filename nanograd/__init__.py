"""nanograd: a scalar-valued automatic-differentiation engine with a small neural-net library.

The core (``Value``, the op table, ``no_grad``, ``grad``) needs only the standard
library; visualisation, the demo and the PyTorch bridge import their extras when
their own modules are imported (``nanograd.viz``, ``nanograd.demo``, ``nanograd.pytorch``).
"""

from typing import TYPE_CHECKING

from . import engine, neural_net, nn
from .explorer import explore
from .functional import GradcheckError, gradcheck, hessian
from .ops import OPS, Op, register_op
from .value import Value, grad, is_grad_enabled, no_grad, set_gc_tuning, topological_order, zero_grad
from .viz import draw_dot, trace

if TYPE_CHECKING:
    from .compiler import Graph, compile


def __getattr__(name: str) -> object:
    """``compile`` and ``Graph`` import the compiler on first use: it is a third of ``import nanograd``."""
    if name in ("compile", "Graph"):
        from . import compiler

        return getattr(compiler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OPS",
    "GradcheckError",
    "Graph",
    "Op",
    "Value",
    "compile",
    "draw_dot",
    "engine",
    "explore",
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
