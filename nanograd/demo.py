"""The moons demo: train a small MLP to separate scikit-learn's two moons, as micrograd does.

Needs the demo extras: numpy, matplotlib, scikit-learn (in a checkout of nanograd,
``pip install -e ".[demo]" --config-settings editable_mode=compat``). The pieces are usable on their own::

    X, y = make_moons_data(n_samples=100, seed=1337)
    model = make_model(seed=1337)                  # MLP(2, [16, 16, 1])
    history = train(model, X, y, steps=100)        # hinge loss + 1e-4 L2, SGD 1.0 -> 0.1
    save_figure(plot_decision_boundary(model, X, y), "moon_mlp.png")

With the defaults every number matches micrograd's ``demo.ipynb`` bit for bit.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from sklearn.datasets import make_moons

from ._io import atomic_write
from .compiler import compile
from .losses import hinge_loss, l2_penalty
from .neural_net import MLP
from .optim import SGD, Adam, Optimizer, linear_decay
from .value import Value

#: Optimiser name -> factory(parameters, steps); both decay the rate linearly to a tenth.
OPTIMIZERS: dict[str, Callable[[list[Value], int], Optimizer]] = {
    "sgd": lambda params, steps: SGD(params, lr=1.0, lr_schedule=linear_decay(steps)),
    "adam": lambda params, steps: Adam(params, lr=0.05, lr_schedule=linear_decay(steps)),
}


@dataclass
class History:
    """Per-step records of a training run: the loss and the accuracy of step ``k``."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)


def make_moons_data(
    n_samples: int = 100, noise: float = 0.1, seed: int = 1337
) -> tuple[list[list[float]], list[float]]:
    """Two interleaved half circles: points ``X`` (pairs of floats) and labels ``y`` in {-1.0, +1.0}."""
    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return X.tolist(), (2.0 * y - 1.0).tolist()


def make_model(seed: int = 1337) -> MLP:
    """``MLP(2, [16, 16, 1])`` after ``random.seed(seed)``: micrograd's demo model and weights."""
    random.seed(seed)
    return MLP(2, [16, 16, 1])


def make_optimizer(name: str, params: list[Value], steps: int) -> Optimizer:
    """The optimiser ``name`` (a key of :data:`OPTIMIZERS`) for a run of ``steps`` steps."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, steps)


def loss_and_accuracy(
    model: MLP, X: Sequence[Sequence[float]], y: Sequence[float], alpha: float = 1e-4
) -> tuple[Value, float]:
    """The demo objective on the whole data set: hinge loss + ``alpha`` * L2, and the accuracy.

    Computed in micrograd's order (``data_loss + reg_loss``), so the loss is bit for bit
    micrograd's. The accuracy is the fraction of points whose score has the label's sign.
    """
    scores = [model.scalar(x) for x in X]
    total = hinge_loss(scores, y) + l2_penalty(model.parameters(), alpha)
    accuracy = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores)) / len(y)
    return total, accuracy


#: How a training step computes the loss: ``eager`` builds the graph of every sample at every
#: step; ``compiled`` traces the model once and runs the batch as array operations.
ENGINES = ("compiled", "eager")


def compiled_loss_and_accuracy(
    model: MLP, X: Sequence[Sequence[float]], y: Sequence[float], alpha: float = 1e-4
) -> Callable[[], tuple[Value, float]]:
    """A function computing :func:`loss_and_accuracy` through :func:`nanograd.compile`.

    The per-sample objective ``hinge(x, label) + alpha * L2`` is compiled once; its mean
    over the data is the demo loss (the L2 term does not depend on the sample, so its mean
    is itself). Every call reads the parameters' current numbers, so it follows the
    optimiser. The loss is one node whose inputs are the parameters, equal to the eager
    loss to rounding (1e-9 relative).
    """
    params = model.parameters()
    objective = compile(lambda x, label: (1 + -label * model(x)).relu() + l2_penalty(params, alpha))
    score = compile(model)
    points, labels = np.asarray(X, dtype=float), np.asarray(y, dtype=float)

    def loss_and_accuracy() -> tuple[Value, float]:
        accuracy = float(np.mean((score.map(points) > 0) == (labels > 0)))
        return objective.mean(points, labels), accuracy

    return loss_and_accuracy


def train(
    model: MLP,
    X: Sequence[Sequence[float]],
    y: Sequence[float],
    steps: int = 100,
    optimizer: Optimizer | None = None,
    alpha: float = 1e-4,
    on_step: Callable[[int, float, float], None] | None = None,
    engine: str = "eager",
) -> History:
    """Full-batch training of ``model`` for ``steps`` steps; returns the per-step :class:`History`.

    Each step computes :func:`loss_and_accuracy`, backpropagates and updates the
    parameters. ``optimizer`` defaults to micrograd's SGD with rate ``1.0 - 0.9*k/steps``.
    ``on_step(k, loss, accuracy)`` is called after each step (e.g. to update a progress bar).
    ``engine`` is ``'eager'`` or ``'compiled'`` (see :data:`ENGINES`); both give the same run.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    objective = (
        compiled_loss_and_accuracy(model, X, y, alpha)
        if engine == "compiled"
        else lambda: loss_and_accuracy(model, X, y, alpha)
    )
    if optimizer is None:
        optimizer = make_optimizer("sgd", model.parameters(), steps)
    history = History()
    for k in range(steps):
        total, accuracy = objective()
        optimizer.zero_grad()
        total.backpropagate()
        history.loss.append(total.data)
        history.accuracy.append(accuracy)
        optimizer.step()
        if on_step is not None:
            on_step(k, total.data, accuracy)
    return history


#: One colour per class in every figure: its points, and the region where the model predicts it.
CLASS_COLORS = {-1.0: "tab:red", 1.0: "tab:blue"}
#: How strongly the predicted regions are tinted under the points.
REGION_ALPHA = 0.25


def _figure(**kwargs: Any) -> Figure:
    """A new Figure drawn by the Agg backend, without pyplot's global state."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _scatter_classes(ax: Axes, X: Sequence[Sequence[float]], y: Sequence[float]) -> None:
    """The points of each class in its colour of :data:`CLASS_COLORS`, labelled for the legend, and the axes named."""
    points, labels = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    for label, color in CLASS_COLORS.items():
        mine = labels == label
        ax.scatter(
            points[mine, 0],
            points[mine, 1],
            color=color,
            s=30,
            edgecolors="white",
            linewidths=0.5,
            label=f"class {label:+.0f}",
        )
    ax.set(xlabel="x[0]", ylabel="x[1]")


def plot_data(X: Sequence[Sequence[float]], y: Sequence[float]) -> Figure:
    """The data set alone: each class in its colour of :data:`CLASS_COLORS`."""
    fig = _figure(figsize=(6, 4.5))
    ax = fig.subplots()
    _scatter_classes(ax, X, y)
    ax.set_title(f"two moons: {len(y)} points")
    ax.legend(loc="upper right")
    return fig


def plot_decision_boundary(model: MLP, X: Sequence[Sequence[float]], y: Sequence[float], h: float = 0.02) -> Figure:
    """The model's predicted regions and its decision boundary (score 0), with the data points on top.

    The scores are computed on a mesh of spacing ``h`` (one compiled batch) and the
    boundary is the contour line of score 0 between the mesh points, so it is smooth. Each
    region is tinted with the colour of the class predicted there, the colour of that
    class's points.
    """
    points = np.asarray(X, dtype=float)
    x_min, y_min = points.min(axis=0) - 1
    x_max, y_max = points.max(axis=0) + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    scores = compile(model).map(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)  # the whole mesh as one batch
    fig = _figure(figsize=(6, 4.5))
    ax = fig.subplots()
    low, high = min(scores.min(), 0.0) - 1, max(scores.max(), 0.0) + 1
    colors = [CLASS_COLORS[-1.0], CLASS_COLORS[1.0]]
    ax.contourf(xx, yy, scores, levels=[low, 0.0, high], colors=colors, alpha=REGION_ALPHA)
    ax.contour(xx, yy, scores, levels=[0.0], colors="black", linewidths=1)
    _scatter_classes(ax, X, y)
    regions = [
        Patch(color=color, alpha=REGION_ALPHA, label=f"predicted {label:+.0f}") for label, color in CLASS_COLORS.items()
    ]
    handles = [*ax.get_legend_handles_labels()[0], *regions, Line2D([], [], color="black", label="score = 0")]
    ax.legend(handles=handles, loc="upper right", fontsize="small")
    ax.set_title(f"decision boundary of MLP({model.layers[0].nin}, {[layer.nout for layer in model.layers]})")
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    return fig


def plot_history(history: History) -> Figure:
    """Loss (log scale) and accuracy per training step, side by side (each step's, before its update)."""
    fig = _figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(history.loss, label="hinge loss + L2")
    ax_loss.set(yscale="log", xlabel="step", ylabel="loss", title="training loss")
    ax_acc.plot([100 * a for a in history.accuracy], color="tab:green", label="training points classified right")
    ax_acc.set(xlabel="step", ylabel="accuracy (%)", title="training accuracy")
    ax_loss.legend(loc="upper right")
    ax_acc.legend(loc="lower right")
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` to ``path`` as PNG, atomically."""
    with atomic_write(path, binary=True) as f:
        fig.savefig(f, format="png")
