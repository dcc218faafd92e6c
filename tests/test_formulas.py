"""Tests for ``nanograd.formulas``: op rules printed as formulas, with the parentheses Python needs."""

from __future__ import annotations

from typing import Any

import pytest

from nanograd.formulas import Formula, equation, print_rule, printable


@pytest.mark.parametrize(
    ("rule", "args", "printed"),
    [
        (lambda m, x, y: (x - y) * -y, ("a", "b"), ["(a - b) * -b"]),
        (lambda m, x, y: x - (y - x) / (x * y), ("a", "b"), ["a - (b - a) / (a * b)"]),
        (lambda m, x: ((-x) ** 2 + 2**x**3, (2**x) ** 3), ("a",), ["(-a) ** 2 + 2 ** a ** 3", "(2 ** a) ** 3"]),
        (lambda m, x: m.pow(x, 2) * m.exp(-x), (-3.0,), ["(-3.0) ** 2 * exp(-(-3.0))"]),
        (lambda m, g, out: m.div(g, 2 * out), ("g", "y"), ["g / (2 * y)"]),
        (lambda m, g, x: (g * (x > 0), m.xlogy(x, g)), ("g", 0.5), ["g * (0.5 > 0)", "0.5 * log(g)"]),
    ],
)
def test_print_rule_writes_rules_with_the_parentheses_python_needs(rule: Any, args: tuple, printed: list[str]) -> None:
    assert print_rule(rule, *args) == printed


def test_print_rule_refuses_a_rule_that_branches() -> None:
    with pytest.raises(TypeError, match="branches"):
        print_rule(lambda m, x: x if x > 0 else -x, "a")


def test_printable_says_none_for_a_rule_that_cannot_be_printed() -> None:
    assert printable(lambda m, x: x if x > 0 else -x, Formula("a")) is None  # it branches on its input
    assert printable(lambda m, x: m.erf(x), Formula("a")) is None  # no such function of the namespace
    assert [f.text for f in printable(lambda m, x: m.exp(-x), Formula("a")) or []] == ["exp(-a)"]


def test_equation_shows_each_part_once() -> None:
    assert equation("v.grad += g", "1.0", "1.0") == "v.grad += g = 1.0"
