"""Lowering: turn a :class:`Graph` into a short program of array steps (a :class:`Plan`).

Every step writes one *register*, a 2-D array with one row per sample, or a single row
for numbers that do not depend on the sample (they broadcast). Each graph node that is
computed lives in one column of one register. The lowering works in three passes:

1. **Sums.** A tree of ``add`` nodes (each inner one used only by the next) is one sum,
   and a ``mul`` used only by the sum is one of its products. ``b + w0*x0 + w1*x1 + ...``,
   ``sum(w * x for ...)`` without a bias, a dot product ``q . k`` of computed vectors and
   ``sum(exps)`` are all sums: terms and products, in any order and nesting.
2. **Levels.** Each remaining node's level is one more than its inputs' highest (leaves
   are level 0). Nodes of one level do not depend on each other, so those that do the
   same thing become one step: one op over many columns (:class:`Map`), one
   :class:`Take`, and sums of one shape one :class:`Contract`, or one :class:`Linear` (a
   matrix product) where the products multiply captured weights by shared inputs --
   the neurons of a layer, the query, key and value of every position of a GPT.
3. **Inputs.** A step reads a register, or some of its columns in order (a view); where
   the columns it needs lie in several registers, a :class:`Gather` puts them side by side.

``Map`` runs the op table's own forward and vjp rules on arrays; ``Linear`` and
``Contract`` are ``add`` and ``mul`` with their vjps (``g`` to the terms, ``g * y`` and
``g * x`` to the factors of a product) contracted over the sum; ``Take`` moves numbers.
Sums run in another order than the eager engine's (BLAS's), so results agree with it to
rounding (1e-9 relative), not bit for bit. ``print(plan)`` lists the steps.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .graph import LEAF_KINDS, TAKE, Graph, op_of

Array = Any  # a numpy array or a torch tensor
#: What a step reads: register ``reg``, all of it (``cols`` is None) or its columns ``cols`` in order.
Input = tuple[int, tuple[int, ...] | None]


@dataclass(frozen=True)
class Argument:
    """Register = traced argument ``index`` of the batch, shape (N, k)."""

    index: int


@dataclass(frozen=True)
class Leaves:
    """Register = one row of numbers: the captured parameters, or the constants."""

    kind: str  # "param" or "const"


@dataclass(frozen=True)
class Gather:
    """Register = the columns ``parts = ((register, (col, ...)), ...)`` side by side."""

    parts: tuple[tuple[int, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Map:
    """Register = the op ``name`` (with ``param``) applied elementwise to the inputs.

    An input of one column broadcasts over the others (the ``scale`` of ``x * scale``).
    """

    name: str
    param: float | None
    inputs: tuple[Input, ...]


@dataclass(frozen=True)
class Linear:
    """Register = ``blocks`` matrix products: ``X[:, p] @ W.T + b`` for each block ``p`` of input ``x``.

    ``x`` holds ``blocks`` inputs of ``J`` columns each; ``W[o, j]`` is the parameter in slot
    ``weights[o][j]``; block ``p``'s outputs are columns ``p*O .. p*O + O - 1``. ``b`` is the
    input ``bias``, the parameters in ``bias_slots``, or nothing.
    """

    x: Input
    weights: tuple[tuple[int, ...], ...]
    blocks: int = 1
    bias: Input | None = None
    bias_slots: tuple[int, ...] = ()


@dataclass(frozen=True)
class Contract:
    """Register = sums: column ``o`` is ``sum_j A[:, o*J + j] * B[:, o*J + j] + sum_k C[:, o*K + k]``.

    ``A``, ``B`` (``products`` = J per sum) and ``C`` (``terms`` = K per sum) are inputs;
    ``a`` and ``b`` are None when there are no products, ``c`` when there are no other terms.
    """

    a: Input | None
    b: Input | None
    products: int
    c: Input | None
    terms: int


@dataclass(frozen=True)
class Take:
    """Register = choices: column ``o`` is ``T[:, o*size + I[:, o]]`` (``I`` may be one column for all)."""

    index: Input
    table: Input
    size: int


Step = Argument | Leaves | Gather | Map | Linear | Contract | Take


@dataclass(frozen=True)
class Plan:
    """The steps (step ``i`` writes register ``i``) and where the outputs live.

    ``widths`` and ``batched`` say each register's columns and whether it has a row per
    sample (else one row); ``needs_grad`` whether it depends on an argument or a parameter.
    """

    steps: tuple[Step, ...]
    widths: tuple[int, ...]
    batched: tuple[bool, ...]
    outputs: tuple[tuple[int, int], ...]
    params: int  # the register of the captured parameters
    needs_grad: tuple[bool, ...]
    constants: tuple[float, ...]  # the numbers of the constants register
    names: tuple[str, ...] = ()  # the traced arguments' names, for printing

    @functools.cached_property
    def sample_width(self) -> int:
        """Numbers per sample in all registers with one row per sample, temporaries included."""
        total = 0
        for step, width, batched in zip(self.steps, self.widths, self.batched):
            if batched:
                total += width * (1 + (step.products if isinstance(step, Contract) else 0))
        return max(1, total)

    def __str__(self) -> str:
        return format_plan(self)


def build_plan(graph: Graph) -> Plan:
    """Lower ``graph`` into array steps (see the module docstring); ValueError for an unknown op."""
    return _Lowering(graph).plan()


@dataclass
class _Sum:
    """A tree of adds: its products (pairs of nodes) and its other terms, left to right."""

    products: list[tuple[int, int]]
    terms: list[int]


class _Lowering:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes = graph.nodes
        self.uses = uses = [0] * len(self.nodes)
        for n in self.nodes:
            for j in n.inputs:
                uses[j] += 1
        for o in graph.outputs:
            uses[o] += 1  # an output is used by the caller: never folded away
        self.steps: list[Step] = []
        self.widths: list[int] = []
        self.batched: list[bool] = []
        self.loc: dict[int, tuple[int, int]] = {}  # node -> (register, column)
        self.weighted: dict[int, tuple[tuple[int, ...], tuple[int, ...]] | None] = {}  # sum -> _weighted(sum)
        self.sums = self._find_sums()

    # -- pass 1: sums ----------------------------------------------------------------------
    def _find_sums(self) -> dict[int, _Sum]:
        """The sums (see the module docstring), keyed by their root add; their inner nodes are absorbed."""
        nodes, uses = self.nodes, self.uses
        inner = [False] * len(nodes)  # an add used once, by another add
        for n in nodes:
            if n.op == "add":
                for j in n.inputs:
                    if uses[j] == 1 and nodes[j].op == "add":
                        inner[j] = True
        # Every inner add is absorbed into the sum at the root of its tree (that root has an
        # inner add, so it is a sum), and so are the products found below.
        self.absorbed: set[int] = {i for i, x in enumerate(inner) if x}
        sums: dict[int, _Sum] = {}
        # One pass in order, bottom up: an add's leaves are its inputs', left to right. An inner
        # add's leaves wait here for the one add that reads it, which takes over the list.
        waiting: dict[int, list[int]] = {}
        for i, n in enumerate(nodes):
            if n.op != "add":
                continue
            a, b = n.inputs
            leaves = waiting.pop(a) if inner[a] else [a]
            if inner[b]:
                leaves += waiting.pop(b)
            else:
                leaves.append(b)
            if inner[i]:
                waiting[i] = leaves
                continue
            products = {j for j in leaves if nodes[j].op == "mul" and uses[j] == 1}
            if not products and not inner[a] and not inner[b]:
                continue  # a plain x + y stays an add
            total = _Sum([], [])
            for j in leaves:
                if j in products:
                    x, y = nodes[j].inputs
                    total.products.append((x, y))
                else:
                    total.terms.append(j)
            sums[i] = total
            self.absorbed.update(products)
        return sums

    def _inputs(self, i: int) -> list[int]:
        """The nodes a (not absorbed) node reads: a sum's factors and terms, an op's inputs."""
        total = self.sums.get(i)
        if total is None:
            return list(self.nodes[i].inputs)
        return [x for pair in total.products for x in pair] + total.terms

    # -- pass 2: levels and groups ---------------------------------------------------------
    def plan(self) -> Plan:
        graph, nodes = self.graph, self.nodes
        arg_registers = [self._emit(Argument(a), k or 1, True) for a, k in enumerate(graph.args)]
        self.param_register = self._emit(Leaves("param"), graph.n_params, False)
        consts = [i for i, n in enumerate(nodes) if n.op == "const"]
        const_register = self._emit(Leaves("const"), len(consts), False)
        self.loc.update({i: (const_register, c) for c, i in enumerate(consts)})
        self.batched_node = [False] * len(nodes)
        level = [0] * len(nodes)
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, n in enumerate(nodes):  # one pass: the leaves' columns, then each op's level and group
            if n.op == "arg":
                self.loc[i] = (arg_registers[n.slot[0]], n.slot[1])
                self.batched_node[i] = True
            elif n.op == "param":
                self.loc[i] = (self.param_register, n.slot[0])
            elif n.op not in LEAF_KINDS and i not in self.absorbed:
                ins = self._inputs(i)
                level[i] = 1 + max((level[j] for j in ins), default=0)
                self.batched_node[i] = any(self.batched_node[j] for j in ins)
                groups[(level[i], self.batched_node[i], *self._signature(i))].append(i)
        for key in sorted(groups, key=lambda k: (k[0], groups[k][0])):
            self._lower_group(key[2], groups[key])
        outputs = tuple(self.loc[o] for o in graph.outputs)
        constants = tuple(nodes[i].value for i in consts)
        return Plan(
            tuple(self.steps),
            tuple(self.widths),
            tuple(self.batched),
            outputs,
            self.param_register,
            needs_grad(tuple(self.steps)),
            constants,  # type: ignore[arg-type]
            graph.names,
        )

    def _signature(self, i: int) -> tuple[Any, ...]:
        """What a group's nodes have in common: the op, a take's size, or a sum's shape."""
        n = self.nodes[i]
        if i in self.sums:
            total = self.sums[i]
            return "sum", len(total.products), len(total.terms)
        if n.op == TAKE:
            return "take", len(n.inputs) - 1
        op_of(n.op, n.param)  # an unknown op fails here, before anything runs
        return n.op, n.param

    def _emit(self, step: Step, width: int, batched: bool) -> int:
        self.steps.append(step)
        self.widths.append(width)
        self.batched.append(batched)
        return len(self.steps) - 1

    def _place(self, group: list[int], step: Step) -> None:
        """Emit ``step`` computing ``group``, one column per node in order."""
        reg = self._emit(step, len(group), self.batched_node[group[0]])
        self.loc.update({j: (reg, c) for c, j in enumerate(group)})

    def _lower_group(self, kind: str, group: list[int]) -> None:
        nodes = self.nodes
        if kind == "sum":
            self._lower_sums(group)
        elif kind == "take":
            index = self._input_of([nodes[i].inputs[0] for i in group], broadcast=True)
            table = self._input_of([j for i in group for j in nodes[i].inputs[1:]])
            self._place(group, Take(index, table, len(nodes[group[0]].inputs) - 1))
        else:
            n = nodes[group[0]]
            operands = [[nodes[i].inputs[p] for i in group] for p in range(len(n.inputs))]
            # One node for a whole operand broadcasts, unless every operand would (repeated nodes).
            spread = len(group) == 1 or any(len(set(nodes_p)) > 1 for nodes_p in operands)
            inputs = tuple(self._input_of(xs, broadcast=spread or p > 0) for p, xs in enumerate(operands))
            self._place(group, Map(n.op, n.param, inputs))

    def _lower_sums(self, group: list[int]) -> None:
        """Sums of one shape: Linear steps where weights meet shared inputs, else one Contract."""
        linear = self._linear_blocks(group)
        if linear is not None:
            for block in linear:
                self._lower_linear(block)
            return
        sums = [self.sums[i] for i in group]
        products, terms = len(sums[0].products), len(sums[0].terms)
        a = b = c = None
        if products:
            a = self._input_of([x for s in sums for x, _ in s.products])
            b = self._input_of([y for s in sums for _, y in s.products])
        if terms:
            c = self._input_of([t for s in sums for t in s.terms])
        self._place(group, Contract(a, b, products, c, terms))

    def _weighted(self, i: int) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """(weight slots, input nodes) if every product of sum ``i`` is a captured weight times an input."""
        if i not in self.weighted:  # asked for each sum up to three times while grouping and lowering
            self.weighted[i] = self._find_weights(i)
        return self.weighted[i]

    def _find_weights(self, i: int) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        slots, xs = [], []
        for x, y in self.sums[i].products:
            if self.nodes[y].op == "param":
                slots.append(self.nodes[y].slot[0])
                xs.append(x)
            elif self.nodes[x].op == "param":
                slots.append(self.nodes[x].slot[0])
                xs.append(y)
            else:
                return None
        return tuple(slots), tuple(xs)

    def _linear_blocks(self, group: list[int]) -> list[list[list[int]]] | None:
        """The group as Linear steps, each a list of blocks (sums over the same inputs), or None.

        A sum qualifies when all its products multiply a captured weight by an input and it
        has at most one other term (its bias); blocks of one step share their weight matrix.
        """
        if len(self.sums[group[0]].terms) > 1 or not self.sums[group[0]].products:
            return None
        blocks: dict[tuple[int, ...], list[int]] = {}
        for i in group:
            weighted = self._weighted(i)
            if weighted is None:
                return None
            blocks.setdefault(weighted[1], []).append(i)
        steps: dict[tuple[tuple[int, ...], ...], list[list[int]]] = defaultdict(list)
        for block in blocks.values():
            steps[tuple(self._weighted(i)[0] for i in block)].append(block)  # type: ignore[index]
        return list(steps.values())

    def _lower_linear(self, blocks: list[list[int]]) -> None:
        weights = tuple(self._weighted(i)[0] for i in blocks[0])  # type: ignore[index]
        xs = [x for block in blocks for x in self._weighted(block[0])[1]]  # type: ignore[index]
        group = [i for block in blocks for i in block]
        x = self._input_of(xs)
        biases = [self.sums[i].terms[0] for i in group] if self.sums[group[0]].terms else []
        if biases and all(self.nodes[t].op == "param" for t in biases):  # a model's biases: no gather needed
            step = Linear(x, weights, len(blocks), None, tuple(self.nodes[t].slot[0] for t in biases))
        else:
            bias = self._input_of(biases, broadcast=True) if biases else None
            step = Linear(x, weights, len(blocks), bias)
        self._place(group, step)

    # -- pass 3: inputs ----------------------------------------------------------------------
    def _input_of(self, nodes: list[int], broadcast: bool = False) -> Input:
        """An input holding exactly ``nodes`` as its columns, in order (gathered if in several registers).

        With ``broadcast``, one node repeated is one column (the step broadcasts it).
        """
        if broadcast and len(set(nodes)) == 1:
            nodes = nodes[:1]
        locs = [self.loc[j] for j in nodes]
        reg = locs[0][0]
        if len(locs) == self.widths[reg] and all(loc == (reg, c) for c, loc in enumerate(locs)):
            return reg, None
        if all(r == reg for r, _ in locs):
            return reg, tuple(c for _, c in locs)
        parts: list[tuple[int, list[int]]] = []
        for r, c in locs:
            if parts and parts[-1][0] == r:
                parts[-1][1].append(c)
            else:
                parts.append((r, [c]))
        step = Gather(tuple((r, tuple(cs)) for r, cs in parts))
        return self._emit(step, len(nodes), any(self.batched[r] for r, _ in parts)), None


def needs_grad(steps: tuple[Step, ...], arguments: bool = True) -> tuple[bool, ...]:
    """Per step: does its register depend on a captured parameter (or, with ``arguments``, an argument)?"""
    needs: list[bool] = []
    for step in steps:
        if isinstance(step, Argument):
            needs.append(arguments)
        elif isinstance(step, Leaves):
            needs.append(step.kind == "param")
        elif isinstance(step, Gather):
            needs.append(any(needs[r] for r, _ in step.parts))
        elif isinstance(step, Linear):
            needs.append(True)
        elif isinstance(step, Contract):
            needs.append(any(needs[r[0]] for r in (step.a, step.b, step.c) if r is not None))
        elif isinstance(step, Take):
            needs.append(needs[step.table[0]])
        else:
            needs.append(any(needs[j] for j, _ in step.inputs))
    return tuple(needs)


# -- the printed form ---------------------------------------------------------------------------


def format_plan(plan: Plan) -> str:
    """The plan as text: one line per step with the shape of its register, outputs last."""
    lines = []
    for i, step in enumerate(plan.steps):
        shape = f"{'N' if plan.batched[i] else '1'} x {plan.widths[i]}"
        lines.append(f"r{i} = {_describe(step, plan)}".ljust(48) + f"  {shape}")
    lines.append("return " + " ".join(f"r{r}[{c}]" for r, c in plan.outputs))
    return "\n".join(lines)


def _describe(step: Step, plan: Plan) -> str:
    if isinstance(step, Argument):
        name = plan.names[step.index] if step.index < len(plan.names) and plan.names[step.index] else ""
        return f"arg {step.index}" + (f" ({name})" if name else "")
    if isinstance(step, Leaves):
        return (
            "params"
            if step.kind == "param"
            else "consts "
            + " ".join(f"{c:g}" for c in plan.constants[:6])
            + (" ..." if len(plan.constants) > 6 else "")
        )
    if isinstance(step, Gather):
        shown = " ".join(f"r{r}[{_columns(cols)}]" for r, cols in step.parts[:4])
        return "gather " + shown + (f" ... ({len(step.parts)} parts)" if len(step.parts) > 4 else "")
    if isinstance(step, Map):
        param = "" if step.param is None else f"[{step.param:g}]"
        return f"{step.name}{param} " + " ".join(map(_input, step.inputs))
    if isinstance(step, Linear):
        shape = f"{len(step.weights)}x{len(step.weights[0])}"
        blocks = "" if step.blocks == 1 else f" (x{step.blocks} blocks)"
        bias = " b" if step.bias_slots else f" {_input(step.bias)}" if step.bias is not None else ""
        return f"linear {_input(step.x)} W[{shape}]{bias}{blocks}"
    if isinstance(step, Contract):
        parts = [f"dot {_input(step.a)} {_input(step.b)} [{step.products}]"] if step.a and step.b else []
        parts += [f"sum {_input(step.c)} [{step.terms}]"] if step.c is not None else []
        return " + ".join(parts)
    return f"take {_input(step.index)} {_input(step.table)} [of {step.size}]"


def _input(x: Input) -> str:
    """``r4`` for a whole register, ``r4[0:3]`` or ``r4[2,0]`` for some of its columns."""
    reg, cols = x
    return f"r{reg}" if cols is None else f"r{reg}[{_columns(cols)}]"


def _columns(cols: tuple[int, ...]) -> str:
    """``0:16`` for consecutive columns, else the list (shortened)."""
    if cols == tuple(range(cols[0], cols[0] + len(cols))):
        return str(cols[0]) if len(cols) == 1 else f"{cols[0]}:{cols[0] + len(cols)}"
    shown = ",".join(map(str, cols[:6]))
    return shown + (",..." if len(cols) > 6 else "")
