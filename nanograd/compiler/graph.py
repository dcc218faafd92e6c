"""The traced graph as plain data: :class:`Node`, :class:`Graph`, its printed form and its JSON form.

A :class:`Graph` is what :func:`nanograd.compile` records when it traces a function:
a list of nodes in topological order (every node after its inputs), and the nodes that
are the function's outputs. A node is one of

* ``arg``   -- element ``slot = (argument, element)`` of the function's traced arguments,
* ``param`` -- captured Value number ``slot = (index,)`` (its number is read at every call),
* ``const`` -- a number fixed when tracing (``value``),
* an op of the table (``op`` is its name, ``inputs`` the indices of earlier nodes,
  ``param`` the constant exponent of ``power``),
* a select, ``where_gt`` or ``where_ge`` (inputs ``a b x y``): ``x`` where ``a > b``
  (``a >= b``), else ``y``; what :func:`nanograd.where` records for a traced comparison,
* ``take`` (inputs ``i v0 v1 ...``): ``v[i]``; what :func:`nanograd.take` records for a
  traced index. ``i`` must hold a whole number from 0 to n - 1 (else the eager engine's
  ``IndexError`` or ``ValueError``); the gradient goes to the chosen input only.

The selects are ops like the table's (:data:`SELECTS`, forward and vjp written with the
math namespace ``m``), kept here because the eager engine chooses in Python instead
(:func:`nanograd.where` returns the chosen Value). ``take`` has as many inputs as there are
values, so it is no op of fixed arity: each backend moves its numbers itself.

``print(graph)`` lists the graph as a jaxpr does: its inputs, captured parameters and
constants, then one line per node (``v7 = mul v3 v5``, ``v9 = power[2] v7``), outputs last.
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..ops import Op, lookup

#: The kinds of nodes that are not ops.
LEAF_KINDS = ("arg", "param", "const")
#: The node kind that picks one of its inputs by an index.
TAKE = "take"

#: The ``format`` entry of a saved graph, and the versions read (the last one is written).
FILE_FORMAT = "nanograd.Graph"
FILE_VERSION = 2
_VERSIONS = (1, 2)


def _select(name: str, symbol: str, holds: Callable[[Any, Any], Any], doc: str) -> Op:
    """A select on the comparison ``holds(a, b)``: inputs ``a b x y``, the gradient to the chosen one."""

    def vjp(m: Any, g: Any, out: Any, a: Any, b: Any, x: Any, y: Any) -> tuple[Any, ...]:
        chosen = holds(a, b)
        return 0.0, 0.0, m.where(chosen, g, 0.0), m.where(chosen, 0.0, g)

    return Op(name, symbol, 4, lambda m, a, b, x, y: m.where(holds(a, b), x, y), vjp, doc)


#: The selects a traced comparison records (see the module docstring).
SELECTS: dict[str, Op] = {
    op.name: op
    for op in (
        _select("where_gt", "where >", lambda a, b: a > b, "x where a > b, else y"),
        _select("where_ge", "where >=", lambda a, b: a >= b, "x where a >= b, else y"),
    )
}


def differentiable(name: str, inputs: tuple[int, ...]) -> tuple[int, ...]:
    """The inputs a node of kind ``name`` passes gradients to.

    All of them, as in the eager engine, zeros too, except a select's comparison and a
    take's index: eagerly those are Python choices, not edges of the graph.
    """
    if name in SELECTS:
        return inputs[2:]
    return inputs[1:] if name == TAKE else inputs


def op_of(name: str, param: float | None = None) -> Op:
    """The op a node named ``name`` runs: a select, or an op of the table (ValueError if unknown)."""
    select = SELECTS.get(name)
    return select if select is not None and param is None else lookup(name, param)


#: ``Graph.from_json`` refuses longer texts (its ``max_bytes`` argument) before parsing them.
#: An op node takes about 30 bytes, so 16 MiB hold about half a million of them.
MAX_GRAPH_BYTES = 16 * 2**20
#: ``Graph.from_json`` refuses graphs of more nodes (its ``max_nodes`` argument).
MAX_GRAPH_NODES = 2**20
#: Error messages of ``Graph.from_json`` are cut (in the middle) to this many characters.
MAX_MESSAGE_CHARS = 300


class Node(NamedTuple):
    """One node of a :class:`Graph` (see the module docstring for the kinds).

    A named tuple, not a frozen dataclass: a trace makes one per node, and a tuple is
    made in a third of the time.
    """

    op: str
    inputs: tuple[int, ...] = ()
    param: float | None = None
    value: float | None = None
    slot: tuple[int, ...] = ()


@dataclass(frozen=True)
class Graph:
    """A traced function.

    ``args`` has one entry per traced argument (None for a scalar, k for a list of k Values);
    ``n_params`` is the number of captured Values; ``nodes`` come in topological order;
    ``outputs`` are the nodes the function returns, ``vector`` says whether it returns a list
    (of ``len(outputs)`` Values) rather than one Value. ``names`` are the arguments' names,
    for printing and error messages (may be empty).
    """

    args: tuple[int | None, ...]
    n_params: int
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]
    vector: bool = False
    names: tuple[str, ...] = ()

    def arg_name(self, a: int) -> str:
        """How argument ``a`` is shown: its name, or ``arg<a>``."""
        return self.names[a] if a < len(self.names) and self.names[a] else f"arg{a}"

    def __str__(self) -> str:
        return format_graph(self)

    def to_json(self) -> str:
        """The graph as a JSON string (see :meth:`from_json`)."""
        return json.dumps(
            {
                "format": FILE_FORMAT,
                "version": FILE_VERSION,
                "args": list(self.args),
                "params": self.n_params,
                "nodes": [_node_to_dict(n) for n in self.nodes],
                "outputs": list(self.outputs),
                "vector": self.vector,
                "names": list(self.names),
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes, max_bytes: int = MAX_GRAPH_BYTES, max_nodes: int = MAX_GRAPH_NODES) -> Graph:
        """Load a graph written by :meth:`to_json` (this version or version 1), checking every field.

        Raises ``ValueError`` naming the first problem: a text longer than ``max_bytes``
        (characters of a str, bytes of UTF-8 bytes; default :data:`MAX_GRAPH_BYTES`); more
        nodes than ``max_nodes`` (default :data:`MAX_GRAPH_NODES`), or a ``params`` count or
        a total of argument elements above it, all refused before the nodes are built;
        malformed JSON, nesting deeper than a graph has, a duplicate, missing or unknown key,
        a wrong type, an unknown op, a wrong number of inputs, an input index that is out of
        range or not earlier in the order, a slot out of range, or a number that is not
        finite or does not fit in a float. Time and memory grow linearly with the text's
        length; messages are at most :data:`MAX_MESSAGE_CHARS` long.
        A version 1 file (one output, the last node) loads as such.
        """
        data = _parse(text, max_bytes, max_nodes)
        if not isinstance(data, dict):
            raise _error(f"the graph must be an object, got {reprlib.repr(data)}")
        version = data.get("version")
        if data.get("format") != FILE_FORMAT or type(version) is not int or version not in _VERSIONS:
            raise _error(
                f"expected format {FILE_FORMAT!r} version {FILE_VERSION}, "
                f"got {reprlib.repr(data.get('format'))} version {reprlib.repr(version)}"
            )
        required = {"format", "version", "args", "params", "nodes"}
        top = _keys(data, "graph", required | {"outputs", "vector", "names"} if version == 2 else required)
        args = tuple(_arg_shape(a, i) for i, a in enumerate(_list(top["args"], "args")))
        n_params = _int(top["params"], "params")
        # Running a graph allocates a slot per parameter and per argument element, so a
        # 'params' of 10**9 (a few bytes of text) would cost gigabytes: a graph of
        # max_nodes nodes captures at most that many Values, and has no reason for more.
        if n_params > max_nodes:
            raise _error(f"'params' is {n_params:,}, more than the limit of {max_nodes:,} (max_nodes)")
        elements = sum(a or 1 for a in args)
        if elements > max_nodes:
            raise _error(f"'args' have {elements:,} elements, more than the limit of {max_nodes:,} (max_nodes)")
        raw_nodes = _list(top["nodes"], "nodes")
        if not raw_nodes:
            raise _error("'nodes' is empty")
        if len(raw_nodes) > max_nodes:
            raise _error(f"{len(raw_nodes):,} nodes, more than the limit of {max_nodes:,} (max_nodes)")
        nodes = tuple(_node_from_dict(d, i, args, n_params) for i, d in enumerate(raw_nodes))
        if version == 1:
            return cls(args, n_params, nodes, (len(nodes) - 1,))
        outputs = tuple(_int(o, "output", below=len(nodes)) for o in _list(top["outputs"], "outputs"))
        if not outputs:
            raise _error("'outputs' is empty")
        if type(top["vector"]) is not bool or (not top["vector"] and len(outputs) != 1):
            raise _error(f"'vector' must be true, or false with one output, got {top['vector']!r}")
        names = _list(top["names"], "names")
        if any(not isinstance(n, str) for n in names) or len(names) not in (0, len(args)):
            raise _error(f"'names' must be one string per argument, got {names!r}")
        return cls(args, n_params, nodes, outputs, top["vector"], tuple(names))


# -- the printed form ----------------------------------------------------------------------


def format_graph(graph: Graph, width: int = 100) -> str:
    """The graph as text, one line per node, like a jaxpr (see the module docstring)."""

    def name(i: int) -> str:
        return f"v{i}"

    inputs, params, consts, lines = [], [], [], []
    for i, n in enumerate(graph.nodes):
        if n.op == "arg":
            a, e = n.slot
            inputs.append(f"{name(i)} = {graph.arg_name(a)}" + ("" if graph.args[a] is None else f"[{e}]"))
        elif n.op == "param":
            params.append(f"{name(i)} = p{n.slot[0]}")
        elif n.op == "const":
            consts.append(f"{name(i)} = {n.value!r}")
        else:
            lines.append(f"{name(i)} = {_describe(n, name)}")
    signature = ", ".join(graph.arg_name(a) + ("" if k is None else f"[{k}]") for a, k in enumerate(graph.args))
    returned = " ".join(name(o) for o in graph.outputs)
    header = [f"graph({signature}) -> {'[' + returned + ']' if graph.vector else returned}"]
    header += _wrapped("inputs", inputs, width) + _wrapped("params", params, width) + _wrapped("consts", consts, width)
    return "\n".join([*header, *lines, f"return {'[' + returned + ']' if graph.vector else returned}"])


def _describe(n: Node, name: Callable[[int], str]) -> str:
    """The right-hand side of an op node's line: ``mul v3 v5``, ``power[2] v7``, ``take v1 [v4 v5]``."""
    ins = [name(j) for j in n.inputs]
    if n.op == TAKE:
        return f"take {ins[0]} [{' '.join(ins[1:])}]"
    if n.op in SELECTS:
        compare = ">" if n.op == "where_gt" else ">="
        return f"where ({ins[0]} {compare} {ins[1]}) {ins[2]} {ins[3]}"
    param = "" if n.param is None else f"[{n.param:g}]"
    return f"{n.op}{param} {' '.join(ins)}"


def _wrapped(title: str, items: list[str], width: int) -> list[str]:
    """``title`` and ``items`` on as many lines as it takes to keep them under ``width`` characters."""
    lines: list[str] = []
    line = f"  {title:<7}"
    for item in items:
        if len(line) + 3 + len(item) > width and line.strip() != title:
            lines.append(line.rstrip())
            line = " " * 9
        line += ("   " if line.strip() and line.strip() != title else " ") + item
    if items:
        lines.append(line.rstrip())
    return lines


# -- the JSON form -------------------------------------------------------------------------


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
    if containers > 2 * max_nodes + 5:
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
    inputs = tuple(_int(j, f"{what} input", below=i) for j in _list(d["inputs"], f"{what} 'inputs'"))
    if d["op"] == TAKE:
        if param is not None or len(inputs) < 2:
            raise _error(f"{what}: 'take' needs an index and one input or more, and no param")
        return Node(TAKE, inputs)
    try:
        op = op_of(d["op"], param)
    except ValueError as e:
        raise _error(f"{what}: {e}") from None
    if len(inputs) != op.arity:
        raise _error(f"{what}: op {op.name!r} takes {op.arity} inputs, got {len(inputs)}")
    return Node(op.name, inputs, param)
