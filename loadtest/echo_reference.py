"""The reference: what a bare `websockets` echo server does on this machine.

One server process (the `websockets` asyncio server, echoing every frame) and one client
process with `clients` connections, each sending a small binary frame and waiting for its
echo, as fast as it can. The figure is messages handled by the server per second (each round
trip is one received and one sent message), the ceiling the table servers can be held to:
they do the same socket work plus decoding, the engine, Redis and fan-out.

    python -m loadtest.echo_reference [--clients 200] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from typing import Any

import psutil

FRAME = b"\x83\xa4type\xa3act\xa4hand\x07\xa6action\xa4call"  # a 32-byte msgpack-ish frame


async def _serve(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for frame in ws:
            await ws.send(frame)

    async with serve(echo, "127.0.0.1", port, compression=None) as server:
        print("LISTENING", flush=True)
        await server.serve_forever()


async def _clients(port: int, clients: int, seconds: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    connections = [
        await connect(f"ws://127.0.0.1:{port}/", compression=None) for _ in range(clients)
    ]
    counts = [0] * clients
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def loop(n: int) -> None:
        ws = connections[n]
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await ws.send(FRAME)
            await ws.recv()
            if n % 10 == 0:
                latencies.append((time.perf_counter() - started) * 1000)
            counts[n] += 1

    started = time.monotonic()
    await asyncio.gather(*(loop(n) for n in range(clients)))
    elapsed = time.monotonic() - started
    for ws in connections:
        await ws.close()
    latencies.sort()
    round_trips = sum(counts)
    return {
        "clients": clients,
        "seconds": elapsed,
        "round_trips": round_trips,
        "round_trips_per_s": round_trips / elapsed,
        "messages_per_s": 2 * round_trips / elapsed,
        "rtt_p50_ms": latencies[len(latencies) // 2] if latencies else None,
        "rtt_p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else None,
    }


def measure(clients: int = 200, seconds: float = 5.0) -> dict[str, Any]:
    """Start the echo server, run the clients, return the figures (and the server's CPU)."""
    from devstack.services import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "loadtest.echo_reference", "--serve", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "LISTENING":
            raise RuntimeError("echo server did not start")
        process = psutil.Process(server.pid)
        before = process.cpu_times()
        result = asyncio.run(_clients(port, clients, seconds))
        after = process.cpu_times()
        cpu = (after.user + after.system - before.user - before.system) / result["seconds"]
        result["server_cpu_percent"] = 100 * cpu
        return result
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.echo_reference", description=__doc__)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args.serve))
        return 0
    print(json.dumps(measure(args.clients, args.seconds), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
