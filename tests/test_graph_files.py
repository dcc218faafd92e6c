"""Graph files as hostile input: ``Graph.from_json`` (nanograd/compiler/graph.py) refuses every
malformed text with a short ``ValueError``, at a cost that grows linearly with the text.

``tests/test_compiler.py`` checks the round trip and one message per field; this module
checks the limits and the texts built to be expensive (see also
``benchmarks/hostile_model_files.py``, which times them).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from typing import Any

import pytest
from conftest import raised_within

import nanograd
from nanograd import Value
from nanograd.compiler.graph import MAX_GRAPH_BYTES, MAX_GRAPH_NODES, MAX_MESSAGE_CHARS, Graph

#: The longest message from_json may give: its prefix, the cut message and the " ... " in it.
LONGEST_MESSAGE = len("Graph.from_json: ") + MAX_MESSAGE_CHARS + len(" ... ")


def small_graph() -> Graph:
    w = Value(0.5)
    f = nanograd.compile(lambda x, v: (w * x + v[1] ** 2).tanh(), backend="python")
    f(1.0, [2.0, 3.0])
    return f.graph


def document() -> dict[str, Any]:
    return json.loads(small_graph().to_json())  # type: ignore[no-any-return]


def refusal(text: str | bytes, **limits: int) -> str:
    """The message of the ValueError ``Graph.from_json(text)`` raises (the test fails on anything else)."""
    with pytest.raises(ValueError) as error:
        Graph.from_json(text, **limits)
    message = str(error.value)
    assert message.startswith("Graph.from_json: ") and len(message) <= LONGEST_MESSAGE
    return message


def with_node(node: object) -> str:
    d = document()
    d["nodes"].append(node)
    return json.dumps(d)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"format": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "{" + '"a": {' * 50_000 + "}" * 50_001,
    ],
    ids=["lists", "inside-a-field", "objects"],
)
def test_deep_nesting_is_a_value_error(text: str) -> None:
    assert "nested more deeply than a graph is" in refusal(text)


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"const": 10**400}, "node 7 'const' does not fit in a float, got 1000"),
        ({"const": -(10**400)}, "node 7 'const' does not fit in a float"),
        ({"op": "power", "inputs": [0], "param": 10**400}, "node 7 'param' does not fit in a float"),
        ({"op": "neg", "inputs": [10**400]}, "node 7 input must be an integer >= 0 below 7"),
        ({"param": 10**400}, "node 7 'param' must be an integer >= 0 below 1"),
    ],
    ids=["const", "negative-const", "power-exponent", "input-index", "param-slot"],
)
def test_400_digit_integers_are_value_errors(node: object, message: str) -> None:
    assert message in refusal(with_node(node))


def test_integers_longer_than_python_converts_are_value_errors() -> None:
    text = with_node({"const": 0}).replace('{"const": 0}', '{"const": ' + "9" * 5000 + "}")
    assert "digits" in refusal(text)


def test_the_byte_limit_and_its_parameter() -> None:
    text = small_graph().to_json()
    assert "more than the limit of 16,777,216 (max_bytes)" in refusal(" " * MAX_GRAPH_BYTES + text)
    assert f"{len(text):,} characters, more than the limit of {len(text) - 1:,}" in refusal(
        text, max_bytes=len(text) - 1
    )
    assert Graph.from_json(text, max_bytes=len(text)) == small_graph()
    assert f"{len(text):,} bytes" in refusal(text.encode(), max_bytes=len(text) - 1)
    big = " " * MAX_GRAPH_BYTES + text
    assert Graph.from_json(big, max_bytes=len(big)) == small_graph()  # raising the limit lets it in


def test_the_node_limit_and_its_parameter() -> None:
    d = document()
    d["nodes"][:0] = [{"const": 1.0}] * 3  # one container each, so the container count passes
    for node in d["nodes"]:
        if "inputs" in node:
            node["inputs"] = [i + 3 for i in node["inputs"]]
    text = json.dumps(d)
    n = len(d["nodes"])
    assert f"{n} nodes, more than the limit of {n - 1} (max_nodes)" in refusal(text, max_nodes=n - 1)
    assert len(Graph.from_json(text, max_nodes=n).nodes) == n
    assert MAX_GRAPH_NODES == 2**20


@pytest.mark.parametrize("count", [10**400, 10**9, MAX_GRAPH_NODES + 1], ids=["400-digits", "1e9", "limit+1"])
def test_a_huge_params_count_is_refused(count: int) -> None:
    # Running a graph allocates one slot per parameter: a few bytes of text must not cost gigabytes.
    d = document()
    d["params"] = count
    assert "'params' is " in refusal(json.dumps(d))
    assert "more than the limit of 1,048,576 (max_nodes)" in refusal(json.dumps(d))


def test_the_params_limit_follows_max_nodes() -> None:
    d = document()
    n = len(d["nodes"])
    d["params"] = n + 1
    assert f"'params' is {n + 1}, more than the limit of {n} (max_nodes)" in refusal(json.dumps(d), max_nodes=n)
    d["params"] = n
    assert Graph.from_json(json.dumps(d), max_nodes=n).n_params == n


@pytest.mark.parametrize("args", [[10**400], [10**9], [MAX_GRAPH_NODES, 1]], ids=["400-digits", "1e9", "sum"])
def test_huge_argument_lists_are_refused(args: list[int]) -> None:
    # One slot per argument element too (the small graph's nodes read args[0] and args[1][1]).
    d = document()
    d["args"] = [None, 2, *args]
    assert "elements, more than the limit of 1,048,576 (max_nodes)" in refusal(json.dumps(d))


@pytest.mark.parametrize("flood", ["{}", "[]", "[0]"])
def test_floods_of_small_containers_are_refused_before_parsing(flood: str) -> None:
    d = document()
    text = json.dumps(d).replace('"nodes": [', '"nodes": [' + ",".join([flood] * 100) + ",")
    message = refusal(text, max_nodes=20)
    assert "JSON objects and arrays, more than a graph of 20 nodes has" in message


def test_the_duplicate_key_check_takes_linear_time() -> None:
    # 300,000 keys: a check that compares every key with every other one would run for hours.
    keys = ",".join(f'"k{i}": 0' for i in range(300_000))
    text = '{"format": "nanograd.Graph", ' + keys + ', "k299999": 1}'
    error = raised_within(60, lambda: Graph.from_json(text))
    assert isinstance(error, ValueError) and str(error) == "Graph.from_json: duplicate key 'k299999'"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["nodes"][-1].update(op="x" * 2**20),
        lambda d: d.update(format="x" * 2**20),
        lambda d: d.update({"x" * 2**20: 1}),
        lambda d: d.update(args=[0] * 100_000),
        lambda d: d["nodes"].append({"const": "x" * 2**20}),
        lambda d: d["nodes"].append({"arg": [0] * 100_000}),
        lambda d: d["nodes"][-1].update(inputs=[10**300]),
        lambda d: d["nodes"].append(["x" * 2**20]),
    ],
    ids=["op-name", "format", "key", "args", "const", "arg-slot", "input", "node"],
)
def test_messages_are_cut_to_a_readable_length(change: Any) -> None:
    d = document()
    change(d)
    refusal(json.dumps(d))  # checks the length


def test_an_unknown_op_with_a_long_name_still_lists_the_known_ops() -> None:
    message = refusal(with_node({"op": "x" * 2**20, "inputs": [0]}))
    assert message.startswith("Graph.from_json: node 7: unknown op 'xxx") and "sin, sqrt, sub, tanh, power)" in message


def test_bytes_are_read_as_utf8() -> None:
    assert Graph.from_json(small_graph().to_json().encode()) == small_graph()
    assert "'utf-8' codec can't decode byte 0xff" in refusal(b'{"format": "\xff"}')
    with pytest.raises(TypeError, match="expected a str or bytes, got NoneType"):
        Graph.from_json(None)  # type: ignore[arg-type]


# -- random damage -------------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("NANOGRAD_FUZZ_EXAMPLES", "300"))
JUNK: list[object] = [None, True, False, 0, -1, 1, 2, 7, 10**400, 0.5, -0.0, 1e308, "", "add", "power", "x" * 200]


def junk(rng: random.Random, depth: int = 0) -> object:
    """A random JSON value: a scalar from JUNK, or a small list or object of them."""
    kind = rng.randrange(4 if depth < 3 else 2)
    if kind < 2:
        return rng.choice(JUNK)
    items = [junk(rng, depth + 1) for _ in range(rng.randrange(3))]
    return items if kind == 2 else {rng.choice(["op", "inputs", "param", "arg", "const", "x"]): v for v in items}


def damage(d: Any, rng: random.Random) -> None:
    """Replace, delete or add one entry somewhere in the JSON document ``d`` (in place)."""
    while True:
        keys = list(d) if isinstance(d, dict) else list(range(len(d)))
        if not keys:
            return
        key = rng.choice(keys)
        inner = d[key]
        if isinstance(inner, (dict, list)) and inner and rng.random() < 0.7:
            d = inner
            continue
        action = rng.randrange(3)
        if action == 0:
            d[key] = junk(rng)
        elif action == 1:
            del d[key]
        elif isinstance(d, dict):
            d[rng.choice(["op", "inputs", "param", "arg", "const", "extra"])] = junk(rng)
        else:
            d.insert(key, junk(rng))
        return


def test_randomly_damaged_graphs_load_or_raise_value_error() -> None:
    seed = int(os.environ.get("NANOGRAD_FUZZ_SEED", "0"))
    rng = random.Random(seed)
    seen: Counter[str] = Counter()
    for _ in range(EXAMPLES):
        d = document()
        for _ in range(rng.randrange(1, 4)):
            damage(d, rng)
        try:
            Graph.from_json(json.dumps(d))
            seen["loaded"] += 1
        except ValueError as e:
            assert str(e).startswith("Graph.from_json: ") and len(str(e)) <= LONGEST_MESSAGE
            seen["refused"] += 1
    print(dict(seen))
    assert sum(seen.values()) == EXAMPLES
    assert seen["refused"] > EXAMPLES // 2 and seen["loaded"] > 0  # most damage is caught; some is harmless
