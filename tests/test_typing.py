"""Type checkers see nanograd's API: a small typed user file passes ``mypy --strict``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

USER_FILE = """
from nanograd import Value
from nanograd.nn import MLP

x: Value = Value(2.0) + 1
y: Value = (1 - x * 3).relu() / x**2
z: float = y.data
model = MLP(2, [4, 1])
params: list[Value] = model.parameters()
"""
#: The same file with one type error, which mypy must find.
WRONG_FILE = USER_FILE + 'w = x + "1"\n'
#: The README's training loop, as a user copies it.
(README_LOOP,) = [
    block
    for block in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    if "hinge_loss" in block
]


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """``mypy --strict`` on both files as a user's code (one run): file name -> its error lines."""
    api = pytest.importorskip("mypy.api")
    tmp = tmp_path_factory.mktemp("typing")
    files = {"user.py": USER_FILE, "wrong.py": WRONG_FILE, "readme_loop.py": README_LOOP}
    for name, source in files.items():
        (tmp / name).write_text(source, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MYPYPATH", str(ROOT))
        # --follow-imports=silent: nanograd is analysed but, like an installed package, not reported on.
        flags = ["--strict", "--follow-imports=silent", "--cache-dir", str(tmp / "cache")]
        stdout, _, _ = api.run([*flags, *(str(tmp / name) for name in files)])
    lines = [line for line in stdout.splitlines() if ": error:" in line]
    return {name: [line for line in lines if line.startswith(str(tmp / name))] for name in files}


def test_a_typed_user_file_type_checks(mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors["user.py"] == []


def test_type_errors_in_user_code_are_found(mypy_errors: dict[str, list[str]]) -> None:
    (error,) = mypy_errors["wrong.py"]
    assert ':10: error: Unsupported operand types for + ("Value" and "str")' in error


def test_the_readmes_training_loop_type_checks(mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors["readme_loop.py"] == []


# -- the README's editable install, seen by mypy ----------------------------------------------

#: The setting that makes setuptools' editable install a static path (a ``.pth`` line naming
#: the checkout) rather than an import hook, which mypy cannot follow.
EDITABLE_SETTING = "--config-settings editable_mode=compat"
#: What the build of the package reads: the copy the install test makes of the checkout.
BUILD_INPUTS = ["pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "nanograd"]
#: Where the project says how to install it from a checkout.
INSTALL_DOCS = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "mkdocs.yml",
    ROOT / ".ci" / "run",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "nanograd").rglob("*.py")),  # the messages that say how to install an extra
    *sorted((ROOT / "scripts").glob("*.py")),
]
EDITABLE_INSTALL = re.compile(r"pip install (?:-q )?-e (?:\"[^\"]*\"|\S+)")


def readme_install_command() -> list[str]:
    """The README's install of the checkout (``pip install -e ...``), as arguments after ``pip``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (line,) = [
        line
        for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
        for line in block.splitlines()
        if line.startswith("pip install -e")
    ]
    return shlex.split(line)[1:]


def test_every_editable_install_the_project_names_gives_a_static_path() -> None:
    """The pages, the site's configuration and CI install with the setting (a line broken in prose counts)."""
    for path in INSTALL_DOCS:
        text = " ".join(path.read_text(encoding="utf-8").split())
        for match in EDITABLE_INSTALL.finditer(text):
            assert text[match.end() :].startswith(" " + EDITABLE_SETTING), f"{path.relative_to(ROOT)}: {match[0]}"


def test_mypy_sees_nanograd_after_the_readmes_editable_install(tmp_path: Path) -> None:
    """Issue 20: a fresh environment, the checkout installed as the README says (offline:
    ``--no-deps --no-build-isolation``), and ``mypy --strict`` on a user's files without
    ``MYPYPATH`` finds nanograd's types.

    The environment has no pip and no setuptools of its own: the running pip installs into it
    (``--python``), and the build imports this environment's setuptools through PYTHONPATH,
    which holds setuptools alone (its metadata registers the build's commands), so the new
    environment sees no other package of this one. mypy runs here and reads the new
    environment's paths (``--python-executable``), as its own mypy would.
    """
    pytest.importorskip("mypy")
    setuptools = pytest.importorskip("setuptools")
    site_packages = Path(setuptools.__file__).parent.parent
    env_dir = tmp_path / "env"
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env_dir)], capture_output=True, text=True, timeout=60
    )
    python = env_dir / "bin" / "python"
    if made.returncode != 0 or not python.exists():
        pytest.skip(f"cannot make a virtual environment here: {made.stderr[-500:]}")
    build_path = tmp_path / "build-path"
    build_path.mkdir()
    for name in ["setuptools", "_distutils_hack", "pkg_resources", f"setuptools-{setuptools.__version__}.dist-info"]:
        if (site_packages / name).exists():
            (build_path / name).symlink_to(site_packages / name)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, checkout / name)
    clean = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    install = readme_install_command()
    assert install[:2] == ["install", "-e"]
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), *install, "--no-deps", "--no-build-isolation"],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "PYTHONPATH": str(build_path), "PIP_NO_INDEX": "1"},
    )
    assert installed.returncode == 0, (installed.stdout + installed.stderr)[-3000:]
    user = tmp_path / "user"
    user.mkdir()
    (user / "user.py").write_text(USER_FILE, encoding="utf-8")
    (user / "wrong.py").write_text(WRONG_FILE, encoding="utf-8")
    flags = ["--strict", "--python-executable", str(python), "--cache-dir", str(tmp_path / "cache")]
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", *flags, "user.py", "wrong.py"],
        cwd=user,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean,
    )
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    # The one error is wrong.py's, which only a mypy that reads nanograd's types can find.
    assert len(errors) == 1 and errors[0].startswith("wrong.py:10: error: Unsupported operand types"), checked.stdout
