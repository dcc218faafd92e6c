"""What ``nanograd.compile`` buys on training steps, against PyTorch and JAX, and how it scales.

Run ``python benchmarks/compile_step.py`` (a few minutes). Each measurement runs in its own
process, one thread each (``OPENBLAS_NUM_THREADS=1``, ``torch.set_num_threads(1)``, XLA's
CPU client on one thread), float64 everywhere, from the same data and initial weights.

Workloads:

* ``demo``    -- the seed's demo step: 100 moons points, MLP 2-16-16-1, hinge loss + L2
  penalty 1e-4, SGD with micrograd's decaying rate
* ``large``   -- the same at scale: 10,000 points, MLP 2-64-64-1
* ``softmax`` -- a 3-class classifier: 10,000 points, MLP 2-64-64-3, softmax cross-entropy, SGD

Engines:

* ``micrograd``, ``nanograd eager`` -- one scalar graph per sample per step (demo only)
* ``compiled <backend> loop`` -- ``loss = f.mean(X, y)``, ``backpropagate()``, ``optimizer.step()``:
  the plain loop, with a Value per parameter (demo only)
* ``compiled <backend> train_step`` -- ``step = f.train_step(optimizer)``; ``step(X, y)``: the
  loss, its gradient and the update on arrays, the numbers written back into the Values
* ``PyTorch`` -- the model as batched tensors, ``backward()`` and ``torch.optim.SGD``
* ``JAX`` -- ``jax.jit`` of ``value_and_grad`` plus the SGD update, parameters as a pytree

Then: trace time and run time of graphs of 1e3 to 1e6 nodes (both linear), and the peak
memory of ``map`` over 1,000,000 points of the demo model. Results are printed and written
to ``benchmarks/results/compile_step.md``.
"""

from __future__ import annotations

import os

# One thread for every library, set before any of them is imported (children inherit it).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import random
import statistics
import time
import tracemalloc
from typing import Any

from _common import clock, in_children, write_results
from moons_step import SEED, moons, scalar_step_times

STEPS, WARMUP = 30, 3
#: workload -> (points, hidden sizes, classes); classes 1 is the hinge loss on labels -1/+1.
WORKLOADS = {"demo": (100, [16, 16], 1), "large": (10_000, [64, 64], 1), "softmax": (10_000, [64, 64], 3)}
#: The engines timed at scale too (the others only on the demo: they take seconds a step there).
SCALED = ("compiled-numpy-train_step", "compiled-torch-train_step", "torch", "jax")
ENGINES = {
    "micrograd": "micrograd 0.1.0",
    "eager": "nanograd eager",
    "compiled-numpy-loop": "compiled numpy, plain loop",
    "compiled-torch-loop": "compiled torch, plain loop",
    "compiled-numpy-train_step": "compiled numpy, train_step",
    "compiled-torch-train_step": "compiled torch, train_step",
    "torch": "PyTorch",
    "jax": "JAX jit",
}
GRAPH_SIZES = (1_000, 10_000, 100_000, 1_000_000)
MAP_POINTS = 1_000_000
L2 = 1e-4


def data(workload: str) -> tuple[Any, Any]:
    """The workload's points (N, 2) and labels: -1/+1 for the hinge loss, 0/1/2 for softmax."""
    import numpy as np

    points, _, classes = WORKLOADS[workload]
    if workload == "demo":
        X, y = moons()
        return np.array(X, dtype=float), np.array(y, dtype=float)
    rng = np.random.default_rng(SEED)
    label = rng.integers(0, max(classes, 2), size=points)
    radius = rng.uniform(0.1, 1.0, size=points)
    angle = label * 2 * np.pi / max(classes, 2) + radius * 3 + rng.normal(0, 0.2, size=points)
    X = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return X, (label.astype(float) if classes > 1 else label * 2.0 - 1.0)


def initial_model(workload: str) -> Any:
    """nanograd's MLP for the workload, seeded: every engine starts from its weights."""
    from nanograd.nn import MLP

    _, hidden, classes = WORKLOADS[workload]
    random.seed(SEED)
    return MLP(2, [*hidden, classes])


def initial_arrays(workload: str) -> list[tuple[Any, Any]]:
    """The initial weights as (W, b) float64 numpy pairs, layer by layer."""
    import numpy as np

    model = initial_model(workload)
    return [
        (np.array([[w.data for w in n.w] for n in layer.neurons]), np.array([n.b.data for n in layer.neurons]))
        for layer in model.layers
    ]


def learning_rate(k: int) -> float:
    return 1.0 - 0.9 * k / 100  # micrograd's demo


def timed(step: Any, steps: int = STEPS) -> float:
    """Median CPU seconds of ``step(k)`` after WARMUP steps."""
    times = []
    for k in range(WARMUP + steps):
        start = clock()
        step(k)
        times.append(clock() - start)
    return statistics.median(times[WARMUP:])


def compiled_step(workload: str, backend: str, how: str) -> dict[str, float]:
    """nanograd.compile: the plain loop or train_step; also the final loss."""
    import nanograd
    from nanograd.losses import cross_entropy, l2_penalty
    from nanograd.optim import SGD, linear_decay

    X, y = data(workload)
    model = initial_model(workload)
    params = model.parameters()
    if WORKLOADS[workload][2] == 1:

        def objective(x: Any, label: Any) -> Any:
            return (1 + -label * model.scalar(x)).relu() + l2_penalty(params, L2)

    else:

        def objective(x: Any, label: Any) -> Any:
            return cross_entropy([model.outputs(x)], [label])

    f = nanograd.compile(objective, backend=backend)
    optimizer = SGD(params, lr=1.0, lr_schedule=linear_decay(100))
    losses: list[float] = []
    if how == "train_step":
        train = f.train_step(optimizer)

        def step(k: int) -> None:
            losses.append(train(X, y))

    else:

        def step(k: int) -> None:
            total = f.mean(X, y)
            optimizer.zero_grad()
            total.backpropagate()
            optimizer.step()
            losses.append(total.data)

    return {"step_s": timed(step), "loss": losses[-1]}


def torch_step(workload: str) -> dict[str, float]:
    import torch

    torch.set_num_threads(1)
    X, y = (torch.tensor(a, dtype=torch.float64) for a in data(workload))
    classes = WORKLOADS[workload][2]
    layers = [
        (torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in initial_arrays(workload)
    ]
    params = [p for layer in layers for p in layer]
    optimizer = torch.optim.SGD(params, lr=1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate)
    losses: list[float] = []

    def step(k: int) -> None:
        h = X
        for i, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if i < len(layers) - 1:
                h = torch.relu(h)
        if classes == 1:
            loss = torch.relu(1 - y * h[:, 0]).mean() + L2 * sum((p * p).sum() for p in params)
        else:
            loss = torch.nn.functional.cross_entropy(h, y.long())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())

    return {"step_s": timed(step), "loss": losses[-1]}


def jax_step(workload: str) -> dict[str, float]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    X, y = (jnp.asarray(a) for a in data(workload))
    classes = WORKLOADS[workload][2]
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in initial_arrays(workload)]

    def loss_fn(params: Any) -> Any:
        h = X
        for i, (W, b) in enumerate(params):
            h = h @ W.T + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        if classes == 1:
            penalty = sum((W * W).sum() + (b * b).sum() for W, b in params)
            return jax.nn.relu(1 - y * h[:, 0]).mean() + L2 * penalty
        log_probs = jax.nn.log_softmax(h)
        return -jnp.take_along_axis(log_probs, y.astype(int)[:, None], axis=1).mean()

    @jax.jit
    def update(params: Any, lr: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params)
        return loss, jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    losses: list[float] = []
    state = {"params": params}

    def step(k: int) -> None:
        loss, state["params"] = update(state["params"], learning_rate(k))
        losses.append(float(loss))  # waits for the result, as .item() does in torch

    return {"step_s": timed(step), "loss": losses[-1]}


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


def measure(key: str) -> dict:
    """One measurement (runs in a child process): ``workload/engine``, ``scaling`` or ``memory``."""
    if key == "scaling":
        return {"rows": scaling()}
    if key == "memory":
        return map_memory()
    workload, engine = key.split("/")
    if engine in ("micrograd", "eager"):
        return {"step_s": statistics.median(scalar_step_times("micrograd" if engine == "micrograd" else "nanograd"))}
    if engine == "torch":
        return torch_step(workload)
    if engine == "jax":
        return jax_step(workload)
    _, backend, how = engine.split("-")
    return compiled_step(workload, backend, how)


def keys() -> list[str]:
    return [f"{w}/{e}" for w in WORKLOADS for e in ENGINES if w == "demo" or e in SCALED]


def report(results: dict[str, dict]) -> str:
    lines = [
        "| workload | engine | step (ms) | PyTorch / engine | JAX / engine | loss after the steps |",
        "|---|---|---|---|---|---|",
    ]
    for key in keys():
        workload, engine = key.split("/")
        r, torch_s, jax_s = results[key], results[f"{workload}/torch"]["step_s"], results[f"{workload}/jax"]["step_s"]
        loss = f"{r['loss']:.6f}" if "loss" in r else "-"
        lines.append(
            f"| {workload} | {ENGINES[engine]} | {r['step_s'] * 1e3:.3f} | {torch_s / r['step_s']:.2f}x "
            f"| {jax_s / r['step_s']:.2f}x | {loss} |"
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
    results = in_children(__file__, (*keys(), "scaling", "memory"), measure)
    if results is not None:
        write_results("compile_step", report(results), results)


if __name__ == "__main__":
    main()
