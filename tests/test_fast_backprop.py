"""The fast path of backprop (``nanograd.fast_backprop``) against the reference and the op table, bit for bit."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys

import pytest
from conftest import ROOT, seed_example
from test_ops import OP_CASES, all_points

import nanograd
from nanograd import Value, backprop, fast_backprop, topological_order
from nanograd.fast_backprop import backprop_order, chain_rule
from nanograd.float_math import FLOAT_GRAD_MATH
from nanograd.generic_ops import make_node


@pytest.mark.parametrize("name", OP_CASES)
def test_the_fast_loop_adds_exactly_what_the_tables_rule_gives(name: str) -> None:
    """The chain-rule loop (its written-out add and mul included) against each op's vjp, bit for bit.

    Every operand shape is tried: all Values, and for a binary op a literal on either side.
    """
    shapes = [(True,)] if len(OP_CASES[name].domain) == 1 else [(True, True), (True, False), (False, True)]
    for point in all_points(name):
        for shape in shapes:
            operands = [Value(p) if is_value else p for p, is_value in zip(point, shape)]
            try:
                out = OP_CASES[name].expr(*operands)
            except (ArithmeticError, ValueError):  # outside the op's domain with this operand shape
                continue
            numbers = [x.data if isinstance(x, Value) else x for x in out.operands]
            for g in (1.0, -0.3, 7e-300, math.inf):
                for x in operands:
                    if isinstance(x, Value):
                        x.grad = 0.25
                out.grad = g
                chain_rule([out])
                expected = out.op.vjp(FLOAT_GRAD_MATH, g, out.data, *numbers)
                for x, rule in zip(out.operands, expected):
                    if isinstance(x, Value):
                        assert x.grad == 0.25 + rule or (math.isnan(x.grad) and math.isnan(0.25 + rule))


def test_backprops_own_walk_is_topological_order_without_leaves_and_zeroes_gradients() -> None:
    """``backprop_order`` marks visited nodes by their gradient; its order must be topological_order's."""
    rng = random.Random(7)
    total = nanograd.Op("total", "Σ", 3, lambda m, *v: sum(v), lambda m, g, out, *v: (g, g, g))
    for _ in range(60):
        nodes = [Value(rng.uniform(-2, 2)) for _ in range(rng.randint(1, 4))]
        for _ in range(rng.randint(1, 40)):
            x, y, z = (rng.choice(nodes) for _ in range(3))
            kind = rng.randrange(5)
            if kind == 0:
                nodes.append(x * y)  # x * x too, when the choices agree
            elif kind == 1:
                nodes.append(x + 1.5 if rng.random() < 0.5 else 2.0 - x)
            elif kind == 2:
                nodes.append(x.tanh())
            elif kind == 3:
                nodes.append(make_node(total, (x, y, z), x.data + y.data + z.data))
            else:
                nodes.append(Value(x.data, (x, y), "custom"))
        root = nodes[-1]
        for v in nodes:
            v.grad = rng.choice((1.5, Value(2.0), 0.0))
        leaf_grads = [(v, v.grad) for v in topological_order(root) if v.op is None]
        order = backprop_order(root)
        assert order == [v for v in topological_order(root) if v.op is not None]
        assert all(v.grad == 0.0 and type(v.grad) is float for v in order)
        assert all(v.grad is g for v, g in leaf_grads)
    assert backprop_order(Value(1.0)) == []


SPECIALS = (0.0, -0.0, 1e-200, 1e300, -1e300, math.inf, -math.inf, math.nan)
POWERS = (0, 1, 2, 3, -1, 0.5, -0.5, 2.5)


def random_graph(rng: random.Random) -> tuple[list[Value], Value]:
    """Leaves, then steps of every op of the table (literals on either side, n-ary and custom nodes)."""
    leaves = [Value(rng.choice(SPECIALS) if rng.random() < 0.2 else rng.uniform(-3, 3)) for _ in range(4)]
    nodes = list(leaves)
    table = [*nanograd.OPS.values()]
    total = nanograd.Op("total", "Σ", 3, lambda m, *v: sum(v), lambda m, g, out, *v: (g, 2 * g, -g))
    for _ in range(rng.randint(1, 30)):
        x, y, z = (rng.choice(nodes) for _ in range(3))
        literal = rng.choice((2.0, -0.5, 0.0))
        kind = rng.randrange(6)
        try:
            if kind == 0:
                op = rng.choice(table)
                operands = [x, y][: op.arity]
                node = op(*operands)
            elif kind == 1:  # a literal on either side
                op = rng.choice([op for op in table if op.arity == 2])
                node = op(x, literal) if rng.random() < 0.5 else op(literal, x)
            elif kind == 2:
                node = x ** rng.choice(POWERS)
            elif kind == 3:
                node = make_node(total, (x, y, z), x.data + 2 * y.data - z.data)
            elif kind == 4:  # micrograd's custom-op idiom
                node = Value(2.0 * x.data, (x,), "double")

                def _backward(x: Value = x, node: Value = node) -> None:
                    x.grad += 2.0 * node.grad

                node._backward = _backward
            else:
                node = x * y + literal
        except (ArithmeticError, ValueError):  # outside the op's domain: try another step
            continue
        nodes.append(node)
    return leaves, nodes[-1]


def gradients(root: Value, run) -> list[float]:
    for v in topological_order(root):
        v.grad = 0.0
    run(root)
    return [v.grad for v in topological_order(root)]


def same_bits(a: list[float], b: list[float]) -> bool:
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b)) and len(a) == len(b)


def test_random_graphs_give_bit_identical_gradients_on_both_paths() -> None:
    rng = random.Random(2026)
    counts = {"graphs": 0, "nodes": 0, "non-finite gradients": 0}
    for _ in range(400):
        _, root = random_graph(rng)
        if root.op is None:
            continue
        fast = gradients(root, fast_backprop.backward)
        reference = gradients(root, backprop.backward)
        assert same_bits(fast, reference), (fast, reference)
        counts["graphs"] += 1
        counts["nodes"] += len(fast)
        counts["non-finite gradients"] += sum(not math.isfinite(g) for g in fast)
    assert counts["graphs"] >= 350 and counts["nodes"] >= 2000 and counts["non-finite gradients"] >= 100, counts


def test_the_switch_runs_everything_through_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(root: Value) -> None:
        raise AssertionError("the fast path ran")

    monkeypatch.setattr(fast_backprop, "backward", fail)
    nanograd.set_fast_backprop(False)
    try:
        a, b, g = seed_example()
        g.backpropagate()
        assert (f"{a.grad:.4f}", f"{b.grad:.4f}") == ("138.8338", "645.5773")
    finally:
        nanograd.set_fast_backprop(True)
    with pytest.raises(AssertionError, match="the fast path ran"):
        g.backpropagate()


def test_the_environment_variable_switches_the_fast_path_off() -> None:
    code = "import nanograd.fast_backprop as f; print(f.enabled)"
    for setting, expected in (("0", "False"), ("1", "True")):
        env = {**os.environ, "NANOGRAD_FAST_BACKPROP": setting, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected
