"""The one policy nanograd has for Python's cycle collector: make room for graphs, never pause it.

Graphs hold no reference cycles: reference counting frees each one as soon as the last
reference to its output goes. But CPython's cycle collector runs every 700 net object
allocations and rescans the live graph nodes each time, which makes building a graph
cost far more than its nodes. Its counter counts allocations minus frees, so a first
threshold of a few graphs' worth of nodes lets training steps build and free their
graphs without a collection, while cyclic garbage from other code is still collected,
only after more allocations. Results do not change; memory stays flat
(``tests/test_memory.py``). Backprop and compile's tracing apply it, with the size of
the graph they have just walked.
"""

from __future__ import annotations

import gc

#: Whether nanograd may raise the cycle collector's first threshold (see :func:`set_gc_tuning`).
_enabled = True
#: The threshold is kept at this many times the nodes of the largest graph seen so far ...
HEADROOM = 4
#: ... but never raised beyond this.
MAX_THRESHOLD = 4_000_000


def make_room_for_graphs(nodes: int) -> None:
    """Let the next graphs of ``nodes`` computed Values be built and freed without a cycle collection."""
    if _enabled:
        threshold, *older = gc.get_threshold()
        wanted = min(HEADROOM * nodes, MAX_THRESHOLD)
        if threshold < wanted:
            gc.set_threshold(wanted, *older)


def set_gc_tuning(enabled: bool) -> None:
    """Allow (the default) or forbid nanograd to raise the cycle collector's first threshold.

    ``backpropagate()`` raises ``gc.get_threshold()[0]`` to four times the computed
    nodes of the graph (at most 4,000,000) so that building the next graphs triggers
    no cycle collection; it never lowers it, and never turns the collector on or off.
    """
    global _enabled
    _enabled = bool(enabled)
