"""nanograd: a scalar-valued automatic-differentiation engine with a small neural-net library.

How backpropagation works here, in three modules:

* :mod:`nanograd.ops` -- the op table: each op's forward rule and its vjp rule (how a
  gradient passes back to its inputs), the one place any derivative is written;
* :mod:`nanograd.value` -- ``Value``, a number that records the op and operands that made it;
* :mod:`nanograd.backprop` -- the chain rule: order the graph, seed the output with 1, then
  visit every Value from the output back and add its op's vjp into its inputs' gradients.

The core (``Value``, the op table, ``no_grad``, ``grad``) needs only the standard
library; visualisation, the demo and the PyTorch bridge import their extras when
their own modules are imported (``nanograd.viz``, ``nanograd.demo``, ``nanograd.pytorch``).
"""

from typing import TYPE_CHECKING

from . import engine, generic_ops, neural_net, nn
from .backprop import topological_order
from .explorer import explore
from .fast_backprop import set_fast_backprop
from .functional import GradcheckError, grad, gradcheck, hessian, zero_grad
from .gc_tuning import set_gc_tuning
from .grad_mode import is_grad_enabled, no_grad
from .ops import OPS, Op, register_op
from .selection import maximum, minimum, take, where
from .value import Value
from .viz import draw_dot, trace

if TYPE_CHECKING:
    from .compiler import Graph, TracedNumberError, compile


def __getattr__(name: str) -> object:
    """``compile``, ``Graph`` and ``TracedNumberError`` import the compiler on first use: it is a third of
    ``import nanograd``."""
    if name in ("compile", "Graph", "TracedNumberError"):
        from . import compiler

        return getattr(compiler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OPS",
    "GradcheckError",
    "Graph",
    "Op",
    "TracedNumberError",
    "Value",
    "compile",
    "draw_dot",
    "engine",
    "explore",
    "generic_ops",
    "grad",
    "gradcheck",
    "hessian",
    "is_grad_enabled",
    "maximum",
    "minimum",
    "neural_net",
    "nn",
    "no_grad",
    "register_op",
    "set_fast_backprop",
    "set_gc_tuning",
    "take",
    "topological_order",
    "trace",
    "where",
    "zero_grad",
]
__version__ = "0.1.0"
