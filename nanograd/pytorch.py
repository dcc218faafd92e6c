"""The PyTorch bridge: move models between nanograd and PyTorch, and call nanograd from PyTorch.

* :func:`to_torch` / :func:`from_torch` turn an ``MLP``, ``Layer`` or ``Neuron`` into an
  ``nn.Sequential`` of ``nn.Linear`` and activation modules, and back, with the same weights
  (the round trip is exact in float64).
* :data:`TORCH_MATH` is the op table's math namespace for tensors, so every op rule runs on
  tensors too; :func:`torch_reference` evaluates an op's forward rule with it.
* :func:`function` wraps a scalar nanograd function as a ``torch.nn.Module`` that autograd
  can differentiate: it compiles the function and runs it over the whole batch as tensors.
* :func:`value_from_tensor` / :func:`value_to_tensor` convert single numbers.

PyTorch is an optional extra: only this module imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import torch
    from torch import nn
    from torch.autograd.function import once_differentiable
except ImportError as e:
    raise ImportError(
        'nanograd.pytorch needs PyTorch: pip install -e ".[torch]" --config-settings editable_mode=compat '
        "in a checkout of nanograd"
    ) from e

from .compiler import CompiledFunction, compile
from .compiler.torch_backend import TORCH_MATH
from .grad_mode import is_grad_enabled
from .neural_net import ACTIVATIONS, MLP, Layer, Neuron
from .ops import OPS, Op
from .value import Value

__all__ = [
    "TORCH_MATH",
    "FunctionModule",
    "ScalarFunction",
    "from_torch",
    "function",
    "to_torch",
    "torch_reference",
    "value_from_tensor",
    "value_to_tensor",
]

Model = MLP | Layer | Neuron


def torch_reference(op: Op | str, *tensors: torch.Tensor) -> torch.Tensor:
    """Evaluate ``op`` (an :class:`~nanograd.ops.Op` or its name in ``OPS``) on tensors, elementwise.

    This is ``op.forward(TORCH_MATH, *tensors)``: the op table's own forward rule, run by torch,
    so torch autograd differentiates it independently of nanograd's vjp rules.
    """
    op = OPS[op] if isinstance(op, str) else op
    out: torch.Tensor = op.forward(TORCH_MATH, *tensors)
    return out


# -- models ----------------------------------------------------------------------------


def _layers(model: Model) -> list[list[Neuron]]:
    """The neurons of each layer of ``model``, first layer first."""
    if isinstance(model, MLP):
        return [layer.neurons for layer in model.layers]
    if isinstance(model, Layer):
        return [model.neurons]
    if isinstance(model, Neuron):
        return [[model]]
    raise TypeError(f"to_torch: expected a nanograd MLP, Layer or Neuron, got {type(model).__name__}")


def to_torch(model: Model, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """A ``torch.nn.Sequential`` computing the same function as ``model``, with copied weights.

    Each nanograd layer becomes an ``nn.Linear`` (neuron ``i``'s weights are row ``i`` of the
    weight matrix, its bias entry ``i`` of the bias) followed by ``nn.ReLU``, ``nn.Tanh`` or
    ``nn.Sigmoid`` (nothing for a linear layer). The module maps inputs of shape
    ``(batch, nin)`` to ``(batch, nout)``, also where nanograd returns a single ``Value``
    (``nout == 1``). Move it to a device with ``.to(device)`` as usual; :func:`from_torch` turns
    it back into an ``MLP`` (one layer for a ``Layer`` or ``Neuron``).

    A narrower ``dtype`` rounds the weights; one whose range cannot hold a weight (``1e6`` in
    ``torch.float16``) raises ValueError naming the layer, instead of turning it into inf.
    A ``dtype`` that is not floating point (``torch.int64``, a complex one) raises TypeError.
    """
    _check_float_dtype("to_torch", dtype)
    modules: list[nn.Module] = []
    for i, neurons in enumerate(_layers(model)):
        linear = nn.Linear(len(neurons[0].w), len(neurons), dtype=dtype)
        weight = _parameter([[w.data for w in n.w] for n in neurons], dtype, f"layer {i} weight")
        linear.weight, linear.bias = weight, _parameter([n.b.data for n in neurons], dtype, f"layer {i} bias")
        modules.append(linear)
        activation = ACTIVATIONS[neurons[0].activation]
        if activation is not None:
            modules.append(getattr(nn, activation)())
    return nn.Sequential(*modules)


def _check_float_dtype(who: str, dtype: object) -> None:
    """Raise TypeError naming ``who`` unless ``dtype`` is a real floating-point torch dtype."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"{who}: dtype must be a floating-point torch dtype (torch.float64, torch.float32, ...), "
            f"got {dtype!r}: nanograd's numbers are real floats"
        )


def _exact_tensor(numbers: Any, dtype: torch.dtype, who: str, name: str) -> torch.Tensor:
    """``numbers`` as a tensor of the floating ``dtype``; ValueError if a finite number overflows it."""
    exact = torch.tensor(numbers, dtype=torch.float64)
    converted = exact.to(dtype)
    overflow = converted.isinf() & exact.isfinite()
    if overflow.any():
        x = exact[overflow].flatten()[0].item()
        raise ValueError(
            f"{who}: {dtype} cannot hold {name}{x!r} (it would become inf); "
            f"its largest number is {torch.finfo(dtype).max:g}, choose a wider dtype"
        )
    return converted


def _parameter(numbers: list[Any], dtype: torch.dtype, name: str) -> nn.Parameter:
    """``numbers`` as a parameter of ``dtype``; ValueError if a finite number overflows it."""
    return nn.Parameter(_exact_tensor(numbers, dtype, "to_torch", f"{name} "))


def _activation_name(module: nn.Module) -> str | None:
    """The nanograd name of a torch activation module, or None if it is not one."""
    return next(
        (name for name, torch_name in ACTIVATIONS.items() if torch_name and type(module) is getattr(nn, torch_name)),
        None,
    )


def _check_linear(linear: nn.Linear) -> None:
    """Raise TypeError naming ``linear`` unless it computes what a nanograd layer can: ``x @ W.T + b``, real."""
    if type(linear).forward is not nn.Linear.forward:
        raise TypeError(
            f"from_torch: cannot represent torch layer {linear!r}: {type(linear).__qualname__} "
            "subclasses nn.Linear with its own forward()"
        )
    if any(p.is_complex() for p in linear.parameters()):
        raise TypeError(f"from_torch: cannot represent torch layer {linear!r}: complex weights (nanograd is real)")


def _linear_layers(sequential: nn.Sequential) -> list[tuple[nn.Linear, str]]:
    """Split ``sequential`` into (Linear, activation name) pairs, or raise naming the first misfit.

    Layer sizes must chain: a Linear's ``in_features`` equal the previous one's ``out_features``
    (ValueError naming both otherwise).
    """
    pairs: list[tuple[nn.Linear, str]] = []
    previous = ""  # "layer INDEX Linear(...)" of the last Linear, for the chaining message
    for index, module in enumerate(sequential):  # not named_children(), which skips repeated modules
        activation = _activation_name(module)
        if isinstance(module, nn.Linear):
            _check_linear(module)
            if pairs and pairs[-1][0].out_features != module.in_features:
                raise ValueError(
                    f"from_torch: layer sizes do not chain: {previous} has {pairs[-1][0].out_features} outputs "
                    f"but layer {index} {module!r} takes {module.in_features} inputs"
                )
            pairs.append((module, "linear"))
            previous = f"layer {index} {module!r}"
        elif activation is not None and pairs and pairs[-1][1] == "linear":
            pairs[-1] = (pairs[-1][0], activation)
        else:
            hint = "" if activation is None else " (nanograd has one activation right after each Linear)"
            raise TypeError(f"from_torch: cannot represent torch layer {module!r}{hint}")
    if not pairs:
        raise TypeError(f"from_torch: cannot represent an empty {sequential!r}")
    return pairs


def _check_no_forward_hooks(module: nn.Module) -> None:
    """Raise TypeError naming the first module (``module`` or one inside it) with a forward (pre-)hook."""
    for m in module.modules():
        hooks = {"forward hooks": m._forward_hooks, "forward pre-hooks": m._forward_pre_hooks}
        kinds = [kind for kind, registered in hooks.items() if registered]
        if kinds:
            raise TypeError(
                f"from_torch: cannot represent torch layer {m!r}: it has {' and '.join(kinds)}, which change "
                "what it computes (remove them with the handles that registering them returned)"
            )


def _copy_linear(linear: nn.Linear, layer: Layer) -> None:
    """Copy ``linear``'s weights and bias (zeros when it has none) into ``layer``'s neurons."""
    weight = linear.weight.detach().double().tolist()
    bias = [0.0] * linear.out_features if linear.bias is None else linear.bias.detach().double().tolist()
    for neuron, row, b in zip(layer.neurons, weight, bias, strict=True):
        for w, x in zip(neuron.w, row, strict=True):
            w.data = x
        neuron.b.data = b


def from_torch(module: nn.Module) -> MLP | Layer:
    """The nanograd model computing the same function as a torch ``module``, with exact weights.

    A single ``nn.Linear`` becomes a linear :class:`~nanograd.neural_net.Layer`; an
    ``nn.Sequential`` of ``nn.Linear`` modules, each optionally followed by ``nn.ReLU``,
    ``nn.Tanh`` or ``nn.Sigmoid``, becomes an :class:`~nanograd.neural_net.MLP` (hidden layers
    may use different activations). A Linear without bias gets a zero bias. Anything else
    raises ``TypeError: from_torch: cannot represent torch layer ...`` naming the module: other
    layers, complex weights, subclasses of ``nn.Linear`` that override ``forward``, and
    modules with forward hooks or forward pre-hooks (they change what a module computes).
    Layer sizes that do not chain raise ValueError naming both layers.
    """
    _check_no_forward_hooks(module)
    if isinstance(module, nn.Linear):
        _check_linear(module)
        layer = Layer(module.in_features, module.out_features, "linear", init="zeros")
        _copy_linear(module, layer)
        return layer
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"from_torch: cannot represent torch layer {module!r}")
    pairs = _linear_layers(module)
    activations = [activation for _, activation in pairs]
    mlp = MLP(
        pairs[0][0].in_features,
        [linear.out_features for linear, _ in pairs],
        activation=activations[:-1],
        output_activation=activations[-1],
        init="zeros",
    )
    for (linear, _), layer in zip(pairs, mlp.layers):
        _copy_linear(linear, layer)
    return mlp


# -- calling nanograd from torch ----------------------------------------------------------


class ScalarFunction(torch.autograd.Function):
    """``ScalarFunction.apply(x, f)``: compiled function ``f`` applied to each row of ``x`` (batch, n) -> (batch,).

    ``f`` (a :func:`nanograd.compile` function on the torch backend) runs the traced graph
    over the whole batch as tensor operations, on ``x``'s device. When ``x`` needs a gradient
    the same pass runs the op table's vjp rules backwards and keeps each sample's gradient
    (a row of the Jacobian); the backward pass is ``grad_output[:, None] * jacobian``. It is
    not itself differentiable (no double backward).

    The computation is in float64; the output has ``x``'s dtype if that is floating point,
    else torch's default dtype (integer and bool inputs give float outputs, as ``torch.tanh``
    does). Complex inputs raise TypeError (nanograd is real).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, f: CompiledFunction) -> torch.Tensor:
        """``f`` on every row of ``x``; saves each row's gradient for :meth:`backward` when torch needs it."""
        need_grad = ctx.needs_input_grad[0]
        if x.is_complex():
            raise TypeError(f"nanograd.pytorch.function({f.__name__}): complex input ({x.dtype}); nanograd is real")
        if need_grad and not is_grad_enabled():
            raise RuntimeError("nanograd.pytorch.function: gradients are needed but nanograd.no_grad() is on")
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        if len(x) == 0:
            if need_grad:
                ctx.save_for_backward(x.new_zeros(x.shape))  # an empty Jacobian, shape (0, n)
            return x.new_zeros(0, dtype=dtype)
        outputs, gradients = f.evaluate(*x.detach().unbind(1), gradients=need_grad)
        if gradients is not None:
            ctx.save_for_backward(torch.stack(gradients, dim=1).to(x.dtype))
        result: torch.Tensor = outputs.to(dtype)
        return result

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The gradient for ``x``: each row's saved gradient times its output's gradient (none for ``f``)."""
        (jacobian,) = ctx.saved_tensors
        return grad_output[:, None] * jacobian, None


class FunctionModule(nn.Module):
    """A scalar nanograd function as a torch module: input (batch, n) -> output (batch,).

    Row ``i`` of the input holds the ``n`` arguments of sample ``i``. Create it with
    :func:`function`. It can be deep-copied and pickled (so it can go into a checkpoint or
    ``DataParallel``) when ``fn`` can: a module-level function can, a lambda cannot (that
    error is Python's own); the copy traces ``fn`` again on its first call.
    """

    def __init__(self, fn: Callable[..., Value]) -> None:
        super().__init__()
        self.fn = fn
        self.compiled = compile(fn, backend="torch")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``fn`` applied to each row of ``x``, differentiable by torch autograd."""
        if x.dim() != 2:
            raise ValueError(f"function({self.extra_repr()}): expected input of shape (batch, n), got {tuple(x.shape)}")
        out: torch.Tensor = ScalarFunction.apply(x, self.compiled)  # type: ignore[no-untyped-call]  # untyped in torch
        return out

    def extra_repr(self) -> str:
        """The wrapped function's name, shown in the module's repr."""
        return getattr(self.fn, "__name__", repr(self.fn))


def function(fn: Callable[..., Value]) -> FunctionModule:
    """Wrap ``fn(*values) -> Value`` (``n`` Values in, one out) for batched tensors.

    The result is a ``torch.nn.Module`` mapping a tensor of shape ``(batch, n)`` (one sample
    per row) to ``(batch,)``; torch autograd differentiates it through nanograd's gradients, so
    it can sit in an ``nn.Sequential`` next to native layers. ``fn`` is compiled
    (:func:`nanograd.compile`, torch backend): traced once, then run over the whole batch as
    tensor operations; its limits apply (control flow that depends on data is frozen, and
    only the inputs get gradients). Works as a decorator, too::

        @function
        def f(x, y):
            return (x * y).tanh() + y.exp()

        f(torch.randn(8, 2, dtype=torch.float64, requires_grad=True)).sum().backward()
    """
    return FunctionModule(fn)


# -- single numbers --------------------------------------------------------------------------


def value_from_tensor(t: torch.Tensor) -> Value:
    """A new leaf ``Value`` holding the number in a 0-d or one-element tensor ``t``."""
    if t.numel() != 1:
        raise ValueError(f"value_from_tensor: expected a tensor with one element, got shape {tuple(t.shape)}")
    return Value(t.item())


def value_to_tensor(v: Value, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A 0-d tensor of ``dtype`` holding ``v``'s number (the gradient is not copied).

    As in :func:`to_torch`, a ``dtype`` that cannot hold the number (``1e6`` in
    ``torch.float16``) raises ValueError instead of giving inf, and one that is not floating
    point raises TypeError.
    """
    _check_float_dtype("value_to_tensor", dtype)
    return _exact_tensor(v.data, dtype, "value_to_tensor", "")
