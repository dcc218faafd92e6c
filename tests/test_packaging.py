"""The wheel and the sdist build without a warning, carry the LICENSE, and the sdist builds the same wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

pytest.importorskip("build")
pytest.importorskip("setuptools")

#: What a copy of the checkout leaves out: local environments, caches and earlier build outputs.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "site", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def build(source: Path, out: Path, *kinds: str) -> str:
    """``python -m build`` of ``source`` into ``out`` with the installed setuptools (offline); returns its output.

    PYTHONDONTWRITEBYTECODE is left out: it makes setuptools warn that it skips byte-compiling,
    a setting of this environment, not of the project.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", *kinds, "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sdist and the wheel built from a copy of the checkout, and what the build printed."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "checkout"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
    return tmp / "dist", build(source, tmp / "dist", "--sdist", "--wheel")


def only(folder: Path, pattern: str) -> Path:
    (path,) = folder.glob(pattern)
    return path


def test_the_build_prints_no_warning(dist: tuple[Path, str]) -> None:
    _, output = dist
    assert [line for line in output.splitlines() if "warn" in line.lower()] == []


def test_the_wheel_carries_the_license_and_spdx_metadata(dist: tuple[Path, str]) -> None:
    with zipfile.ZipFile(only(dist[0], "*.whl")) as wheel:
        names = wheel.namelist()
        metadata = wheel.read("nanograd-0.1.0.dist-info/METADATA").decode()
        license_text = wheel.read("nanograd-0.1.0.dist-info/licenses/LICENSE").decode()
    assert license_text == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License")
    headers = metadata.split("\n\n")[0].splitlines()
    assert "License-Expression: MIT" in headers and "License-File: LICENSE" in headers
    assert not [h for h in headers if h.startswith(("Classifier: License", "License:"))]
    assert "nanograd/py.typed" in names and "nanograd/explore.html" in names


def test_the_sdist_has_the_license_no_tests_and_builds_the_same_wheel(dist: tuple[Path, str], tmp_path: Path) -> None:
    """The tests read the repository's README, notebooks and data, so the sdist leaves them out."""
    sdist = only(dist[0], "*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path / "unpacked", filter="data")
    assert "nanograd-0.1.0/LICENSE" in names
    assert not [name for name in names if name.startswith("nanograd-0.1.0/tests")]
    output = build(tmp_path / "unpacked" / "nanograd-0.1.0", tmp_path / "again", "--wheel")
    assert "warn" not in output.lower()
    with zipfile.ZipFile(only(dist[0], "*.whl")) as first, zipfile.ZipFile(only(tmp_path / "again", "*.whl")) as again:
        assert sorted(first.namelist()) == sorted(again.namelist())
