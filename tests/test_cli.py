"""Tests for the ``nanograd`` command (nanograd.cli, nanograd.__main__)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nanograd.cli import build_parser, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nanograd", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_demo_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "new" / "dir"
    result = run("demo", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "final loss 0.0110, accuracy 100.0%" in result.stdout
    assert "100/100" in result.stderr  # the progress bar ran to the end
    for name in ("moon_mlp.png", "moon_mlp_training.png"):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in out.iterdir()) == ["moon_mlp.png", "moon_mlp_training.png"]


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--steps", "0"],
        ["demo", "--steps", "ten"],
        ["demo", "--samples", "-5"],
        ["demo", "--optimizer", "lbfgs"],
        ["demo", "--frobnicate"],
        ["train"],
        [],
    ],
)
def test_bad_options_are_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert "usage: nanograd" in capsys.readouterr().err


def test_bad_option_exit_status_from_the_command_line(tmp_path: Path) -> None:
    result = run("demo", "--optimizer", "lbfgs", cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice: 'lbfgs'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--steps", "--seed", "--samples", "--out", "--optimizer", "sgd", "adam"):
        assert option in text


def test_missing_demo_extras_say_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    assert main(["demo", "--out", str(tmp_path)]) == 1
    assert 'pip install "nanograd[demo]"' in capsys.readouterr().err


def test_out_that_is_a_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sklearn")
    (tmp_path / "taken").write_text("")
    assert main(["demo", "--out", str(tmp_path / "taken")]) == 1
    assert "cannot create the output directory" in capsys.readouterr().err


def test_demo_engine_defaults_to_compiled() -> None:
    assert build_parser().parse_args(["demo"]).engine == "compiled"
    assert build_parser().parse_args(["demo", "--engine", "eager"]).engine == "eager"
