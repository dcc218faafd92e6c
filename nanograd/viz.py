"""Graph visualisation: :func:`trace` walks the graph behind a Value, :func:`draw_dot` draws it.

Each Value becomes a record node ``{ label | data 1.0000 | grad 0.5000 }`` and each
operation its own small node showing the op's symbol, as in micrograd's
``trace_graph`` notebook. Drawing needs the optional ``graphviz`` Python package
(``pip install "nanograd[viz]"``), imported only when :func:`draw_dot` runs, and
rendering to an image needs Graphviz's ``dot`` program on the ``PATH``.
:func:`nanograd.explore.explore` makes an interactive page of the same drawing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .value import Value

if TYPE_CHECKING:
    import graphviz

    from .compiler import Graph

__all__ = ["FORMATS", "RANKDIRS", "draw_dot", "draw_graph", "draw_values", "trace", "walk"]

#: The layout directions :func:`draw_dot` accepts: left to right, top to bottom.
RANKDIRS = ("LR", "TB")
#: The output formats :func:`draw_dot` accepts.
FORMATS = ("svg", "png", "pdf")

# Characters with a meaning inside a graphviz record label.
_RECORD_SPECIAL = re.compile(r'([{}|<>"\\])')


def trace(root: Value) -> tuple[list[Value], list[tuple[Value, Value]]]:
    """The nodes and edges of the graph that computed ``root``.

    ``nodes`` lists every Value once, inputs before the Values computed from them
    (each node's inputs visited in argument order, ``root`` last). ``edges`` holds
    one ``(input, output)`` pair per input slot, in the same order, so ``a + a``
    gives two edges from ``a``. The walk is iterative: any depth works. It follows
    ``inputs``, not :func:`nanograd.value.topological_order`, so that literal operands
    (the ``1.0`` of ``x + 1.0``) are drawn as the constant leaves they become there.
    """
    nodes, inputs = walk(root)
    edges = [(x, v) for v in nodes for x in inputs[v]]
    return nodes, edges


def walk(root: Value) -> tuple[list[Value], dict[Value, tuple[Value, ...]]]:
    """:func:`trace`'s nodes, and the inputs of each as drawn (each literal a constant leaf of its own)."""
    nodes: list[Value] = []
    inputs = {root: root.inputs}
    stack: list[tuple[Value, Iterator[Value]]] = [(root, iter(inputs[root]))]
    while stack:
        node, pending = stack[-1]
        for x in pending:
            if x not in inputs:
                inputs[x] = x.inputs  # read once: a literal's leaf is new at each read
                stack.append((x, iter(inputs[x])))
                break
        else:
            stack.pop()
            nodes.append(node)
    return nodes, inputs


def _record_label(v: Value, label: str) -> str:
    fields = [_RECORD_SPECIAL.sub(r"\\\1", label)] if label else []
    fields += [f"data {v.data:.4f}", f"grad {v.grad:.4f}"]
    return "{ " + " | ".join(fields) + " }"


def draw_dot(
    root: Value,
    format: str = "svg",
    rankdir: str = "LR",
    labels: Mapping[Value, str] | None = None,
    max_nodes: int = 500,
) -> graphviz.Digraph:
    """Draw the graph that computed ``root`` as a ``graphviz.Digraph``.

    Every Value is a record ``{ label | data | grad }`` (numbers to 4 decimals, the
    label only if the Value has one) and every operation a small node showing its
    symbol (``+``, ``*``, ``**2``, ``relu``, ...). The result displays inline in
    Jupyter; ``draw_dot(y).render('gout')`` writes ``gout.svg`` (next to the DOT source ``gout``).

    Args:
        root: the Value to draw, usually after ``root.backpropagate()``.
        format: ``'svg'``, ``'png'`` or ``'pdf'``: what ``render`` and ``pipe`` produce.
        rankdir: ``'LR'`` (left to right) or ``'TB'`` (top to bottom).
        labels: names for Values, overriding their ``.label``.
        max_nodes: the most Values to draw; larger graphs raise ``ValueError``
            because graphviz becomes unreadable and slow long before that.

    Raises:
        ValueError: an unknown ``format`` or ``rankdir``, or more than ``max_nodes`` Values.
        ImportError: the graphviz Python package is not installed.

    Building the Digraph needs only the Python package; rendering it (``render``,
    ``pipe``, Jupyter display) also needs Graphviz's ``dot`` program, a system package
    (``apt-get install graphviz``, ``brew install graphviz``, ``conda install graphviz``;
    https://graphviz.org/download/), and raises ``graphviz.ExecutableNotFound`` without it.
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    nodes, inputs = walk(root)
    if len(nodes) > max_nodes:
        raise ValueError(
            f"the graph has {len(nodes)} values, more than max_nodes={max_nodes}; "
            "pass a larger max_nodes to draw it anyway"
        )
    return draw_values(nodes, format, rankdir, labels, inputs)


def draw_values(
    nodes: Sequence[Value],
    format: str = "svg",
    rankdir: str = "LR",
    labels: Mapping[Value, str] | None = None,
    inputs: Mapping[Value, Sequence[Value]] | None = None,
) -> graphviz.Digraph:
    """Draw ``nodes`` (a list from :func:`trace`, or part of one) as :func:`draw_dot` does.

    The i-th Value is the graphviz node ``v{i}`` and its op node ``v{i}_op``; an
    input that is not in ``nodes`` gets no edge. ``inputs`` gives each node's inputs as
    :func:`walk` found them (default: read afresh). ``format``, ``rankdir`` and ``labels``
    are not checked here (see :func:`draw_dot`).
    """
    labels = labels or {}
    dot = _import_graphviz().Digraph(format=format, graph_attr={"rankdir": rankdir})
    names = {v: f"v{i}" for i, v in enumerate(nodes)}
    for v in nodes:
        dot.node(names[v], _record_label(v, labels.get(v, v.label)), shape="record")
        if v.op is not None:
            dot.node(f"{names[v]}_op", v.op.symbol)
            dot.edge(f"{names[v]}_op", names[v])
    for v in nodes:
        for x in v.inputs if inputs is None else inputs[v]:
            if x in names:
                dot.edge(names[x], f"{names[v]}_op")
    return dot


def _import_graphviz() -> Any:
    """The graphviz package, or an ImportError saying which extra installs it."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError('draw_dot needs the graphviz Python package: pip install "nanograd[viz]"') from e
    return graphviz


def draw_graph(graph: Graph, format: str = "svg", rankdir: str = "LR", max_nodes: int = 500) -> graphviz.Digraph:
    """Draw a compiled :class:`~nanograd.compiler.Graph` (``nanograd.compile(fn).graph``).

    Arguments, captured parameters and constants are records (``arg 0[1]``, ``param 3``,
    ``const 1.0``); each op is a node showing its symbol, wired to its inputs in order.
    ``format``, ``rankdir`` and ``max_nodes`` are as for :func:`draw_dot`.
    """
    from .compiler.graph import LEAF_KINDS
    from .ops import lookup

    if len(graph.nodes) > max_nodes:
        raise ValueError(f"the graph has {len(graph.nodes)} nodes, more than max_nodes={max_nodes}")
    dot = _import_graphviz().Digraph(format=format, graph_attr={"rankdir": rankdir})
    for i, n in enumerate(graph.nodes):
        if n.op not in LEAF_KINDS:
            dot.node(f"n{i}", lookup(n.op, n.param).symbol)
        elif n.op == "arg":
            scalar = graph.args[n.slot[0]] is None
            dot.node(f"n{i}", f"arg {n.slot[0]}" + ("" if scalar else f"[{n.slot[1]}]"), shape="record")
        else:
            dot.node(f"n{i}", f"{n.op} {n.slot[0] if n.op == 'param' else n.value!r}", shape="record")
        for j in n.inputs:
            dot.edge(f"n{j}", f"n{i}")
    return dot
