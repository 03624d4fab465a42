"""The cycle collector of a long-running process: what it may skip, and what its pauses cost.

CPython's collector stops the whole process while it runs, and a full collection walks every
object it tracks. In a table server most of them are the code's (modules, classes, pydantic
models: ≈ 125,000 objects after start); a full collection with 900 players connected walked
≈ 260,000 and took 130–160 ms of CPU, every 40–50 s at a person's pace, during which none of
the server's tables moved (docs/performance/table-server.md, "Fifteenth session: the
collector's pauses"). `settle` freezes what exists once the process has started, so no later
collection walks it, and lets the youngest generation grow larger before it is collected, so
fewer short-lived objects are promoted to the old generations (whose growth is what starts a
full collection). `observe_pauses` reports each collection's duration.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

__all__ = ["observe_pauses", "settle"]


def settle(young_threshold: int) -> None:
    """Collect once, freeze every object alive now out of all later collections, and collect
    the youngest generation after `young_threshold` net allocations (Python's default: 700).

    Call it when the set-up is done: what it allocated lives as long as the process, and an
    object frozen here is never collected (freed by its reference count only), so freeze only
    what lives to the end.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, *gc.get_threshold()[1:])


def observe_pauses(record: Callable[[int, float], None]) -> Callable[[], None]:
    """Call ``record(generation, seconds)`` after every collection (seconds of wall time: the
    pause everything else in the process waited); returns the function that stops it."""
    started = 0.0

    def callback(phase: str, info: dict[str, Any]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            record(info["generation"], time.perf_counter() - started)

    gc.callbacks.append(callback)
    return lambda: gc.callbacks.remove(callback)
