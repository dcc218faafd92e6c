"""micrograd 0.1.0's own tests and README example run on nanograd with only the package name changed.

Both come from micrograd's source distribution on PyPI, downloaded once per test session
(``pip download --no-binary :all: micrograd==0.1.0``) and never copied into this repository;
every occurrence of ``micrograd`` is replaced by ``nanograd``, as ``sed s/micrograd/nanograd/g``
would. Without network access to PyPI the tests are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SDIST = "micrograd-0.1.0"


@pytest.fixture(scope="session")
def micrograd_sdist(tmp_path_factory: pytest.TempPathFactory) -> tarfile.TarFile:
    """micrograd 0.1.0's source distribution, downloaded from PyPI once per session."""
    dest = tmp_path_factory.mktemp("micrograd-sdist")
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps"]
    try:
        subprocess.run(
            [*command, "micrograd==0.1.0", "-d", str(dest)], capture_output=True, text=True, timeout=120, check=True
        )
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot download micrograd 0.1.0's source distribution from PyPI: {e.stderr.strip()[-300:]}")
    except subprocess.TimeoutExpired:
        pytest.skip("cannot download micrograd 0.1.0's source distribution from PyPI: no answer in 120 s")
    return tarfile.open(dest / f"{SDIST}.tar.gz")


def nanograd_source(sdist: tarfile.TarFile, member: str) -> str:
    """The text of ``member`` of the source distribution, with ``micrograd`` replaced by ``nanograd``."""
    text = sdist.extractfile(f"{SDIST}/{member}").read().decode("utf-8")
    return text.replace("micrograd", "nanograd")


def test_micrograds_test_engine_passes(micrograd_sdist: tarfile.TarFile, tmp_path: Path) -> None:
    pytest.importorskip("torch")  # micrograd's tests compare with PyTorch
    source = nanograd_source(micrograd_sdist, "test/test_engine.py")
    assert "from nanograd.engine import Value" in source
    path = tmp_path / "test_engine.py"
    path.write_text(source, encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "test_engine"}
    exec(compile(source, str(path), "exec"), namespace)
    tests = [name for name in namespace if name.startswith("test_")]
    assert tests == ["test_sanity_check", "test_more_ops"]
    for name in tests:
        namespace[name]()


def test_micrograds_readme_examples_print_what_it_says(micrograd_sdist: tarfile.TarFile) -> None:
    """The README's blocks in order, in one namespace; ``draw_dot`` is the notebook's helper there."""
    graphviz = pytest.importorskip("graphviz")
    from nanograd import draw_dot

    blocks = re.findall(r"```python\n(.*?)```", nanograd_source(micrograd_sdist, "README.md"), flags=re.S)
    assert len(blocks) == 2
    expected = re.findall(r"# prints ([-\d.]+)", blocks[0])
    namespace: dict[str, object] = {"draw_dot": draw_dot}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, "micrograd/README.md", "exec"), namespace)
    assert out.getvalue().split() == expected == ["24.7041", "138.8338", "645.5773"]
    assert isinstance(namespace["dot"], graphviz.Digraph)
    assert namespace["dot"].source.count("shape=record") == 10  # x0, x1, w0, w1, b, 2 products, 2 sums, relu
