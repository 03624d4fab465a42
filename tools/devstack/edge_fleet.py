"""The table servers of `./dev up`: two `python -m edge` processes, and optional demo bots.

The supervisor restarts a table server that dies (its tables are taken over by the other one
meanwhile). On Ctrl-C they get SIGINT: a local stop hands every table back at once, without
waiting for hands that nobody is left to finish; those hands resume on the next `./dev up`
(the checkpoints stay in the stack's Redis, which keeps its data).
"""

from __future__ import annotations

import signal

from devstack.paths import VENV_BIN
from devstack.services import free_port
from devstack.stack import Stack
from devstack.supervisor import Supervisor
from devstack.template import as_login, table_server_login

PYTHON = str(VENV_BIN / "python")


def start_edge_fleet(stack: Stack, supervisor: Supervisor, servers: int, bots: int) -> list[str]:
    """Start `servers` table servers (and `bots` demo bots); returns lines for the banner."""
    urls, lines = [], []
    # As in AWS, the servers log in as their component's user, not the database's owner.
    login = table_server_login(stack.resolver().template)
    database_url = as_login(stack.env.get("DATABASE_URL", stack.database_url), login)
    for n in range(1, servers + 1):
        port, metrics = free_port(), free_port()
        env = {**stack.env, "DATABASE_URL": database_url, "EDGE_WORKER_ID": f"edge{n}"}
        argv = [PYTHON, "-m", "edge", "--port", str(port), "--metrics-port", str(metrics)]
        supervisor.spawn(f"edge{n}", argv, env, stop_signal=signal.SIGINT)
        urls.append(f"ws://127.0.0.1:{port}/")
        lines.append(
            f"  table server ws://127.0.0.1:{port}/  (/healthz, /readyz; "
            f"metrics http://127.0.0.1:{metrics}/metrics)"
        )
    if bots:
        argv = [PYTHON, "-m", "edge.demo", "--bots", str(bots)]
        for url in urls:
            argv += ["--url", url]
        supervisor.spawn("bots", argv, dict(stack.env))
        lines.append(f"  demo bots    {bots} bots at the demo table (hands in the logs)")
    return lines
