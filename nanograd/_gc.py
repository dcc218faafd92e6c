"""Pausing Python's cycle collector while building or walking large graphs."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector for the block (restoring its previous state after).

    A graph of Values holds no reference cycles, so reference counting frees it; the
    collector would only rescan the live nodes again and again, which makes building a
    large graph take time that grows faster than its size.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
