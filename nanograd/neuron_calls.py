"""Where the neurons of an ``nn`` model sit in a graph: what explore's neuron-level view draws as one node.

Calling :class:`~nanograd.neural_net.Neuron` on inputs ``x`` records
``act(((b + w0*x0) + w1*x1) + ...)``: one product per weight, a chain of sums that
starts at the bias, and the activation (none for a linear neuron). :func:`neuron_calls`
finds each such call in a graph by that shape, starting from the bias, and keeps it only
if nothing outside the call reads its products or partial sums, so that drawing the call
as one node hides no edge. It reads the graph and changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from .neural_net import MLP, Layer, Module, Neuron
from .value import Value


@dataclass(frozen=True)
class NeuronCall:
    """One call of a neuron in a graph: ``out = act(z)``, ``z = sums[-1] = b + sum of products``."""

    #: The call's name: the neuron's, with ``@k`` added when the neuron is called more than once.
    name: str
    #: The neuron's name in its model (``layers.0.neurons.3``), the prefix of its parameters' names.
    neuron_name: str
    neuron: Neuron
    #: The neuron's inputs ``x_i``: Values, or plain numbers (literal operands).
    inputs: tuple[Value | float, ...]
    #: ``w_i * x_i``, one per weight.
    products: tuple[Value, ...]
    #: ``b + w_0 * x_0``, then each further partial sum; the last one is the weighted sum ``z``.
    sums: tuple[Value, ...]
    #: The activation's result, or ``z`` itself for a linear neuron.
    out: Value

    @property
    def inside(self) -> tuple[Value, ...]:
        """The Values the call computes, ``out`` last."""
        computed = (*self.products, *self.sums)
        return computed if self.out is self.sums[-1] else (*computed, self.out)


def named_neurons(model: Module) -> list[tuple[str, Neuron]]:
    """The neurons of an ``nn`` model by the prefix of their parameters' names (``layers.0.neurons.3``)."""
    if isinstance(model, Neuron):
        return [("neuron", model)]
    if isinstance(model, Layer):
        return [(f"neurons.{j}", n) for j, n in enumerate(model.neurons)]
    if isinstance(model, MLP):
        return [(f"layers.{i}.{name}", n) for i, layer in enumerate(model.layers) for name, n in named_neurons(layer)]
    return []


def _is(v: object, op_name: str) -> bool:
    return isinstance(v, Value) and v.op is not None and v.op.name == op_name


def _consumers(nodes: Sequence[Value]) -> dict[Value, list[Value]]:
    """For each Value of ``nodes``, the Values that read it (once per operand slot)."""
    readers: dict[Value, list[Value]] = {}
    for v in nodes:
        for x in v.operands:
            if isinstance(x, Value):
                readers.setdefault(x, []).append(v)
    return readers


def _product(s: Value, total: Value, w: Value) -> Value | None:
    """The product of ``s = total + w * x``, or None if ``s`` has another shape."""
    if _is(s, "add") and s.operands[0] is total:
        product: Value = s.operands[1]
        if _is(product, "mul") and product.operands[0] is w:
            return product
    return None


def _calls_of(neuron: Neuron, readers: dict[Value, list[Value]]) -> Iterator[NeuronCall]:
    """Every call of ``neuron`` in the graph whose readers are ``readers`` (unnamed: see :func:`neuron_calls`)."""
    for first in dict.fromkeys(readers.get(neuron.b, [])):
        product = _product(first, neuron.b, neuron.w[0])
        if product is None:
            continue
        sums, products = [first], [product]
        for w in neuron.w[1:]:
            step = next(((s, p) for s in readers.get(sums[-1], []) if (p := _product(s, sums[-1], w))), None)
            if step is None:
                break
            sums.append(step[0])
            products.append(step[1])
        else:
            acts = [a for a in readers.get(sums[-1], []) if _is(a, neuron.activation)]
            if neuron.activation != "linear" and not acts:
                continue
            out = sums[-1] if neuron.activation == "linear" else acts[0]
            call = NeuronCall("", "", neuron, tuple(p.operands[1] for p in products), tuple(products), tuple(sums), out)
            inside = set(call.inside)
            if all(r in inside for v in call.inside if v is not out for r in readers.get(v, [])):
                yield call


def neuron_calls(nodes: Sequence[Value], model: Module) -> list[NeuronCall]:
    """The calls of ``model``'s neurons among ``nodes`` (a list from :func:`nanograd.viz.walk`), in graph order.

    A neuron called on several points has one call per point, named ``name@1``,
    ``name@2``, ... in graph order.
    """
    readers = _consumers(nodes)
    found = [(name, call) for name, neuron in named_neurons(model) for call in _calls_of(neuron, readers)]
    order = {v: i for i, v in enumerate(nodes)}
    found.sort(key=lambda pair: order[pair[1].out])
    counts = Counter(name for name, _ in found)
    seen: Counter[str] = Counter()
    named = []
    for name, call in found:
        seen[name] += 1
        named.append(replace(call, name=name if counts[name] == 1 else f"{name}@{seen[name]}", neuron_name=name))
    return named
