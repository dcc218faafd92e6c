"""Tests for nanograd.losses: values and gradients against torch in float64."""

from __future__ import annotations

import math
import random

import pytest

import nanograd
from nanograd import Value
from nanograd.losses import (
    bce_with_logits_loss,
    cross_entropy,
    hinge_loss,
    l2_penalty,
    log_softmax,
    mse_loss,
    softmax,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

LOGITS = [-800.0, -30.0, -2.5, -0.3, 0.0, 0.0, 0.7, 3.0, 45.0, 900.0]
BINARY = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]


def _check(loss_fn, torch_fn, outputs: list[float], targets: list[float]) -> None:
    """``loss_fn`` on Values equals ``torch_fn`` on float64 tensors, value and gradient."""
    xs = [Value(x) for x in outputs]
    loss = loss_fn(xs, targets)
    loss.backpropagate()
    xt = torch.tensor(outputs, dtype=torch.float64, requires_grad=True)
    expected = torch_fn(xt, torch.tensor(targets, dtype=torch.float64))
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12, abs=1e-300)
    assert [x.grad for x in xs] == pytest.approx(xt.grad.tolist(), rel=1e-12, abs=1e-15)


def test_hinge_loss_matches_torch() -> None:
    scores = [-2.0, -0.5, 0.25, 0.9, 1.0, 3.0]
    ys = [1.0, -1.0, 1.0, -1.0, 1.0, 1.0]
    _check(hinge_loss, lambda s, y: torch.relu(1 - y * s).mean(), scores, ys)


def test_hinge_loss_is_micrograds_expression() -> None:
    scores, ys = [Value(0.3), Value(-1.7), Value(2.2)], [1, -1, -1]
    expected = sum((1 + -yi * si).relu() for yi, si in zip(ys, scores)) * (1.0 / 3)
    assert hinge_loss(scores, ys).data == expected.data


def test_mse_loss_matches_torch() -> None:
    _check(mse_loss, F.mse_loss, [0.5, -1.25, 3.0, 0.0], [1.0, -1.0, 2.5, 0.125])


def test_bce_with_logits_matches_torch_and_is_stable() -> None:
    _check(bce_with_logits_loss, F.binary_cross_entropy_with_logits, LOGITS, BINARY)


def test_bce_with_logits_soft_targets() -> None:
    rng = random.Random(0)
    logits = [rng.uniform(-10, 10) for _ in range(20)]
    targets = [rng.random() for _ in range(20)]
    _check(bce_with_logits_loss, F.binary_cross_entropy_with_logits, logits, targets)


def test_bce_gradient_at_zero_logit_is_sigmoid_minus_target() -> None:
    z = Value(0.0)
    bce_with_logits_loss([z], [1.0]).backpropagate()
    assert z.grad == -0.5


def test_l2_penalty_matches_micrograd_order_and_torch() -> None:
    params = [Value(x) for x in (0.5, -1.5, 2.0, 1e-3)]
    penalty = l2_penalty(params, 1e-4)
    assert penalty.data == (1e-4 * sum(p * p for p in params)).data
    penalty.backpropagate()
    assert [p.grad for p in params] == pytest.approx([2e-4 * p.data for p in params], rel=1e-15)


def test_losses_are_values_with_gradients() -> None:
    w = Value(0.7)
    loss = mse_loss([w * 2.0, w * -1.0], [1.0, 0.5]) + bce_with_logits_loss([w], [1.0])
    loss.backpropagate()
    # d/dw: mean of 2*(2w-1)*2 and 2*(-w-0.5)*(-1), plus sigmoid(w) - 1
    expected = (4 * (2 * 0.7 - 1) + 2 * (0.7 + 0.5)) / 2 + 1 / (1 + math.exp(-0.7)) - 1
    assert w.grad == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("loss_fn", [hinge_loss, mse_loss, bce_with_logits_loss])
def test_losses_reject_mismatched_or_empty_inputs(loss_fn) -> None:
    with pytest.raises(ValueError, match="2 outputs but 1 targets"):
        loss_fn([Value(1.0), Value(2.0)], [1.0])
    with pytest.raises(ValueError, match="no outputs"):
        loss_fn([], [])


def test_l2_penalty_of_no_parameters_is_a_zero_value() -> None:
    penalty = l2_penalty([], 0.1)
    assert isinstance(penalty, Value) and penalty.data == 0.0


# -- classification: softmax, log_softmax, cross_entropy --------------------------------------

ROWS = [
    [0.3, -1.2, 2.5],
    [1000.0, -1000.0, 0.0],  # no overflow: the largest logit is subtracted first
    [-1000.0, -1000.0, -999.0],
    [0.0, 0.0, 0.0],
    [7.5, 7.5, -3.0],  # a tie for the maximum
    [-40.0, 35.0, 1e-3],
]
CLASSES = [2, 0, 1, 1, 0, 2]


@pytest.mark.parametrize(("ours", "theirs"), [(softmax, torch.softmax), (log_softmax, torch.log_softmax)])
def test_softmax_and_log_softmax_match_torch(ours, theirs) -> None:
    for row in ROWS:
        xs = [Value(x) for x in row]
        out = ours(xs)
        weights = [0.7, -1.3, 2.0]
        sum(w * o for w, o in zip(weights, out)).backpropagate()
        xt = torch.tensor(row, dtype=torch.float64, requires_grad=True)
        expected = theirs(xt, dim=0)
        (expected * torch.tensor(weights, dtype=torch.float64)).sum().backward()
        assert all(math.isfinite(o.data) for o in out)
        assert [o.data for o in out] == pytest.approx(expected.tolist(), rel=1e-12, abs=1e-300)
        assert [x.grad for x in xs] == pytest.approx(xt.grad.tolist(), rel=1e-12, abs=1e-15)


def test_log_softmax_of_huge_logits_is_finite() -> None:
    assert [v.data for v in log_softmax([Value(1000.0), Value(-1000.0)])] == [0.0, -2000.0]


@pytest.mark.parametrize("targets", [CLASSES, [float(c) for c in CLASSES], [Value(float(c)) for c in CLASSES]])
def test_cross_entropy_matches_torch(targets: list) -> None:
    logits = [[Value(x) for x in row] for row in ROWS]
    loss = cross_entropy(logits, targets)
    loss.backpropagate()
    zt = torch.tensor(ROWS, dtype=torch.float64, requires_grad=True)
    expected = F.cross_entropy(zt, torch.tensor(CLASSES))
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-12)
    assert [v.grad for row in logits for v in row] == pytest.approx(zt.grad.flatten().tolist(), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        (3, IndexError, "index 3 is out of range for 3 values"),
        (1.5, ValueError, "whole number, got 1.5"),
        (-1, IndexError, "index -1 is out of range"),
        (math.nan, ValueError, "whole number, got nan"),
    ],
)
def test_cross_entropy_rejects_bad_targets(target: float, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        cross_entropy([[Value(0.0), Value(1.0), Value(2.0)]], [target])


def test_cross_entropy_rejects_mismatched_or_empty_inputs() -> None:
    with pytest.raises(ValueError, match="2 outputs but 1 targets"):
        cross_entropy([[Value(1.0)], [Value(2.0)]], [0])
    with pytest.raises(ValueError, match="no logits"):
        cross_entropy([[]], [0])


# -- every loss traces honestly: compiled with its target as an argument, equal to eager ---------

LOSSES = {
    "hinge_loss": (hinge_loss, [0.5, -1.5, 2.0, 0.0], [1.0, -1.0, -1.0, 1.0]),
    "mse_loss": (mse_loss, [0.5, -1.5, 2.0, 0.0], [1.0, 0.25, -1.0, 0.0]),
    "bce_with_logits_loss": (bce_with_logits_loss, [-800.0, -0.3, 0.0, 45.0], [0.0, 1.0, 1.0, 0.25]),
}


@pytest.mark.parametrize("name", LOSSES)
def test_scalar_losses_compile_with_the_target_as_an_argument(name: str) -> None:
    """bce_with_logits_loss chose its branch on z.data once, which tracing refuses (and froze before)."""
    loss_fn, outputs, targets = LOSSES[name]
    w = Value(1.5)
    f = nanograd.compile(lambda z, y: loss_fn([w * z], [y]))
    compiled = f.mean(outputs, targets)
    compiled.backpropagate()
    compiled_grad, w.grad = w.grad, 0.0
    eager = loss_fn([w * z for z in outputs], targets)
    eager.backpropagate()
    assert compiled.data == pytest.approx(eager.data, rel=1e-12)
    assert compiled_grad == pytest.approx(w.grad, rel=1e-12)


def test_compiled_cross_entropy_with_the_target_as_an_argument_equals_eager() -> None:
    from nanograd.nn import MLP

    random.seed(3)
    model = MLP(2, [8, 3])
    rng = random.Random(4)
    X = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(40)]
    T = [rng.randrange(3) for _ in range(40)]
    f = nanograd.compile(lambda x, t: cross_entropy([model(x)], [t]))
    compiled = f.mean(X, T)
    compiled.backpropagate()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    eager = cross_entropy([model(x) for x in X], T)
    eager.backpropagate()
    assert compiled.data == pytest.approx(eager.data, rel=1e-9)
    assert grads == pytest.approx([p.grad for p in model.parameters()], rel=1e-9, abs=1e-12)
