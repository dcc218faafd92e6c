"""Pieces the benchmark scripts share: the engines' Value classes, one process per engine, results files.

Importing this module puts the repository root first on ``sys.path``, so a benchmark
measures the checkout it lives in (``nanograd`` and ``examples``), installed or not.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

from nanograd._io import atomic_write  # noqa: E402  (needs the path above)

#: The clock every benchmark reads: the CPU time of this process. For single-threaded
#: work it equals the wall time on a quiet machine, and other programs sharing the
#: machine do not inflate it.
clock = time.process_time


class MicroValue:
    """The peer to beat: a minimal scalar Value in the style of karpathy's microgpt (Feb 2026).

    Four slots: the number, its gradient, the input Values, and the local derivative of
    the output with respect to each input, computed in the forward pass. Subtraction,
    negation and division are composed from ``+``, ``*`` and ``**``. ``backward`` sorts
    the graph with a recursive depth-first walk, then applies the chain rule.
    """

    __slots__ = ("_children", "_local_grads", "data", "grad")

    def __init__(self, data: float, children: tuple = (), local_grads: tuple = ()) -> None:
        self.data = data
        self.grad = 0.0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other: Any) -> MicroValue:
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        return MicroValue(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other: Any) -> MicroValue:
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        return MicroValue(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k: float) -> MicroValue:
        return MicroValue(self.data**k, (self,), (k * self.data ** (k - 1),))

    def exp(self) -> MicroValue:
        out = math.exp(self.data)
        return MicroValue(out, (self,), (out,))

    def log(self) -> MicroValue:
        return MicroValue(math.log(self.data), (self,), (1.0 / self.data,))

    def relu(self) -> MicroValue:
        return MicroValue(max(0.0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self) -> MicroValue:
        return self * -1.0

    def __radd__(self, other: Any) -> MicroValue:
        return self + other

    def __sub__(self, other: Any) -> MicroValue:
        return self + (-other)

    def __rsub__(self, other: Any) -> MicroValue:
        return other + (-self)

    def __rmul__(self, other: Any) -> MicroValue:
        return self * other

    def __truediv__(self, other: Any) -> MicroValue:
        return self * other**-1

    def __rtruediv__(self, other: Any) -> MicroValue:
        return other * self**-1

    def backward(self) -> None:
        order: list[MicroValue] = []
        seen: set[MicroValue] = set()

        def visit(v: MicroValue) -> None:
            if v not in seen:
                seen.add(v)
                for child in v._children:
                    visit(child)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            for child, local in zip(v._children, v._local_grads):
                child.grad += local * v.grad


def value_class(engine: str) -> type:
    """The Value class of ``engine``: ``microgpt-style``, ``nanograd`` or ``micrograd`` (0.1.0)."""
    if engine == "microgpt-style":
        return MicroValue
    if engine == "nanograd":
        from nanograd import Value

        return Value
    if engine == "micrograd":
        from micrograd.engine import Value as MicrogradValue

        return MicrogradValue
    raise ValueError(f"unknown engine {engine!r}")


def step_times(step: Callable[[int], object], steps: int, warmup: int, collector: bool = True) -> list[float]:
    """CPU seconds (:data:`clock`) taken by ``step(k)`` for ``k`` in ``range(warmup + steps)``, warmup left out.

    ``collector=False`` turns Python's cycle collector off first (``gc.disable()``);
    otherwise it is left as the process has it (on, as users run it).
    """
    if not collector:
        gc.disable()
    times = []
    for k in range(warmup + steps):
        start = clock()
        step(k)
        times.append(clock() - start)
    return times[warmup:]


def in_children(script: str, keys: Sequence[str], measure: Callable[[str], dict]) -> dict[str, dict] | None:
    """One process per measurement: ``script --child KEY`` prints ``measure(KEY)`` as JSON.

    Called in the parent (no ``--child`` argument), it runs ``script`` once per key and
    returns ``{key: result}``; called in a child, it prints the result and returns None.
    With ``--rounds N`` (default 3) every key is measured N times, the rounds interleaved
    (key 1, key 2, ..., key 1, key 2, ...) so that a slow spell of a shared machine falls on
    all of them, and each key keeps the round with its median ``step_s``.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=keys, help="take one measurement and print it as JSON (internal)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per key, interleaved (default: 3)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return None
    rounds: dict[str, list[dict]] = {key: [] for key in keys}
    for _ in range(max(1, args.rounds)):
        for key in keys:
            out = subprocess.run([sys.executable, script, "--child", key], check=True, capture_output=True, text=True)
            rounds[key].append(json.loads(out.stdout))
    return {key: _median_round(results) for key, results in rounds.items()}


def _median_round(results: list[dict]) -> dict:
    """The round whose ``step_s`` is the median (the first round for results without one)."""
    if not all("step_s" in r for r in results):
        return results[0]
    return sorted(results, key=lambda r: r["step_s"])[len(results) // 2]


def write_results(name: str, table: str, results: dict) -> None:
    """Print ``table`` and write it to ``benchmarks/results/<name>.md``, the raw numbers to ``<name>.json``."""
    print(table)
    RESULTS.mkdir(exist_ok=True)
    python = sys.version.split()[0]
    with atomic_write(RESULTS / f"{name}.md") as f:
        f.write(f"python {python}\n\n{table}\n")
    with atomic_write(RESULTS / f"{name}.json") as f:
        json.dump({"python": python, "results": results}, f, indent=1)
        f.write("\n")
