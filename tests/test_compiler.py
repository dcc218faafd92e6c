"""nanograd.compile against the eager engine: every op on every backend, training, JSON, errors."""

from __future__ import annotations

import copy
import json
import math
import pickle
import random

import pytest
from test_ops import OP_CASES, sample_points

import nanograd
from nanograd import Value
from nanograd.compiler import Graph, TracedNumberError, lowering
from nanograd.losses import l2_penalty
from nanograd.nn import MLP

np = pytest.importorskip("numpy")
BACKENDS = [
    "python",
    "numpy",
    pytest.param("torch", marks=pytest.mark.skipif(pytest.importorskip("torch") is None, reason="needs torch")),
]


def close(a: float, b: float, rel: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=rel * 1e-3)


def as_floats(out: object) -> list[float]:
    return [float(v) for v in (out.tolist() if hasattr(out, "tolist") else out)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", OP_CASES)
def test_every_op_matches_eager(name: str, backend: str) -> None:
    """Each op's inputs are captured p_i plus argument x_i: values and d/dp_i as eagerly."""
    case = OP_CASES[name]
    points = sample_points(name)
    params = [Value(x) for x in points[0]]
    fn = lambda *xs: case.expr(*(p + x for p, x in zip(params, xs)))
    offsets = [[x - p.data for x, p in zip(point, params)] for point in points]
    f = nanograd.compile(fn, backend=backend)

    # one sample: 1e-12
    out = f(*offsets[1])
    out.backpropagate()
    compiled = [p.grad for p in params]
    nanograd.zero_grad(params)
    expected = fn(*offsets[1])
    expected.backpropagate()
    assert close(out.data, expected.data, 1e-12)
    assert all(close(a, p.grad, 1e-12) for a, p in zip(compiled, params))

    # a batch: map, and mean with parameter gradients, 1e-9
    nanograd.zero_grad(params)
    columns = [np.array(c) for c in zip(*offsets)]
    assert all(close(a, fn(*o).data, 1e-12) for a, o in zip(as_floats(f.map(*columns)), offsets))
    f.mean(*columns).backpropagate()
    compiled = [p.grad for p in params]
    nanograd.zero_grad(params)
    (sum(fn(*o) for o in offsets) * (1.0 / len(offsets))).backpropagate()
    assert all(close(a, p.grad, 1e-9) for a, p in zip(compiled, params))


def make_model(seed: int = 1337) -> MLP:
    random.seed(seed)
    return MLP(2, [16, 16, 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_mlp_is_lowered_to_matrix_products_and_matches_eager(backend: str) -> None:
    model = make_model()
    X = np.random.default_rng(0).normal(size=(50, 2))
    y = np.sign(X[:, 0])
    f = nanograd.compile(lambda x, label: (1 + -label * model(x)).relu(), backend=backend)
    loss = f.mean(X, y) + nanograd.compile(lambda: l2_penalty(model.parameters(), 1e-4), backend=backend)()
    loss.backpropagate()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    eager = sum((1 + -yi * model(x.tolist())).relu() for x, yi in zip(X, y)) * (1.0 / len(X))
    eager = eager + l2_penalty(model.parameters(), 1e-4)
    eager.backpropagate()
    assert close(loss.data, eager.data, 1e-12)
    assert all(close(a, p.grad, 1e-9) for a, p in zip(grads, model.parameters()))
    if backend != "python":
        linears = [s for s in lowering.build_plan(f.graph).steps if isinstance(s, lowering.Linear)]
        assert [len(s.weights) for s in linears] == [16, 16, 1]


def test_moons_training_reproduces_the_eager_trajectory() -> None:
    pytest.importorskip("sklearn")
    from nanograd import demo

    X, y = demo.make_moons_data()
    eager = demo.train(demo.make_model(), X, y, steps=100, engine="eager")
    compiled = demo.train(demo.make_model(), X, y, steps=100, engine="compiled")
    assert all(close(a, b, 1e-9) for a, b in zip(compiled.loss, eager.loss))
    assert compiled.accuracy[-1] == 1.0


def test_parameters_are_read_at_every_call() -> None:
    w = Value(2.0)
    f = nanograd.compile(lambda x: w * x + 1)
    assert f(3.0).data == 7.0
    w.data = 5.0
    assert f(3.0).data == 16.0
    assert f.graph.n_params == 1
    assert [n.op for n in f.graph.nodes] == ["arg", "param", "mul", "const", "add"]


def test_retraces_once_per_argument_structure() -> None:
    calls = []

    def fn(x: Value | list[Value]) -> Value:
        calls.append(1)
        return sum(x) if isinstance(x, list) else x * 2

    f = nanograd.compile(fn)
    assert f(3.0).data == 6.0 and f(4.0).data == 8.0
    traced = len(calls)
    assert f([1.0, 2.0, 3.0]).data == 6.0
    assert f.graph.args == (3,) and len(calls) > traced
    assert f.map(np.array([1.0, 2.0])).tolist() == [2.0, 4.0]
    assert f.graph.args == (None,)


def test_control_flow_on_an_argument_raises_at_trace_time() -> None:
    f = nanograd.compile(lambda x: x * 2 if x.data > 0 else x.exp())
    with pytest.raises(TracedNumberError, match=r"reading \.data of a traced value.*argument 0 \(x\)"):
        f.map(np.array([1.0, -1.0]))
    assert nanograd.compile(lambda x: x * 2, check=True).map([1.0, -1.0]).tolist() == [2.0, -2.0]


@pytest.mark.parametrize(
    ("fn", "args", "error", "message"),
    [
        (lambda x: 1.0, ([1.0],), TypeError, "must return one Value, got float"),
        (lambda x: x, (["a"],), TypeError, "argument 0: expected a real number"),
        (lambda x: x, (np.zeros((2, 2, 2)),), ValueError, r"expected shape \(N,\) or \(N, k\), got \(2, 2, 2\)"),
        (lambda x, y: x, ([1.0], [1.0, 2.0]), ValueError, "different batch sizes"),
        (lambda x: x, ([],), ValueError, "the batch is empty"),
        (lambda x: x, ("abc",), TypeError, "expected a batch"),
    ],
)
def test_bad_batches_and_functions(fn: object, args: tuple, error: type, message: str) -> None:
    f = nanograd.compile(fn)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        f.map(*args)
    assert f._cache == {}  # a failed trace caches nothing


def test_a_captured_value_that_is_no_longer_a_float() -> None:
    w = Value(1.0, label="w")
    f = nanograd.compile(lambda x: w * x)
    f(1.0)
    w.data = "oops"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="captured Value 0 'w' holds 'oops' of type str, expected a float"):
        f(1.0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("fn", "x", "error"),
    [
        (lambda x: x.exp(), 1000.0, OverflowError),
        (lambda x: (x * 1e300) * x, 1e10, OverflowError),
        (lambda x: (x - 1).log(), 0.5, ValueError),
        (lambda x: 1 / (x - 1), 1.0, ZeroDivisionError),
    ],
)
def test_non_finite_results_raise_as_eagerly(backend: str, fn: object, x: float, error: type) -> None:
    with pytest.raises(error) as eager:
        fn(Value(x)).backpropagate()  # type: ignore[operator]
    f = nanograd.compile(fn, backend=backend)  # type: ignore[arg-type]
    f(2.0)  # trace on a harmless sample
    with pytest.raises(error) as compiled:
        f.mean([2.0, x])
    assert str(compiled.value) == str(eager.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_infinite_derivative_is_inf_as_eagerly(backend: str) -> None:
    w = Value(1.0)
    f = nanograd.compile(lambda x: (x - w).sqrt(), backend=backend)  # sqrt'(0) is inf
    f(2.0)  # trace on a harmless sample
    f.mean([2.0, 1.0]).backpropagate()
    assert w.grad == -math.inf


@pytest.mark.parametrize("backend", BACKENDS)
def test_infinite_inputs_follow_ieee(backend: str) -> None:
    f = nanograd.compile(lambda x: (x + 1).relu() * 2, backend=backend)
    assert as_floats(f.map([math.inf, -math.inf, 1.0])) == [math.inf, 0.0, 4.0]
    assert math.isnan(as_floats(f.map([math.nan]))[0])


def test_map_runs_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    model = make_model()
    f = nanograd.compile(model)
    X = np.random.default_rng(1).normal(size=(1000, 2))
    whole = f.map(X)
    monkeypatch.setattr(nanograd.compiler, "CHUNK_NUMBERS", 500)
    assert np.allclose(f.map(X), whole, rtol=1e-12, atol=0)
    loss = f.sum(X)
    assert close(loss.data, float(whole.sum()), 1e-12)


# -- the Graph as JSON -----------------------------------------------------------------------


def sample_graph() -> Graph:
    w = Value(0.5)
    f = nanograd.compile(lambda x, v: (w * x + v[1] ** 2).tanh())
    f(1.0, [2.0, 3.0])
    return f.graph


def test_json_round_trip() -> None:
    g = sample_graph()
    assert Graph.from_json(g.to_json()) == g
    assert [n.op for n in g.nodes][-2:] == ["add", "tanh"] and [n.param for n in g.nodes if n.op == "power"] == [2.0]
    assert json.loads(g.to_json())["args"] == [None, 2]


def first(d: dict, key: str, value: object = None) -> dict:
    """The first node of the graph dict ``d`` with ``key`` (equal to ``value``, if given)."""
    return next(n for n in d["nodes"] if key in n and value in (None, n[key]))


def edit(change: object) -> str:
    d = json.loads(sample_graph().to_json())
    change(d)  # type: ignore[operator]
    return json.dumps(d)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"format": 1, "format": 2}', "duplicate key 'format'"),
        (edit(lambda d: d.pop("params")), r"missing keys \['params'\]"),
        (edit(lambda d: d.update(extra=1)), r"unknown keys \['extra'\]"),
        (edit(lambda d: d.update(version=3)), "version 3"),
        (edit(lambda d: d.update(nodes=[])), "'nodes' is empty"),
        (edit(lambda d: d.update(args=[0])), "args.0. must be null or a positive integer"),
        (edit(lambda d: d["nodes"][-1].update(op="frobnicate")), "unknown op 'frobnicate'"),
        (edit(lambda d: d["nodes"][-1].update(op="exec")), "unknown op 'exec'"),
        (edit(lambda d: d["nodes"][-1].update(inputs=[0, 1])), "op 'tanh' takes 1 inputs, got 2"),
        (edit(lambda d: d["nodes"][-1].update(inputs=[99])), "node 6 input must be an integer >= 0 below 6, got 99"),
        (edit(lambda d: d["nodes"][-1].update(inputs=["0"])), "node 6 input must be an integer >= 0 below 6, got '0'"),
        (edit(lambda d: first(d, "op", "power").pop("param")), "needs its exponent"),
        (edit(lambda d: d["nodes"][-1].update(param=2.0)), "takes no param"),
        (edit(lambda d: first(d, "param").update(param=5)), "'param' must be an integer >= 0 below 1"),
        (edit(lambda d: first(d, "arg").update(arg=[2, 0])), "argument must be an integer >= 0 below 2"),
        (edit(lambda d: first(d, "arg").update(arg=[0, 1])), "element must be an integer >= 0 below 1"),
        (edit(lambda d: d["nodes"].append({"const": "1"})), "'const' must be a finite number"),
        (edit(lambda d: d["nodes"].append({"const": 1e999})), "non-finite number Infinity"),
        (edit(lambda d: d["nodes"].append({"const": 1.0, "op": "add"})), "unknown keys"),
        (edit(lambda d: d["nodes"].append([1])), "node 7 must be an object"),
    ],
)
def test_json_rejects_malformed_graphs(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Graph.from_json(text)


def test_a_graph_can_be_drawn() -> None:
    pytest.importorskip("graphviz")
    from nanograd.viz import draw_graph

    source = draw_graph(sample_graph()).source
    assert "tanh" in source and "**2" in source and "param 0" in source and "arg 1[1]" in source


def test_import_nanograd_loads_the_compiler_only_when_asked() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nanograd; before = 'nanograd.compiler' in sys.modules; "
        "f = nanograd.compile; print(before, 'nanograd.compiler' in sys.modules, f.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "nanograd.compiler"]


def _tanh_of_product(x, v):
    return (x * v[0] + v[1] ** 2).tanh()


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_compiled_function_pickles_and_deep_copies_without_its_traces(backend: str) -> None:
    f = nanograd.compile(_tanh_of_product, backend=backend, check=True)
    expected = f(0.5, [2.0, 3.0]).data
    for copied in (pickle.loads(pickle.dumps(f)), copy.deepcopy(f)):
        assert len(copied._cache) == 0 and copied._last is None and copied.check
        assert type(copied.backend) is type(f.backend) and copied.backend is not f.backend
        assert copied(0.5, [2.0, 3.0]).data == expected and copied.graph == f.graph


# -- the defects of issue 18, each fixed at its root on every backend ---------------------------


def mlp(seed: int, sizes: list[int], nin: int = 2) -> MLP:
    random.seed(seed)
    return MLP(nin, sizes)


def three_class_loss(model: MLP, x: list[Value], label: Value) -> Value:
    """Cross-entropy written the natural way: Python picks the logit of the label."""
    logits = model(x)
    top = max(v.data for v in logits)
    total = sum((v - top).exp() for v in logits)
    return -(logits[int(label.data)] - top - total.log())


def test_python_that_reads_a_traced_number_raises_instead_of_freezing() -> None:
    model = mlp(0, [8, 3])
    f = nanograd.compile(lambda x, label: three_class_loss(model, x, label))
    X = np.random.default_rng(0).normal(size=(20, 2))
    labels = np.arange(20) % 3
    with pytest.raises(TypeError, match=r"traced value, which depends on argument 0 \(x\)"):
        f.mean(X, labels)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_mlp_with_several_outputs_maps_to_a_row_per_sample(backend: str) -> None:
    model = mlp(1, [16, 3])
    X = np.random.default_rng(1).normal(size=(7, 2))
    out = np.asarray(nanograd.compile(model, backend=backend).map(X))
    assert out.shape == (7, 3)
    eager = [[v.data for v in model(x.tolist())] for x in X]
    assert np.allclose(out, eager, rtol=1e-12, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_output_that_does_not_depend_on_the_batch_is_one_per_sample(backend: str) -> None:
    w = Value(1.5)
    f = nanograd.compile(lambda x: w * 2, backend=backend)
    assert as_floats(f.map([1.0, 2.0, 3.0, 4.0])) == [3.0] * 4
    loss = f.mean([1.0, 2.0, 3.0, 4.0])
    loss.backpropagate()
    assert loss.data == 3.0 and w.grad == 2.0
    assert f.sum([1.0, 2.0, 3.0, 4.0]).data == 12.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_infinite_register_does_not_make_gradients_nan(backend: str) -> None:
    """Gradient buffers started as R * 0.0: NaN wherever R held inf (an unused infinite argument)."""
    w = Value(2.0)
    f = nanograd.compile(lambda x, unused: w * x, backend=backend)
    _, (gx, gu) = f.evaluate([1.0, 3.0], [math.inf, -math.inf], gradients=True)
    assert as_floats(gx) == [2.0, 2.0] and as_floats(gu) == [0.0, 0.0]
    f.mean([1.0, 3.0], [math.inf, 0.0]).backpropagate()
    assert w.grad == 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_mean_of_a_batch_holding_inf_is_inf_as_eagerly(backend: str) -> None:
    w = Value(2.0)
    f = nanograd.compile(lambda x: w * x, backend=backend)
    loss = f.mean([1.0, math.inf])
    loss.backpropagate()
    eager = (w * 1.0 + w * math.inf) * 0.5
    assert loss.data == eager.data == math.inf
    w.grad = 0.0
    eager.backpropagate()
    assert as_floats(f.map([1.0, math.inf])) == [2.0, math.inf]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("fn", "args", "error"),
    [
        (lambda x, y: x**0.5 + y, ([4.0, -math.inf], [1.0, 1.0]), ValueError),  # numpy: inf
        (lambda x, y: x / y, ([1.0, math.inf], [2.0, 0.0]), ZeroDivisionError),  # numpy: inf, with no flag raised
        (lambda x, y: x / y, ([1.0, math.nan], [2.0, 0.0]), ZeroDivisionError),
        (lambda x, y: (x - y).log(), ([3.0, -math.inf], [1.0, 1.0]), ValueError),
    ],
)
def test_where_eager_raises_on_non_finite_inputs_every_backend_raises(backend: str, fn, args, error) -> None:
    """The first sample is harmless: the second, where eager raises, must raise too."""
    with pytest.raises(error) as eager:
        fn(*(Value(a[1]) for a in args))
    with pytest.raises(error) as compiled:
        nanograd.compile(fn, backend=backend).map(*args)
    assert str(compiled.value) == str(eager.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_second_derivative_through_a_compiled_call_is_exact(backend: str) -> None:
    """It was silently 0: the compiled node's rule treated its Jacobian as a constant."""
    w = Value(0.7)
    f = nanograd.compile(lambda x: (w * x).tanh() * x, backend=backend)
    X = [0.5, -1.0, 2.0]
    (g,) = nanograd.grad(f.mean(X), [w], create_graph=True)
    (h,) = nanograd.grad(g, [w])
    (eager_g,) = nanograd.grad(sum((w * x).tanh() * x for x in X) * (1.0 / 3), [w], create_graph=True)
    (eager_h,) = nanograd.grad(eager_g, [w])
    assert close(g.data, eager_g.data, 1e-12) and close(h, eager_h, 1e-12) and h != 0.0
    x = Value(0.3)
    (gx,) = nanograd.grad(f(x), [x], create_graph=True)
    (hx,) = nanograd.grad(gx, [x])
    (ex,) = nanograd.grad((w * x).tanh() * x, [x], create_graph=True)
    assert close(hx, nanograd.grad(ex, [x])[0], 1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_accepts_a_nan_that_eager_also_gives(backend: str) -> None:
    f = nanograd.compile(lambda x: x * 2 + 1, backend=backend, check=True)
    out = as_floats(f.map([1.0, math.nan]))
    assert out[0] == 3.0 and math.isnan(out[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_deep_chain_lowers_and_runs_without_recursion(backend: str) -> None:
    def chain(x: Value) -> Value:
        for _ in range(3000):
            x = x.tanh()
        return x

    f = nanograd.compile(chain, backend=backend)
    assert close(as_floats(f.map([0.5]))[0], chain(Value(0.5)).data, 1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "batch", [np.array([1, 2, 3]), np.array([True, False, True]), [1, 2, 3], [True, False, True]], ids=str
)
def test_int_and_bool_batches_are_numbers_on_every_backend(backend: str, batch: object) -> None:
    f = nanograd.compile(lambda x: x * 2, backend=backend)
    assert as_floats(f.map(batch)) == [2.0 * float(b) for b in batch]  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", BACKENDS)
def test_complex_batches_are_refused_on_every_backend(backend: str) -> None:
    torch = pytest.importorskip("torch")
    f = nanograd.compile(lambda x: x * 2, backend=backend)
    for batch in (np.array([1 + 2j]), torch.tensor([1 + 2j]), [1 + 2j]):
        with pytest.raises(TypeError, match=r"argument 0: expected real numbers|expected a real number"):
            f.map(batch)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_compiled_function_inside_another_is_traced_inline(backend: str) -> None:
    w = Value(1.5)
    inner = nanograd.compile(lambda x: (w * x).tanh(), backend=backend)
    outer = nanograd.compile(lambda x: inner(x) * inner(2.0) + 1, backend=backend)
    loss = outer.mean([0.5, -1.0])
    loss.backpropagate()
    compiled_grad, w.grad = w.grad, 0.0
    eager = sum((w * x).tanh() * (w * 2.0).tanh() + 1 for x in (0.5, -1.0)) * 0.5
    eager.backpropagate()
    assert close(loss.data, eager.data, 1e-12) and close(compiled_grad, w.grad, 1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_map_returns_what_its_docstring_says(backend: str) -> None:
    torch = pytest.importorskip("torch")
    expected = torch.Tensor if backend == "torch" else np.ndarray
    w = Value(1.0)
    out = nanograd.compile(lambda x, y: w * x + y, backend=backend).map([1.0, 2.0], [3.0, 4.0])
    assert isinstance(out, expected) and tuple(out.shape) == (2,)
    vector = nanograd.compile(lambda x: [x * w, x + w, w], backend=backend).map([1.0, 2.0])
    assert isinstance(vector, expected) and tuple(vector.shape) == (2, 3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "fn",
    [lambda x, y: (x**y) ** 0, lambda x, y: nanograd.where(x < 0, x, x**y)],
    ids=["x ** 0 passes a zero on", "a select's unchosen branch gets nothing"],
)
def test_gradients_flow_as_eagerly_through_zeros_and_around_selects(backend: str, fn: object) -> None:
    """Eagerly x ** 0 passes a zero gradient on (then 0 * NaN from pow's rule at a negative base is
    NaN), and the branch a select did not choose is not part of the graph (so its NaN never shows)."""
    _, (gx, gy) = nanograd.compile(fn, backend=backend).evaluate([-1.2], [2.0], gradients=True)  # type: ignore[arg-type]
    x, y = Value(-1.2), Value(2.0)
    expected = nanograd.grad(fn(x, y), [x, y])  # type: ignore[operator]
    got = [as_floats(gx)[0], as_floats(gy)[0]]
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, expected)), (got, expected)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_gradients_add_up_across_chunks(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = mlp(6, [8, 3])
    f = nanograd.compile(lambda x: [v.tanh() for v in model(x)], backend=backend)
    loss = nanograd.compile(lambda x: sum(v.tanh() for v in model(x)), backend=backend)
    X = np.random.default_rng(4).normal(size=(1000, 2))
    whole = f.evaluate(X, gradients=True)
    whole_loss = loss.mean(X)
    whole_loss.backpropagate()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    monkeypatch.setattr(nanograd.compiler, "CHUNK_NUMBERS", 500)
    monkeypatch.setattr(nanograd.compiler, "MIN_CHUNK_ROWS", 64)
    assert len(f._chunks(f._last, f._columns([X]), 3)) > 4
    chunked = f.evaluate(X, gradients=True)
    assert np.allclose(np.asarray(chunked[0]), np.asarray(whole[0]), rtol=1e-12)
    assert np.allclose(np.asarray(chunked[1][0]), np.asarray(whole[1][0]), rtol=1e-12)
    chunked_loss = loss.mean(X)
    chunked_loss.backpropagate()
    assert close(chunked_loss.data, whole_loss.data, 1e-12)
    assert all(close(p.grad, g, 1e-9) for p, g in zip(model.parameters(), grads))


def test_check_catches_python_state_that_tracing_froze() -> None:
    calls: list[int] = []

    def fn(x: Value) -> Value:
        calls.append(1)
        return x * len(calls)  # a number from Python state: a constant of the trace

    with pytest.raises(ValueError, match=r"check=True\): sample 0 output 0: compiled 1.0, eager 3.0"):
        nanograd.compile(fn, check=True).map([1.0, 2.0])


def test_the_numpy_backend_asks_malloc_to_keep_freed_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("numpy")
    from nanograd.compiler import numpy_backend

    calls: list[tuple[int, int]] = []

    class FakeLibc:
        def mallopt(self, parameter: int, value: int) -> int:
            calls.append((parameter, value))
            return 1

    assert numpy_backend.keep_freed_memory(FakeLibc())
    assert calls == [(-3, 32 << 20), (-1, 256 << 20)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    assert not numpy_backend.keep_freed_memory(object())  # a C library without mallopt
    monkeypatch.setenv("NANOGRAD_MALLOC_TUNING", "0")
    assert not numpy_backend.keep_freed_memory(FakeLibc()) and len(calls) == 2
