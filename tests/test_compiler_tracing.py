"""Honest tracing: what a traced function may and may not do, and the tools for data-dependent choices.

Python that reads a traced number raises TracedNumberError at trace time, naming the
argument; where, maximum, minimum and take keep the choice in the graph and give the eager
engine's numbers on every backend; static arguments are traced once per value; functions
may return several Values; the graph and the plan print.
"""

from __future__ import annotations

import math
import random
import re

import pytest

import nanograd
from nanograd import TracedNumberError, Value, maximum, minimum, take, where
from nanograd.nn import MLP

np = pytest.importorskip("numpy")
pytest.importorskip("torch")
BACKENDS = ["python", "numpy", "torch"]


def close(a: float, b: float, rel: float = 1e-12) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=rel * 1e-3)


def floats(out: object) -> list[float]:
    return [float(v) for v in (out.tolist() if hasattr(out, "tolist") else out)]  # type: ignore[attr-defined]


# -- Python on a traced number raises, naming the argument and what to use instead ------------------

REFUSED = [
    (
        "if",
        lambda x, y: x if y > 0 else -x,
        r"bool\(\) of a comparison of traced values.*argument 1 \(y\).*nanograd\.where",
    ),
    ("and", lambda x, y: x * ((x > 0) and (y > 0)), r"bool\(\) of a comparison.*argument 0 \(x\)"),
    ("chained <", lambda x, y: x if 0 < y < 1 else y, r"bool\(\) of a comparison.*argument 1 \(y\)"),
    ("max()", lambda x, y: max(x, y), r"bool\(\) of a comparison.*nanograd\.where.*maximum"),
    ("sorted()", lambda x, y: sorted([x, y])[0], r"bool\(\) of a comparison.*argument"),
    ("==", lambda x, y: x * ((x > 0) == (y > 0)), r"== or != of a comparison of traced values"),
    ("bool()", lambda x, y: x if y else -x, r"bool\(\) of a traced value, which depends on argument 1 \(y\)"),
    (".data", lambda x, y: x * y.data, r"reading \.data.*argument 1 \(y\).*static_argnums=\(1,\)"),
    (".of", lambda x, y: x * y.of, r"reading \.of.*argument 1 \(y\)"),
    ("float()", lambda x, y: x * float(y), r"float\(\).*argument 1"),
    ("math.exp", lambda x, y: x * math.exp(y), r"float\(\).*x\.exp\(\)"),
    ("int()", lambda x, y: x * int(y), r"int\(\).*nanograd\.take"),
    ("index", lambda x, y: [x, -x][y], r"a traced value used as an index.*nanograd\.take\(values, i\)"),
    ("range", lambda x, y: sum((x for _ in range(y)), x), r"used as an index.*argument 1"),
    ("round()", lambda x, y: x * round(y), r"round\(\).*argument 1"),
    ("f-string", lambda x, y: x * len(f"{y}"), r"formatting.*f\.map"),
    ("format spec", lambda x, y: x * len(f"{y:.2f}"), r"formatting.*argument 1"),
    ("~", lambda x, y: where(~(y > 0), x, y), r"~ and not cannot be traced"),
    ("backpropagate", lambda x, y: (x.backpropagate(), y)[1], r"backpropagate\(\).*outside the function"),
]


@pytest.mark.parametrize(("what", "fn", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_python_that_reads_a_traced_number_raises(what: str, fn: object, message: str) -> None:
    f = nanograd.compile(fn)  # type: ignore[arg-type]
    with pytest.raises(TracedNumberError, match=message):
        f.map([1.0, 2.0], [0.5, -0.5])
    assert f._cache == {}  # a failed trace caches nothing


def test_the_tracer_overrides_everything_a_value_does() -> None:
    """Every operator, method and property of Value: a new one would otherwise read a number."""
    from nanograd.compiler import Tracer

    slots_and_harmless = {"_a", "_b", "_operation", "grad", "label", "__pos__", "__array_ufunc__", "_set_operands"}
    inherited = [
        name
        for name in dir(Value)
        if name not in dir(object) and getattr(Tracer, name) is getattr(Value, name) and name not in slots_and_harmless
    ]
    assert inherited == []


def test_the_error_names_the_elements_of_a_vector_argument() -> None:
    f = nanograd.compile(lambda v: v[0] if v[2] > v[1] else -v[0])
    with pytest.raises(TracedNumberError, match=r"argument 0 \(v\) elements 1, 2"):
        f([1.0, 2.0, 3.0])


def test_captured_numbers_stay_readable() -> None:
    w = Value(2.0)
    f = nanograd.compile(lambda x: x * w if w.data > 0 else x)  # read once, when tracing
    assert f(3.0).data == 6.0


def test_values_computed_before_the_call_are_captured_by_reference() -> None:
    w = Value(2.0)
    before = w * 3.0  # its number is read at every call, as eagerly: not recomputed from w
    f = nanograd.compile(lambda x: x * before + (w * w))  # w * w is computed inside: it follows w
    assert f(1.0).data == 10.0
    w.data = 1.0
    assert f(1.0).data == 7.0
    assert (1.0 * before + w * w).data == 7.0


def test_a_traced_value_that_escapes_its_function_refuses_to_record() -> None:
    kept = []
    f = nanograd.compile(lambda x: kept.append(x) or x * 2)
    f(1.0)
    with pytest.raises(TracedNumberError, match="used after its function returned"):
        kept[0] + 1


def test_a_function_that_builds_another_graph_at_each_call_is_refused() -> None:
    calls = []

    def fn(x: Value) -> Value:
        calls.append(1)
        return x * 2 if len(calls) % 2 else x.exp()

    with pytest.raises(ValueError, match="two calls of the function while tracing recorded different operations"):
        nanograd.compile(fn)(1.0)


def test_an_op_that_is_not_in_the_table_is_refused() -> None:
    w = Value(2.0)

    def fn(x: Value) -> Value:
        custom = Value(w.data * 2, (w,), "twice")  # micrograd's custom op: its rule is code
        return x * custom

    with pytest.raises(TypeError, match="comes from op 'custom', which is not in the op table"):
        nanograd.compile(fn)(1.0)


def test_a_compiled_mean_inside_a_traced_function_is_refused() -> None:
    w = Value(2.0)
    inner = nanograd.compile(lambda x: w * x)
    outer = nanograd.compile(lambda x: x * inner.mean([1.0, 2.0]))
    with pytest.raises(TracedNumberError, match=r"mean\(\) inside a traced function"):
        outer(1.0)


def test_registered_ops_trace(restore_op_table: None) -> None:
    softplus = nanograd.register_op(
        "test_softplus", "softplus", 1, lambda m, x: m.log(1 + m.exp(x)), lambda m, g, out, x: (g * m.sigmoid(x),)
    )
    w = Value(0.5)
    f = nanograd.compile(lambda x: softplus(w * x) * 2)
    loss = f.mean([1.0, -2.0, 3.0])
    loss.backpropagate()
    compiled, w.grad = w.grad, 0.0
    eager = sum(softplus(w * x) * 2 for x in (1.0, -2.0, 3.0)) * (1.0 / 3)
    eager.backpropagate()
    assert close(loss.data, eager.data) and close(compiled, w.grad)
    assert "test_softplus" in str(f.graph)


# -- where, maximum, minimum, take: eager numbers on every backend --------------------------------

W = Value(0.75)


def leaky(x: Value) -> Value:
    return where(x > 0, x, 0.1 * x)


def clipped(x: Value, y: Value) -> Value:
    return minimum(maximum(x * W, -1.0), y)


def combined(x: Value, y: Value) -> Value:
    inside = (x > -1) & (x <= 1)
    either = (y >= 2) | (x < y)
    return where(inside, x * W, y) + where(either, y, x) + (x > 0) * 3 + sum(v > 0 for v in (x, y, x - y))


def picked(x: Value, label: Value) -> Value:
    return take([x * W, x + 1.0, W, 2.5], label) * x


def row(token: Value, x: Value) -> Value:
    table = [[W, 1.0], [x, W * 2], [-x, 3.0]]
    a, b = take(table, token)
    return a * b + x


CHOICES = {
    "where": (leaky, [[-2.0, 0.0, 3.0, math.nan, -0.0]]),
    "maximum/minimum": (clipped, [[-3.0, 0.5, 4.0, 1.0], [0.0, 2.0, 0.1, 1.0 * 0.75]]),
    "& | and arithmetic": (combined, [[-2.0, 0.5, 1.0, 3.0, 0.0], [2.0, 0.0, 5.0, -1.0, 0.0]]),
    "take": (picked, [[1.5, -2.0, 0.0, 3.0], [0.0, 1.0, 2.0, 3.0]]),
    "take a row": (row, [[0.0, 1.0, 2.0, 2.0], [1.5, -2.0, 0.5, 0.0]]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", CHOICES)
def test_choices_in_the_graph_give_the_eager_numbers(name: str, backend: str) -> None:
    fn, columns = CHOICES[name]
    f = nanograd.compile(fn, backend=backend)
    samples = list(zip(*columns))
    eager = [fn(*(Value(x) for x in s)) for s in samples]
    assert all(close(a, e.data) for a, e in zip(floats(f.map(*columns)), eager))
    _, grads = f.evaluate(*columns, gradients=True)
    for s, sample in enumerate(samples):
        xs = [Value(x) for x in sample]
        fn(*xs).backpropagate()
        assert all(close(floats(g)[s], x.grad) for g, x in zip(grads, xs))
    W.grad = 0.0
    f.mean(*columns).backpropagate()
    compiled, W.grad = W.grad, 0.0
    (sum(eager) * (1.0 / len(eager))).backpropagate()
    assert close(compiled, W.grad, 1e-9)
    W.grad = 0.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("label", "error", "message"),
    [
        (4.0, IndexError, "index 4 is out of range for 4 values"),
        (1.5, ValueError, "whole number, got 1.5"),
        (math.nan, ValueError, "whole number, got nan"),
        (-1.0, IndexError, "index -1 is out of range"),
    ],
)
def test_a_bad_index_raises_the_eager_error(backend: str, label: float, error: type, message: str) -> None:
    f = nanograd.compile(picked, backend=backend)
    with pytest.raises(error, match=message):
        f.map([1.0, 2.0], [0.0, label])
    assert floats(f.map([1.0, 2.0], [0.0, 3.0])) == [0.75, 5.0]


def test_where_and_take_choose_eagerly() -> None:
    x = Value(2.0)
    assert where(x > 0, x, 0.0) is x and where(x < 0, x, 0.0).data == 0.0
    assert take([x, 3.0], 0) is x and take([[x, 1.0], [2.0, 3.0]], Value(1.0))[1].data == 3.0
    with pytest.raises(TypeError, match="the condition must be a comparison"):
        where(Value(1.0), x, 0.0)


# -- static arguments -------------------------------------------------------------------------------


def test_a_static_argument_is_python_traced_once_per_value() -> None:
    calls = []

    def power_sum(x: Value, n: int) -> Value:
        calls.append(n)
        return sum((x**k for k in range(1, n + 1)), Value(0.0))

    f = nanograd.compile(power_sum, static_argnums=(1,))
    assert f(2.0, 3).data == 14.0 and f(3.0, 3).data == 39.0
    assert calls == [3, 3]  # traced once (two calls) for n = 3
    assert floats(f.map([1.0, 2.0], 2)) == [2.0, 6.0] and calls == [3, 3, 2, 2]
    with pytest.raises(TypeError, match="static argument 1 must be hashable"):
        f(1.0, [3])


def test_the_trace_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nanograd.compiler, "MAX_TRACES", 2)
    f = nanograd.compile(lambda x, n: x * n, static_argnums=(1,))
    for n in (0, 1, 0, 2):  # 0 is used again, so 1 is the least recently used when 2 comes
        assert f(1.0, n).data == n
    assert [key[1] for key in f._cache] == [((1, 0),), ((1, 2),)]


# -- vector outputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_vector_outputs_map_evaluate_and_call(backend: str) -> None:
    random.seed(5)
    model = MLP(3, [4, 2])
    f = nanograd.compile(lambda x, s: [v * s for v in model(x)] + [s], backend=backend)
    X = np.random.default_rng(2).normal(size=(5, 3))
    S = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    out = np.asarray(f.map(X, S))
    assert out.shape == (5, 3)
    _, (jx, js) = f.evaluate(X, S, gradients=True)
    assert tuple(np.asarray(jx).shape) == (5, 3, 3) and tuple(np.asarray(js).shape) == (5, 3)
    for n in range(5):
        xs, s = [Value(x) for x in X[n]], Value(S[n])
        eager = [v * s for v in model(xs)] + [s]
        assert np.allclose(out[n], [v.data for v in eager], rtol=1e-12)
        for o, v in enumerate(eager):
            grads = nanograd.grad(v, [*xs, s])
            assert np.allclose(np.asarray(jx)[n, o], grads[:3], rtol=1e-12, atol=1e-15)
            assert close(float(np.asarray(js)[n, o]), grads[3])
    xs = [Value(x) for x in X[0]]
    called = f(xs, 2.0)
    assert isinstance(called, list) and len(called) == 3
    eager = [v * 2.0 for v in model(xs)]
    for v, e in zip(called, eager):
        assert nanograd.grad(v, xs) == pytest.approx(nanograd.grad(e, xs), rel=1e-12)
    with pytest.raises(ValueError, match="the function returns 3 Values; mean needs one"):
        f.mean(X, S)


# -- the printed graph and plan --------------------------------------------------------------------


def test_the_graph_prints_like_a_jaxpr() -> None:
    w = Value(0.5)
    f = nanograd.compile(lambda x, v: (w * x + v[1] ** 2).tanh() + take([x, w], v[0]))
    f(1.0, [0.0, 3.0])
    assert str(f.graph) == "\n".join(
        [
            "graph(x, v[2]) -> v9",
            "  inputs  v0 = x   v1 = v[0]   v2 = v[1]",
            "  params  v3 = p0",
            "v4 = mul v3 v0",
            "v5 = power[2] v2",
            "v6 = add v4 v5",
            "v7 = tanh v6",
            "v8 = take v1 [v0 v3]",
            "v9 = add v7 v8",
            "return v9",
        ]
    )
    g = nanograd.compile(lambda x: [where(x > 1.0, x, 2.0), x])
    g(0.0)
    text = str(g.graph)
    assert "v3 = where (v0 > v1) v0 v2" in text and text.endswith("return [v3 v0]")


def test_the_demo_plan_prints_its_array_steps() -> None:
    from nanograd.losses import l2_penalty

    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    params = model.parameters()
    f = nanograd.compile(lambda x, label: (1 + -label * model(x)).relu() + l2_penalty(params, 1e-4))
    f.map(np.zeros((3, 2)), np.ones(3))
    plan = str(f.plan)
    assert "r5 = linear r0 W[16x2] b" in plan and re.search(r"linear r\d+ W\[16x16\] b", plan)
    assert re.search(r"relu r\d+", plan) and plan.splitlines()[-1] == f"return r{len(f.plan.steps) - 1}[0]"
    ops = [n for n in f.graph.nodes if n.op not in ("arg", "param", "const")]
    assert sum(line.startswith("v") for line in str(f.graph).splitlines()) == len(ops)
