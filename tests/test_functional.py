"""Higher-order gradients, Hessians, gradcheck and user-registered ops (nanograd.functional).

Per-op tests are parametrised over ``OP_CASES`` of ``test_ops.py`` (every entry of the
op table, and ``power``), and compare with PyTorch in float64.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import pytest
import test_ops
from test_ops import OP_CASES, OpCase, sample_points

from nanograd import OPS, GradcheckError, Value, grad, gradcheck, hessian, nn, optim
from nanograd.ops import register_op

torch = pytest.importorskip("torch")

Derivatives = dict[tuple[int, ...], float]


def nanograd_derivatives(expr: Callable, point: tuple[float, ...], order: int) -> Derivatives:
    """Every derivative of ``expr`` of the given order at ``point``, keyed by the inputs differentiated by."""
    xs = [Value(p) for p in point]
    level: list[tuple[tuple[int, ...], Value | float]] = [((), expr(*xs))]
    for k in range(order):
        level = [
            ((*index, j), g)
            for index, v in level
            for j, g in enumerate(grad(v, xs, create_graph=k < order - 1) if isinstance(v, Value) else [0.0] * len(xs))
        ]
    return {index: float(v) for index, v in level}


def torch_derivatives(expr: Callable, point: tuple[float, ...], order: int) -> Derivatives:
    """The same derivatives from ``torch.autograd.grad(..., create_graph=True)`` in float64."""
    ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    level = [((), expr(*ts))]
    for _ in range(order):
        next_level = []
        for index, v in level:
            gs = (
                torch.autograd.grad(v, ts, create_graph=True, allow_unused=True)
                if v.requires_grad
                else [None] * len(ts)
            )
            next_level += [((*index, j), torch.zeros(()) if g is None else g) for j, g in enumerate(gs)]
        level = next_level
    return {index: v.item() for index, v in level}


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("name", OP_CASES)
def test_higher_derivatives_match_torch(name: str, order: int) -> None:
    expr = OP_CASES[name].expr
    for point in sample_points(name)[:3]:
        ours, ref = nanograd_derivatives(expr, point, order), torch_derivatives(expr, point, order)
        assert ours.keys() == ref.keys()
        for index, d in ours.items():
            assert d == pytest.approx(ref[index], rel=1e-12, abs=1e-300), (point, index)


THREE_INPUT_FUNCTIONS = {
    "products": lambda x, y, z: x * y * z + (x * y).sin() + z.exp() / y,
    "norm": lambda x, y, z: (x**2 + y**2 + z**2).sqrt().log() * x.tanh(),
    "pow": lambda x, y, z: x**y * z.sigmoid() - (y - z).cos(),
    "rosenbrock": lambda x, y, z: (1 - x) ** 2 + 100 * (y - x**2) ** 2 + (1 - y) ** 2 + 100 * (z - y**2) ** 2,
}


@pytest.mark.parametrize("f", THREE_INPUT_FUNCTIONS.values(), ids=THREE_INPUT_FUNCTIONS)
def test_hessian_matches_torch(f: Callable) -> None:
    point = (0.7, 1.3, -0.4)
    ours = hessian(f, point)
    ref = torch.autograd.functional.hessian(f, tuple(torch.tensor(p, dtype=torch.float64) for p in point))
    assert len(ours) == 3 and all(len(row) == 3 for row in ours)
    for i in range(3):
        for j in range(3):
            assert ours[i][j] == pytest.approx(ref[i][j].item(), rel=1e-12, abs=1e-300)
            assert ours[i][j] == pytest.approx(ours[j][i], rel=1e-14)


def test_hessian_of_functions_with_zero_second_derivatives() -> None:
    assert hessian(lambda x, y: 3 * x - y, [1.0, 2.0]) == [[0.0, 0.0], [0.0, 0.0]]
    assert hessian(lambda x, y: x * y, [Value(1.0), 2.0]) == [[0.0, 1.0], [1.0, 0.0]]


def test_grad_leaves_gradients_untouched_and_composes() -> None:
    x, y = Value(2.0), Value(3.0)
    x.gradient = 0.5
    middle = x * y
    z = middle + x.exp()

    assert grad(z, [x, y]) == pytest.approx([3 + math.exp(2), 2.0], rel=1e-15)
    dz_dx, dz_dy = grad(z, [x, y], create_graph=True)
    assert (dz_dx.of, dz_dy.of) == pytest.approx((3 + math.exp(2), 2.0), rel=1e-15)
    assert grad(dz_dx, [x, y]) == pytest.approx([math.exp(2), 1.0], rel=1e-15)
    assert grad(grad(grad(z, [x], create_graph=True)[0], [x], create_graph=True)[0], [x]) == pytest.approx(
        [math.exp(2)], rel=1e-15
    )
    assert (x.gradient, y.gradient, middle.gradient, z.gradient) == (0.5, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("name", OP_CASES)
def test_gradcheck_passes_on_every_op(name: str) -> None:
    for point in sample_points(name)[:3]:
        assert gradcheck(OP_CASES[name].expr, point, order=2) is True


def _softplus_forward(m, x):
    return m.log(1 + m.exp(x))


def test_gradcheck_names_the_input_and_the_numbers(restore_op_table: None) -> None:
    wrong = register_op("wrong_softplus", "sp", 1, _softplus_forward, lambda m, g, out, x: (g * m.sigmoid(-x),))
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda a, b: wrong(a) * b, [Value(0.5, label="a"), 2.0])
    message = str(caught.value)
    # d/da = 2 * sigmoid(0.5) = 1.2449..., the wrong rule gives 2 * sigmoid(-0.5) = 0.7550...
    assert "d(fn)/d(a) at inputs [0.5, 2.0]" in message
    assert "analytical 0.75508133" in message
    assert "numerical 1.24491866" in message
    assert "difference 0.48983732" in message


def test_gradcheck_order_2_catches_a_rule_that_is_right_only_on_floats(restore_op_table: None) -> None:
    # math.exp on the number instead of m.exp: first derivatives right, second ones 0.
    def number(x: Value | float) -> float:
        return x.of if isinstance(x, Value) else x

    on_floats = register_op(
        "exp_on_floats", "exp", 1, lambda m, x: m.exp(x), lambda m, g, out, x: (g * math.exp(number(x)),)
    )
    assert gradcheck(on_floats, [0.3]) is True
    with pytest.raises(
        GradcheckError, match=r"d2\(fn\)/d\(input 0\)d\(input 0\) .* analytical 0\.0, numerical 1\.34985"
    ):
        gradcheck(on_floats, [0.3], order=2)


def test_gradcheck_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="order must be 1 or 2, got 3"):
        gradcheck(lambda x: x, [1.0], order=3)
    with pytest.raises(TypeError, match=r"fn must return a Value, got 2\.0"):
        gradcheck(lambda x: 2.0, [1.0])


def test_newton_converges_quadratically() -> None:
    """Minimise f(x) = x**4 - 3x + 2 (minimum at x = (3/4) ** (1/3)) with the exact second derivative."""
    minimum = 0.75 ** (1 / 3)
    x, errors = 2.0, []
    while abs(x - minimum) > 1e-15 and len(errors) < 20:
        v = Value(x)
        (slope,) = grad(v**4 - 3 * v + 2, [v], create_graph=True)
        (curvature,) = grad(slope, [v])
        x -= slope.of / curvature
        errors.append(abs(x - minimum))
    assert len(errors) <= 7
    assert all(e2 <= 2 * e1**2 for e1, e2 in itertools.pairwise(errors) if e1 < 0.1)  # quadratic convergence


def test_gradient_penalty_training_converges() -> None:
    """Fit u with u' = cos and u(0) = 0 (so u = sin): the loss contains du/dx."""
    random.seed(0)
    u = nn.MLP(1, [8, 1], activation="tanh")
    opt = optim.Adam(u.parameters(), lr=0.05)
    points = [i / 4 for i in range(9)]
    for _ in range(300):
        loss = u([0.0]) ** 2
        for p in points:
            x = Value(p)
            (du_dx,) = grad(u([x]), [x], create_graph=True)
            loss = loss + (du_dx - math.cos(p)) ** 2
        opt.zero_grad()
        loss.backpropagate()
        opt.step()
    assert loss.of < 1e-3
    assert [u([p]).of for p in points] == pytest.approx([math.sin(p) for p in points], abs=5e-3)


def test_registered_softplus_gets_the_per_op_tests(restore_op_table: None, monkeypatch: pytest.MonkeyPatch) -> None:
    softplus = register_op(
        "softplus", "softplus", 1, _softplus_forward, lambda m, g, out, x: (g * m.sigmoid(x),), "log(1 + e ** x)"
    )
    assert OPS["softplus"] is softplus
    assert softplus(Value(0.0)).of == math.log(2)
    assert gradcheck(softplus, [0.5], order=2)
    row = OpCase(lambda x: torch.nn.functional.softplus(x) if isinstance(x, torch.Tensor) else softplus(x), ((-5, 5),))
    monkeypatch.setitem(OP_CASES, "softplus", row)
    test_ops.test_every_op_has_a_test_row()
    test_ops.test_result_records_the_table_op("softplus")
    test_ops.test_matches_torch_float64("softplus")
    test_ops.test_matches_central_finite_differences("softplus")
    test_ops.test_rules_evaluated_with_values_give_second_derivatives("softplus")
    test_higher_derivatives_match_torch("softplus", order=3)
