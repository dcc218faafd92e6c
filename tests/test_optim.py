"""Tests for nanograd.optim: parity with torch.optim in float64 over 50 steps, and schedules."""

from __future__ import annotations

import pytest

from nanograd import Value
from nanograd.optim import SGD, Adam, linear_decay

torch = pytest.importorskip("torch")

START = [-1.2, 1.0, 0.5, -0.7, 2.0]
STEPS = 50


def objective(p):
    """A small non-convex function written with operators that Values and tensors share."""
    a, b, c, d, e = p
    return (1 - a) ** 2 + 5 * (b - a * a) ** 2 + (c * d).tanh() + 0.1 * (c - 2) ** 2 * (d + 1) ** 2 + e**4 / 4


def run_nanograd(make_optimizer) -> list[list[float]]:
    """Parameters after each of STEPS optimiser steps on ``objective``."""
    params = [Value(x) for x in START]
    opt = make_optimizer(params)
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        objective(params).backpropagate()
        opt.step()
        trajectory.append([p.data for p in params])
    return trajectory


def run_torch(make_optimizer, lr_lambda=None) -> list[list[float]]:
    """The same with a torch.optim optimiser on float64 scalars (LambdaLR if ``lr_lambda``)."""
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in START]
    opt = make_optimizer(params)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda) if lr_lambda else None
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        objective(params).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        trajectory.append([p.item() for p in params])
    return trajectory


def assert_same_trajectory(ours: list[list[float]], theirs: list[list[float]]) -> None:
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), f"step {step}"
    assert ours[-1] != ours[0]  # the parameters actually moved


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0.01},
        {"lr": 0.01, "momentum": 0.9},
        {"lr": 0.02, "weight_decay": 0.1},
        {"lr": 0.005, "momentum": 0.8, "weight_decay": 0.05},
    ],
)
def test_sgd_matches_torch(kwargs: dict) -> None:
    ours = run_nanograd(lambda params: SGD(params, **kwargs))
    theirs = run_torch(lambda params: torch.optim.SGD(params, **kwargs))
    assert_same_trajectory(ours, theirs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"lr": 0.05},
        {"lr": 0.03, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
    ],
)
def test_adam_matches_torch(kwargs: dict) -> None:
    ours = run_nanograd(lambda params: Adam(params, **kwargs))
    theirs = run_torch(lambda params: torch.optim.Adam(params, **kwargs))
    assert_same_trajectory(ours, theirs)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            lambda params: SGD(params, lr=0.02, momentum=0.5, lr_schedule=linear_decay(STEPS)),
            lambda params: torch.optim.SGD(params, lr=0.02, momentum=0.5),
        ),
        (
            lambda params: Adam(params, lr=0.05, lr_schedule=linear_decay(STEPS)),
            lambda params: torch.optim.Adam(params, lr=0.05),
        ),
    ],
)
def test_schedule_matches_torch_lambda_lr(ours, theirs) -> None:
    assert_same_trajectory(run_nanograd(ours), run_torch(theirs, lr_lambda=linear_decay(STEPS)))


def test_linear_decay_is_micrograds_rate() -> None:
    p = Value(1.0)
    opt = SGD([p], lr=1.0, lr_schedule=linear_decay(100))
    for k in range(100):
        assert opt.current_lr() == 1.0 - 0.9 * k / 100  # bit for bit
        p.grad = 1.0
        before = p.data
        opt.step()
        assert p.data == before - (1.0 - 0.9 * k / 100) * 1.0
    assert opt.steps == 100


def test_zero_grad_clears_gradients() -> None:
    params = [Value(1.0), Value(2.0)]
    (params[0] * params[1]).backpropagate()
    opt = Adam(params)
    opt.zero_grad()
    assert [p.grad for p in params] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SGD([], lr=0.1), "empty parameter list"),
        (lambda: SGD([Value(1.0)], lr=-0.1), "lr must be non-negative"),
        (lambda: Adam([Value(1.0)], betas=(0.9, 1.0)), "betas"),
        (lambda: linear_decay(0), "total_steps"),
    ],
)
def test_bad_arguments(make, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01), lambda ps: Adam(ps)])
def test_a_step_after_create_graph_uses_the_gradients_number(make) -> None:
    """After ``backpropagate(create_graph=True)`` gradients are Values; a step uses their numbers, as torch does."""
    first, second = [Value(1.5), Value(-0.5)], [Value(1.5), Value(-0.5)]
    for params, create_graph in ((first, True), (second, False)):
        opt = make(params)
        for _ in range(3):
            opt.zero_grad()
            loss = params[0] ** 2 * params[1].tanh()
            loss.backpropagate(create_graph=create_graph)
            opt.step()
    assert [type(p.data) for p in first] == [float, float]
    assert [p.data for p in first] == [p.data for p in second]


OPTIMIZERS = [
    lambda ps: SGD(ps, lr=0.01),
    lambda ps: SGD(ps, lr=0.005, momentum=0.8, weight_decay=0.05, lr_schedule=linear_decay(STEPS)),
    lambda ps: Adam(ps, lr=0.05),
    lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), weight_decay=0.01),
]


@pytest.mark.parametrize("library", ["numpy", "torch"])
@pytest.mark.parametrize("make", OPTIMIZERS)
def test_step_arrays_is_step_bit_for_bit_and_they_share_the_state(make, library: str) -> None:
    np = pytest.importorskip("numpy")
    as_array = (lambda xs: np.array(xs)) if library == "numpy" else (lambda xs: torch.tensor(xs, dtype=torch.float64))
    eager_params = [Value(x) for x in START]
    array_params = [Value(x) for x in START]
    eager, arrays = make(eager_params), make(array_params)
    for k in range(STEPS):
        for params, opt in ((eager_params, eager), (array_params, arrays)):
            opt.zero_grad()
            objective(params).backpropagate()
        eager.step()
        if k % 10 == 9:  # now and then a step on Values: the state moves between lists and arrays
            arrays.step()
        else:
            new = arrays.step_arrays(as_array([p.data for p in array_params]), as_array([p.grad for p in array_params]))
            assert type(new) is type(as_array([0.0]))
            for p, x in zip(array_params, new.tolist()):
                p.data = x
        assert [p.data for p in array_params] == [p.data for p in eager_params], k  # bit for bit
    assert arrays.steps == eager.steps == STEPS
