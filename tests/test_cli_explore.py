"""Tests for ``nanograd explore EXPRESSION NAME=VALUE ... --out FILE``."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import webbrowser
from pathlib import Path

import pytest

from nanograd.cli import main

pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


@needs_dot
def test_the_issue_example_writes_a_page_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "graph.html"
    result = subprocess.run(
        [sys.executable, "-m", "nanograd", "explore", "(a*b + c).tanh()", "a=2", "b=-3", "c=10", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {out}\n"
    page = out.read_text(encoding="utf-8")
    assert "<title>(a*b + c).tanh()</title>" in page
    data = json.loads(re.search(r'id="data">(.*?)</script>', page, re.S)[1])  # type: ignore[index]
    nodes = {n["name"]: n for n in data["nodes"]}
    y = math.tanh(4.0)
    assert nodes["a"]["grad"] == repr((1 - y) * (1 + y) * -3.0) and nodes["c"]["grad"] == repr((1 - y) * (1 + y))
    assert data["nodes"][-1]["data"] == repr(y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.html"]


@needs_dot
def test_open_asks_the_browser_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or False)
    out = tmp_path / "g.html"
    assert main(["explore", "a * 2", "a=1", "--out", str(out), "--open"]) == 0
    assert opened == [out.resolve().as_uri()]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["__import__('os').system('touch pwned')"], "unknown method .system()"),
        (["__import__('os')"], "function calls are not allowed"),
        (["a.__class__", "a=1"], "attribute access is not allowed"),
        (["(lambda: 1)()"], "function calls are not allowed"),
        (["a ** 99999", "a=2"], "the exponent 99999 is too large"),
        (["a + d", "a=1"], "unknown name 'd'"),
        (["a +", "a=1"], "invalid syntax"),
        (["a + a", "a=1", "a=2"], "a given more than once"),
        (["a.log()", "a=-1"], "math domain error"),
    ],
)
def test_rejected_expressions_write_no_file(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["explore", *args, "--out", "graph.html"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nanograd explore: ") and message in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("assignment", ["a", "a=x", "a=inf", "_a=1", "1a=2"])
def test_bad_assignments_are_usage_errors(assignment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["explore", "a", assignment, "--out", str(tmp_path / "graph.html")])
    assert exit_info.value.code == 2
    assert "usage: nanograd explore" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_an_infinite_gradient_is_shown_as_inf(tmp_path: Path) -> None:
    assert main(["explore", "a.sqrt()", "a=0", "--out", str(tmp_path / "graph.html")]) == 0
    data = json.loads(re.search(r'id="data">(.*?)</script>', (tmp_path / "graph.html").read_text())[1])  # type: ignore[index]
    assert {n["name"]: n["grad"] for n in data["nodes"]}["a"] == "inf"  # sqrt'(0), as in PyTorch


@needs_dot
def test_an_unwritable_output_is_one_line_naming_the_file_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "graph.html"
    assert main(["explore", "a.sqrt()", "a=4", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"nanograd explore: cannot write {str(out)!r}: No such file or directory\n"  # no temporary name
    assert list(tmp_path.iterdir()) == []


def test_a_missing_dot_program_is_one_line_saying_how_to_install_it(tmp_path: Path) -> None:
    empty = tmp_path / "bin"  # a PATH without dot
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "nanograd", "explore", "a * 2", "a=1", "--out", str(tmp_path / "g.html")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": str(empty)},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "nanograd explore: Graphviz's dot program is not on the PATH: install it with apt-get install graphviz "
        "(Debian, Ubuntu), brew install graphviz (macOS) or conda install graphviz, or see https://graphviz.org/download/"
    ]
    assert not (tmp_path / "g.html").exists()


@needs_dot
@pytest.mark.parametrize(
    ("expression", "values", "nodes"),
    [("a" + "*b" * 80, ["a=1.01", "b=1.001"], 2 + 80), ("a" + "+a" * 249, ["a=1"], 1 + 249)],
)
def test_the_issues_shared_node_expressions_make_pages(
    expression: str, values: list[str], nodes: int, tmp_path: Path
) -> None:
    """These ran dot past 60 s and 30 s; a far use now gets a copy, and dot stops at its time limit anyway."""
    out = tmp_path / "graph.html"
    result = subprocess.run(
        [sys.executable, "-m", "nanograd", "explore", expression, *values, "--out", str(out), "--max-nodes", "300"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(re.search(r'id="data">(.*?)</script>', out.read_text(encoding="utf-8"), re.S)[1])  # type: ignore[index]
    assert len(data["nodes"]) == nodes and data["notice"] == ""


@needs_dot
def test_numbers_in_an_expression_are_constants(tmp_path: Path) -> None:
    out = tmp_path / "graph.html"
    assert main(["explore", "x**2 + 3*x", "x=2", "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="data">(.*?)</script>', page, re.S)[1])  # type: ignore[index]
    assert [n["name"] for n in data["nodes"]] == ["x", "v1", "v2", "v3"]
    assert {n["name"]: n["grad"] for n in data["nodes"]}["x"] == "7.0"
    assert "{ const | 3.0000 }" not in page and page.count('class="node const"') == 1
