"""Neurons, layers and multi-layer perceptrons built from scalar ``Value`` steps.

A neuron is nothing but ``b + w0*x0 + w1*x1 + ...`` followed by an activation, so
every multiplication and addition is a node of the graph (and of ``draw_dot``).
With the default initialisation and the same ``random.seed``, a model starts with
exactly micrograd's weights and computes exactly micrograd's numbers.

Saving and loading::

    model.state_dict()          # {'layers.0.neurons.0.w.0': 0.23, ..., 'layers.2.neurons.0.b': 0.0}
    model.load_state_dict(sd)   # checks every name first, then copies the numbers in
    model.save("model.json")    # architecture + parameters as JSON, written atomically
    model = MLP.load("model.json")  # checks the whole file before building anything

A model file is plain JSON and loading runs no code. ``MLP.load`` reads regular files of
at most :data:`MAX_FILE_BYTES` (16 MiB, about 330,000 parameters); it checks that the
parameters the architecture needs are all in the file before it allocates the model, so
a hostile file costs at most about a second and a few hundred MB (README, "Model files").
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import os
import random
import reprlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._io import atomic_write, read_regular_file
from .functional import zero_grad
from .value import Number, Value

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

#: ``MLP.load`` refuses larger files (its ``max_bytes`` argument) before reading them. A saved
#: parameter takes about 50 bytes, so 16 MiB hold about 330,000 of them.
MAX_FILE_BYTES = 16 * 2**20

#: A model file has 3 JSON objects and 2 arrays. Counting ``{`` and ``[`` before parsing (at C
#: speed) refuses deep nesting and floods of small containers, which cost far more memory than
#: their bytes; any count up to this one is allowed.
_MAX_CONTAINERS = 16


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
        number that a float can hold (NaN and infinities are copied as they are); otherwise
        ``ValueError`` says what is missing, unexpected or wrong. Every value is checked and
        converted before the first parameter is written, so on an error no parameter has
        changed. Gradients are left as they are.
        """
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state]
        unexpected = [name for name in state if name not in params]
        if missing or unexpected:
            raise ValueError(
                f"load_state_dict: parameter names do not match this {type(self).__name__}: "
                f"{len(missing)} missing {_preview(missing)}, {len(unexpected)} unexpected {_preview(unexpected)}"
            )
        converted = {name: _as_float(name, state[name]) for name in params}
        for name, p in params.items():
            p.data = converted[name]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (gradients accumulate across backprops)."""
        zero_grad(self.parameters())


def _as_float(name: str, x: object) -> float:
    """``x`` as a float for parameter ``name``; ValueError if it is no real number or too large."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ValueError(f"load_state_dict: parameter {name!r} must be a real number, got {reprlib.repr(x)}")
    try:
        return float(x)
    except OverflowError as e:  # e.g. a 400-digit int
        raise ValueError(f"load_state_dict: parameter {name!r} does not fit in a float ({e})") from None


def _check_parameter_count(architecture: Mapping[str, Any], available: int) -> None:
    """Raise ValueError unless ``MLP(**architecture)`` has exactly ``available`` parameters.

    Computed without building the model (a file may ask for 10**18 weights), and in time
    proportional to ``available``: ``nin`` and every entry of ``nouts`` must be positive ints.
    """
    nin, nouts = architecture.get("nin"), architecture.get("nouts")
    if not isinstance(nouts, list):
        raise ValueError(f"nouts must be a list of layer sizes, got {reprlib.repr(nouts)}")
    if 2 * len(nouts) > available:  # every layer has a weight and a bias at least
        raise ValueError(
            f"{len(nouts):,} layers need {2 * len(nouts):,} parameters or more; the file holds {available:,}"
        )
    sizes = [nin, *nouts]
    for i, n in enumerate(sizes):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{'nin' if i == 0 else f'nouts[{i - 1}]'} must be a positive int, got {reprlib.repr(n)}")
    needed = sum((fan_in + 1) * fan_out for fan_in, fan_out in itertools.pairwise(sizes))
    if needed != available:
        raise ValueError(f"the architecture has {needed:,} parameters but the file holds {available:,}")


def _read_model_document(path: Path, max_bytes: int) -> dict[str, Any]:
    """The JSON object in model file ``path``, with its format and version checked.

    Everything wrong raises ValueError naming ``path`` (only a missing or unreadable file
    raises OSError): not a regular file, too large, too many nested objects or arrays,
    invalid JSON (including integers longer than Python converts), not a nanograd model,
    another version.
    """
    data = read_regular_file(path, max_bytes)
    if data.count(b"{") + data.count(b"[") > _MAX_CONTAINERS:
        raise ValueError(f"{path}: not a nanograd model file (more JSON objects and arrays than a model has)")
    try:
        document = json.loads(data.decode("utf-8"))
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, ints beyond sys.get_int_max_str_digits()
        raise ValueError(f"{path}: not a nanograd model file (invalid JSON: {e})") from None
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise ValueError(f"{path}: not a nanograd model file (no 'format': {FILE_FORMAT!r})")
    if document.get("version") != FILE_VERSION:
        raise ValueError(f"{path}: unsupported model file version {reprlib.repr(document.get('version'))}")
    return document


def _preview(names: list[str], limit: int = 3) -> str:
    """``names`` as a short bracketed list for an error message."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}]"


def _single(who: str, outputs: list[Value]) -> Value:
    """The one Value of ``outputs``; ValueError naming ``who`` when there are more."""
    if len(outputs) != 1:
        raise ValueError(f"{who}.scalar: the model has {len(outputs)} outputs, not one; call it to get them all")
    return outputs[0]


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
        """The neuron's output for the ``nin`` inputs ``x`` (Values or numbers); ValueError for another count."""
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
    gives a list of ``nout`` Values, or one Value when ``nout == 1`` (as in micrograd);
    :meth:`outputs` always gives the list and :meth:`scalar` the one Value, each with a
    type a type checker can follow.
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
        """The outputs for the inputs ``x``: a list, or one Value for a layer of one neuron (as in micrograd)."""
        out = self.outputs(x)
        return out[0] if len(out) == 1 else out

    def outputs(self, x: Sequence[Value | Number]) -> list[Value]:
        """Every neuron's output, as a list also when there is one neuron."""
        return [n(x) for n in self.neurons]

    def scalar(self, x: Sequence[Value | Number]) -> Value:
        """The output of a layer of one neuron, typed as one Value; ValueError for a wider layer."""
        return _single("Layer", self.outputs(x))

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
        """The model's outputs for the inputs ``x``: a list, or one Value when the last layer has one neuron."""
        out = self.outputs(x)
        return out[0] if len(out) == 1 else out

    def outputs(self, x: Sequence[Value | Number]) -> list[Value]:
        """The last layer's outputs, as a list also when there is one."""
        out = self.layers[0].outputs(x)
        for layer in self.layers[1:]:
            out = layer.outputs(out)
        return out

    def scalar(self, x: Sequence[Value | Number]) -> Value:
        """The output of a model whose last layer has one neuron, typed as one Value.

        ``model(x)`` returns a Value or a list, as micrograd's does, so a type checker
        cannot know which; ``model.scalar(x)`` is the same Value for a type checker too.
        A model with more outputs raises ValueError.
        """
        return _single("MLP", self.outputs(x))

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
        A symbolic link is followed (its target is replaced), a new file gets the permissions
        the umask allows; see :func:`nanograd._io.atomic_write`.
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
    def load(cls, path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> MLP:
        """A new MLP with the architecture and parameters saved in ``path`` by :meth:`save`.

        A missing file raises FileNotFoundError. Everything else that is wrong raises
        ValueError naming the file: not a regular file (a FIFO or device is never read),
        larger than ``max_bytes`` (default :data:`MAX_FILE_BYTES`), not valid JSON (e.g.
        truncated), non-finite numbers (``NaN``, ``Infinity``, ``1e999``), not a nanograd
        model, or parameters that do not fit the architecture. The architecture's size is
        checked against the parameters present before the model is built, so memory and time
        stay proportional to the file's size. Loading draws no random numbers, and since it
        builds a new model, a bad file cannot leave any model half loaded. To load into an
        existing model: ``model.load_state_dict(MLP.load(path).state_dict())``.
        """
        path = Path(path)
        document = _read_model_document(path, max_bytes)
        architecture, state = document.get("architecture"), document.get("parameters")
        if not isinstance(architecture, dict) or not isinstance(state, dict):
            raise ValueError(f"{path}: a model file needs an 'architecture' and a 'parameters' object")
        try:
            _check_parameter_count(architecture, len(state))
            # NaN, Infinity and numbers beyond a float (1e999) parse as non-finite floats
            bad = [name for name, x in state.items() if isinstance(x, float) and not math.isfinite(x)]
            if bad:
                raise ValueError(f"parameter {bad[0]!r} is {state[bad[0]]!r}; a model file holds finite numbers only")
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
