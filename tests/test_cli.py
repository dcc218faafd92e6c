"""Tests for the ``nanograd`` command (nanograd.cli, nanograd.__main__)."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NOT_REGULAR_FILES, file_kind

import nanograd
from nanograd.cli import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, build_parser, main

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


def test_the_progress_bars_last_line_shows_the_final_loss(tmp_path: Path) -> None:
    """After 10 steps the loss still falls fast, so the loss before the last update would differ."""
    pytest.importorskip("sklearn")
    result = run("demo", "--steps", "10", "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    final = re.search(r"final loss (\S+), accuracy (\S+)%", result.stdout)
    assert final is not None and final.groups() == ("0.2590", "90.0")
    last_bar = result.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert last_bar.startswith("training (compiled): 100%")
    assert last_bar.endswith(f"accuracy={final[2]}%, loss={final[1]}]")


@pytest.mark.parametrize(
    "args",
    [
        ["demo", "--steps", "0"],
        ["demo", "--steps", "ten"],
        ["demo", "--samples", "-5"],
        ["demo", "--optimizer", "lbfgs"],
        ["demo", "--seed", "-1"],
        ["demo", "--seed", str(2**32)],
        ["demo", "--seed", str(2**40)],
        ["demo", "--seed", "1e3"],
        ["demo", "--frobnicate"],
        ["train"],
        ["explore", "--frobnicate", "a", "a=1"],
        ["explore"],
    ],
)
def test_bad_options_are_usage_errors_of_the_command_given(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    usage = "usage: nanograd" if args[0] == "train" else f"usage: nanograd {args[0]} "
    assert capsys.readouterr().err.startswith(usage)


def test_a_bare_command_prints_the_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: nanograd [-h] [--version] COMMAND ...")
    assert "demo      train an MLP" in captured.err and "explore   write an interactive page" in captured.err


def test_a_bare_command_from_the_shell(tmp_path: Path) -> None:
    result = run(cwd=tmp_path)
    assert result.returncode == 2 and "positional arguments" in result.stderr and "Traceback" not in result.stderr


def test_no_message_tells_users_to_install_the_unrelated_pypi_nanograd(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("demo", "explore"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert 'pip install -e ".[demo]" --config-settings editable_mode=compat' in text
    assert 'pip install -e ".[viz]" --config-settings editable_mode=compat' in text
    assert "nanograd[" not in text


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
    assert 'pip install -e ".[demo]" --config-settings editable_mode=compat in a nanograd checkout' in (
        capsys.readouterr().err
    )


def test_out_that_is_a_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sklearn")
    (tmp_path / "taken").write_text("")
    assert main(["demo", "--out", str(tmp_path / "taken")]) == 1
    assert "cannot create the output directory" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-1", str(2**32), str(2**40)])
def test_out_of_range_seed_is_one_clear_line(seed: str, tmp_path: Path) -> None:
    result = run("demo", "--seed", seed, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"nanograd demo: error: argument --seed: {seed} is out of range: a seed is an integer from 0 to 4294967295"
    )
    assert "Traceback" not in result.stderr


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


def test_largest_seed_is_accepted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    demo = pytest.importorskip("nanograd.demo")
    seeds: list[int] = []
    monkeypatch.setattr(demo, "make_moons_data", lambda n_samples, seed: seeds.append(seed) or ([], []))
    monkeypatch.setattr(demo, "make_model", _interrupt)  # stop once the data set is made
    assert main(["demo", "--seed", str(2**32 - 1), "--out", str(tmp_path)]) == EXIT_INTERRUPTED
    assert seeds == [2**32 - 1]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"nanograd {nanograd.__version__}\n"


def _training_must_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = pytest.importorskip("nanograd.demo")

    def train(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started although the output cannot be written")

    monkeypatch.setattr(demo, "train", train)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, read-only even for root")
def test_read_only_output_directory_is_found_before_training(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _training_must_not_start(monkeypatch)
    assert main(["demo", "--out", "/proc"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("nanograd demo: cannot write to the output directory '/proc': ")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions and a non-root user")
def test_unwritable_output_directory_is_found_before_training(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _training_must_not_start(monkeypatch)
    tmp_path.chmod(0o555)
    try:
        assert main(["demo", "--out", str(tmp_path)]) == 1
    finally:
        tmp_path.chmod(0o755)
    assert capsys.readouterr().err == (
        f"nanograd demo: cannot write to the output directory {str(tmp_path)!r}: Permission denied\n"
    )


@pytest.mark.parametrize("kind", NOT_REGULAR_FILES)
def test_an_image_path_that_is_not_a_regular_file_is_found_before_training(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    _training_must_not_start(monkeypatch)
    target = NOT_REGULAR_FILES[kind](tmp_path, "moon_mlp_training.png")
    before = file_kind(target)
    assert main(["demo", "--out", str(tmp_path)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"nanograd demo: cannot write to the output directory {str(tmp_path)!r}: {target}")
    assert line.endswith("not a regular file; nanograd replaces regular files only")
    assert file_kind(target) == before


@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
def test_an_out_directory_that_is_a_special_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    pytest.importorskip("sklearn")
    out = NOT_REGULAR_FILES[kind](tmp_path, "out")
    before = file_kind(out)
    assert main(["demo", "--out", str(out)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"nanograd demo: cannot create the output directory {str(out)!r}: ")
    assert file_kind(out) == before


def _disk_full(*args: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_output_directory_is_found_before_training(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _training_must_not_start(monkeypatch)
    monkeypatch.setattr(os, "fsync", _disk_full)  # where a full disk shows at the latest
    assert main(["demo", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"nanograd demo: cannot write to the output directory {str(tmp_path)!r}: No space left on device\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_disk_filling_up_during_training_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    demo = pytest.importorskip("nanograd.demo")
    monkeypatch.setattr(demo, "save_figure", _disk_full)
    assert main(["demo", "--steps", "1", "--samples", "10", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"nanograd demo: cannot write {str(tmp_path / 'moon_mlp.png')!r}: No space left on device"
    )


def test_ctrl_c_in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    demo = pytest.importorskip("nanograd.demo")
    monkeypatch.setattr(demo, "train", _interrupt)
    assert main(["demo", "--out", str(tmp_path)]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err.splitlines()[-1] == "nanograd: interrupted"


def _demo_process(tmp_path: Path, *args: str, **popen: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "nanograd", "demo", "--samples", "10", "--out", str(tmp_path), *args],
        cwd=tmp_path,
        **popen,  # type: ignore[call-overload]
    )


def test_ctrl_c_during_training_exits_130_without_a_traceback(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    process = _demo_process(tmp_path, "--steps", "1000000", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stderr is not None
    seen = b""
    while not re.search(rb"training[^:]*: .*[1-9][0-9]*/1000000", seen):  # the bar shows steps done
        chunk = os.read(process.stderr.fileno(), 4096)
        assert chunk, f"the demo ended before training: {seen!r}"
        seen += chunk
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_INTERRUPTED, (seen + err).decode()
    assert (seen + err).decode().splitlines()[-1] == "nanograd: interrupted"
    assert b"Traceback" not in seen + err
    assert list(tmp_path.iterdir()) == []


def test_output_closed_early_is_one_line_and_exit_141(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `nanograd demo | head -0`: nobody reads the output
    process = _demo_process(tmp_path, "--steps", "2", stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    _, err = process.communicate(timeout=300)
    assert process.returncode == EXIT_BROKEN_PIPE
    assert err.decode().splitlines()[-1] == "nanograd: standard output was closed early (broken pipe)"
    assert "Traceback" not in err.decode() and "Exception ignored" not in err.decode()


def test_demo_engine_defaults_to_compiled() -> None:
    assert build_parser().parse_args(["demo"]).engine == "compiled"
    assert build_parser().parse_args(["demo", "--engine", "eager"]).engine == "eager"
