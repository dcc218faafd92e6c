"""Tests for ``nanograd.viz`` and ``nanograd.render``: ``trace``, ``draw_dot``, bounded drawing, escaping,
and ``scripts/make_gout.py``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT

import nanograd
import nanograd.render
from nanograd import Value, draw_dot, topological_order, trace, zero_grad
from nanograd.render import DrawingError
from nanograd.viz import Box, draw_boxes, draw_graph, format_number, walk

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")

SVG_G = "{http://www.w3.org/2000/svg}g"
SVG_TEXT = "{http://www.w3.org/2000/svg}text"


def expression() -> tuple[Value, Value, Value]:
    """``a, b, c`` with ``c = a * b + a**2`` backpropagated: dc/da = b + 2a = 1, dc/db = a = 2."""
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = a * b + a**2
    c.backpropagate()
    return a, b, c


def op_labels(dot: graphviz.Digraph) -> list[str]:
    """The labels of the op nodes in ``dot``'s source, in order."""
    return [m.strip('"') for m in re.findall(r'_op \[label=("[^"]*"|[^\s\]]+)', dot.source)]


def svg_nodes(svg: str | bytes) -> list[ET.Element]:
    """The ``<g class="node">`` elements of a rendered SVG."""
    return [g for g in ET.fromstring(svg).iter(SVG_G) if "node" in (g.get("class") or "").split()]


def svg_texts(svg: str | bytes) -> list[str]:
    """Every text shown in a rendered SVG, sorted (independent of node names and layout)."""
    return sorted(t.text or "" for t in ET.fromstring(svg).iter(SVG_TEXT))


# -- trace ---------------------------------------------------------------------------------


def test_trace_of_a_leaf_is_the_leaf_alone() -> None:
    a = Value(1.0)
    assert trace(a) == ([a], [])


def test_trace_lists_inputs_before_outputs_in_argument_order() -> None:
    a, b = Value(2.0), Value(3.0)
    c = a * b
    d = c + a
    nodes, edges = trace(d)
    assert nodes == [a, b, c, d]
    assert edges == [(a, c), (b, c), (c, d), (a, d)]


def test_trace_keeps_both_edges_of_a_value_used_twice() -> None:
    a = Value(2.0)
    b = a + a
    assert trace(b) == ([a, b], [(a, b), (a, b)])


def test_trace_lists_a_literal_operand_as_the_constant_it_is() -> None:
    x = Value(2.0)
    y = x * 3.0
    nodes, edges = trace(y)
    assert nodes == [x, y]
    assert edges == [(x, y), (3.0, y)]
    assert y.operands == (x, 3.0)  # still a literal: walking made no leaf of it


def test_trace_stops_counting_at_max_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    y = Value(1.0)
    for _ in range(100_000):
        y = y + 1.0
    reads = 0
    operands = Value.operands

    def counted(self: Value) -> object:
        nonlocal reads
        reads += 1
        return operands.fget(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(Value, "operands", property(counted))
    with pytest.raises(ValueError, match=r"the graph has more than max_nodes=500 values"):
        draw_dot(y)
    assert reads <= 501  # the walk read no further than the limit
    with pytest.raises(ValueError, match=r"more than max_nodes=10 values"):
        walk(y, max_nodes=10)
    monkeypatch.undo()
    assert len(walk(y, max_nodes=100_001)) == 100_001


def test_trace_has_no_recursion_limit() -> None:
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = -y
    nodes, edges = trace(y)
    assert len(nodes) == 100_001 and len(edges) == 100_000
    assert nodes[0] is x and nodes[-1] is y


def test_import_and_trace_need_no_optional_package() -> None:
    """``import nanograd`` and ``trace`` work where graphviz (or any other extra) cannot be imported."""
    code = """
import sys
for name in ("graphviz", "numpy", "torch", "matplotlib", "sklearn"):
    sys.modules[name] = None  # makes `import name` raise ImportError
import nanograd, nanograd.engine, nanograd.nn
from nanograd import Value, draw_dot, trace
a = Value(2.0)
nodes, edges = trace(a * a)
print(len(nodes), len(edges))
try:
    draw_dot(a)
except ImportError as e:
    print(e)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "2 2",
        "drawing needs the graphviz Python package: pip install graphviz (or, from a nanograd checkout, "
        'pip install -e ".[viz]" --config-settings editable_mode=compat)',
    ]


# -- draw_dot: the graph ---------------------------------------------------------------------


def test_draw_dot_draws_a_record_per_value_and_a_node_per_op() -> None:
    _, _, c = expression()
    dot = draw_dot(c)
    assert isinstance(dot, graphviz.Digraph)
    assert dot.source.count("shape=record") == 5  # a, b, a*b, a**2, c
    assert sorted(op_labels(dot)) == ["*", "**2", "+"]
    assert "dashed" not in dot.source  # no use is far enough to need a copy
    assert dot.source.count("->") == 3 + 5  # op -> result, plus one edge per input slot
    assert "{ a | data 2.0000 | grad 1.0000 }" in dot.source
    assert "{ b | data -3.0000 | grad 2.0000 }" in dot.source
    assert "{ data -6.0000 | grad 1.0000 }" in dot.source  # a * b: unlabelled
    assert "{ data -2.0000 | grad 1.0000 }" in dot.source  # c


def test_draw_dot_shows_the_op_table_symbols() -> None:
    x = Value(0.5)
    y = ((x * 2).relu().tanh() - 1) ** 2 / x.exp()
    y.backpropagate()
    symbols = [v.op.symbol for v in trace(y)[0] if v.op is not None]
    assert op_labels(draw_dot(y)) == symbols
    assert {"relu", "tanh", "**2", "exp", "/"} <= set(symbols)


def test_draw_dot_draws_a_value_used_twice_with_two_edges() -> None:
    a = Value(3.0)
    dot = draw_dot(a + a)
    assert dot.source.count("n0 -> n1_op") == 2


def test_a_literal_is_a_constant_record_without_a_gradient() -> None:
    x = Value(2.0, label="x")
    y = x**2 + 3 * x
    y.backpropagate()
    source = draw_dot(y).source
    assert source.count("{ const | 3.0000 }") == 1
    assert source.count("grad ") == 4  # x, x**2, 3*x and y: the constant has none
    assert 'fillcolor="#eeeeee"' in source


def test_a_value_used_far_from_where_it_is_drawn_is_drawn_again_next_to_the_use() -> None:
    x, w = Value(0.5, label="x"), Value(0.9, label="w")
    y = x
    for _ in range(6):
        y = (y * w).tanh()
    dot = draw_dot(y)
    copies = re.findall(r"(n\d+_in1) \[label=\"\{ w \| data 0.9000 \| grad 0.0000 \}\"[^]]*style=dashed", dot.source)
    assert len(copies) == 4  # the first use, and the next one within MAX_SPAN, read w itself
    assert len(re.findall(r"\bn1 -> ", dot.source)) == 2 and all(f"{c} -> " in dot.source for c in copies)
    assert 'class="record copy b1"' in dot.source


@pytest.mark.parametrize("x", [0.0, 1.5, -2.0, 123456.7, 1e-7, -3.5e12, float("inf"), float("nan")])
def test_format_number_never_hides_a_nonzero_number(x: float) -> None:
    text = format_number(x)
    assert float(text) == pytest.approx(x, rel=1e-4) or x != x
    assert text not in {"0.0000", "-0.0000"} or x == 0


def test_labels_mapping_overrides_and_adds_labels() -> None:
    a, _, c = expression()
    source = draw_dot(c, labels={a: "alpha", c: "out"}).source
    assert "{ alpha | data 2.0000 | grad 1.0000 }" in source
    assert "{ a |" not in source
    assert "{ b | data -3.0000" in source  # Values not in the mapping keep their .label
    assert "{ out | data -2.0000 | grad 1.0000 }" in source


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_rankdir_is_passed_to_graphviz(rankdir: str) -> None:
    assert f"rankdir={rankdir}" in draw_dot(Value(1.0), rankdir=rankdir).source


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_format_is_passed_to_graphviz(fmt: str) -> None:
    assert draw_dot(Value(1.0), format=fmt).format == fmt


def test_unknown_rankdir_or_format_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"rankdir must be one of LR, TB, got 'RL'"):
        draw_dot(Value(1.0), rankdir="RL")
    with pytest.raises(ValueError, match=r"format must be one of svg, png, pdf, got 'jpg'"):
        draw_dot(Value(1.0), format="jpg")


def test_max_nodes_names_the_limit() -> None:
    _, _, c = expression()
    assert draw_dot(c, max_nodes=5).source.count("shape=record") == 5
    with pytest.raises(ValueError, match=r"the graph has more than max_nodes=4 values"):
        draw_dot(c, max_nodes=4)


def test_default_max_nodes_refuses_a_huge_graph() -> None:
    y = Value(1.0)
    for _ in range(1000):
        y = -y
    with pytest.raises(ValueError, match=r"the graph has more than max_nodes=500 values"):
        draw_dot(y)


def test_missing_graphviz_package_says_how_to_install_it_from_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    nanograd.render.drawing_type.cache_clear()
    with pytest.raises(ImportError, match=r'pip install -e "\.\[viz\]"') as info:
        draw_dot(Value(1.0))
    assert "nanograd[" not in str(info.value)  # on PyPI, nanograd is another project


def graph_state(y: Value) -> tuple[int, list[tuple[object, ...]], list[float]]:
    """What drawing must leave unchanged: the graph's size, every node's operands, and backprop's results."""
    nodes = topological_order(y)
    operands = [v.operands for v in nodes]
    zero_grad(nodes)
    y.backpropagate()
    grads = [v.grad for v in nodes]
    return len(nodes), operands, grads


def test_drawing_changes_nothing_in_the_graph() -> None:
    _, _, g = seed_example()
    before = graph_state(g)
    trace(g)
    draw_dot(g)
    assert graph_state(g) == before


# -- rendering through Graphviz's dot --------------------------------------------------------


@needs_dot
def test_render_writes_an_svg_with_one_node_per_value_and_op(tmp_path: Path) -> None:
    _, _, c = expression()
    path = Path(draw_dot(c).render(tmp_path / "gout"))
    assert path == tmp_path / "gout.svg"
    assert len(svg_nodes(path.read_bytes())) == 5 + 3


@needs_dot
def test_record_special_characters_in_labels_are_shown_verbatim() -> None:
    label = 'a|b {c} <d> "e" \\f'
    svg = draw_dot(Value(1.0, label=label)).pipe(encoding="utf-8")
    assert label in svg_texts(svg)


def test_building_needs_no_dot_program_and_rendering_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, c = expression()
    monkeypatch.setenv("PATH", "")
    dot = draw_dot(c)
    assert "shape=record" in dot.source
    with pytest.raises(
        graphviz.ExecutableNotFound, match=r"dot program is not on the PATH: .*apt-get install graphviz"
    ):
        dot.pipe()


# -- bounded cost: shared nodes, and dot's time and memory limits -------------------------------


def seed_example() -> tuple[Value, Value, Value]:
    from conftest import seed_example as make

    return make()


def shared_node_cases() -> dict[str, Value]:
    """The shapes that made dot's layout run for minutes: one Value read by every step of a long chain."""
    a, b = Value(1.01, label="a"), Value(1.001, label="b")
    product = a
    for _ in range(80):  # a*b*b*...*b, 161 characters
        product = product * b
    total = a
    for _ in range(249):  # a+a+...+a, 499 characters
        total = total + a
    x, w = Value(0.5, label="x"), Value(0.9, label="w")
    chain = x
    for _ in range(50):  # 102 Values, one weight shared by all 50 steps
        chain = (chain * w).tanh()
    return {"product": product, "sum": total, "chain": chain}


@needs_dot
@pytest.mark.parametrize("case", ["product", "sum", "chain"])
def test_a_value_shared_along_a_long_chain_draws_within_the_time_limit(case: str) -> None:
    y = shared_node_cases()[case]
    y.backpropagate()
    svg = draw_dot(y).pipe(encoding="utf-8")  # took dot minutes before copies of far uses; now DrawingError past 20 s
    assert len(svg_nodes(svg)) >= len(topological_order(y))


@needs_dot
def test_dot_past_its_time_limit_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nanograd.render, "TIME_LIMIT", 1e-9)
    with pytest.raises(DrawingError, match=r"did not finish laying out the graph within 1e-09 s"):
        draw_dot(expression()[2]).pipe()


@needs_dot
@pytest.mark.skipif(os.name != "posix", reason="the memory limit is an rlimit, set only on POSIX")
def test_dot_past_its_memory_limit_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nanograd.render, "MEMORY_LIMIT", 1 << 20)  # 1 MiB: too little even to load dot
    with pytest.raises(DrawingError, match=r"ran out of memory \(at most 1 MiB"):
        draw_dot(expression()[2]).pipe()


@needs_dot
def test_every_way_of_rendering_goes_through_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dot = draw_dot(expression()[2])
    assert dot._repr_image_svg_xml().startswith("<?xml")  # Jupyter's display
    monkeypatch.setattr(nanograd.render, "TIME_LIMIT", 1e-9)
    for render in (dot.pipe, lambda: dot.render(tmp_path / "g"), dot._repr_image_svg_xml):
        with pytest.raises(DrawingError):
            render()


# -- user text: shown as text, never read as markup ---------------------------------------------

HOSTILE = [
    '<<a href="javascript:alert(1)">x</a>>',
    "<b>bold</b>",
    "<lambda>",
    "\\N \\G \\l",
    "\\",
    '"; n99 [label="injected"]; "',
    "{ a | b } <port>",
    "&amp; &lt;",
    "]; } digraph {",
]


def shown_texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(SVG_TEXT)]


@needs_dot
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_labels_and_op_symbols_show_as_text_and_make_no_link(text: str, restore_op_table: None) -> None:
    op = nanograd.Op("hostile", text, 1, lambda m, x: 2 * x, lambda m, g, out, x: (2 * g,))
    custom = Value(3.0, (Value(1.0, label=text),), text)  # micrograd's custom-op idiom
    y = op(custom) * Value(2.0, label=text)
    svg = draw_dot(y).pipe(encoding="utf-8")
    texts = shown_texts(svg)
    assert texts.count(text) == 4  # two labels, two op symbols
    assert "<a" not in svg and "injected" not in texts


@needs_dot
def test_long_and_unprintable_text_is_cut_and_replaced() -> None:
    y = Value(1.0, label="x" * 1000) * Value(2.0, label="a\nb\x00c")
    texts = shown_texts(draw_dot(y).pipe(encoding="utf-8"))
    assert "x" * 99 + "\u2026" in texts and "a\ufffdb\ufffdc" in texts


@needs_dot
def test_a_compiled_functions_name_is_escaped_in_both_drawings(restore_op_table: None) -> None:
    nanograd.register_op("odd", "<i>odd</i>", 1, lambda m, x: x * x, lambda m, g, out, x: (2 * g * x,))
    odd = nanograd.OPS["odd"]
    w = Value(0.5, label="w")
    f = nanograd.compile(lambda x: odd(x * w).tanh())
    y = f(Value(1.5))
    svg = draw_dot(y).pipe(encoding="utf-8")
    assert "<lambda>" in shown_texts(svg) and "<a" not in svg  # the compiled call's node
    graph_svg = draw_graph(f.graph).pipe(encoding="utf-8")
    assert "<i>odd</i>" in shown_texts(graph_svg) and "<i>" not in graph_svg


def test_draw_boxes_names_every_part_for_the_explore_page() -> None:
    boxes = [Box("a", 2.0, 1.0), Box("", 6.0, 1.0, "*", (0, 3.0), "op")]
    source = draw_boxes(boxes).source
    for part in (
        'n0 [label="{ a | data 2.0000 | grad 1.0000 }" class="record b0"',
        "n1_op",
        "n1_in1",
        "n1_e0",
        "n1_e1",
    ):
        assert part in source


# -- micrograd's own helper ------------------------------------------------------------------


def micrograd_style_draw_dot(root: object) -> graphviz.Digraph:
    """What micrograd's trace_graph notebook does, using only ``_prev``, ``_op``, ``data``, ``grad``."""
    nodes: set = set()
    edges: set = set()

    def build(v: object) -> None:
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": "LR"})
    for n in nodes:
        uid = str(id(n))
        dot.node(name=uid, label=f"{{ data {n.data:.4f} | grad {n.grad:.4f} }}", shape="record")
        if n._op:
            dot.node(name=uid + n._op, label=n._op)
            dot.edge(uid + n._op, uid)
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


@needs_dot
def test_micrograds_helper_draws_nanograd_values_like_micrograd_values() -> None:
    engine = pytest.importorskip("micrograd.engine")

    def build(value_type: type) -> object:
        a, b = value_type(-4.0), value_type(2.0)
        c = a * b + b**3
        d = c * c + 1.0
        d.backward()
        return d

    ours = micrograd_style_draw_dot(build(Value)).pipe(encoding="utf-8")
    theirs = micrograd_style_draw_dot(build(engine.Value)).pipe(encoding="utf-8")
    assert len(svg_nodes(ours)) == 8 + 5  # a, b, a*b, b**3, c, c*c, 1.0, d and five ops
    assert svg_texts(ours) == svg_texts(theirs)


# -- scripts/make_gout.py --------------------------------------------------------------------


@needs_dot
def test_make_gout_writes_the_seeded_neuron_matching_the_committed_svg(tmp_path: Path) -> None:
    out = tmp_path / "gout.svg"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_gout.py"), str(out)], check=True)
    svg = out.read_bytes()
    assert len(svg_nodes(svg)) == 10 + 5  # x0, x1, w0, w1, b, two products, two sums, relu
    texts = svg_texts(svg)
    assert texts.count("relu") == 1 and texts.count("data 0.1024") == 2  # random.seed(1337)'s neuron
    assert {"x1", "x2", "w1", "w2", "b", "y"} <= set(texts)  # named as in trace_graph.ipynb's labelled drawing
    assert svg_texts((ROOT / "gout.svg").read_bytes()) == svg_texts(svg), "run scripts/make_gout.py"
