"""Tests for nanograd.compiler.training: train_step and value_and_grad against the eager loop."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

import nanograd
from nanograd import Value
from nanograd.losses import cross_entropy, l2_penalty
from nanograd.nn import MLP
from nanograd.optim import SGD, Adam, Optimizer, linear_decay

np = pytest.importorskip("numpy")

STEPS = 50
BACKENDS = ["numpy", "torch", "python"]
OPTIMIZERS: list[Callable[[list[Value]], Optimizer]] = [
    lambda ps: SGD(ps, lr=0.5, lr_schedule=linear_decay(STEPS)),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    lambda ps: Adam(ps, lr=0.02, weight_decay=1e-4),
]


def moons_batch() -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    X = rng.uniform(-1.5, 1.5, size=(24, 2))
    y = np.where(X[:, 1] > np.sin(2 * X[:, 0]), 1.0, -1.0)
    return X, y


def spiral_batch() -> tuple[Any, Any]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(24, 2))
    labels = (np.arctan2(X[:, 1], X[:, 0]) > 0).astype(float) + (X[:, 0] > 0.5)
    return X, labels


def demo_model() -> tuple[list[Value], Callable[..., Value]]:
    """The seed's demo: a 2-16-16-1 MLP, hinge loss per sample plus an L2 penalty."""
    random.seed(3)
    model = MLP(2, [16, 16, 1])
    params = model.parameters()
    return params, lambda x, y: (1 + -y * model.scalar(x)).relu() + l2_penalty(params, 1e-4)


def classifier_model() -> tuple[list[Value], Callable[..., Value]]:
    """A 3-class MLP with cross-entropy, the label an index argument."""
    random.seed(4)
    model = MLP(2, [8, 3])
    return model.parameters(), lambda x, label: cross_entropy([model.outputs(x)], [label])


MODELS = {"demo": (demo_model, moons_batch), "classifier": (classifier_model, spiral_batch)}


def close(a: list[float], b: list[float]) -> bool:
    """Equal to 1e-9 relative (1e-12 absolute near 0), element by element."""
    return all(abs(x - y) <= 1e-9 * abs(y) + 1e-12 for x, y in zip(a, b, strict=True))


def eager_loss(fn: Callable[..., Value], X: Any, y: Any) -> Value:
    terms = [fn([Value(a), Value(b)], Value(t)) for (a, b), t in zip(X.tolist(), y.tolist())]
    return sum(terms, Value(0.0)) * (1.0 / len(terms))


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS)
@pytest.mark.parametrize("model", MODELS)
def test_train_step_follows_the_eager_loop(model: str, make_optimizer: Any) -> None:
    make_model, make_batch = MODELS[model]
    X, y = make_batch()
    eager_params, eager_fn = make_model()
    eager_opt = make_optimizer(eager_params)
    runs = []  # per backend: its own model, optimiser and step
    for backend in BACKENDS:
        params, fn = make_model()
        opt = make_optimizer(params)
        runs.append((backend, params, opt, nanograd.compile(fn, backend=backend).train_step(opt)))
    for k in range(STEPS):
        loss = eager_loss(eager_fn, X, y)
        eager_opt.zero_grad()
        loss.backpropagate()
        eager_opt.step()
        for backend, params, _, step in runs:
            if backend == "python" and k >= 3:  # the plain loop: a few steps show it
                continue
            assert close([step(X, y)], [loss.data]), (backend, k)
            assert close([p.data for p in params], [q.data for q in eager_params]), (backend, k)
    assert [opt.steps for _, _, opt, _ in runs] == [STEPS if b != "python" else 3 for b in BACKENDS]
    assert eager_loss(eager_fn, X, y).data < eager_loss(make_model()[1], X, y).data  # it trained


def test_the_parameters_are_the_trained_numbers_between_steps(tmp_path: Any) -> None:
    X, y = moons_batch()
    random.seed(3)
    model = MLP(2, [16, 16, 1])
    params = model.parameters()
    step = nanograd.compile(lambda x, t: (1 + -t * model.scalar(x)).relu()).train_step(SGD(params, lr=0.3))
    first = step(X, y)
    for _ in range(20):
        step(X, y)
    path = tmp_path / "model.json"
    model.save(path)  # mid-training: the file holds the numbers the Values hold
    loaded = MLP.load(path)
    assert [p.data for p in loaded.parameters()] == [p.data for p in params]
    eager = eager_loss(lambda x, t: (1 + -t * loaded.scalar(x)).relu(), X, y).data
    assert step(X, y) == pytest.approx(eager, rel=1e-9) and eager < first
    params[0].data = 5.0  # a number set by hand between steps is the one the next step starts from
    expected = eager_loss(lambda x, t: (1 + -t * model.scalar(x)).relu(), X, y).data
    assert step(X, y) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_value_and_grad_is_the_mean_and_its_gradient_in_the_order_asked(backend: str) -> None:
    X, y = moons_batch()
    params, fn = demo_model()
    outside, unused = Value(0.7), Value(2.0)  # captured but not asked for; asked for but not captured
    f = nanograd.compile(lambda x, t: fn(x, t) * outside, backend=backend)
    wrt = [unused, *reversed(params)]
    loss, grads = f.value_and_grad(X, y, wrt=wrt)
    eager = eager_loss(lambda x, t: fn(x, t) * outside, X, y)
    eager.backpropagate()
    assert loss == pytest.approx(eager.data, rel=1e-12)
    assert len(grads) == len(wrt) and float(grads[0]) == 0.0
    for g, p in zip(grads.tolist()[1:], reversed(params)):
        assert g == pytest.approx(p.grad, rel=1e-9, abs=1e-15)
    assert [p.grad for p in params] != [0.0] * len(params) and all(type(p.data) is float for p in params)


def test_a_non_finite_sample_is_decided_by_the_eager_engine() -> None:
    a, b = Value(0.5), Value(-0.2)

    def fn(x: Value, t: Value) -> Value:
        return (x * a + b - t) ** 2

    X, y = [1.0, 2.0, 1e200, 3.0], [0.0, 1.0, 1.0, 0.0]  # finite, but the third square overflows
    with pytest.raises(OverflowError) as eager:
        sum(fn(Value(x), Value(t)) for x, t in zip(X, y))
    with pytest.raises(OverflowError) as compiled:
        nanograd.compile(fn).train_step(SGD([a, b], lr=0.1))(X, y)
    assert str(compiled.value) == str(eager.value) and (a.data, b.data) == (0.5, -0.2)
    X[2] = math.nan  # eagerly IEEE numbers, not an error: the loss and the updated numbers are NaN
    assert math.isnan(nanograd.compile(fn).train_step(SGD([a, b], lr=0.1))(X, y))
    assert math.isnan(a.data) and math.isnan(b.data)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda f, ps: f.train_step(ps), TypeError, "expected an optimizer"),
        (lambda f, ps: f.train_step(SGD([*ps, ps[0]], lr=0.1)), ValueError, "more than once"),
        (lambda f, ps: nanograd.compile(lambda x: [x, x]).train_step(SGD(ps, lr=0.1))([1.0]), ValueError, "one"),
        (lambda f, ps: nanograd.compile(f.fn, backend="python").value_and_grad([1.0], wrt=ps), ValueError, "numpy"),
    ],
)
def test_bad_training_calls_say_what_is_wrong(call: Any, error: type, match: str) -> None:
    ps = [Value(1.0), Value(2.0)]
    f = nanograd.compile(lambda x: x * ps[0] + ps[1])
    with pytest.raises(error, match=match):
        call(f, ps)
