"""What each fast path of the eager engine saves: the GPT and moons steps with one switched off at a time.

Run ``python benchmarks/fast_paths.py`` (a few minutes). The fast paths are the ones
``nanograd/fast_backprop.py`` and ``nanograd/value.py`` describe at their top:

* ``reference backprop`` -- ``set_fast_backprop(False)``: walk, loop and rules all the reference's;
* ``reference walk``     -- the fast loop after the reference's walk (``topological_order``, a reset);
* ``add and mul only``   -- the fast walk, and a loop that writes out add and mul only
  (every other node through ``backprop.chain_rule_at``);
* ``no inline forward``  -- ``Value.__add__`` and ``__mul__`` build their node with ``new_node``.

Each variant runs in its own process, on the workloads of ``gpt_step.py`` (one word,
cycle collector on) and ``moons_step.py`` (micrograd's demo step). The table gives each
step's median and how much slower it is than with every fast path on: a fast path is
kept only if switching it off costs about 10% or more on one of them. Results are
written to ``benchmarks/results/fast_paths.{md,json}``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import gpt_step
import moons_step
from _common import in_children, write_results

import nanograd
from nanograd import backprop, fast_backprop, value
from nanograd.float_math import FLOAT_GRAD_MATH
from nanograd.node import Node


def _reference_walk(root: Node) -> list[Node]:
    order = [node for node in backprop.topological_order(root) if node.op is not None]
    for node in order:
        node.grad = 0.0
    return order


def _add_and_mul_only(nodes: list[Node]) -> None:
    add, mul = nanograd.OPS["add"], nanograd.OPS["mul"]
    for node in nodes:
        op, a, b = node._operation, node._a, node._b
        if op is add and type(a) is not float:
            a.grad += node.grad
            if type(b) is not float:
                b.grad += node.grad
        elif op is mul and type(a) is not float:
            if type(b) is float:
                a.grad += node.grad * b
            else:
                a.grad += node.grad * b.data
                b.grad += node.grad * a.data
        else:
            backprop.chain_rule_at(node, FLOAT_GRAD_MATH)


def _no_inline_forward() -> None:
    add, mul = nanograd.OPS["add"], nanograd.OPS["mul"]

    def __add__(self: value.Value, other: value.Operand) -> value.Value:
        other = other if type(other) is float or isinstance(other, value.Value) else value.as_literal(other, add)
        return value.new_node(self.data + value.number_of(other), add, self, other)

    def __mul__(self: value.Value, other: value.Operand) -> value.Value:
        other = other if type(other) is float or isinstance(other, value.Value) else value.as_literal(other, mul)
        return value.new_node(self.data * value.number_of(other), mul, self, other)

    value.Value.__add__ = value.Value.__radd__ = __add__  # type: ignore[method-assign,assignment]
    value.Value.__mul__ = value.Value.__rmul__ = __mul__  # type: ignore[method-assign,assignment]


VARIANTS: dict[str, Callable[[], None]] = {
    "all fast paths": lambda: None,
    "reference backprop": lambda: nanograd.set_fast_backprop(False),
    "reference walk": lambda: setattr(fast_backprop, "backprop_order", _reference_walk),
    "add and mul only": lambda: setattr(fast_backprop, "chain_rule", _add_and_mul_only),
    "no inline forward": _no_inline_forward,
}


def measure(variant: str) -> dict:
    VARIANTS[variant]()
    gpt = gpt_step.measure("nanograd/on")
    moons = statistics.median(moons_step.scalar_step_times("nanograd"))
    return {"step_s": gpt["step_s"], "gpt_s": gpt["step_s"], "gpt_loss": gpt["last_loss"], "moons_s": moons}


def report(results: dict[str, dict]) -> str:
    base = results["all fast paths"]
    rows = ["| variant | GPT step (ms) | vs all | moons step (ms) | vs all |", "|---|---|---|---|---|"]
    for variant, r in results.items():
        assert r["gpt_loss"] == base["gpt_loss"], f"{variant} changed the loss"
        rows.append(
            f"| {variant} | {r['gpt_s'] * 1e3:.1f} | {r['gpt_s'] / base['gpt_s']:.2f}x | "
            f"{r['moons_s'] * 1e3:.1f} | {r['moons_s'] / base['moons_s']:.2f}x |"
        )
    return "\n".join(rows) + "\n\nEach row switches one fast path off; the losses are the same in every row."


def main() -> None:
    results = in_children(__file__, list(VARIANTS), measure)
    if results is not None:
        write_results("fast_paths", report(results), results)


if __name__ == "__main__":
    main()
