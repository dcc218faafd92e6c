"""Tests for ``nanograd.explore`` (``nanograd.explorer``): the page's data and formulas in Python, then the
page in a real browser.

The browser tests drive a system Chromium (``apt-get install chromium``; another one with
``NANOGRAD_CHROMIUM=/path``) headless through Playwright for Python; they never download a
browser, and skip, saying why, when either is missing. Screenshots go to
``$NANOGRAD_TEST_ARTIFACTS`` (default: ``test-artifacts/`` at the repository root).
"""

from __future__ import annotations

import ast
import html
import json
import operator
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from conftest import seed_example as seed_graph

import nanograd
from nanograd import OPS, Value, grad, nn, topological_order, zero_grad
from nanograd.explorer import Explorer
from nanograd.float_math import FLOAT_MATH
from nanograd.viz import format_number, walk

pytest.importorskip("graphviz")
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")

explore = nanograd.explore
ARTIFACTS = Path(os.environ.get("NANOGRAD_TEST_ARTIFACTS", ROOT / "test-artifacts"))
XSS = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
LINK = '<<a href="javascript:window.pwned = 3">click</a>>'
fmt = format_number


def seed_example() -> Value:
    """The README's example (the seed's), not backpropagated: explore needs no backward pass first."""
    return seed_graph()[2]


def neuron() -> Value:
    """The README's 2D neuron with random.seed(1337), as in gout.svg."""
    random.seed(1337)
    return nn.Neuron(2)([Value(1.0, label="x1"), Value(-2.0, label="x2")])


def page_data(page: Explorer) -> Any:
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', page.html, re.S)
    assert match is not None
    return json.loads(match[1])


def mlp_on_points(points: int = 2) -> tuple[nn.MLP, Value]:
    """A 2-4-4-1 MLP and its squared-error loss on ``points`` points."""
    random.seed(1)
    model = nn.MLP(2, [4, 4, 1])
    data = [(1.0, 1.0), (0.5, -1.0), (-0.5, 1.0)][:points]
    loss = sum((model([x, -x]) - t) ** 2 for x, t in data)
    assert isinstance(loss, Value)
    return model, loss


# -- the page, read in Python ------------------------------------------------------------------


def test_explore_is_the_function_and_its_page_prints_as_one_line() -> None:
    assert callable(nanograd.explore) and nanograd.explore is nanograd.explorer.explore
    page = explore(neuron(), title="a neuron")
    assert repr(page) == (
        "<nanograd explore page 'a neuron': 10 nodes (values), 20 steps; "
        "shown inline in Jupyter, .save(path) writes it>"
    )


def test_drawing_modules_do_not_import_the_page() -> None:
    """Imports go one way: the page builds on the drawing, never the other way round."""
    for module in ("viz", "render"):
        tree = ast.parse((ROOT / "nanograd" / f"{module}.py").read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & {"explorer", "neuron_calls"}, module


def test_the_page_embeds_nanograds_own_values_and_the_gradients_of_grad() -> None:
    y = seed_example()
    nodes = walk(y)
    data = page_data(explore(y))
    assert [(n["data"], n["grad"]) for n in data["nodes"]] == [
        (repr(v.of), repr(g)) for v, g in zip(nodes, grad(y, nodes))
    ]
    assert len(data["steps"]) == 2 * len(nodes) and data["notice"] == ""
    forward, backward = data["steps"][: len(nodes)], data["steps"][len(nodes) :]
    assert [s["node"] for s in forward] == list(range(len(nodes)))
    assert [s["node"] for s in backward] == list(reversed(range(len(nodes))))
    assert data["steps"][-1]["updates"][0] == [0, "grad", f"grad {fmt(138.83381924198252)}", "grad 138.8338"]


def test_explore_needs_no_backpropagate_and_is_not_misled_by_a_repeated_one() -> None:
    a = Value(2.0, label="a")
    y = a * -1.5
    y.backpropagate()
    y.backpropagate()  # a.grad is now -3.0: leaves add up
    steps = page_data(explore(y))["steps"]
    assert "a.grad += v1.grad * -1.5000 = 1.0000 * -1.5000 = -1.5000" in steps[-2]["lines"]
    assert steps[-1]["lines"][0] == "a.grad = -1.5000: complete, every value computed from a has added its share"
    assert a.grad == -3.0  # explore left the gradients as they were


def test_exploring_changes_nothing_in_the_graph() -> None:
    y = seed_example()
    nodes = topological_order(y)
    operands = [v.operands for v in nodes]
    grads = [v.grad for v in nodes]
    explore(y)
    assert topological_order(y) == nodes and [v.operands for v in nodes] == operands
    assert [v.grad for v in nodes] == grads
    zero_grad(nodes)
    y.backpropagate()
    assert nodes[0].grad == 138.83381924198252  # the seed's number: backprop is unchanged


def test_the_panel_prints_the_chain_rule_product_from_the_op_table() -> None:
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    out = a * b
    out.label = "out"
    y = out.tanh()
    steps = page_data(explore(y))["steps"]
    mul_forward, mul_backward = steps[2], steps[-3]
    assert "out.data = a.data * b.data = 2.0000 * -3.0000 = -6.0000" in mul_forward["lines"]
    assert "op mul (*): x * y" in mul_forward["lines"]
    (g,) = grad(y, [out])
    assert f"a.grad += out.grad * b.data = {fmt(g)} * -3.0000 = {fmt(g * -3.0)}" in mul_backward["lines"]
    assert f"b.grad += out.grad * a.data = {fmt(g)} * 2.0000 = {fmt(g * 2.0)}" in mul_backward["lines"]
    t = fmt(y.of)
    assert steps[4]["lines"][-1] == (
        f"out.grad += v1.grad * ((1 - v1.data) * (1 + v1.data)) = 1.0000 * ((1 - {t}) * (1 + {t})) = {fmt(g)}"
    )


def test_a_literal_is_a_constant_with_no_step_and_no_gradient() -> None:
    x = Value(2.0, label="x")
    y = x**2 + 3 * x
    data = page_data(explore(y))
    assert [n["name"] for n in data["nodes"]] == ["x", "v1", "v2", "v3"]  # no node for the 3
    assert len(data["steps"]) == 8
    times = data["steps"][2]
    assert (
        times["lines"][0] == "v2 = mul(x, 3.0000)"
        and times["lines"][2] == "v2.data = x.data * 3.0000 = 2.0000 * 3.0000 = 6.0000"
    )
    assert "3.0000 is a constant: it gets no gradient" in data["steps"][5]["lines"]
    assert "is a leaf" not in json.dumps(data["steps"][2])
    page = explore(y).html
    assert page.count('class="node const"') == 1


def test_unnamed_values_are_numbered_without_gaps() -> None:
    y = ((Value(1.0, label="a") * 2 + 1).tanh() * Value(3.0, label="b")).relu()
    names = [n["name"] for n in page_data(explore(y))["nodes"]]
    assert names == ["a", "v1", "v2", "v3", "b", "v4", "v5"]


def test_a_models_parameters_carry_their_names() -> None:
    random.seed(1337)
    model = nn.Neuron(2)
    y = model([Value(1.0, label="x1"), Value(-2.0, label="x2")])
    data = page_data(explore(y, model=model))
    names = [n["name"] for n in data["nodes"]]
    assert names == ["x1", "x2", "neuron"] and data["nodes"][2]["kind"] == "neuron"  # the default view with a model
    names = [n["name"] for n in page_data(explore(y, model=model, view="values"))["nodes"]]
    assert names == ["b", "w.0", "x1", "v1", "v2", "w.1", "x2", "v3", "v4", "v5"]
    kinds = {n["name"]: n["kind"] for n in page_data(explore(y, model=model, view="values"))["nodes"]}
    assert kinds["w.0"] == "parameter" and kinds["x1"] == "input"


def test_the_neuron_view_draws_each_neuron_call_as_one_node() -> None:
    model, loss = mlp_on_points(2)
    data = page_data(explore(loss, model=model))
    neurons = [n for n in data["nodes"] if n["kind"] == "neuron"]
    assert len(neurons) == 2 * 9  # 4 + 4 + 1 neurons, called on two points
    assert {n["name"] for n in neurons} >= {"layers.0.neurons.0@1", "layers.2.neurons.0@2"}
    assert not any(
        n["name"].startswith("layers.") and n["kind"] != "neuron" for n in data["nodes"]
    )  # parameters inside
    hidden = next(i for i, n in enumerate(data["nodes"]) if n["name"] == "layers.1.neurons.2@1")
    forward = next(s for s in data["steps"] if s["node"] == hidden and s["phase"] == "forward")["lines"]
    assert forward[0] == "layers.1.neurons.2@1 = relu(z), z = b + w.0 * x.0 + w.1 * x.1 + w.2 * x.2 + w.3 * x.3"
    assert forward[1].startswith(
        "inside the neuron: w.i is layers.1.neurons.2.w.i, b is layers.1.neurons.2.b, x.0 is layers.0"
    )
    neuron = model.layers[1].neurons[2]
    assert forward[3].endswith(f"= {fmt(max(0.0, float(data['nodes'][hidden]['data'])))}")
    backward = next(s for s in data["steps"] if s["node"] == hidden and s["phase"] == "backward")["lines"]
    assert any(line.startswith("w.0.grad += z.grad * x.0.data = ") for line in backward)
    assert len(data["nodes"][hidden]["card"]) == 1 + 3 * 4 + 2  # b, (w, x, w*x) per input, z, out
    w0 = next(row for row in data["nodes"][hidden]["card"] if row[0] == "w.0")
    assert w0[1] == fmt(neuron.w[0].data)


def test_the_neuron_views_shares_add_up_to_the_parameters_gradients() -> None:
    model, loss = mlp_on_points(2)
    data = page_data(explore(loss, model=model))
    total = 0.0
    for node in data["nodes"]:
        if node["name"].startswith("layers.1.neurons.2@"):
            w0 = next(row for row in node["card"] if row[0] == "w.0")
            total += float(w0[2].removeprefix("+= "))
    (g,) = grad(loss, [model.layers[1].neurons[2].w[0]])
    assert total == pytest.approx(g, abs=2e-4)  # the shares of the two calls, each rounded to 4 decimals


@pytest.mark.parametrize("kwargs", [{"view": "neurons"}, {"view": "values"}, {}])
def test_the_neuron_view_needs_a_model_whose_neurons_are_in_the_graph(kwargs: dict[str, Any]) -> None:
    y = neuron()
    other = nn.MLP(2, [3, 1])
    if kwargs.get("view") == "neurons":
        with pytest.raises(ValueError, match="view='neurons' needs a model"):
            explore(y, model=other, **kwargs)
    else:
        assert page_data(explore(y, model=other, **kwargs))["nodes"][0]["kind"] == "input"


def apply(name: str, inputs: list[Value]) -> Value:
    """The op ``name`` applied to ``inputs`` through Value's public operators and methods."""
    binary = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}
    binary["pow"] = operator.pow
    if name in binary:
        return binary[name](*inputs)
    if name == "neg":
        return -inputs[0]
    if name.startswith("**"):  # power(k), written **k
        return inputs[0] ** float(name[2:])
    return getattr(inputs[0], name)(*inputs[1:])  # x.tanh(), x.maximum(y)


OP_NAMES = [*OPS, "**3", "**-0.5"]


@pytest.mark.parametrize("name", OP_NAMES)
def test_every_op_prints_its_forward_and_vjp_with_nanograds_numbers(name: str) -> None:
    x, y = Value(0.75, label="x"), Value(1.5, label="y")
    out = apply(name, [x, y][: OPS[name].arity if name in OPS else 1])
    op = out.op
    assert op is not None
    steps = page_data(explore(out))["steps"]
    inputs = [v for v in out.operands if isinstance(v, Value)]
    n = len(inputs)
    forward, backward = steps[n]["lines"], steps[n + 1]["lines"]
    assert forward[0] == f"v1 = {op.name}({', '.join(v.label for v in inputs)})"
    assert forward[1] == f"op {op.name} ({op.symbol}): {op.doc}"
    assert forward[2].startswith("v1.data = ") and forward[2].endswith(f" = {fmt(out.of)}")
    assert "x.data" in forward[2]
    shares = op.vjp(FLOAT_MATH, 1.0, out.of, *(v.of for v in inputs))
    for v, line, share, g in zip(inputs, backward[2:], shares, grad(out, inputs)):
        assert line.startswith(f"{v.label}.grad += ") and line.endswith(f" = {fmt(share)}")
        assert share == g  # each input is used once: its whole gradient
    assert all("object at" not in line for line in forward + backward)


def test_a_rule_that_cannot_be_printed_still_shows_its_numbers(restore_op_table: None) -> None:
    op = nanograd.register_op(
        "clip", "clip", 1, lambda m, x: x if x < 1 else 1.0, lambda m, g, out, x: (g if x < 1 else 0.0,)
    )
    y = op(Value(0.5, label="x"))
    lines = [line for s in page_data(explore(y))["steps"] for line in s["lines"]]
    assert "v1.data = 0.5000 (op clip's rule cannot be printed as a formula)" in lines
    assert "x.grad += 1.0000 (this rule cannot be printed as a formula)" in lines


def test_a_micrograd_style_custom_op_is_shown_without_running_its_backward() -> None:
    x = Value(2.0, label="x")
    out = Value(x.data**3, (x,), "cube")
    calls: list[float] = []

    def backward() -> None:
        calls.append(out.grad)
        x.grad += 3 * x.data**2 * out.grad

    out._backward = backward
    data = page_data(explore(out))
    assert calls == [1.0]  # only nanograd.grad's own backward pass ran it
    assert data["nodes"][0]["grad"] == "12.0" and x.grad == 0.0
    assert any("micrograd-style custom op" in line for s in data["steps"] for line in s["lines"])


def test_the_page_is_one_file_that_loads_nothing_and_has_no_tooltips() -> None:
    page = explore(neuron()).html
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<?xml" not in page
    assert not re.search(r"<link|<iframe|\bsrc=|@import|url\(|fetch\(|XMLHttpRequest", page)
    assert set(re.findall(r"https?://[^\s\"']+", page)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    assert "<title>" in page and "%3" not in page  # the page's own title only: Graphviz's are gone
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "<title>" not in svg and "<!--" not in svg


def test_user_text_is_escaped() -> None:
    y = Value(1.0, label=XSS) * 2
    page = explore(y, title="</title>" + XSS)
    assert "<script>window" not in page.html and "<img" not in page.html and "</title><" not in page.html
    assert page_data(page)["nodes"][0]["name"] == XSS
    assert "&lt;/title&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page.html


HOSTILE_SYMBOLS = [LINK, "<b>", "<lambda>", "\\", '"]; x [label="y', "{|}", "&amp;", "a\nb"]


@pytest.mark.parametrize("symbol", HOSTILE_SYMBOLS)
def test_any_op_symbol_makes_a_page(symbol: str, restore_op_table: None) -> None:
    op = nanograd.Op("odd", symbol, 1, lambda m, x: 2 * x, lambda m, g, out, x: (2 * g,))
    custom = Value(4.0, (Value(2.0, label=symbol),), symbol)
    y = op(custom)
    page = explore(y).html
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "<a " not in svg and "<b>" not in svg and "<lambda>" not in svg


def test_repr_html_is_an_isolated_iframe_of_the_page() -> None:
    page = explore(neuron())
    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" [^>]*></iframe>', page._repr_html_())
    assert match is not None and html.unescape(match[1]) == page.html


def test_save_replaces_the_file_atomically_and_names_the_path_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "graph.html"
    path.write_text("old")
    page = explore(neuron())
    assert page.save(path) == path and path.read_text(encoding="utf-8") == page.html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.html"]
    with pytest.raises(FileNotFoundError) as info:
        page.save(tmp_path / "missing" / "graph.html")
    message = str(info.value)
    assert message.endswith(f"'{tmp_path / 'missing' / 'graph.html'}'") and "nanograd-tmp" not in message


def test_save_keeps_an_error_that_has_a_message_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: object, binary: bool = False) -> object:
        raise OSError(f"{path}: a FIFO, not a regular file")

    monkeypatch.setattr(nanograd.explorer, "atomic_write", refuse)
    with pytest.raises(OSError, match=r"graph.html: a FIFO, not a regular file$"):
        explore(neuron()).save(tmp_path / "graph.html")


def big_graph() -> Value:
    random.seed(1)
    y = nn.MLP(2, [8, 8, 1])([Value(1.0), Value(-1.0)])
    assert isinstance(y, Value)
    return y


def test_a_large_graph_shows_the_values_nearest_the_output_and_says_so() -> None:
    y = big_graph()
    data = page_data(explore(y, max_nodes=60))
    assert len(data["nodes"]) == 60
    assert data["nodes"][-1]["data"] == repr(y.of)
    assert "This graph has more than max_nodes=60 nodes; the page shows the 60 nearest the output." in data["notice"]
    # every value shown except the output feeds one that is shown: the page is one connected piece
    fed = {i for node in data["nodes"] for i in node["inputs"]}
    assert fed == set(range(59))


def test_a_deep_graph_is_explored_near_its_output_without_walking_it_for_the_drawing() -> None:
    y = Value(1.0)
    for _ in range(20_000):
        y = y + 1.0
    data = page_data(explore(y, max_nodes=30))
    assert len(data["nodes"]) == 30 and data["nodes"][-1]["data"] == repr(y.of)
    assert data["nodes"][0]["grad"] == "1.0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rankdir": "RL"}, "rankdir must be one of LR, TB"),
        ({"max_nodes": 0}, "max_nodes must be at least 1"),
        ({"view": "layers"}, "view must be one of values, neurons"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        explore(neuron(), **kwargs)


def test_a_step_changes_only_its_own_texts_and_says_how_to_undo_them() -> None:
    y = seed_example()
    steps = page_data(explore(y))["steps"]
    shown: dict[tuple[int, str], str] = {}
    for step in steps:
        assert len(step["updates"]) <= 3  # the node itself and at most two operands: never the whole page
        for i, field, before, after in step["updates"]:
            assert shown.get((i, field), f"{field} ?") == before
            shown[i, field] = after


# -- the page in a browser ----------------------------------------------------------------------


def chromium() -> str | None:
    """A Chromium installed on the system (never downloaded)."""
    return os.environ.get("NANOGRAD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium()
    if path is None:
        pytest.skip("no Chromium installed: apt-get install chromium, or set NANOGRAD_CHROMIUM=/path/to/chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="no Playwright for Python: pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path)
        yield b
        b.close()


class Opened:
    """A page open in the browser, with the console errors and uncaught exceptions it produced."""

    def __init__(self, browser: Any, path: Path, width: int, height: int) -> None:
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.as_uri())

    def text(self, selector: str) -> str:
        return str(self.page.text_content(selector))

    def records(self) -> list[tuple[str, str]]:
        """The ``data`` and ``grad`` texts of the records n0, n1, ... as the SVG shows them now."""
        return [tuple(r) for r in self.page.evaluate(RECORDS_JS)]

    def position(self) -> str:
        return self.text("#position")


RECORDS_JS = """() => Array.from(document.querySelectorAll("#graph g.node.record:not(.copy)"))
  .sort((g, h) => g.id.slice(1) - h.id.slice(1))
  .map((g) => Array.from(g.querySelectorAll("text")).slice(-2).map((t) => t.textContent))"""


@pytest.fixture
def open_page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    opened: list[Opened] = []

    def open_(page: Explorer, width: int = 1000, height: int = 700) -> Opened:
        opened.append(Opened(browser, page.save(tmp_path / f"page{len(opened)}.html"), width, height))
        return opened[-1]

    yield open_
    for o in opened:
        o.page.close()


@pytest.mark.parametrize("make", [seed_example, neuron])
def test_stepping_shows_every_value_then_every_gradient(open_page: Any, make: Any) -> None:
    y = make()
    nodes = walk(y)
    grads = grad(y, nodes)
    n = len(nodes)
    o = open_page(explore(y))
    assert o.position() == f"step 0 of {2 * n}"
    assert set(o.records()) == {("data ?", "grad ?")}
    for k, v in enumerate(nodes, 1):
        o.page.click("#step")
        assert o.text("#node-data") == repr(v.of)
        assert o.text("#node-grad") == "not computed yet"
        assert o.position() == f"step {k} of {2 * n}"
        if k == n // 2:
            assert o.records() == [(f"data {fmt(w.of)}", "grad ?") for w in nodes[:k]] + [("data ?", "grad ?")] * (
                n - k
            )
    for v, g in reversed(list(zip(nodes, grads))):
        o.page.click("#step")
        assert o.text("#node-grad") == repr(g)
        assert o.records()[nodes.index(v)] == (f"data {fmt(v.of)}", f"grad {fmt(g)}")
    o.page.click("#step")  # past the end: stays there
    assert o.position() == f"step {2 * n} of {2 * n}"
    assert o.records() == [(f"data {fmt(v.of)}", f"grad {fmt(g)}") for v, g in zip(nodes, grads)]
    assert o.errors == []


def test_stepping_back_undoes_exactly_what_stepping_forward_did(open_page: Any) -> None:
    o = open_page(explore(seed_example()))
    seen = {}
    for k in range(1, 55):
        o.page.keyboard.press("ArrowRight")
        seen[k] = (o.records(), o.page.eval_on_selector_all("#graph .computed, #graph .complete", "e => e.length"))
    for k in range(53, 0, -1):
        o.page.keyboard.press("ArrowLeft")
        assert (
            o.records(),
            o.page.eval_on_selector_all("#graph .computed, #graph .complete", "e => e.length"),
        ) == seen[k]
    o.page.keyboard.press("End")
    assert o.records() == seen[54][0]
    assert o.errors == []


def test_a_step_touches_the_same_few_texts_early_and_late_in_a_long_pass(open_page: Any) -> None:
    y = Value(0.5, label="x")
    random.seed(0)
    while len(walk(y)) < 2000:
        y = (y * Value(random.uniform(0.5, 1.5))).tanh()
    o = open_page(explore(y, max_nodes=2000))
    count = """(k) => { let changes = 0; const seen = new MutationObserver((m) => { changes += m.length; });
      const all = { subtree: true, characterData: true, childList: true, attributes: true };
      seen.observe(document.getElementById("graph"), all);
      for (let i = 0; i < k; i++) document.getElementById("step").click();
      return new Promise((done) => setTimeout(() => { seen.disconnect(); done(changes); }, 0)); }"""
    early = o.page.evaluate(count, 1)
    o.page.evaluate("(k) => { for (let i = 0; i < k; i++) document.getElementById('step').click(); }", 3000)
    late = o.page.evaluate(count, 1)
    assert early <= 20 and late <= 20  # a step replays nothing: its own updates and highlights only
    assert o.errors == []


def test_the_current_node_and_the_edges_it_reads_are_highlighted(open_page: Any) -> None:
    y = neuron()  # node 3 is v3 = v2 * x1: the product of the first (unnamed) weight and x1
    o = open_page(explore(y))
    for _ in range(4):
        o.page.click("#step")
    ids = "(e) => e.map((g) => g.id).sort()"
    assert o.page.eval_on_selector_all("#graph .current", ids) == ["n3", "n3_op"]
    assert o.page.eval_on_selector_all("#graph .reading", ids) == ["n3_e0", "n3_e1"]
    assert o.text("#node-name") == "v3" and "v3.data = v2.data * x1.data" in o.text("#lines")


def test_the_keyboard_steps_jumps_and_plays(open_page: Any) -> None:
    o = open_page(explore(neuron()))
    for _ in range(3):
        o.page.keyboard.press("ArrowRight")
    assert o.position() == "step 3 of 20"
    o.page.keyboard.press("ArrowLeft")
    assert o.position() == "step 2 of 20"
    o.page.keyboard.press("End")
    assert o.position() == "step 20 of 20" and o.text("#node-name") == "v1"
    o.page.keyboard.press("Home")
    assert o.position() == "step 0 of 20"
    o.page.locator("#speed").fill("10")
    o.page.locator("h1").click()  # the focus leaves the slider, which keeps its own arrow keys
    o.page.keyboard.press(" ")
    assert o.page.get_attribute("#play", "aria-pressed") == "true" and o.text("#play") == "Pause"
    o.page.wait_for_function("document.getElementById('position').textContent.startsWith('step 20 ')")
    assert o.page.get_attribute("#play", "aria-pressed") == "false"  # playing stops at the end
    o.page.keyboard.press(" ")  # play again from the start, then pause
    o.page.wait_for_function("document.getElementById('position').textContent !== 'step 0 of 20'")
    o.page.keyboard.press(" ")
    paused_at = o.position()
    o.page.wait_for_timeout(400)
    assert o.position() == paused_at != "step 20 of 20"
    assert o.errors == []


def test_the_keys_keep_working_after_a_button_or_the_slider_was_used(open_page: Any) -> None:
    o = open_page(explore(neuron()))
    o.page.click("#step")
    o.page.keyboard.press("ArrowRight")
    assert o.position() == "step 2 of 20"
    o.page.keyboard.press(" ")  # plays; the Step button clicked with the mouse kept no focus
    assert o.text("#play") == "Pause"
    o.page.click("#play")
    o.page.click("#start")
    box = o.page.locator("#speed").bounding_box()
    o.page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2)  # set the speed with the mouse
    assert int(o.page.input_value("#speed")) > 3
    o.page.keyboard.press("ArrowRight")
    o.page.keyboard.press("ArrowRight")
    assert o.position() == "step 2 of 20" and int(o.page.input_value("#speed")) > 3
    assert o.errors == []


def test_hostile_text_shows_as_text_runs_nothing_and_makes_no_link(open_page: Any, restore_op_table: None) -> None:
    op = nanograd.Op("odd", LINK, 1, lambda m, x: 2 * x, lambda m, g, out, x: (2 * g,))
    custom = Value(2.0, (Value(1.0, label=XSS),), LINK)
    y = op(custom) * 2
    o = open_page(explore(y, title=XSS))
    for _ in range(3):
        o.page.click("#step")
    shown = o.page.locator("#graph text").all_text_contents()
    assert LINK in shown and XSS in shown
    assert o.text("h1") == XSS and o.page.title() == XSS and LINK in o.text("#lines")
    o.page.locator("#graph text", has_text="click").first.click()
    assert o.page.evaluate("window.pwned") is None
    assert o.page.locator("a").count() == 0 and o.page.locator("img").count() == 0
    assert o.page.locator("script").count() == 2  # the page's own two
    assert o.errors == []


def test_the_inside_of_a_neuron_opens_on_demand(open_page: Any) -> None:
    model, loss = mlp_on_points(1)
    page = explore(loss, model=model)
    data = page_data(page)
    o = open_page(page)
    assert o.page.is_hidden("#inside")
    first = next(i for i, n in enumerate(data["nodes"]) if n["name"] == "layers.1.neurons.0")
    o.page.click(f"#n{first}")  # a click on the neuron's node
    assert o.page.is_visible("#inside") and o.text("#inside-name") == "layers.1.neurons.0"
    rows = o.page.eval_on_selector_all(
        "#inside-rows tr", "e => e.map((r) => Array.from(r.cells, (c) => c.textContent))"
    )
    assert rows[0] == ["b", "?", "?"] and len(rows) == 1 + 3 * 4 + 2  # nothing computed yet
    for _ in range(first + 1):
        o.page.keyboard.press("ArrowRight")
    assert o.text("#node-name") == "layers.1.neurons.0" and o.page.is_visible("#inside-toggle")
    card = data["nodes"][first]["card"]
    rows = o.page.eval_on_selector_all(
        "#inside-rows tr", "e => e.map((r) => Array.from(r.cells, (c) => c.textContent))"
    )
    assert rows == [[name, value, "?"] for name, value, _ in card]
    o.page.keyboard.press("End")
    rows = o.page.eval_on_selector_all(
        "#inside-rows tr", "e => e.map((r) => Array.from(r.cells, (c) => c.textContent))"
    )
    assert rows == card
    assert o.text("#node-name") == "layers.0.neurons.0"  # the last step: the first neuron's backward pass
    o.page.keyboard.press("i")  # the key opens the inside of the current step's neuron ...
    assert o.text("#inside-name") == "layers.0.neurons.0"
    o.page.keyboard.press("i")  # ... and closes it
    assert o.page.is_hidden("#inside")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    o.page.click(f"#n{first}")
    o.page.screenshot(path=ARTIFACTS / "explore-neurons.png", full_page=True)
    assert o.errors == []


def test_a_large_graph_opens_with_its_notice_and_steps_to_the_end(open_page: Any) -> None:
    o = open_page(explore(big_graph(), max_nodes=60))
    assert o.page.is_visible("#notice") and "nearest the output" in o.text("#notice")
    assert len(o.records()) == 60
    o.page.keyboard.press("End")
    assert o.position() == "step 120 of 120"
    assert o.errors == []


@pytest.mark.parametrize("width", [390, 760])
def test_the_page_fits_a_phone_and_a_notebook_without_sideways_scrolling(open_page: Any, width: int) -> None:
    model, loss = mlp_on_points(1)
    for page in (explore(seed_example()), explore(loss, model=model)):
        o = open_page(page, width=width, height=844)
        o.page.keyboard.press("End")
        assert o.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert o.errors == []


def assert_not_blank(png: Path) -> None:
    image = pytest.importorskip("PIL.Image").open(png).convert("L")
    histogram = image.histogram()
    assert image.width >= 300 and image.height >= 300
    assert sum(histogram[:200]) > 0.01 * image.width * image.height  # text and boxes, not a white page
    assert sum(1 for count in histogram if count) > 20  # and more than a couple of colours


def test_a_screenshot_is_written_for_the_artifacts_and_is_not_blank(open_page: Any) -> None:
    o = open_page(explore(neuron(), title="relu(w1*x1 + w2*x2 + b)"))
    for _ in range(13):
        o.page.keyboard.press("ArrowRight")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    o.page.screenshot(path=ARTIFACTS / "explore-neuron.png", full_page=True)
    assert_not_blank(ARTIFACTS / "explore-neuron.png")
    assert o.errors == []


def test_make_explore_screenshot_writes_the_readme_picture(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "explore.png"
    script = ROOT / "scripts" / "make_explore_screenshot.py"
    subprocess.run([sys.executable, str(script), str(out), "--chromium", str(chromium())], check=True)
    assert_not_blank(out)
    size = pytest.importorskip("PIL.Image").open
    assert size(out).size == size(ROOT / "explore.png").size, "run scripts/make_explore_screenshot.py"


def test_the_page_points_at_the_reference_chain_rule() -> None:
    page = nanograd.explore(Value(2.0) * Value(3.0)).html
    assert "<code>nanograd/backprop.py</code>" in page and "<code>backward</code>" in page
    source = (ROOT / "nanograd" / "backprop.py").read_text(encoding="utf-8")
    assert "\ndef backward(" in source  # the function the page names exists where it says
