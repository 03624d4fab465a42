"""The payment rules are pure: standard library and the package itself only (STYLE.md), and
maintained libraries that only compute."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import holdem.payments

ROOT = Path(holdem.payments.__file__).parent
# pycryptodome's hashes (Keccak-256 for EIP-55 checksums): arithmetic on bytes, no I/O.
COMPUTE_ONLY = ("Crypto.Hash",)


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: p.name)
def test_payment_rules_import_only_the_standard_library(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            own = name.startswith("holdem.payments") or name.startswith(COMPUTE_ONLY)
            assert top in sys.stdlib_module_names or own, name
            assert top not in {"asyncio", "random", "socket", "time"}, name
