"""Tests for ``nanograd.expr``: user expressions become graphs through a whitelist, never ``eval``."""

from __future__ import annotations

import math

import pytest

from nanograd import OPS, Value
from nanograd.expr import MAX_EXPONENT, METHODS, ExpressionError, build, parse_assignment
from nanograd.viz import trace

ABC = {"a": 2.0, "b": -3.0, "c": 10.0}


def test_the_issue_example_builds_the_graph_a_python_expression_would() -> None:
    y = build("(a*b + c).tanh()", ABC)
    y.backpropagate()
    a, b, c = (Value(x, label=n) for n, x in ABC.items())
    expected = (a * b + c).tanh()
    expected.backpropagate()
    assert y.of == expected.of == math.tanh(4.0)
    assert [(v.op and v.op.name, v.of, v.gradient, v.label) for v in trace(y)[0]] == [
        (v.op and v.op.name, v.of, v.gradient, v.label) for v in trace(expected)[0]
    ]


def test_a_name_used_twice_is_one_leaf() -> None:
    y = build("a * a + a", {"a": 3.0})
    y.backpropagate()
    leaves = [v for v in trace(y)[0] if v.op is None]
    assert len(leaves) == 1 and leaves[0].label == "a" and leaves[0].gradient == 2 * 3.0 + 1


@pytest.mark.parametrize(
    ("expression", "ops", "value"),
    [
        ("a ** 2", ["power"], 4.0),  # a literal exponent is a constant, not a node
        ("a ** -0.5", ["power"], 2.0**-0.5),
        ("2 ** a", ["pow"], 4.0),
        ("a ** (b + 5)", ["add", "pow"], 4.0),
        ("-a / +4", ["neg", "div"], -0.5),
        ("(-3) * a", ["mul"], -6.0),  # a negative literal is one constant
        ("a - b * c", ["mul", "sub"], 32.0),
    ],
)
def test_operators_precedence_and_constants(expression: str, ops: list[str], value: float) -> None:
    y = build(expression, ABC)
    assert y.of == value
    assert [v.op.name for v in trace(y)[0] if v.op is not None] == ops


def test_numbers_are_literal_operands_and_number_only_parts_one_constant() -> None:
    y = build("x**2 + 3*x - 2*3", {"x": 2})
    nodes = trace(y)[0]
    assert [v.label for v in nodes if v.op is None] == ["x"]  # no leaf for 3, 2 or 6
    assert [v.operands[1] for v in nodes if v.op is not None and len(v.operands) == 2] == [3.0, nodes[2], 6.0]
    assert y.of == 4.0 + 6.0 - 6.0
    assert build("7", {}).of == 7.0


def test_a_number_only_part_is_computed_by_the_engine_with_its_checks() -> None:
    with pytest.raises(ExpressionError, match=r"mul\(1e\+308, 10.0\) is not finite"):
        build("a + 1e308 * 10", ABC)
    with pytest.raises(ExpressionError, match=r"cannot compute this part: .*division by zero"):
        build("a + 1 / 0", ABC)


@pytest.mark.parametrize("method", METHODS)
def test_every_unary_method_of_the_table_can_be_called(method: str) -> None:
    y = build(f"(a / 4).{method}()", ABC)
    assert y.op is OPS[method]
    assert y.of == getattr(Value(0.5), method)().of


def test_the_methods_are_the_unary_ops_of_the_table_except_neg() -> None:
    assert set(METHODS) == {op.name for op in OPS.values() if op.arity == 1} - {"neg"}


@pytest.mark.parametrize(
    ("expression", "message", "marked"),
    [
        ("__import__('os')", "function calls are not allowed", "__import__('os')"),
        ("tanh(a)", r"write a\.tanh\(\) instead", "tanh(a)"),
        ("c + exp(a*b)", r"write \(a\*b\)\.exp\(\) instead", "exp(a*b)"),
        ("a.data", "attribute access is not allowed", "a.data"),
        ("(a).__class__", "attribute access is not allowed", "(a).__class__"),
        ("a.__class__()", r"unknown method .__class__\(\)", "a.__class__"),
        ("a.tanh(1)", r".tanh\(\) takes no arguments", "a.tanh(1)"),
        ("lambda: a", "'lambda: a' is not allowed", "lambda: a"),
        ("b + (lambda: 1)()", "function calls are not allowed", "(lambda: 1)()"),
        ("a + 'x'", "\"'x'\" is not allowed", "'x'"),
        ("a if b else c", "is not allowed", "a if b else c"),
        ("[a][0]", "is not allowed", "[a][0]"),
        ("a @ b", "is not allowed", "a @ b"),
        ("True * a", "'True' is not allowed", "True"),
        ("a + d", r"unknown name 'd' \(the names given are a, b, c\)", "d"),
        ("a ** 1001", "the exponent 1001 is too large", "1001"),
        ("a ** -(10 ** 4)", "the exponent -10000 is too large", "-(10 ** 4)"),
        ("a ** (c * c * c * c)", "the exponent 10000 is too large", "c * c * c * c"),
        ("2 ** 9 ** 9", "the exponent 3.8742e[+]08 is too large", "9 ** 9"),
        ("1e999 + a", "this number is too large for a float", "1e999"),
        ("b.log()", r"cannot compute this part: log\(-3.0\): math domain error", "b.log()"),
        ("a / (c - 10)", "cannot compute this part: div", "a / (c - 10)"),
        ("(a *", "invalid syntax", "("),
    ],
)
def test_rejected_expressions_point_at_the_offending_part(expression: str, message: str, marked: str) -> None:
    with pytest.raises(ExpressionError, match=message) as info:
        build(expression, ABC)
    *_, shown, carets = str(info.value).splitlines()
    assert shown == f"  {expression}"
    start = expression.index(marked)
    assert carets == "  " + " " * start + "^" * len(marked)


def test_exponents_up_to_the_limit_are_accepted() -> None:
    assert build(f"1 ** {MAX_EXPONENT:g}", {}).of == 1.0
    assert build(f"a ** -{MAX_EXPONENT:g}", {"a": 1.0}).of == 1.0


def test_carets_count_characters_not_bytes() -> None:
    with pytest.raises(ExpressionError) as info:
        build("aé + d", {"aé": 1.0})
    assert str(info.value).splitlines()[-1] == "       ^"


def test_too_long_expressions_and_too_many_parentheses_are_rejected() -> None:
    with pytest.raises(ExpressionError, match="more than 500"):
        build("a + " * 200 + "a", ABC)
    with pytest.raises(ExpressionError, match="invalid syntax: too many nested parentheses"):
        build("(" * 240 + "a" + ")" * 240, ABC)
    assert build("-" * 498 + "a", ABC).of == ABC["a"]  # the deepest nesting the length allows


@pytest.mark.parametrize(("text", "parsed"), [("a=2", ("a", 2.0)), ("x1=-0.5", ("x1", -0.5)), ("w=1e3", ("w", 1e3))])
def test_parse_assignment(text: str, parsed: tuple[str, float]) -> None:
    assert parse_assignment(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a", "is not NAME=VALUE"),
        ("a=x", "'x' is not a number"),
        ("a=nan", "must be a finite number"),
        ("a=inf", "must be a finite number"),
        ("1a=2", "cannot be a name"),
        ("__import__=1", "cannot be a name"),
        ("True=1", "cannot be a name"),
    ],
)
def test_parse_assignment_rejects(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse_assignment(text)


def test_build_rejects_a_bad_name_in_the_mapping() -> None:
    with pytest.raises(ExpressionError, match="'_x' cannot be a name"):
        build("1", {"_x": 1.0})
