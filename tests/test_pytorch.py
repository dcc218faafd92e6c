"""The PyTorch bridge: model export/import, the torch math namespace, wrapped functions."""

from __future__ import annotations

import copy
import io
import itertools
import math
import pickle
import random
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import nanograd  # noqa: E402
from nanograd import Value, no_grad  # noqa: E402
from nanograd.backprop import VALUE_MATH  # noqa: E402
from nanograd.neural_net import ACTIVATIONS, MLP, Layer, Module, Neuron  # noqa: E402
from nanograd.ops import OPS, power  # noqa: E402
from nanograd.pytorch import (  # noqa: E402
    TORCH_MATH,
    from_torch,
    function,
    to_torch,
    torch_reference,
    value_from_tensor,
    value_to_tensor,
)

TIGHT = {"rtol": 1e-12, "atol": 1e-14}
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def randomized(model: Module, seed: int = 0) -> Module:
    """``model`` with every parameter, biases included, drawn from U(-1, 1)."""
    rng = random.Random(seed)
    for p in model.parameters():
        p.data = rng.uniform(-1, 1)
    return model


def nanograd_outputs(model: Module, x: torch.Tensor) -> list[list[Value]]:
    """``model`` applied to each row of ``x``, as one list of output Values per sample."""
    outs = [model(row) for row in x.tolist()]
    return [out if isinstance(out, list) else [out] for out in outs]


def as_tensor(values: list, attr: str) -> torch.Tensor:
    """A float64 tensor of ``attr`` (``'data'`` or ``'grad'``) of a list or list of lists of Values."""
    numbers = [[getattr(v, attr) for v in x] if isinstance(x, list) else getattr(x, attr) for x in values]
    return torch.tensor(numbers, dtype=torch.float64)


def assert_same_function(model: Module, module: nn.Module, seed: int = 0) -> None:
    """``model`` and ``module`` agree on outputs and on parameter gradients of a weighted sum."""
    torch.manual_seed(seed)
    nin = module[0].in_features if isinstance(module, nn.Sequential) else module.in_features
    x = torch.randn(7, nin, dtype=torch.float64)
    expected = module(x)
    weights = torch.randn_like(expected)
    (expected * weights).sum().backward()

    outs = nanograd_outputs(model, x)
    model.zero_grad()
    sum(
        o * w for row, wrow in zip(outs, weights.tolist(), strict=True) for o, w in zip(row, wrow, strict=True)
    ).backpropagate()

    torch.testing.assert_close(as_tensor(outs, "data"), expected.detach(), **TIGHT)
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    layers = model.layers if isinstance(model, MLP) else [model]
    for linear, layer in zip(linears, layers, strict=True):
        neurons = layer.neurons if isinstance(layer, Layer) else [layer]
        torch.testing.assert_close(as_tensor([n.w for n in neurons], "grad"), linear.weight.grad, **TIGHT)
        torch.testing.assert_close(as_tensor([n.b for n in neurons], "grad"), linear.bias.grad, **TIGHT)


# -- models ------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(
    "make",
    [
        lambda a: MLP(3, [5, 4, 2], activation=a, output_activation=a),
        lambda a: MLP(3, [4, 1], activation=a),
        lambda a: Layer(3, 4, a),
        lambda a: Layer(3, 1, a),
        lambda a: Neuron(3, a),
    ],
    ids=["mlp", "mlp-one-output", "layer", "layer-one-neuron", "neuron"],
)
def test_exported_model_computes_the_same_function(make, activation: str) -> None:
    model = randomized(make(activation))
    module = to_torch(model)
    assert all(p.dtype == torch.float64 for p in module.parameters())
    assert_same_function(model, module)


def test_export_shapes_and_modules() -> None:
    module = to_torch(MLP(2, [3, 1], activation="tanh", output_activation="sigmoid"), dtype=torch.float32)
    assert [type(m) for m in module] == [nn.Linear, nn.Tanh, nn.Linear, nn.Sigmoid]
    assert module[0].weight.dtype == torch.float32
    assert module(torch.zeros(5, 2)).shape == (5, 1)
    assert module[0].weight.shape == (3, 2)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_imported_model_computes_the_same_function(activation: str) -> None:
    torch.manual_seed(1)
    act = {"relu": [nn.ReLU()], "tanh": [nn.Tanh()], "sigmoid": [nn.Sigmoid()], "linear": []}[activation]
    module = nn.Sequential(nn.Linear(3, 5), *act, nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2), *act).double()
    model = from_torch(module)
    assert [layer.activation for layer in model.layers] == [activation, "tanh", activation]
    assert_same_function(model, module)


def test_import_single_linear_gives_a_layer() -> None:
    linear = nn.Linear(3, 2, dtype=torch.float64)
    layer = from_torch(linear)
    assert isinstance(layer, Layer) and layer.activation == "linear"
    assert_same_function(layer, linear)


def test_import_linear_without_bias() -> None:
    module = nn.Sequential(nn.Linear(2, 3, bias=False, dtype=torch.float64), nn.ReLU())
    model = from_torch(module)
    assert all(n.b.data == 0.0 for n in model.layers[0].neurons)
    x = torch.randn(4, 2, dtype=torch.float64)
    assert as_tensor(nanograd_outputs(model, x), "data").equal(module(x).detach())


def test_round_trip_is_exact() -> None:
    model = randomized(MLP(3, [6, 5, 2], activation="sigmoid", output_activation="tanh"), seed=3)
    back = from_torch(to_torch(model))
    assert [p.data for p in back.parameters()] == [p.data for p in model.parameters()]
    assert [layer.activation for layer in back.layers] == [layer.activation for layer in model.layers]

    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 1)).double()
    again = to_torch(from_torch(module))
    assert [type(m) for m in again] == [type(m) for m in module]
    for (name, p), (name2, q) in zip(module.state_dict().items(), again.state_dict().items(), strict=True):
        assert name == name2 and p.equal(q)


@pytest.mark.parametrize(
    ("module", "named"),
    [
        (nn.Conv2d(1, 2, 3), "Conv2d(1, 2"),
        (nn.Sequential(nn.Linear(2, 3), nn.GELU()), "GELU"),
        (nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.Linear(3, 1)), "Dropout"),
        (nn.Sequential(nn.ReLU(), nn.Linear(2, 3)), "ReLU"),
        (nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Tanh()), "Tanh"),
        (nn.Sequential(), "Sequential"),
    ],
    ids=["conv", "gelu", "dropout", "activation-first", "two-activations", "empty"],
)
def test_unsupported_torch_layer_is_named(module: nn.Module, named: str) -> None:
    with pytest.raises(TypeError, match="from_torch: cannot represent .*" + re.escape(named)):
        from_torch(module)


class DoubledLinear(nn.Linear):
    """A Linear that computes something else: nanograd would copy the weights but not the doubling."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().forward(x)


@pytest.mark.parametrize(
    ("module", "named"),
    [
        (nn.Linear(2, 3, dtype=torch.complex128), "Linear(in_features=2, out_features=3, bias=True): complex"),
        (
            nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1, dtype=torch.complex64)),
            "Linear(in_features=3, out_features=1, bias=True): complex",
        ),
        (DoubledLinear(2, 3), "DoubledLinear(in_features=2, out_features=3, bias=True): DoubledLinear subclasses"),
        (nn.Sequential(nn.Linear(2, 2), nn.ReLU(), DoubledLinear(2, 1)), "DoubledLinear(in_features=2"),
    ],
    ids=["complex", "complex-in-sequential", "own-forward", "own-forward-in-sequential"],
)
def test_linear_layers_nanograd_cannot_represent_are_named(module: nn.Module, named: str) -> None:
    with pytest.raises(TypeError, match="from_torch: cannot represent torch layer " + re.escape(named)):
        from_torch(module)


def _double(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    return 2 * output


def _negate_input(module: nn.Module, inputs: tuple) -> tuple:
    return tuple(-x for x in inputs)


@pytest.mark.parametrize("kind", ["forward hooks", "forward pre-hooks"])
@pytest.mark.parametrize("where", ["linear", "inside-sequential", "sequential"])
def test_modules_with_forward_hooks_are_refused(kind: str, where: str) -> None:
    linear = nn.Linear(2, 3, dtype=torch.float64)
    module = linear if where == "linear" else nn.Sequential(linear, nn.ReLU())
    hooked = module if where == "sequential" else linear
    register = hooked.register_forward_hook if kind == "forward hooks" else hooked.register_forward_pre_hook
    handle = register(_double if kind == "forward hooks" else _negate_input)  # type: ignore[operator]
    with pytest.raises(
        TypeError, match=rf"from_torch: cannot represent torch layer {re.escape(repr(hooked))}: it has {kind}"
    ):
        from_torch(module)
    handle.remove()
    assert_same_function(from_torch(module), module)


def test_linear_subclass_with_torchs_forward_is_imported() -> None:
    linear = nn.modules.linear.NonDynamicallyQuantizableLinear(2, 3, dtype=torch.float64)  # multi-head attention's
    layer = from_torch(linear)
    x = torch.tensor([[0.5, -1.5]], dtype=torch.float64)
    assert [v.data for v in layer([0.5, -1.5])] == pytest.approx(linear(x)[0].tolist(), rel=1e-15)


def test_layer_sizes_that_do_not_chain_name_both_layers() -> None:
    module = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(4, 1))
    message = (
        "from_torch: layer sizes do not chain: layer 0 Linear(in_features=2, out_features=3, bias=True) has 3 outputs "
        "but layer 2 Linear(in_features=4, out_features=1, bias=True) takes 4 inputs"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        from_torch(module)


@pytest.mark.parametrize(("dtype", "big", "limit"), [(torch.float16, 1e6, 65504), (torch.float32, 1e300, 3.40282e38)])
@pytest.mark.parametrize("where", ["weight", "bias"])
def test_to_torch_refuses_a_dtype_too_narrow_for_the_weights(
    dtype: torch.dtype, big: float, limit: float, where: str
) -> None:
    model = MLP(2, [3, 2], init="zeros")
    neuron = model.layers[1].neurons[1]
    (neuron.w[0] if where == "weight" else neuron.b).data = big
    with pytest.raises(ValueError) as info:
        to_torch(model, dtype=dtype)
    assert str(info.value).startswith(f"to_torch: {dtype} cannot hold layer 1 {where} {big!r} (it would become inf)")
    assert f"its largest number is {limit:g}" in str(info.value)
    neuron.w[0].data = neuron.b.data = 1e-9  # underflows to 0 in float16: rounding is allowed, overflow is not
    assert to_torch(model, dtype=dtype)[2].bias.tolist() == [0.0, torch.tensor(1e-9, dtype=dtype).item()]


@pytest.mark.parametrize("dtype", [torch.int64, torch.int8, torch.bool, torch.complex128, "float64"], ids=str)
def test_to_torch_and_value_to_tensor_need_a_floating_dtype(dtype: object) -> None:
    for who, convert in (
        ("to_torch", lambda: to_torch(MLP(2, [1]), dtype=dtype)),
        ("value_to_tensor", lambda: value_to_tensor(Value(1.5), dtype)),
    ):  # type: ignore[arg-type]
        with pytest.raises(
            TypeError, match=rf"^{who}: dtype must be a floating-point torch dtype .*got {re.escape(repr(dtype))}"
        ):
            convert()


def test_value_to_tensor_refuses_a_dtype_too_narrow_for_the_number() -> None:
    with pytest.raises(
        ValueError, match=r"^value_to_tensor: torch.float16 cannot hold 1000000.0 \(it would become inf\)"
    ):
        value_to_tensor(Value(1e6), torch.float16)
    assert value_to_tensor(Value(1e-9), torch.float16).item() == torch.tensor(1e-9, dtype=torch.float16).item()
    assert value_to_tensor(Value(float("inf")), torch.float16).item() == float("inf")  # inf stays inf


def test_to_torch_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="expected a nanograd MLP, Layer or Neuron, got Value"):
        to_torch(Value(1.0))


# -- the op table on tensors, and wrapped functions -----------------------------------------

#: Every op, plus constant powers; ``positive`` where the op is smooth only for x > 0.
OP_CASES = [pytest.param(op, op.name in ("log", "sqrt", "pow"), id=op.name) for op in OPS.values()] + [
    pytest.param(power(k), k != int(k), id=f"power({k:g})") for k in (2, 3, -1, 0.5, 2.5)
]


def op_inputs(arity: int, positive: bool, batch: int = 6) -> torch.Tensor:
    """(batch, arity) float64 inputs with 0.5 <= |x| <= 2, all positive if ``positive``."""
    x = 0.5 + 1.5 * torch.rand(batch, arity, dtype=torch.float64)
    return x if positive else x * (torch.randint(0, 2, x.shape) * 2 - 1)


@pytest.mark.parametrize(("op", "positive"), OP_CASES)
def test_wrapped_op_passes_gradcheck(op, positive: bool) -> None:
    torch.manual_seed(0)
    x = op_inputs(op.arity, positive).requires_grad_()
    wrapped = function(lambda *xs: op.forward(VALUE_MATH, *xs))
    assert torch.autograd.gradcheck(wrapped, (x,))

    reference = torch_reference(op, *x.unbind(1))
    torch.testing.assert_close(wrapped(x), reference, **TIGHT)
    (expected,) = torch.autograd.grad(reference.sum(), x)
    (got,) = torch.autograd.grad(wrapped(x).sum(), x)
    torch.testing.assert_close(got, expected, **TIGHT)


@pytest.mark.parametrize(("op", "positive"), OP_CASES)
def test_vjp_rules_run_on_tensors(op, positive: bool) -> None:
    torch.manual_seed(1)
    xs = op_inputs(op.arity, positive).requires_grad_().unbind(1)
    out = torch_reference(op, *xs)
    g = torch.randn_like(out)
    expected = torch.autograd.grad(out, xs, g)
    got = op.vjp(TORCH_MATH, g, out.detach(), *[x.detach() for x in xs])
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(torch.as_tensor(a, dtype=torch.float64).expand_as(b), b, **TIGHT)


def composite(x, y, z):
    """Written with operators and methods that Values and tensors share."""
    return (x * y + z.tanh()).exp() / (1 + x * x) - (y * y + 1).log() * z.sigmoid()


def test_wrapped_composite_matches_torch() -> None:
    torch.manual_seed(2)
    x = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    wrapped = function(composite)
    assert torch.autograd.gradcheck(wrapped, (x,))
    out = wrapped(x)
    expected = composite(*x.unbind(1))
    torch.testing.assert_close(out, expected, **TIGHT)
    g = torch.randn(9, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(out, x, g)[0], torch.autograd.grad(expected, x, g)[0], **TIGHT)


def test_wrapped_function_without_gradients_and_errors() -> None:
    wrapped = function(composite)
    assert "composite" in repr(wrapped)
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(wrapped(x), composite(*x.unbind(1)), **TIGHT)
    assert function(composite)(torch.zeros(0, 3)).shape == (0,)
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, n\), got \(3,\)"):
        wrapped(torch.zeros(3))
    with pytest.raises(TypeError, match="must return one Value, got float"):
        function(lambda x: 1.0)(torch.zeros(2, 1))
    with no_grad(), pytest.raises(RuntimeError, match=r"nanograd.no_grad\(\) is on"):
        wrapped(x.requires_grad_())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_backward_through_an_empty_batch(dtype: torch.dtype) -> None:
    x = torch.zeros(0, 3, dtype=dtype, requires_grad=True)
    out = function(composite)(x)
    assert out.shape == (0,) and out.dtype == dtype
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == (0, 3) and x.grad.dtype == dtype


def doubled_tanh(x):
    return x.tanh() * 2


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool], ids=str)
@pytest.mark.parametrize("default", [torch.float32, torch.float64], ids=str)
def test_integer_and_bool_inputs_give_float_outputs(dtype: torch.dtype, default: torch.dtype) -> None:
    before = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        out = function(doubled_tanh)(torch.tensor([[1], [0]], dtype=dtype))
        empty = function(doubled_tanh)(torch.zeros(0, 1, dtype=dtype))
    finally:
        torch.set_default_dtype(before)
    assert out.dtype == default and empty.dtype == default
    torch.testing.assert_close(out, torch.tensor([2 * math.tanh(1), 0.0], dtype=default))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32], ids=str)
def test_floating_inputs_keep_their_dtype(dtype: torch.dtype) -> None:
    out = function(doubled_tanh)(torch.tensor([[1.0]], dtype=dtype))
    assert out.dtype == dtype and out.item() == torch.tensor(2 * math.tanh(1), dtype=dtype).item()


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128], ids=str)
def test_complex_inputs_are_refused(dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=rf"function\(doubled_tanh\): complex input \({dtype}\); nanograd is real"):
        function(doubled_tanh)(torch.tensor([[1 + 2j]], dtype=dtype))


def _round_trips(module: object) -> list[object]:
    """``module`` deep-copied, pickled and saved as a torch checkpoint, each read back."""
    buffer = io.BytesIO()
    torch.save(module, buffer)
    buffer.seek(0)
    return [copy.deepcopy(module), pickle.loads(pickle.dumps(module)), torch.load(buffer, weights_only=False)]


@pytest.mark.parametrize("traced", [False, True], ids=["fresh", "traced"])
def test_a_wrapped_function_can_be_copied_pickled_and_checkpointed(traced: bool) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 3), function(composite)).double()
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    if traced:
        model(x)
    expected = model(x)
    (expected_grad,) = torch.autograd.grad(expected.sum(), x)
    for copied in _round_trips(model):
        assert isinstance(copied, nn.Sequential) and copied[1].compiled is not model[1].compiled
        assert copied[1].compiled._cache == {}  # traces again: its captured state is its own
        out = copied(x)
        torch.testing.assert_close(out, expected, **TIGHT)
        torch.testing.assert_close(torch.autograd.grad(out.sum(), x)[0], expected_grad, **TIGHT)


def test_a_lambda_still_fails_to_pickle_as_python_says() -> None:
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(function(lambda x: x.tanh()))
    assert copy.deepcopy(function(lambda x: x.tanh()))(torch.tensor([[0.5]], dtype=torch.float64)).item() == math.tanh(
        0.5
    )


def test_a_compiled_model_copies_its_own_parameters() -> None:
    model = randomized(MLP(2, [3, 1]))
    compiled = nanograd.compile(model, backend="torch")
    point = [0.5, -1.0]
    before = compiled(point).data
    copies = _round_trips(compiled)
    model.layers[0].neurons[0].b.data += 1.0  # the original's parameters move on; the copies' do not
    for c in copies:
        assert c.backend.name == "torch" and c(point).data == before  # type: ignore[attr-defined]
        assert c.fn is not model  # type: ignore[attr-defined]
    assert compiled(point).data != before


def test_a_wrapped_function_can_go_into_data_parallel() -> None:
    torch.manual_seed(4)
    model = nn.DataParallel(nn.Sequential(nn.Linear(3, 3), function(composite)).double())
    x = torch.randn(6, 3, dtype=torch.float64)
    torch.testing.assert_close(model(x), model.module(x), **TIGHT)
    torch.testing.assert_close(copy.deepcopy(model)(x), model(x), **TIGHT)


def test_wrapped_function_trains_inside_a_torch_model() -> None:
    torch.manual_seed(0)

    @function
    def head(a, b):
        return (a * b).tanh() + a.sigmoid()

    teacher = nn.Sequential(nn.Linear(3, 2), head).double()
    student = nn.Sequential(nn.Linear(3, 2), head).double()
    x = torch.randn(32, 3, dtype=torch.float64)
    y = teacher(x).detach()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    losses = []
    for _ in range(40):
        loss = ((student(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


# -- single numbers ---------------------------------------------------------------------------


def test_value_tensor_conversion() -> None:
    v = value_from_tensor(torch.tensor(2.5, dtype=torch.float64))
    assert isinstance(v, Value) and v.data == 2.5 and v.grad == 0.0
    assert value_from_tensor(torch.tensor([[-1.0]])).data == -1.0
    with pytest.raises(ValueError, match=r"one element, got shape \(2,\)"):
        value_from_tensor(torch.zeros(2))
    t = value_to_tensor(Value(0.1))
    assert t.shape == () and t.dtype == torch.float64 and t.item() == 0.1
    assert value_to_tensor(Value(0.1), torch.float32).dtype == torch.float32


# -- torch is optional ---------------------------------------------------------------------------


def test_nanograd_works_without_torch() -> None:
    script = """
import sys
import nanograd
assert "torch" not in sys.modules, "import nanograd imported torch"
sys.modules["torch"] = None  # makes `import torch` raise ImportError
try:
    import nanograd.pytorch
except ImportError as e:
    print(e)
else:
    raise SystemExit("nanograd.pytorch imported without torch")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout == (
        'nanograd.pytorch needs PyTorch: pip install -e ".[torch]" --config-settings editable_mode=compat '
        "in a checkout of nanograd\n"
    )


# -- the outgrow story: start in nanograd, continue in PyTorch -------------------------------------


def test_outgrow_nanograd_then_continue_training_in_torch() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.make_moons(n_samples=40, noise=0.1, random_state=0)
    y = 2 * y - 1  # labels -1 / +1 for the hinge loss
    random.seed(0)
    model = MLP(2, [8, 8, 1])

    def nanograd_loss() -> Value:
        scores = [model(list(map(float, xi))) for xi in X]
        return sum((1 - float(yi) * s).relu() for yi, s in zip(y, scores, strict=True)) / len(X)

    nanograd_losses = []
    for _ in range(5):
        loss = nanograd_loss()
        model.zero_grad()
        loss.backpropagate()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        nanograd_losses.append(loss.data)
    with no_grad():
        nanograd_losses.append(nanograd_loss().data)  # the loss at the weights handed over

    net = to_torch(model).to(DEVICE)
    inputs = torch.tensor(X, dtype=torch.float64, device=DEVICE)
    targets = torch.tensor(y, dtype=torch.float64, device=DEVICE)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    torch_losses = []
    for _ in range(30):
        loss = torch.relu(1 - targets * net(inputs).squeeze(1)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        torch_losses.append(loss.item())

    assert torch_losses[0] == pytest.approx(nanograd_losses[-1], rel=1e-12)
    curve = nanograd_losses[:-1] + torch_losses  # one loss per training step, nanograd's then torch's
    assert all(later < earlier for earlier, later in itertools.pairwise(curve))


def test_value_from_and_to_tensor() -> None:
    v = value_from_tensor(torch.tensor(2.5, dtype=torch.float64))
    assert v.data == 2.5 and v.grad == 0.0 and v.inputs == ()
    t = value_to_tensor(v)
    assert t.dtype == torch.float64 and t.dim() == 0 and t.item() == 2.5
    assert value_to_tensor(v, torch.float32).dtype == torch.float32


def test_from_torch_draws_no_random_numbers() -> None:
    state = random.getstate()
    from_torch(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)))
    from_torch(torch.nn.Linear(2, 2))
    assert random.getstate() == state
