"""``explore(y)``: one self-contained HTML page that steps through the forward and backward pass of ``y``.

The page shows the graph as :func:`nanograd.viz.draw_dot` lays it out (Graphviz SVG,
rendered once here and embedded) with controls to step, play and jump, also from the
keyboard. Each step highlights one node and the edges it reads; a side panel shows
the node's op from the op table and the numbers going in and out, and on the backward
pass the chain-rule product added into each input's gradient.

Nothing is computed in the browser: every number on the page is nanograd's own
``.of``/``.gradient`` or an op's rule evaluated here, formatted by Python and embedded
as JSON. The formulas are the op table's rules themselves, evaluated on
:class:`_Text` placeholders that print instead of compute (``mul``'s vjp ``g * y``
prints ``out.grad * b.data``). User text (labels, the title) is HTML-escaped or
inserted as text; the page never evaluates it. Inline CSS and JavaScript only: no
network, no fonts, no server.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ._io import atomic_write
from .float_math import FLOAT_MATH
from .value import Value

#: Operator precedence of a printed formula, loosest first (an atom needs no parentheses).
COMPARE, SUM, PRODUCT, UNARY, POWER, ATOM = range(6)


def _infix(symbol: str, rank: int, right_assoc: bool = False) -> tuple[Callable[..., _Text], Callable[..., _Text]]:
    """The operator method for ``symbol`` and its reflected twin (``__add__`` and ``__radd__``)."""

    def join(x: object, y: object) -> _Text:
        left, right = _Text.of(x), _Text.of(y)
        return _Text(f"{left.wrap(rank + right_assoc)} {symbol} {right.wrap(rank + (not right_assoc))}", rank)

    return join, lambda self, other: join(other, self)


class _Text:
    """A formula as text: op rules run on these print themselves (``x * y`` -> ``"a.data * b.data"``)."""

    __slots__ = ("rank", "text")

    def __init__(self, text: str, rank: int = ATOM) -> None:
        self.text, self.rank = text, rank

    @classmethod
    def of(cls, x: object) -> _Text:
        """``x`` itself if it is a formula, else the number ``x`` written as Python writes it."""
        if isinstance(x, _Text):
            return x
        text = repr(x)
        return cls(text, UNARY if text.startswith("-") else ATOM)

    def wrap(self, rank: int) -> str:
        """The text, in parentheses if it binds looser than ``rank``."""
        return f"({self.text})" if self.rank < rank else self.text

    def __bool__(self) -> bool:
        raise TypeError("a rule that branches on its inputs cannot be printed as a formula")

    def __neg__(self) -> _Text:
        return _Text(f"-{self.wrap(UNARY + 1)}", UNARY)  # -(-3.0), not --3.0

    __add__, __radd__ = _infix("+", SUM)
    __sub__, __rsub__ = _infix("-", SUM)
    __mul__, __rmul__ = _infix("*", PRODUCT)
    __truediv__, __rtruediv__ = _infix("/", PRODUCT)
    __pow__, __rpow__ = _infix("**", POWER, right_assoc=True)
    __lt__, __le__ = _infix("<", COMPARE)[0], _infix("<=", COMPARE)[0]
    __gt__, __ge__ = _infix(">", COMPARE)[0], _infix(">=", COMPARE)[0]


def _call(name: str) -> Callable[..., _Text]:
    return lambda *args: _Text(f"{name}({', '.join(_Text.of(a).text for a in args)})")


#: The math namespace that prints: every function of FLOAT_MATH as a call, ``pow`` as ``**``.
TEXT_MATH = SimpleNamespace(
    **{
        **{name: _call(name) for name in vars(FLOAT_MATH)},
        "pow": lambda x, y: _Text.of(x) ** y,
        "div": lambda x, y: _Text.of(x) / y,
        "xlogy": lambda x, y: _Text.of(x) * _call("log")(y),
    }
)


def print_rule(rule: Callable[..., Any], *args: str | float) -> list[str]:
    """An op rule printed with ``args`` (names or numbers) in place of its inputs, one text per output."""
    out = rule(TEXT_MATH, *(_Text(a) if isinstance(a, str) else _Text.of(a) for a in args))
    return [_Text.of(x).text for x in (out if isinstance(out, tuple) else (out,))]


# -- the steps ------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    """A number as the graph's records show it (draw_dot's 4 decimals)."""
    return f"{x:.4f}"


def _equation(*parts: str) -> str:
    """``parts`` joined by `` = ``, each one shown once (``v.grad += g = 1.0``, not ``... = 1.0 = 1.0``)."""
    shown = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    return " = ".join(shown)


def _forward_step(i: int, v: Value, names: Mapping[Value, str], inputs: Sequence[Value]) -> dict[str, Any]:
    name = names[v]
    if v.op is None:
        lines = [f"{name} is a leaf: an input or a parameter", f"{name}.data = {v.of!r}"]
    else:
        ins = [names[x] for x in inputs]
        by_name = print_rule(v.op.forward, *(f"{n}.data" for n in ins))[0]
        by_number = print_rule(v.op.forward, *(x.data for x in inputs))[0]
        lines = [
            f"{name} = {v.op.name}({', '.join(ins)})",
            f"op {v.op.name} ({v.op.symbol}): {v.op.doc}",
            _equation(f"{name}.data", by_name, by_number, repr(v.of)),
        ]
    return {"node": i, "phase": "forward", "lines": lines, "updates": [[i, "data", f"data {_fmt(v.of)}"]]}


def _backward_step(
    i: int,
    v: Value,
    root: Value,
    names: Mapping[Value, str],
    index: Mapping[Value, int],
    sums: dict[Value, float],
    inputs: Sequence[Value],
) -> dict[str, Any]:
    name = names[v]
    updates: list[list[Any]] = [[i, "grad", f"grad {_fmt(v.gradient)}"]]
    if v is root:
        lines = [f"{name}.grad = {v.gradient!r}: the gradient of the output with respect to itself"]
    else:
        lines = [f"{name}.grad = {v.gradient!r}: complete, every value computed from {name} has added its share"]
    if v.op is None:
        lines.append(f"{name} is a leaf: nothing to pass on")
        return {"node": i, "phase": "backward", "lines": lines, "updates": updates}
    ins = [names[x] for x in inputs]
    by_name = print_rule(v.op.vjp, f"{name}.grad", f"{name}.data", *(f"{n}.data" for n in ins))
    by_number = print_rule(v.op.vjp, v.gradient, v.of, *(x.data for x in inputs))
    shares = v.op.vjp(FLOAT_MATH, v.gradient, v.of, *(x.data for x in inputs))
    lines.append(f"op {v.op.name} ({v.op.symbol}): {v.op.doc}; the chain rule adds into each input:")
    for x, n, symbolic, numeric, share in zip(inputs, ins, by_name, by_number, shares):
        lines.append(_equation(f"{n}.grad += {symbolic}", numeric, repr(share)))
        sums[x] = sums.get(x, 0.0) + share
        if x in index:
            updates.append([index[x], "grad", f"grad {_fmt(sums[x])}"])
    return {"node": i, "phase": "backward", "lines": lines, "updates": updates}


def _nearest(root: Value, limit: int, inputs: Mapping[Value, Sequence[Value]]) -> set[Value]:
    """The ``limit`` Values nearest ``root`` (breadth first through the inputs)."""
    kept, frontier = {root}, [root]
    while frontier and len(kept) < limit:
        following = []
        for v in frontier:
            for x in inputs[v]:
                if x not in kept and len(kept) < limit:
                    kept.add(x)
                    following.append(x)
        frontier = following
    return kept


def _page_data(
    root: Value,
    nodes: Sequence[Value],
    names: Mapping[Value, str],
    total: int,
    inputs: Mapping[Value, Sequence[Value]],
) -> dict[str, Any]:
    index = {v: i for i, v in enumerate(nodes)}
    sums: dict[Value, float] = {}
    steps = [_forward_step(i, v, names, inputs[v]) for i, v in enumerate(nodes)]
    steps += [_backward_step(i, v, root, names, index, sums, inputs[v]) for i, v in reversed(list(enumerate(nodes)))]
    notice = ""
    if len(nodes) < total:
        notice = (
            f"This graph has {total} values; the page shows the {len(nodes)} nearest the output. "
            "Pass a larger max_nodes to explore() to see more (graphs of thousands of values get slow)."
        )
    return {
        "notice": notice,
        "nodes": [
            {
                "name": names[v],
                "op": v.op.name if v.op is not None else "leaf",
                "data": repr(v.of),
                "grad": repr(v.gradient),
                "inputs": [index[x] for x in inputs[v] if x in index],
            }
            for v in nodes
        ],
        "steps": steps,
    }


# -- the page -----------------------------------------------------------------------------------

_TEMPLATE = Path(__file__).with_name("explore.html")


def _script_json(data: object) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _svg(
    nodes: Sequence[Value], names: Mapping[Value, str], rankdir: str, inputs: Mapping[Value, Sequence[Value]]
) -> str:
    from .viz import draw_values

    svg = str(draw_values(nodes, format="svg", rankdir=rankdir, labels=names, inputs=inputs).pipe(encoding="utf-8"))
    return svg[svg.index("<svg") :]  # drop the XML declaration and doctype: the SVG goes inline


@dataclass(frozen=True)
class Explorer:
    """The page made by :func:`explore`: shows inline in Jupyter, ``save()`` writes it to a file."""

    html: str

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (atomically: an existing file is replaced whole or not at all)."""
        with atomic_write(path) as f:
            f.write(self.html)
        return Path(path)

    def _repr_html_(self) -> str:
        # An iframe keeps the page's styles, ids and script apart from the notebook's.
        return (
            f'<iframe srcdoc="{html.escape(self.html)}" sandbox="allow-scripts" '
            'style="width: 100%; height: 640px; border: 1px solid #ccc" title="nanograd explore"></iframe>'
        )


def explore(
    root: Value,
    title: str | None = None,
    labels: Mapping[Value, str] | None = None,
    rankdir: str = "LR",
    max_nodes: int = 150,
) -> Explorer:
    """A page that steps through the forward and backward pass of the graph behind ``root``.

    Call ``root.backpropagate()`` first: the page shows the values and gradients the
    graph holds. ``explore(y)`` displays inline in Jupyter; ``explore(y).save("graph.html")``
    writes one self-contained HTML file (open it in any browser; no network needed).
    Controls: Back/Step (arrow keys), Play/Pause (space) with a speed slider, Start/End
    (Home/End).

    Args:
        root: the output Value, after ``root.backpropagate()``.
        title: the page's heading (default: "nanograd explore").
        labels: names for Values, overriding their ``.label``; unnamed Values are
            called ``v0``, ``v1``, ... in the order the forward pass computes them.
        rankdir: ``'LR'`` (left to right) or ``'TB'`` (top to bottom), as in ``draw_dot``.
        max_nodes: the most Values the page shows; a larger graph shows the
            ``max_nodes`` Values nearest ``root`` and says so on the page.

    Raises:
        ValueError: ``root`` has no gradient yet (``backpropagate()`` was not called),
            ``max_nodes < 1`` or an unknown ``rankdir``.
        ImportError: the graphviz Python package is not installed (``pip install "nanograd[viz]"``).
    """
    from .viz import RANKDIRS, walk

    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes!r}")
    if root.gradient == 0.0:
        raise ValueError("explore() shows a backward pass: call root.backpropagate() first (its gradient is 0.0)")
    everything, inputs = walk(root)
    kept = _nearest(root, max_nodes, inputs) if len(everything) > max_nodes else set(everything)
    nodes = [v for v in everything if v in kept]
    labels = labels or {}
    names = {v: labels.get(v) or v.label or f"v{i}" for i, v in enumerate(everything)}
    data = _page_data(root, nodes, names, len(everything), inputs)
    parts = {
        "TITLE": html.escape(title or "nanograd explore"),
        "SVG": _svg(nodes, names, rankdir, inputs),
        "DATA": _script_json(data),
    }
    # One pass, so that nothing inserted is searched for placeholders again.
    return Explorer(re.sub(r"<!--(TITLE|SVG|DATA)-->", lambda m: parts[m[1]], _TEMPLATE.read_text(encoding="utf-8")))
