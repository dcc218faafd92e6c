"""Differential fuzz: random graphs run compiled on every backend against the eager engine.

Each graph is a random program over every op of the table, ``power(k)``, a registered op,
``where`` on a comparison, ``take`` by an index argument, weighted sums over captured
weights and dot products of computed numbers (what the lowering turns into matrix
products), with literals on either side of binary ops, captured parameters, two scalar
arguments, a vector argument and an index argument. Its inputs mix ordinary numbers with
special ones (+-0, +-inf, NaN, huge and tiny). The function returns every node no later
node uses (a vector output); its last node alone is the scalar version whose mean is
differentiated.

For every graph and backend:

* on the samples where the eager engine gives numbers, ``map`` equals eager, each
  sample's Jacobian from ``evaluate(gradients=True)`` equals eager's gradients, and the
  parameter gradients of ``mean`` equal eager's. Equal means: the same inf or NaN, or
  within 1e-9 of the magnitudes involved (the value; the chain rule's contributions for a
  gradient), plus, where a graph is ill-conditioned, 16 times how far eager's own number
  moves when every node is nudged by a few ulps (compiled sums run in another order, and
  numpy's tanh or exp may differ from the math module's in the last bit). Both kinds are
  counted;
* on each sample where the eager engine raises, the compiled call raises one of eager's
  errors (counted when it is another, met first), or the error was in a value that no
  output uses (a select decided while tracing), and the compiled numbers are the eager
  engine's on the traced graph.

Fixed seeds; ``NANOGRAD_COMPILE_FUZZ_GRAPHS`` (default 1000) and ``NANOGRAD_COMPILE_FUZZ_SEED``
run a campaign. The test asserts its counts (``pytest -s`` prints them).
"""

from __future__ import annotations

import math
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import nanograd
from nanograd import OPS, Value, take, topological_order, where
from nanograd.compiler.eager import leaves_for, run_eagerly
from nanograd.float_math import FLOAT_GRAD_MATH

np = pytest.importorskip("numpy")
pytest.importorskip("torch")

GRAPHS = int(os.environ.get("NANOGRAD_COMPILE_FUZZ_GRAPHS", "1000"))
BACKENDS = ("python", "numpy", "torch")
SPECIALS = (0.0, -0.0, math.inf, -math.inf, math.nan, 1e300, -1e300, 1e-300, 5e-324)
NICE = (1.0, -1.0, 2.0, 0.5, -3.0, 0.25, 1.5)
POWERS = (0, 1, 2, 3, -1, 0.5, -0.5, 2.5)
SAMPLES = 6
VECTOR = 3
PARAMS = 4
INDEX_SIZE = 3
#: What the eager engine raises for bad numbers (its documented errors).
EAGER_ERRORS = (ArithmeticError, LookupError, ValueError)
#: What the campaign saw (asserted at the end).
SEEN: Counter[str] = Counter()


@dataclass(frozen=True)
class Step:
    """One node of a random program: ``kind`` applied to earlier nodes or literals."""

    kind: str  # an op name, "power", "where>", "where>=", "take"
    operands: tuple[Any, ...]  # ("node", i) or ("literal", x)
    param: float | None = None


def number(rng: random.Random, special: float) -> float:
    roll = rng.random()
    if roll < special:
        return rng.choice(SPECIALS)
    if roll < 0.6:
        return rng.choice(NICE)
    return rng.uniform(-3, 3)


def program(rng: random.Random, table: list[str], leaves: int) -> list[Step]:
    """A random program over ``leaves`` leaf nodes (arguments and parameters)."""
    steps: list[Step] = []

    def operand(literal_ok: bool = True) -> tuple[str, Any]:
        if literal_ok and rng.random() < 0.2:
            return "literal", number(rng, 0.2)
        return "node", rng.randrange(leaves + len(steps))

    for _ in range(rng.randint(2, 12)):
        kind = rng.choice(table)
        if kind == "power":
            steps.append(Step("power", (operand(False),), rng.choice(POWERS)))
        elif kind in ("where>", "where>="):
            steps.append(Step(kind, (operand(False), operand(), operand(), operand())))
        elif kind == "take":
            steps.append(Step("take", tuple(operand() for _ in range(INDEX_SIZE))))
        elif kind == "weighted sum":  # b + w0 * x0 + ... over captured weights: a Linear step
            terms = rng.randint(1, 4)
            weights = tuple(("node", leaves - 1 - rng.randrange(PARAMS)) for _ in range(terms))
            steps.append(Step(kind, (operand(), *weights, *(operand(False) for _ in range(terms)))))
        elif kind == "dot":  # sum(x * y) of computed numbers: a Contract step
            terms = rng.randint(1, 4)
            steps.append(Step(kind, tuple(operand(False) for _ in range(2 * terms))))
        else:
            arity = OPS[kind].arity
            operands = [operand(arity == 2) for _ in range(arity)]
            if arity == 2 and all(kind == "literal" for kind, _ in operands):
                operands[rng.randrange(2)] = operand(False)
            steps.append(Step(kind, tuple(operands)))
    return steps


#: The relative change each node gets in the perturbed eager run (about 4 ulps).
NUDGE = 2.0**-50


def build(steps: list[Step], leaves: list[Value], index: Value, nudge: bool = False) -> list[Value]:
    """Run ``steps`` on Values (or tracers): the nodes, leaves first.

    With ``nudge`` the number of every new node is multiplied by 1 +- NUDGE as it is made
    (eagerly only: what later nodes and its own rule read): how much the results move then
    is how ill-conditioned the graph is where it is evaluated.
    """
    nodes: list[Any] = list(leaves)
    signs = random.Random(len(steps))

    def get(o: tuple[str, Any]) -> Any:
        return nodes[o[1]] if o[0] == "node" else o[1]

    for step in steps:
        xs = [get(o) for o in step.operands]
        if step.kind == "power":
            nodes.append(xs[0] ** step.param)
        elif step.kind == "where>":
            nodes.append(where(xs[0] > xs[1], xs[2], xs[3]))
        elif step.kind == "where>=":
            nodes.append(where(xs[0] >= xs[1], xs[2], xs[3]))
        elif step.kind == "take":
            nodes.append(take(xs, index))
        elif step.kind == "weighted sum":
            bias, rest = xs[0], xs[1:]
            half = len(rest) // 2
            nodes.append(sum((w * x for w, x in zip(rest[:half], rest[half:])), bias))
        elif step.kind == "dot":
            half = len(xs) // 2
            nodes.append(sum(x * y for x, y in zip(xs[:half], xs[half:])))
        else:
            nodes.append(OPS[step.kind](*xs))
        made = nodes[-1]
        if nudge and made.op is not None and all(made is not x for x in xs):  # a new node, not a choice
            made.data *= 1.0 + signs.choice((-1, 1)) * NUDGE  # later nodes and its own rule see it
    return nodes


def sinks(steps: list[Step], count: int) -> list[int]:
    """The nodes no later step uses (the leaves among them too: an unused argument is an output)."""
    used = {o[1] for s in steps for o in s.operands if o[0] == "node"}
    return [i for i in range(count) if i not in used]


def same(a: float, b: float, tol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol


def eager_sample(fn: Callable[..., list[Value]], params: list[Value], sample: list[Any], nudged: Any = None) -> Any:
    """Outputs and per-output gradients w.r.t. the arguments, with their tolerances, or
    (where, exception) if eager raises.

    A tolerance is 1e-9 of the magnitudes involved (of the value; of the chain rule's
    contributions for a gradient) plus 16 times how far the number moves when every node is
    nudged by a few ulps (``nudged``: ``fn`` built that way): sums run in another order when
    compiled, and an ill-conditioned graph amplifies that, in any engine.
    """
    a, b, v, i = Value(sample[0]), Value(sample[1]), [Value(x) for x in sample[2]], Value(sample[3])
    leaves = [a, b, *v, i]
    try:
        outputs = fn(a, b, v, i)
    except EAGER_ERRORS as e:
        return "forward", e
    try:
        jacobian, sizes = [], []
        for out in outputs:
            for x in leaves + params:
                x.grad = 0.0
            out.backpropagate()
            jacobian.append([x.grad for x in leaves])
            sizes.append(contribution_sizes(out, leaves))
    except EAGER_ERRORS as e:
        return "backward", e
    finally:
        for p in params:
            p.grad = 0.0
    values = [o.data for o in outputs]
    moved = eager_sample(nudged, params, sample) if nudged is not None else None
    if moved is None or isinstance(moved[1], Exception):
        spread_values, spread_grads = [0.0] * len(values), [[0.0] * len(leaves) for _ in values]
    else:
        spread_values = [spread(x, y) for x, y in zip(values, moved[0])]
        spread_grads = [[spread(x, y) for x, y in zip(row, other)] for row, other in zip(jacobian, moved[1])]
    value_tol = [1e-9 * abs(x) + 16 * d + 1e-300 for x, d in zip(values, spread_values)]
    grad_tol = [[1e-9 * s + 16 * d + 1e-300 for s, d in zip(row, ds)] for row, ds in zip(sizes, spread_grads)]
    plain_tol = [[1e-9 * s + 1e-300 for s in row] for row in sizes]
    return values, jacobian, (value_tol, grad_tol, plain_tol, [1e-9 * abs(x) + 1e-300 for x in values])


def spread(x: float, y: float) -> float:
    """How far a number moved when the graph was nudged (0 where either is not finite)."""
    return abs(x - y) if math.isfinite(x) and math.isfinite(y) else 0.0


def contribution_sizes(root: Value, leaves: list[Value]) -> list[float]:
    """Per leaf, the sum of the magnitudes of the chain rule's contributions to its gradient.

    Gradients add contributions up in another order when compiled: cancellation is allowed
    for (``x / x`` has the gradients 1/x and -x/x**2, which leave a rounding residue), not
    hidden. Non-finite contributions count 0 (their gradients are compared exactly).
    """
    size = {root: 1.0}
    for node in reversed(topological_order(root)):
        if node.op is None or node not in size:
            continue
        numbers = [x.data if isinstance(x, Value) else x for x in node.operands]
        for x, share in zip(node.operands, node.op.vjp(FLOAT_GRAD_MATH, size[node], node.data, *numbers)):
            if isinstance(x, Value) and isinstance(share, float) and math.isfinite(share):
                size[x] = size.get(x, 0.0) + abs(share)
    return [size.get(x, 0.0) for x in leaves]


def check_graph(rng: random.Random, table: list[str]) -> None:
    params = [Value(number(rng, 0.15)) for _ in range(PARAMS)]
    leaves_count = 2 + VECTOR + 1 + len(params)
    steps = program(rng, table, leaves_count)
    outputs = sinks(steps, leaves_count + len(steps))

    def fn(a: Value, b: Value, v: list[Value], i: Value) -> list[Value]:
        nodes = build(steps, [a, b, *v, i, *params], i)
        return [nodes[o] for o in outputs]

    def last(a: Value, b: Value, v: list[Value], i: Value) -> Value:
        return fn(a, b, v, i)[-1]

    def nudged(a: Value, b: Value, v: list[Value], i: Value) -> list[Value]:
        nodes = build(steps, [a, b, *v, i, *params], i, nudge=True)
        return [nodes[o] for o in outputs]

    samples = []
    for _ in range(SAMPLES):
        index = float(rng.randrange(INDEX_SIZE)) if rng.random() < 0.9 else rng.choice((3.0, 1.5, -1.0, math.nan))
        samples.append([number(rng, 0.15), number(rng, 0.15), [number(rng, 0.15) for _ in range(VECTOR)], index])
    results = [eager_sample(fn, params, s, nudged) for s in samples]
    good = [s for s, r in zip(samples, results) if not isinstance(r[1], Exception)]
    bad = [(s, *r) for s, r in zip(samples, results) if isinstance(r[1], Exception)]
    SEEN["graphs"] += 1
    SEEN["samples eager gives numbers"] += len(good)
    SEEN["samples eager raises"] += len(bad)
    SEEN.update(f"op {s.kind}" for s in steps)
    SEEN["special inputs"] += sum(1 for s in samples for x in [s[0], s[1], *s[2]] if x in SPECIALS or math.isnan(x))
    columns = [list(c) for c in zip(*good)] if good else []
    eager_mean = None
    if good:
        terms = [last(Value(s[0]), Value(s[1]), [Value(x) for x in s[2]], Value(s[3])) for s in good]
        try:
            total = sum(terms, Value(0.0)) * (1.0 / len(terms))
            total.backpropagate()
            eager_mean = (total.data, [p.grad for p in params], contribution_sizes(total, params))
        except EAGER_ERRORS:
            eager_mean = None
        for p in params:
            p.grad = 0.0
    for backend in BACKENDS:
        f = nanograd.compile(fn, backend=backend)
        if good:
            out, (ga, gb, gv, gi) = f.evaluate(*columns, gradients=True)
            out, ga, gb, gv, gi = (np.asarray(x, dtype=float) for x in (out, ga, gb, gv, gi))
            for n, r in enumerate(results_good(results)):
                values, jacobian, (value_tol, grad_tol, plain_tol, plain_value_tol) = r
                for o, (c, e) in enumerate(zip(out[n], values)):
                    assert same(c, e, value_tol[o]), (backend, "value", n, o, c, e, steps)
                    SEEN["numbers within 1e-9" if same(c, e, plain_value_tol[o]) else "numbers within the nudge"] += 1
                    compiled = [ga[n, o], gb[n, o], *gv[n, o], gi[n, o]]
                    for k, (cg, eg) in enumerate(zip(compiled, jacobian[o])):
                        assert same(cg, eg, grad_tol[o][k]), (backend, "gradient", n, o, k, cg, eg, steps)
                        plain = same(cg, eg, plain_tol[o][k])
                        SEEN["numbers within 1e-9" if plain else "numbers within the nudge"] += 1
            SEEN[f"{backend} samples compared"] += len(good)
            if eager_mean is not None:
                g = nanograd.compile(last, backend=backend)
                loss = g.mean(*columns)
                loss.backpropagate()
                grads = [p.grad for p in params]
                for p in params:
                    p.grad = 0.0
                assert same(loss.data, eager_mean[0], 1e-9 * abs(eager_mean[0]) + 1e-300), (backend, "mean", steps)
                for cg, eg, size in zip(grads, eager_mean[1], eager_mean[2]):
                    assert same(cg, eg, 1e-9 * size + 1e-300), (backend, "mean gradient", cg, eg, steps)
                SEEN[f"{backend} means compared"] += 1
        for sample, where_, error in bad[:1]:
            check_error(f, sample, where_, error, backend)


def check_error(f: Any, sample: list[Any], where_: str, error: Exception, backend: str) -> None:
    """Where eager raises, the compiled call raises an eager error too, or the error was in dead code.

    An op on captured numbers alone runs while tracing, so its error can come before the one
    eager meets first in the sample: either way it is an error eager raises. A select whose
    condition compares captured numbers is decided while tracing; the branch it does not
    choose is computed eagerly but reaches no output, and the graph leaves it out: then the
    compiled numbers must be the eager engine's on the traced graph.
    """
    batch = [[x] for x in sample]
    try:
        outputs, _ = f.evaluate(*batch, gradients=where_ == "backward")
    except EAGER_ERRORS as raised:
        SEEN[f"{backend} {where_} errors compared"] += 1
        if type(raised) is type(error) and str(raised) == str(error):
            SEEN[f"{backend} errors the same"] += 1
            return
        assert raised_while_tracing(raised), (backend, "another error at run time", raised, error)
        SEEN[f"{backend} errors another eager error, met while tracing"] += 1
        return
    compiled = f._last
    args = leaves_for(compiled.graph, sample)
    replayed = [v.data for v in run_eagerly(compiled.graph, compiled.params, args)]
    assert all(same(float(c), e, 1e-9 * abs(e) + 1e-300) for c, e in zip(np.asarray(outputs)[0], replayed)), (
        backend,
        "eager raised",
        error,
    )
    SEEN[f"{backend} eager errors in values no output uses"] += 1


def raised_while_tracing(error: BaseException) -> bool:
    """Whether ``error`` came from the traced function's call while tracing (an op on captured numbers)."""
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(os.path.join("compiler", "trace.py")):
            return True
        tb = tb.tb_next
    return False


def results_good(results: list[Any]) -> list[Any]:
    return [r for r in results if not isinstance(r[1], Exception)]


def test_compiled_equals_eager_on_random_graphs(restore_op_table: None) -> None:
    nanograd.register_op(
        "fuzz_softsign",
        "softsign",
        1,
        lambda m, x: x / (1 + m.abs(x)),
        lambda m, g, out, x: (g / ((1 + m.abs(x)) * (1 + m.abs(x))),),  # no float **: it raises on overflow
    )
    table = [*OPS, "power", "where>", "where>=", "take", "weighted sum", "dot"]
    rng = random.Random(int(os.environ.get("NANOGRAD_COMPILE_FUZZ_SEED", "18")))
    for _ in range(GRAPHS):
        check_graph(rng, table)
    print(dict(SEEN))
    assert SEEN["graphs"] == GRAPHS
    assert all(SEEN[f"op {name}"] > 0 for name in table), [n for n in table if not SEEN[f"op {n}"]]
    for backend in BACKENDS:
        assert SEEN[f"{backend} samples compared"] == SEEN["samples eager gives numbers"]
        assert SEEN[f"{backend} forward errors compared"] > 0 and SEEN[f"{backend} means compared"] > 0
    assert SEEN["special inputs"] > 0 and SEEN["samples eager gives numbers"] > SEEN["samples eager raises"]
    assert SEEN["numbers within the nudge"] < 1e-3 * SEEN["numbers within 1e-9"]  # the exception, not the rule
