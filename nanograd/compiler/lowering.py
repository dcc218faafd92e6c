"""Lowering: turn a :class:`Graph` into a short program of array steps (a :class:`Plan`).

Every step writes one *register*, a 2-D array with one row per sample (or a single row
for numbers that do not depend on the sample, which broadcasts). Each graph node lives in
one column of one register. Three patterns make a micrograd-style model a handful of
array operations:

* a neuron's sum ``b + w0*x0 + w1*x1 + ...`` over captured weights ``w`` is one row of a
  matrix product, and the neurons of a layer (the same ``x``) are one :class:`Linear` step;
* the same unary op applied to the columns of one register (a layer's activations) is
  one :class:`Map` step over the whole register;
* anything else is a :class:`Map` of its op over one column.

``Map`` runs the op table's own forward and vjp rules on arrays; ``Linear`` is ``add`` and
``mul`` with their vjps (``g`` to the sum's inputs, ``g * x`` and ``g * w`` to the product's)
contracted over the sum as matrix products. Sums run in BLAS order, so results agree with
the eager engine to rounding (1e-9 relative), not bit for bit.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ..ops import lookup
from .graph import Graph

Array = Any  # a numpy array or a torch tensor


@dataclass(frozen=True)
class Argument:
    """Register = argument ``index`` of the batch, shape (N, k)."""

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
class Linear:
    """Register = ``R[x] @ W.T + b``, ``W[i, j]`` the parameter in slot ``weights[i][j]``.

    ``b`` is the register ``bias``, or (``bias`` is None) the parameters in ``bias_slots``.
    """

    x: int
    weights: tuple[tuple[int, ...], ...]
    bias: int | None
    bias_slots: tuple[int, ...] = ()


@dataclass(frozen=True)
class Map:
    """Register = the op ``name`` (with ``param``) applied elementwise to the input registers."""

    name: str
    param: float | None
    inputs: tuple[int, ...]


Step = Argument | Leaves | Gather | Linear | Map


@dataclass(frozen=True)
class Plan:
    """The steps (step ``i`` writes register ``i``) and where the output node lives."""

    steps: tuple[Step, ...]
    widths: tuple[int, ...]
    output: tuple[int, int]
    params: int  # the register of the captured parameters
    needs_grad: tuple[bool, ...]  # per register: does it depend on an argument or a parameter?
    constants: tuple[float, ...]  # the numbers of the constants register

    @functools.cached_property
    def sample_width(self) -> int:
        """Numbers per sample in all registers with one row per sample."""
        return max(1, sum(w for w, step in zip(self.widths, self.steps) if not isinstance(step, Leaves)))


def build_plan(graph: Graph) -> Plan:
    """Lower ``graph`` into array steps (see the module docstring)."""
    return _Lowering(graph).plan()


class _Lowering:
    def __init__(self, graph: Graph) -> None:
        self.nodes = graph.nodes
        self.consumers: dict[int, list[int]] = defaultdict(list)
        for i, n in enumerate(self.nodes):
            for j in n.inputs:
                self.consumers[j].append(i)
        self.steps: list[Step] = []
        self.widths: list[int] = []
        self.loc: dict[int, tuple[int, int]] = {}  # node -> (register, column)
        for a, k in enumerate(graph.args):
            reg = self._emit(Argument(a), k or 1)
            for i, n in enumerate(self.nodes):
                if n.op == "arg" and n.slot[0] == a:
                    self.loc[i] = (reg, n.slot[1])
        self.param_register = self._emit(Leaves("param"), graph.n_params)
        consts = [i for i, n in enumerate(self.nodes) if n.op == "const"]
        const_register = self._emit(Leaves("const"), len(consts))
        self.loc.update({i: (self.param_register, n.slot[0]) for i, n in enumerate(self.nodes) if n.op == "param"})
        self.loc.update({i: (const_register, c) for c, i in enumerate(consts)})
        self.sums = {i: s for i in range(len(self.nodes)) if (s := self._neuron_sum(i))}
        self.inside_sums = {j for _, _, inner in self.sums.values() for j in inner}
        self.layers: dict[tuple[int, ...], list[int]] = defaultdict(list)  # x nodes -> neuron sums
        for i, (_, terms, _) in self.sums.items():
            self.layers[tuple(x for _, x in terms)].append(i)

    def _emit(self, step: Step, width: int) -> int:
        self.steps.append(step)
        self.widths.append(width)
        return len(self.steps) - 1

    def _uses(self, i: int) -> int:
        return len(self.consumers[i])

    def _weight_term(self, j: int) -> tuple[int, int] | None:
        """(parameter slot, x node) if node ``j`` is ``w * x`` or ``x * w`` with ``w`` captured."""
        n = self.nodes[j]
        if n.op != "mul" or self._uses(j) != 1:
            return None
        a, b = n.inputs
        if self.nodes[a].op == "param":
            return self.nodes[a].slot[0], b
        if self.nodes[b].op == "param":
            return self.nodes[b].slot[0], a
        return None

    def _neuron_sum(self, i: int) -> tuple[int, list[tuple[int, int]], list[int]] | None:
        """(bias node, [(weight slot, x node), ...], inner nodes) if node ``i`` is ``b + w0*x0 + ...``."""
        terms: list[tuple[int, int]] = []
        inner: list[int] = []
        cur = i
        while self.nodes[cur].op == "add" and (cur == i or self._uses(cur) == 1):
            left, right = self.nodes[cur].inputs
            term = self._weight_term(right)
            if term is None:
                break
            terms.append(term)
            inner += [right] + ([cur] if cur != i else [])
            cur = left
        return (cur, terms[::-1], inner) if terms else None

    def _register_of(self, nodes: list[int]) -> int:
        """A register holding exactly ``nodes`` as its columns, in order (gathered if needed)."""
        locs = [self.loc[j] for j in nodes]
        reg = locs[0][0]
        whole = len(locs) == self.widths[reg] and all(loc == (reg, c) for c, loc in enumerate(locs))
        if whole:
            return reg
        parts: list[tuple[int, list[int]]] = []
        for r, c in locs:
            if parts and parts[-1][0] == r:
                parts[-1][1].append(c)
            else:
                parts.append((r, [c]))
        return self._emit(Gather(tuple((r, tuple(cs)) for r, cs in parts)), len(nodes))

    def _place(self, nodes: list[int], reg: int) -> None:
        """Record that ``nodes`` are the columns of ``reg``, then map the unary ops applied to them."""
        self.loc.update({j: (reg, c) for c, j in enumerate(nodes)})
        groups: dict[tuple[str, float | None], list[int]] = defaultdict(list)
        for j in nodes:
            for i in self.consumers[j]:
                n = self.nodes[i]
                if len(n.inputs) == 1 and i not in self.loc and i not in self.inside_sums:
                    groups[n.op, n.param].append(i)
        for (name, param), group in groups.items():
            group = list(dict.fromkeys(group))
            source = self._register_of([self.nodes[i].inputs[0] for i in group])
            self._place(group, self._emit(Map(name, param, (source,)), len(group)))

    def plan(self) -> Plan:
        for i, n in enumerate(self.nodes):
            if i in self.loc or i in self.inside_sums:
                continue
            if i in self.sums:
                self._lower_layer(i)
            else:
                lookup(n.op, n.param)  # an unknown op fails here, before anything runs
                inputs = tuple(self._register_of([j]) for j in n.inputs)
                self._place([i], self._emit(Map(n.op, n.param, inputs), 1))
        out = len(self.nodes) - 1
        constants = tuple(n.value for n in self.nodes if n.value is not None)
        return Plan(
            tuple(self.steps), tuple(self.widths), self.loc[out], self.param_register, self._needs_grad(), constants
        )

    def _needs_grad(self) -> tuple[bool, ...]:
        needs: list[bool] = []
        for step in self.steps:
            if isinstance(step, Argument):
                needs.append(True)
            elif isinstance(step, Leaves):
                needs.append(step.kind == "param")
            elif isinstance(step, Gather):
                needs.append(any(needs[r] for r, _ in step.parts))
            elif isinstance(step, Linear):
                needs.append(True)
            else:
                needs.append(any(needs[j] for j in step.inputs))
        return tuple(needs)

    def _lower_layer(self, i: int) -> None:
        """One Linear step for the neuron sum at ``i`` and every other one over the same inputs."""
        xs = [x for _, x in self.sums[i][1]]
        layer = [j for j in self.layers[tuple(xs)] if j not in self.loc and self.sums[j][0] in self.loc]
        weights = tuple(tuple(w for w, _ in self.sums[j][1]) for j in layer)
        biases = [self.sums[j][0] for j in layer]
        x = self._register_of(xs)
        if all(self.nodes[b].op == "param" for b in biases):  # a model's biases: no gather needed
            step = Linear(x, weights, None, tuple(self.nodes[b].slot[0] for b in biases))
        else:
            step = Linear(x, weights, self._register_of(biases))
        self._place(layer, self._emit(step, len(layer)))
