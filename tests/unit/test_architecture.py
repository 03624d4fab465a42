"""The dependency rule of STYLE.md: the pure core imports only the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import holdem

PACKAGE_ROOT = Path(holdem.__file__).parent
PURE_PACKAGES = ["engine", "ledger"]


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _pure_modules() -> list[Path]:
    return sorted(
        path
        for package in PURE_PACKAGES
        if (PACKAGE_ROOT / package).is_dir()
        for path in (PACKAGE_ROOT / package).rglob("*.py")
    )


def test_there_is_a_pure_core_to_check():
    assert _pure_modules(), "holdem.engine should exist"


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_pure_core_imports_only_the_standard_library_and_itself(path: Path):
    package = path.relative_to(PACKAGE_ROOT).parts[0]
    allowed_own = {f"holdem.{name}" for name in PURE_PACKAGES}
    for lineno, module in _imported_modules(path):
        top = module.split(".")[0]
        own = any(module == p or module.startswith(p + ".") for p in allowed_own)
        assert top in sys.stdlib_module_names or own, f"{path.name}:{lineno} imports {module}"
        assert top not in {"asyncio", "random", "socket", "threading"}, (
            f"{path.name}:{lineno}: the {package} core must not import {module}"
        )
