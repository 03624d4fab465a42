"""The dependency rule of STYLE.md: the pure core imports only the standard library (and,
for the table session, the wire shapes of `holdem.protocol`), never reads the clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import holdem

PACKAGE_ROOT = Path(holdem.__file__).parent
PURE_PACKAGES = ["engine", "ledger", "session"]
WIRE_SHAPES = [
    "holdem.protocol.errors",
    "holdem.protocol.messages",
    "holdem.protocol.views",
    "holdem.services.errors",
]
"""What the table session may use of the protocol: its error codes (with the services' tree,
where the codes both transports share live), message types and the engine-to-wire
conversions (pydantic models and plain functions, no I/O)."""
FORBIDDEN = {"asyncio", "random", "socket", "threading", "time"}
CLOCK_READS = {"now", "utcnow", "today"}


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _clock_reads(path: Path) -> list[tuple[int, str]]:
    """Calls like ``datetime.now()`` or ``date.today()``: the core is given the time."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in CLOCK_READS
    ]


def _pure_modules() -> list[Path]:
    return sorted(
        path
        for package in PURE_PACKAGES
        if (PACKAGE_ROOT / package).is_dir()
        for path in (PACKAGE_ROOT / package).rglob("*.py")
    )


def test_there_is_a_pure_core_to_check():
    assert _pure_modules(), "holdem.engine should exist"
    assert (PACKAGE_ROOT / "session" / "table_session.py") in _pure_modules()


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_pure_core_imports_only_the_standard_library_and_itself(path: Path):
    package = path.relative_to(PACKAGE_ROOT).parts[0]
    allowed_own = {f"holdem.{name}" for name in PURE_PACKAGES}
    if package == "session":
        allowed_own |= set(WIRE_SHAPES)
    for lineno, module in _imported_modules(path):
        top = module.split(".")[0]
        own = any(module == p or module.startswith(p + ".") for p in allowed_own)
        assert top in sys.stdlib_module_names or own, f"{path.name}:{lineno} imports {module}"
        assert top not in FORBIDDEN, (
            f"{path.name}:{lineno}: the {package} core must not import {module}"
        )


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_pure_core_never_reads_the_clock(path: Path):
    assert not _clock_reads(path), f"{path.name} reads the clock: {_clock_reads(path)}"


@pytest.mark.parametrize("module", WIRE_SHAPES)
def test_the_wire_shapes_the_session_uses_do_no_io(module: str):
    path = PACKAGE_ROOT.parent / (module.replace(".", "/") + ".py")
    for lineno, imported in _imported_modules(path):
        top = imported.split(".")[0]
        assert top not in FORBIDDEN | {"redis", "sqlalchemy", "boto3", "httpx"}, (
            f"{path.name}:{lineno} imports {imported}"
        )
        assert top in sys.stdlib_module_names | {"pydantic", "holdem"}, (
            f"{path.name}:{lineno} imports {imported}"
        )
        if top == "holdem":
            assert imported.startswith(
                ("holdem.engine", "holdem.protocol.errors", "holdem.services.errors")
            ), imported
