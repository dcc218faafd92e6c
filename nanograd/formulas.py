"""Op rules printed as formulas: the explore page's equations are the op table's rules themselves.

A rule of the op table is a function of a math namespace and its inputs
(:mod:`nanograd.ops`). Evaluated with :data:`TEXT_MATH` on :class:`Formula` placeholders,
it prints instead of computing: ``mul``'s vjp ``g * y`` run on the formulas
``out.grad`` and ``b.data`` gives ``out.grad * b.data``, with the parentheses Python
needs and no more. So no formula is written twice: the page shows the rule that runs.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from .float_math import FLOAT_MATH
from .viz import format_number

#: Operator precedence of a printed formula, loosest first (an atom needs no parentheses).
COMPARE, SUM, PRODUCT, UNARY, POWER, ATOM = range(6)


def _infix(symbol: str, rank: int, right_assoc: bool = False) -> tuple[Callable[..., Formula], Callable[..., Formula]]:
    """The operator method for ``symbol`` and its reflected twin (``__add__`` and ``__radd__``)."""

    def join(x: object, y: object) -> Formula:
        left, right = Formula.of(x), Formula.of(y)
        return Formula(f"{left.wrap(rank + right_assoc)} {symbol} {right.wrap(rank + (not right_assoc))}", rank)

    return join, lambda self, other: join(other, self)


class Formula:
    """A formula as text: op rules run on these print themselves (``x * y`` -> ``"a.data * b.data"``)."""

    __slots__ = ("rank", "text")

    def __init__(self, text: str, rank: int = ATOM) -> None:
        self.text, self.rank = text, rank

    @classmethod
    def of(cls, x: object) -> Formula:
        """``x`` itself if it is a formula, else the number ``x`` written as Python writes it."""
        if isinstance(x, Formula):
            return x
        return cls.signed(repr(x))

    @classmethod
    def number(cls, x: float) -> Formula:
        """The number ``x`` as the page shows numbers (:func:`nanograd.viz.format_number`)."""
        return cls.signed(format_number(x))

    @classmethod
    def signed(cls, text: str) -> Formula:
        """A number's text, which binds like a unary minus when it has one."""
        return cls(text, UNARY if text.startswith("-") else ATOM)

    def wrap(self, rank: int) -> str:
        """The text, in parentheses if it binds looser than ``rank``."""
        return f"({self.text})" if self.rank < rank else self.text

    def __bool__(self) -> bool:
        raise TypeError("a rule that branches on its inputs cannot be printed as a formula")

    def __neg__(self) -> Formula:
        return Formula(f"-{self.wrap(UNARY + 1)}", UNARY)  # -(-3.0), not --3.0

    __add__, __radd__ = _infix("+", SUM)
    __sub__, __rsub__ = _infix("-", SUM)
    __mul__, __rmul__ = _infix("*", PRODUCT)
    __truediv__, __rtruediv__ = _infix("/", PRODUCT)
    __pow__, __rpow__ = _infix("**", POWER, right_assoc=True)
    __lt__, __le__ = _infix("<", COMPARE)[0], _infix("<=", COMPARE)[0]
    __gt__, __ge__ = _infix(">", COMPARE)[0], _infix(">=", COMPARE)[0]


def _call(name: str) -> Callable[..., Formula]:
    return lambda *args: Formula(f"{name}({', '.join(Formula.of(a).text for a in args)})")


#: The math namespace that prints: every function of FLOAT_MATH as a call, ``pow`` as ``**``, ``div`` as ``/``.
TEXT_MATH = SimpleNamespace(
    **{
        **{name: _call(name) for name in vars(FLOAT_MATH)},
        "pow": lambda x, y: Formula.of(x) ** y,
        "div": lambda x, y: Formula.of(x) / y,
        "xlogy": lambda x, y: Formula.of(x) * _call("log")(y),
    }
)


def formulas(rule: Callable[..., Any], *args: Formula) -> list[Formula]:
    """An op rule evaluated on formulas: one formula per output."""
    out = rule(TEXT_MATH, *args)
    return [Formula.of(x) for x in (out if isinstance(out, tuple) else (out,))]


def print_rule(rule: Callable[..., Any], *args: str | float) -> list[str]:
    """An op rule printed with ``args`` (names or numbers) in place of its inputs, one text per output."""
    return [t.text for t in formulas(rule, *(Formula(a) if isinstance(a, str) else Formula.of(a) for a in args))]


def printable(rule: Callable[..., Any], *args: Formula) -> list[Formula] | None:
    """``formulas(rule, *args)``, or None where the rule cannot be printed.

    A rule a user registered may branch on its inputs or fail on text in any other way
    (a micrograd-style custom op has no forward rule at all).
    """
    try:
        return formulas(rule, *args)
    except Exception:  # any failure of a user's rule on text only means: no formula to show
        return None


def equation(*parts: str) -> str:
    """``parts`` joined by `` = ``, each one shown once (``v.grad += g = 1.0``, not ``... = 1.0 = 1.0``)."""
    shown = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    return " = ".join(shown)
