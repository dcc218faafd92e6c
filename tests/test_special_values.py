"""Every op at its special points (0, subnormals, +-1e308, +-inf, NaN, infinite incoming
gradients) against PyTorch float64, and the documented places where nanograd differs.

Each row of ``SPECIAL_POINTS`` is one op at one point with one incoming gradient ``g``
(the op's result is multiplied by a leaf holding ``g``). ``expect`` is ``TORCH`` where
value and gradients must equal PyTorch's exactly (NaN for NaN, inf of the same sign),
an exception type where nanograd raises by design (README, "Errors and special
numbers"), or the gradients nanograd documents where PyTorch's formula gives NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from nanograd import OPS, Value
from nanograd.backprop import VALUE_MATH
from nanograd.ops import Op, power

torch = pytest.importorskip("torch")
from nanograd.pytorch import TORCH_MATH  # noqa: E402

inf, nan, tiny = math.inf, math.nan, 5e-324  # tiny: the smallest subnormal
TORCH = "torch"


@dataclass(frozen=True)
class Point:
    op: str  # a name in OPS, or "power(k)"
    inputs: tuple[float, ...]
    g: float = 1.0
    expect: object = TORCH  # TORCH, an exception type, or the documented input gradients

    def table_op(self) -> Op:
        if self.op.startswith("power("):
            return power(float(self.op[6:-1]))
        return OPS[self.op]


SPECIAL_POINTS = [
    # x ** 0 is flat: derivative 0 at 0 and at subnormals, whatever arrives from above.
    *(Point("power(0)", (x,), g) for x in (0.0, -0.0, tiny, 1.0, inf, nan) for g in (1.0, inf)),
    *(Point("pow", (x, 0.0), g) for x in (0.0, -0.0, tiny, -tiny, 2.0, inf) for g in (1.0, inf)),
    Point("pow", (0.0, 2.0)),
    Point("pow", (0.0, nan)),
    Point("pow", (nan, 0.0)),
    Point("pow", (-2.0, 3.0)),  # exponent gradient NaN: no real log of -2
    Point("pow", (2.0, nan)),
    Point("pow", (2.0, inf)),
    Point("pow", (0.5, -inf)),
    Point("pow", (inf, 2.0)),
    Point("pow", (1e308, tiny), inf),  # inf * (tiny * 1e308 ** (tiny - 1)): 0 * inf, NaN as in PyTorch
    Point("pow", (inf, -1.0), expect=(-0.0, 0.0)),  # exponent gradient 0 where out is 0 (PyTorch: NaN)
    Point("pow", (-inf, 0.5), expect=ValueError),  # negative base, fractional power (PyTorch: inf)
    Point("pow", (0.0, -inf), expect=ZeroDivisionError),
    Point("pow", (0.0, 0.5)),  # an infinite derivative is inf
    # A constant exponent that is NaN or infinite behaves as the same exponent held in a Value.
    *(Point(f"power({k})", (x,)) for k in (nan, inf, -inf) for x in (2.0, 0.5, 1.0, 0.0) if (k, x) != (-inf, 0.0)),
    Point("power(-inf)", (0.0,), expect=ZeroDivisionError),
    Point("power(-1)", (1e-200,)),  # gradient overflows to -inf, like 1 / x below
    Point("power(-1)", (-tiny,), expect=OverflowError),
    Point("power(-2)", (inf,)),
    Point("power(3)", (-inf,)),
    Point("power(2.5)", (inf,)),
    Point("power(0.5)", (-inf,), expect=ValueError),  # PyTorch: NaN
    Point("power(0.5)", (0.0,)),  # an infinite derivative is inf
    Point("power(-1)", (0.0,), expect=ZeroDivisionError),
    Point("power(2)", (1e308,), expect=OverflowError),
    Point("div", (1.0, 1e-200)),
    Point("div", (1.0, -tiny), expect=OverflowError),
    Point("div", (inf, 2.0)),
    Point("div", (2.0, inf)),
    Point("div", (nan, 1.0)),
    Point("div", (1.0, 1e-200), 0.0),  # 0 * (out / y) = 0 * inf: NaN, as in PyTorch
    Point("div", (1.0, 1e308), inf),  # inf * (out / y) = inf * 0: NaN, as in PyTorch
    Point("div", (inf, 0.0), expect=ZeroDivisionError),  # PyTorch: inf
    Point("div", (1e308, 1e-10), expect=OverflowError),
    *(Point(name, (x, y)) for name in ("add", "sub", "mul") for x, y in ((inf, 1.0), (inf, -inf), (nan, 1.0))),
    Point("mul", (0.0, inf)),
    Point("mul", (1e308, 1.0), inf),
    Point("mul", (1e308, 10.0), expect=OverflowError),
    Point("neg", (inf,)),
    Point("neg", (nan,), inf),
    # relu and abs: a select, so an infinite gradient stays out of the flat side.
    *(
        Point("relu", (x,), g)
        for x in (-1.0, -0.0, 0.0, -tiny, tiny, 2.0, -inf, inf, nan)
        for g in (1.0, inf, -inf, nan)
    ),
    *(Point("abs", (x,), g) for x in (-1.0, 0.0, tiny, -inf, inf, nan) for g in (1.0, inf)),
    *(Point(name, (x,), g) for name in ("sin", "cos") for x in (inf, -inf, nan, 1e308, 0.0) for g in (1.0, inf)),
    *(
        Point(name, (x,), g)
        for name in ("tanh", "sigmoid", "exp")
        for x in (inf, -inf, nan, -1e308, 0.0)
        for g in (1.0, inf)
    ),
    Point("exp", (710.0,), expect=OverflowError),
    *(Point("log", (x,)) for x in (tiny, 1e-200, 1e308, inf, nan)),
    Point("log", (0.0,), expect=ValueError),  # PyTorch: -inf
    Point("log", (-inf,), expect=ValueError),  # PyTorch: NaN
    *(Point("sqrt", (x,)) for x in (tiny, 1e308, inf, nan)),
    Point("sqrt", (0.0,)),  # an infinite derivative is inf
    Point("sqrt", (-0.0,), expect=(inf,)),  # the slope at 0 whatever its sign (PyTorch: -inf)
    Point("sqrt", (-inf,), expect=ValueError),  # PyTorch: NaN
    # maximum and minimum: selects, so an infinite gradient never meets a 0; NaN wins.
    *(
        Point(name, (x, y), g)
        for name in ("maximum", "minimum")
        for x, y in ((1.0, 2.0), (-0.0, 0.0), (inf, -inf), (nan, 1.0), (1.0, nan), (inf, inf), (-tiny, tiny))
        for g in (1.0, inf)
    ),
]


def nanograd_point(point: Point) -> tuple[float, list[float]]:
    xs = [Value(x) for x in point.inputs]
    out = _apply(point.table_op(), xs)
    (out * Value(point.g)).backpropagate()
    return out.data, [x.grad for x in xs]


def _apply(op: Op, xs: list[Value]) -> Value:
    if op.name == "power":
        return xs[0] ** op.param
    return op.forward(VALUE_MATH, *xs)


def torch_point(point: Point) -> tuple[float, list[float]]:
    xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point.inputs]
    op = point.table_op()
    out = torch.pow(xs[0], op.param) if op.name == "power" else op.forward(TORCH_MATH, *xs)
    (out * point.g).backward()
    return out.item(), [x.grad.item() for x in xs]


def same(a: float, b: float) -> bool:
    """Equal as IEEE-754 results: NaN equals NaN, and inf must have the same sign."""
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_every_op_has_special_points() -> None:
    assert {p.table_op().name for p in SPECIAL_POINTS} == set(OPS) | {"power"}


@pytest.mark.parametrize("point", SPECIAL_POINTS, ids=lambda p: f"{p.op}{p.inputs}-g{p.g}")
def test_special_point(point: Point) -> None:
    if isinstance(point.expect, type):
        with pytest.raises(point.expect, match=point.table_op().name):
            nanograd_point(point)
        return
    out, grads = nanograd_point(point)
    ref_out, ref_grads = torch_point(point)
    assert same(out, ref_out), (out, ref_out)
    expected = ref_grads if point.expect == TORCH else point.expect
    assert all(same(g, e) for g, e in zip(grads, expected, strict=True)), (grads, expected, ref_grads)
