"""Optimisers: SGD (with momentum and weight decay) and Adam, as in ``torch.optim``.

An optimiser holds a list of parameters (Values). After ``loss.backpropagate()``,
``step()`` updates each parameter's number (``p.data``) from its gradient (``p.grad``);
``zero_grad()`` clears the gradients for the next step. Both follow PyTorch's update
rules, so in float64 they produce the same numbers as ``torch.optim.SGD`` and
``torch.optim.Adam`` up to rounding.

``step_arrays(params, grads)`` is the same step on arrays (numpy or torch): the numbers
of all the parameters at once, as compiled training (``nanograd.compile(f).train_step``)
keeps them. Each optimiser writes its rule twice, once as a loop over floats (the hot
loop of eager training) and once as a few array operations; a test checks that the two
give the same numbers bit for bit. Both share the optimiser's state (momentum buffers,
Adam's moments), so they can be mixed.

A learning-rate schedule is a function of the step number ``k`` (0 for the first
``step()``) returning a factor for ``lr``, like ``torch.optim.lr_scheduler.LambdaLR``.
micrograd's demo decays the rate linearly from 1.0, which is::

    SGD(model.parameters(), lr=1.0, lr_schedule=linear_decay(100))  # 1.0 - 0.9*k/100
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .functional import zero_grad
from .value import Value

Schedule = Callable[[int], float]
#: A 1-D float64 array, numpy's or torch's.
Array = Any


def linear_decay(total_steps: int, decay: float = 0.9) -> Schedule:
    """The schedule ``k -> 1.0 - decay * k / total_steps`` (micrograd's demo: decay 0.9)."""
    if total_steps < 1:
        raise ValueError(f"linear_decay: total_steps must be positive, got {total_steps!r}")
    return lambda k: 1.0 - decay * k / total_steps


class Optimizer:
    """Base class: the parameters, the learning rate and its schedule, and the step count."""

    def __init__(self, params: Iterable[Value], lr: float, lr_schedule: Schedule | None = None) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be non-negative, got {lr!r}")
        self.lr = lr
        self.lr_schedule = lr_schedule
        #: Number of ``step()`` calls so far.
        self.steps = 0

    def current_lr(self) -> float:
        """The learning rate the next ``step()`` uses: ``lr * lr_schedule(steps)``."""
        return self.lr if self.lr_schedule is None else self.lr * self.lr_schedule(self.steps)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0."""
        zero_grad(self.params)

    def step(self) -> None:
        """Update every parameter from its gradient, with the current learning rate."""
        self._update(self.current_lr())
        self.steps += 1

    def step_arrays(self, params: Array, grads: Array) -> Array:
        """The same step on arrays: the new numbers of ``self.params`` from their numbers and gradients.

        ``params`` and ``grads`` are 1-D float64 arrays (numpy or torch) in the order of
        ``self.params``. The Values are not touched: writing the numbers back is the
        caller's (:class:`nanograd.compiler.training.TrainStep` does it).
        """
        new = self._update_arrays(self.current_lr(), params, grads)
        self.steps += 1
        return new

    def _update(self, lr: float) -> None:
        raise NotImplementedError

    def _update_arrays(self, lr: float, params: Array, grads: Array) -> Array:
        raise NotImplementedError

    def _gradients(self, weight_decay: float) -> list[float]:
        """Each parameter's gradient plus ``weight_decay * p`` (L2 regularisation, as in torch.optim).

        After ``backpropagate(create_graph=True)`` a gradient is a Value: its number is used,
        as torch.optim uses a gradient tensor's data.
        """
        grads = [p.grad if type(p.grad) is float else _number(p.grad) for p in self.params]
        if not weight_decay:
            return grads
        return [g + weight_decay * p.data for p, g in zip(self.params, grads)]


def _as_list(state: Any) -> list[float]:
    """Optimiser state as a list of floats (an array left by ``step_arrays`` becomes one)."""
    return state if isinstance(state, list) else state.tolist()


def _as_array(state: Any, like: Array) -> Array:
    """Optimiser state as an array like ``like`` (a list left by ``step`` becomes one)."""
    if not isinstance(state, list):
        return state
    if hasattr(like, "new_tensor"):  # torch: on like's device
        return like.new_tensor(state)
    import numpy as np

    return np.asarray(state, dtype=np.float64)


def _sqrt(like: Array) -> Callable[[Array], Array]:
    """The square root of the array library of ``like``."""
    if hasattr(like, "new_tensor"):
        import torch

        return torch.sqrt
    import numpy as np

    return np.sqrt


def _number(g: object) -> float:
    """A gradient's number: a float, or the number a gradient Value holds."""
    return g.data if isinstance(g, Value) else float(g)  # type: ignore[arg-type]


class SGD(Optimizer):
    """Stochastic gradient descent: ``p -= lr * d`` with ``d = grad + weight_decay * p``.

    With ``momentum`` m, ``d`` is replaced by the buffer ``b = m * b + d`` (``b = d`` on
    the first step), as in ``torch.optim.SGD`` without dampening or Nesterov.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        lr_schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, lr_schedule)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self._buffers: list[float] | Array | None = None

    def _update(self, lr: float) -> None:
        directions = self._gradients(self.weight_decay)
        if self.momentum:
            if self._buffers is not None:
                directions = [self.momentum * b + d for b, d in zip(_as_list(self._buffers), directions)]
            self._buffers = directions
        for p, d in zip(self.params, directions):
            p.data -= lr * d

    def _update_arrays(self, lr: float, params: Array, grads: Array) -> Array:
        directions = grads + self.weight_decay * params if self.weight_decay else grads
        if self.momentum:
            if self._buffers is not None:
                directions = self.momentum * _as_array(self._buffers, params) + directions
            self._buffers = directions
        return params - lr * directions


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as in ``torch.optim.Adam``.

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2, not AdamW's
    decoupled decay).
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        lr_schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, lr_schedule)
        if not all(0.0 <= beta < 1.0 for beta in betas):
            raise ValueError(f"Adam: betas must lie in [0, 1), got {betas!r}")
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self._m: list[float] | Array = [0.0] * len(self.params)  # first moments: running means of g
        self._v: list[float] | Array = [0.0] * len(self.params)  # second moments: running means of g**2

    def _constants(self, lr: float) -> tuple[float, float]:
        """This step's size (``lr`` over the first moment's bias correction) and the second's square root."""
        beta1, beta2 = self.betas
        t = self.steps + 1
        return lr / (1 - beta1**t), math.sqrt(1 - beta2**t)

    def _update(self, lr: float) -> None:
        beta1, beta2 = self.betas
        step_size, bias_correction2_sqrt = self._constants(lr)
        one_minus_beta1, one_minus_beta2, eps, sqrt = 1 - beta1, 1 - beta2, self.eps, math.sqrt  # hoisted: hot loop
        ms, vs = self._m, self._v = _as_list(self._m), _as_list(self._v)
        for i, (p, g) in enumerate(zip(self.params, self._gradients(self.weight_decay))):
            m = ms[i] = beta1 * ms[i] + one_minus_beta1 * g
            v = vs[i] = beta2 * vs[i] + one_minus_beta2 * g * g
            p.data -= step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)

    def _update_arrays(self, lr: float, params: Array, grads: Array) -> Array:
        beta1, beta2 = self.betas
        step_size, bias_correction2_sqrt = self._constants(lr)
        g = grads + self.weight_decay * params if self.weight_decay else grads
        m = self._m = beta1 * _as_array(self._m, params) + (1 - beta1) * g
        v = self._v = beta2 * _as_array(self._v, params) + (1 - beta2) * g * g
        return params - step_size * m / (_sqrt(params)(v) / bias_correction2_sqrt + self.eps)
