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
checks every field and never executes anything from the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ..ops import lookup

#: The kinds of nodes that are not ops.
LEAF_KINDS = ("arg", "param", "const")

#: The ``format`` entry of a saved graph, and its version.
FILE_FORMAT = "nanograd.Graph"
FILE_VERSION = 1


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
    def from_json(cls, text: str) -> Graph:
        """Load a graph written by :meth:`to_json`, checking every field.

        Raises ``ValueError`` naming the first problem: malformed JSON, a duplicate, missing
        or unknown key, a wrong type, an unknown op, a wrong number of inputs, an input
        index that is out of range or not earlier in the order, a slot out of range, or a
        non-finite number.
        """
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
        except json.JSONDecodeError as e:
            raise ValueError(f"Graph.from_json: not valid JSON: {e}") from None
        top = _keys(data, "graph", {"format", "version", "args", "params", "nodes"})
        if top["format"] != FILE_FORMAT or top["version"] != FILE_VERSION:
            raise ValueError(
                f"Graph.from_json: expected format {FILE_FORMAT!r} version {FILE_VERSION}, "
                f"got {top['format']!r} version {top['version']!r}"
            )
        args = tuple(_arg_shape(a, i) for i, a in enumerate(_list(top["args"], "args")))
        n_params = _int(top["params"], "params")
        raw_nodes = _list(top["nodes"], "nodes")
        if not raw_nodes:
            raise ValueError("Graph.from_json: 'nodes' is empty")
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


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    for k in keys:
        if keys.count(k) > 1:
            raise ValueError(f"Graph.from_json: duplicate key {k!r}")
    return dict(pairs)


def _no_constant(name: str) -> float:
    raise ValueError(f"Graph.from_json: non-finite number {name} is not allowed")


def _keys(d: object, what: str, required: set[str], optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ValueError(f"Graph.from_json: {what} must be an object, got {d!r}")
    missing = sorted(required - d.keys())
    unknown = sorted(d.keys() - required - optional)
    if missing or unknown:
        raise ValueError(f"Graph.from_json: {what}: missing keys {missing}, unknown keys {unknown}")
    return d


def _list(x: object, what: str) -> list[Any]:
    if not isinstance(x, list):
        raise ValueError(f"Graph.from_json: {what} must be a list, got {x!r}")
    return x


def _int(x: object, what: str, below: int | None = None) -> int:
    if type(x) is not int or x < 0 or (below is not None and x >= below):
        bound = "" if below is None else f" below {below}"
        raise ValueError(f"Graph.from_json: {what} must be an integer >= 0{bound}, got {x!r}")
    return x


def _float(x: object, what: str) -> float:
    if type(x) not in (int, float) or not math.isfinite(x):  # type: ignore[arg-type]
        raise ValueError(f"Graph.from_json: {what} must be a finite number, got {x!r}")
    return float(x)  # type: ignore[arg-type]


def _arg_shape(a: object, i: int) -> int | None:
    if a is None:
        return None
    if type(a) is not int or a < 1:
        raise ValueError(f"Graph.from_json: args[{i}] must be null or a positive integer, got {a!r}")
    return a


def _node_from_dict(d: object, i: int, args: tuple[int | None, ...], n_params: int) -> Node:
    what = f"node {i}"
    if isinstance(d, dict) and "arg" in d:
        slot = _list(_keys(d, what, {"arg"})["arg"], f"{what} 'arg'")
        if len(slot) != 2:
            raise ValueError(f"Graph.from_json: {what}: 'arg' must be [argument, element], got {slot!r}")
        a = _int(slot[0], f"{what} argument", below=len(args))
        _int(slot[1], f"{what} element", below=args[a] or 1)
        return Node("arg", slot=(slot[0], slot[1]))
    if isinstance(d, dict) and "param" in d and "op" not in d:
        return Node("param", slot=(_int(_keys(d, what, {"param"})["param"], f"{what} 'param'", below=n_params),))
    if isinstance(d, dict) and "const" in d:
        return Node("const", value=_float(_keys(d, what, {"const"})["const"], f"{what} 'const'"))
    d = _keys(d, what, {"op", "inputs"}, frozenset({"param"}))
    if not isinstance(d["op"], str) or d["op"] in LEAF_KINDS:
        raise ValueError(f"Graph.from_json: {what}: 'op' must be an op name, got {d['op']!r}")
    param = None if d.get("param") is None else _float(d["param"], f"{what} 'param'")
    try:
        op = lookup(d["op"], param)
    except ValueError as e:
        raise ValueError(f"Graph.from_json: {what}: {e}") from None
    inputs = tuple(_int(j, f"{what} input", below=i) for j in _list(d["inputs"], f"{what} 'inputs'"))
    if len(inputs) != op.arity:
        raise ValueError(f"Graph.from_json: {what}: op {op.name!r} takes {op.arity} inputs, got {len(inputs)}")
    return Node(op.name, inputs, param)
