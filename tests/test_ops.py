"""Every op in the table against PyTorch (float64), finite differences, and Value-valued rules.

Each row of ``OP_CASES`` is one op: an expression written with Python operators and
methods that both ``Value`` and ``torch.Tensor`` understand, the range each input is
drawn from, and extra edge points. Adding an op to ``nanograd.ops`` means adding
one row here.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from nanograd import OPS, Value
from nanograd.backprop import VALUE_MATH
from nanograd.float_math import FLOAT_GRAD_MATH, FLOAT_MATH
from nanograd.ops import MATH_FUNCTIONS, MAX_NAME_LENGTH, MAX_SYMBOL_LENGTH, RESERVED_NAMES, power, register_op

torch = pytest.importorskip("torch")


@dataclass(frozen=True)
class OpCase:
    expr: Callable  # works on Values and on torch tensors alike
    domain: tuple[tuple[float, float], ...]  # one (low, high) per input
    edges: tuple[tuple[float, ...], ...] = ()  # extra points, compared with torch only
    op_name: str = ""  # the table entry expected on the result; defaults to the row's key


def table_or_torch(name: str, *xs: object) -> object:
    """Op ``name`` of the table on Values and numbers (a literal on either side), ``torch.name`` on tensors."""
    if any(isinstance(x, torch.Tensor) for x in xs):
        return getattr(torch, name)(*xs)
    return OPS[name](*xs)


OP_CASES: dict[str, OpCase] = {
    "add": OpCase(lambda x, y: x + y, ((-5, 5), (-5, 5)), ((0.0, 0.0), (1e300, 1e300))),
    "sub": OpCase(lambda x, y: x - y, ((-5, 5), (-5, 5)), ((1.0, 1.0),)),
    "mul": OpCase(lambda x, y: x * y, ((-5, 5), (-5, 5)), ((0.0, 3.0), (-1e-300, 1e-10))),
    "div": OpCase(lambda x, y: x / y, ((-5, 5), (0.5, 5)), ((1.0, 1e-8), (3.0, -1e-3), (0.0, -2.0))),
    "pow": OpCase(lambda x, y: x**y, ((0.1, 3), (-3, 3)), ((0.0, 2.0), (-2.0, 3.0), (4.0, 0.5), (1.0, -7.0))),
    "neg": OpCase(lambda x: -x, ((-5, 5),), ((0.0,),)),
    "relu": OpCase(lambda x: x.relu(), ((-5, 5),), ((0.0,), (1e-300,), (-1e-300,))),
    "tanh": OpCase(lambda x: x.tanh(), ((-4, 4),), ((0.0,), (20.0,), (-20.0,))),
    # Beyond +-709.8 exp() overflows: the edges check sigmoid's stable branches.
    "sigmoid": OpCase(lambda x: x.sigmoid(), ((-8, 8),), ((0.0,), (-40.0,), (40.0,), (-750.0,), (750.0,))),
    "exp": OpCase(lambda x: x.exp(), ((-5, 5),), ((-700.0,), (700.0,))),
    "log": OpCase(lambda x: x.log(), ((0.01, 10),), ((1e-300,), (1.0,), (1e300,))),
    "sqrt": OpCase(lambda x: x.sqrt(), ((0.01, 10),), ((1e-300,), (1e300,))),
    "abs": OpCase(lambda x: x.abs(), ((-5, 5),), ((0.0,), (-1e-300,))),
    "sin": OpCase(lambda x: x.sin(), ((-7, 7),), ((0.0,), (1e6,))),
    "cos": OpCase(lambda x: x.cos(), ((-7, 7),), ((0.0,), (1e6,))),
    # Ties share the gradient and a NaN wins, as in PyTorch.
    "maximum": OpCase(
        lambda x, y: table_or_torch("maximum", x, y),
        ((-5, 5), (-5, 5)),
        ((1.0, 1.0), (-0.0, 0.0), (math.nan, 1.0), (1.0, math.nan), (math.inf, 2.0), (-math.inf, -math.inf)),
    ),
    "minimum": OpCase(
        lambda x, y: table_or_torch("minimum", x, y),
        ((-5, 5), (-5, 5)),
        ((1.0, 1.0), (0.0, -0.0), (math.nan, 1.0), (1.0, math.nan), (-math.inf, 2.0), (math.inf, math.inf)),
    ),
    "power(3)": OpCase(lambda x: x**3, ((-3, 3),), ((0.0,),), op_name="power"),
    "power(-1)": OpCase(lambda x: x**-1, ((0.5, 3),), ((-2.0,),), op_name="power"),
    "power(0.5)": OpCase(lambda x: x**0.5, ((0.01, 4),), ((1e-8,),), op_name="power"),
    "power(-2.5)": OpCase(lambda x: x**-2.5, ((0.2, 4),), (), op_name="power"),
}

RANDOM_POINTS = 8


def sample_points(name: str) -> list[tuple[float, ...]]:
    """Seeded random points inside the op's domain."""
    rng = random.Random(name)
    return [tuple(rng.uniform(lo, hi) for lo, hi in OP_CASES[name].domain) for _ in range(RANDOM_POINTS)]


def all_points(name: str) -> list[tuple[float, ...]]:
    return sample_points(name) + list(OP_CASES[name].edges)


def nanograd_value_and_grads(name: str, point: tuple[float, ...]) -> tuple[Value, list[float]]:
    xs = [Value(p) for p in point]
    out = OP_CASES[name].expr(*xs)
    out.backpropagate()
    return out, [x.grad for x in xs]


def torch_value_and_grads(name: str, point: tuple[float, ...]) -> tuple[float, list[float]]:
    xs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    out = OP_CASES[name].expr(*xs)
    out.backward()
    return out.item(), [x.grad.item() for x in xs]


def assert_close(actual: float, expected: float, rel: float, abs_: float = 0.0) -> None:
    if math.isnan(expected):
        assert math.isnan(actual)
    else:
        assert actual == pytest.approx(expected, rel=rel, abs=abs_)


def test_every_op_has_a_test_row() -> None:
    covered = {case.op_name or name for name, case in OP_CASES.items()}
    assert covered == set(OPS) | {"power"}


@pytest.mark.parametrize("name", OP_CASES)
def test_result_records_the_table_op(name: str) -> None:
    out, _ = nanograd_value_and_grads(name, sample_points(name)[0])
    assert out.op.name == (OP_CASES[name].op_name or name)
    if out.op.name == "power":
        assert out.op is power(out.op.param) and out.op.param == float(name[len("power(") : -1])
    else:
        assert out.op is OPS[name] and out.op.param is None


@pytest.mark.parametrize("name", OP_CASES)
def test_matches_torch_float64(name: str) -> None:
    for point in all_points(name):
        out, grads = nanograd_value_and_grads(name, point)
        ref_out, ref_grads = torch_value_and_grads(name, point)
        assert_close(out.data, ref_out, rel=1e-12, abs_=1e-300)
        for g, ref in zip(grads, ref_grads):
            assert_close(g, ref, rel=1e-12, abs_=1e-300)


@pytest.mark.parametrize("name", OP_CASES)
def test_matches_central_finite_differences(name: str) -> None:
    expr = OP_CASES[name].expr
    for point in sample_points(name):
        _, grads = nanograd_value_and_grads(name, point)
        for i, g in enumerate(grads):
            h = 1e-6 * max(1.0, abs(point[i]))
            up = [Value(p + h * (j == i)) for j, p in enumerate(point)]
            down = [Value(p - h * (j == i)) for j, p in enumerate(point)]
            numeric = (expr(*up).data - expr(*down).data) / (2 * h)
            assert g == pytest.approx(numeric, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", OP_CASES)
def test_rules_evaluated_with_values_give_second_derivatives(name: str) -> None:
    """Running an op's vjp on Values builds a graph; backprop through it is the 2nd derivative."""
    case = OP_CASES[name]
    for point in sample_points(name)[:3]:
        xs = [Value(p) for p in point]
        out = case.expr(*xs)
        op = out.op
        grads = op.vjp(VALUE_MATH, Value(1.0), out, *xs)
        float_grads = op.vjp(FLOAT_MATH, 1.0, out.data, *point)
        for i, g in enumerate(grads):
            g = g if isinstance(g, Value) else Value(g)
            assert g.data == pytest.approx(float_grads[i], rel=1e-12)
            for x in xs:
                x.grad = 0.0
            g.backpropagate()
            # The same second derivatives from torch.
            ts = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
            (first,) = torch.autograd.grad(case.expr(*ts), ts[i], create_graph=True)
            second = torch.autograd.grad(first, ts, allow_unused=True) if first.requires_grad else None
            for j, x in enumerate(xs):
                ref = 0.0 if second is None or second[j] is None else second[j].item()
                assert x.grad == pytest.approx(ref, rel=1e-10, abs=1e-12)


def test_every_rule_calls_only_the_math_namespace_protocol() -> None:
    """A rule that calls a function outside ``MathNamespace`` fails here, not in one backend."""
    restricted = SimpleNamespace(**{name: getattr(FLOAT_MATH, name) for name in MATH_FUNCTIONS})
    for name in OP_CASES:
        for point in sample_points(name)[:2]:
            op = nanograd_value_and_grads(name, point)[0].op
            out = op.forward(restricted, *point)
            assert op.vjp(restricted, 1.0, out, *point) == op.vjp(FLOAT_MATH, 1.0, out, *point)


@pytest.mark.parametrize("namespace", ["FLOAT_MATH", "FLOAT_GRAD_MATH", "VALUE_MATH", "TORCH_MATH", "NUMPY_MATH"])
def test_every_math_namespace_provides_every_function(namespace: str) -> None:
    from nanograd import backprop, pytorch
    from nanograd.compiler import numpy_backend

    m = {
        "FLOAT_MATH": FLOAT_MATH,
        "FLOAT_GRAD_MATH": FLOAT_GRAD_MATH,
        "VALUE_MATH": backprop.VALUE_MATH,
        "TORCH_MATH": pytorch.TORCH_MATH,
        "NUMPY_MATH": numpy_backend.NUMPY_MATH,
    }[namespace]
    assert [name for name in MATH_FUNCTIONS if not callable(getattr(m, name, None))] == []


def test_power_ops_are_cached_and_named() -> None:
    assert power(3) is power(3.0)
    assert power(3).symbol == "**3"
    assert power(0.5).symbol == "**0.5"
    assert (Value(2.0) ** 2).op.symbol == "**2"


# -- ops a user registers --------------------------------------------------------------------


def _constant_vjp(m, g, out, x):
    return (0.0,)


def test_a_registered_forward_that_returns_an_int_gives_a_float(restore_op_table: None) -> None:
    one = register_op("one", "1", 1, lambda m, x: 1, lambda m, g, out, x: (0,))
    x = Value(2.0)
    y = one(x)
    assert type(y.data) is float and y.data == 1.0
    y.backpropagate()
    assert type(x.grad) is float and x.grad == 0.0


@pytest.mark.parametrize(
    ("result", "error", "message"),
    [
        (True, TypeError, "got True of type bool"),
        (None, TypeError, "got None of type NoneType"),
        ("1.0", TypeError, "got '1.0' of type str"),
        (1j, TypeError, "got 1j of type complex"),
        (10**400, OverflowError, "does not fit in a float"),
    ],
    ids=["bool", "None", "str", "complex", "400-digit-int"],
)
def test_a_registered_forward_must_return_a_real_number(
    restore_op_table: None, result: object, error: type[Exception], message: str
) -> None:
    odd = register_op("odd", "odd", 1, lambda m, x: result, _constant_vjp)
    with pytest.raises(error, match=rf"op 'odd': forward's result .*{re.escape(message)}"):
        odd(Value(2.0))


@pytest.mark.parametrize(
    ("grads", "message"),
    [
        ((None,), "None of type NoneType"),
        (("g",), "'g' of type str"),
        ((True,), "True of type bool"),
        ([0.0], r"vjp must return a tuple of 1 gradient\(s\), got \[0\.0\]"),
        ((0.0, 0.0), r"vjp must return a tuple of 1 gradient\(s\), got \(0\.0, 0\.0\)"),
    ],
)
@pytest.mark.parametrize("create_graph", [False, True])
def test_a_registered_vjp_of_the_wrong_type_or_length_names_the_op(
    restore_op_table: None, grads: object, message: str, create_graph: bool
) -> None:
    odd = register_op("odd", "odd", 1, lambda m, x: x, lambda m, g, out, x: grads)
    with pytest.raises(TypeError, match=rf"^op 'odd': .*{message}"):
        odd(Value(2.0)).backpropagate(create_graph=create_graph)


def test_a_registered_vjp_that_returns_ints_gives_float_gradients(restore_op_table: None) -> None:
    double = register_op("double", "2x", 1, lambda m, x: 2 * x, lambda m, g, out, x: (2,))
    x = Value(3.0)
    double(x).backpropagate()
    assert type(x.grad) is float and x.grad == 2.0


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_reserved_names_cannot_be_registered(restore_op_table: None, name: str) -> None:
    with pytest.raises(ValueError, match=f"op named {name!r} exists already"):
        register_op(name, "c", 1, lambda m, x: x, _constant_vjp)
    assert name not in OPS


@pytest.mark.parametrize("arity", [True, False, 1.0, 0, 3, "1"])
def test_the_arity_must_be_the_int_1_or_2(restore_op_table: None, arity: object) -> None:
    with pytest.raises(ValueError, match=r"arity must be the int 1 or 2"):
        register_op("bad", "b", arity, lambda m, x: x, _constant_vjp)  # type: ignore[arg-type]
    assert "bad" not in OPS


@pytest.mark.parametrize("symbol", ["", "x" * (MAX_SYMBOL_LENGTH + 1), "a\nb", "\x1b[31m", "\u202e", 5, None])
def test_a_symbol_must_be_short_printable_text(restore_op_table: None, symbol: object) -> None:
    with pytest.raises(ValueError, match="the symbol must be a non-empty printable str of at most 32 characters"):
        register_op("bad", symbol, 1, lambda m, x: x, _constant_vjp)  # type: ignore[arg-type]
    assert "bad" not in OPS


@pytest.mark.parametrize("symbol", ["Σ", "∂", "**", "x y", "x" * MAX_SYMBOL_LENGTH])
def test_printable_symbols_of_any_script_are_taken(restore_op_table: None, symbol: str) -> None:
    assert register_op("good", symbol, 1, lambda m, x: x, _constant_vjp).symbol == symbol


@pytest.mark.parametrize("name", ["", "1st", "a-b", "x" * (MAX_NAME_LENGTH + 1), 7])
def test_a_name_must_be_a_short_identifier(restore_op_table: None, name: object) -> None:
    with pytest.raises(ValueError, match="the name must be"):
        register_op(name, "b", 1, lambda m, x: x, _constant_vjp)  # type: ignore[arg-type]


def test_the_rules_must_be_functions(restore_op_table: None) -> None:
    with pytest.raises(TypeError, match="register_op 'bad': forward must be a function"):
        register_op("bad", "b", 1, 2.0, _constant_vjp)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="register_op 'bad': vjp must be a function"):
        register_op("bad", "b", 1, lambda m, x: x, None)  # type: ignore[arg-type]
    assert "bad" not in OPS
