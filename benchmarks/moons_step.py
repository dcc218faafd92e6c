"""Compare one step of micrograd's moons demo, and memory per graph node, across engines.

Run ``python benchmarks/moons_step.py``. Each engine runs in its own process (so one
engine's heap does not slow another's garbage collector) on identical data and
identical initial weights:

* ``micrograd``  -- micrograd 0.1.0 from PyPI, its own ``MLP`` and ``Value``
* ``nanograd``   -- nanograd's eager ``Value`` and ``nanograd.nn.MLP``
* ``torch``      -- the same model as float64 tensors, batched (for reference)

Workload 1 is micrograd's demo step: 100 moons points, MLP 2-16-16-1, hinge loss +
1e-4 L2, backprop, SGD. Workload 2 is the memory one graph node takes
(tracemalloc, over a 100,000-node expression). Results are printed and written to
``benchmarks/results/moons_step.md``.
"""

from __future__ import annotations

import random
import statistics
import time
import tracemalloc

from _common import in_children, write_results

SAMPLES, STEPS, WARMUP, SEED = 100, 12, 2, 1337
MEMORY_NODES = 100_000
ENGINES = ("micrograd", "nanograd", "torch")


def moons() -> tuple[list[list[float]], list[int]]:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=SAMPLES, noise=0.1, random_state=SEED)
    return X.tolist(), (y * 2 - 1).tolist()


def scalar_engine(name: str):
    """(Value class, MLP class) of a scalar engine."""
    if name == "micrograd":
        from micrograd.engine import Value
        from micrograd.nn import MLP
    else:
        from nanograd import Value
        from nanograd.nn import MLP
    return Value, MLP


def scalar_step_times(name: str) -> list[float]:
    """Seconds per training step, written exactly as micrograd's demo.ipynb does."""
    Value, MLP = scalar_engine(name)
    X, y = moons()
    random.seed(SEED)
    model = MLP(2, [16, 16, 1])
    times = []
    for k in range(STEPS):
        start = time.perf_counter()
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        del inputs, scores, losses, data_loss, reg_loss, total_loss
        times.append(time.perf_counter() - start)
    return times[WARMUP:]


def torch_step_times() -> list[float]:
    """The same step as batched float64 torch tensors, starting from micrograd's weights."""
    import torch

    _, MLP = scalar_engine("nanograd")
    X, y = moons()
    random.seed(SEED)
    ref = MLP(2, [16, 16, 1])
    params = []
    for layer in ref.layers:
        w = torch.tensor([[p.data for p in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.zeros(len(layer.neurons), dtype=torch.float64)
        params += [w.requires_grad_(), b.requires_grad_()]
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    times = []
    for k in range(STEPS):
        start = time.perf_counter()
        h = Xt
        for i in range(0, len(params), 2):
            h = h @ params[i].T + params[i + 1]
            if i < len(params) - 2:
                h = torch.relu(h)
        losses = torch.relu(1 - yt * h[:, 0])
        total_loss = losses.mean() + 1e-4 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        total_loss.backward()
        with torch.no_grad():
            for p in params:
                p -= (1.0 - 0.9 * k / 100) * p.grad
        times.append(time.perf_counter() - start)
    return times[WARMUP:]


def bytes_per_node(name: str) -> float:
    """Memory per node of a graph of MEMORY_NODES multiply/add nodes (before backprop)."""
    Value, _ = scalar_engine(name)
    w, c = Value(0.999), Value(0.5)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    v = Value(1.0)
    for i in range(MEMORY_NODES):
        v = v * w if i % 2 else v + c
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / MEMORY_NODES


def measure(engine: str) -> dict:
    """Run every workload for one engine (called in a child process)."""
    if engine == "torch":
        return {"step_s": statistics.median(torch_step_times())}
    return {"step_s": statistics.median(scalar_step_times(engine)), "node_bytes": bytes_per_node(engine)}


def report(results: dict[str, dict]) -> str:
    mg, ng, th = results["micrograd"], results["nanograd"], results["torch"]
    rows = [
        "| workload | micrograd 0.1.0 | nanograd | PyTorch (batched, float64) | micrograd / nanograd |",
        "|---|---|---|---|---|",
        f"| moons demo step (ms, median of {STEPS - WARMUP}) | {mg['step_s'] * 1e3:.1f} | "
        f"{ng['step_s'] * 1e3:.1f} | {th['step_s'] * 1e3:.2f} | {mg['step_s'] / ng['step_s']:.1f}x faster |",
        f"| memory per graph node (bytes) | {mg['node_bytes']:.0f} | {ng['node_bytes']:.0f} | - | "
        f"{mg['node_bytes'] / ng['node_bytes']:.1f}x smaller |",
    ]
    return "\n".join(rows)


def main() -> None:
    results = in_children(__file__, ENGINES, measure)
    if results is not None:
        write_results("moons_step", report(results), results)


if __name__ == "__main__":
    main()
