"""Tests for ``nanograd.viz``: ``trace``, ``draw_dot`` and ``scripts/make_gout.py``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT

from nanograd import Value, draw_dot, trace

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
    return [m.strip('"') for m in re.findall(r'_op \[label=("[^"]*"|\S+)\]', dot.source)]


def svg_nodes(svg: str | bytes) -> list[ET.Element]:
    """The ``<g class="node">`` elements of a rendered SVG."""
    return [g for g in ET.fromstring(svg).iter(SVG_G) if g.get("class") == "node"]


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


def test_trace_lists_a_literal_operand_as_a_constant_leaf() -> None:
    x = Value(2.0)
    nodes, edges = trace(x * 3.0)
    assert [v.data for v in nodes] == [2.0, 3.0, 6.0]
    assert edges == [(nodes[0], nodes[2]), (nodes[1], nodes[2])]


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
    assert out.stdout.splitlines() == ["2 2", 'draw_dot needs the graphviz Python package: pip install "nanograd[viz]"']


# -- draw_dot: the graph ---------------------------------------------------------------------


def test_draw_dot_draws_a_record_per_value_and_a_node_per_op() -> None:
    _, _, c = expression()
    dot = draw_dot(c)
    assert isinstance(dot, graphviz.Digraph)
    assert dot.source.count("shape=record") == 5  # a, b, a*b, a**2, c
    assert sorted(op_labels(dot)) == ["*", "**2", "+"]
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
    assert dot.source.count("v0 -> v1_op") == 2


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


def test_max_nodes_names_the_graph_size_and_the_limit() -> None:
    _, _, c = expression()
    assert draw_dot(c, max_nodes=5).source.count("shape=record") == 5
    with pytest.raises(ValueError, match=r"the graph has 5 values, more than max_nodes=4"):
        draw_dot(c, max_nodes=4)


def test_default_max_nodes_refuses_a_huge_graph() -> None:
    y = Value(1.0)
    for _ in range(1000):
        y = -y
    with pytest.raises(ValueError, match=r"the graph has 1001 values, more than max_nodes=500"):
        draw_dot(y)


def test_missing_graphviz_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    with pytest.raises(ImportError, match=r'pip install "nanograd\[viz\]"'):
        draw_dot(Value(1.0))


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


def test_building_needs_no_dot_program_and_rendering_does(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, c = expression()
    monkeypatch.setenv("PATH", "")
    dot = draw_dot(c)
    assert "shape=record" in dot.source
    with pytest.raises(graphviz.ExecutableNotFound):
        dot.pipe()


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
