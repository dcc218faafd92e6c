"""What calling nanograd from PyTorch costs: ``nanograd.pytorch.function`` vs the same function in torch.

Run ``python benchmarks/bench_torch_function.py`` (a few seconds). Each function below is
written once, with operators and methods that nanograd Values and torch tensors share, and
timed two ways on float64 inputs of shape (batch, n), forward plus backward:

* ``nanograd`` -- ``function(fn)(x).sum().backward()``: ``fn`` compiled once
  (``nanograd.compile``, torch backend), then run over the whole batch as tensor operations
* ``torch``    -- ``fn(*x.unbind(1)).sum().backward()``: the same function on whole columns

The table shows microseconds per sample and the ratio nanograd / torch; it is printed and
written to ``benchmarks/results/torch_function.{md,json}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from _common import write_results

from nanograd.pytorch import function

BATCHES = (1, 64, 1024)
MIN_SECONDS = 0.2  # time each cell for at least this long


def neuron(x0, x1, x2, x3):
    """A tanh neuron with four inputs and constant weights (9 ops)."""
    return (0.5 * x0 - 0.25 * x1 + 0.75 * x2 - x3 + 0.1).tanh()


def composite(x, y, z):
    """A dozen mixed ops: exp, log, tanh, sigmoid, division."""
    return (x * y + z.tanh()).exp() / (1 + x * x) - (y * y + 1).log() * z.sigmoid()


FUNCTIONS: dict[str, tuple[Callable, int]] = {"neuron": (neuron, 4), "composite": (composite, 3)}


def on_columns(fn: Callable) -> Callable[[torch.Tensor], torch.Tensor]:
    """``fn`` applied to the columns of a (batch, n) tensor: the native torch version."""
    return lambda x: fn(*x.unbind(1))


def microseconds_per_sample(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> float:
    """Mean time of ``f(x).sum().backward()`` per sample, over at least MIN_SECONDS."""
    f(x).sum().backward()  # warm up
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < MIN_SECONDS:
        f(x).sum().backward()
        calls += 1
    return elapsed / calls / len(x) * 1e6


def main() -> None:
    torch.manual_seed(0)
    rows = ["| function | batch | nanograd (µs/sample) | torch (µs/sample) | ratio |", "|---|---|---|---|---|"]
    results = {}
    for name, (fn, n) in FUNCTIONS.items():
        for batch in BATCHES:
            x = torch.rand(batch, n, dtype=torch.float64, requires_grad=True)
            ours = microseconds_per_sample(function(fn), x)
            theirs = microseconds_per_sample(on_columns(fn), x)
            results[f"{name}/{batch}"] = {"nanograd_us": ours, "torch_us": theirs}
            rows.append(f"| {name} | {batch} | {ours:.2f} | {theirs:.3f} | {ours / theirs:.1f}x |")
    threads = f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64, forward + backward"
    write_results("torch_function", "\n".join(rows) + f"\n\n{threads}", results)


if __name__ == "__main__":
    main()
