"""Metrics of `./dev up`: fixed scrape ports, and Prometheus with the repo's alert rules.

Every process of the stack that has Prometheus metrics gets a port from one range, in a
fixed order (by default 9101 and up: the REST API's execution environments, then the table
servers), so a scrape config, a Grafana data source or a bookmark keeps working from one
`./dev up` to the next. `--metrics-port 0` takes free ports instead (tests, a second stack).

`./dev up --monitoring` also runs Prometheus (Debian's `prometheus` package; its data under
`.devstate/<stack>/prometheus/`) on a fixed port, 9190 by default — not 9090, where the
package's own service may already listen — with `ops/prometheus/alerts.yml` as its rules and a
scrape config written for these ports.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack.paths import ROOT
from devstack.services import free_port, port_listens
from devstack.supervisor import Supervisor
from devstack.system import prometheus_binaries

ALERT_RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
FIRST_METRICS_PORT = 9101
PROMETHEUS_PORT = 9190
SCRAPE_INTERVAL = "5s"
"""Scrapes and rule evaluations every 5 s: a local stack shows a change within seconds (the
rules' `for:` durations still hold an alert back as they would in production)."""


class PortTakenError(RuntimeError):
    """A fixed port of the stack is in use (another `./dev up`, or some other server)."""


@dataclass(frozen=True)
class ScrapeTarget:
    """One metrics endpoint: `http://127.0.0.1:<port>/metrics`, scraped as `job`."""

    job: str
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"


def check_port_free(port: int, option: str) -> int:
    """`port`, when nothing listens on it; else a PortTakenError naming the option to change."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            raise PortTakenError(
                f"port {port} is in use (another ./dev up?): choose others with {option}"
            ) from error
    return port


class MetricsPorts:
    """Hands out the stack's metrics ports in order from `first` (0: free ports)."""

    OPTION = "--metrics-port"

    def __init__(self, first: int = FIRST_METRICS_PORT) -> None:
        self._next = first
        self.targets: list[ScrapeTarget] = []

    def take(self, job: str, name: str) -> int:
        """The next port, recorded as a scrape target of `job`."""
        if self._next == 0:
            port = free_port()
        else:
            port = check_port_free(self._next, self.OPTION)
            self._next += 1
        self.targets.append(ScrapeTarget(job, name, port))
        return port


def scrape_config(
    targets: Sequence[ScrapeTarget], rules: Path = ALERT_RULES, interval: str = SCRAPE_INTERVAL
) -> dict[str, Any]:
    """A Prometheus configuration scraping `targets` (a job per `job`) and evaluating
    `rules`, both every `interval`.

    Each target keeps its process's name as the `instance` label (`edge1`, `ApiFunction-1`),
    which the alerts and the dashboard show.
    """
    jobs: dict[str, list[dict[str, Any]]] = {}
    for target in targets:
        jobs.setdefault(target.job, []).append(
            {"targets": [f"127.0.0.1:{target.port}"], "labels": {"instance": target.name}}
        )
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": job, "static_configs": static} for job, static in jobs.items()
        ],
    }


def write_scrape_config(
    folder: Path, targets: Sequence[ScrapeTarget], interval: str = SCRAPE_INTERVAL
) -> Path:
    """Write `prometheus.yml` for `targets` into `folder`; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prometheus.yml"
    config = scrape_config(targets, interval=interval)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_argv(config: Path, data: Path, port: int) -> list[str]:
    """The command line of a private Prometheus on 127.0.0.1:`port`."""
    return [
        str(prometheus_binaries().prometheus),
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        "--storage.tsdb.retention.time=2d",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=error",
    ]


def start_prometheus(
    state: Path, supervisor: Supervisor, targets: Sequence[ScrapeTarget], port: int
) -> list[str]:
    """Run Prometheus over `targets` until the stack stops; returns lines for the banner."""
    if port:
        check_port_free(port, "--prometheus-port")
    else:
        port = free_port()
    folder = state / "prometheus"
    config = write_scrape_config(folder, targets)
    supervisor.spawn("prometheus", prometheus_argv(config, folder / "data", port), {})
    supervisor.wait_for(lambda: port_listens(port), f"Prometheus on port {port}")
    return [
        f"  Prometheus   http://127.0.0.1:{port}/alerts  ({len(targets)} targets every "
        f"{SCRAPE_INTERVAL}, rules {ALERT_RULES.relative_to(ROOT)}; config {config})"
    ]
