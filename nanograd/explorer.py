"""``explore(y)``: one self-contained HTML page that steps through the forward and backward pass of ``y``.

The page shows the graph as :mod:`nanograd.viz` draws it (Graphviz SVG, rendered once
here and embedded) with controls to step, play and jump, also from the keyboard. Each
step highlights one node and the edges it reads; a side panel shows the node's op from
the op table and the numbers going in and out, and on the backward pass the chain-rule
product added into each input's gradient. With ``model=`` the parameters carry their
names from ``named_parameters()`` and, for ``nn`` models, each neuron's weighted sum and
activation is one node whose inside the panel shows on demand (the neuron-level view).

Nothing is computed in the browser: every number on the page is nanograd's own, the
data held by the graph and the gradients :func:`nanograd.grad` returns (so the page
needs no ``backpropagate()`` first and is not misled by a repeated one), formatted by
Python and embedded as JSON. The formulas are the op table's rules themselves, evaluated
on :class:`Formula` placeholders that print instead of compute (``mul``'s vjp ``g * y``
prints ``out.grad * b.data``). Each step carries the texts it changes, before and after,
so stepping forward or back costs the same at any point of the pass. User text (labels,
op symbols, the title) is escaped or inserted as text; the page never evaluates it.
Inline CSS and JavaScript only: no network, no fonts, no server.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._io import atomic_write
from .explore_steps import Item, Steps, items_of, names_of, nearest, shown_gradients
from .neural_net import Module
from .neuron_calls import NeuronCall, neuron_calls
from .value import Value
from .viz import RANKDIRS, Box, draw_boxes, walk

#: The views :func:`explore` draws.
VIEWS = ("values", "neurons")


# -- the page -----------------------------------------------------------------------------------

_TEMPLATE = Path(__file__).with_name("explore.html")
# What the embedded SVG does without: Graphviz's <title>s (browsers show them as tooltips:
# the graph's "%3", node names) and its comments.
_SVG_NOISE = re.compile(r"<title>[^<]*</title>|<!--.*?-->", re.S)


def _script_json(data: object) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</script>``, no ``<!--``)."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _svg(boxes: Sequence[Box], rankdir: str) -> str:
    svg = str(draw_boxes(boxes, format="svg", rankdir=rankdir).pipe(encoding="utf-8"))
    return _SVG_NOISE.sub("", svg[svg.index("<svg") :])  # no XML declaration or doctype: the SVG goes inline


def _box(it: Item, index: Mapping[Value, int], grads: Mapping[Value, float]) -> Box:
    v = it.value
    if it.call is not None:
        symbol: str | None = _neuron_symbol(it.call)
    else:
        symbol = None if v.op is None else v.op.symbol
    operands = tuple(x if isinstance(x, float) else index.get(x) for x in it.operands)
    return Box(it.name, v.data, grads[v], symbol, operands, it.kind)


def _neuron_symbol(call: NeuronCall) -> str:
    """What the op node of a neuron call shows: ``relu(w·x + b)``, or ``w·x + b`` for a linear neuron."""
    act = call.out.op if call.out is not call.sums[-1] else None
    return "w·x + b" if act is None else f"{act.symbol}(w·x + b)"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass(frozen=True, repr=False)
class Explorer:
    """The page made by :func:`explore`: shows inline in Jupyter, ``save()`` writes it to a file."""

    html: str
    title: str = "nanograd explore"
    nodes: int = 0
    steps: int = 0
    view: str = "values"

    def __repr__(self) -> str:
        return (
            f"<nanograd explore page {_short(self.title)!r}: {self.nodes} nodes ({self.view}), {self.steps} steps; "
            "shown inline in Jupyter, .save(path) writes it>"
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` (atomically: an existing file is replaced whole or not at all)."""
        try:
            with atomic_write(path) as f:
                f.write(self.html)
        except OSError as e:
            if e.errno is None or e.filename is None:  # a message of its own: it names what it means to
                raise
            raise type(e)(e.errno, e.strerror, os.fspath(path)) from None  # the file asked for, not the temporary one
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
    model: Module | None = None,
    view: str | None = None,
    rankdir: str = "LR",
    max_nodes: int = 150,
) -> Explorer:
    """A page that steps through the forward and backward pass of the graph behind ``root``.

    The page computes the gradients it shows itself (with :func:`nanograd.grad`, which
    leaves every ``.gradient`` as it was), so no ``backpropagate()`` is needed first.
    ``explore(y)`` displays inline in Jupyter; ``explore(y).save("graph.html")`` writes
    one self-contained HTML file (open it in any browser; no network needed). Controls:
    Back/Step (arrow keys), Play/Pause (space) with a speed slider, Start/End (Home/End);
    in the neuron view, a click on a neuron (or the i key for the current one) shows its inside.

    Args:
        root: the output Value.
        title: the page's heading (default: "nanograd explore").
        labels: names for Values, overriding their ``.label`` and the model's names.
        model: an ``nn`` model (or any ``Module``) whose parameters ``root`` uses: they are
            called by their names from ``named_parameters()`` (``layers.0.neurons.3.w.1``).
        view: ``'values'`` draws every Value; ``'neurons'`` draws each call of one of the
            model's neurons as one node (its weighted sum and activation), whose inside the
            panel shows on demand. Default: ``'neurons'`` when ``model`` has neurons in the graph.
        rankdir: ``'LR'`` (left to right) or ``'TB'`` (top to bottom), as in ``draw_dot``.
        max_nodes: the most nodes the page draws; a larger graph shows the ``max_nodes``
            nearest ``root`` and says so on the page.

    Unnamed Values are called ``v1``, ``v2``, ... in the order the forward pass computes
    them; a literal operand (the ``3`` of ``3 * x``) is drawn as a constant.

    Raises:
        ValueError: an unknown ``rankdir`` or ``view``, ``max_nodes < 1``, or ``view='neurons'``
            with no neuron of ``model`` in the graph.
        ImportError: the graphviz Python package is not installed.
        nanograd.render.DrawingError: Graphviz's dot failed or went past its time or memory limit.
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if view is not None and view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes!r}")
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"model must be an nn Module (MLP, Layer, Neuron), got {type(model).__name__}")
    parameters = set(model.parameters()) if model is not None else set()
    calls: list[NeuronCall] = []
    if model is not None and view != "values":
        nodes = walk(root)
        calls = neuron_calls(nodes, model)
    if view == "neurons" and not calls:
        raise ValueError("view='neurons' needs a model whose neurons compute root: pass model=")
    if calls:
        items = {it.value: it for it in items_of(nodes, parameters, calls)}
        kept, left_out = nearest(root, lambda v: [x for x in items[v].operands if x in items], max_nodes)
        shown = [items[v] for v in kept]
    else:
        kept, left_out = nearest(root, lambda v: [x for x in v.operands if isinstance(x, Value)], max_nodes)
        shown = items_of(kept, parameters, [])
    names = names_of(shown, labels or {}, model, calls)
    for it in shown:
        it.name = names[it.value]
    grads = shown_gradients(root, shown)
    steps = Steps(shown, names, grads)
    forward = [steps.forward(i, it) for i, it in enumerate(shown)]
    backward = [steps.backward(i, it, root) for i, it in reversed(list(enumerate(shown)))]
    index = {it.value: i for i, it in enumerate(shown)}
    notice = ""
    if left_out:
        notice = (
            f"This graph has more than max_nodes={max_nodes} nodes; the page shows the {len(shown)} nearest "
            "the output. Pass a larger max_nodes to explore() to see more (graphs of thousands of values get slow)."
        )
    data = {
        "notice": notice,
        "nodes": [
            {
                "name": it.name,
                "kind": it.kind,
                "op": f"neuron {_neuron_symbol(it.call)}"
                if it.call
                else (it.value.op.name if it.value.op else it.kind),
                "data": repr(it.value.data),
                "grad": repr(grads[it.value]),
                "inputs": [index[x] for x in it.operands if isinstance(x, Value) and x in index],
                "slots": len(it.operands),
                "card": steps.cards.get(i),
            }
            for i, it in enumerate(shown)
        ],
        "steps": forward + backward,
    }
    page_title = title or "nanograd explore"
    parts = {
        "TITLE": html.escape(page_title),
        "SVG": _svg([_box(it, index, grads) for it in shown], rankdir),
        "DATA": _script_json(data),
    }
    # One pass, so that nothing inserted is searched for placeholders again.
    page = re.sub(r"<!--(TITLE|SVG|DATA)-->", lambda m: parts[m[1]], _TEMPLATE.read_text(encoding="utf-8"))
    return Explorer(page, page_title, len(shown), len(data["steps"]), "neurons" if calls else "values")
