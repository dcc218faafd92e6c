"""The demo's first training steps reproduce micrograd 0.1.0 (from PyPI) number for number."""

from __future__ import annotations

import random

import pytest

micrograd_engine = pytest.importorskip("micrograd.engine")
micrograd_nn = pytest.importorskip("micrograd.nn")
pytest.importorskip("sklearn")

from nanograd import demo  # noqa: E402  (needs the demo extras checked above)

SEED = 1337
STEPS = 3


def micrograd_run(X: list[list[float]], y: list[float]) -> tuple[list[float], list[float], list[float]]:
    """micrograd's demo.ipynb loop for STEPS steps: losses, accuracies and the final parameters."""
    Value = micrograd_engine.Value
    random.seed(SEED)
    model = micrograd_nn.MLP(2, [16, 16, 1])
    losses, accuracies = [], []
    for k in range(STEPS):
        scores = [model(list(map(Value, xrow))) for xrow in X]
        hinge = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(hinge) * (1.0 / len(hinge))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        losses.append(total_loss.data)
        accuracies.append(sum(accuracy) / len(accuracy))
    return losses, accuracies, [p.data for p in model.parameters()]


def test_initial_weights_are_micrograds() -> None:
    random.seed(SEED)
    theirs = [p.data for p in micrograd_nn.MLP(2, [16, 16, 1]).parameters()]
    assert [p.data for p in demo.make_model(SEED).parameters()] == theirs


def test_first_demo_steps_match_micrograd() -> None:
    X, y = demo.make_moons_data(n_samples=100, seed=SEED)
    losses, accuracies, params = micrograd_run(X, y)

    model = demo.make_model(SEED)
    # micrograd's rate schedule is for a 100-step run; we take its first STEPS steps
    optimizer = demo.make_optimizer("sgd", model.parameters(), steps=100)
    history = demo.train(model, X, y, steps=STEPS, optimizer=optimizer)

    assert history.loss == pytest.approx(losses, rel=1e-12)
    assert history.accuracy == accuracies
    assert [p.data for p in model.parameters()] == pytest.approx(params, rel=1e-12, abs=1e-15)
