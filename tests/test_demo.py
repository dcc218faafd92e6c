"""The demo's figures teach at a glance: one colour per class, titles, axis labels, legends, a smooth boundary."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgb
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from nanograd import demo


@pytest.fixture(scope="module")
def trained() -> tuple[demo.MLP, list[list[float]], list[float], demo.History]:
    X, y = demo.make_moons_data()
    model = demo.make_model()
    history = demo.train(model, X, y, steps=100, engine="compiled")
    return model, X, y, history


def figures(trained: tuple[demo.MLP, list[list[float]], list[float], demo.History]) -> dict[str, Figure]:
    model, X, y, history = trained
    return {
        "data": demo.plot_data(X, y),
        "boundary": demo.plot_decision_boundary(model, X, y),
        "history": demo.plot_history(history),
    }


def test_every_figure_has_a_title_axis_labels_and_a_legend(trained) -> None:
    for name, fig in figures(trained).items():
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), name
            legend = ax.get_legend()
            assert legend is not None and all(text.get_text() for text in legend.get_texts()), name


def point_colors(fig: Figure) -> dict[str, tuple[float, float, float]]:
    """Legend label of each scatter (one per class) -> its colour."""
    (ax,) = fig.axes
    return {
        c.get_label(): tuple(to_rgb(c.get_facecolor()[0]))
        for c in ax.collections
        if isinstance(c, PathCollection) and not isinstance(c, ContourSet)
    }


def test_a_class_has_one_colour_in_the_data_the_points_and_the_region_predicted_for_it(trained) -> None:
    model, X, y, _ = trained
    expected = {f"class {label:+.0f}": to_rgb(color) for label, color in demo.CLASS_COLORS.items()}
    assert point_colors(demo.plot_data(X, y)) == expected
    boundary = demo.plot_decision_boundary(model, X, y)
    assert point_colors(boundary) == expected
    (regions,) = [c for c in boundary.axes[0].collections if isinstance(c, ContourSet) and c.filled]
    below, above = (tuple(to_rgb(tuple(rgba))) for rgba in regions.get_facecolor())
    # The region of negative scores is where the model predicts -1: it has class -1's colour.
    assert (below, above) == (expected["class -1"], expected["class +1"])
    assert list(regions.levels)[1] == 0.0
    scores = [model.scalar(x).data for x in X]
    assert all((s > 0) == (label > 0) for s, label in zip(scores, y))  # 100%: the colours line up with the points


def test_the_decision_boundary_is_a_smooth_line_at_score_zero(trained) -> None:
    model, X, y, _ = trained
    fig = demo.plot_decision_boundary(model, X, y)
    (line,) = [c for c in fig.axes[0].collections if isinstance(c, ContourSet) and not c.filled]
    assert list(line.levels) == [0.0]
    vertices = np.concatenate([path.vertices for path in line.get_paths()])
    steps = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
    assert len(vertices) > 300 and np.median(steps) < 0.03  # short segments: no visible staircase
