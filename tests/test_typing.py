"""Type information: the lazily importing package roots have stubs that name exactly what they
export, so type checkers and IDEs see the same public API as the running code."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import yoda_sr

PACKAGE = Path(yoda_sr.__file__).parent
LAZY_PACKAGES = sorted(
    path.parent.name
    for path in PACKAGE.glob("*/__init__.py")
    if "lazy_exports(" in path.read_text(encoding="utf-8")
)


def stub_exports(package: str) -> dict[str, str]:
    """Name -> module of each ``from MODULE import NAME as NAME`` in the package's stub."""
    tree = ast.parse((PACKAGE / package / "__init__.pyi").read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name: node.module or ""
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_every_lazy_package_has_a_stub():
    assert LAZY_PACKAGES  # the packages that import on first use
    assert [p for p in LAZY_PACKAGES if not (PACKAGE / p / "__init__.pyi").is_file()] == []


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_stub_names_exactly_the_lazy_exports_and_where_they_live(package):
    module = importlib.import_module(f"yoda_sr.{package}")
    exports = stub_exports(package)
    assert sorted(exports) == sorted(dir(module))
    for name, source in exports.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), name), name


def test_package_is_marked_typed():
    assert (PACKAGE / "py.typed").is_file()
