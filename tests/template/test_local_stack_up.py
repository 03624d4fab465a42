"""`./dev up` runs the template: API through the local gateway, SQS pollers, schedules, table
servers (restarted when one dies), demo bots and, with `--monitoring`, Prometheus scraping the
stack's metrics ports; then Ctrl-C stops every process it started."""

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


def _listens(pid: int, port: int) -> bool:
    """Whether process `pid` has a listening socket on `port` (from /proc)."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return False
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port and inode in inodes:
            return True
    return False


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _all_scraped_and_evaluated(prometheus: str, targets: int) -> bool:
    """Whether Prometheus has `targets` targets all up, and every alert rule evaluated."""
    try:
        found = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    except httpx.HTTPError:
        return False
    up = [t for t in found["activeTargets"] if t["health"] == "up"]
    rules = [rule for group in groups for rule in group["rules"]]
    evaluated = [
        r for r in rules if r["health"] == "ok" and not r["lastEvaluation"].startswith("0001")
    ]
    return len(up) == targets and len(rules) == len(evaluated) > 0


def _wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_dev_up_serves_the_template_restarts_a_dead_table_server_and_stops_on_ctrl_c(
    database_url, redis_url
):
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
        [
            *(sys.executable, "-m", "devstack", "up", "--api-port", str(port), "--bots", "2"),
            *("--monitoring", "--metrics-port", "0", "--prometheus-port", "0"),
        ],
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
            if line.startswith("  demo bots"):  # the banner's last line
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
        # The REST API's execution environments count requests by route template.
        api_metrics = next(line for line in banner if line.startswith("  API metrics"))
        scraped = httpx.get(api_metrics.split()[2].rstrip(","), timeout=10).text
        scraped += httpx.get(api_metrics.split()[3], timeout=10).text
        assert 'route="/api/v1/auth/login",status_class="2xx"' in scraped
        # Prometheus scrapes every metrics port and evaluates the repo's alert rules.
        prometheus = next(line for line in banner if line.startswith("  Prometheus"))
        base = prometheus.split()[1].removesuffix("/alerts")
        _wait_until(lambda: _all_scraped_and_evaluated(base, 4), 60)
        # The bots started once the table servers were ready: no refused connection.
        assert "bot reconnecting" not in "".join(banner), "".join(banner)[-3000:]
        running = json.loads((STATE / name / "running.json").read_text())
        assert "ApiFunction" in running["function_ports"]
        # Every SQS event source of the template is polled (the queue is drained by its handler).
        for logical, url in running["queue_urls"].items():
            if logical.endswith("DeadLetterQueue"):
                continue
            assert url.startswith(running["env"]["AWS_ENDPOINT_URL"])
        children = _children_of(process.pid)
        assert len(children) >= 2  # the function environment(s) and the gateway
        # A table server killed -9 is restarted, and the stack stays up.
        edge_url = next(line for line in banner if line.startswith("  table server"))
        edge_port = int(edge_url.split("ws://127.0.0.1:", 1)[1].split("/", 1)[0])
        _wait_until(lambda: _answers(f"http://127.0.0.1:{edge_port}/healthz"), 60)
        edge_pid = next(pid for pid in _children_of(process.pid) if _listens(pid, edge_port))
        os.kill(edge_pid, signal.SIGKILL)
        _wait_until(lambda: "dev: edge1 restarted" in "".join(banner), 60)
        _wait_until(lambda: _answers(f"http://127.0.0.1:{edge_port}/healthz"), 60)
        assert process.poll() is None
        children = _children_of(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        stop_started = time.monotonic()
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()  # its children follow (they die with their parent)
            raise
        reader.join(10)
        if process.stdout is not None:
            process.stdout.close()
    print(f"./dev up stopped {time.monotonic() - stop_started:.1f} s after Ctrl-C")
    assert code == 0, "".join(banner)[-3000:]
    assert "Traceback" not in "".join(banner), "".join(banner)[-5000:]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists() for c in children):
        time.sleep(0.1)
    left = [c for c in children if Path(f"/proc/{c}").exists()]
    assert left == [], f"processes left behind: {left}"
    assert not (STATE / name / "running.json").exists()
