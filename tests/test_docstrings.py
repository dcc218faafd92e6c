"""Every public object of the modules the API reference shows has a docstring, which the reference renders."""

from __future__ import annotations

import importlib
import inspect
import re
from types import ModuleType

from conftest import ROOT

#: The modules of the API reference: each ``::: module`` line of docs/reference/*.md.
MODULES = sorted(
    {
        m
        for page in (ROOT / "docs" / "reference").glob("*.md")
        for m in re.findall(r"^::: (\S+)", page.read_text(), re.M)
    }
)


def public(name: str) -> bool:
    return not name.startswith("_") or name == "__call__"


def undocumented_members(cls: type, prefix: str) -> list[str]:
    """Public methods and properties of ``cls`` with no docstring of their own or from a nanograd base class."""
    missing = []
    for name, attr in vars(cls).items():
        if not public(name):
            continue
        function = attr.fget if isinstance(attr, property) else getattr(attr, "__func__", attr)
        if not inspect.isfunction(function):
            continue
        inherited = [
            getattr(base, name).__doc__
            for base in cls.__mro__[1:]
            if base.__module__.startswith("nanograd") and name in vars(base)
        ]
        if not (function.__doc__ or any(inherited)):
            missing.append(f"{prefix}.{name}")
    return missing


def undocumented(module: ModuleType) -> list[str]:
    missing = [] if inspect.getdoc(module) else [module.__name__]
    for name, obj in vars(module).items():
        if not public(name) or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not inspect.getdoc(obj):
                missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(obj):
                missing += undocumented_members(obj, f"{module.__name__}.{name}")
    return missing


def test_the_reference_covers_the_package() -> None:
    assert {"nanograd", "nanograd.value", "nanograd.ops", "nanograd.neural_net", "nanograd.compiler"} <= set(MODULES)


def test_every_public_object_has_a_docstring() -> None:
    missing = [name for module in MODULES for name in undocumented(importlib.import_module(module))]
    assert sorted(missing) == []
