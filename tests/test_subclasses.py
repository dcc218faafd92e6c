"""Subclasses of ``Value`` get the right numbers: every op, mixed arithmetic, custom ops and pickling."""

from __future__ import annotations

import copy
import math
import pickle

import pytest
from test_ops import OP_CASES, sample_points

import nanograd
from nanograd import Value


class V(Value):
    """A user's subclass with an attribute of its own."""


class Slotted(Value):
    """A user's subclass that keeps Value's slots only."""

    __slots__ = ()


def gradients(make_leaf: type[Value], name: str, point: tuple[float, ...], literal_side: int | None) -> list[float]:
    """d(expr)/d(leaf) for OP_CASES[name] with leaves of class ``make_leaf`` (and a literal on one side)."""
    leaves = [make_leaf(p) for p in point]
    operands: list[Value | float] = list(leaves)
    if literal_side is not None:
        operands[literal_side] = point[literal_side]
    out = OP_CASES[name].expr(*operands)
    (out * 1.5).backpropagate()
    return [out.data, *(leaf.grad for i, leaf in enumerate(leaves) if i != literal_side)]


@pytest.mark.parametrize("cls", [V, Slotted])
@pytest.mark.parametrize("name", OP_CASES)
def test_every_op_gives_a_subclass_the_gradients_a_value_gets(name: str, cls: type[Value]) -> None:
    sides = [None] if len(OP_CASES[name].domain) == 1 else [None, 0, 1]
    for point in sample_points(name)[:4]:
        for side in sides:
            try:
                expected = gradients(Value, name, point, side)
            except (ArithmeticError, ValueError):
                continue
            assert gradients(cls, name, point, side) == expected


def test_mixed_arithmetic_backpropagates_into_both_classes() -> None:
    for make in (lambda a, b: a * b, lambda a, b: b * a, lambda a, b: a - b, lambda a, b: b / a, lambda a, b: a**b):
        a, b = V(2.0), Value(3.0)
        out = make(a, b)
        assert type(out) is Value
        out.backpropagate()
        reference = [Value(2.0), Value(3.0)]
        make(*reference).backpropagate()
        assert (a.grad, b.grad) == (reference[0].grad, reference[1].grad) != (0.0, 0.0)
    x, y = V(2.0), Slotted(-1.5)  # two subclasses, neither a subclass of the other
    (x * y + y / x).backpropagate()
    assert (x.grad, y.grad) == (-1.5 + 1.5 / 4, 2.0 + 0.5)


def test_a_subclass_that_overrides_a_reflected_operator_gets_it() -> None:
    calls: list[str] = []

    class Logged(Value):
        def __radd__(self, other: object) -> Value:
            calls.append("radd")
            return Value.__add__(self, other)  # type: ignore[arg-type]

    assert (V(1.0) + Logged(2.0)).data == 3.0
    assert calls == ["radd"]


def test_custom_ops_built_from_a_subclass() -> None:
    x = V(0.5)
    t = math.tanh(x.data)
    out = V(t, (x,), "tanh")

    def _backward() -> None:
        x.grad += (1 - t**2) * out.grad

    out._backward = _backward
    (out * 2).backpropagate()
    assert x.grad == pytest.approx(2 * (1 - t**2), rel=1e-15)


def test_subclasses_pickle_as_themselves_with_their_numbers() -> None:
    a, b = V(2.0, label="a"), Slotted(3.0)
    a.note = "kept"  # type: ignore[attr-defined]
    y = (a * b + 1.0).tanh()
    for copied in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        leaves = [v for v in nanograd.topological_order(copied) if v.op is None]
        assert [type(v) for v in leaves] == [V, Slotted]
        assert leaves[0].note == "kept" and leaves[0].label == "a"
        assert copied.data == y.data
        copied.backpropagate()
        assert [v.grad for v in leaves] == pytest.approx([3.0 * (1 - y.data**2), 2.0 * (1 - y.data**2)], rel=1e-15)
    assert type(pickle.loads(pickle.dumps(a))) is V
