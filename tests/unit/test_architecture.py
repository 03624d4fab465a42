"""The dependency rule of STYLE.md, the parts import contracts cannot say.

The layers themselves are import-linter contracts in ``pyproject.toml`` (``./dev test`` runs
``lint-imports``): the engine depends on nothing of ours and has no import circle; the pure
core (engine, ledger, payments, session) imports no services, adapters, settings, clients of
databases or queues, nor ``asyncio``/``random``/``socket``/``threading``/``time``; entry
points sit over the composition root over services and adapters (which never import each
other) over the core. What a contract cannot express is checked here: the pure core imports
*only* the standard library (an allow-list), never reads the clock, the wire shapes the table
session uses do no I/O, and the contracts' lists of tolerated imports stay exact.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import pytest

import holdem

PACKAGE_ROOT = Path(holdem.__file__).parent
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
PURE_PACKAGES = ["engine", "ledger", "payments", "session"]
THIRD_PARTY = {"payments": {"Crypto"}, "session": {"msgpack"}}
"""Libraries a pure package may use besides the standard library: pycryptodome's Keccak-256
for Ethereum address checksums, MessagePack for the session's checkpoint packed part by part
(`holdem.session.packing`); pure functions both."""
WIRE_SHAPES = [
    "holdem.errors",
    "holdem.protocol.codec",
    "holdem.protocol.errors",
    "holdem.protocol.messages",
    "holdem.protocol.views",
]
"""What the table session may use of the protocol: its error codes (with the application's
tree, where the codes both transports share live), message types, the engine-to-wire
conversions and the wire encodings (pydantic models and plain functions, no I/O; the
encodings' MessagePack and JSON libraries are pure functions too)."""
WIRE_LIBRARIES = {"pydantic", "msgpack", "orjson"}
CLOCK_READS = {"now", "utcnow", "today"}
TOLERATED_IMPORTS: dict[str, int] = {}
"""How many imports each contract still tolerates (its ``ignore_imports``): the debt, none
now. It never rises."""


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
    assert (PACKAGE_ROOT / "payments" / "addresses.py") in _pure_modules()
    assert (PACKAGE_ROOT / "session" / "table_session.py") in _pure_modules()


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_pure_core_imports_only_the_standard_library_and_itself(path: Path):
    package = path.relative_to(PACKAGE_ROOT).parts[0]
    allowed_own = {f"holdem.{name}" for name in PURE_PACKAGES}
    if package == "session":
        allowed_own |= set(WIRE_SHAPES)
    allowed_top = sys.stdlib_module_names | THIRD_PARTY.get(package, set())
    for lineno, module in _imported_modules(path):
        top = module.split(".")[0]
        own = any(module == p or module.startswith(p + ".") for p in allowed_own)
        assert top in allowed_top or own, f"{path.name}:{lineno} imports {module}"


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE_ROOT)))
def test_pure_core_never_reads_the_clock(path: Path):
    assert not _clock_reads(path), f"{path.name} reads the clock: {_clock_reads(path)}"


@pytest.mark.parametrize("module", WIRE_SHAPES)
def test_the_wire_shapes_the_session_uses_do_no_io(module: str):
    path = PACKAGE_ROOT.parent / (module.replace(".", "/") + ".py")
    for lineno, imported in _imported_modules(path):
        top = imported.split(".")[0]
        assert top in sys.stdlib_module_names | WIRE_LIBRARIES | {"holdem"}, (
            f"{path.name}:{lineno} imports {imported}"
        )
        if top == "holdem":
            assert imported.startswith(
                (
                    "holdem.engine",
                    "holdem.protocol.errors",
                    "holdem.protocol.codec",
                    "holdem.errors",
                )
            ), imported


def _contracts() -> list[dict[str, object]]:
    contracts: list[dict[str, object]] = tomllib.loads(PYPROJECT.read_text())["tool"][
        "importlinter"
    ]["contracts"]
    return contracts


def test_the_import_contracts_tolerate_only_the_listed_debt():
    # lint-imports fails on an ignored import that no longer exists only while alerting stays
    # "error" (the default), and a wildcard would let new imports in under an old entry.
    tolerated = {}
    for contract in _contracts():
        assert "unmatched_ignore_imports_alerting" not in contract, contract["name"]
        ignored = contract.get("ignore_imports", [])
        assert isinstance(ignored, list)
        assert not [entry for entry in ignored if "*" in entry], contract["name"]
        assert len(set(ignored)) == len(ignored), f"{contract['name']}: an import listed twice"
        if ignored:
            tolerated[contract["name"]] = len(ignored)
    assert tolerated == TOLERATED_IMPORTS
