"""A 3-class classifier trained through ``nanograd.compile``: the classic spiral data set.

Three arms of points wind around the origin, one class per arm; no straight line separates
them. An MLP (2 -> 32 -> 32 -> 3, ReLU) learns the regions with softmax cross-entropy and
a little L2 penalty, trained by Adam on the whole data set at every step. The loss of a
point is written once, as a function of the point and its label::

    loss = nanograd.compile(lambda x, label: cross_entropy([model(x)], [label]) + l2)

so the label is data (an index argument, picked with ``take`` inside ``cross_entropy``),
and the compiled mean over all points, with its gradients, equals the eager one.

Run ``python examples/spiral.py`` (a few seconds); it prints the loss and the training
accuracy and writes the decision regions to ``spiral.png``. Or use the pieces::

    X, y = make_spiral()
    model = make_model()
    history = train(model, X, y, steps=300)            # compiled; compiled=False: eagerly
    save_figure(plot_regions(model, X, y), "spiral.png")
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

import nanograd
from nanograd import Value
from nanograd.demo import save_figure
from nanograd.losses import cross_entropy, l2_penalty
from nanograd.nn import MLP
from nanograd.optim import Adam

#: One colour per class, in the figure's regions and points.
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c")


def make_spiral(points_per_class: int = 100, classes: int = 3, seed: int = 0) -> tuple[list[list[float]], list[int]]:
    """The spiral data set (as in Stanford's CS231n): ``classes`` arms of ``points_per_class`` points."""
    rng = random.Random(seed)
    X, y = [], []
    for c in range(classes):
        for i in range(points_per_class):
            r = i / points_per_class
            t = c * 4 + 4 * r + rng.gauss(0, 0.2)
            X.append([r * math.sin(t), r * math.cos(t)])
            y.append(c)
    return X, y


def make_model(classes: int = 3, seed: int = 0) -> MLP:
    """An MLP 2 -> 32 -> 32 -> ``classes`` with ReLU, He's initialisation and seeded weights."""
    random.seed(seed)
    return MLP(2, [32, 32, classes], init="kaiming")


@dataclass
class History:
    """The loss and the training accuracy after each step."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)


def classifier(model: MLP) -> Callable[[Sequence[Sequence[float]]], list[int]]:
    """A function giving the class with the largest logit for each point, through ``compile(model).map``."""
    logits_of = nanograd.compile(model)  # traced on the first call, then reused

    def classify(points: Sequence[Sequence[float]]) -> list[int]:
        logits = np.asarray(logits_of.map(np.asarray(points, dtype=float)))
        return [int(c) for c in logits.argmax(axis=1)]

    return classify


def objective(
    model: MLP, X: Sequence[Sequence[float]], y: Sequence[int], alpha: float, compiled: bool
) -> Callable[[], Value]:
    """A function returning the training loss: mean cross-entropy + ``alpha`` * L2, compiled or eager."""
    params = model.parameters()
    if not compiled:
        return lambda: cross_entropy([model(x) for x in X], y) + l2_penalty(params, alpha)
    loss = nanograd.compile(lambda x, label: cross_entropy([model(x)], [label]) + l2_penalty(params, alpha))
    points, labels = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    return lambda: loss.mean(points, labels)


def train(
    model: MLP,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    steps: int = 300,
    lr: float = 0.02,
    alpha: float = 1e-4,
    compiled: bool = True,
    on_step: Callable[[int, float, float], None] | None = None,
) -> History:
    """Full-batch training with Adam; ``compiled=False`` builds the eager graph of every point instead."""
    loss_of = objective(model, X, y, alpha, compiled)
    classify = classifier(model)
    optimizer = Adam(model.parameters(), lr=lr)
    history = History()
    for step in range(steps):
        loss = loss_of()
        optimizer.zero_grad()
        loss.backpropagate()
        optimizer.step()
        accuracy = sum(p == c for p, c in zip(classify(X), y)) / len(y)
        history.loss.append(loss.data)
        history.accuracy.append(accuracy)
        if on_step is not None:
            on_step(step, loss.data, accuracy)
    return history


def plot_regions(model: MLP, X: Sequence[Sequence[float]], y: Sequence[int], h: float = 0.01) -> Figure:
    """The model's decision regions over a grid of spacing ``h``, with the points on top, one colour per class."""
    points = np.asarray(X)
    low, high = points.min(axis=0) - 0.2, points.max(axis=0) + 0.2
    xx, yy = np.meshgrid(np.arange(low[0], high[0], h), np.arange(low[1], high[1], h))
    classify = classifier(model)
    regions = np.array(classify(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    classes = max(y) + 1
    colours = ListedColormap(COLOURS[:classes])
    fig = Figure(figsize=(6, 6))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.contourf(xx, yy, regions, levels=np.arange(classes + 1) - 0.5, cmap=colours, alpha=0.3)
    labels = np.asarray(y)
    for c in range(classes):
        ax.scatter(*points[labels == c].T, s=18, color=COLOURS[c], edgecolor="k", linewidth=0.3, label=f"class {c}")
    accuracy = float(np.mean(np.array(classify(X)) == labels))
    ax.set(
        title=f"Spiral: decision regions of an MLP trained with nanograd.compile ({100 * accuracy:.1f}% correct)",
        xlabel="x",
        ylabel="y",
        xlim=(low[0], high[0]),
        ylim=(low[1], high[1]),
    )
    ax.title.set_fontsize(9)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--eager", action="store_true", help="build the eager graph at every step instead")
    parser.add_argument("--out", default="spiral.png", help="where to write the figure (default spiral.png)")
    args = parser.parse_args()

    X, y = make_spiral()
    model = make_model()

    def report(step: int, loss: float, accuracy: float) -> None:
        if (step + 1) % 50 == 0 or step == args.steps - 1:
            print(f"step {step + 1:4d}  loss {loss:.4f}  accuracy {100 * accuracy:.1f}%")

    train(model, X, y, steps=args.steps, compiled=not args.eager, on_step=report)
    save_figure(plot_regions(model, X, y), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
