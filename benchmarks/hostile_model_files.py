"""What a hostile model file can cost ``MLP.load``: time and peak memory, one file per process.

Run ``python benchmarks/hostile_model_files.py`` (about a minute; Linux). It writes files at the
size limit (``nanograd.neural_net.MAX_FILE_BYTES``, 16 MiB) built to be as expensive as
possible for each stage of loading (the JSON parser, the architecture check, building the
model), plus files that are not regular files, and loads each in a fresh Python process.
The table shows the outcome, the wall time of ``MLP.load`` and the peak resident memory it
added to the process; the largest valid model that fits under the limit is the baseline
any hostile file is compared with. It is printed and written to
``benchmarks/results/hostile_model_files.{md,json}``.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, write_results

from nanograd.neural_net import MAX_FILE_BYTES, MLP

LIMIT = MAX_FILE_BYTES - 4096  # room for the JSON around a flood

# Peak memory is Linux's VmHWM (in kB): unlike getrusage's ru_maxrss, it does not start
# from the parent's peak (this script's, which has built the largest model).
MEASURE = """
import re, sys, time
from nanograd.neural_net import MLP
def peak_kb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\\s*(\\d+) kB", f.read())[1])
before = peak_kb()
start = time.perf_counter()
try:
    MLP.load(sys.argv[1])
    outcome = "loaded"
except (ValueError, OSError) as e:
    outcome = type(e).__name__ + ": " + str(e).split(": ", 1)[1][:60]
seconds = time.perf_counter() - start
added = peak_kb() - before
print(f"{seconds:.3f} {added / 1024:.0f} {outcome}")
"""


def document(architecture: str, parameters: str) -> str:
    return f'{{"format": "nanograd.MLP", "version": 1, "architecture": {architecture}, "parameters": {parameters}}}'


def architecture(nin: int = 2, nouts: str = "1") -> str:
    """An architecture object whose ``nouts`` list holds the JSON text ``nouts``."""
    return f'{{"nin": {nin}, "nouts": [{nouts}], "activation": "relu", "output_activation": "linear"}}'


def flood(item: str, size: int = LIMIT) -> str:
    """``item`` repeated (comma-separated) to about ``size`` characters."""
    return ",".join([item] * (size // (len(item) + 1)))


def numbered_keys(value: str) -> str:
    """An object of distinct short keys, to about the size limit."""
    n = LIMIT // (len(value) + 14)  # '"k00000000":' + value + ','
    return "{" + ",".join(f'"k{i:08d}":{value}' for i in range(n)) + "}"


@functools.cache
def largest_valid_model() -> str:
    """The file ``save`` writes for MLP(2, [h, h, 1]) with the largest h (in steps of 10) under the limit."""
    best = ""
    for h in itertools.count(400, 10):
        model = MLP(2, [h, h, 1], init="xavier")
        text = json.dumps(
            {
                "format": "nanograd.MLP",
                "version": 1,
                "architecture": model.architecture(),
                "parameters": model.state_dict(),
            },
            indent=1,
        )
        if len(text) > LIMIT:
            return best
        best = text
    raise AssertionError("unreachable")


HOSTILE: dict[str, Callable[[], str]] = {
    "largest valid model (baseline)": largest_valid_model,
    "same, one parameter short": lambda: largest_valid_model().replace('"layers.0.neurons.0.b"', '"x"', 1),
    "architecture 10**9 x 10**9": lambda: document(architecture(2, f"{10**9}, {10**9}, 1"), "{}"),
    "100,000 nested brackets": lambda: "[" * 100_000 + "]" * 100_000,
    "small objects flood": lambda: "[" + flood("{}") + "]",
    "nouts: 8M ones": lambda: document(architecture(2, flood("1")), "{}"),
    "nouts: 4M floats": lambda: document(architecture(2, flood("0.5")), "{}"),
    "nouts: 3M strings": lambda: document(architecture(2, flood('"ab"')), "{}"),
    "parameters: 1M distinct keys": lambda: document(architecture(), numbered_keys("0")),
    "parameters: 4,300-digit ints": lambda: document(architecture(), numbered_keys("9" * 4300)),
    "largest model, last parameter 1e999": lambda: re.sub(
        r'("layers\.2\.neurons\.0\.b": )[^\n]*', r"\g<1>1e999", largest_valid_model()
    ),
    "one 16M-digit float": lambda: document(architecture(), '{"a": 0.' + "1" * LIMIT + "}"),
    "16 MiB of whitespace": lambda: " " * LIMIT + document(architecture(), "{}"),
    "16 MiB of non-ASCII text": lambda: document(architecture(), '{"' + "\u4e00" * (LIMIT // 3) + '": 0}'),
}


def run(path: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, env=env)
    if result.returncode:
        return f"crashed ({result.returncode}): {result.stderr.strip().splitlines()[-1]}"
    return result.stdout.strip()


def main() -> None:
    rows = ["| file | bytes | seconds | peak MB added | outcome |", "|---|---:|---:|---:|---|"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in HOSTILE.items():
            path = Path(tmp) / "model.json"
            path.write_text(make(), encoding="utf-8")
            results[name] = run(path)
            seconds, mb, outcome = results[name].split(" ", 2)
            rows.append(f"| {name} | {path.stat().st_size:,} | {seconds} | {mb} | {outcome} |")
        specials = {"FIFO": lambda p: os.mkfifo(p), "/dev/zero": lambda p: p.symlink_to("/dev/zero")}
        for name, make_special in specials.items():
            path = Path(tmp) / name.replace("/dev/", "")
            make_special(path)
            results[name] = run(path)
            seconds, mb, outcome = results[name].split(" ", 2)
            rows.append(f"| {name} | - | {seconds} | {mb} | {outcome} |")
    write_results("hostile_model_files", "\n".join(rows), results)


if __name__ == "__main__":
    main()
