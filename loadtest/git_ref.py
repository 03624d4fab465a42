"""The code of another git ref, beside this tree's, for a benchmark's A/B in one run."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devstack.paths import ROOT, STATE


def check_out(ref: str, paths: list[str], purpose: str) -> Path:
    """`paths` (e.g. ``edge``, ``shared/src``) as they are at `ref`, in a folder kept under
    ``.devstate/<purpose>/against-<sha>`` (extracted once per commit)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    folder = STATE / purpose / f"against-{sha[:12]}"
    if not folder.exists():
        folder.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", sha, *paths], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder
