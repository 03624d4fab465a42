"""Runs the local stack's child processes and stops every one of them on the way out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass

from devstack.services import die_with_parent


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


class Supervisor:
    """Starts named processes; `wait()` returns when one exits or the user presses Ctrl-C."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self._stopping = False

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> Child:
        process = subprocess.Popen(
            argv, env={**os.environ, **env}, preexec_fn=die_with_parent(signal.SIGTERM)
        )
        child = Child(name, process)
        self.children.append(child)
        return child

    def wait(self) -> int:
        """Block until Ctrl-C / SIGTERM (exit 0) or until a child dies (exit 1)."""
        previous = signal.signal(signal.SIGTERM, lambda *_: self._request_stop())
        try:
            while not self._stopping:
                for child in self.children:
                    code = child.process.poll()
                    if code is not None:
                        print(f"dev: {child.name} exited with {code}", file=sys.stderr)
                        return 1
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        return 0

    def _request_stop(self) -> None:
        self._stopping = True

    def stop_all(self, timeout: float = 20) -> None:
        """SIGTERM every child (newest first), then SIGKILL those still running."""
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        self.children.clear()
