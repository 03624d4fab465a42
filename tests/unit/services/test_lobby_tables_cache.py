"""The lobby's per-process page cache: one read per page and interval, shared by concurrent
requests; failures and pages read across a `clear` are not kept."""

from __future__ import annotations

import asyncio

import pytest

from holdem.services.lobby import TableFilter, TablesCache, TableSummary
from holdem.services.pagination import Page

KEY = (TableFilter(), None, 20)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Reads:
    """A page reader that counts its reads and can be held open."""

    def __init__(self) -> None:
        self.count = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def __call__(self) -> Page[TableSummary]:
        self.count += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("database down")
        return Page([], f"page-{self.count}")


async def test_a_page_is_read_once_per_interval():
    clock, reads = Clock(), Reads()
    cache = TablesCache(1.0, clock=clock)
    first = await cache.get(KEY, reads)
    clock.now += 0.9
    assert await cache.get(KEY, reads) is first
    other = (TableFilter(big_blind=2_000), None, 20)
    assert (await cache.get(other, reads)).next_cursor == "page-2"
    clock.now += 0.2
    assert (await cache.get(KEY, reads)).next_cursor == "page-3"
    assert reads.count == 3


async def test_concurrent_requests_share_one_read():
    reads = Reads()
    reads.gate = asyncio.Event()
    cache = TablesCache(1.0, clock=Clock())
    waiting = [asyncio.ensure_future(cache.get(KEY, reads)) for _ in range(10)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # one gives up: the others still get the page
    reads.gate.set()
    pages = await asyncio.gather(*waiting[1:])
    assert {page.next_cursor for page in pages} == {"page-1"}
    assert reads.count == 1


async def test_a_failed_read_is_not_kept():
    reads = Reads()
    reads.fail = True
    cache = TablesCache(1.0, clock=Clock())
    with pytest.raises(ConnectionError):
        await cache.get(KEY, reads)
    reads.fail = False
    assert (await cache.get(KEY, reads)).next_cursor == "page-2"


async def test_clear_forgets_pages_and_reads_under_way():
    reads = Reads()
    cache = TablesCache(1.0, clock=Clock())
    await cache.get(KEY, reads)
    reads.gate = asyncio.Event()
    cache.clear()
    before = asyncio.ensure_future(cache.get(KEY, reads))  # started before a table opened
    await asyncio.sleep(0)
    cache.clear()  # the table opened: the read under way may predate it
    after = asyncio.ensure_future(cache.get(KEY, reads))
    await asyncio.sleep(0)
    reads.gate.set()
    old, new = await before, await after
    assert old is not new
    assert reads.count == 3
    assert await cache.get(KEY, reads) is new  # only the read started after the change is kept


async def test_the_number_of_pages_kept_is_bounded():
    clock, reads = Clock(), Reads()
    cache = TablesCache(1.0, max_pages=3, clock=clock)
    for n in range(4):
        await cache.get((TableFilter(), f"cursor-{n}", 20), reads)
    clock.now += 0.5
    await cache.get((TableFilter(), "cursor-0", 20), reads)  # dropped when the 4th was read
    assert reads.count == 5
    assert len(cache._pages) <= 3
