"""`./dev up --monitoring`: Prometheus reads the repo's alert rules and the scrape config the
stack writes, scrapes a table server's metrics endpoint and evaluates the alerts over it.

Prometheus and promtool come from Debian's `prometheus` package, installed with apt-get when
missing (as PostgreSQL and Redis are); these tests skip only where it is absent and cannot be
installed (not root).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from devstack.monitoring import (
    ALERT_RULES,
    MetricsPorts,
    PortTakenError,
    ScrapeTarget,
    prometheus_argv,
    write_scrape_config,
)
from devstack.services import free_port
from devstack.system import MissingBinaryError, PrometheusBinaries, prometheus_binaries
from edge.metrics import Metrics


@pytest.fixture(scope="module")
def prometheus() -> PrometheusBinaries:
    try:
        return prometheus_binaries()
    except MissingBinaryError as error:
        pytest.skip(f"Prometheus is not installed and cannot be here: {error}")


def _promtool(prometheus: PrometheusBinaries, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(prometheus.promtool), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_alert_rules(prometheus):
    checked = _promtool(prometheus, "check", "rules", str(ALERT_RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout, checked.stdout


def test_promtool_accepts_the_generated_scrape_config(prometheus, tmp_path):
    targets = [
        ScrapeTarget("api", "ApiFunction-1", 9101),
        ScrapeTarget("table-server", "edge1", 9103),
        ScrapeTarget("table-server", "edge2", 9104),
    ]
    config = write_scrape_config(tmp_path, targets)
    checked = _promtool(prometheus, "check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout, checked.stdout
    assert "8 rules found" in checked.stdout, checked.stdout


def _two_free_ports() -> int:
    """A port that is free, and so is the next one."""
    while True:
        port = free_port()
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port + 1)) != 0:
                return port


def test_fixed_metrics_ports_come_in_order_and_a_taken_one_is_named():
    ports = MetricsPorts(_two_free_ports())
    first = ports.take("api", "ApiFunction-1")
    second = ports.take("table-server", "edge1")
    assert second == first + 1
    assert [t.name for t in ports.targets] == ["ApiFunction-1", "edge1"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = MetricsPorts(taken.getsockname()[1])
        with pytest.raises(PortTakenError, match="--metrics-port"):
            busy.take("table-server", "edge1")


@pytest.fixture
def running_prometheus(prometheus, tmp_path) -> Iterator[tuple[str, Metrics]]:
    """Prometheus over a live table-server metrics endpoint (edge1) and a dead one (edge2)."""
    metrics = Metrics()
    live = metrics.serve("127.0.0.1", 0)
    dead = free_port()  # nothing listens here: a table server that is down
    targets = [
        ScrapeTarget("table-server", "edge1", live),
        ScrapeTarget("table-server", "edge2", dead),
    ]
    config = write_scrape_config(tmp_path, targets, interval="1s")
    port = free_port()
    process = subprocess.Popen(
        prometheus_argv(config, tmp_path / "data", port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"http://127.0.0.1:{port}", metrics
    finally:
        process.terminate()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def _poll(url: str, found, timeout: float = 30):
    """`found(json)` of GET `url` once it is not None (Prometheus scrapes and evaluates on
    its own clock: there is no event to await)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = httpx.get(url, timeout=5)
            # A Prometheus still starting answers 503 with a plain-text body: not yet.
            value = found(answer.json()["data"]) if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            value = None
        if value is not None:
            return value
        assert time.monotonic() < deadline, f"nothing found at {url}"
        time.sleep(0.2)


def test_prometheus_scrapes_a_table_server_and_evaluates_the_alerts(running_prometheus):
    base, metrics = running_prometheus
    metrics.count_error("internal_error")  # a server fault
    metrics.count_error("not_your_turn")  # a client's mistake

    def health(data):
        found = {t["labels"]["instance"]: t["health"] for t in data["activeTargets"]}
        return found if set(found.values()) >= {"up", "down"} else None

    assert _poll(f"{base}/api/v1/targets", health) == {"edge1": "up", "edge2": "down"}

    def down_alert(data):
        rules = {r["name"]: r for group in data["groups"] for r in group["rules"]}
        alerts = rules["TableServerDown"]["alerts"]
        return alerts or None

    # The dead server matches TableServerDown at once; `for: 2m` holds it pending.
    alerts = _poll(f"{base}/api/v1/rules", down_alert)
    assert [(a["labels"]["instance"], a["state"]) for a in alerts] == [("edge2", "pending")]

    def errors(data):
        return {r["metric"]["fault"]: r["value"][1] for r in data["result"]} or None

    query = "sum by (fault) (edge_errors_total)"
    assert _poll(f"{base}/api/v1/query?query={query}", errors) == {"server": "1", "client": "1"}
    rules = httpx.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"][0]["rules"]
    assert len(rules) == 8
    assert all(rule["health"] == "ok" for rule in rules), rules
