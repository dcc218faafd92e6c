"""The lowering: weighted sums of any layout, dot products and takes become array steps.

The plan step counts asserted here are the ones reported for the demo MLP, a 3-class MLP,
a bias-less linear stack and one word of examples/gpt.py's loss (counts of steps, not
timings: they do not depend on the machine).
"""

from __future__ import annotations

import random
from collections import Counter
from types import ModuleType

import pytest
from conftest import ROOT, load_module

import nanograd
from nanograd import Value
from nanograd.compiler import lowering
from nanograd.losses import cross_entropy, l2_penalty, softmax
from nanograd.nn import MLP

np = pytest.importorskip("numpy")


def kinds(f: nanograd.compiler.CompiledFunction) -> Counter[str]:
    return Counter(type(s).__name__ for s in f.plan.steps)


def weighted(W: list[list[Value]], x: list[Value]) -> list[Value]:
    """GPT's linear: ``sum(w * x)`` without a bias."""
    return [sum(wi * xi for wi, xi in zip(row, x)) for row in W]  # type: ignore[misc]


def matrix(rows: int, cols: int, rng: random.Random) -> list[list[Value]]:
    return [[Value(rng.gauss(0, 1)) for _ in range(cols)] for _ in range(rows)]


def test_the_demo_mlp_is_fourteen_steps() -> None:
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    params = model.parameters()
    f = nanograd.compile(lambda x, label: (1 + -label * model(x)).relu() + l2_penalty(params, 1e-4))
    f.map(np.zeros((2, 2)), np.ones(2))
    assert len(f.plan.steps) == 14
    shapes = [(len(s.weights), len(s.weights[0])) for s in f.plan.steps if isinstance(s, lowering.Linear)]
    assert shapes == [(16, 2), (1, 337), (16, 16), (1, 16)]  # the L2 penalty too: the parameters as inputs


def test_a_three_class_mlp_with_cross_entropy_is_twenty_steps() -> None:
    random.seed(0)
    model = MLP(2, [16, 16, 3])
    f = nanograd.compile(lambda x, t: cross_entropy([model(x)], [t]))
    f.map(np.zeros((2, 2)), np.zeros(2))
    assert len(f.plan.steps) == 20 and kinds(f)["Linear"] == 3 and kinds(f)["Take"] == 1


def test_a_bias_less_linear_stack_is_matrix_products() -> None:
    rng = random.Random(1)
    W1, W2, W3 = matrix(8, 4, rng), matrix(8, 8, rng), matrix(3, 8, rng)
    f = nanograd.compile(lambda x: weighted(W3, [v.relu() for v in weighted(W2, [v.tanh() for v in weighted(W1, x)])]))
    X = np.random.default_rng(0).normal(size=(6, 4))
    out = f.map(X)
    for n in range(6):
        xs = [Value(v) for v in X[n]]
        eager = weighted(W3, [v.relu() for v in weighted(W2, [v.tanh() for v in weighted(W1, xs)])])
        assert np.allclose(out[n], [v.data for v in eager], rtol=1e-12, atol=1e-15)
    assert len(f.plan.steps) == 8 and kinds(f) == Counter(Argument=1, Leaves=2, Linear=3, Map=2)


@pytest.mark.parametrize(
    "neuron",
    [
        lambda w, b, x: b + w[0] * x[0] + w[1] * x[1] + w[2] * x[2],  # micrograd's order
        lambda w, b, x: x[0] * w[0] + x[1] * w[1] + x[2] * w[2] + b,  # weights on the right, bias last
        lambda w, b, x: (w[0] * x[0] + b) + (x[1] * w[1] + w[2] * x[2]),  # a tree
        lambda w, b, x: w[2] * x[2] + (b + w[0] * x[0]) + w[1] * x[1],
    ],
)
def test_a_weighted_sum_of_any_layout_is_a_linear_step(neuron: object) -> None:
    rng = random.Random(2)
    layer = [([Value(rng.gauss(0, 1)) for _ in range(3)], Value(rng.gauss(0, 1))) for _ in range(5)]
    f = nanograd.compile(lambda x: [neuron(w, b, x).tanh() for w, b in layer])  # type: ignore[operator]
    X = np.random.default_rng(3).normal(size=(4, 3))
    out = f.map(X)
    eager = [[neuron(w, b, [Value(v) for v in x]).tanh().data for w, b in layer] for x in X]  # type: ignore[operator]
    assert np.allclose(out, eager, rtol=1e-12)
    assert kinds(f) == Counter(Argument=1, Leaves=2, Linear=1, Map=1)


def test_dot_products_of_computed_vectors_are_one_step() -> None:
    """Attention's scores q . k over every key are one contraction, and their softmax a few maps."""
    rng = random.Random(4)
    Wq, Wk = matrix(4, 3, rng), matrix(4, 3, rng)

    def scores(xs: list[Value]) -> list[Value]:
        q = weighted(Wq, xs[0:3])
        keys = [weighted(Wk, xs[i : i + 3]) for i in range(0, 9, 3)]
        return softmax([sum(a * b for a, b in zip(q, k)) for k in keys])  # type: ignore[misc]

    f = nanograd.compile(scores)
    X = np.random.default_rng(5).normal(size=(3, 9))
    out = f.map(X)
    for n in range(3):
        assert np.allclose(out[n], [v.data for v in scores([Value(v) for v in X[n]])], rtol=1e-12)
    dots = [s for s in f.plan.steps if isinstance(s, lowering.Contract) and s.products == 4]
    assert len(dots) == 1 and f.plan.widths[f.plan.steps.index(dots[0])] == 3


@pytest.fixture(scope="module")
def gpt() -> ModuleType:
    return load_module(ROOT / "examples" / "gpt.py")


def test_one_word_of_the_gpt_compiles_with_token_ids_as_an_index_argument(gpt: ModuleType) -> None:
    tokenizer = gpt.Tokenizer(gpt.load_words())
    model = gpt.GPT(tokenizer.vocab_size, seed=42)
    ids = tokenizer.encode("emma")
    eager = model.loss(ids)
    eager.backpropagate()
    expected = [p.grad for p in model.parameters()]
    for p in model.parameters():
        p.grad = 0.0

    static = nanograd.compile(lambda: model.loss(ids))  # ids fixed: parameters only, softmax maximum as ops
    assert static().data == pytest.approx(eager.data, rel=1e-12)
    assert len(static.plan.steps) == 147

    f = nanograd.compile(model.loss)  # the example as it is: take and maximum when the ids are traced
    loss = f.mean(np.array([ids], dtype=float))
    loss.backpropagate()
    assert loss.data == pytest.approx(eager.data, rel=1e-9)
    assert [p.grad for p in model.parameters()] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert len(f.plan.steps) == 144 and kinds(f)["Take"] >= 2
