"""`./dev up` runs the template: API through the local gateway, SQS pollers, schedules; then
Ctrl-C stops every process it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

from devstack.paths import ROOT, STATE
from devstack.services import free_port


def _children_of(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_dev_up_serves_the_template_and_stops_everything_on_ctrl_c(database_url, redis_url):
    name = f"uptest-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEVSTACK_STACK": name,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'tools'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "up", "--api-port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    banner: list[str] = []
    seen_banner = threading.Event()

    def drain() -> None:  # keep reading: a full pipe would block the stack's processes
        assert process.stdout is not None
        for line in process.stdout:
            banner.append(line)
            if line.startswith("  operator"):
                seen_banner.set()
        seen_banner.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert seen_banner.wait(180)
        text = "".join(banner)
        assert "Hold'em backend is running" in text, text
        ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["postgres"]["ok"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/not-a-route", timeout=10).status_code == 404
        # A newcomer finds an operator login and open tables with free seats in the banner.
        operator = next(line for line in banner if line.startswith("  operator"))
        email, password = operator.split()[1], operator.split()[3]
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"email": email, "password": password},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        tables = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/lobby/tables?min_free_seats=2", timeout=30
        ).json()["items"]
        assert {t["max_seats"] for t in tables} >= {2, 6, 9}
        assert len({t["big_blind"] for t in tables}) >= 3
        running = json.loads((STATE / name / "running.json").read_text())
        assert "ApiFunction" in running["function_ports"]
        # Every SQS event source of the template is polled (the queue is drained by its handler).
        for logical, url in running["queue_urls"].items():
            if logical.endswith("DeadLetterQueue"):
                continue
            assert url.startswith(running["env"]["AWS_ENDPOINT_URL"])
        children = _children_of(process.pid)
        assert len(children) >= 2  # the function environment(s) and the gateway
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()  # its children follow (they die with their parent)
            raise
        reader.join(10)
        if process.stdout is not None:
            process.stdout.close()
    assert code == 0, "".join(banner)[-3000:]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists() for c in children):
        time.sleep(0.1)
    left = [c for c in children if Path(f"/proc/{c}").exists()]
    assert left == [], f"processes left behind: {left}"
    assert not (STATE / name / "running.json").exists()
