"""micrograd's module layout: ``from nanograd.engine import Value`` as ``from micrograd.engine import Value``.

A thin re-export: the Value type lives in :mod:`nanograd.value`, the chain rule in
:mod:`nanograd.backprop` and the rules of every op in :mod:`nanograd.ops`.
"""

from .value import Value

__all__ = ["Value"]
