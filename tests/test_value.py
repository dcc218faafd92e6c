"""The Value engine: the seed example, graph semantics, micrograd names, errors and policies."""

from __future__ import annotations

import gc
import math
import random
import threading

import pytest

import nanograd
from nanograd import Value, no_grad, zero_grad


def seed_example() -> tuple[Value, Value, Value]:
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return a, b, g


def test_seed_example_prints_the_seed_numbers() -> None:
    a, b, g = seed_example()
    assert f"{g.of:.4f}" == "24.7041"
    g.backpropagate()
    assert f"{a.gradient:.4f}" == "138.8338"
    assert f"{b.gradient:.4f}" == "645.5773"


def test_seed_example_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    a, b, g = seed_example()
    g.backpropagate()
    ta = torch.tensor(-4.0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tc = ta + tb
    td = ta * tb + tb**3
    tc = tc + tc + 1
    tc = tc + 1 + tc + (-ta)
    td = td + td * 2 + (tb + ta).relu()
    td = td + 3 * td + (tb - ta).relu()
    tg = (tc - td) ** 2 / 2.0
    tg = tg + 10.0 / (tc - td) ** 2
    tg.backward()
    assert g.data == pytest.approx(tg.item(), rel=1e-12)
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-12)
    assert b.grad == pytest.approx(tb.grad.item(), rel=1e-12)


def test_values_hold_floats_and_start_with_zero_gradient() -> None:
    v = Value(3)
    assert type(v.of) is float and v.of == 3.0
    assert v.gradient == 0.0
    assert repr(v) == "Value(of=3.0, gradient=0.0)"
    v.of = 2
    assert type(v.data) is float


def test_micrograd_names_are_the_same_attributes() -> None:
    x = Value(2.0)
    y = x * x + 1
    y.backward()
    assert (x.data, x.grad) == (x.of, x.gradient) == (2.0, 4.0)
    assert y._op == "+"
    assert y._prev == y.inputs and y._prev[1].data == 1.0
    assert x._op == "" and x._prev == ()
    with pytest.raises(AttributeError):
        y._prev = ()  # read-only
    with pytest.raises(AttributeError):
        y._op = "*"


def test_parents_are_ordered_and_fan_out_is_counted() -> None:
    a = Value(3.0)
    b = a + a
    assert b.inputs == (a, a)  # a tuple, so both edges survive
    c = b * b
    c.backpropagate()
    assert c.data == 36.0
    assert a.grad == 24.0  # dc/da = 2b * 2
    assert b.grad == 12.0


def test_diamond_graph() -> None:
    x = Value(0.5)
    y = x.tanh()
    z = y * x + y.exp() * y
    z.backpropagate()
    t = math.tanh(0.5)
    dt = 1 - t * t
    expected = dt * 0.5 + t + (math.exp(t) * t + math.exp(t)) * dt
    assert x.grad == pytest.approx(expected, rel=1e-14)


def test_operators_with_numbers_on_either_side() -> None:
    v = Value(2.0)
    assert [(2 * v).data, (v * 2).data, (1 - v).data, (v - 1).data] == [4.0, 4.0, -1.0, 1.0]
    assert [(10.0 / v).data, (v / 4).data, (2**v).data, (v**3).data, (-v).data] == [5.0, 0.5, 4.0, 8.0, -2.0]
    assert (v + True).data == 3.0
    w = Value(1.0)
    w += v
    w -= 0.5
    w *= 4
    w /= 2
    w **= 2
    assert w.data == 25.0


def test_value_exponent_gets_a_gradient() -> None:
    x, y = Value(2.0), Value(3.0)
    z = x**y
    z.backpropagate()
    assert (z.data, x.grad) == (8.0, 12.0)
    assert y.grad == pytest.approx(8.0 * math.log(2.0), rel=1e-15)


def test_comparisons_compare_data_and_equality_is_identity() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a < 2 and a <= b and b >= a and not (a > b) and Value(3) > 2.5
    assert a != b and a == a
    assert len({a, b, a}) == 2
    assert {a: "x"}[a] == "x"


def test_backpropagating_twice_accumulates_into_leaves_only() -> None:
    x = Value(3.0)
    y = x * x * x
    y.backpropagate()
    assert x.grad == 27.0
    y.backpropagate()
    assert x.grad == 54.0
    assert y.inputs[0].grad == 3.0  # intermediate x*x: reset, not doubled
    zero_grad([x])
    y.backpropagate()
    assert x.grad == 27.0


def test_backpropagate_on_a_leaf() -> None:
    x = Value(5.0)
    x.backpropagate()
    x.backpropagate()
    assert x.grad == 2.0


def test_a_million_deep_chain_needs_no_recursion() -> None:
    x = Value(1.0)
    v = x
    for _ in range(1_000_000):
        v = v + 1.0
    v.backpropagate()
    assert v.data == 1_000_001.0
    assert x.grad == 1.0


def test_deep_chain_gradient_is_a_product() -> None:
    x = Value(1.0)
    v = x
    for _ in range(100_000):
        v = v * 1.00001
    v.backpropagate()
    assert x.grad == pytest.approx(1.00001**100_000, rel=1e-9)


def test_no_grad_builds_no_graph() -> None:
    x = Value(2.0)
    with no_grad():
        assert not nanograd.is_grad_enabled()
        y = x * 3 + 1
        with no_grad():
            pass
        assert not nanograd.is_grad_enabled()
    assert nanograd.is_grad_enabled()
    assert y.data == 7.0 and y.inputs == () and y.op is None
    assert (x * 3).inputs != ()


def test_no_grad_is_per_thread() -> None:
    seen = []
    entered, release = threading.Event(), threading.Event()

    def other_thread() -> None:
        entered.wait()
        seen.append(nanograd.is_grad_enabled())
        release.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with no_grad():
        entered.set()
        release.wait()
    t.join()
    assert seen == [True]


def test_random_dags_with_fan_out_match_torch() -> None:
    """Seeded random expression DAGs; every node may be reused by later nodes."""
    torch = pytest.importorskip("torch")
    binary = [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y]
    unary = [lambda x: x.tanh(), lambda x: x.sigmoid(), lambda x: x.relu(), lambda x: x.sin(), lambda x: -x]
    rng = random.Random(1234)
    for _ in range(40):
        leaves = [rng.uniform(-2, 2) for _ in range(rng.randint(1, 4))]
        ours = [Value(x) for x in leaves]
        theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
        nodes = [list(ours), list(theirs)]
        for _ in range(rng.randint(5, 40)):
            if rng.random() < 0.6:
                f, i, j = rng.choice(binary), rng.randrange(len(nodes[0])), rng.randrange(len(nodes[0]))
                nodes[0].append(f(nodes[0][i], nodes[0][j]))
                nodes[1].append(f(nodes[1][i], nodes[1][j]))
            else:
                f, i = rng.choice(unary), rng.randrange(len(nodes[0]))
                nodes[0].append(f(nodes[0][i]))
                nodes[1].append(f(nodes[1][i]))
        nodes[0][-1].backpropagate()
        if nodes[1][-1].requires_grad:
            nodes[1][-1].backward()
        assert nodes[0][-1].data == pytest.approx(nodes[1][-1].item(), rel=1e-12)
        for v, t in zip(ours, theirs):
            expected = 0.0 if t.grad is None else t.grad.item()
            assert v.grad == pytest.approx(expected, rel=1e-10, abs=1e-12)


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["abc", None, 1j, [1.0]])
def test_non_real_values_are_rejected(bad: object) -> None:
    with pytest.raises(TypeError, match=r"Value: expected a real number or a Value, got"):
        Value(bad)


def test_unsupported_operand_names_the_operation_and_value() -> None:
    with pytest.raises(TypeError, match=r"\+: .*'abc'"):
        Value(1.0) + "abc"
    with pytest.raises(TypeError, match=r"\*: .*None"):
        None * Value(1.0)
    with pytest.raises(TypeError, match=r"\*\*: .*1j"):
        Value(1.0) ** 1j


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Value(-8.0) ** 0.5, ValueError, r"power\(-8\.0\)"),
        (lambda: Value(-8.0) ** Value(1 / 3), ValueError, r"pow\(-8\.0, 0\.333"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"power\(0\.0\)"),
        (lambda: Value(0.0) ** Value(-2.0), ZeroDivisionError, r"pow\(0\.0, -2\.0\)"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"div\(1\.0, 0\.0\)"),
        (lambda: 1 / Value(0.0), ZeroDivisionError, r"div\(1\.0, 0\.0\)"),
        (lambda: Value(0.0).log(), ValueError, r"log\(0\.0\)"),
        (lambda: Value(-1.0).log(), ValueError, r"log\(-1\.0\)"),
        (lambda: Value(-1.0).sqrt(), ValueError, r"sqrt\(-1\.0\)"),
        (lambda: Value(1000.0).exp(), OverflowError, r"exp\(1000\.0\)"),
        (lambda: Value(1e308) * 10, OverflowError, r"mul\(1e\+308, 10\.0\)"),
        (lambda: Value(1e308) + 1e308, OverflowError, r"add\(1e\+308, 1e\+308\)"),
        (lambda: Value(10.0) ** 400, OverflowError, r"power\(10\.0\)"),
    ],
)
def test_domain_errors_name_the_op_and_the_value(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


def test_no_complex_number_ever_comes_out() -> None:
    for make in (lambda: Value(-2.0) ** 0.5, lambda: Value(-2.0) ** Value(0.5), lambda: (-2.0) ** Value(0.5)):
        with pytest.raises(ValueError):
            make()


def test_backprop_errors_name_the_op() -> None:
    y = Value(0.0).sqrt()  # sqrt(0) = 0 is fine, but its derivative is infinite
    with pytest.raises(ZeroDivisionError, match=r"backpropagate through sqrt\(0\.0\)"):
        y.backpropagate()


def test_inf_and_nan_inputs_follow_ieee() -> None:
    inf = float("inf")
    assert (Value(inf) + 1).data == inf
    assert math.isnan((Value(inf) - inf).data)
    assert math.isnan((Value(float("nan")) * 2).data)
    assert math.isnan(Value(float("nan")).relu().data)


def test_negative_base_exponent_gradient_is_nan_like_torch() -> None:
    x, y = Value(-2.0), Value(3.0)
    z = x**y
    z.backpropagate()
    assert z.data == -8.0 and x.grad == 12.0 and math.isnan(y.grad)


def test_graphs_have_no_reference_cycles() -> None:
    """Nodes hold data, not closures: a dropped graph is freed by reference counting alone."""
    gc.collect()
    gc.disable()
    try:
        x = Value(1.0)
        y = (x * 2).tanh() + x
        for _ in range(1000):
            y = y * x + 1
        y.backpropagate()
        del y
        assert gc.collect() == 0  # nothing was left for the cycle collector
    finally:
        gc.enable()
