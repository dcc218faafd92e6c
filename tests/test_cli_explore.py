"""Tests for ``nanograd explore EXPRESSION NAME=VALUE ... --out FILE``."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import webbrowser
from pathlib import Path

import pytest
from conftest import NOT_REGULAR_FILES, file_kind

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


def test_an_infinite_gradient_is_shown_as_inf(tmp_path: Path) -> None:
    assert main(["explore", "a.sqrt()", "a=0", "--out", str(tmp_path / "graph.html")]) == 0
    data = json.loads(re.search(r'id="data">(.*?)</script>', (tmp_path / "graph.html").read_text())[1])  # type: ignore[index]
    assert {n["name"]: n["grad"] for n in data["nodes"]}["a"] == "inf"  # sqrt'(0), as in PyTorch


def test_an_unwritable_output_is_one_line_and_writes_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", "a.sqrt()", "a=4", "--out", str(tmp_path / "missing" / "graph.html")]) == 1
    assert capsys.readouterr().err.startswith("nanograd explore: ")
    assert list(tmp_path.iterdir()) == []


@needs_dot
@pytest.mark.parametrize("kind", NOT_REGULAR_FILES)
def test_an_out_path_that_is_not_a_regular_file_is_one_line_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    out = NOT_REGULAR_FILES[kind](tmp_path, "graph.html")
    before = file_kind(out)
    assert main(["explore", "a.sqrt()", "a=4", "--out", str(out)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"nanograd explore: {out}")
    assert line.endswith("not a regular file; nanograd replaces regular files only")
    assert file_kind(out) == before
