"""Sampling profiles of the stack's processes during a stage (py-spy), summarised.

`record()` starts one ``py-spy record --format raw`` per process (collapsed stacks, 100 Hz,
idle threads excluded) for the window; `summarise()` turns a raw file into the functions with
the most samples on top of the stack (self) and anywhere on it (inclusive).
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from devstack.paths import VENV_BIN

PY_SPY = str(VENV_BIN / "py-spy")


def record(pids: dict[int, str], seconds: float, folder: Path) -> list[tuple[Path, Any]]:
    """Start py-spy on every pid (name -> file); returns (path, process) to `finish()`."""
    started = []
    for pid, name in pids.items():
        path = folder / f"profile-{name}-{pid}.txt"
        argv = [PY_SPY, "record", "--format", "raw", "--nonblocking", "-d", str(int(seconds))]
        argv += ["-p", str(pid), "-o", str(path)]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append((path, process))
    return started


def finish(started: list[tuple[Path, Any]], timeout: float = 60) -> list[Path]:
    done = []
    for path, process in started:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if path.exists():
            done.append(path)
    return done


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/module.py:123)".
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    module = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "/main/", "lib/python3.11/"):
        if marker in module:
            module = module.split(marker, 1)[1]
            break
    return f"{name} ({module})"


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive sample shares of the busiest functions in a raw profile."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {
        "samples": total,
        "self": [(name, n / total) for name, n in own.most_common(top)] if total else [],
        "inclusive": [(name, n / total) for name, n in inclusive.most_common(top)] if total else [],
    }
