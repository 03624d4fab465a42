"""The restore drill: play hands, back up, play more, restore, and find the ledger sound and
the backed-up hands intact (what `./dev backup` / `./dev restore` do, on real servers)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis as redis_sync
from sqlalchemy import func, select

from devstack.backup import BackupError, backup, restore
from holdem.adapters.orm.hands import Hand, HandEvent
from holdem.bootstrap import bootstrap
from holdem.services.ledger import LedgerService
from tests.economy_hands import SHOWDOWN, make_table, make_users, play, store_hand

_keys = itertools.count(1)


async def _deposit(service: LedgerService, user_id: int, amount: int) -> None:
    key = f"deposit:BTC:drill:{next(_keys)}"
    await service.credit_deposit(
        key=key,
        user_id=user_id,
        amount=amount,
        coin="BTC",
        crypto_amount=Decimal(amount) / Decimal(100_000_000),
        rate_krw=Decimal(100_000_000),
        tx_hash=f"tx-{key}",
        address="bc1qexampleaddress",
    )


async def _play_hands(container, table, users, n, start):
    ids = []
    async with container.sessions.begin() as session:
        for i in range(n):
            played = play("abc", SHOWDOWN)
            ids.append(
                await store_hand(session, table, users, played, start + timedelta(minutes=i))
            )
    return ids


async def _snapshot(container, service, users):
    async with container.sessions() as session:
        hands = (await session.execute(select(Hand.id).order_by(Hand.id))).scalars().all()
        events = (
            await session.execute(
                select(
                    HandEvent.hand_id, HandEvent.seq_no, HandEvent.type, HandEvent.payload
                ).order_by(HandEvent.hand_id, HandEvent.seq_no)
            )
        ).all()
    balances = [await service.balances(u) for u in users]
    return list(hands), [tuple(e) for e in events], balances


async def test_restore_drill_brings_back_the_ledger_and_hands_as_they_were(
    container, settings, database_url, redis_url, tmp_path
):
    service = container.ledger
    async with container.sessions.begin() as session:
        users = await make_users(session, 3)
        table = await make_table(session)
    for user in users:
        await _deposit(service, user, 300_000)
    await service.buy_in(key="drill:buy-in:0", user_id=users[0], table_id=table, amount=80_000)
    start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    await _play_hands(container, table, users, 3, start)
    client = redis_sync.Redis.from_url(redis_url)
    try:
        client.hset("table:1:checkpoint", mapping={"hand_no": "3", "fence": "1"})
        client.set("rate:BTC", "100000000", ex=600)
        client.xadd("audit:stream", {"tx": "1"})
        before = await _snapshot(container, service, users)
        assert (await service.conservation_report()).ok

        folder = tmp_path / "backup"
        summary = await asyncio.to_thread(backup, database_url, redis_url, folder)
        assert summary.redis_keys == 3

        # Life goes on after the backup: more hands, more money, more Redis state.
        await _play_hands(container, table, users, 2, start + timedelta(hours=1))
        await _deposit(service, users[1], 50_000)
        await service.cash_out(
            key="drill:cash-out:0", user_id=users[0], table_id=table, amount=80_000
        )
        client.hset("table:1:checkpoint", mapping={"hand_no": "5"})
        client.set("table:2:checkpoint", "later")
        assert await _snapshot(container, service, users) != before

        await container.engine.dispose()  # the restore recreates the database
        await asyncio.to_thread(restore, database_url, redis_url, folder)

        restored = bootstrap(settings)
        try:
            restored_service = restored.ledger
            assert await _snapshot(restored, restored_service, users) == before
            assert (await restored_service.conservation_report()).ok
            assert (await restored_service.verify_audit_chain()).problems == []
            async with restored.sessions() as session:
                assert await session.scalar(select(func.count()).select_from(Hand)) == 3
        finally:
            await restored.aclose()
        assert client.hgetall("table:1:checkpoint") == {b"hand_no": b"3", b"fence": b"1"}
        assert client.get("table:2:checkpoint") is None
        assert 0 < client.ttl("rate:BTC") <= 600
        assert client.xlen("audit:stream") == 1
    finally:
        client.close()


def test_restore_refuses_a_folder_that_is_not_a_backup(database_url, redis_url, tmp_path):
    with pytest.raises(BackupError, match="not a backup"):
        restore(database_url, redis_url, tmp_path)
