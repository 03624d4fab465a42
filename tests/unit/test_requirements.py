"""The builds' dependency lock (requirements/runtime.txt): hashed, and the versions of lock.txt.

The Lambda layer (Makefile) and the table-server image (edge/Dockerfile) install with
``pip --require-hashes`` from runtime.txt, while ``./dev`` installs lock.txt: the two must not
drift apart, or what is tested is not what ships.
"""

from __future__ import annotations

import re

from devstack.paths import ROOT

REQUIREMENTS = ROOT / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def _name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(text: str) -> dict[str, str]:
    return {_name(name): version for name, version in _PIN.findall(text)}


def test_every_runtime_pin_carries_hashes_and_the_lock_files_version():
    text = (REQUIREMENTS / "runtime.txt").read_text()
    runtime, lock = _pins(text), _pins((REQUIREMENTS / "lock.txt").read_text())
    assert runtime
    for block in re.split(r"\n(?=\S)", text):
        if _PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]
    drift = {name: (version, lock.get(name)) for name, version in runtime.items()}
    assert {name: v for name, v in drift.items() if v[0] != v[1]} == {}


def test_every_direct_runtime_dependency_is_locked_with_hashes():
    direct = {
        _name(re.split(r"[\[<>=;\s]", line, maxsplit=1)[0])
        for line in (REQUIREMENTS / "base.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert direct - set(_pins((REQUIREMENTS / "runtime.txt").read_text())) == set()


def test_the_layer_and_the_image_install_only_hashed_packages():
    for build in ("Makefile", "edge/Dockerfile"):
        text = (ROOT / build).read_text()
        assert "--require-hashes -r requirements/runtime.txt" in text, build
        assert "-r requirements/base.in" not in text, build
        assert "pip install --no-deps" not in text, f"{build}: an unhashed install"
