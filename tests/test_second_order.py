"""Second derivatives (``create_graph=True``) on random graphs with special values, against PyTorch float64.

The graphs are those of ``tests/test_fuzz.py`` (every op of the table, fan-out, leaves
such as 0, -0, 1e-200, +-1e308, +-inf and NaN). For each one, every first derivative
and every second derivative (the Hessian, by differentiating each gradient's graph)
is compared with ``torch.autograd.grad(create_graph=True)``:

* backpropagation with ``create_graph=True`` never raises (the rules evaluated on
  Values follow IEEE-754, as the rules on floats do);
* the numbers agree, exactly for inf/NaN and to 1e-9 of the magnitudes involved;
* where they do not, torch's number is inf or NaN (a ``0 * inf`` inside its formula)
  and nanograd's equals its own gradient graph differentiated exactly (mpmath, 200
  bits), or the graph passes through -0.0, whose infinite slopes nanograd signs by
  the numerator (``sqrt``'s slope at -0.0 is +inf, torch's -inf). Both are counted.
"""

from __future__ import annotations

import math
import os
from collections import Counter

import pytest
from test_fuzz import EXAMPLES, TABLE, apply_torch, apply_value, exact_grads, graphs, same

from nanograd import Value, grad

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402


def hessian_rows(root: Value, leaves: list[Value]) -> tuple[list[Value], list[list[float]]]:
    """The gradient Values (a graph each) and the second derivatives, by nanograd."""
    first = grad(root, leaves, create_graph=True)
    return first, [grad(g, leaves) for g in first]


def torch_rows(troot: torch.Tensor, tleaves: list[torch.Tensor]) -> tuple[list[float], list[list[float]]]:
    first = torch.autograd.grad(troot, tleaves, create_graph=True, allow_unused=True)
    rows = []
    for g in first:
        if g is None or not g.requires_grad:
            rows.append([0.0] * len(tleaves))
            continue
        row = torch.autograd.grad(g, tleaves, retain_graph=True, allow_unused=True)
        rows.append([0.0 if r is None else r.item() for r in row])
    return [0.0 if g is None else g.item() for g in first], rows


def check_second_order(leaves_in: list[float], steps: list[tuple[int, int, int]]) -> str:
    leaves = [Value(x) for x in leaves_in]
    tleaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves_in]
    nodes, tnodes = list(leaves), list(tleaves)
    for i, j, k in steps:
        op = TABLE[i]
        picks = [j % len(nodes), k % len(nodes)][: op.arity]
        try:
            v = apply_value(op, [nodes[p] for p in picks])
        except (ValueError, ZeroDivisionError, OverflowError):  # a documented forward error (tests/test_fuzz.py)
            continue
        t = apply_torch(op, [tnodes[p] for p in picks])
        if math.isfinite(v.data) and v.data != t.item():
            t = t + (v.data - t.detach())  # the same numbers downstream
        nodes.append(v)
        tnodes.append(t)
    root, troot = nodes[-1], tnodes[-1]
    if root.op is None:
        return "no op"
    first, rows = hessian_rows(root, leaves)  # never raises
    tfirst, trows = torch_rows(troot, tleaves)
    outcome = "agree"
    for i, g in enumerate(first):
        exact, sizes, _ = exact_grads(g, leaves)
        scale = 1e-9 * (abs(g.data) + abs(tfirst[i])) + 1e-300
        if not same(g.data, tfirst[i], scale) and not (math.isnan(tfirst[i]) or _through_negative_zero(nodes)):
            raise AssertionError(f"d/d(leaf {i}): nanograd {g.data!r}, torch {tfirst[i]!r}")
        for j, (h, th) in enumerate(zip(rows[i], trows[i])):
            if same(h, th, 1e-9 * sizes[j] + 1e-300):
                continue
            if not math.isfinite(th) and same(h, exact[j], 1e-9 * sizes[j] + 1e-300):
                outcome = "torch inf/NaN, nanograd exact"
            elif _through_negative_zero(nodes):
                outcome = "an infinite slope at -0.0"
            else:
                raise AssertionError(f"d2/d(leaf {i})d(leaf {j}): nanograd {h!r}, torch {th!r}, exact {exact[j]!r}")
    return outcome


def _through_negative_zero(nodes: list[Value]) -> bool:
    return any(v.data == 0 and math.copysign(1.0, v.data) < 0 for v in nodes)


def test_second_derivatives_match_torch() -> None:
    seen: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize="NANOGRAD_FUZZ_SEED" not in os.environ, database=None)
    @given(graphs)
    def check(graph: tuple[list[float], list[tuple[int, int, int]]]) -> None:
        seen[check_second_order(*graph)] += 1

    check()
    assert sum(seen.values()) == EXAMPLES
    assert seen["agree"] >= 0.8 * EXAMPLES, seen
    explained = ("no op", "torch inf/NaN, nanograd exact", "an infinite slope at -0.0")
    assert seen["agree"] + sum(seen[outcome] for outcome in explained) == EXAMPLES, seen
