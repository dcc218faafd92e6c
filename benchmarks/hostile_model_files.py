"""What a hostile model or graph file can cost ``MLP.load`` and ``Graph.from_json``: time and peak memory.

Run ``python benchmarks/hostile_model_files.py`` (a minute or two; Linux). It writes files at
the size limit (``nanograd.neural_net.MAX_FILE_BYTES`` and
``nanograd.compiler.graph.MAX_GRAPH_BYTES``, both 16 MiB) built to be as expensive as
possible for each stage of loading (the JSON parser, the architecture or node checks,
building the model or graph), plus model files that are not regular files, and loads each
in a fresh Python process. Each table shows the outcome, the wall time of the load and the
peak resident memory it added to the process; the largest valid model (graph) that fits
under the limit is the baseline any hostile file is compared with. The tables are printed
and written to ``benchmarks/results/hostile_model_files.{md,json}``.
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

from nanograd.compiler.graph import MAX_GRAPH_BYTES, MAX_GRAPH_NODES
from nanograd.neural_net import MAX_FILE_BYTES, MLP

LIMIT = MAX_FILE_BYTES - 4096  # room for the JSON around a flood
GRAPH_LIMIT = MAX_GRAPH_BYTES - 4096

# Peak memory is Linux's VmHWM (in kB): unlike getrusage's ru_maxrss, it does not start
# from the parent's peak (this script's, which has built the largest model). A graph's
# text is read before the measurement starts: Graph.from_json takes the text, not a path.
MEASURE = """
import re, sys, time
from pathlib import Path
from nanograd.compiler.graph import Graph
from nanograd.neural_net import MLP
def peak_kb():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\\s*(\\d+) kB", f.read())[1])
text = Path(sys.argv[1]).read_text(encoding="utf-8") if sys.argv[2] == "graph" else None
before = peak_kb()
start = time.perf_counter()
try:
    MLP.load(sys.argv[1]) if text is None else Graph.from_json(text)
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


def graph_document(nodes: str, args: str = "[null]") -> str:
    return f'{{"format": "nanograd.Graph", "version": 1, "args": {args}, "params": 0, "nodes": [{nodes}]}}'


def graph_chain(size: int = GRAPH_LIMIT, last_input: int | None = None) -> str:
    """A valid graph of about ``size`` bytes: one argument, then ``add`` nodes each adding the one before to itself."""
    node = '{{"op": "add", "inputs": [{0}, {0}]}}'
    n = min(size // (len(node) + 8), MAX_GRAPH_NODES - 1)  # about 8 digits per index pair
    nodes = ['{"arg": [0, 0]}', *(node.format(i) for i in range(n))]
    if last_input is not None:
        nodes[-1] = node.format(last_input)
    return graph_document(",".join(nodes))


GRAPH_HOSTILE: dict[str, Callable[[], str]] = {
    "largest valid graph (baseline)": graph_chain,
    "same, last input out of range": lambda: graph_chain(last_input=10**9),
    f"{MAX_GRAPH_NODES:,} const nodes (valid)": lambda: graph_document(",".join(['{"const":0.5}'] * MAX_GRAPH_NODES)),
    "const nodes over the node limit": lambda: graph_document(flood('{"const":0}', GRAPH_LIMIT)),
    "100,000 nested brackets": lambda: "[" * 100_000 + "]" * 100_000,
    "small objects flood": lambda: graph_document(flood("{}", GRAPH_LIMIT)),
    "args: 3M nulls": lambda: graph_document('{"arg": [0, 0]}', "[" + flood("null", GRAPH_LIMIT) + "]"),
    "top object: 1M distinct keys": lambda: numbered_keys("0"),
    "1M keys, last one repeated": lambda: numbered_keys("0")[:-1] + ',"k00000000":1}',
    "consts: 400-digit ints": lambda: graph_document(flood('{"const":' + "9" * 400 + "}", GRAPH_LIMIT)),
    "consts: 4,300-digit ints": lambda: graph_document(flood('{"const":' + "9" * 4300 + "}", GRAPH_LIMIT)),
    "one 16M-digit float": lambda: graph_document('{"const": 0.' + "1" * GRAPH_LIMIT + "}"),
    "a 16 MiB op name": lambda: graph_document('{"arg": [0, 0]}, {"op": "' + "x" * GRAPH_LIMIT + '", "inputs": [0]}'),
    "16 MiB of whitespace": lambda: " " * GRAPH_LIMIT + graph_chain(1000),
}


def run(path: Path, kind: str = "model") -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", MEASURE, str(path), kind]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        return f"crashed ({result.returncode}): {result.stderr.strip().splitlines()[-1]}"
    return result.stdout.strip()


def table(tmp: str, kind: str, cases: dict[str, Callable[[], str]], results: dict[str, str]) -> list[str]:
    """The rows of one table: each case written to a file in ``tmp`` and loaded in a fresh process."""
    rows = [f"| {kind} file | bytes | seconds | peak MB added | outcome |", "|---|---:|---:|---:|---|"]
    for name, make in cases.items():
        path = Path(tmp) / f"{kind}.json"
        path.write_text(make(), encoding="utf-8")
        results[f"{kind}: {name}"] = run(path, kind)
        seconds, mb, outcome = results[f"{kind}: {name}"].split(" ", 2)
        rows.append(f"| {name} | {path.stat().st_size:,} | {seconds} | {mb} | {outcome} |")
    return rows


def main() -> None:
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows = table(tmp, "model", HOSTILE, results)
        specials = {"FIFO": lambda p: os.mkfifo(p), "/dev/zero": lambda p: p.symlink_to("/dev/zero")}
        for name, make_special in specials.items():
            path = Path(tmp) / name.replace("/dev/", "")
            make_special(path)
            results[name] = run(path)
            seconds, mb, outcome = results[name].split(" ", 2)
            rows.append(f"| {name} | - | {seconds} | {mb} | {outcome} |")
        rows += ["", *table(tmp, "graph", GRAPH_HOSTILE, results)]
    write_results("hostile_model_files", "\n".join(rows), results)


if __name__ == "__main__":
    main()
