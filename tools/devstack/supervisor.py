"""Runs the local stack's child processes, restarts those that die, and stops them all.

Like an orchestrator: a child that exits on its own (a crash, a kill -9) is started again after
a backoff (1 s, doubling up to 30 s; back to 1 s once it ran a minute), and the stack stays up.
Children run in their own sessions, so a Ctrl-C in the terminal reaches only `./dev`, which
stops them in order (`stop_all`) instead of every process at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO

from devstack.services import die_with_parent

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
HEALTHY_AFTER_S = 60.0
"""A child that ran this long before dying is restarted after the first backoff again."""


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    stop_signal: int
    output: IO[bytes] | None
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.monotonic)
    backoff_s: float = FIRST_BACKOFF_S
    restart_at: float | None = None
    """When a child that died starts again (None while it runs)."""
    restarts: int = 0


def _popen(
    argv: list[str], env: Mapping[str, str], output: IO[bytes] | None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        env={**os.environ, **env},
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        preexec_fn=die_with_parent(signal.SIGTERM),
        start_new_session=True,
    )


class Supervisor:
    """Starts named processes and keeps them running until `stop_all`."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self._stopping = False

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        *,
        stop_signal: int = signal.SIGTERM,
        output: IO[bytes] | None = None,
    ) -> Child:
        """Start a child; `stop_signal` is what `stop_all` sends it, `output` takes its
        stdout and stderr (default: ours)."""
        child = Child(name, argv, dict(env), stop_signal, output, _popen(argv, env, output))
        self.children.append(child)
        return child

    def check(self) -> None:
        """Restart the children that died, each after its backoff (call it periodically)."""
        now = time.monotonic()
        for child in self.children:
            if self._stopping or child.process.poll() is None:
                continue
            if child.restart_at is None:
                if now - child.started_at >= HEALTHY_AFTER_S:
                    child.backoff_s = FIRST_BACKOFF_S
                child.restart_at = now + child.backoff_s
                print(
                    f"dev: {child.name} exited with {child.process.returncode}; "
                    f"restarting in {child.backoff_s:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
                child.backoff_s = min(MAX_BACKOFF_S, child.backoff_s * 2)
            elif now >= child.restart_at:
                child.process = _popen(child.argv, child.env, child.output)
                child.started_at, child.restart_at = now, None
                child.restarts += 1
                print(f"dev: {child.name} restarted", file=sys.stderr, flush=True)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """Return once `condition()` holds (checked every 0.1 s); raise RuntimeError when a
        child exits meanwhile or `timeout` passes, naming `what` was awaited."""
        deadline = time.monotonic() + timeout
        while not condition():
            for child in self.children:
                if child.process.poll() is not None:
                    raise RuntimeError(
                        f"{child.name} exited with {child.process.returncode} "
                        f"while waiting for {what}"
                    )
            if time.monotonic() >= deadline:
                raise RuntimeError(f"no {what} after {timeout:.0f} s")
            time.sleep(0.1)

    def wait(self) -> int:
        """Keep the children running until Ctrl-C / SIGTERM; then 0."""
        previous = signal.signal(signal.SIGTERM, lambda *_: self._request_stop())
        try:
            while not self._stopping:
                self.check()
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        return 0

    def _request_stop(self) -> None:
        self._stopping = True

    def stop_all(self, timeout: float = 4.0) -> None:
        """Send every child its stop signal (newest first), then SIGKILL those still running
        after `timeout`. They stop side by side: all of them before the stores they use."""
        self._stopping = True
        for child in reversed(self.children):
            if child.process.poll() is None:
                child.process.send_signal(child.stop_signal)
        deadline = time.monotonic() + timeout
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                print(f"dev: {child.name} did not stop in time; killed", file=sys.stderr)
                child.process.kill()
                child.process.wait()
        self.children.clear()
