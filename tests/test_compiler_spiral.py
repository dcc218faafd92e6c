"""examples/spiral.py: a 3-class model trained through compile, equal to eager, >= 95% accurate."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT, load_module

pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")  # nanograd.demo's save_figure


@pytest.fixture(scope="module")
def spiral() -> ModuleType:
    return load_module(ROOT / "examples" / "spiral.py")


def test_compiled_training_follows_the_eager_trajectory(spiral: ModuleType) -> None:
    X, y = spiral.make_spiral(points_per_class=15, seed=3)
    eager = spiral.train(spiral.make_model(seed=1), X, y, steps=20, compiled=False)
    compiled = spiral.train(spiral.make_model(seed=1), X, y, steps=20, compiled=True)
    assert compiled.loss == pytest.approx(eager.loss, rel=1e-9)
    assert compiled.accuracy == eager.accuracy


def test_the_example_reaches_95_percent_and_draws_its_regions(spiral: ModuleType, tmp_path: Path) -> None:
    X, y = spiral.make_spiral()
    model = spiral.make_model()
    history = spiral.train(model, X, y, steps=200)
    assert history.accuracy[-1] >= 0.95
    path = tmp_path / "spiral.png"
    spiral.save_figure(spiral.plot_regions(model, X, y, h=0.02), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    ax = spiral.plot_regions(model, X, y, h=0.05).axes[0]
    assert ax.get_title().startswith("Spiral: decision regions") and ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1", "class 2"]
