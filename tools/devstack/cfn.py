"""cfn-lint in its own virtualenv (`.venv-cfn/`), installed on demand from a pinned list.

cfn-lint validates the SAM template offline (it expands the transform itself). It lives apart
from `.venv` so that its pins and the project's never move each other.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from devstack.paths import ROOT

VENV = ROOT / ".venv-cfn"
PINS = ROOT / "requirements" / "cfn-lint.txt"


def ensure_cfn_lint() -> Path:
    """The cfn-lint executable, (re)installing `.venv-cfn` when the pins changed."""
    want = hashlib.sha256(PINS.read_bytes()).hexdigest()
    marker = VENV / ".installed"
    executable = VENV / "bin" / "cfn-lint"
    if executable.exists() and marker.exists() and marker.read_text() == want:
        return executable
    print("dev: installing cfn-lint into .venv-cfn (once) ...", file=sys.stderr)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [
            str(VENV / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(PINS),
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    marker.write_text(want)
    return executable


def cfn_lint(template: Path) -> int:
    """Run cfn-lint on the template (settings from .cfnlintrc when present); its exit code."""
    result = subprocess.run([str(ensure_cfn_lint()), str(template)], cwd=ROOT, check=False)
    if result.returncode == 0:
        print(f"cfn-lint: {template.name} is clean")
    return result.returncode
