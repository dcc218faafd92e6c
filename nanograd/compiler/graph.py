"""The traced graph as plain data: :class:`Node`, :class:`Graph`, and their JSON form.

A :class:`Graph` is what :func:`nanograd.compile` records when it traces a function:
a list of nodes in topological order (every node after its inputs, the output last).
A node is one of

* ``arg``   -- element ``slot = (argument, element)`` of the function's arguments,
* ``param`` -- captured parameter number ``slot = (index,)`` (read afresh at every call),
* ``const`` -- a number fixed when tracing (``value``),
* an op of the table (``op`` is its name, ``inputs`` the indices of earlier nodes,
  ``param`` the constant exponent of ``power``).

The JSON form holds only names, integers and finite numbers; :meth:`Graph.from_json`
checks every field and never executes anything from the file. A graph file is hostile
input like a model file: it is refused above :data:`MAX_GRAPH_BYTES` or
:data:`MAX_GRAPH_NODES`, every check takes time linear in its size, and every malformed
file raises a ``ValueError`` of readable length.
"""

from __future__ import annotations

import json
import math
import reprlib
from dataclasses import dataclass
from typing import Any

from ..ops import lookup

#: The kinds of nodes that are not ops.
LEAF_KINDS = ("arg", "param", "const")

#: The ``format`` entry of a saved graph, and its version.
FILE_FORMAT = "nanograd.Graph"
FILE_VERSION = 1

#: ``Graph.from_json`` refuses longer texts (its ``max_bytes`` argument) before parsing them.
#: An op node takes about 30 bytes, so 16 MiB hold about half a million of them.
MAX_GRAPH_BYTES = 16 * 2**20
#: ``Graph.from_json`` refuses graphs of more nodes (its ``max_nodes`` argument).
MAX_GRAPH_NODES = 2**20
#: Error messages of ``Graph.from_json`` are cut (in the middle) to this many characters.
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class Node:
    """One node of a :class:`Graph` (see the module docstring for the four kinds)."""

    op: str
    inputs: tuple[int, ...] = ()
    param: float | None = None
    value: float | None = None
    slot: tuple[int, ...] = ()


@dataclass(frozen=True)
class Graph:
    """A traced scalar function: ``args`` (None for a scalar argument, k for a list of k
    Values), the number of captured parameters, and the nodes in topological order."""

    args: tuple[int | None, ...]
    n_params: int
    nodes: tuple[Node, ...]

    @property
    def output(self) -> int:
        """Index of the output node (the last one)."""
        return len(self.nodes) - 1

    def to_json(self) -> str:
        """The graph as a JSON string (see :meth:`from_json`)."""
        return json.dumps(
            {
                "format": FILE_FORMAT,
                "version": FILE_VERSION,
                "args": list(self.args),
                "params": self.n_params,
                "nodes": [_node_to_dict(n) for n in self.nodes],
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes, max_bytes: int = MAX_GRAPH_BYTES, max_nodes: int = MAX_GRAPH_NODES) -> Graph:
        """Load a graph written by :meth:`to_json`, checking every field.

        Raises ``ValueError`` naming the first problem: a text longer than ``max_bytes``
        (characters of a str, bytes of UTF-8 bytes; default :data:`MAX_GRAPH_BYTES`) or more
        nodes than ``max_nodes`` (default :data:`MAX_GRAPH_NODES`), both refused before the
        nodes are built; malformed JSON, nesting deeper than a graph has, a duplicate,
        missing or unknown key, a wrong type, an unknown op, a wrong number of inputs, an
        input index that is out of range or not earlier in the order, a slot out of range,
        or a number that is not finite or does not fit in a float. Time and memory grow
        linearly with the text's length; messages are at most :data:`MAX_MESSAGE_CHARS` long.
        """
        data = _parse(text, max_bytes, max_nodes)
        top = _keys(data, "graph", {"format", "version", "args", "params", "nodes"})
        if top["format"] != FILE_FORMAT or top["version"] != FILE_VERSION:
            raise _error(
                f"expected format {FILE_FORMAT!r} version {FILE_VERSION}, "
                f"got {reprlib.repr(top['format'])} version {reprlib.repr(top['version'])}"
            )
        args = tuple(_arg_shape(a, i) for i, a in enumerate(_list(top["args"], "args")))
        n_params = _int(top["params"], "params")
        raw_nodes = _list(top["nodes"], "nodes")
        if not raw_nodes:
            raise _error("'nodes' is empty")
        if len(raw_nodes) > max_nodes:
            raise _error(f"{len(raw_nodes):,} nodes, more than the limit of {max_nodes:,} (max_nodes)")
        nodes = tuple(_node_from_dict(d, i, args, n_params) for i, d in enumerate(raw_nodes))
        return cls(args, n_params, nodes)


def _node_to_dict(n: Node) -> dict[str, Any]:
    if n.op == "arg":
        return {"arg": list(n.slot)}
    if n.op == "param":
        return {"param": n.slot[0]}
    if n.op == "const":
        return {"const": n.value}
    out: dict[str, Any] = {"op": n.op, "inputs": list(n.inputs)}
    if n.param is not None:
        out["param"] = n.param
    return out


# -- validation helpers: each raises ValueError naming what is wrong ------------------------


def _error(message: str) -> ValueError:
    """``ValueError('Graph.from_json: message')``, the message cut in the middle to a readable length."""
    if len(message) > MAX_MESSAGE_CHARS:
        half = MAX_MESSAGE_CHARS // 2
        message = f"{message[:half]} ... {message[-half:]}"
    return ValueError(f"Graph.from_json: {message}")


def _parse(text: str | bytes, max_bytes: int, max_nodes: int) -> Any:
    """The JSON document in ``text``, after the checks that keep parsing cheap.

    A graph has 3 containers (the top object, ``args``, ``nodes``) and at most 2 per node,
    so counting ``{`` and ``[`` first (at C speed) refuses floods of small containers, which
    cost far more memory than their bytes. Deep nesting, which a graph never has, fails
    in the parser as RecursionError.
    """
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"Graph.from_json: expected a str or bytes, got {type(text).__name__}")
    if len(text) > max_bytes:
        unit = "characters" if isinstance(text, str) else "bytes"
        raise _error(f"{len(text):,} {unit}, more than the limit of {max_bytes:,} (max_bytes)")
    if isinstance(text, str):
        containers = text.count("{") + text.count("[")
    else:
        containers = text.count(b"{") + text.count(b"[")
    if containers > 2 * max_nodes + 3:
        raise _error(f"{containers:,} JSON objects and arrays, more than a graph of {max_nodes:,} nodes has")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except RecursionError:
        raise _error("nested more deeply than a graph is") from None
    except json.JSONDecodeError as e:
        raise _error(f"not valid JSON: {e}") from None
    except ValueError as e:  # a duplicate key, a non-finite constant, an int of too many digits, bad UTF-8
        raise _error(str(e)) from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) < len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError(f"duplicate key {reprlib.repr(k)}")
            seen.add(k)
    return d


def _no_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name} is not allowed")


def _keys(d: object, what: str, required: set[str], optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise _error(f"{what} must be an object, got {reprlib.repr(d)}")
    missing = sorted(required - d.keys())
    unknown = sorted(d.keys() - required - optional)
    if missing or unknown:
        raise _error(f"{what}: missing keys {missing}, unknown keys {reprlib.repr(unknown)}")
    return d


def _list(x: object, what: str) -> list[Any]:
    if not isinstance(x, list):
        raise _error(f"{what} must be a list, got {reprlib.repr(x)}")
    return x


def _int(x: object, what: str, below: int | None = None) -> int:
    if type(x) is not int or x < 0 or (below is not None and x >= below):
        bound = "" if below is None else f" below {below}"
        raise _error(f"{what} must be an integer >= 0{bound}, got {reprlib.repr(x)}")
    return x


def _float(x: object, what: str) -> float:
    if type(x) is int:
        try:
            x = float(x)
        except OverflowError:  # a 400-digit integer
            raise _error(f"{what} does not fit in a float, got {reprlib.repr(x)}") from None
    if type(x) is not float or not math.isfinite(x):
        raise _error(f"{what} must be a finite number, got {reprlib.repr(x)}")
    return x


def _arg_shape(a: object, i: int) -> int | None:
    if a is None:
        return None
    if type(a) is not int or a < 1:
        raise _error(f"args[{i}] must be null or a positive integer, got {reprlib.repr(a)}")
    return a


def _node_from_dict(d: object, i: int, args: tuple[int | None, ...], n_params: int) -> Node:
    what = f"node {i}"
    if isinstance(d, dict) and "arg" in d:
        slot = _list(_keys(d, what, {"arg"})["arg"], f"{what} 'arg'")
        if len(slot) != 2:
            raise _error(f"{what}: 'arg' must be [argument, element], got {reprlib.repr(slot)}")
        a = _int(slot[0], f"{what} argument", below=len(args))
        _int(slot[1], f"{what} element", below=args[a] or 1)
        return Node("arg", slot=(slot[0], slot[1]))
    if isinstance(d, dict) and "param" in d and "op" not in d:
        return Node("param", slot=(_int(_keys(d, what, {"param"})["param"], f"{what} 'param'", below=n_params),))
    if isinstance(d, dict) and "const" in d:
        return Node("const", value=_float(_keys(d, what, {"const"})["const"], f"{what} 'const'"))
    d = _keys(d, what, {"op", "inputs"}, frozenset({"param"}))
    if not isinstance(d["op"], str) or d["op"] in LEAF_KINDS:
        raise _error(f"{what}: 'op' must be an op name, got {reprlib.repr(d['op'])}")
    param = None if d.get("param") is None else _float(d["param"], f"{what} 'param'")
    try:
        op = lookup(d["op"], param)
    except ValueError as e:
        raise _error(f"{what}: {e}") from None
    inputs = tuple(_int(j, f"{what} input", below=i) for j in _list(d["inputs"], f"{what} 'inputs'"))
    if len(inputs) != op.arity:
        raise _error(f"{what}: op {op.name!r} takes {op.arity} inputs, got {len(inputs)}")
    return Node(op.name, inputs, param)
