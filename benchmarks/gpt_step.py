"""Time one training step of the character GPT in ``examples/gpt.py`` on three scalar engines.

Run ``python benchmarks/gpt_step.py`` (about a minute). The model (embedding dimension
16, 4 heads, 1 layer, context 16, RMSNorm, ReLU MLP, softmax cross-entropy) is the
example's own code, with its parameters built as each engine's Value:

* ``microgpt-style`` -- the minimal four-slot Value of karpathy's microgpt, local
  gradients stored in the forward pass (``MicroValue`` in ``benchmarks/_common.py``)
* ``nanograd``       -- nanograd's eager ``Value``, used exactly as microgpt uses its own
* ``micrograd``      -- micrograd 0.1.0; its Value has no ``exp`` and no ``log``, which
  softmax and cross-entropy need, so the table says so and skips it

A step is one word: the loss, backpropagation and an Adam update (the example's
``train_step``), on the same words from the same initial weights for every engine.
Each engine runs in its own process twice: with Python's cycle collector on (as users
run it) and off (``gc.disable()``). The time is the median CPU time (``_common.clock``)
of STEPS steps after WARMUP. Results are printed and written to ``benchmarks/results/gpt_step.{md,json}``.
"""

from __future__ import annotations

import random
import statistics

from _common import in_children, step_times, value_class, write_results

from examples import gpt

STEPS, WARMUP, SEED = 30, 3, 1337
ENGINES = {"microgpt-style": "microgpt-style Value", "nanograd": "nanograd", "micrograd": "micrograd 0.1.0"}
COLLECTOR = {"on": True, "off": False}
NEEDED = ("exp", "log", "relu")  # the Value methods the model calls


def measure(key: str) -> dict:
    """Train the GPT for WARMUP + STEPS steps on engine/collector ``key``; the step times and last loss."""
    engine, collector = key.split("/")
    value = value_class(engine)
    missing = [name for name in NEEDED if not hasattr(value, name)]
    if missing:
        return {"skipped": f"its Value has no {' and no '.join(missing)}"}
    words = gpt.load_words()
    random.Random(SEED).shuffle(words)
    tokenizer = gpt.Tokenizer(words)
    model = gpt.GPT(tokenizer.vocab_size, seed=SEED, value=value)
    optimizer = gpt.make_optimizer(model, WARMUP + STEPS)
    losses: list[float] = []

    def step(k: int) -> None:
        losses.append(gpt.train_step(model, optimizer, tokenizer.encode(words[k])))

    times = step_times(step, STEPS, WARMUP, collector=COLLECTOR[collector])
    return {"step_s": statistics.median(times), "mean_s": statistics.fmean(times), "last_loss": losses[-1]}


def report(results: dict[str, dict]) -> str:
    rows = [
        f"| engine | step, cycle collector on (ms) | step, collector off (ms) | loss at step {WARMUP + STEPS} |",
        "|---|---|---|---|",
    ]
    for engine, title in ENGINES.items():
        on, off = results[f"{engine}/on"], results[f"{engine}/off"]
        if "skipped" in on:
            rows.append(f"| {title} | skipped: {on['skipped']} | - | - |")
        else:
            rows.append(f"| {title} | {on['step_s'] * 1e3:.1f} | {off['step_s'] * 1e3:.1f} | {on['last_loss']:.6f} |")
    ratios = [results[f"microgpt-style/{c}"]["step_s"] / results[f"nanograd/{c}"]["step_s"] for c in COLLECTOR]
    rows.append(f"| microgpt-style / nanograd | {ratios[0]:.2f}x | {ratios[1]:.2f}x | - |")
    return "\n".join(rows) + f"\n\nOne word per step; median of {STEPS} steps after {WARMUP} warmup steps."


def main() -> None:
    keys = [f"{engine}/{collector}" for engine in ENGINES for collector in COLLECTOR]
    results = in_children(__file__, keys, measure)
    if results is not None:
        write_results("gpt_step", report(results), results)


if __name__ == "__main__":
    main()
