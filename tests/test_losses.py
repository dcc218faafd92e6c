"""Tests for nanograd.losses: values and gradients against torch in float64."""

from __future__ import annotations

import math
import random

import pytest

from nanograd import Value
from nanograd.losses import bce_with_logits_loss, hinge_loss, l2_penalty, mse_loss

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
