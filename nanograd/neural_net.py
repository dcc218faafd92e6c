"""Neurons, layers and multi-layer perceptrons built from scalar ``Value`` steps.

A neuron is nothing but ``b + w0*x0 + w1*x1 + ...`` followed by an activation, so
every multiplication and addition is a node of the graph (and of ``draw_dot``).
With the default initialisation and the same ``random.seed``, a model starts with
exactly micrograd's weights and computes exactly micrograd's numbers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from .value import Number, Value, zero_grad

#: Activation name -> the Value method applied to a neuron's sum (None: linear).
ACTIVATIONS: dict[str, str | None] = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "linear": None}


def _check_activation(activation: str) -> str | None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[activation]


class Module:
    """Base class: anything holding trainable ``Value`` parameters."""

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """Yield ``(name, parameter)`` pairs in a fixed order, e.g. ``('layers.0.neurons.3.w.1', v)``."""
        return iter(())

    def parameters(self) -> list[Value]:
        """All trainable Values, in the order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (gradients accumulate across backprops)."""
        zero_grad(self.parameters())


class Neuron(Module):
    """``activation(b + sum_i w_i * x_i)`` for ``nin`` inputs.

    Weights start as ``random.uniform(-1, 1)`` and the bias as 0, as in micrograd.
    """

    def __init__(self, nin: int, activation: str = "relu") -> None:
        if not isinstance(nin, int) or nin < 1:
            raise ValueError(f"Neuron: nin must be a positive int, got {nin!r}")
        self._method = _check_activation(activation)
        self.activation = activation
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)

    def __call__(self, x: Sequence[Value | Number]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron: expected {len(self.w)} inputs, got {len(x)}")
        # sum() with a start value adds left to right: ((b + w0*x0) + w1*x1) + ...,
        # the same order as micrograd, so the floats match bit for bit.
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return getattr(act, self._method)() if self._method else act

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for i, w in enumerate(self.w):
            yield f"w.{i}", w
        yield "b", self.b

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons that share the same ``nin`` inputs."""

    def __init__(self, nin: int, nout: int, activation: str = "relu") -> None:
        if not isinstance(nout, int) or nout < 1:
            raise ValueError(f"Layer: nout must be a positive int, got {nout!r}")
        self.neurons = [Neuron(nin, activation) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for i, n in enumerate(self.neurons):
            for name, p in n.named_parameters():
                yield f"neurons.{i}.{name}", p

    @property
    def nin(self) -> int:
        return len(self.neurons[0].w)

    @property
    def nout(self) -> int:
        return len(self.neurons)

    @property
    def activation(self) -> str:
        return self.neurons[0].activation

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` has two hidden layers of 16.

    Hidden layers use ``activation`` (ReLU by default), the last layer
    ``output_activation`` (linear by default), as in micrograd.
    """

    def __init__(
        self, nin: int, nouts: Sequence[int], activation: str = "relu", output_activation: str = "linear"
    ) -> None:
        if not nouts:
            raise ValueError("MLP: nouts must list at least one layer size")
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], output_activation if i == last else activation)
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        for layer in self.layers:
            x = layer(x)
            if isinstance(x, Value):
                x = [x]
        return x[0] if len(x) == 1 else x

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for i, layer in enumerate(self.layers):
            for name, p in layer.named_parameters():
                yield f"layers.{i}.{name}", p

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) for layer in self.layers)
        return f"MLP(layers=[{layers}], parameters={len(self.parameters())})"
