"""`holdem.heap`: freezing the set-up's objects, and the collector's pauses reported."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from holdem import heap


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector as it was (`settle` changes it for the whole process)."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("collector")
def test_settle_freezes_what_is_alive_and_raises_the_young_threshold() -> None:
    alive = Cycle()
    heap.settle(2_000)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == 2_000
    # Frozen: no collection walks it (it is in no generation any more).
    assert not any(obj is alive for obj in gc.get_objects())
    # What comes after is collected as before.
    later = Cycle()
    assert any(obj is later for obj in gc.get_objects())
    del later
    assert gc.collect() >= 1


def test_observe_pauses_records_each_collection_until_stopped() -> None:
    pauses: list[tuple[int, float]] = []
    stop = heap.observe_pauses(lambda generation, seconds: pauses.append((generation, seconds)))
    try:
        gc.collect(1)
        gc.collect()
    finally:
        stop()
    assert [generation for generation, _ in pauses][-2:] == [1, 2]
    assert all(seconds >= 0 for _, seconds in pauses)
    seen = len(pauses)
    gc.collect()
    assert len(pauses) == seen
