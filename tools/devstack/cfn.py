"""The template's linters, each in its own virtualenv installed on demand from a pinned list.

cfn-lint (`.venv-cfn/`, requirements/cfn-lint.txt) validates the SAM template offline (it
expands the transform itself). checkov (`.venv-checkov/`, requirements/checkov.txt) checks it
against security policies; the checks it skips, each with its reason, are in `.checkov.yaml`,
so a new failed check fails `./dev lint-template` and `./dev test`. They live apart from
`.venv` so that their pins and the project's never move each other.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from devstack.paths import ROOT


@dataclass(frozen=True)
class Linter:
    """A command-line tool installed into a virtualenv of its own from a pinned list."""

    name: str
    venv: Path
    pins: Path

    def ensure(self) -> Path:
        """The tool's executable, (re)installing its virtualenv when the pins changed."""
        want = hashlib.sha256(self.pins.read_bytes()).hexdigest()
        marker = self.venv / ".installed"
        executable = self.venv / "bin" / self.name
        if executable.exists() and marker.exists() and marker.read_text() == want:
            return executable
        print(f"dev: installing {self.name} into {self.venv.name} (once) ...", file=sys.stderr)
        if not (self.venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        pip = [str(self.venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(self.pins)], check=True, stderr=subprocess.DEVNULL)
        marker.write_text(want)
        return executable


CFN_LINT = Linter("cfn-lint", ROOT / ".venv-cfn", ROOT / "requirements" / "cfn-lint.txt")
CHECKOV = Linter("checkov", ROOT / ".venv-checkov", ROOT / "requirements" / "checkov.txt")


def cfn_lint(template: Path) -> int:
    """Run cfn-lint on the template (settings from .cfnlintrc when present); its exit code."""
    result = subprocess.run([str(CFN_LINT.ensure()), str(template)], cwd=ROOT, check=False)
    if result.returncode == 0:
        print(f"cfn-lint: {template.name} is clean")
    return result.returncode


def checkov(template: Path) -> int:
    """Run checkov on the template with `.checkov.yaml`, offline; its exit code."""
    argv = [
        str(CHECKOV.ensure()),
        "--file",
        str(template),
        "--config-file",
        str(ROOT / ".checkov.yaml"),
        "--skip-download",  # no Prisma Cloud look-ups: the checks are in the package
    ]
    result = subprocess.run(argv, cwd=ROOT, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout, end="")
        print(result.stderr, end="", file=sys.stderr)
    else:
        print(f"checkov: {template.name} passes every check but the reasoned skips")
    return result.returncode


def lint_template(template: Path) -> int:
    """cfn-lint, then checkov; non-zero when either fails."""
    return cfn_lint(template) or checkov(template)
