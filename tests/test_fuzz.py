"""Random graphs over every op of the table, with fan-out and special values, against PyTorch float64.

Hypothesis builds a graph: a few leaves (ordinary numbers and special ones: 0, -0,
subnormals, +-1e308, +-inf, NaN), then a list of steps, each an op of ``nanograd.OPS``
or ``power(k)`` applied to earlier nodes picked at random (so nodes are reused and
fan out). The same graph is built in nanograd (through ``Value``'s operators and
methods) and in torch (float64), and the two must agree:

* every value, exactly for inf/NaN and to 1e-12 otherwise (the libraries' ``exp``,
  ``sin``, ... may differ in the last bit, and torch may flush a subnormal result to 0;
  torch's node is then nudged to nanograd's value,
  so that both backward passes see the same numbers);
* every leaf gradient, to 1e-9 of the sum of the magnitudes of its contributions
  (gradients add up contributions in a different order; cancellation is allowed
  for, not hidden);
* where nanograd raises, it is by a documented rule: in the forward pass a
  ``ValueError``/``ZeroDivisionError``/``OverflowError`` only where torch's result is
  inf or NaN (the node is then left out and the graph goes on); backpropagation never
  raises (an infinite local derivative, ``sqrt`` or ``x ** 0.5`` at 0, is inf as in torch).
* Where torch's gradient is inf or NaN and nanograd's is not (or is the other infinity),
  the gradient is recomputed exactly (mpmath, 200 bits, no overflow) from the same vjp
  rules; nanograd must equal that, rounded: torch's formula over- or underflowed in
  between (``-g * x / (y * y)`` with ``y = 1e-200``). These cases are counted, and so
  are graphs where the exact gradient itself leaves float64's range on the way (``(1 / x)
  ** -1`` at ``x = 1e-200`` passes a gradient of 1e400): there no float64 engine can be
  right, and the two may disagree.

CI runs ``NANOGRAD_FUZZ_EXAMPLES`` (default 300) examples from a fixed seed; set it higher
(and ``NANOGRAD_FUZZ_SEED`` for a different stream) for a campaign. The test counts the
graphs by outcome, prints the counts (``pytest -s``) and asserts them: every example ran,
each ended in a known outcome, and most of them agree outright.
"""

from __future__ import annotations

import math
import os
from collections import Counter

import pytest

from nanograd import OPS, Value
from nanograd.backprop import VALUE_MATH
from nanograd.ops import Op, power

hypothesis = pytest.importorskip("hypothesis")
torch = pytest.importorskip("torch")
mpmath = pytest.importorskip("mpmath")
np = pytest.importorskip("numpy")
from hypothesis import given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nanograd.pytorch import TORCH_MATH  # noqa: E402

EXAMPLES = int(os.environ.get("NANOGRAD_FUZZ_EXAMPLES", "300"))
#: CI's stream (hypothesis's seed) reaches every outcome the docstring documents but the rarest
#: (a gradient beyond float64), which the test then asserts; a campaign sets another seed.
SEED = int(os.environ.get("NANOGRAD_FUZZ_SEED", "1"))
SPECIALS = (0.0, -0.0, 5e-324, -5e-324, 1e-200, 1e308, -1e308, math.inf, -math.inf, math.nan)
POWERS = (0, 1, 2, 3, -1, -2, 0.5, -0.5, 2.5, math.nan, math.inf, -math.inf)
TABLE: list[Op] = [*OPS.values(), *(power(k) for k in POWERS)]
#: The outcomes ``check_graph`` reports.
OUTCOMES = {
    "agree",
    "forward error (documented)",
    "no op",
    "torch inf/NaN, nanograd exact",
    "a gradient beyond float64 in between",
}

numbers = st.one_of(
    st.sampled_from(SPECIALS),
    st.floats(-4, 4),
    st.floats(allow_nan=True, allow_infinity=True),
)
graphs = st.tuples(
    st.lists(numbers, min_size=1, max_size=4),
    st.lists(
        st.tuples(st.integers(0, len(TABLE) - 1), st.integers(0, 99), st.integers(0, 99)), min_size=1, max_size=10
    ),
)


def same(a: float, b: float, tol: float = 0.0) -> bool:
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return abs(a - b) <= tol


def apply_value(op: Op, xs: list[Value]) -> Value:
    return xs[0] ** op.param if op.param is not None else op.forward(VALUE_MATH, *xs)


def apply_torch(op: Op, xs: list[torch.Tensor]) -> torch.Tensor:
    return torch.pow(xs[0], op.param) if op.param is not None else op.forward(TORCH_MATH, *xs)


# -- exact backward pass (mpmath), used only where torch gives inf/NaN and nanograd does not --------------


def _ieee(f: str, *xs: object) -> mpmath.mpf:
    with np.errstate(all="ignore"):
        return mpmath.mpf(float(getattr(np, f)(*(np.float64(float(x)) for x in xs))))


def _finite(*xs: object) -> bool:
    return all(mpmath.isfinite(x) for x in xs)


def _mp_pow(x: mpmath.mpf, y: mpmath.mpf) -> mpmath.mpf:
    return mpmath.power(x, y) if _finite(x, y) and x != 0 else _ieee("power", x, y)


MP_MATH = type(
    "MpMath",
    (),
    {
        "sin": staticmethod(lambda x: mpmath.sin(x) if _finite(x) else _ieee("sin", x)),
        "cos": staticmethod(lambda x: mpmath.cos(x) if _finite(x) else _ieee("cos", x)),
        "sign": staticmethod(lambda x: mpmath.mpf(0) if mpmath.isnan(x) else mpmath.sign(x)),
        "abs": staticmethod(abs),
        "pow": staticmethod(_mp_pow),
        "xlogy": staticmethod(lambda x, y: 0 if x == 0 else x * mpmath.log(y) if y > 0 else mpmath.nan),
        "where": staticmethod(lambda c, a, b: a if c else b),
        "div": staticmethod(lambda x, y: x / y if y != 0 else _ieee("divide", x, y)),
    },
)


def exact_grads(root: Value, leaves: list[Value]) -> tuple[list[float], list[float], bool]:
    """Leaf gradients (and sums of |contributions|) in exact arithmetic from the vjp rules, and
    whether some gradient or local derivative on the way lies outside float64's normal range
    (no float64 engine can then be expected to get the leaves' gradients right)."""
    from nanograd import topological_order

    with mpmath.workprec(200):
        grad = {id(root): mpmath.mpf(1)}
        size = {id(root): mpmath.mpf(1)}
        local: list[mpmath.mpf] = []
        for node in reversed(topological_order(root)):
            if node.op is None:
                continue
            xs = [mpmath.mpf(x.data) for x in node.inputs]
            out = mpmath.mpf(node.data)
            g, s = grad.get(id(node), mpmath.mpf(0)), size.get(id(node), mpmath.mpf(0))
            for x, dg, ds in zip(node.inputs, node.op.vjp(MP_MATH, g, out, *xs), node.op.vjp(MP_MATH, s, out, *xs)):
                grad[id(x)] = grad.get(id(x), 0) + dg
                size[id(x)] = size.get(id(x), 0) + abs(ds)
            local.extend(node.op.vjp(MP_MATH, mpmath.mpf(1), out, *xs))  # the local derivatives
        out_of_range = any(
            mpmath.isfinite(g) and g != 0 and not 2.3e-308 < abs(g) < 1.7e308 for g in [*grad.values(), *local]
        )
        grads = [float(grad.get(id(x), 0)) for x in leaves]
        return grads, [float(size.get(id(x), 0)) for x in leaves], out_of_range


def check_graph(leaves_in: list[float], steps: list[tuple[int, int, int]]) -> str:
    """Build, run and compare one graph; returns the outcome (for the campaign's counts)."""
    leaves = [Value(x) for x in leaves_in]
    tleaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves_in]
    nodes, tnodes = list(leaves), list(tleaves)
    outcome = "agree"
    for i, j, k in steps:
        op = TABLE[i]
        picks = [j % len(nodes), k % len(nodes)][: op.arity]
        t = apply_torch(op, [tnodes[p] for p in picks])
        try:
            v = apply_value(op, [nodes[p] for p in picks])
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            fractional = "fractional power" in str(e)  # a negative base, -inf too (torch: inf or 0)
            assert fractional or not math.isfinite(t.item()), f"{op.name} raised {e!r} where torch gives {t.item()!r}"
            outcome = "forward error (documented)"
            continue
        assert same(v.data, t.item(), 1e-12 * abs(t.item()) + 1e-300), f"{op.name}: {v.data!r} vs torch {t.item()!r}"
        if math.isfinite(v.data) and v.data != t.item():
            t = t + (v.data - t.detach())  # the same numbers downstream
        nodes.append(v)
        tnodes.append(t)
    root, troot = nodes[-1], tnodes[-1]
    if root.op is None:
        return "no op"
    tgrads = [0.0 if g is None else g.item() for g in torch.autograd.grad(troot, tleaves, allow_unused=True)]
    root.backpropagate()  # never raises: an infinite derivative is inf, as in torch
    exact, sizes, out_of_range = exact_grads(root, leaves)
    for i, (leaf, tg) in enumerate(zip(leaves, tgrads)):
        if same(leaf.grad, tg, 1e-9 * sizes[i] + 1e-300):  # 1e-300: the two round differently near underflow
            continue
        if not math.isfinite(tg) and same(leaf.grad, exact[i], 1e-9 * sizes[i]):
            outcome = "torch inf/NaN, nanograd exact"
            continue
        if out_of_range:  # e.g. (1 / x) ** -1 at x = 1e-200: a gradient of 1e400 in between
            outcome = "a gradient beyond float64 in between"
            continue
        raise AssertionError(f"leaf {i}: nanograd {leaf.grad!r}, torch {tg!r}, exact {exact[i]!r}")
    return outcome


def test_random_graphs_match_torch() -> None:
    seen: Counter[str] = Counter()

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None)
    @given(graphs)
    def campaign(graph: tuple[list[float], list[tuple[int, int, int]]]) -> None:
        seen[check_graph(*graph)] += 1

    campaign()
    print(dict(seen))
    assert sum(seen.values()) == EXAMPLES and set(seen) <= OUTCOMES
    assert seen["agree"] >= EXAMPLES // 2  # the special cases are there, but not the whole stream
    assert seen["forward error (documented)"] >= EXAMPLES // 20  # the special values do reach the ops
    if "NANOGRAD_FUZZ_SEED" not in os.environ and EXAMPLES >= 300:
        assert seen["no op"] and seen["torch inf/NaN, nanograd exact"]
