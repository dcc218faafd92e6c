"""What one op costs in nanograd, forward and backward, next to the floor: creating one slotted object.

Run ``python benchmarks/op_cost.py`` (under a minute). For every op in OPS, on leaves
``x = Value(0.5)`` and ``y = Value(1.5)``:

* forward (ns): ``timeit`` of the expression (its result freed at once), less the time
  of an empty statement;
* backward (ns per node): ``backward()`` of a balanced sum of 2**16 results of the op,
  less that of the same sum over one leaf, divided by 2**16: what one more node of the
  op adds to backpropagation (its visit in the graph walk and its local derivative);
* bytes per node: the memory 2**16 results of the op hold (tracemalloc), their numbers
  and any constant leaf included.

The floor rows time creating one instance of a class with five ``__slots__``: bare, and
with ``__init__`` writing all five. An engine that allocates one object per node and
writes its fields cannot do better; "x floor" is an op's forward time over the second.
The microgpt-style Value of ``gpt_step.py`` is measured the same way for reference ("-":
it has no such op). Each engine runs in its own process with the cycle collector off,
as ``timeit`` does (``gpt_step.py`` shows what the collector adds); times are CPU time
(``_common.clock``). Results are printed
and written to ``benchmarks/results/op_cost.{md,json}``.
"""

from __future__ import annotations

import gc
import timeit
import tracemalloc
from collections.abc import Callable

from _common import clock, in_children, value_class, write_results

NODES = 2**16  # graph size for the backward and memory measurements
NUMBER, REPEAT = 100_000, 5  # timeit: statements per run, runs (the fastest run counts)
OPS = (
    "x + y",
    "x + 1.0",
    "1.0 + x",
    "x - y",
    "x * y",
    "2.0 * x",
    "2 * x",
    "x / y",
    "-x",
    "x ** 2",
    "x ** y",
    "x.relu()",
    "x.tanh()",
    "x.sigmoid()",
    "x.exp()",
    "x.log()",
)
ENGINES = ("nanograd", "microgpt-style", "floor")


class Bare:
    """Five slots, nothing written."""

    __slots__ = ("a", "b", "c", "d", "e")


class Filled:
    """Five slots, all written by ``__init__``."""

    __slots__ = ("a", "b", "c", "d", "e")

    def __init__(self, a: object, b: object, c: object, d: object, e: object) -> None:
        self.a = a
        self.b = b
        self.c = c
        self.d = d
        self.e = e


FLOOR = {"Bare()": "empty object, 5 slots", "Filled(x, y, 2.0, None, '')": "object with 5 slots written"}


def forward_ns(statement: str, namespace: dict) -> float:
    """Nanoseconds one execution of ``statement`` takes, less an empty statement's."""

    def best(stmt: str) -> float:
        return min(timeit.Timer(stmt, timer=clock, globals=namespace).repeat(REPEAT, NUMBER)) / NUMBER

    return (best(statement) - best("pass")) * 1e9


def balanced_sum(terms: list) -> object:
    """``terms[0] + terms[1] + ...`` as a balanced tree of adds (shallow: no recursion limit to hit)."""
    while len(terms) > 1:
        terms = [a + b for a, b in zip(terms[0::2], terms[1::2])]
    return terms[0]


def backward_s(make_terms: Callable[[], list]) -> float:
    """Seconds the fastest of REPEAT ``backward()`` calls takes on ``balanced_sum(make_terms())``."""
    best = float("inf")
    for _ in range(REPEAT):
        root = balanced_sum(make_terms())
        start = clock()
        root.backward()
        best = min(best, clock() - start)
    return best


def bytes_per_result(make: Callable[[], object]) -> float:
    """Memory that each of NODES results of ``make()`` holds, kept alive together."""
    results: list[object] = [None] * NODES
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(NODES):
        results[i] = make()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / NODES


def measure_engine(engine: str) -> dict[str, dict | None]:
    """Forward ns, backward ns per node and bytes per node of every op (None where the engine lacks it)."""
    value = value_class(engine)
    x, y = value(0.5), value(1.5)
    namespace = {"x": x, "y": y}
    base = backward_s(lambda: [x] * NODES)
    costs: dict[str, dict | None] = {}
    for expression in OPS:
        make = eval(f"lambda: {expression}", namespace)  # one of the fixed expressions above
        try:
            make()
        except (AttributeError, TypeError):  # the engine has no such op
            costs[expression] = None
            continue
        costs[expression] = {
            "forward_ns": forward_ns(expression, namespace),
            "backward_ns": (backward_s(lambda make=make: [make() for _ in range(NODES)]) - base) / NODES * 1e9,
            "bytes": bytes_per_result(make),
        }
    return costs


def measure_floor() -> dict[str, dict]:
    namespace = {"Bare": Bare, "Filled": Filled, "x": 0.5, "y": 1.5}
    return {
        statement: {
            "forward_ns": forward_ns(statement, namespace),
            "bytes": bytes_per_result(eval(f"lambda: {statement}", namespace)),  # a fixed statement above
        }
        for statement in FLOOR
    }


def measure(engine: str) -> dict:
    gc.disable()
    return measure_floor() if engine == "floor" else measure_engine(engine)


def report(results: dict[str, dict]) -> str:
    floor = results["floor"]
    floor_ns = floor[list(FLOOR)[-1]]["forward_ns"]
    rows = [
        "| op | forward (ns) | x floor | backward per node (ns) | bytes per node "
        "| microgpt-style: forward (ns) | backward (ns) | bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for expression in OPS:
        ng, mg = results["nanograd"][expression], results["microgpt-style"][expression]
        cells = [f"`{expression}`"]
        cells += [f"{ng['forward_ns']:.0f}", f"{ng['forward_ns'] / floor_ns:.1f}x"]
        cells += [f"{ng['backward_ns']:.0f}", f"{ng['bytes']:.0f}"]
        if mg is None:
            cells += ["-", "-", "-"]
        else:
            cells += [f"{mg['forward_ns']:.0f}", f"{mg['backward_ns']:.0f}", f"{mg['bytes']:.0f}"]
        rows.append("| " + " | ".join(cells) + " |")
    for statement, title in FLOOR.items():
        ns, size = floor[statement]["forward_ns"], floor[statement]["bytes"]
        rows.append(f"| floor: {title} | {ns:.0f} | {ns / floor_ns:.1f}x | - | {size:.0f} | | | |")
    return "\n".join(rows)


def main() -> None:
    results = in_children(__file__, ENGINES, measure)
    if results is not None:
        write_results("op_cost", report(results), results)


if __name__ == "__main__":
    main()
