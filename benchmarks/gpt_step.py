"""Time training of the character GPT in ``examples/gpt.py``: one step on three scalar engines, then words per second.

Run ``python benchmarks/gpt_step.py`` (a few minutes). The model (embedding dimension
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
of STEPS steps after WARMUP.

The second table is words per second of the example's ``train``: eager (one word per
step), and through ``nanograd.compile`` with batches of 1 and of 32 words of one length.
A compiled run traces the loss once per word length, on first meeting it; its first epoch
(the 360 names once) is timed from the first step, tracing included, its second epoch has
every trace made. Eager has nothing to trace: it is timed over EAGER_WORDS words. numpy
runs on one thread (``OPENBLAS_NUM_THREADS=1``), so CPU time is the time a user waits.
Results are printed and written to ``benchmarks/results/gpt_step.{md,json}``.
"""

from __future__ import annotations

import os

# One thread for numpy, set before it is imported (children inherit it).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import random
import statistics

from _common import clock, in_children, step_times, value_class, write_results

from examples import gpt

STEPS, WARMUP, SEED = 30, 3, 1337
ENGINES = {"microgpt-style": "microgpt-style Value", "nanograd": "nanograd", "micrograd": "micrograd 0.1.0"}
COLLECTOR = {"on": True, "off": False}
NEEDED = ("exp", "log", "relu")  # the Value methods the model calls
#: training -> (compiled, words per batch)
TRAINING = {"eager": (False, 1), "compiled-1": (True, 1), "compiled-32": (True, 32)}
TRAINING_TITLES = {"eager": "eager", "compiled-1": "compiled, batch 1", "compiled-32": "compiled, batch 32"}
EAGER_WORDS = 100


def measure(key: str) -> dict:
    """One measurement: ``engine/collector`` (a step's time) or ``words/training`` (words per second)."""
    kind, which = key.split("/")
    return words_per_second(which) if kind == "words" else step_time(kind, which)


def step_time(engine: str, collector: str) -> dict:
    """Train for WARMUP + STEPS steps on ``engine``, the collector on or off; the step times and the last loss."""
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
        losses.append(gpt.train_step(model, optimizer, [tokenizer.encode(words[k])]))

    times = step_times(step, STEPS, WARMUP, collector=COLLECTOR[collector])
    return {"step_s": statistics.median(times), "mean_s": statistics.fmean(times), "last_loss": losses[-1]}


def words_per_second(training: str) -> dict:
    """The example's ``train`` from fresh weights: words per second of its first and second epoch.

    ``step_s`` is the seconds per word of the first epoch (the key the rounds' median is taken by).
    """
    compiled, batch = TRAINING[training]
    words = gpt.load_words()
    tokenizer = gpt.Tokenizer(words)
    model = gpt.GPT(tokenizer.vocab_size, seed=SEED)
    per_epoch = len(gpt.batches(words, batch, SEED))  # steps: train cycles through these batches
    steps = 2 * per_epoch if compiled else EAGER_WORDS
    ends: list[float] = []  # the clock after each step
    start = clock()
    gpt.train(
        model,
        tokenizer,
        words,
        steps,
        seed=SEED,
        on_step=lambda k, loss: ends.append(clock()),
        compiled=compiled,
        batch=batch,
    )
    if not compiled:
        rate = steps / (ends[-1] - start)
        return {"step_s": 1 / rate, "first_epoch": rate, "second_epoch": rate, "words": steps}
    first, second = ends[per_epoch - 1] - start, ends[-1] - ends[per_epoch - 1]
    return {
        "step_s": first / len(words),
        "first_epoch": len(words) / first,
        "second_epoch": len(words) / second,
        "steps": steps,
        "words": 2 * len(words),
    }


def step_report(results: dict[str, dict]) -> str:
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


def words_report(results: dict[str, dict]) -> str:
    eager = results["words/eager"]["first_epoch"]
    rows = [
        "| training | words/s, epoch 1 (tracing included) | words/s, epoch 2 | vs eager, epoch 1 | vs eager, epoch 2 |",
        "|---|---|---|---|---|",
    ]
    for training, title in TRAINING_TITLES.items():
        r = results[f"words/{training}"]
        rows.append(
            f"| {title} | {r['first_epoch']:.1f} | {r['second_epoch']:.1f} "
            f"| {r['first_epoch'] / eager:.1f}x | {r['second_epoch'] / eager:.1f}x |"
        )
    return "\n".join(rows) + (
        f"\n\nThe example's train from fresh weights; an epoch is the {len(gpt.load_words())} names once. "
        f"Eager has one rate, over {EAGER_WORDS} words. A compiled batch holds words of one length."
    )


def main() -> None:
    keys = [f"{engine}/{collector}" for engine in ENGINES for collector in COLLECTOR]
    keys += [f"words/{training}" for training in TRAINING]
    results = in_children(__file__, keys, measure)
    if results is not None:
        write_results("gpt_step", step_report(results) + "\n\n" + words_report(results), results)


if __name__ == "__main__":
    main()
