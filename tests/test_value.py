"""The Value engine: the seed example, graph semantics, micrograd names, errors and policies."""

from __future__ import annotations

import copy
import gc
import math
import pickle
import random
import threading

import pytest
from conftest import seed_example

import nanograd
from nanograd import Value, no_grad, topological_order, zero_grad
from nanograd.float_math import FLOAT_MATH
from nanograd.generic_ops import make_node
from nanograd.ops import lookup, power
from nanograd.value import new_node


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
    assert [v.data for v in y._prev] == [v.data for v in y.inputs] == [4.0, 1.0]
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
    with pytest.raises(TypeError, match=r"\*\*: .*\[2\.0\]"):
        Value(1.0) ** [2.0]  # unhashable: not looked up among the cached exponents


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Value(-8.0) ** 0.5, ValueError, r"power\(-8\.0\) with exponent 0\.5"),
        (lambda: Value(-8.0) ** Value(1 / 3), ValueError, r"pow\(-8\.0, 0\.333"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"power\(0\.0\) with exponent -1\.0"),
        (lambda: Value(0.0) ** Value(-2.0), ZeroDivisionError, r"pow\(0\.0, -2\.0\)"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"div\(1\.0, 0\.0\)"),
        (lambda: 1 / Value(0.0), ZeroDivisionError, r"div\(1\.0, 0\.0\)"),
        (lambda: Value(0.0).log(), ValueError, r"log\(0\.0\)"),
        (lambda: Value(-1.0).log(), ValueError, r"log\(-1\.0\)"),
        (lambda: Value(-1.0).sqrt(), ValueError, r"sqrt\(-1\.0\)"),
        (lambda: Value(1000.0).exp(), OverflowError, r"exp\(1000\.0\)"),
        (lambda: Value(1e308) * 10, OverflowError, r"mul\(1e\+308, 10\.0\)"),
        (lambda: Value(1e308) + 1e308, OverflowError, r"add\(1e\+308, 1e\+308\)"),
        (lambda: Value(10.0) ** 400, OverflowError, r"power\(10\.0\) with exponent 400\.0"),
    ],
)
def test_domain_errors_name_the_op_and_the_value(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()


def test_no_complex_number_ever_comes_out() -> None:
    for make in (lambda: Value(-2.0) ** 0.5, lambda: Value(-2.0) ** Value(0.5), lambda: (-2.0) ** Value(0.5)):
        with pytest.raises(ValueError):
            make()


def test_an_infinite_derivative_is_inf_and_a_select_can_discard_it() -> None:
    x = Value(0.0)
    x.sqrt().backpropagate()  # sqrt'(0) is infinite, as in PyTorch
    assert x.grad == math.inf
    y = Value(-2.0)
    y.relu().sqrt().backpropagate()  # relu passes nothing back where it is flat
    assert y.grad == 0.0
    z = Value(0.0)
    (z**0.5 + z ** Value(0.5)).backpropagate()
    assert z.grad == math.inf


def test_backprop_errors_name_the_op(restore_op_table: None) -> None:
    """A rule that raises (here a registered one that divides by zero) is named with its inputs."""
    broken = nanograd.register_op("broken", "b", 1, lambda m, x: x, lambda m, g, out, x: (g / (x - x),))
    with pytest.raises(ZeroDivisionError, match=r"backpropagate through broken\(2\.0\)"):
        broken(Value(2.0)).backpropagate()


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


# -- the op table behind the methods -----------------------------------------------------

BINARY_OPERATORS = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "pow": "__pow__"}
BINARY_OPERATORS |= {"maximum": "maximum", "minimum": "minimum"}  # methods, their own reflection


@pytest.mark.parametrize("op", [op for op in nanograd.OPS.values() if op.arity == 2], ids=lambda op: op.name)
def test_each_binary_op_has_an_operator_whose_forward_is_the_tables(op: nanograd.Op) -> None:
    method = getattr(Value, BINARY_OPERATORS[op.name])
    reflected = getattr(Value, BINARY_OPERATORS[op.name].replace("__", "__r", 1))
    rng = random.Random(op.name)
    for _ in range(20):
        x, y = rng.uniform(0.1, 3), rng.uniform(-3, 3)
        expected = op.forward(FLOAT_MATH, x, y)
        for out in (method(Value(x), Value(y)), method(Value(x), y), reflected(Value(y), x)):
            assert out.data == expected and out.op is (power(y) if out.inputs == (out.inputs[0],) else op)


@pytest.mark.parametrize("op", [op for op in nanograd.OPS.values() if op.arity == 1], ids=lambda op: op.name)
def test_each_unary_op_has_a_method_whose_forward_is_the_tables(op: nanograd.Op) -> None:
    method = Value.__neg__ if op.name == "neg" else getattr(Value, op.name)
    rng = random.Random(op.name)
    for _ in range(20):
        x = rng.uniform(0.1, 3) * rng.choice((-1, 1) if op.name not in ("log", "sqrt") else (1,))
        out = method(Value(x))
        assert out.data == op.forward(FLOAT_MATH, x) and out.op is op


def node_fields(v: Value) -> tuple[object, ...]:
    return (v.data, v.grad, v.label, v._a, v._b, v._operation)


@pytest.mark.parametrize("name", ["add", "mul"])
def test_add_and_mul_build_the_node_that_node_builds(name: str) -> None:
    """``__add__`` and ``__mul__`` write ``new_node`` out; their nodes must be the same, leaves under no_grad too."""
    op, method = nanograd.OPS[name], getattr(Value, BINARY_OPERATORS[name])
    x = Value(1.5)
    for other in (Value(-2.0), -2.0, -2, True):
        number = other.data if isinstance(other, Value) else float(other)
        stored = other if isinstance(other, Value) else number
        data = op.forward(FLOAT_MATH, 1.5, number)
        assert node_fields(method(x, other)) == node_fields(new_node(data, op, x, stored))
        with no_grad():
            assert node_fields(method(x, other)) == node_fields(new_node(data, op, x, stored))
    for big in (Value(1e308), 1e308):
        with pytest.raises(OverflowError, match=f"{name}\\(1e\\+308, 1e\\+308\\) is not finite"):
            method(Value(1e308), big)
    assert math.isnan(method(Value(math.inf), math.nan).data)  # a non-finite input is not an overflow


def test_constant_exponents_are_power_ops_with_their_exponent_as_data() -> None:
    y = Value(3.0) ** 2
    assert y.op is power(2) is power(2.0) and y.op.param == 2.0 and y.data == 9.0
    assert (Value(4.0) ** 0.5).op.param == 0.5
    assert lookup("power", 0.5) is power(0.5)
    assert lookup("tanh") is nanograd.OPS["tanh"]
    for name, param in (("nope", None), ("power", None), ("power", "2"), ("tanh", 2.0)):
        with pytest.raises(ValueError, match="op"):
            lookup(name, param)


def test_ops_are_callable_and_pickle_by_name() -> None:
    tanh = nanograd.OPS["tanh"]
    assert tanh(Value(0.5)).data == math.tanh(0.5) and tanh(0.5).data == math.tanh(0.5)
    assert nanograd.OPS["mul"](2.0, Value(3.0)).data == 6.0
    y = nanograd.OPS["sub"](2.0, 3)  # two numbers: the first becomes a leaf
    y.backpropagate()
    assert y.data == -1.0 and y.inputs[0].grad == 1.0
    with pytest.raises(TypeError, match="takes 1 operand"):
        tanh(1.0, 2.0)
    assert pickle.loads(pickle.dumps(power(3))) is power(3)
    assert pickle.loads(pickle.dumps(tanh)) is tanh


# -- literal operands ----------------------------------------------------------------------


def test_a_number_operand_is_a_literal_not_a_leaf() -> None:
    x = Value(3.0)
    y = 2 * x + 1.0
    assert y.operands[1] == 1.0 and type(y.operands[1]) is float
    assert topological_order(y) == [x, y.operands[0], y]
    y.backpropagate()
    assert x.grad == 2.0
    # Asked for as inputs, a literal is a constant leaf holding the gradient it would have received.
    (_, one), (_, two) = y.inputs, y.inputs[0].inputs
    assert (one.data, one.grad, two.data, two.grad) == (1.0, 1.0, 2.0, 3.0)


def test_reading_inputs_changes_nothing() -> None:
    """``inputs`` makes a fresh constant leaf per literal at each read; the graph keeps the number."""
    x = Value(3.0)
    y = (2 * x + 1.0).tanh() * x
    before = (topological_order(y), [v.operands for v in topological_order(y)])
    for v in topological_order(y):
        _ = v.inputs, v._prev
    assert (topological_order(y), [v.operands for v in topological_order(y)]) == before
    assert y.inputs[0].inputs[0].inputs[1] is not y.inputs[0].inputs[0].inputs[1]
    assert len(topological_order(y)) == 5
    y.backpropagate()
    assert x.grad == pytest.approx(math.tanh(7.0) + 3.0 * 2.0 * (1 - math.tanh(7.0) ** 2), rel=1e-15)


def test_literals_on_the_left_of_non_commutative_ops() -> None:
    x = Value(2.0)
    y = 1.0 - x / 4 + 3**x + 8 / x
    y.backpropagate()
    assert y.data == 1.0 - 0.5 + 9.0 + 4.0
    assert x.grad == pytest.approx(-0.25 + 9.0 * math.log(3) - 2.0, rel=1e-15)


# -- the graph walk ------------------------------------------------------------------------


def test_topological_order_is_pure_and_puts_inputs_first() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    e.backpropagate()
    grads = [v.grad for v in (a, b, c, d, e)]
    order = topological_order(e)
    assert [v.grad for v in (a, b, c, d, e)] == grads  # nothing was reset
    assert sorted(map(id, order)) == sorted(map(id, (a, b, c, d, e))) and order[-1] is e
    for v in order:
        assert all(order.index(x) < order.index(v) for x in v.inputs)


# -- micrograd compatibility ---------------------------------------------------------------


def micrograd_style_tanh(x: Value) -> Value:
    """A custom op written as in karpathy's micrograd lecture."""
    t = (math.exp(2 * x.data) - 1) / (math.exp(2 * x.data) + 1)
    out = Value(t, (x,), "tanh")

    def _backward() -> None:
        x.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


def test_micrograd_style_custom_ops_backpropagate() -> None:
    x1, x2, w1, w2, b = Value(2.0), Value(0.0), Value(-3.0), Value(1.0), Value(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    o = micrograd_style_tanh(n)
    (o * 2).backpropagate()
    ref = Value(n.data).tanh()
    assert o.data == pytest.approx(ref.data, rel=1e-15)
    assert o._op == "tanh" and o._prev == (n,) and o.op.name == "custom"
    assert x1.grad == pytest.approx(2 * -3.0 * (1 - o.data**2), rel=1e-12)
    assert w1.grad == pytest.approx(2 * 2.0 * (1 - o.data**2), rel=1e-12)


def test_the_lectures_manual_backward_loop_runs() -> None:
    """The lecture's own loop: topological order by hand, then node._backward() per node."""
    x, w = Value(0.5), Value(-2.0)
    o = micrograd_style_tanh(x * w + 1)
    topo: list[Value] = []
    visited: set[Value] = set()

    def build(v: Value) -> None:
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                build(child)
            topo.append(v)

    build(o)
    o.grad = 1.0
    for node in reversed(topo):
        node._backward()
    assert x.grad == pytest.approx(-2.0 * (1 - o.data**2), rel=1e-12)


def test_custom_op_without_backward_passes_nothing_and_cannot_give_second_derivatives() -> None:
    x = Value(1.0)
    y = Value(5.0, (x,), "mystery")
    y.backpropagate()
    assert x.grad == 0.0
    with pytest.raises(TypeError, match="first-order"):
        micrograd_style_tanh(x).backpropagate(create_graph=True)
    with pytest.raises(AttributeError, match="_backward"):
        (x * 2)._backward = lambda: None  # a table op's rule is the table's
    x._backward = lambda: None  # a leaf's backward step does nothing, as in micrograd
    assert x.op is None


def test_the_custom_op_idiom_under_no_grad_makes_a_constant() -> None:
    """Inside no_grad, ``Value(d, children, op)`` is a plain leaf and setting its ``_backward`` is harmless."""
    x = Value(0.5)
    with no_grad():
        out = micrograd_style_tanh(x)
    assert out.op is None and out.data == pytest.approx(math.tanh(0.5), rel=1e-15)
    # gradcheck evaluates fn under no_grad: it now gets to compare the derivatives
    assert nanograd.gradcheck(micrograd_style_tanh, [0.5])

    def wrong(x: Value) -> Value:
        out = Value(3.0 * x.data, (x,), "triple")

        def _backward() -> None:
            x.grad += 2.0 * out.grad

        out._backward = _backward
        return out

    with pytest.raises(nanograd.GradcheckError, match=r"analytical 2\.0, numerical 2\.99999"):
        nanograd.gradcheck(wrong, [0.5])


def test_format_formats_the_number() -> None:
    loss = Value(0.123456)
    assert f"{loss:.4f}" == "0.1235" and f"{loss:>8.2e}" == "1.23e-01"
    assert f"{loss}" == repr(loss) == "Value(of=0.123456, gradient=0.0)"


def test_label_is_keyword_only() -> None:
    assert Value(1.0, label="a").label == "a"
    with pytest.raises(TypeError, match="label='a'"):
        Value(1.0, "a")


@pytest.mark.parametrize("detach", [float, math.exp, math.tanh, lambda v: math.isclose(v, 1.0)])
def test_what_would_detach_a_value_from_its_graph_raises(detach) -> None:
    with pytest.raises(TypeError, match=r"\.of"):
        detach(Value(1.0))


def test_numpy_arrays_are_rejected_in_either_order() -> None:
    np = pytest.importorskip("numpy")
    for left, right in ((np.array([1.0, 2.0]), Value(1.0)), (Value(1.0), np.array([1.0, 2.0]))):
        with pytest.raises(TypeError, match=r"\+: expected a real number"):
            left + right
    assert (np.float64(2.0) * Value(3.0)).data == 6.0  # a numpy scalar is a real number


# -- pickling and copying -----------------------------------------------------------------


def test_computed_values_pickle_and_copy_with_their_graph() -> None:
    x, w = Value(2.0, label="x"), Value(-3.0)
    y = (x * w + 1.0).tanh() + x**2
    y.backpropagate()
    for clone_x, clone_y in (pickle.loads(pickle.dumps((x, y))), copy.deepcopy((x, y))):
        assert (clone_y.data, clone_y.grad, clone_x.grad, clone_x.label) == (y.data, y.grad, x.grad, "x")
        assert clone_x in topological_order(clone_y)  # shared leaves stay shared
        clone_x.grad = 0.0
        clone_y.backpropagate()
        assert clone_x.grad == x.grad


def test_pickle_and_deepcopy_of_a_million_deep_graph() -> None:
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6
    clone = pickle.loads(pickle.dumps(y))
    assert clone.data == y.data and len(topological_order(clone)) == 1_000_001
    assert copy.deepcopy(y).data == y.data


def test_custom_ops_do_not_pickle() -> None:
    with pytest.raises(TypeError, match="custom"):
        pickle.dumps(micrograd_style_tanh(Value(1.0)))


# -- higher order and registered ops ---------------------------------------------------------


def test_create_graph_gives_differentiable_gradients() -> None:
    x = Value(1.5)
    y = x**3 + x.sin()
    y.backpropagate(create_graph=True)
    dy = x.grad
    assert isinstance(dy, Value) and dy.data == pytest.approx(3 * 1.5**2 + math.cos(1.5), rel=1e-15)
    (d2,) = nanograd.grad(dy, [x])
    assert d2 == pytest.approx(6 * 1.5 - math.sin(1.5), rel=1e-15)


def test_grad_leaves_gradients_untouched_and_composes() -> None:
    x, unused = Value(0.7), Value(1.0)
    x.grad, unused.grad = 5.0, 6.0
    y = (x * x).exp()
    first, zero = nanograd.grad(y, [x, unused], create_graph=True)
    (second,) = nanograd.grad(first, [x])
    (third,) = nanograd.grad(nanograd.grad(first, [x], create_graph=True)[0], [x])
    e = math.exp(0.49)
    assert first.data == pytest.approx(2 * 0.7 * e, rel=1e-15) and zero.data == 0.0
    assert second == pytest.approx((2 + 4 * 0.49) * e, rel=1e-14)
    assert third == pytest.approx((12 * 0.7 + 8 * 0.7**3) * e, rel=1e-14)
    assert (x.grad, unused.grad, y.grad) == (5.0, 6.0, 0.0)


def test_register_op_adds_an_op_to_the_table() -> None:
    softplus = nanograd.register_op(
        "test_softplus", "softplus", 1, lambda m, x: m.log(1 + m.exp(x)), lambda m, g, out, x: (g * m.sigmoid(x),)
    )
    try:
        x = Value(0.3)
        y = softplus(x)
        y.backpropagate()
        assert nanograd.OPS["test_softplus"] is softplus and y.op is softplus
        assert x.grad == pytest.approx(1 / (1 + math.exp(-0.3)), rel=1e-15)
        assert nanograd.grad(nanograd.grad(softplus(x), [x], create_graph=True)[0], [x])[0] == pytest.approx(
            math.exp(-0.3) / (1 + math.exp(-0.3)) ** 2, rel=1e-14
        )
        with pytest.raises(ValueError, match="exists already"):
            nanograd.register_op("test_softplus", "s", 1, softplus.forward, softplus.vjp)
    finally:
        del nanograd.OPS["test_softplus"]
    for arity in (0, 3):
        with pytest.raises(ValueError, match="arity"):
            nanograd.register_op("test_bad", "b", arity, softplus.forward, softplus.vjp)
    wrong = nanograd.register_op("test_wrong", "w", 1, lambda m, x: x, lambda m, g, out, x: (g, g))
    try:
        with pytest.raises(TypeError, match=r"test_wrong.*1 gradient"):
            wrong(Value(1.0)).backpropagate()
    finally:
        del nanograd.OPS["test_wrong"]


def test_make_node_joins_the_graph_with_any_number_of_inputs() -> None:
    xs = [Value(float(i)) for i in range(1, 5)]
    total = nanograd.Op("sum4", "Σ", 4, lambda m, *v: sum(v), lambda m, g, out, *v: tuple(g * 2 for _ in v))
    y = make_node(total, xs, 10.0) * 3
    y.backpropagate()
    assert y.data == 30.0 and [x.grad for x in xs] == [6.0] * 4 and y.inputs[0].inputs == tuple(xs)
    with pytest.raises(TypeError, match="4 inputs"):
        make_node(total, xs[:2], 1.0)


def test_backprop_makes_room_in_the_cycle_collector_for_graphs_of_its_size() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        x = Value(1.0)
        y = x
        for _ in range(2_000):
            y = y * 1.0001
        y.backpropagate()
        assert gc.get_threshold() == (4 * 2_000, 10, 10)
        Value(2.0).exp().backpropagate()
        assert gc.get_threshold()[0] == 4 * 2_000  # never lowered
        nanograd.set_gc_tuning(False)
        gc.set_threshold(700, 10, 10)
        y.backpropagate()
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        nanograd.set_gc_tuning(True)
        gc.set_threshold(*before)
