"""Tracing: call a function on tracers (:mod:`.tracer`) and record the graph it builds.

Captured Values
    Every plain Value the function reaches is *captured*: a model's parameters, or Values
    computed before the call. Their numbers stay readable while tracing, and the graph
    reads them afresh at every call (a parameter slot). Python that reads a captured
    number is, by the same token, run once, when tracing. Values the function computes
    from captured ones alone (an L2 penalty over the parameters) are computed eagerly while
    tracing; their ops are recorded too, so they follow the parameters at every call. To
    tell those apart from Values computed before the call, the function is called twice:
    what it computes is new at every call, what it captures is the same object both times.
    Leaves it creates (the ``1`` in ``1 + x``) are constants.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from ..backprop import topological_order
from ..gc_tuning import make_room_for_graphs
from ..ops import OPS
from ..value import Value
from .graph import Graph, Node
from .refusal import TracedNumberError
from .tracer import Condition, Ref, Tracer, _Tape, _tape, tracing

__all__ = ["Condition", "TracedNumberError", "Tracer", "trace", "tracing"]


# -- trace: the function called on tracers, recorded as a Graph -------------------------------------


@dataclass
class Trace:
    """A traced call: its graph and the captured Values, in slot order."""

    graph: Graph
    params: list[Value]


def argument_names(fn: Callable[..., object]) -> list[str]:
    """The names of ``fn``'s positional parameters, as far as they can be read (else empty)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in parameters if p.kind in kinds]


def trace(fn: Callable[..., object], shapes: tuple[int | None, ...], static: dict[int, object], name: str) -> Trace:
    """Call ``fn`` on tracers and record its graph.

    ``shapes`` has one entry per traced argument (None: a scalar, k: a list of k Values);
    ``static`` maps the positions of static arguments to the values passed as they are.
    ``fn`` is called twice (see the module docstring). It must return a Value or a list of
    Values: else TypeError. Two calls that record different ops raise ValueError.
    """
    positions = [p for p in range(len(shapes) + len(static)) if p not in static]
    all_names = argument_names(fn)
    names = tuple(all_names[p] if p < len(all_names) else "" for p in positions)
    first, outputs, vector = _call(fn, shapes, static, name, names, tuple(positions))
    # Each entry makes a tracer and its operands in each call, then a node and its inputs: room
    # for all of them, so that no cycle collection rescans the tapes while the graph is built.
    make_room_for_graphs(2 * len(first.kinds))
    second, again, _ = _call(fn, shapes, static, name, names, tuple(positions))
    if first.kinds != second.kinds or len(outputs) != len(again):
        raise ValueError(
            f"compile({name}): two calls of the function while tracing recorded different operations; "
            "it must compute the same graph at every call (no randomness or state that changes between calls)"
        )
    builder = _Builder(first, _plain_values(second, again), name)
    builder.emit_entries(_needed(first, outputs))  # in the order the function made them: replay raises eager's error
    out = tuple(builder.emit(r) for r in outputs)
    return Trace(Graph(shapes, len(builder.params), tuple(builder.nodes), out, vector, names), builder.params)


def _call(
    fn: Callable[..., object],
    shapes: tuple[int | None, ...],
    static: dict[int, object],
    name: str,
    names: tuple[str, ...],
    positions: tuple[int, ...],
) -> tuple[_Tape, list[Ref], bool]:
    """One traced call: its tape, its outputs as references, and whether it returned a list."""
    tape = _Tape(name, names, shapes, positions)
    args: list[object] = []
    traced = iter(enumerate(shapes))
    for p in range(len(shapes) + len(static)):
        if p in static:
            args.append(static[p])
            continue
        a, k = next(traced)
        if k is None:
            args.append(tape.record("arg", None, (a, 0)))
        else:
            args.append([tape.record("arg", None, (a, e)) for e in range(k)])
    token = _tape.set(tape)
    try:
        out = fn(*args)
    finally:
        _tape.reset(token)
        tape.open = False
    if isinstance(out, Value):
        return tape, [tape.ref(out, name)], False
    if isinstance(out, (list, tuple)) and out and all(isinstance(v, Value) for v in out):
        return tape, [tape.ref(v, name) for v in out], True
    got = "a comparison (use nanograd.where)" if isinstance(out, Condition) else type(out).__name__
    raise TypeError(f"compile: {name} must return one Value, got {got} (or a non-empty list of Values)")


def _needed(tape: _Tape, outputs: list[Ref]) -> list[int]:
    """The tape entries the outputs depend on, in tape order (the order the function made them)."""
    # One sweep from the last entry back marks them all: an entry's operands come before it.
    needed = [False] * len(tape.kinds)
    for r in outputs:
        if type(r) is int:
            needed[r] = True
    kinds, operands = tape.kinds, tape.operands
    for i in range(len(needed) - 1, -1, -1):
        if needed[i] and kinds[i] != "arg":
            for r in operands[i]:
                if type(r) is int:
                    needed[r] = True
    return [i for i, n in enumerate(needed) if n]


def _plain_values(tape: _Tape, outputs: list[Ref]) -> set[Value]:
    """Every plain Value a traced call reached, and every Value those were computed from."""
    roots = [r for r in outputs if isinstance(r, Value)]
    roots += [x for operands in tape.operands for x in operands if isinstance(x, Value)]
    reached: set[Value] = set()
    for v in roots:
        if v not in reached:
            reached.update(topological_order(v))
    return reached


class _Builder:
    """The nodes of a Graph, from a tape and the plain Values it reaches (see :func:`trace`)."""

    def __init__(self, tape: _Tape, captured: set[Value], name: str) -> None:
        self.tape, self.captured, self.name = tape, captured, name
        self.nodes: list[Node] = []
        self.params: list[Value] = []
        self.at_entry = [-1] * len(tape.kinds)  # tape entry -> its node (-1: not emitted)
        self.at_value: dict[Value, int] = {}
        self.at_const: dict[str, int] = {}

    def emit_entries(self, entries: list[int]) -> None:
        """Emit the tape ``entries``, each after the plain Values and numbers it reads.

        ``entries`` come in tape order and hold every entry they read (as :func:`_needed`
        returns them), so an entry's traced operands have their nodes already: only its
        plain Values and numbers take the walk of :meth:`emit`. The nodes come in the
        order :meth:`emit` would give them one entry at a time; this loop is the fast way.
        """
        kinds, params, operands = self.tape.kinds, self.tape.params, self.tape.operands
        at_entry, nodes, emit = self.at_entry, self.nodes, self.emit
        for i in entries:
            kind = kinds[i]
            if kind == "arg":
                node = Node("arg", slot=operands[i])
            else:
                inputs = tuple([at_entry[r] if type(r) is int else emit(r) for r in operands[i]])
                node = Node(kind, inputs, params[i])
            at_entry[i] = len(nodes)
            nodes.append(node)

    def emit(self, root: Ref) -> int:
        """The node of ``root``, emitting it after everything it depends on (iteratively: any depth)."""
        index = self._index(root)
        if index is not None:  # most operands are emitted already: a parameter read again
            return index
        stack: list[Ref] = [root]
        while stack:
            item = stack[-1]
            if self._index(item) is not None:
                stack.pop()
                continue
            pending = [x for x in self._operands(item) if self._index(x) is None]
            if pending:
                stack.extend(reversed(pending))
                continue
            stack.pop()
            self._finish(item)
        index = self._index(root)
        assert index is not None
        return index

    def _index(self, item: Ref) -> int | None:
        if type(item) is int:
            index = self.at_entry[item]
            return None if index < 0 else index
        if isinstance(item, Value):
            return self.at_value.get(item)
        return self.at_const.get(float(item).hex())

    def _operands(self, item: Ref) -> tuple[Ref, ...]:
        if type(item) is int:
            return () if self.tape.kinds[item] == "arg" else self.tape.operands[item]
        if isinstance(item, Value) and item not in self.captured and item.op is not None:
            return item.operands
        return ()

    def _add(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def _finish(self, item: Ref) -> None:
        if type(item) is int:
            kind, param, operands = self.tape.kinds[item], self.tape.params[item], self.tape.operands[item]
            node = Node("arg", slot=operands) if kind == "arg" else Node(kind, self._inputs(operands), param)
            self.at_entry[item] = self._add(node)
        elif isinstance(item, Value):
            self.at_value[item] = self._add(self._value_node(item))
        else:
            self.at_const[float(item).hex()] = self._add(Node("const", value=float(item)))

    def _inputs(self, operands: tuple[Ref, ...]) -> tuple[int, ...]:
        indices = tuple(self._index(x) for x in operands)
        assert None not in indices
        return indices  # type: ignore[return-value]

    def _value_node(self, v: Value) -> Node:
        """A plain Value's node: captured (a parameter slot), a created constant, or a created op."""
        if v in self.captured:
            self.params.append(v)
            return Node("param", slot=(len(self.params) - 1,))
        op = v.op
        if op is None:
            return Node("const", value=v.data)
        if op.name != "power" and OPS.get(op.name) is not op:
            raise TypeError(
                f"compile({self.name}): a Value the function computed comes from op {op.name!r}, which is not in "
                "the op table (a compiled function's mean() or sum(), or a micrograd-style custom op); "
                "compute it outside the function and use the result, or add the op with nanograd.register_op"
            )
        return Node(op.name, self._inputs(v.operands), op.param)
