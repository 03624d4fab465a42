"""The server's one reader of its tables' command streams (edge.inbox), on a real Redis.

The reader ("w1") holds the leases of the tables it reads (`own`), so a command appended to
one of their inboxes notices it through its wake stream, as in a table server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

import edge.inbox
from edge.inbox import LOCAL, Inbox, Mailbox
from holdem.adapters.leases import LeaseStore
from holdem.adapters.relay import Notice, Relay, wake_key


@pytest.fixture
async def relay(redis_url: str) -> AsyncIterator[Relay]:
    client = Redis.from_url(redis_url)
    try:
        yield Relay(client)
    finally:
        await client.aclose()


@pytest.fixture
async def own(redis_url: str) -> AsyncIterator[LeaseStore]:
    """Worker w1's leases (taken as `own.acquire(table_id)`)."""
    client = Redis.from_url(redis_url)
    try:
        yield LeaseStore(client, "w1", 60_000)
    finally:
        await client.aclose()


@pytest.fixture
async def inbox(relay: Relay, own: LeaseStore, monkeypatch) -> AsyncIterator[Inbox]:
    # Only the notices bring the commands (no periodic read of every mailbox in a test).
    monkeypatch.setattr(edge.inbox, "FULL_READ_S", 3600.0)
    for table_id in (1, 2, 3, 5, 6, 7, 8):
        await own.acquire(table_id)
    reader = Inbox(relay, "w1")
    reader.start()
    try:
        yield reader
    finally:
        await reader.stop()


async def take(mailbox: Mailbox, count: int) -> list[tuple[str, dict]]:
    taken: list[tuple[str, dict]] = []
    async with asyncio.timeout(30):  # a command never noticed fails the test, not hangs it
        while len(taken) < count:
            taken += await mailbox.take(0.5)
    return taken


async def test_one_reader_hands_each_table_its_commands_in_stream_order(relay, inbox):
    one, two = inbox.open(1, "0-0"), inbox.open(2, "0-0")
    sent: dict[int, list[str]] = {1: [], 2: []}
    for n in range(30):
        table = 1 + n % 2
        sent[table].append(await relay.send_command(table, {"kind": "act", "n": n}))

    got_one, got_two = await take(one, 15), await take(two, 15)

    assert [entry_id for entry_id, _ in got_one] == sent[1]
    assert [entry_id for entry_id, _ in got_two] == sent[2]
    assert [c["n"] for _, c in got_one] == list(range(0, 30, 2))
    assert one.cursor == sent[1][-1]


async def test_a_table_opened_while_the_reader_blocks_gets_commands_sent_before_it_opened(
    relay, inbox
):
    first = await relay.send_command(7, {"kind": "join"})
    second = await relay.send_command(7, {"kind": "act"})
    await asyncio.sleep(0)  # the reader is blocked with no table

    mailbox = inbox.open(7, first)  # a checkpoint's cursor: `first` was applied already

    assert [entry_id for entry_id, _ in await take(mailbox, 1)] == [second]


async def test_a_reopened_table_reads_again_from_its_own_cursor(relay, inbox):
    ids = [await relay.send_command(3, {"kind": "act", "n": n}) for n in range(3)]
    old = inbox.open(3, "0-0")
    assert len(await take(old, 3)) == 3
    inbox.close(old)

    new = inbox.open(3, ids[0])  # the next owner restores a checkpoint after the first

    assert [entry_id for entry_id, _ in await take(new, 2)] == ids[1:]
    assert await old.take(0) == []


async def test_appending_to_the_wake_stream_ends_a_blocking_read(relay):
    key = wake_key("w2")
    read = asyncio.create_task(relay.read_inboxes({}, (key, "0-0"), block_ms=4_000))
    await asyncio.sleep(0.05)

    await relay.wake(key)
    found, notices, cursor = await read

    assert (found, notices) == ({}, [])
    assert cursor != "0-0"  # returned for the wake-up, not because the block ran out


async def test_local_commands_wait_until_the_stream_was_read_then_follow_it_in_order(relay, inbox):
    sent_before = await relay.send_command(5, {"kind": "act", "n": 0})
    mailbox = inbox.open(5, "0-0")
    # Until the reader has read the new table's stream once, a local command must go
    # through the stream too (what was sent there before the table was taken comes first).
    assert not inbox.accept_local(5, {"kind": "act", "n": 1})

    first = await take(mailbox, 1)
    assert inbox.accept_local(5, {"kind": "act", "n": 1})
    assert inbox.accept_local(5, {"kind": "act", "n": 2})

    assert first == [(sent_before, {"kind": "act", "n": 0})]
    assert await mailbox.take(0) == [
        (LOCAL, {"kind": "act", "n": 1}),
        (LOCAL, {"kind": "act", "n": 2}),
    ]
    assert mailbox.cursor == sent_before  # local commands are in no stream


async def test_a_table_not_run_here_takes_no_local_command_and_a_closed_one_gives_them_back(
    relay, inbox
):
    assert not inbox.accept_local(6, {"kind": "act"})
    mailbox = inbox.open(6, "0-0")
    await relay.send_command(6, {"kind": "join"})
    await take(mailbox, 1)
    assert inbox.accept_local(6, {"kind": "act", "n": 1})

    inbox.close(mailbox)

    assert not inbox.accept_local(6, {"kind": "act", "n": 2})
    assert mailbox.local_left() == [{"kind": "act", "n": 1}]


async def test_local_commands_taken_but_not_checkpointed_are_handed_to_the_stream_in_order(
    relay, inbox
):
    mailbox = inbox.open(8, "0-0")
    await relay.send_command(8, {"kind": "join"})
    await take(mailbox, 1)
    for n in (1, 2):
        assert inbox.accept_local(8, {"kind": "act", "n": n})
    await take(mailbox, 2)
    mailbox.saved()  # acts 1 and 2 are in a checkpoint
    for n in (3, 4, 5):
        assert inbox.accept_local(8, {"kind": "act", "n": n})
    assert len(await take(mailbox, 2)) == 3  # taken (applied or not), not checkpointed

    assert inbox.accept_local(8, {"kind": "act", "n": 6})  # never taken
    inbox.close(mailbox)
    await inbox.hand_on(mailbox)

    stream = await relay.read_inboxes({8: "0-0"}, ("ws:worker:none:wake", "0-0"), None)
    assert [c.get("n") for _id, c in stream[0][8]] == [None, 3, 4, 5, 6]


async def test_an_idle_mailbox_waits_for_a_command_or_a_nudge_with_no_timer():
    mailbox = Mailbox(9, "0-0")
    waiting = asyncio.create_task(mailbox.take(None))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # no deadline: nothing ends the wait but a command or a nudge

    mailbox.nudge()  # e.g. its actor was told to stop

    assert await waiting == []
    waiting = asyncio.create_task(mailbox.take(None))
    await asyncio.sleep(0)
    mailbox.put_local({"kind": "act"})
    assert await waiting == [(LOCAL, {"kind": "act"})]


async def test_a_nudge_while_nobody_waits_ends_the_next_wait_at_once():
    # The actor was told to hand the table over while it was still restoring the table: it
    # must see that before it waits, with no timer, for a command that may never come.
    mailbox = Mailbox(10, "0-0")
    mailbox.nudge()

    assert await asyncio.wait_for(mailbox.take(None), timeout=10) == []
    waiting = asyncio.create_task(mailbox.take(None))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the nudge was used up
    mailbox.nudge()
    assert await waiting == []


async def test_a_wake_stream_entry_is_not_taken_for_a_table_and_entries_keep_their_fields(relay):
    first = await relay.send_command(21, {"kind": "act", "n": 1})
    await relay.wake(wake_key("w3"))

    found, notices, cursor = await relay.read_inboxes(
        {21: "0-0", 22: "0-0"}, (wake_key("w3"), "0-0"), block_ms=100
    )

    assert found == {21: [(first, {"kind": "act", "n": 1})]}
    assert notices == []  # nobody held table 21's lease
    assert cursor != "0-0"
    assert await relay.read_inboxes({21: first}, (wake_key("w3"), cursor), block_ms=10) == (
        {},
        [],
        cursor,
    )


async def test_a_command_notices_the_holder_of_the_tables_lease_on_its_wake_stream(redis_url):
    client = Redis.from_url(redis_url)
    try:
        relay = Relay(client)
        await LeaseStore(client, "w4", 60_000).acquire(31)
        first = await relay.send_command(31, {"kind": "act", "n": 1})
        second = await relay.send_command(31, {"kind": "act", "n": 2})
        await relay.send_command(32, {"kind": "act"})  # nobody holds 32: no notice anywhere

        found, notices, _ = await relay.read_inboxes({}, (wake_key("w4"), "0-0"), None)

        assert found == {}
        assert notices == [
            Notice(31, "0-0", first, {"kind": "act", "n": 1}),
            Notice(31, first, second, {"kind": "act", "n": 2}),  # the entry it follows
        ]
        assert await client.keys("ws:worker:*") == [wake_key("w4").encode()]
        assert 0 < await client.ttl(wake_key("w4")) <= 3600
    finally:
        await client.aclose()


async def test_a_noticed_command_after_an_unnoticed_one_makes_the_reader_read_the_inbox(
    relay, own, inbox
):
    mailbox = inbox.open(3, "0-0")
    first = await relay.send_command(3, {"kind": "act", "n": 0})
    assert [entry_id for entry_id, _ in await take(mailbox, 1)] == [first]
    lease = (await own.holders([3]))[3]
    assert lease is not None
    assert await own.release(lease)
    unnoticed = await relay.send_command(3, {"kind": "act", "n": 1})  # nobody holds table 3
    await own.acquire(3)

    noticed = await relay.send_command(3, {"kind": "act", "n": 2})

    assert [entry_id for entry_id, _ in await take(mailbox, 2)] == [unnoticed, noticed]


async def test_a_command_nobody_noticed_is_read_by_the_periodic_read_of_every_mailbox(
    relay, monkeypatch
):
    monkeypatch.setattr(edge.inbox, "FULL_READ_S", 0.2)
    reader = Inbox(relay, "w5")  # holds no lease: no notice comes
    reader.start()
    try:
        mailbox = reader.open(41, "0-0")
        await asyncio.sleep(0.1)  # read once (caught up): now blocked on the wake stream
        sent = await relay.send_command(41, {"kind": "act"})

        assert [entry_id for entry_id, _ in await take(mailbox, 1)] == [sent]
    finally:
        await reader.stop()
