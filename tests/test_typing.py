"""Type checkers see nanograd's API: a small typed user file passes ``mypy --strict``."""

from __future__ import annotations

import re

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
