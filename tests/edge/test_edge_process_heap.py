"""`python -m edge` settles its heap once it listens, and reports the collector's pauses."""

from __future__ import annotations

import asyncio
import re
import urllib.request


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
    return text


async def test_the_server_reports_the_full_collection_that_settled_its_heap(
    edge_processes,
) -> None:
    server = edge_processes("heap")
    await server.wait_ready()
    metrics = await asyncio.to_thread(_scrape, server.metrics_port)
    full = re.search(r'^edge_gc_pause_seconds_count\{generation="2"\} (\S+)$', metrics, re.M)
    assert full is not None, metrics
    # The collection `holdem.heap.settle` ran before the server said it was ready.
    assert float(full.group(1)) >= 1
