"""Tests for ``nanograd.explore``: the page's data and formulas in Python, then the page in a real browser.

The browser tests drive a system Chromium (``apt-get install chromium``; another one with
``NANOGRAD_CHROMIUM=/path``) headless through Playwright for Python; they never download a
browser, and skip, saying why, when either is missing. Screenshots go to
``$NANOGRAD_TEST_ARTIFACTS`` (default: ``test-artifacts/`` at the repository root).
"""

from __future__ import annotations

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
from conftest import ROOT, chromium
from conftest import seed_example as seed_graph

from nanograd import OPS, Value, nn
from nanograd.explore import Explorer, explore, print_rule
from nanograd.float_math import FLOAT_MATH
from nanograd.viz import trace

pytest.importorskip("graphviz")
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")

ARTIFACTS = Path(os.environ.get("NANOGRAD_TEST_ARTIFACTS", ROOT / "test-artifacts"))
XSS = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def seed_example() -> Value:
    """The README's example (the seed's), backpropagated."""
    g = seed_graph()[2]
    g.backpropagate()
    return g


def neuron() -> Value:
    """The README's 2D neuron with random.seed(1337), as in gout.svg, backpropagated."""
    random.seed(1337)
    y = nn.Neuron(2)([Value(1.0, label="x1"), Value(-2.0, label="x2")])
    y.backpropagate()
    return y


def page_data(page: Explorer) -> Any:
    match = re.search(r'<script type="application/json" id="data">(.*?)</script>', page.html, re.S)
    assert match is not None
    return json.loads(match[1])


# -- the page, read in Python ------------------------------------------------------------------


def test_the_page_embeds_nanograds_own_values_and_gradients() -> None:
    y = seed_example()
    nodes = trace(y)[0]
    data = page_data(explore(y))
    assert [(n["data"], n["grad"]) for n in data["nodes"]] == [(repr(v.of), repr(v.gradient)) for v in nodes]
    assert len(data["steps"]) == 2 * len(nodes) and data["notice"] == ""
    forward, backward = data["steps"][: len(nodes)], data["steps"][len(nodes) :]
    assert [s["node"] for s in forward] == list(range(len(nodes)))
    assert [s["node"] for s in backward] == list(reversed(range(len(nodes))))
    assert data["steps"][-1]["updates"] == [[0, "grad", f"grad {nodes[0].gradient:.4f}"]]


def test_the_panel_prints_the_chain_rule_product_from_the_op_table() -> None:
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    out = a * b
    out.label = "out"
    y = out.tanh()
    y.backpropagate()
    steps = page_data(explore(y))["steps"]
    mul_forward, mul_backward = steps[2], steps[-3]
    assert "out.data = a.data * b.data = 2.0 * -3.0 = -6.0" in mul_forward["lines"]
    assert "op mul (*): x * y" in mul_forward["lines"]
    g = out.gradient
    assert f"a.grad += out.grad * b.data = {g!r} * -3.0 = {g * -3.0!r}" in mul_backward["lines"]
    assert f"b.grad += out.grad * a.data = {g!r} * 2.0 = {g * 2.0!r}" in mul_backward["lines"]
    tanh_backward = steps[4]
    assert tanh_backward["lines"][-1] == (
        f"out.grad += v3.grad * ((1 - v3.data) * (1 + v3.data)) = 1.0 * ((1 - {y.of!r}) * (1 + {y.of!r})) = {g!r}"
    )


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
    out.backpropagate()
    op = out.op
    assert op is not None
    steps = page_data(explore(out))["steps"]
    n = len(op_inputs := out.inputs)
    forward, backward = steps[n]["lines"], steps[n + 1]["lines"]
    assert forward[0] == f"v{n} = {op.name}({', '.join(v.label for v in op_inputs)})"
    assert forward[1] == f"op {op.name} ({op.symbol}): {op.doc}"
    assert forward[2].startswith(f"v{n}.data = ") and forward[2].endswith(f" = {out.of!r}")
    assert "x.data" in forward[2]
    shares = op.vjp(FLOAT_MATH, 1.0, out.of, *(v.of for v in op_inputs))
    for v, line, share in zip(op_inputs, backward[2:], shares):
        assert line.startswith(f"{v.label}.grad += ") and line.endswith(f" = {share!r}")
        assert share == v.gradient  # each input is used once: its whole gradient
    assert all("object at" not in line for line in forward + backward)


@pytest.mark.parametrize(
    ("rule", "args", "printed"),
    [
        (lambda m, x, y: (x - y) * -y, ("a", "b"), ["(a - b) * -b"]),
        (lambda m, x, y: x - (y - x) / (x * y), ("a", "b"), ["a - (b - a) / (a * b)"]),
        (lambda m, x: ((-x) ** 2 + 2**x**3, (2**x) ** 3), ("a",), ["(-a) ** 2 + 2 ** a ** 3", "(2 ** a) ** 3"]),
        (lambda m, x: m.pow(x, 2) * m.exp(-x), (-3.0,), ["(-3.0) ** 2 * exp(-(-3.0))"]),
        (lambda m, g, x: (g * (x > 0), m.xlogy(x, g)), ("g", 0.5), ["g * (0.5 > 0)", "0.5 * log(g)"]),
    ],
)
def test_print_rule_writes_rules_with_the_parentheses_python_needs(rule: Any, args: tuple, printed: list[str]) -> None:
    assert print_rule(rule, *args) == printed


def test_print_rule_refuses_a_rule_that_branches() -> None:
    with pytest.raises(TypeError, match="branches"):
        print_rule(lambda m, x: x if x > 0 else -x, "a")


def test_the_page_is_one_file_that_loads_nothing() -> None:
    page = explore(neuron()).html
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<?xml" not in page
    assert not re.search(r"<link|<iframe|\bsrc=|@import|url\(|fetch\(|XMLHttpRequest", page)
    assert set(re.findall(r"https?://[^\s\"']+", page)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }


def test_user_text_is_escaped() -> None:
    y = Value(1.0, label=XSS) * 2
    y.backpropagate()
    page = explore(y, title="</title>" + XSS)
    assert "<script>window" not in page.html and "<img" not in page.html and "</title><" not in page.html
    assert page_data(page)["nodes"][0]["name"] == XSS
    assert "&lt;/title&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page.html


def test_repr_html_is_an_isolated_iframe_of_the_page() -> None:
    page = explore(neuron())
    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" [^>]*></iframe>', page._repr_html_())
    assert match is not None and html.unescape(match[1]) == page.html


def test_save_replaces_the_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "graph.html"
    path.write_text("old")
    page = explore(neuron())
    assert page.save(path) == path and path.read_text(encoding="utf-8") == page.html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.html"]
    with pytest.raises(FileNotFoundError):
        page.save(tmp_path / "missing" / "graph.html")


def big_graph() -> Value:
    random.seed(1)
    y = nn.MLP(2, [8, 8, 1])([Value(1.0), Value(-1.0)])
    y.backpropagate()
    return y


def test_a_large_graph_shows_the_values_nearest_the_output_and_says_so() -> None:
    y = big_graph()
    total = len(trace(y)[0])
    data = page_data(explore(y, max_nodes=60))
    assert len(data["nodes"]) == 60 < total
    assert data["nodes"][-1]["data"] == repr(y.of)
    assert f"This graph has {total} values; the page shows the 60 nearest the output." in data["notice"]
    # every value shown except the output feeds one that is shown: the page is one connected piece
    fed = {i for node in data["nodes"] for i in node["inputs"]}
    assert fed == set(range(59))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"rankdir": "RL"}, "rankdir must be one of LR, TB"), ({"max_nodes": 0}, "max_nodes must be at least 1")],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        explore(neuron(), **kwargs)


def test_explore_asks_for_backpropagate_first() -> None:
    with pytest.raises(ValueError, match=r"call root.backpropagate\(\) first"):
        explore(Value(2.0) * 3)


# -- the page in a browser ----------------------------------------------------------------------


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
        """The ``data`` and ``grad`` texts of the records v0, v1, ... as the SVG shows them now."""
        return [tuple(r) for r in self.page.evaluate(RECORDS_JS)]


RECORDS_JS = """() => Array.from(document.querySelectorAll("#graph g.node"))
  .filter((g) => /^v\\d+$/.test(g.querySelector("title").textContent))
  .sort((g, h) => g.querySelector("title").textContent.slice(1) - h.querySelector("title").textContent.slice(1))
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
    nodes = trace(y)[0]
    n = len(nodes)
    o = open_page(explore(y))
    assert o.text("#position") == f"step 0 of {2 * n}"
    assert set(o.records()) == {("data ?", "grad ?")}
    for k, v in enumerate(nodes, 1):
        o.page.click("#step")
        assert o.text("#node-data") == repr(v.of) and float(o.text("#node-data")) == v.of
        assert o.text("#node-grad") == "not computed yet"
        assert o.text("#position") == f"step {k} of {2 * n}"
        if k == n // 2:
            assert o.records() == [(f"data {w.of:.4f}", "grad ?") for w in nodes[:k]] + [("data ?", "grad ?")] * (n - k)
    for v in reversed(nodes):
        o.page.click("#step")
        assert o.text("#node-grad") == repr(v.gradient) and float(o.text("#node-grad")) == v.gradient
        assert o.records()[nodes.index(v)] == (f"data {v.of:.4f}", f"grad {v.gradient:.4f}")
    o.page.click("#step")  # past the end: stays there
    assert o.text("#position") == f"step {2 * n} of {2 * n}"
    assert o.records() == [(f"data {v.of:.4f}", f"grad {v.gradient:.4f}") for v in nodes]
    assert o.page.locator("#graph .current").count() == 1 + (nodes[0].op is not None)
    assert o.errors == []


def test_the_current_node_and_the_edges_it_reads_are_highlighted(open_page: Any) -> None:
    y = neuron()  # v3 = v1 * x1
    o = open_page(explore(y))
    for _ in range(4):
        o.page.click("#step")
    titles = "(e) => e.map((g) => g.querySelector('title').textContent).sort()"
    assert o.page.eval_on_selector_all("#graph .current", titles) == ["v3", "v3_op"]
    assert o.page.eval_on_selector_all("#graph .reading", titles) == ["v1->v3_op", "v2->v3_op"]
    assert o.text("#node-name") == "v3" and "v3.data = v1.data * x1.data" in o.text("#lines")


def test_the_keyboard_steps_jumps_and_plays(open_page: Any) -> None:
    o = open_page(explore(neuron()))
    position = lambda: o.text("#position")
    for _ in range(3):
        o.page.keyboard.press("ArrowRight")
    assert position() == "step 3 of 20"
    o.page.keyboard.press("ArrowLeft")
    assert position() == "step 2 of 20"
    o.page.keyboard.press("End")
    assert position() == "step 20 of 20" and o.text("#node-name") == "v0"
    o.page.keyboard.press("Home")
    assert position() == "step 0 of 20"
    o.page.locator("#speed").fill("10")
    o.page.locator("h1").click()  # the focus leaves the slider, which keeps its own arrow keys
    o.page.keyboard.press(" ")
    assert o.page.get_attribute("#play", "aria-pressed") == "true" and o.text("#play") == "Pause"
    o.page.wait_for_function("document.getElementById('position').textContent.startsWith('step 20 ')")
    assert o.page.get_attribute("#play", "aria-pressed") == "false"  # playing stops at the end
    o.page.keyboard.press(" ")  # play again from the start, then pause
    o.page.wait_for_function("document.getElementById('position').textContent !== 'step 0 of 20'")
    o.page.keyboard.press(" ")
    paused_at = position()
    o.page.wait_for_timeout(400)
    assert position() == paused_at != "step 20 of 20"
    assert o.errors == []


def test_a_label_with_script_shows_as_text_and_runs_nothing(open_page: Any) -> None:
    y = Value(1.0, label=XSS) * 2
    y.backpropagate()
    o = open_page(explore(y, title=XSS))
    o.page.click("#step")
    assert o.page.evaluate("window.pwned") is None
    assert o.text("h1") == XSS and o.page.title() == XSS and o.text("#node-name") == XSS
    assert XSS in o.page.locator("#graph text").all_text_contents()
    assert o.page.locator("img").count() == 0 and o.page.locator("script").count() == 2  # the page's own two
    assert o.errors == []


def test_a_large_graph_opens_with_its_notice_and_steps_to_the_end(open_page: Any) -> None:
    o = open_page(explore(big_graph(), max_nodes=60))
    assert o.page.is_visible("#notice") and "nearest the output" in o.text("#notice")
    assert len(o.records()) == 60
    o.page.keyboard.press("End")
    assert o.text("#position") == "step 120 of 120"
    assert o.errors == []


def test_a_phone_sized_screen_needs_no_sideways_scrolling_of_the_page(open_page: Any) -> None:
    o = open_page(explore(seed_example()), width=390, height=844)
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
