"""Neurons, layers and multi-layer perceptrons built from scalar ``Value`` steps.

A neuron is nothing but ``b + w0*x0 + w1*x1 + ...`` followed by an activation, so
every multiplication and addition is a node of the graph (and of ``draw_dot``).
With the default initialisation and the same ``random.seed``, a model starts with
exactly micrograd's weights and computes exactly micrograd's numbers.

Saving and loading::

    model.state_dict()          # {'layers.0.neurons.0.w.0': 0.23, ..., 'layers.2.neurons.0.b': 0.0}
    model.load_state_dict(sd)   # checks every name first, then copies the numbers in
    model.save("model.json")    # architecture + parameters as JSON, written atomically
    model = MLP.load("model.json")
"""

from __future__ import annotations

import json
import math
import numbers
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._io import atomic_write
from .value import Number, Value, zero_grad

#: Activation name -> the name of the ``torch.nn`` module computing the same function (None:
#: ``linear``, no activation). Every other activation is the ``Value`` method of its own name
#: applied to a neuron's sum.
ACTIVATIONS: dict[str, str | None] = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": None}

#: Initialisation name -> bound(fan_in, fan_out): weights are drawn from uniform(-bound, bound).
#: ``uniform`` is micrograd's uniform(-1, 1); ``xavier`` is Glorot's bound sqrt(6 / (fan_in +
#: fan_out)), suited to tanh and sigmoid; ``kaiming`` is He's bound sqrt(6 / fan_in), suited
#: to ReLU; ``zeros`` draws no random numbers at all (all weights 0, e.g. before loading).
INITS: dict[str, Callable[[int, int], float]] = {
    "uniform": lambda fan_in, fan_out: 1.0,
    "xavier": lambda fan_in, fan_out: math.sqrt(6.0 / (fan_in + fan_out)),
    "kaiming": lambda fan_in, fan_out: math.sqrt(6.0 / fan_in),
    "zeros": lambda fan_in, fan_out: 0.0,
}

#: The ``format`` entry of a saved model file, and its version.
FILE_FORMAT = "nanograd.MLP"
FILE_VERSION = 1


def _activation(who: str, activation: str | None, nonlin: bool | None) -> str:
    """The activation named by nanograd's ``activation=`` and/or micrograd's ``nonlin=`` (default ReLU).

    ``nonlin=True`` is ReLU and ``nonlin=False`` linear, as in micrograd; given both, they must
    agree (``nonlin`` says whether the activation is other than ``'linear'``).
    """
    if activation is None:
        activation = "relu" if nonlin is None or nonlin else "linear"
    if activation not in ACTIVATIONS:
        raise ValueError(f"{who}: unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if nonlin is not None and bool(nonlin) != (activation != "linear"):
        raise ValueError(
            f"{who}: activation={activation!r} and nonlin={nonlin!r} disagree; "
            "pass one of them (nonlin=True is activation='relu', nonlin=False is activation='linear')"
        )
    return activation


def _initial_weights(nin: int, fan_out: int, init: str) -> list[float]:
    """``nin`` weights for initialisation ``init``, drawn in micrograd's order."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    bound = INITS[init](nin, fan_out)
    if bound == 0.0:
        return [0.0] * nin
    return [random.uniform(-bound, bound) for _ in range(nin)]


class Module:
    """Base class: anything holding trainable ``Value`` parameters."""

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """Yield ``(name, parameter)`` pairs in a fixed order, e.g. ``('layers.0.neurons.3.w.1', v)``."""
        return iter(())

    def parameters(self) -> list[Value]:
        """All trainable Values, in the order of :meth:`named_parameters`."""
        return [p for _, p in self.named_parameters()]

    def state_dict(self) -> dict[str, float]:
        """Every parameter's number by name (a flat dict, in :meth:`named_parameters` order)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy the numbers of ``state`` (as made by :meth:`state_dict`) into the parameters.

        The names must be exactly this module's parameter names and every value a real
        number; otherwise ``ValueError`` says what is missing, unexpected or wrong, and no
        parameter has been changed. Gradients are left as they are.
        """
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        if missing or unexpected:
            raise ValueError(
                f"load_state_dict: parameter names do not match this {type(self).__name__}: "
                f"{len(missing)} missing {_preview(missing)}, {len(unexpected)} unexpected {_preview(unexpected)}"
            )
        bad = [name for name, x in state.items() if isinstance(x, bool) or not isinstance(x, numbers.Real)]
        if bad:
            raise ValueError(f"load_state_dict: parameter {bad[0]!r} must be a real number, got {state[bad[0]]!r}")
        for name, p in params.items():
            p.data = float(state[name])

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (gradients accumulate across backprops)."""
        zero_grad(self.parameters())


def _preview(names: list[str], limit: int = 3) -> str:
    """``names`` as a short bracketed list for an error message."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}]"


class Neuron(Module):
    """``activation(b + sum_i w_i * x_i)`` for ``nin`` inputs.

    ``activation`` is one of :data:`ACTIVATIONS` (ReLU by default); micrograd's spelling
    ``nonlin=True`` / ``nonlin=False`` (ReLU / linear) works too, and ``neuron.nonlin``
    reads it back. Weights start as ``random.uniform(-1, 1)`` and the bias as 0, as in
    micrograd; ``init`` picks another bound (see :data:`INITS`). ``fan_out``, the size of
    the layer the neuron belongs to, matters only to ``init='xavier'``.
    """

    def __init__(
        self,
        nin: int,
        activation: str | None = None,
        init: str = "uniform",
        fan_out: int = 1,
        *,
        nonlin: bool | None = None,
    ) -> None:
        if not isinstance(nin, int) or nin < 1:
            raise ValueError(f"Neuron: nin must be a positive int, got {nin!r}")
        self.activation = _activation("Neuron", activation, nonlin)
        self.w = [Value(w) for w in _initial_weights(nin, fan_out, init)]
        self.b = Value(0.0)

    def __call__(self, x: Sequence[Value | Number]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron: expected {len(self.w)} inputs, got {len(x)}")
        # sum() with a start value adds left to right: ((b + w0*x0) + w1*x1) + ...,
        # the same order as micrograd, so the floats match bit for bit.
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act if self.activation == "linear" else getattr(act, self.activation)()

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: whether the activation is other than ``'linear'``."""
        return self.activation != "linear"

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for i, w in enumerate(self.w):
            yield f"w.{i}", w
        yield "b", self.b

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons that share the same ``nin`` inputs.

    ``activation``, ``nonlin`` and ``init`` are as for :class:`Neuron`. Calling a layer
    gives a list of ``nout`` Values, or one Value when ``nout == 1`` (as in micrograd).
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | None = None,
        init: str = "uniform",
        *,
        nonlin: bool | None = None,
    ) -> None:
        if not isinstance(nout, int) or nout < 1:
            raise ValueError(f"Layer: nout must be a positive int, got {nout!r}")
        activation = _activation("Layer", activation, nonlin)
        self.neurons = [Neuron(nin, activation, init, fan_out=nout) for _ in range(nout)]

    def __call__(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        out = self._outputs(x)
        return out[0] if len(out) == 1 else out

    def _outputs(self, x: Sequence[Value | Number]) -> list[Value]:
        """Every neuron's output, as a list also when there is one neuron."""
        return [n(x) for n in self.neurons]

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for i, n in enumerate(self.neurons):
            for name, p in n.named_parameters():
                yield f"neurons.{i}.{name}", p

    @property
    def nin(self) -> int:
        """Number of inputs."""
        return len(self.neurons[0].w)

    @property
    def nout(self) -> int:
        """Number of neurons (outputs)."""
        return len(self.neurons)

    @property
    def activation(self) -> str:
        """The activation name of the layer's neurons."""
        return self.neurons[0].activation

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {self.nout}, activation={self.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` has two hidden layers of 16.

    Hidden layers use ``activation`` (ReLU by default; one name for all of them, or a
    list with one name per hidden layer), the last layer ``output_activation`` (linear
    by default), as in micrograd. ``init`` chooses the weight initialisation (see
    :data:`INITS`); the default draws exactly micrograd's random numbers.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str | Sequence[str] = "relu",
        output_activation: str = "linear",
        init: str = "uniform",
    ) -> None:
        if not nouts:
            raise ValueError("MLP: nouts must list at least one layer size")
        hidden = [activation] * (len(nouts) - 1) if isinstance(activation, str) else list(activation)
        if len(hidden) != len(nouts) - 1:
            raise ValueError(f"MLP: {len(nouts) - 1} hidden layers but {len(hidden)} hidden activations {hidden!r}")
        sizes = [nin, *nouts]
        activations = [*hidden, output_activation]
        self.layers = [Layer(sizes[i], sizes[i + 1], activations[i], init) for i in range(len(nouts))]

    def __call__(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        for layer in self.layers[:-1]:
            x = layer._outputs(x)
        return self.layers[-1](x)

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for i, layer in enumerate(self.layers):
            for name, p in layer.named_parameters():
                yield f"layers.{i}.{name}", p

    def architecture(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model's shape: ``MLP(**model.architecture())``."""
        return {
            "nin": self.layers[0].nin,
            "nouts": [layer.nout for layer in self.layers],
            "activation": [layer.activation for layer in self.layers[:-1]],
            "output_activation": self.layers[-1].activation,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the architecture and the parameters to ``path`` as JSON, atomically.

        The file is written next to ``path`` under a temporary name and renamed over it,
        so ``path`` never holds a partial model. Non-finite parameters raise ValueError.
        """
        state = self.state_dict()
        bad = [name for name, x in state.items() if not math.isfinite(x)]
        if bad:
            raise ValueError(f"MLP.save: parameter {bad[0]!r} is {state[bad[0]]!r}; JSON holds finite numbers")
        document = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "architecture": self.architecture(),
            "parameters": state,
        }
        with atomic_write(path) as f:
            json.dump(document, f, indent=1)
            f.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MLP:
        """A new MLP with the architecture and parameters saved in ``path`` by :meth:`save`.

        A missing file raises FileNotFoundError; a file that is not valid JSON (e.g.
        truncated), not a nanograd model, or whose parameters do not fit its architecture
        raises ValueError naming the file. Loading draws no random numbers, and since it
        builds a new model, a bad file cannot leave any model half loaded. To load into
        an existing model: ``model.load_state_dict(MLP.load(path).state_dict())``.
        """
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path}: not a nanograd model file (invalid JSON: {e})") from None
        if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
            raise ValueError(f"{path}: not a nanograd model file (no 'format': {FILE_FORMAT!r})")
        if document.get("version") != FILE_VERSION:
            raise ValueError(f"{path}: unsupported model file version {document.get('version')!r}")
        architecture, state = document.get("architecture"), document.get("parameters")
        if not isinstance(architecture, dict) or not isinstance(state, dict):
            raise ValueError(f"{path}: a model file needs an 'architecture' and a 'parameters' object")
        try:
            model = cls(**architecture, init="zeros")
            model.load_state_dict(state)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None
        return model

    def __repr__(self) -> str:
        a = self.architecture()
        hidden = set(a["activation"])
        activation = repr(hidden.pop()) if len(hidden) == 1 else repr(a["activation"])
        return (
            f"MLP({a['nin']}, {a['nouts']}, activation={activation}, "
            f"output_activation={a['output_activation']!r}, parameters={len(self.parameters())})"
        )
