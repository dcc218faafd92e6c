"""Graph visualisation: :func:`trace` walks the graph behind a Value, :func:`draw_dot` draws it.

Each Value becomes a record ``{ label | data 1.0000 | grad 0.5000 }`` and each operation
its own small node showing the op's symbol, as in micrograd's ``trace_graph`` notebook. A
literal operand (the ``3.0`` of ``x * 3.0``) is a constant: a grey record ``{ const | 3.0000 }``
with no gradient, drawn next to the node that uses it.

Drawing costs are bounded. The walk counts the Values as it goes and stops past
``max_nodes``, before anything is drawn. A Value used far from where it is drawn (the
weight shared by every step of a chain, the ``a`` of ``a + a + ... + a``) is drawn again,
dashed, next to each distant use: an edge that spans many ranks of the layout costs dot a
node per rank, and a few hundred such edges made its layout take minutes. dot itself runs
with a time and a memory limit (:mod:`nanograd.render`).

Drawing needs the optional ``graphviz`` Python package (from a checkout, ``pip install -e
".[viz]" --config-settings editable_mode=compat``), imported only when a drawing is made,
and rendering it needs Graphviz's ``dot`` program on the ``PATH``. Every text that comes
from the user (labels, op symbols, a compiled function's name) is escaped: it is shown as
the characters it is, never read as DOT or HTML markup. :func:`nanograd.explore` builds an
interactive page on these drawings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .render import import_graphviz
from .value import Value

if TYPE_CHECKING:
    import graphviz

    from .compiler import Graph

__all__ = [
    "FORMATS",
    "MAX_SPAN",
    "RANKDIRS",
    "Box",
    "draw_boxes",
    "draw_dot",
    "draw_graph",
    "draw_values",
    "format_number",
    "trace",
    "walk",
]

#: The layout directions :func:`draw_dot` accepts: left to right, top to bottom.
RANKDIRS = ("LR", "TB")
#: The output formats :func:`draw_dot` accepts.
FORMATS = ("svg", "png", "pdf")
#: A use more than this many operations after the Value it reads gets a copy of that Value next to it.
MAX_SPAN = 2
#: Labels and symbols longer than this many characters are cut (with an ellipsis) in drawings.
MAX_LABEL = 100

# Characters with a meaning inside a graphviz record label.
_RECORD_SPECIAL = re.compile(r'([{}|<>"\\])')
# Characters graphviz would not show as themselves: control characters, line and paragraph separators.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONSTANT_STYLE = {"shape": "record", "style": "filled", "fillcolor": "#eeeeee", "color": "#888888"}


def format_number(x: float) -> str:
    """A number as drawings and the explore page show it: 4 decimals, or 4 in scientific notation.

    Scientific notation is used below 0.001 and from 1,000,000 on (``1.0000e-07``), so
    that no nonzero number shows as ``0.0000``; ``inf`` and ``nan`` are written so.
    """
    if x == 0 or not math.isfinite(x) or 1e-3 <= abs(x) < 1e6:
        return f"{x:.4f}"
    return f"{x:.4e}"


def _too_many(max_nodes: int) -> ValueError:
    return ValueError(
        f"the graph has more than max_nodes={max_nodes} values; pass a larger max_nodes to draw it anyway "
        "(graphs of thousands of values draw slowly and read badly)"
    )


def walk(
    root: Value, max_nodes: int | None = None, inputs: Callable[[Value], Iterable[Value]] | None = None
) -> list[Value]:
    """Every Value ``root`` depends on, each after its operands (argument order), ``root`` last.

    A pure, iterative walk over :attr:`Value.operands`: it changes nothing and any
    depth works; literal operands are not Values and are not listed. With
    ``max_nodes`` it raises ``ValueError`` as soon as it has met more Values than that,
    so a huge graph is refused at the cost of ``max_nodes`` steps. ``inputs`` replaces
    the Values to visit from each Value (default: its operands that are Values).
    """
    if not isinstance(root, Value):
        raise TypeError(f"expected a Value to draw, got {type(root).__name__}")
    inputs = inputs or _value_operands
    nodes: list[Value] = []
    seen = {root}
    stack: list[tuple[Value, Iterator[Value]]] = [(root, iter(inputs(root)))]
    while stack:
        node, pending = stack[-1]
        for x in pending:
            if x not in seen:
                if max_nodes is not None and len(seen) >= max_nodes:
                    raise _too_many(max_nodes)
                seen.add(x)
                stack.append((x, iter(inputs(x))))
                break
        else:
            stack.pop()
            nodes.append(node)
    return nodes


def _value_operands(v: Value) -> Iterator[Value]:
    return (x for x in v.operands if isinstance(x, Value))


def trace(root: Value, max_nodes: int | None = None) -> tuple[list[Value], list[tuple[Value | float, Value]]]:
    """The nodes and edges of the graph that computed ``root``.

    ``nodes`` is :func:`walk`'s list: every Value once, operands first, ``root`` last.
    ``edges`` holds one ``(operand, output)`` pair per operand slot, in the same order,
    so ``a + a`` gives two edges from ``a``; a literal operand (the ``3.0`` of
    ``x * 3.0``) is the float itself, a constant, as in :attr:`Value.operands`.
    ``max_nodes`` is as for :func:`walk`.
    """
    nodes = walk(root, max_nodes)
    return nodes, [(x, v) for v in nodes for x in v.operands]


# -- the drawing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """One node of a drawing, as plain data: what :func:`draw_boxes` draws.

    ``operands`` lists, per input slot, the index of an earlier box, a float (a
    constant, drawn next to this box) or ``None`` (an input that is not drawn).
    ``grad`` is ``None`` for a box without a gradient; ``symbol`` is the op's symbol,
    ``None`` for a leaf. ``classes`` go into the SVG (the explore page finds boxes by them).
    """

    label: str
    data: float
    grad: float | None
    symbol: str | None = None
    operands: tuple[int | float | None, ...] = ()
    classes: str = ""


def _text(text: str) -> str:
    """User text as a drawing shows it: one line, at most :data:`MAX_LABEL` characters."""
    text = _UNPRINTABLE.sub("\ufffd", text)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


def _field(text: str) -> str:
    """``text`` as one field of a record label: shown as these characters, never as markup."""
    return _RECORD_SPECIAL.sub(r"\\\1", _text(text).replace("&", "&amp;"))


def _plain(text: str) -> str:
    """``text`` as a plain node label: backslashes and ``<...>`` lose their DOT meaning."""
    # graphviz.escape returns a str subclass that graphviz never quotes as an HTML-like label.
    escaped: str = import_graphviz().escape(_text(text).replace("&", "&amp;"))
    return escaped


def _record(box: Box) -> str:
    """``{ label | data ... | grad ... }``, or ``{ const | 3.0000 }`` for a box without a gradient."""
    if box.grad is None:
        fields = [_field(box.label) or "const", format_number(box.data)]
    else:
        fields = [_field(box.label)] if box.label else []
        fields += [f"data {format_number(box.data)}", f"grad {format_number(box.grad)}"]
    return "{ " + " | ".join(fields) + " }"


def _new_drawing(format: str, rankdir: str) -> graphviz.Digraph:
    from .render import drawing_type

    return drawing_type()(format=format, graph_attr={"rankdir": rankdir})


def _far_uses(boxes: Sequence[Box]) -> set[tuple[int, int]]:
    """The ``(box, slot)`` uses drawn from a copy of their operand: those far from it in the layout.

    A box's depth is its longest path from a leaf; a leaf sits just before its first use.
    A use more than :data:`MAX_SPAN` operations after its operand is far; the first use of
    every box stays an edge, so each box keeps one.
    """
    depth: list[int] = []
    place: dict[int, int] = {}  # where each operand sits: its depth, or before its first use for a leaf
    far: set[tuple[int, int]] = set()
    for i, box in enumerate(boxes):
        inputs = [(s, j) for s, j in enumerate(box.operands) if isinstance(j, int)]
        depth.append(1 + max((depth[j] for _, j in inputs), default=-1))
        for s, j in inputs:
            if j not in place:
                place[j] = depth[j] if boxes[j].symbol is not None else depth[i] - 1
            elif depth[i] - place[j] - 1 > MAX_SPAN:
                far.add((i, s))
    return far


def draw_boxes(boxes: Sequence[Box], format: str = "svg", rankdir: str = "LR") -> graphviz.Digraph:
    """Draw ``boxes`` (see :class:`Box`) as a ``graphviz.Digraph`` rendered within nanograd's limits.

    Box ``i`` is the node ``n{i}``, its op node ``n{i}_op``; the node drawn for its
    ``s``-th operand, when there is one (a constant, or a copy of a distant Value), is
    ``n{i}_in{s}``; the edge that carries that operand into the op is ``n{i}_e{s}``, and
    the edge from the op to the box ``n{i}_out``. These names are the SVG ids. The SVG
    classes: ``record b{i}`` and the box's own ``classes`` on a box, ``record copy b{i}``
    on its copies, ``opnode b{i}`` on its op, ``const`` on a constant. ``format`` and
    ``rankdir`` are not checked here.
    """
    dot = _new_drawing(format, rankdir)
    far = _far_uses(boxes)
    for i, box in enumerate(boxes):
        name = f"n{i}"
        style = {"shape": "record"} if box.grad is not None else _CONSTANT_STYLE
        dot.node(name, _record(box), id=name, **{"class": f"record b{i} {box.classes}".strip()}, **style)
        if box.symbol is None:
            continue
        dot.node(f"{name}_op", _plain(box.symbol), id=f"{name}_op", **{"class": f"opnode b{i}"})
        dot.edge(f"{name}_op", name, id=f"{name}_out")
        for s, x in enumerate(box.operands):
            edge = {"id": f"{name}_e{s}"}
            if isinstance(x, float):
                source = f"{name}_in{s}"
                dot.node(source, _record(Box("", x, None)), id=source, **{"class": "const"}, **_CONSTANT_STYLE)
            elif x is None:
                continue
            elif (i, s) in far:
                source, copy = f"{name}_in{s}", boxes[x]
                dot.node(
                    source, _record(copy), id=source, shape="record", style="dashed", **{"class": f"record copy b{x}"}
                )
            else:
                source = f"n{x}"
            dot.edge(source, f"{name}_op", **edge)
    return dot


def _grad_number(g: Any) -> float:
    """A stored gradient as a number (a Value after ``backpropagate(create_graph=True)``)."""
    return float(g.data) if isinstance(g, Value) else float(g)


def value_boxes(nodes: Sequence[Value], labels: Mapping[Value, str] | None = None) -> list[Box]:
    """The boxes of ``nodes`` (a list from :func:`walk`, or part of one) with their stored gradients.

    An operand that is not in ``nodes`` is not drawn; ``labels`` override the Values' ``.label``.
    """
    labels = labels or {}
    index = {v: i for i, v in enumerate(nodes)}
    return [
        Box(
            labels.get(v, v.label),
            v.data,
            _grad_number(v.grad),
            None if v.op is None else v.op.symbol,
            tuple(x if isinstance(x, float) else index.get(x) for x in v.operands),
        )
        for v in nodes
    ]


def _check(format: str, rankdir: str) -> None:
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")


def draw_dot(
    root: Value,
    format: str = "svg",
    rankdir: str = "LR",
    labels: Mapping[Value, str] | None = None,
    max_nodes: int = 500,
) -> graphviz.Digraph:
    """Draw the graph that computed ``root`` as a ``graphviz.Digraph``.

    Every Value is a record ``{ label | data | grad }`` (numbers as :func:`format_number`
    writes them, the label only if the Value has one), every operation a small node
    showing its symbol (``+``, ``*``, ``**2``, ``relu``, ...) and every literal operand a
    grey ``{ const | 3.0000 }`` record. A Value used far from where it is drawn appears
    again, dashed, next to that use. The result displays inline in Jupyter;
    ``draw_dot(y).render('gout')`` writes ``gout.svg`` (next to the DOT source ``gout``).
    The drawing only reads the graph: it changes nothing in it.

    Args:
        root: the Value to draw, usually after ``root.backpropagate()`` (the drawing
            shows the gradients the graph holds).
        format: ``'svg'``, ``'png'`` or ``'pdf'``: what ``render`` and ``pipe`` produce.
        rankdir: ``'LR'`` (left to right) or ``'TB'`` (top to bottom).
        labels: names for Values, overriding their ``.label``.
        max_nodes: the most Values to draw; a larger graph raises ``ValueError`` as soon
            as the walk has counted past it.

    Raises:
        ValueError: an unknown ``format`` or ``rankdir``, or more than ``max_nodes`` Values.
        ImportError: the graphviz Python package is not installed.

    Building the Digraph needs only the Python package; rendering it (``render``,
    ``pipe``, Jupyter display) also needs Graphviz's ``dot`` program, a system package
    (``apt-get install graphviz``, ``brew install graphviz``, ``conda install graphviz``;
    https://graphviz.org/download/), and raises ``graphviz.ExecutableNotFound`` without it,
    or :class:`nanograd.render.DrawingError` past dot's time or memory limit.
    """
    _check(format, rankdir)
    return draw_values(walk(root, max_nodes), format, rankdir, labels)


def draw_values(
    nodes: Sequence[Value], format: str = "svg", rankdir: str = "LR", labels: Mapping[Value, str] | None = None
) -> graphviz.Digraph:
    """Draw ``nodes`` (a list from :func:`walk`, or part of one) as :func:`draw_dot` does.

    The i-th Value is the graphviz node ``n{i}`` (see :func:`draw_boxes`); an operand that
    is not in ``nodes`` gets no edge.
    """
    _check(format, rankdir)
    return draw_boxes(value_boxes(nodes, labels), format, rankdir)


def draw_graph(graph: Graph, format: str = "svg", rankdir: str = "LR", max_nodes: int = 500) -> graphviz.Digraph:
    """Draw a compiled :class:`~nanograd.compiler.Graph` (``nanograd.compile(fn).graph``).

    Arguments, captured parameters and constants are records (``arg 0[1]``, ``param 3``,
    ``const 1.0``); each op is a node showing its symbol, wired to its inputs in order.
    ``format``, ``rankdir`` and ``max_nodes`` are as for :func:`draw_dot`.
    """
    from .compiler.graph import LEAF_KINDS
    from .ops import lookup

    _check(format, rankdir)
    if len(graph.nodes) > max_nodes:
        raise ValueError(f"the graph has {len(graph.nodes)} nodes, more than max_nodes={max_nodes}")
    dot = _new_drawing(format, rankdir)
    for i, n in enumerate(graph.nodes):
        if n.op not in LEAF_KINDS:
            dot.node(f"n{i}", _plain(lookup(n.op, n.param).symbol))
        elif n.op == "arg":
            scalar = graph.args[n.slot[0]] is None
            dot.node(f"n{i}", f"arg {n.slot[0]}" + ("" if scalar else f"[{n.slot[1]}]"), shape="record")
        else:
            dot.node(f"n{i}", f"{n.op} {n.slot[0] if n.op == 'param' else n.value!r}", shape="record")
        for j in n.inputs:
            dot.edge(f"n{j}", f"n{i}")
    return dot
