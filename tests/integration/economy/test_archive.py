"""Hand archives in S3 (moto), with real PostgreSQL and Redis (SPEC §4.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.orm.economy import ArchivedHand, ArchivedHandPlayer
from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
from holdem.adapters.repositories.hands import SqlHandHistory
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.services import archive
from holdem.services.archive import (
    archive_due_hands,
    decode_batch,
    encode_batch,
    list_player_hands,
    load_hand,
    load_hot_hands,
)
from holdem.services.errors import NotFound
from tests.economy_hands import PREFLOP_FOLD, SHOWDOWN, make_table, make_users, play, store_hand

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
OLD = NOW - timedelta(days=8)
BUCKET = "test-hand-archive"


@pytest.fixture
def store(aws):
    client = boto3.client("s3", region_name="ap-northeast-2")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    return S3ArchiveStore(client, BUCKET)


def _object_keys(store: S3ArchiveStore) -> list[str]:
    listing = store._client.list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listing.get("Contents", []))


async def _seed(container, per_hour: int = 3) -> tuple[list[int], list[int], list[int]]:
    """Two tables with old hands in two hours, plus recent hands; returns old, new ids, users."""
    async with container.sessions() as session, session.begin():
        users = await make_users(session, 3)
        tables = [await make_table(session), await make_table(session)]
        old, new = [], []
        for t in tables:
            for hour in range(2):
                for i in range(per_hour):
                    script = SHOWDOWN if i % 2 == 0 else PREFLOP_FOLD
                    at = OLD + timedelta(hours=hour, minutes=5 * i)
                    old.append(await store_hand(session, t, users, play("abc", script), at))
            new.append(await store_hand(session, t, users, play("abc", SHOWDOWN), NOW))
    return old, new, users


async def test_archived_hands_read_back_exactly_as_they_were_hot(container, store):
    old, new, _ = await _seed(container)
    async with container.sessions() as session:
        originals = await load_hot_hands(SqlTransaction(session), old)

    report = await archive_due_hands(container.transactions, store, NOW)

    assert (report.batches, report.hands) == (4, len(old))
    assert _object_keys(store) == sorted(report.keys)
    async with container.sessions() as session:
        assert await load_hot_hands(SqlTransaction(session), old) == []
        for original in originals:
            restored = await load_hand(SqlTransaction(session), store, container.redis, original.id)
            assert restored == original
            assert restored is not None
            assert restored.archived
        still_hot = await load_hand(SqlTransaction(session), store, container.redis, new[0])
        assert still_hot is not None
        assert not still_hot.archived
        assert await load_hand(SqlTransaction(session), store, container.redis, 10**12) is None
        assert (await session.execute(select(func.count()).select_from(HandEvent))).scalar_one()


async def test_a_second_run_finds_nothing_left_to_archive(container, store):
    await _seed(container, per_hour=1)
    first = await archive_due_hands(container.transactions, store, NOW)
    second = await archive_due_hands(container.transactions, store, NOW)
    assert first.hands == 4
    assert (second.batches, second.hands) == (0, 0)


async def test_a_crash_between_the_s3_write_and_the_delete_loses_and_duplicates_nothing(
    container, store, database_url, postgres
):
    old, _, _users = await _seed(container)
    async with container.sessions() as session:
        originals = {h.id: h for h in await load_hot_hands(SqlTransaction(session), old)}
    # A real fault inside PostgreSQL: deleting hot hands fails after the S3 write succeeded.
    async with container.engine.begin() as conn:
        await conn.execute(
            text(
                "create function refuse_delete() returns trigger language plpgsql as "
                "$$ begin raise exception 'disk on fire'; end $$"
            )
        )
        await conn.execute(
            text(
                "create trigger refuse_delete before delete on hands "
                "for each row execute function refuse_delete()"
            )
        )

    with pytest.raises(DBAPIError):
        await archive_due_hands(container.transactions, store, NOW)

    written = _object_keys(store)
    assert len(written) == 1, "the first batch reached S3 before the delete failed"
    async with container.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(ArchivedHand))).scalar() == 0
        assert len(await load_hot_hands(SqlTransaction(session), old)) == len(old)
        for hand_id, original in originals.items():
            assert (
                await load_hand(SqlTransaction(session), store, container.redis, hand_id)
                == original
            )

    async with container.engine.begin() as conn:
        await conn.execute(text("drop trigger refuse_delete on hands"))
    report = await archive_due_hands(container.transactions, store, NOW)

    assert report.hands == len(old)
    assert _object_keys(store) == sorted(report.keys)
    assert written[0] in report.keys, "the retried batch rewrote the same object"
    async with container.sessions() as session:
        index = (await session.execute(select(ArchivedHand.hand_id))).scalars().all()
        assert sorted(index) == sorted(old)
        for hand_id, original in originals.items():
            assert (
                await load_hand(SqlTransaction(session), store, container.redis, hand_id)
                == original
            )
        # Rake history survives archiving, once per hand and seat.
        archived_rake = (
            await session.execute(select(func.sum(ArchivedHandPlayer.rake_share)))
        ).scalar_one()
        assert archived_rake == sum(h.rake for h in originals.values())


async def test_a_read_archive_object_is_served_from_redis_for_a_while(container, store):
    old, _, _ = await _seed(container, per_hour=1)
    report = await archive_due_hands(container.transactions, store, NOW)
    async with container.sessions() as session:
        first = await load_hand(SqlTransaction(session), store, container.redis, old[0])
        key = (await session.get(ArchivedHand, old[0])).object_key
        ttl = await container.redis.ttl(archive.CACHE_PREFIX + key)
        assert 0 < ttl <= archive.CACHE_TTL_S
        store._client.delete_object(Bucket=BUCKET, Key=key)
        assert await load_hand(SqlTransaction(session), store, container.redis, old[0]) == first
    assert key in report.keys


async def test_a_players_hands_list_spans_hot_and_archived_hands(container, store):
    old, new, users = await _seed(container, per_hour=1)
    await archive_due_hands(container.transactions, store, NOW)
    async with container.sessions() as session:
        refs = await list_player_hands(
            SqlTransaction(session), users[0], OLD - timedelta(days=1), NOW + timedelta(1)
        )
    assert {r.hand_id for r in refs} == set(old) | set(new)
    assert [r.started_at for r in refs] == sorted((r.started_at for r in refs), reverse=True)
    assert {r.archived for r in refs if r.hand_id in new} == {False}
    assert {r.archived for r in refs if r.hand_id in old} == {True}


async def test_rake_shares_add_up_to_each_hands_rake(container):
    await _seed(container)
    async with container.sessions() as session:
        rows = await session.execute(
            select(Hand.id, Hand.rake, func.sum(HandPlayer.rake_share))
            .join(HandPlayer, HandPlayer.hand_id == Hand.id)
            .group_by(Hand.id)
        )
        pairs = [(rake, shares) for _, rake, shares in rows]
    assert pairs
    assert all(rake == shares for rake, shares in pairs)
    assert any(rake > 0 for rake, _ in pairs)
    assert any(rake == 0 for rake, _ in pairs)


def test_archive_objects_refuse_garbage():
    with pytest.raises(archive.ArchiveCorrupt):
        decode_batch(b"not an archive")
    assert decode_batch(encode_batch([])) == []


async def test_the_hand_history_shows_an_archived_hand_as_it_showed_it_hot(container, store):
    from functools import partial

    from holdem.services import hand_history

    old, _, users = await _seed(container, per_hour=1)
    async with container.sessions() as session:
        hot = await hand_history.get_hand(SqlHandHistory(session), users[1], old[0])
    await archive_due_hands(container.transactions, store, NOW)
    async with container.sessions() as session:
        reader = partial(load_hand, SqlTransaction(session), store, container.redis)
        cold = await hand_history.get_hand(SqlHandHistory(session), users[1], old[0], reader)
        with pytest.raises(NotFound):
            await hand_history.get_hand(
                SqlHandHistory(session), users[1], old[0]
            )  # no archive reader given
    assert cold == hot
    assert [p.hole_cards is None for p in cold.players] == [
        p.hole_cards is None for p in hot.players
    ]
    # The API reads through the raw `RowReader`: the same views, hot and archived.
    async with container.reads.reader() as rows, container.sessions() as session:
        reader = partial(load_hand, SqlTransaction(session), store, container.redis)
        assert await hand_history.get_hand(SqlHandHistory(rows), users[1], old[0], reader) == hot
        page = await hand_history.list_hands(SqlHandHistory(rows), users[1], None, 20)
    async with container.sessions() as session:
        assert page == await hand_history.list_hands(SqlHandHistory(session), users[1], None, 20)


async def test_two_archivers_running_at_once_archive_each_hand_once(container, store):
    import asyncio

    old, _, _ = await _seed(container)
    first, second = await asyncio.gather(
        archive_due_hands(container.transactions, store, NOW),
        archive_due_hands(container.transactions, store, NOW),
    )
    assert first.hands + second.hands == len(old)
    assert not set(first.keys) & set(second.keys)
    async with container.sessions() as session:
        index = (await session.execute(select(ArchivedHand.hand_id))).scalars().all()
        assert sorted(index) == sorted(old)
        assert await load_hot_hands(SqlTransaction(session), old) == []
