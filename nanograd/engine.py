"""micrograd's module layout: ``from nanograd.engine import Value`` as ``from micrograd.engine import Value``.

A thin re-export; the engine itself lives in :mod:`nanograd.value` and :mod:`nanograd.ops`.
"""

from .value import Value

__all__ = ["Value"]
