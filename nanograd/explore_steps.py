"""What :func:`nanograd.explore` shows, step by step: the values (or neurons) in graph order,
their names and gradients, and each forward and backward step's lines and updates.

Every number is nanograd's own: the data the graph holds and the gradients
:func:`nanograd.grad` returns. The formulas are the op table's rules printed with
:mod:`nanograd.formulas`. Each step carries the texts it changes, before and after, so
the page applies or undoes one step at a time, at the same cost anywhere in the pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .float_math import FLOAT_GRAD_MATH
from .formulas import Formula, equation, formulas, printable
from .functional import grad
from .neural_net import Module
from .neuron_calls import NeuronCall
from .value import Value
from .viz import format_number, walk

# -- what the page shows: items, in graph order ------------------------------------------------


@dataclass
class Item:
    """One node of the page: a Value, or a neuron call drawn as one node (its ``out``)."""

    value: Value
    name: str
    kind: str  # "input", "parameter", "op" or "neuron"
    operands: tuple[Value | float, ...]
    call: NeuronCall | None = None


def items_of(nodes: Sequence[Value], parameters: set[Value], calls: Sequence[NeuronCall]) -> list[Item]:
    """The page's items in graph order (unnamed yet): each neuron call replaces the Values it computes.

    A parameter that only neuron calls read is inside them and not an item of its own.
    """
    by_out = {c.out: c for c in calls}
    inside = {v for c in calls for v in c.inside}
    read_outside = {x for v in nodes if v not in inside or v in by_out for x in v.operands if isinstance(x, Value)}
    items = []
    for v in nodes:
        call = by_out.get(v)
        if call is not None:
            items.append(Item(v, call.name, "neuron", call.inputs, call))
        elif v in inside or (calls and v in parameters and v not in read_outside):
            continue
        elif v.op is None:
            items.append(Item(v, "", "parameter" if v in parameters else "input", ()))
        else:
            items.append(Item(v, "", "op", v.operands))
    return items


def nearest(root: Value, inputs: Callable[[Value], list[Value]], limit: int) -> tuple[list[Value], bool]:
    """The ``limit`` Values nearest ``root`` (breadth first through ``inputs``), each after its inputs.

    Also says whether any were left out. The cost is bounded by ``limit``, not by the graph.
    """
    kept, frontier, left_out = {root}, [root], False
    while frontier:
        following = []
        for v in frontier:
            for x in inputs(v):
                if x in kept:
                    continue
                if len(kept) >= limit:
                    left_out = True
                    continue
                kept.add(x)
                following.append(x)
        frontier = following
    return walk(root, inputs=lambda v: [x for x in inputs(v) if x in kept]), left_out


def names_of(
    shown: Sequence[Item], labels: Mapping[Value, str], model: Module | None, calls: Sequence[NeuronCall]
) -> dict[Value, str]:
    """The names of the Values shown and of those their formulas read.

    ``labels`` first, then the model's names (of its parameters and its neurons' calls),
    then ``.label``, then ``v1, v2, ...``: unnamed Values are numbered in graph order,
    those shown first, so the numbers on the page have no gaps.
    """
    referred = [it.value for it in shown]
    referred += [x for it in shown for x in it.operands if isinstance(x, Value)]
    names = {v: n for n, v in reversed(list(model.named_parameters()))} if model is not None else {}
    names.update({v: v.label for v in referred if v.label and v not in names})
    names.update({v: n for v, n in labels.items() if n})
    names.update({c.out: c.name for c in calls})
    count = 0
    for v in referred:
        if v not in names:
            count += 1
            names[v] = f"v{count}"
    return names


def shown_gradients(root: Value, shown: Sequence[Item]) -> dict[Value, float]:
    """d(root)/dv for every Value the page shows or reads, by :func:`nanograd.grad` (every .gradient left as it was)."""
    wanted = [it.value for it in shown] + [x for it in shown for x in it.operands if isinstance(x, Value)]
    for it in shown:
        if it.call is not None:
            wanted += [*it.call.inside, it.call.neuron.b, *it.call.neuron.w]
    wanted = list(dict.fromkeys(wanted))
    return dict(zip(wanted, grad(root, wanted)))


# -- the steps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Share:
    """What a node's vjp passes to one operand: the formula by name and by number, and the number."""

    operand: Value | float
    by_name: Formula | None  # None: the rule cannot be printed
    by_number: Formula | None
    share: float


class Steps:
    """Writes the page's steps: the forward pass item by item, then the backward pass in reverse.

    Each step lists the texts it changes in the drawing as ``[item, field, before, after]``
    (the page applies ``after`` stepping forward and ``before`` stepping back). On the
    backward pass an input's record shows the gradient shares added so far, then its total.
    """

    def __init__(self, items: Sequence[Item], names: Mapping[Value, str], grads: Mapping[Value, float]) -> None:
        self.names, self.grads = names, grads
        self.index = {it.value: i for i, it in enumerate(items)}
        self.sums: dict[Value, float] = {}  # gradient shares added so far, per Value shown
        self.shown: dict[int, str] = {}  # the grad text each item's record shows now
        self.cards: dict[int, list[list[str]]] = {}  # the inside of each neuron call, by item

    def name(self, x: Value, local: Mapping[Value, str]) -> str:
        return local.get(x) or self.names[x]

    def data(self, x: Value | float, local: Mapping[Value, str]) -> Formula:
        """``x`` in a formula: ``name.data``, or the number of a constant."""
        return Formula(f"{self.name(x, local)}.data") if isinstance(x, Value) else Formula.number(x)

    @staticmethod
    def number(x: Value | float) -> Formula:
        return Formula.number(x.data if isinstance(x, Value) else x)

    def forward_line(self, v: Value, target: str, local: Mapping[Value, str]) -> str:
        """``target = <v's forward rule by name> = <by number> = v.data``."""
        op = v.op
        assert op is not None
        by_name = printable(op.forward, *(self.data(x, local) for x in v.operands))
        by_number = printable(op.forward, *map(self.number, v.operands))
        if by_name is None or by_number is None:
            return f"{target} = {format_number(v.data)} (op {op.name}'s rule cannot be printed as a formula)"
        return equation(target, by_name[0].text, by_number[0].text, format_number(v.data))

    def shares(self, v: Value, g: float, g_text: Formula, local: Mapping[Value, str]) -> list[_Share]:
        """What ``v``'s vjp passes to each operand when ``v``'s gradient is ``g`` (written ``g_text``)."""
        op = v.op
        assert op is not None
        by_name = printable(
            op.vjp, g_text, Formula(f"{self.name(v, local)}.data"), *(self.data(x, local) for x in v.operands)
        )
        by_number = printable(op.vjp, Formula.number(g), Formula.number(v.data), *map(self.number, v.operands))
        numbers = [x.data if isinstance(x, Value) else x for x in v.operands]
        shares = op.vjp(FLOAT_GRAD_MATH, g, v.data, *numbers)
        return [
            _Share(x, by_name[k] if by_name else None, by_number[k] if by_number else None, share)
            for k, (x, share) in enumerate(zip(v.operands, shares))
        ]

    def added(self, share: _Share, target: str, updates: list[list[Any]], assign: bool = False) -> str:
        """The line ``target += formula = numbers = share``; a Value shown on the page shows the new sum."""
        x = share.operand
        if isinstance(x, Value) and x in self.index:
            self.sums[x] = self.sums.get(x, 0.0) + share.share
            updates.append(self.grad_update(self.index[x], self.sums[x]))
        left = f"{target} {'=' if assign else '+='}"
        if share.by_name is None or share.by_number is None:
            return f"{left} {format_number(share.share)} (this rule cannot be printed as a formula)"
        return equation(f"{left} {share.by_name.text}", share.by_number.text, format_number(share.share))

    def grad_update(self, i: int, g: float) -> list[Any]:
        """The update that makes item ``i``'s record show the gradient ``g``."""
        before = self.shown.get(i, "grad ?")
        self.shown[i] = f"grad {format_number(g)}"
        return [i, "grad", before, self.shown[i]]

    def forward(self, i: int, it: Item) -> dict[str, Any]:
        v, name = it.value, it.name
        if it.call is not None:
            lines = self.neuron_forward(it.call)
        elif v.op is None:
            what = "a parameter of the model" if it.kind == "parameter" else "a leaf: an input or a parameter"
            lines = [f"{name} is {what}", f"{name}.data = {format_number(v.data)}"]
        else:
            operands = ", ".join(self.names[x] if isinstance(x, Value) else format_number(x) for x in v.operands)
            lines = [
                f"{name} = {v.op.name}({operands})",
                f"op {v.op.name} ({v.op.symbol}): {v.op.doc}",
                self.forward_line(v, f"{name}.data", {}),
            ]
        update = [i, "data", "data ?", f"data {format_number(v.data)}"]
        return {"node": i, "phase": "forward", "lines": lines, "updates": [update]}

    def backward(self, i: int, it: Item, root: Value) -> dict[str, Any]:
        v, name = it.value, it.name
        g = self.grads[v]
        updates = [self.grad_update(i, g)]
        if v is root:
            lines = [f"{name}.grad = {format_number(g)}: the gradient of the output with respect to itself"]
        else:
            lines = [
                f"{name}.grad = {format_number(g)}: complete, every value computed from {name} has added its share"
            ]
        try:
            if it.call is not None:
                lines += self.neuron_backward(i, it.call, updates)
            elif v.op is None:
                lines.append(f"{name} is a leaf: nothing to pass on")
            elif v.op.name == "custom":
                lines.append(
                    f"op {v.op.symbol}: a micrograd-style custom op; its own _backward function adds into its "
                    "inputs' gradients, which show complete at their own steps"
                )
            else:
                lines.append(f"op {v.op.name} ({v.op.symbol}): {v.op.doc}; the chain rule adds into each input:")
                for share in self.shares(v, g, Formula(f"{name}.grad"), {}):
                    if isinstance(share.operand, Value):
                        lines.append(self.added(share, f"{self.names[share.operand]}.grad", updates))
                    else:
                        lines.append(f"{format_number(share.operand)} is a constant: it gets no gradient")
        except (ArithmeticError, ValueError) as e:
            lines.append(f"the vjp rule fails at these numbers: {e}")
        return {"node": i, "phase": "backward", "lines": lines, "updates": updates}

    # -- a neuron call, drawn as one node -------------------------------------------------------

    @staticmethod
    def local_names(call: NeuronCall) -> dict[Value, str]:
        """The names inside a neuron: ``b``, ``w.i``, its inputs ``x.i``, its weighted sum ``z``, and the rest."""
        local: dict[Value, str] = {x: f"x.{i}" for i, x in enumerate(call.inputs) if isinstance(x, Value)}
        local.update({w: f"w.{i}" for i, w in enumerate(call.neuron.w)})
        local[call.neuron.b] = "b"
        local.update({p: f"(w.{i} * x.{i})" for i, p in enumerate(call.products)})
        local.update({s: f"z.{i}" for i, s in enumerate(call.sums)})  # partial sums: no rule here reads them
        local[call.sums[-1]] = "z"
        return local

    def weighted_sum(self, call: NeuronCall, term: Callable[[Value | float], Formula]) -> Formula:
        """``b + w.0 * x.0 + ...`` with ``term`` for each operand, written by the ops' own forward rules."""
        total = term(call.neuron.b)
        for s, p in zip(call.sums, call.products):
            assert s.op is not None and p.op is not None
            total = formulas(s.op.forward, total, formulas(p.op.forward, *map(term, p.operands))[0])[0]
        return total

    def neuron_forward(self, call: NeuronCall) -> list[str]:
        local = self.local_names(call)
        z, act = call.sums[-1], call.out.op if call.out is not call.sums[-1] else None
        name_of = lambda x: Formula(local[x]) if isinstance(x, Value) else Formula.number(x)
        inputs = "".join(f", x.{i} is {self.names[x]}" for i, x in enumerate(call.inputs) if isinstance(x, Value))
        lines = [
            f"{call.name} = {formulas(act.forward, Formula('z'))[0].text if act else 'z'}, "
            f"z = {self.weighted_sum(call, name_of).text}",
            f"inside the neuron: w.i is {call.neuron_name}.w.i, b is {call.neuron_name}.b{inputs}",
            equation(
                "z.data",
                self.weighted_sum(call, lambda x: self.data(x, local)).text,
                self.weighted_sum(call, self.number).text,
                format_number(z.data),
            ),
        ]
        if act is not None:
            lines.append(self.forward_line(call.out, f"{call.name}.data", local))
        return lines

    def neuron_backward(self, i: int, call: NeuronCall, updates: list[list[Any]]) -> list[str]:
        """The chain rule through the neuron's own nodes, from its output down to b, each w.i and each x.i.

        The sums and products the neuron computes on the way get no line: they pass the
        gradient on, and the formulas say how (``w.0.grad += z.grad * x.0.data``).
        """
        local = self.local_names(call)
        local[call.out] = call.name
        inside = set(call.inside)
        gradient = {call.out: self.grads[call.out]}
        written = {call.out: Formula(f"{call.name}.grad")}
        lines = [f"the chain rule inside the neuron, by the rules of {', '.join(_op_names(call))}:"]
        rows: dict[Value, str] = {}
        for v in reversed(call.inside):
            for share in self.shares(v, gradient[v], written[v], local):
                x = share.operand
                if not isinstance(x, Value):
                    continue
                if x is call.sums[-1]:
                    lines.append(self.added(share, "z.grad", updates, assign=True))
                    gradient[x], written[x] = share.share, Formula("z.grad")
                elif x in inside:
                    written[x] = Formula.number(share.share) if share.by_name is None else share.by_name
                    gradient[x] = share.share
                else:
                    lines.append(self.added(share, f"{local[x]}.grad", updates))
                    rows[x] = f"+= {format_number(share.share)}"
        self.cards[i] = self.card(call, local, gradient, rows)
        return lines

    def card(
        self, call: NeuronCall, local: Mapping[Value, str], gradient: Mapping[Value, float], shares: Mapping[Value, str]
    ) -> list[list[str]]:
        """The table of a neuron's inside: one row per value it reads or computes (name, data, gradient)."""
        rows: list[tuple[str, float, str]] = [("b", call.neuron.b.data, shares[call.neuron.b])]
        for k, (w, x, p) in enumerate(zip(call.neuron.w, call.inputs, call.products)):
            rows.append((f"w.{k}", w.data, shares[w]))
            if isinstance(x, Value):
                rows.append((f"x.{k} ({self.names[x]})", x.data, shares.get(x, "")))
            else:
                rows.append((f"x.{k} (a constant)", x, ""))
            rows.append((f"w.{k} * x.{k}", p.data, format_number(gradient[p])))
        rows.append(("z", call.sums[-1].data, format_number(gradient[call.sums[-1]])))
        if call.out is not call.sums[-1]:
            rows.append((call.name, call.out.data, format_number(gradient[call.out])))
        return [[name, format_number(data), g] for name, data, g in rows]


def _op_names(call: NeuronCall) -> list[str]:
    """The ops a neuron call is made of, each once, in the order the forward pass meets them."""
    return list(dict.fromkeys(v.op.symbol for v in call.inside if v.op is not None))
