"""The table servers of `./dev up`: two `python -m edge` processes, and optional demo bots.

The supervisor restarts a table server that dies (its tables are taken over by the other one
meanwhile). On Ctrl-C they get SIGINT: a local stop hands every table back at once, without
waiting for hands that nobody is left to finish; those hands resume on the next `./dev up`
(the checkpoints stay in the stack's Redis, which keeps its data).

The fleet counts as started once every table server answers `/readyz`: only then do the
bots start and the banner print (a client connecting to a server still starting would see
its connection refused, and a bot log it).
"""

from __future__ import annotations

import functools
import signal

import httpx

from devstack.monitoring import MetricsPorts
from devstack.paths import VENV_BIN
from devstack.services import free_port
from devstack.stack import Stack
from devstack.supervisor import Supervisor
from devstack.template import as_login, table_server_login

PYTHON = str(VENV_BIN / "python")


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def start_edge_fleet(
    stack: Stack, supervisor: Supervisor, servers: int, bots: int, metrics: MetricsPorts
) -> list[str]:
    """Start `servers` table servers (metrics ports from `metrics`, scrape job
    `table-server`) and `bots` demo bots; returns lines for the banner."""
    ports, lines = [], []
    # As in AWS, the servers log in as their component's user, not the database's owner.
    login = table_server_login(stack.resolver().template)
    database_url = as_login(stack.env.get("DATABASE_URL", stack.database_url), login)
    for n in range(1, servers + 1):
        port, metrics_port = free_port(), metrics.take("table-server", f"edge{n}")
        env = {**stack.env, "DATABASE_URL": database_url, "EDGE_WORKER_ID": f"edge{n}"}
        argv = [PYTHON, "-m", "edge", "--port", str(port), "--metrics-port", str(metrics_port)]
        supervisor.spawn(f"edge{n}", argv, env, stop_signal=signal.SIGINT)
        ports.append(port)
        lines.append(
            f"  table server ws://127.0.0.1:{port}/  (/healthz, /readyz; "
            f"metrics http://127.0.0.1:{metrics_port}/metrics)"
        )
    for port in ports:
        supervisor.wait_for(functools.partial(_ready, port), f"table server {port} ready")
    if bots:
        argv = [PYTHON, "-m", "edge.demo", "--bots", str(bots)]
        for port in ports:
            argv += ["--url", f"ws://127.0.0.1:{port}/"]
        supervisor.spawn("bots", argv, dict(stack.env))
        lines.append(f"  demo bots    {bots} bots at the demo table (hands in the logs)")
    return lines
