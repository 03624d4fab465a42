"""The simulator inside the local stack: a uvicorn server in a thread of `./dev up`."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from gateway_sim.app import SimState, create_app


@dataclass
class RunningSimulator:
    url: str
    state: SimState
    _server: uvicorn.Server
    _thread: threading.Thread
    _sock: socket.socket

    def env(self) -> dict[str, str]:
        """Settings that point the payment adapters at the simulator (gateway and rates)."""
        return {
            "MONEY__GATEWAY_BASE_URL": self.url,
            "MONEY__GATEWAY_API_KEY": "local-simulator",
            "MONEY__GATEWAY_EMAIL": "ops@holdem.local",
            "MONEY__GATEWAY_PASSWORD": "local-simulator",
            "MONEY__UPBIT_BASE_URL": self.url,
            "MONEY__RATE_PROVIDERS": '["upbit"]',
        }

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()


def start(ipn_secret: str, network: str = "mainnet") -> RunningSimulator:
    """Start the simulator on a free loopback port; returns once it answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    state = SimState(
        ipn_secret=ipn_secret, network="testnet" if network == "testnet" else "mainnet"
    )
    config = uvicorn.Config(create_app(state), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, args=([sock],), daemon=True, name="gateway-sim")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway simulator did not start")
        time.sleep(0.01)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return RunningSimulator(url, state, server, thread, sock)
