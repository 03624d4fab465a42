"""Run the gateway simulator: ``python -m gateway_sim --port 0`` (with tools/ on the path).

Reads the IPN secret from ``MONEY__WEBHOOK_SECRET`` (the same one our webhook checks) and
writes ``{"url": ...}`` to ``--state-file`` once listening, for `./dev pay`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from pathlib import Path

import uvicorn

from gateway_sim.app import SimState, create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="gateway_sim")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]
    network = os.environ.get("MONEY__ADDRESS_NETWORK", "mainnet")
    state = SimState(
        ipn_secret=os.environ.get("MONEY__WEBHOOK_SECRET", ""),
        network="testnet" if network == "testnet" else "mainnet",
    )
    if args.state_file:
        args.state_file.parent.mkdir(parents=True, exist_ok=True)
        args.state_file.write_text(json.dumps({"url": f"http://127.0.0.1:{port}"}))
    config = uvicorn.Config(create_app(state), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
