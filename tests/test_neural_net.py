"""Tests for nanograd.neural_net: structure, initialisation, state dicts, save/load."""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import make_dev_zero_link, make_fifo, raised_within

from nanograd import Value, nn
from nanograd.neural_net import INITS, MAX_FILE_BYTES, MLP, Layer, Neuron


@pytest.fixture
def model() -> MLP:
    random.seed(1337)
    return MLP(2, [16, 16, 1])


def test_micrograds_module_layout() -> None:
    """``sed s/micrograd/nanograd/`` on micrograd's imports: ``nanograd.engine`` and ``nanograd.nn``."""
    import nanograd.engine
    import nanograd.neural_net
    import nanograd.nn
    from nanograd.engine import Value as EngineValue
    from nanograd.nn import MLP as NnMLP

    assert EngineValue is Value and NnMLP is MLP
    assert nn is nanograd.nn
    for name in ("Module", "Neuron", "Layer", "MLP"):
        assert getattr(nanograd.nn, name) is getattr(nanograd.neural_net, name)


def test_shapes_and_parameter_count(model: MLP) -> None:
    assert [(layer.nin, layer.nout, layer.activation) for layer in model.layers] == [
        (2, 16, "relu"),
        (16, 16, "relu"),
        (16, 1, "linear"),
    ]
    assert len(model.parameters()) == 337
    assert all(len(n.w) == 16 and n.b.data == 0.0 for n in model.layers[1].neurons)
    assert isinstance(model([0.5, -0.5]), Value)
    assert len(MLP(3, [4, 2])([1.0, 2.0, 3.0])) == 2


def test_outputs_is_always_a_list_and_scalar_one_value(model: MLP) -> None:
    """``outputs`` and ``scalar`` give what calling gives, with one type each (the README's loop type-checks)."""
    x = [0.5, -0.5]
    (out,) = model.outputs(x)
    assert model.scalar(x).data == out.data == model(x).data
    wide = MLP(3, [4, 2])
    assert [v.data for v in wide.outputs([1.0, 2.0, 3.0])] == [v.data for v in wide([1.0, 2.0, 3.0])]
    with pytest.raises(ValueError, match=r"MLP.scalar: the model has 2 outputs"):
        wide.scalar([1.0, 2.0, 3.0])
    layer = Layer(2, 1)
    assert layer.scalar(x).data == layer.outputs(x)[0].data
    with pytest.raises(ValueError, match=r"Layer.scalar: the model has 3 outputs"):
        Layer(2, 3).scalar(x)


def test_parameter_names_are_unique_and_ordered(model: MLP) -> None:
    names = [name for name, _ in model.named_parameters()]
    assert len(set(names)) == 337
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert names[-1] == "layers.2.neurons.0.b"


@pytest.mark.parametrize(
    ("activation", "expected"),
    [("relu", 0.0), ("tanh", math.tanh(-2.0)), ("sigmoid", 1 / (1 + math.exp(2.0))), ("linear", -2.0)],
)
def test_activations(activation: str, expected: float) -> None:
    n = Neuron(2, activation)
    n.w[0].data, n.w[1].data, n.b.data = 1.0, 1.0, -1.0
    assert n([0.5, -1.5]).data == pytest.approx(expected, rel=1e-15)


def all_neurons(model: object) -> list:
    """The neurons of a Neuron, Layer or MLP (nanograd's or micrograd's), first layer first."""
    if hasattr(model, "layers"):
        return [n for layer in model.layers for n in layer.neurons]
    return getattr(model, "neurons", [model])


@pytest.mark.parametrize(
    ("cls", "args", "kwargs"),
    [
        ("Neuron", (3,), {}),
        ("Neuron", (3,), {"nonlin": True}),
        ("Neuron", (3,), {"nonlin": False}),
        ("Layer", (3, 4), {}),
        ("Layer", (3, 4), {"nonlin": False}),
        ("MLP", (3, [4, 4, 2]), {}),
    ],
)
def test_micrograds_constructor_spellings_build_micrograds_model(cls: str, args: tuple, kwargs: dict) -> None:
    """The same call and seed: the same weights, the same ``nonlin`` flags and the same outputs."""
    micrograd_nn = pytest.importorskip("micrograd.nn")
    random.seed(5)
    model = getattr(nn, cls)(*args, **kwargs)
    random.seed(5)
    reference = getattr(micrograd_nn, cls)(*args, **kwargs)
    assert [p.data for p in model.parameters()] == [p.data for p in reference.parameters()]
    assert [n.nonlin for n in all_neurons(model)] == [n.nonlin for n in all_neurons(reference)]
    x = [0.5, -1.0, 2.0]
    out, ref = model(x), reference(x)
    out, ref = (out, ref) if isinstance(out, list) else ([out], [ref])
    assert [v.data for v in out] == [v.data for v in ref]


def test_micrograd_mlp_rule_last_layer_linear() -> None:
    assert [layer.neurons[0].nonlin for layer in MLP(2, [3, 3, 1]).layers] == [True, True, False]


@pytest.mark.parametrize(
    ("activation", "nonlin", "expected"),
    [("tanh", True, "tanh"), ("sigmoid", True, "sigmoid"), ("linear", False, "linear"), ("relu", True, "relu")],
)
def test_activation_and_nonlin_that_agree(activation: str, nonlin: bool, expected: str) -> None:
    assert Neuron(2, activation, nonlin=nonlin).activation == expected
    assert Layer(2, 2, activation, nonlin=nonlin).activation == expected
    assert Neuron(2, activation).nonlin is nonlin


@pytest.mark.parametrize(("activation", "nonlin"), [("relu", False), ("tanh", False), ("linear", True)])
def test_activation_and_nonlin_that_disagree_raise(activation: str, nonlin: bool) -> None:
    message = rf"activation='{activation}' and nonlin={nonlin} disagree"
    with pytest.raises(ValueError, match=rf"Neuron: {message}"):
        Neuron(2, activation, nonlin=nonlin)
    with pytest.raises(ValueError, match=rf"Layer: {message}"):
        Layer(2, 2, activation=activation, nonlin=nonlin)


def test_per_layer_activations() -> None:
    mlp = MLP(1, [2, 3, 1], activation=["tanh", "sigmoid"], output_activation="relu")
    assert [layer.activation for layer in mlp.layers] == ["tanh", "sigmoid", "relu"]
    with pytest.raises(ValueError, match="2 hidden layers but 1"):
        MLP(1, [2, 3, 1], activation=["tanh"])


@pytest.mark.parametrize(
    "make",
    [
        lambda: Neuron(2, "softplus"),
        lambda: Neuron(0),
        lambda: Layer(2, 0),
        lambda: MLP(2, []),
        lambda: MLP(2, [1], init="he"),
    ],
)
def test_bad_arguments(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_default_init_draws_micrograds_random_numbers() -> None:
    random.seed(7)
    expected = [random.uniform(-1, 1) for _ in range(2 * 3 + 3 * 1)]
    random.seed(7)
    mlp = MLP(2, [3, 1])
    weights = [p.data for name, p in mlp.named_parameters() if not name.endswith(".b")]
    assert weights == expected


@pytest.mark.parametrize(
    ("init", "bound"), [("uniform", 1.0), ("xavier", math.sqrt(6 / 40)), ("kaiming", math.sqrt(6 / 30))]
)
def test_init_bounds(init: str, bound: float) -> None:
    random.seed(0)
    layer = Layer(30, 10, init=init)
    weights = [w.data for n in layer.neurons for w in n.w]
    assert max(abs(w) for w in weights) <= bound
    assert max(abs(w) for w in weights) > 0.9 * bound  # 300 draws come close to the bound
    assert INITS[init](30, 10) == bound


def test_zeros_init_draws_no_random_numbers() -> None:
    random.seed(3)
    state = random.getstate()
    mlp = MLP(2, [4, 1], init="zeros")
    assert random.getstate() == state
    assert all(p.data == 0.0 for p in mlp.parameters())


def test_repr(model: MLP) -> None:
    assert repr(model) == "MLP(2, [16, 16, 1], activation='relu', output_activation='linear', parameters=337)"
    assert repr(model.layers[0]) == "Layer(2, 16, activation='relu')"
    assert repr(model.layers[2].neurons[0]) == "Neuron(16, activation='linear')"


def test_state_dict_round_trip(model: MLP) -> None:
    state = model.state_dict()
    assert len(state) == 337 and all(type(x) is float for x in state.values())
    other = MLP(2, [16, 16, 1], init="zeros")
    other.load_state_dict(state)
    assert other.state_dict() == state
    assert other([0.3, -0.2]).data == model([0.3, -0.2]).data


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda s: s.pop("layers.1.neurons.3.w.7"), "1 missing"),
        (lambda s: s.update({"layers.3.neurons.0.b": 1.0}), "1 unexpected"),
        (lambda s: s.update({"layers.0.neurons.0.b": "0.5"}), "must be a real number"),
        (lambda s: s.update({"layers.0.neurons.0.b": True}), "must be a real number"),
        # the last parameter in named_parameters() order: all others pass the checks first
        (lambda s: s.update({"layers.2.neurons.0.b": 10**400}), "'layers.2.neurons.0.b' does not fit in a float"),
        (lambda s: s.update({"layers.2.neurons.0.b": Fraction(10**400, 3)}), "does not fit in a float"),
    ],
)
def test_load_state_dict_rejects_bad_state_and_changes_nothing(model: MLP, edit, match: str) -> None:
    before = model.state_dict()
    state = {name: 0.5 for name in before}
    edit(state)
    with pytest.raises(ValueError, match=match):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_save_load_round_trip(model: MLP, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    model.save(path)
    loaded = MLP.load(path)
    assert loaded.architecture() == model.architecture()
    assert loaded.state_dict() == model.state_dict()  # exact: JSON keeps every float's repr
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left behind


def test_save_load_keeps_per_layer_activations(tmp_path: Path) -> None:
    mlp = MLP(3, [4, 5, 2], activation=["tanh", "sigmoid"], output_activation="sigmoid", init="xavier")
    mlp.save(tmp_path / "m.json")
    loaded = MLP.load(tmp_path / "m.json")
    assert [layer.activation for layer in loaded.layers] == ["tanh", "sigmoid", "sigmoid"]
    assert loaded([1.0, 2.0, 3.0])[1].data == mlp([1.0, 2.0, 3.0])[1].data


def test_save_replaces_existing_file_atomically(model: MLP, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("old")
    model.save(path)
    assert json.loads(path.read_text())["format"] == "nanograd.MLP"


def test_save_rejects_non_finite_parameters(model: MLP, tmp_path: Path) -> None:
    model.layers[0].neurons[0].b.data = math.nan
    with pytest.raises(ValueError, match=r"layers\.0\.neurons\.0\.b"):
        model.save(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


def _saved(model: MLP, tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    model.save(path)
    return path


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("corrupt", "match"),
    [
        (lambda text: text[: len(text) // 2], "invalid JSON"),
        (lambda text: "", "invalid JSON"),
        (lambda text: "{'format': 'nanograd.MLP'}", "invalid JSON"),
        (lambda text: b"\xff\xfe".decode("latin-1") + text, "invalid JSON"),
        (lambda text: "[1, 2, 3]", "not a nanograd model file"),
        (lambda text: text.replace('"nanograd.MLP"', '"pickle"'), "not a nanograd model file"),
        (lambda text: text.replace('"version": 1', '"version": 99'), "unsupported model file version"),
        (lambda text: text.replace('"parameters"', '"params"'), "'architecture' and a 'parameters'"),
        # the architecture says 17 hidden units, the parameters are for 16
        (lambda text: text.replace("16,", "17,", 1), "architecture has 356 parameters but the file holds 337"),
        (lambda text: text.replace('"nin": 2', '"nin": 3'), "architecture has 353 parameters but the file holds 337"),
        (lambda text: text.replace('"layers.0.neurons.0.b"', '"layers.0.neurons.0.c"'), "1 missing .* 1 unexpected"),
        (lambda text: text.replace('"nin": 2', '"nin": "2"'), "nin must be a positive int"),
        (lambda text: text.replace('"output_activation"', '"outputs"'), "unexpected keyword"),
        (lambda text: text.replace('"layers.2.neurons.0.b": 0.0', '"layers.2.neurons.0.b": null'), "real number"),
    ],
)
def test_load_bad_file_raises_clear_error(model: MLP, tmp_path: Path, corrupt, match: str) -> None:
    path = _saved(model, tmp_path)
    path.write_bytes(corrupt(path.read_text()).encode("latin-1"))
    before = model.state_dict()
    with pytest.raises(ValueError, match=match) as info:
        MLP.load(path)
    assert str(path) in str(info.value)
    assert model.state_dict() == before


# -- hostile model files ---------------------------------------------------------------------
# Each file below made the old loader hang, run out of memory, recurse too deep or raise
# something other than a ValueError naming the file.


EIGHT_PARAMETERS = json.dumps({f"p{i}": 0.0 for i in range(8)})


def _model_file(nin: object, nouts: object, parameters: str = EIGHT_PARAMETERS) -> str:
    architecture = json.dumps({"nin": nin, "nouts": nouts, "activation": "relu", "output_activation": "linear"})
    return f'{{"format": "nanograd.MLP", "version": 1, "architecture": {architecture}, "parameters": {parameters}}}'


def _one_parameter(value: str) -> str:
    """A file for MLP(1, [1]) (weight and bias) whose bias is written as ``value``."""
    return _model_file(1, [1], f'{{"layers.0.neurons.0.w.0": 0.5, "layers.0.neurons.0.b": {value}}}')


HOSTILE_FILES = {
    # a 175-byte file asking for 9 million weights (26 s and 1.85 GB before), or 10**18
    "huge-architecture": (
        _model_file(2, [3000, 3000, 1]),
        "architecture has 9,015,001 parameters but the file holds 8",
    ),
    "astronomic-architecture": (_model_file(2, [10**9, 10**9, 1]), "has 1,000,000,005,000,000,001 parameters but"),
    "bad-size-late": (_model_file(2, [10**6, 10**6, "x"]), r"nouts\[2\] must be a positive int, got 'x'"),
    "zero-size": (_model_file(2, [4, 0]), r"nouts\[1\] must be a positive int, got 0"),
    "100000-layers": (
        _model_file(2, [1] * 100_000),
        "100,000 layers need 200,000 parameters or more; the file holds 8",
    ),
    "nouts-not-a-list": (_model_file(2, "16"), "nouts must be a list"),
    "nan": (_one_parameter("NaN"), "parameter 'layers.0.neurons.0.b' is nan; a model file holds finite numbers"),
    "infinity": (_one_parameter("Infinity"), "'layers.0.neurons.0.b' is inf; a model file holds finite numbers"),
    "minus-infinity": (_one_parameter("-Infinity"), "'layers.0.neurons.0.b' is -inf; a model file"),
    "1e999": (_one_parameter("1e999"), "'layers.0.neurons.0.b' is inf; a model file"),
    "400-digit-int": (_one_parameter("9" * 400), "'layers.0.neurons.0.b' does not fit in a float"),
    "5000-digit-int": (_one_parameter("9" * 5000), "invalid JSON: Exceeds the limit"),
    "100000-brackets": ("[" * 100_000 + "]" * 100_000, "more JSON objects and arrays than a model has"),
    "container-flood": ("[" + "{}," * 1_000_000 + "{}]", "more JSON objects and arrays than a model has"),
    "nested-parameters": (_one_parameter("[[[[0.5]]]]"), "must be a real number, got"),
}


@pytest.mark.parametrize(("text", "match"), HOSTILE_FILES.values(), ids=HOSTILE_FILES.keys())
def test_hostile_file_is_refused_before_anything_is_built(
    text: str, match: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.json"
    path.write_text(text)
    weights = 0
    build = Neuron.__init__

    def counting_init(self: Neuron, nin: int, *args: object, **kwargs: object) -> None:
        nonlocal weights
        weights += nin
        assert weights <= 1, "the file's architecture was built"  # MLP(1, [1]) is all a file may build
        build(self, nin, *args, **kwargs)

    monkeypatch.setattr(Neuron, "__init__", counting_init)
    with pytest.raises(ValueError, match=match) as info:
        MLP.load(path)
    assert str(info.value).startswith(f"{path}: ")


def _directory(tmp_path: Path) -> Path:
    (tmp_path / "model.json").mkdir()
    return tmp_path / "model.json"


def _sparse_17_mib(tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    with path.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: takes no disk space
    return path


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="needs FIFOs, /dev/zero")
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (make_fifo, "not a regular file"),
        (make_dev_zero_link, "not a regular file"),
        (_directory, "not a regular file"),
        (_sparse_17_mib, f"16,777,217 bytes, more than the limit of {MAX_FILE_BYTES:,}"),
    ],
    ids=["fifo", "dev-zero", "directory", "too-large"],
)
def test_load_reads_only_regular_files_of_bounded_size(
    tmp_path: Path, make: Callable[[Path], Path], match: str
) -> None:
    path = make(tmp_path)
    error = raised_within(30, lambda: MLP.load(path))
    assert isinstance(error, ValueError), error
    assert str(error).startswith(f"{path}: {match}")


def test_max_bytes_raises_or_lowers_the_limit(model: MLP, tmp_path: Path) -> None:
    path = _saved(model, tmp_path)
    size = path.stat().st_size
    assert MLP.load(path, max_bytes=size).state_dict() == model.state_dict()
    with pytest.raises(ValueError, match=f"{size:,} bytes, more than the limit of {size - 1:,}"):
        MLP.load(path, max_bytes=size - 1)


def test_save_writes_through_a_symlink(model: MLP, tmp_path: Path) -> None:
    target = tmp_path / "runs" / "model-0042.json"
    target.parent.mkdir()
    (tmp_path / "latest.json").symlink_to(target)
    model.save(tmp_path / "latest.json")
    assert (tmp_path / "latest.json").is_symlink()
    assert MLP.load(target).state_dict() == model.state_dict()


def test_save_gives_a_new_file_the_permissions_the_umask_allows(model: MLP, tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        model.save(tmp_path / "private.json")
    finally:
        os.umask(old)
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600


def _loss_on(model: MLP, x: list[float]) -> tuple[float, list[float]]:
    """A module-level function, so that a worker process can run it: the loss and its gradients."""
    out = model(x)
    assert isinstance(out, Value)
    model.zero_grad()
    out.backpropagate()
    return out.data, [p.grad for p in model.parameters()]


def test_models_and_their_graphs_pickle_and_go_to_worker_processes(model: MLP) -> None:
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    out = model([0.5, -1.0])
    assert isinstance(out, Value)
    out.backpropagate()
    clone_model, clone_out = pickle.loads(pickle.dumps((model, out)))
    assert repr(clone_model) == repr(model) and clone_out.data == out.data
    assert [p.grad for p in clone_model.parameters()] == [p.grad for p in model.parameters()]
    points = [[0.5, -1.0], [2.0, 0.25]]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_loss_on, [model] * len(points), points))
    assert results == [_loss_on(model, x) for x in points]
