"""The package's shape: imports go one way, modules stay small, the engine keeps a line budget.

A reader should find the algorithm first (``nanograd/backprop.py``) and be able to state
the layering in one line; these tests keep it so. Growing past a budget is a decision:
raise the number here, in the same change, and say why.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "nanograd"

#: Layers, lowest first: a module may import from its own layer or a lower one, never a higher one.
#: op table and numbers <- graph and chain rule <- Value <- what is built from Values <- its users.
LAYERS: list[set[str]] = [
    {"ops", "float_math", "grad_mode", "errors", "gc_tuning", "_io"},
    {"node", "backprop"},
    {"fast_backprop", "micrograd_compat", "pickling"},
    {"value"},
    {"generic_ops", "functional", "selection", "engine", "neural_net", "nn", "losses", "optim", "expr", "render"},
    {"compiler", "viz", "neuron_calls"},
    {"formulas", "explore_steps"},
    {"explorer", "pytorch", "demo"},
    {"cli", "__main__", "__init__"},
]
#: Physical lines: the module holding Value stays under the first, no module goes over the second.
VALUE_LINES, MODULE_LINES = 400, 500
#: Lines of code (no blank lines, comments or docstrings) of the engine: the modules a reader
#: of backpropagation reads, from the op table to Value and the functional API.
ENGINE = ("ops", "float_math", "grad_mode", "errors", "gc_tuning", "node", "backprop", "fast_backprop")
ENGINE += ("micrograd_compat", "pickling", "value", "generic_ops", "functional")
ENGINE_BUDGET = 1100
#: Lines of code of the reference chain rule, :func:`nanograd.backprop.backward`.
REFERENCE_BUDGET = 15


def module_name(path: Path) -> str:
    """``compiler.trace`` for ``nanograd/compiler/trace.py``, ``compiler`` for its ``__init__``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, layer in enumerate(LAYERS) if top in layer)


def imports(path: Path) -> set[str]:
    """The package modules ``path`` imports at run time (``if TYPE_CHECKING:`` blocks are for type checkers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    package = module_name(path).split(".")[:-1] if path.name != "__init__.py" else module_name(path).split(".")
    if path.parent == PACKAGE:
        package = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only or not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
        if node.module is None:  # from . import a, b
            found.update(".".join([*base, alias.name]) for alias in node.names)
        else:
            found.add(".".join(base))
    return {name for name in found if is_module(name)}


def is_module(name: str) -> bool:
    path = PACKAGE / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imports(path) - {name} for name, path in MODULES.items()}


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer_of(name)  # StopIteration names the module that needs a place


def test_no_import_goes_up_a_layer() -> None:
    upward = [
        (name, target)
        for name, targets in GRAPH.items()
        for target in targets
        if layer_of(target) > layer_of(name)
        and not target.startswith(name.split(".")[0] + ".")
        and name.split(".")[0] != "__init__"
    ]
    assert upward == []


def test_no_import_circles() -> None:
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            pytest.fail(f"import circle: {' -> '.join([*path[path.index(name) :], name])}")
        if name in done:
            return
        for target in sorted(GRAPH.get(name, ())):
            visit(target, [*path, name])
        done.add(name)

    for name in MODULES:
        visit(name, [])


def code_lines(source: str) -> int:
    """Lines holding code: no blank lines, comments or docstrings."""
    tree = ast.parse(source)
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and body:
            first = body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    lines: set[int] = set()
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_modules_stay_small() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert sizes["value"] < VALUE_LINES
    assert {name: n for name, n in sizes.items() if n > MODULE_LINES} == {}


def test_the_engine_keeps_its_line_budget() -> None:
    total = sum(code_lines(MODULES[name].read_text(encoding="utf-8")) for name in ENGINE)
    assert total <= ENGINE_BUDGET, f"the engine has {total} lines of code, over its budget of {ENGINE_BUDGET}"


def test_the_reference_chain_rule_is_short() -> None:
    import inspect

    from nanograd import backprop

    assert code_lines(inspect.getsource(backprop.backward)) <= REFERENCE_BUDGET
