"""A :class:`Plan` made ready to run on one array backend: the kernel of the numpy and torch backends.

Running a plan means, for every step, finding what kind it is, which op, which columns
it reads and which index arrays it needs. A :class:`Kernel` does all of that once per
plan and device: each step becomes a small function with its op's rules, its column
slices and its index arrays bound, so a call runs the array operations and little else.

What runs is what :mod:`.lowering` describes: ``Map`` steps call the op table's forward
and vjp rules on arrays, ``Linear`` and ``Contract`` are ``add`` and ``mul`` with their
vjps contracted over the sum, ``Gather`` and ``Take`` move numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .graph import SELECTS, op_of
from .lowering import Argument, Array, Contract, Gather, Input, Leaves, Linear, Map, Plan, Step, Take, needs_grad

if TYPE_CHECKING:
    from .arrays import ArrayBackend

#: A forward step: the registers so far -> this step's register.
Forward = Callable[[list[Array]], Array]
#: A backward step: (registers, gradients, which gradients are the kernel's own arrays, this
#: step's gradient) -> None; adds into the gradients.
Backward = Callable[[list[Array], list[Any], list[bool], Array], None]
#: Adds the gradient of what one input read into its register's gradient.
Accumulate = Callable[[list[Array], list[Any], list[bool], Any], None]


class IrregularIndex(Exception):
    """A take met an index that is not a whole number in range (the eager engine decides)."""


def _consecutive(cols: tuple[int, ...] | list[int]) -> bool:
    return len(cols) > 0 and list(cols) == list(range(cols[0], cols[0] + len(cols)))


class Kernel:
    """``plan`` ready to run on ``backend`` (see the module docstring); made by :meth:`ArrayBackend.kernel`."""

    def __init__(self, backend: ArrayBackend, plan: Plan, like: Array | None, arguments: bool = True) -> None:
        b = self.backend = backend
        self.plan = plan
        #: The constants' row, on ``like``'s device; new arrays are made where it lives.
        self.constants = self.like = b.asarray([plan.constants], like)
        #: Does the backward pass compute the arguments' gradients too (or the parameters' alone)?
        self.arguments = arguments
        self.needs_grad = plan.needs_grad if arguments else needs_grad(plan.steps, arguments=False)
        self.args = [(i, s.index) for i, s in enumerate(plan.steps) if isinstance(s, Argument)]
        self.forwards: list[tuple[int, Forward]] = []
        self.backwards: list[Backward | None] = [None] * len(plan.steps)
        for i, step in enumerate(plan.steps):
            if isinstance(step, (Argument, Leaves)):
                continue
            self.forwards.append((i, self._forward(i, step)))
            if self.needs_grad[i]:
                self.backwards[i] = self._backward(i, step)

    # -- running ------------------------------------------------------------------------------
    def forward(self, batch: list[Array], param_row: Array) -> list[Array]:
        """Every register for ``batch`` (one array per traced argument) and the parameters' row."""
        R: list[Array] = [None] * len(self.plan.steps)
        for i, a in self.args:
            x = batch[a]
            R[i] = x if x.ndim == 2 else x[:, None]
        R[self.plan.params] = param_row
        R[self.plan.params + 1] = self.constants
        for i, step in self.forwards:
            R[i] = step(R)
        return R

    def outputs(self, R: list[Array]) -> list[Array]:
        """Each output of the plan as one column."""
        return [R[r][:, c, None] for r, c in self.plan.outputs]

    def backward(self, R: list[Array], output: int, rows: int) -> list[Any]:
        """One gradient per register of output ``output`` summed over the batch (None where nothing flowed)."""
        plan, b = self.plan, self.backend
        G: list[Any] = [None] * len(R)
        # Arrays the kernel made itself can be added into in place; a rule's result may be
        # shared (add's vjp returns g twice), so the first addition into one makes a new array.
        own = [False] * len(R)
        G[plan.params] = b.zeros(1, plan.widths[plan.params], self.like)  # Linear steps add into it in place
        reg, col = plan.outputs[output]
        seed = b.zeros(R[reg].shape[0], R[reg].shape[1], self.like)
        seed[:, col] = 1.0 if R[reg].shape[0] == rows else float(rows)  # one row stands for every sample
        G[reg] = seed
        own[plan.params] = own[reg] = True
        backwards = self.backwards
        for i in range(len(backwards) - 1, plan.params + 1, -1):
            g, step = G[i], backwards[i]
            if g is not None and step is not None:
                step(R, G, own, g)
        return G

    # -- reading ------------------------------------------------------------------------------
    def _selector(self, cols: list[int]) -> Any:
        """A slice (a view) for consecutive columns, else an index array."""
        if _consecutive(cols):
            return slice(cols[0], cols[0] + len(cols))
        return self.backend.index(cols, self.like)

    def _reader(self, x: Input) -> Callable[[list[Array]], Array]:
        """What input ``x`` reads: a register, or (a view of) some of its columns."""
        reg, cols = x
        if cols is None:
            return lambda R: R[reg]
        sel = self._selector(list(cols))
        return lambda R: R[reg][:, sel]

    def _param_view(self, slots: list[int], shape: tuple[int, ...]) -> Callable[[list[Array]], Array]:
        """The parameters in ``slots`` shaped ``shape``."""
        p, index = self.plan.params, self.backend.index(slots, self.like)
        return lambda R: R[p][0][index].reshape(shape)

    # -- forward steps --------------------------------------------------------------------------
    def _forward(self, i: int, step: Step) -> Forward:
        b = self.backend
        if isinstance(step, Gather):
            parts = [self._reader((r, cols)) for r, cols in step.parts]
            return lambda R: b.concat([read(R) for read in parts])
        if isinstance(step, Map):
            rule, m = op_of(step.name, step.param).forward, b.math
            reads = [self._reader(x) for x in step.inputs]
            if len(reads) == 1:
                (r0,) = reads
                return lambda R: rule(m, r0(R))
            if len(reads) == 2:
                r0, r1 = reads
                return lambda R: rule(m, r0(R), r1(R))
            return lambda R: rule(m, *[read(R) for read in reads])
        if isinstance(step, Linear):
            return self._linear(step)
        if isinstance(step, Contract):
            return self._contract(step)
        assert isinstance(step, Take)
        pick = self._take_columns(step)
        table = self._reader(step.table)
        return lambda R: b.take_columns(table(R), pick(R))

    def _linear(self, step: Linear) -> Forward:
        outs, ins, blocks = len(step.weights), len(step.weights[0]), step.blocks
        weights = self._param_view([w for row in step.weights for w in row], (outs, ins))
        x = self._reader(step.x)
        bias: Callable[[list[Array]], Array] | None = None
        if step.bias_slots:
            bias = self._param_view(list(step.bias_slots), (1, len(step.bias_slots)))
        elif step.bias is not None:
            bias = self._reader(step.bias)

        def forward(R: list[Array]) -> Array:
            xs, W = x(R), weights(R)
            out = xs @ W.T if blocks == 1 else (xs.reshape(xs.shape[0], blocks, ins) @ W.T).reshape(xs.shape[0], -1)
            return out if bias is None else out + bias(R)

        return forward

    def _contract(self, step: Contract) -> Forward:
        a = self._reader(step.a) if step.a is not None and step.b is not None else None
        bb = self._reader(step.b) if step.b is not None and a is not None else None
        c = self._reader(step.c) if step.c is not None else None
        products, terms = step.products, step.terms

        def forward(R: list[Array]) -> Array:
            total = None
            if a is not None and bb is not None:
                total = a(R) * bb(R)
                if products > 1:
                    total = total.reshape(total.shape[0], -1, products).sum(-1)
            if c is not None:
                rest = c(R)
                if terms > 1:
                    rest = rest.reshape(rest.shape[0], -1, terms).sum(-1)
                total = rest if total is None else total + rest
            return total

        return forward

    def _take_columns(self, step: Take) -> Callable[[list[Array]], Array]:
        """The columns of its table a take picks: ``o * size + index``; IrregularIndex for a bad index."""
        b, size = self.backend, step.size
        index = self._reader(step.index)
        outputs = self.plan.widths[step.table[0]] if step.table[1] is None else len(step.table[1])
        offsets = b.index([o * size for o in range(outputs // size)], self.like)

        def pick(R: list[Array]) -> Array:
            i = index(R)
            if not all(b.true_rows(b.whole_in_range(i, size))):
                raise IrregularIndex  # the eager engine decides: its IndexError or ValueError
            return b.to_int(i) + offsets

        return pick

    # -- backward steps -------------------------------------------------------------------------
    def _accumulate(self, x: Input) -> Accumulate | None:
        """How the gradient of what input ``x`` read adds into its register's gradient (None: no gradient)."""
        reg, cols = x
        plan, b = self.plan, self.backend
        if not self.needs_grad[reg]:
            return None
        width = plan.widths[reg]
        read_width = width if cols is None else len(cols)
        # Where the gradient's columns go: a slice or an index array for distinct columns, else
        # an adder that sums the shares of a column read several times.
        scatter: Any = None
        adder: Callable[[Array, Array], None] | None = None
        if cols is not None and _consecutive(cols):
            scatter = slice(cols[0], cols[0] + len(cols))
        elif cols is not None and len(set(cols)) == len(cols):
            scatter = b.index(list(cols), self.like)
        elif cols is not None:
            adder = b.column_adder(list(cols), self.like)
        like = self.like

        def accumulate(R: list[Array], G: list[Any], own: list[bool], g: Any) -> None:
            rows = R[reg].shape[0]
            if not hasattr(g, "shape"):  # a number from a rule: x ** 0 passes 0.0 on, as eagerly
                g = b.zeros(rows, read_width, like) + g
            if g.shape[0] != rows:
                g = b.sum_rows(g)
            if g.shape[1] != read_width:
                g = b.sum_columns(g)
            if cols is not None:  # some columns: added into the register's own gradient array, in place
                if not own[reg]:
                    G[reg] = b.zeros(rows, width, like) if G[reg] is None else G[reg] * 1.0
                    own[reg] = True
                if adder is None:
                    G[reg][:, scatter] += g
                else:
                    adder(G[reg], g)
            elif G[reg] is None:
                G[reg] = g
            elif own[reg]:
                G[reg] += g
            else:
                G[reg], own[reg] = G[reg] + g, True

        return accumulate

    def _backward(self, i: int, step: Step) -> Backward:
        b = self.backend
        if isinstance(step, Gather):
            shares = []
            start = 0
            for r, cols in step.parts:
                shares.append((slice(start, start + len(cols)), self._accumulate((r, cols))))
                start += len(cols)

            def gather(R: list[Array], G: list[Any], own: list[bool], g: Array) -> None:
                for part, add in shares:
                    if add is not None:
                        add(R, G, own, g[:, part])

            return gather
        if isinstance(step, Map):
            vjp, m = op_of(step.name, step.param).vjp, b.math
            reads = [self._reader(x) for x in step.inputs]
            adds = [self._accumulate(x) for x in step.inputs]
            if step.name in SELECTS:  # a select's comparison is no edge
                adds[0] = adds[1] = None

            def map_(R: list[Array], G: list[Any], own: list[bool], g: Array) -> None:
                for add, gx in zip(adds, vjp(m, g, R[i], *[read(R) for read in reads])):
                    if add is not None:
                        add(R, G, own, gx)

            return map_
        if isinstance(step, Linear):
            return self._linear_backward(step)
        if isinstance(step, Contract):
            return self._contract_backward(step)
        assert isinstance(step, Take)
        pick, table, add_table = self._take_columns(step), self._reader(step.table), self._accumulate(step.table)

        def take(R: list[Array], G: list[Any], own: list[bool], g: Array) -> None:
            if add_table is not None:
                add_table(R, G, own, b.put_columns(table(R), pick(R), g))

        return take

    def _param_grad(self, slots: list[int]) -> Callable[[list[Any], Array], None]:
        """Adds a (1, len(slots)) gradient into the parameters' gradient row, at ``slots`` (repeats add up)."""
        p, add = self.plan.params, self.backend.column_adder(slots, self.like)
        return lambda G, g: add(G[p], g)

    def _linear_backward(self, step: Linear) -> Backward:
        b = self.backend
        outs, ins, blocks = len(step.weights), len(step.weights[0]), step.blocks
        weights = self._param_view([w for row in step.weights for w in row], (outs, ins))
        x = self._reader(step.x)
        add_x = self._accumulate(step.x)
        add_w = self._param_grad([w for row in step.weights for w in row])
        add_bias_slots = self._param_grad(list(step.bias_slots)) if step.bias_slots else None
        add_bias = self._accumulate(step.bias) if step.bias is not None and not step.bias_slots else None

        def backward(R: list[Array], G: list[Any], own: list[bool], g: Array) -> None:
            xs = x(R)
            if add_x is not None:
                W = weights(R)
                gx = g @ W if blocks == 1 else (g.reshape(g.shape[0], blocks, outs) @ W).reshape(g.shape[0], -1)
                add_x(R, G, own, gx)
            g_rows = g if g.shape[0] == xs.shape[0] else b.sum_rows(g)
            gW = g_rows.reshape(-1, outs).T @ xs.reshape(-1, ins)
            add_w(G, gW.reshape(1, -1))
            if add_bias_slots is not None:
                add_bias_slots(G, b.sum_rows(g))
            elif add_bias is not None:
                add_bias(R, G, own, g)

        return backward

    def _contract_backward(self, step: Contract) -> Backward:
        b = self.backend
        products, terms = step.products, step.terms
        pair = step.a is not None and step.b is not None
        a = self._reader(step.a) if pair else None  # type: ignore[arg-type]
        bb = self._reader(step.b) if pair else None  # type: ignore[arg-type]
        add_a = self._accumulate(step.a) if pair else None  # type: ignore[arg-type]
        add_b = self._accumulate(step.b) if pair else None  # type: ignore[arg-type]
        c = self._reader(step.c) if step.c is not None else None
        add_c = self._accumulate(step.c) if step.c is not None else None
        like = self.like

        def spread(g: Array, k: int) -> Array:
            """``g`` (one column per sum) repeated over the ``k`` parts of each sum."""
            return g if k == 1 else g.reshape(g.shape[0], -1, 1)

        def backward(R: list[Array], G: list[Any], own: list[bool], g: Array) -> None:
            if a is not None and bb is not None:
                g3 = spread(g, products)
                if add_a is not None:
                    other = bb(R)
                    ga = g3 * (other if products == 1 else other.reshape(other.shape[0], -1, products))
                    add_a(R, G, own, ga if products == 1 else ga.reshape(ga.shape[0], -1))
                if add_b is not None:
                    other = a(R)
                    gb = g3 * (other if products == 1 else other.reshape(other.shape[0], -1, products))
                    add_b(R, G, own, gb if products == 1 else gb.reshape(gb.shape[0], -1))
            if c is not None and add_c is not None:
                if terms == 1:
                    add_c(R, G, own, g)
                else:
                    width = c(R).shape[1]
                    gc = spread(g, terms) + b.zeros(1, width, like).reshape(1, -1, terms)
                    add_c(R, G, own, gc.reshape(gc.shape[0], -1))

        return backward
