"""Expressions typed by a user (``nanograd explore``) turned into a graph of Values, never with ``eval``.

The text is parsed with :mod:`ast` and only a whitelist of node types is evaluated:
numbers, names given a value by the caller, ``+ - * / **``, unary ``-`` and ``+``,
parentheses, and method calls with no arguments that name a unary op of the table
(``(a*b + c).tanh()``). A number is a constant, as in Python code: the ``3`` of ``3*a``
is a literal operand of the product, not a leaf, and a part made of numbers alone
(``2*3``) is computed by the engine into one constant. Anything else raises
:class:`ExpressionError`, whose message quotes the expression and marks the offending
part with carets::

    unknown name 'd' (the names given are a, b, c)
      (a*b + d).tanh()
             ^
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import cast

from .ops import OPS
from .value import Value

#: The longest expression accepted, in characters (which also bounds how deeply the evaluation recurses).
MAX_LENGTH = 500
#: The largest exponent accepted in ``x ** k``, in absolute value.
MAX_EXPONENT = 1000.0
#: The methods an expression may call: the unary ops of the table that are Value methods.
METHODS = tuple(sorted(op.name for op in OPS.values() if op.arity == 1 and callable(getattr(Value, op.name, None))))

#: A part of an expression: a Value, or a plain number (a constant).
Part = Value | float

_BINARY: dict[type[ast.operator], Callable[[Part, Part], Part]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class ExpressionError(ValueError):
    """An expression that was rejected or could not be computed; the message points at the cause."""


def _caret_message(message: str, expression: str, line: int, start: int, end: int) -> str:
    """``message`` followed by the ``line``-th line of ``expression`` and carets under columns ``start:end``."""
    text = expression.splitlines()[line - 1] if expression.strip() else expression
    width = max(1, min(end, len(text)) - start)
    return f"{message}\n  {text}\n  {' ' * start}{'^' * width}"


def _columns(expression: str, node: ast.expr) -> tuple[int, int, int]:
    """The line and the character columns of ``node`` (ast counts columns in UTF-8 bytes)."""
    line = expression.splitlines()[node.lineno - 1].encode()
    end = node.end_col_offset if node.end_lineno == node.lineno and node.end_col_offset is not None else len(line)
    return node.lineno, len(line[: node.col_offset].decode()), len(line[:end].decode())


def _describe(variables: Mapping[str, float]) -> str:
    return f"the names given are {', '.join(variables)}" if variables else "no names were given"


def _allowed() -> str:
    return (
        "an expression may use numbers, names given as NAME=VALUE, + - * / **, unary minus, parentheses "
        f"and the methods {', '.join(f'.{m}()' for m in METHODS)}"
    )


class _Builder:
    """Evaluates the whitelisted nodes of one parsed expression into Values."""

    def __init__(self, expression: str, variables: Mapping[str, float]) -> None:
        self.expression = expression
        self.variables = variables
        self.leaves = {name: Value(x, label=name) for name, x in variables.items()}

    def error(self, node: ast.expr, message: str) -> ExpressionError:
        """An :class:`ExpressionError` pointing at ``node``."""
        return ExpressionError(_caret_message(message, self.expression, *_columns(self.expression, node)))

    def source(self, node: ast.expr) -> str:
        return ast.get_source_segment(self.expression, node) or type(node).__name__

    def number(self, node: ast.expr) -> float | None:
        """The number written literally at ``node`` (``2``, ``-0.5``), or None if it is not a literal."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            x = self.number(node.operand)
            return None if x is None else (-x if isinstance(node.op, ast.USub) else x)
        if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
            return None
        if not isinstance(node.value, (int, float)):
            return None
        try:
            x = float(node.value)
        except OverflowError:
            raise self.error(node, "this number is too large for a float") from None
        if not math.isfinite(x):
            raise self.error(node, "this number is too large for a float")
        return x

    def compute(self, node: ast.expr, op: Callable[..., Part], *args: Part) -> Part:
        """``op(*args)``; an engine error becomes an :class:`ExpressionError` pointing at ``node``.

        Numbers alone are computed by the engine too (so ``1e308 * 10`` raises as it would
        on Values), and the result is again a number.
        """
        constant = not any(isinstance(x, Value) for x in args)
        try:
            if constant:
                result = op(Value(cast(float, args[0])), *args[1:])
                assert isinstance(result, Value)
                return result.data
            return op(*args)
        except (ArithmeticError, ValueError) as e:
            raise self.error(node, f"cannot compute this part: {e}") from None

    def power(self, node: ast.BinOp) -> Part:
        base = self.visit(node.left)
        k = self.number(node.right)
        exponent = self.visit(node.right) if k is None else k
        number = exponent.data if isinstance(exponent, Value) else exponent
        if abs(number) > MAX_EXPONENT:
            raise self.error(node.right, f"the exponent {number:g} is too large (at most {MAX_EXPONENT:g})")
        return self.compute(node, operator.pow, base, exponent)

    def call(self, node: ast.Call) -> Part:
        func = node.func
        if not isinstance(func, ast.Attribute):
            hint = ""
            if isinstance(func, ast.Name) and func.id in METHODS and len(node.args) == 1:
                arg = node.args[0]
                operand = self.source(arg) if isinstance(arg, (ast.Name, ast.Constant)) else f"({self.source(arg)})"
                hint = f"; write {operand}.{func.id}() instead"
            raise self.error(node, f"function calls are not allowed{hint}; {_allowed()}")
        if func.attr not in METHODS:
            raise self.error(func, f"unknown method .{func.attr}(); the methods are {', '.join(METHODS)}")
        if node.args or node.keywords:
            raise self.error(node, f".{func.attr}() takes no arguments")
        return self.compute(node, getattr(Value, func.attr), self.visit(func.value))

    def visit(self, node: ast.expr) -> Part:
        """The Value (or the number) of the whitelisted expression ``node``; ExpressionError for anything else."""
        x = self.number(node)
        if x is not None:
            return x
        if isinstance(node, ast.Name):
            if node.id not in self.leaves:
                raise self.error(node, f"unknown name {node.id!r} ({_describe(self.variables)})")
            return self.leaves[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.visit(node.operand)
            return self.compute(node, operator.neg, operand) if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            return self.power(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return self.compute(node, _BINARY[type(node.op)], self.visit(node.left), self.visit(node.right))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute):
            raise self.error(node, f"attribute access is not allowed; {_allowed()}")
        raise self.error(node, f"{self.source(node)!r} is not allowed; {_allowed()}")


def check_name(name: str) -> str:
    """``name`` if it can name a value in an expression (an identifier, not a keyword, no leading ``_``)."""
    if not name.isidentifier() or name.startswith("_") or name in {"True", "False", "None"}:
        raise ExpressionError(f"{name!r} cannot be a name: use letters, digits and _, not starting with a digit or _")
    return name


def parse_assignment(text: str) -> tuple[str, float]:
    """``"a=2"`` -> ``("a", 2.0)``: a name and a finite number, as given on the command line."""
    name, sep, number = text.partition("=")
    if not sep:
        raise ExpressionError(f"{text!r} is not NAME=VALUE (for example a=2)")
    try:
        x = float(number)
    except ValueError:
        raise ExpressionError(f"{text!r}: {number!r} is not a number") from None
    if not math.isfinite(x):
        raise ExpressionError(f"{text!r}: the value must be a finite number")
    return check_name(name.strip()), x


def build(expression: str, variables: Mapping[str, float]) -> Value:
    """The graph of ``expression`` with ``variables`` as its named leaves (labelled by name).

    Numbers are constants: literal operands, as ``3 * a`` records them in Python code.

    >>> build("(a*b + c).tanh()", {"a": 2, "b": -3, "c": 10}).of  # doctest: +ELLIPSIS
    0.999...

    Raises:
        ExpressionError: the expression is too long, is not valid Python, uses anything
            outside the whitelist (see the module docstring) or an unknown name, has an
            exponent above :data:`MAX_EXPONENT`, or cannot be computed (``log`` of a
            negative number); the message marks the part of the expression at fault.
    """
    for name in variables:
        check_name(name)
    if len(expression) > MAX_LENGTH:
        raise ExpressionError(f"the expression has {len(expression)} characters, more than {MAX_LENGTH}")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as e:
        start = (e.offset or 1) - 1
        end = e.end_offset - 1 if e.end_offset and e.end_lineno == e.lineno else start + 1
        raise ExpressionError(
            _caret_message(f"invalid syntax: {e.msg}", expression.strip(), e.lineno or 1, start, end)
        ) from None
    result = _Builder(expression.strip(), variables).visit(tree.body)
    return result if isinstance(result, Value) else Value(result)
