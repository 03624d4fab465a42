"""``python -m edge``: run one table server until SIGTERM (drain, exit 0) or SIGINT (hand the
tables back at once, exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

import uvloop

from edge import logs
from edge.metrics import Metrics
from edge.server import EdgeServer, worker_id_from_env
from holdem import heap
from holdem.bootstrap import bootstrap
from holdem.config import get_settings

YOUNG_COLLECTION_THRESHOLD = 2_000
"""Net allocations between two collections of the youngest generation (Python's: 700). At a
person's pace (900 players on one server) 2,000 left no full collection in a two-minute window
where 700 had two or three; young collections stayed below 30 ms of CPU (`holdem.heap`)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="WebSocket + /healthz, /readyz")
    parser.add_argument("--metrics-port", type=int, default=9100, help="Prometheus; -1: off")
    parser.add_argument("--worker-id", default=None, help="default: $EDGE_WORKER_ID or random")
    parser.add_argument(
        "--ready-file", default=None, help="write 'port metrics_port' here once listening"
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    worker_id = args.worker_id or worker_id_from_env()
    logs.configure(worker_id, settings.log_level)
    container = bootstrap(settings, component="edge")
    metrics = Metrics()
    stop_observing = heap.observe_pauses(metrics.gc_paused)
    server = EdgeServer(
        container, host=args.host, port=args.port, worker_id=worker_id, metrics=metrics
    )
    try:
        metrics_port = metrics.serve(args.host, args.metrics_port) if args.metrics_port >= 0 else -1
        port = await server.start()
        heap.settle(YOUNG_COLLECTION_THRESHOLD)
        if args.ready_file:
            ready = Path(args.ready_file)
            await asyncio.to_thread(ready.write_text, f"{port} {metrics_port}\n")
        await server.serve_until_signalled()
    finally:
        await server.close()
        await container.aclose()
        stop_observing()
    logging.getLogger("edge").info("stopped")
    return 0


def main() -> int:
    # uvloop: the table server's event loop and socket transports in C (at full speed the
    # loop's own bookkeeping and the transports' writes were a fifth of the server's CPU).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(run(parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
