"""What ``nanograd.compile`` buys on the seed's demo step, and how it scales.

Run ``python benchmarks/compile_step.py`` (about a minute). Each engine runs in its own
process, on the same 100 moons points and the same initial weights:

* ``micrograd``         -- micrograd 0.1.0, its own MLP, written as its demo.ipynb does
* ``nanograd eager``    -- nanograd's Value graph, one graph per sample per step
* ``compiled <backend>``-- ``nanograd.compile`` of the per-sample objective (hinge term +
  L2 penalty), ``loss = objective.mean(X, y)``, then ``backpropagate()`` and SGD
* ``torch``             -- the same model as batched float64 tensors, one thread

For the compiled engines the table also shows the *kernel*: the backend's forward and
backward pass alone, from the parameters' numbers to their gradients as one array (the
rest of the step is the bookkeeping of 337 parameter Values: reading their numbers,
the graph node of the loss, backpropagation into ``.gradient`` and the SGD update).

Then: trace time and run time of graphs of 1e3 to 1e6 nodes (both linear), and the
peak memory of ``map`` over 1,000,000 points of the demo model. Results are printed and
written to ``benchmarks/results/compile_step.md``.
"""

from __future__ import annotations

import random
import statistics
import time
import tracemalloc

from _common import in_children, write_results
from moons_step import SEED, moons, scalar_step_times, torch_step_times

STEPS, WARMUP = 30, 3
BACKENDS = ("numpy", "torch", "python")
ENGINES = ("micrograd", "eager", *(f"compiled-{b}" for b in BACKENDS), "torch")
GRAPH_SIZES = (1_000, 10_000, 100_000, 1_000_000)
MAP_POINTS = 1_000_000


def compiled_step_times(backend: str) -> dict[str, float]:
    """Median seconds of a whole training step, and of the backend's kernel alone."""
    import numpy as np

    import nanograd
    from nanograd.losses import l2_penalty
    from nanograd.nn import MLP

    X, y = moons()
    points, labels = np.array(X, dtype=float), np.array(y, dtype=float)
    random.seed(SEED)
    model = MLP(2, [16, 16, 1])
    params = model.parameters()
    objective = nanograd.compile(
        lambda x, label: (1 + -label * model(x)).relu() + l2_penalty(params, 1e-4), backend=backend
    )
    steps = STEPS if backend != "python" else 6
    times = []
    for k in range(steps):
        start = time.perf_counter()
        total = objective.mean(points, labels)
        nanograd.zero_grad(params)  # what optimizer.zero_grad() does
        total.backpropagate()
        for p in params:
            p.data -= (1.0 - 0.9 * k / 100) * p.grad
        times.append(time.perf_counter() - start)
    compiled = objective._last
    columns = objective._columns((points, labels))
    kernel = []
    for _ in range(steps):
        start = time.perf_counter()
        objective._run(compiled, columns, [0])  # the gradients of output 0
        kernel.append(time.perf_counter() - start)
    return {"step_s": statistics.median(times[WARMUP:]), "kernel_s": statistics.median(kernel[WARMUP:])}


def scaling() -> list[dict[str, float]]:
    """Trace and run time of a chain of n nodes: v = tanh(v * w + c), w captured."""
    import numpy as np

    import nanograd
    from nanograd import Value

    rows = []
    batch = np.linspace(-1, 1, 16)
    for n in GRAPH_SIZES:
        w = Value(0.9)

        def chain(x: Value, n: int = n, w: Value = w) -> Value:
            v = x
            for _ in range(n // 4):
                v = (v * w + 0.01).tanh()
            return v

        f = nanograd.compile(chain)
        start = time.perf_counter()
        f.map(batch)
        first = time.perf_counter() - start
        start = time.perf_counter()
        f.map(batch)
        run = time.perf_counter() - start
        rows.append({"nodes": len(f.graph.nodes), "trace_s": first - run, "run_s": run})
    return rows


def map_memory() -> dict[str, float]:
    """Peak traced memory of map over MAP_POINTS points, beyond the input and output."""
    import numpy as np

    import nanograd
    from nanograd.nn import MLP

    random.seed(SEED)
    f = nanograd.compile(MLP(2, [16, 16, 1]))
    grid = np.random.default_rng(0).uniform(-2, 2, size=(MAP_POINTS, 2))
    f.map(grid[:10])
    tracemalloc.start()
    start = time.perf_counter()
    f.map(grid)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"peak_mb": peak / 2**20, "seconds": seconds, "inputs_mb": grid.nbytes / 2**20}


def measure(engine: str) -> dict:
    """One engine's numbers (runs in a child process)."""
    if engine == "micrograd":
        return {"step_s": statistics.median(scalar_step_times("micrograd"))}
    if engine == "eager":
        return {"step_s": statistics.median(scalar_step_times("nanograd"))}
    if engine == "torch":
        import torch

        torch.set_num_threads(1)
        return {"step_s": statistics.median(torch_step_times())}
    if engine == "scaling":
        return {"rows": scaling()}
    if engine == "memory":
        return map_memory()
    return compiled_step_times(engine.removeprefix("compiled-"))


def report(results: dict[str, dict]) -> str:
    mg, th = results["micrograd"]["step_s"], results["torch"]["step_s"]
    lines = [
        "| engine | step (ms) | kernel (ms) | micrograd / engine | PyTorch / engine |",
        "|---|---|---|---|---|",
    ]
    for engine in ENGINES:
        r = results[engine]
        kernel = f"{r['kernel_s'] * 1e3:.3f}" if "kernel_s" in r else "-"
        lines.append(
            f"| {engine} | {r['step_s'] * 1e3:.3f} | {kernel} | {mg / r['step_s']:.1f}x | {th / r['step_s']:.2f}x |"
        )
    lines += ["", "| graph nodes | trace (s) | run, 16 samples (s) | run per node (us) |", "|---|---|---|---|"]
    for row in results["scaling"]["rows"]:
        lines.append(
            f"| {row['nodes']:,} | {row['trace_s']:.3f} | {row['run_s']:.3f} "
            f"| {row['run_s'] / row['nodes'] * 1e6:.2f} |"
        )
    m = results["memory"]
    lines += [
        "",
        f"map of MLP(2, [16, 16, 1]) over {MAP_POINTS:,} points: {m['seconds']:.2f} s, peak memory "
        f"{m['peak_mb']:.0f} MiB (inputs {m['inputs_mb']:.0f} MiB)",
    ]
    return "\n".join(lines)


def main() -> None:
    results = in_children(__file__, (*ENGINES, "scaling", "memory"), measure)
    if results is not None:
        write_results("compile_step", report(results), results)


if __name__ == "__main__":
    main()
