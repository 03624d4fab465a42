"""The operator's full verification of stored hands (issue 18): recompute the deal from the
seed kept with the hand, check the commitment and every recorded card and opening, for hands
hot in PostgreSQL and archived in S3 (moto)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from sqlalchemy import update

from holdem.adapters.archive_store import S3ArchiveStore
from holdem.adapters.orm.hands import Hand, HandPlayer
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.engine.shuffle import seed_commitment
from holdem.services.archive import EventRow, HandRecord, archive_due_hands, load_hand
from holdem.services.errors import NotFound
from holdem.services.hand_audit import verify_hand, verify_record
from tests.economy_hands import make_table, make_users, play_random, store_hand

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)
OLD = NOW - timedelta(days=8)
BUCKET = "test-hand-audit"


@pytest.fixture
def store(aws):
    client = boto3.client("s3", region_name="ap-northeast-2")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
    )
    return S3ArchiveStore(client, BUCKET)


async def _stored(container, seeds, at):
    async with container.sessions() as session, session.begin():
        users = await make_users(session, 6)
        table = await make_table(session)
        return [
            await store_hand(session, table, users, play_random(seed), at + timedelta(minutes=i))
            for i, seed in enumerate(seeds)
        ]


async def test_hot_and_archived_hands_verify_from_their_seed(container, store):
    old = await _stored(container, range(6), OLD)
    hot = await _stored(container, range(6, 9), NOW)
    await archive_due_hands(container.transactions, store, NOW)
    async with container.sessions() as session:
        for hand_id in old + hot:
            verdict = await verify_hand(SqlTransaction(session), store, container.redis, hand_id)
            assert verdict.ok, verdict.problems
            assert verdict.scheme == "cards"
            assert verdict.archived == (hand_id in old)
            assert verdict.cards_checked >= 12 + 5  # six seats' hole cards (twice) and more
            assert verdict.openings_checked >= 12
        with pytest.raises(NotFound):
            await verify_hand(SqlTransaction(session), store, container.redis, 10**12)


async def test_a_recorded_card_the_seed_does_not_deal_is_reported(container, store):
    (hand_id,) = await _stored(container, [41], NOW)
    async with container.sessions() as session, session.begin():
        await session.execute(
            update(HandPlayer)
            .where(HandPlayer.hand_id == hand_id, HandPlayer.seat_no == 3)
            .values(hole_cards="2c2d")
        )
    async with container.sessions() as session:
        verdict = await verify_hand(SqlTransaction(session), store, container.redis, hand_id)
    assert not verdict.ok
    assert any("seat 3's cards" in p for p in verdict.problems)
    assert all("2c" not in p and "2d" not in p for p in verdict.problems)  # positions only


async def test_a_hand_from_before_per_card_commitments_verifies_by_its_seed_hash(container, store):
    (hand_id,) = await _stored(container, [7], NOW)
    async with container.sessions() as session:
        record = await load_hand(SqlTransaction(session), store, container.redis, hand_id)
    assert record is not None
    legacy_commitment = seed_commitment(bytes.fromhex(record.deck_seed))
    legacy = dataclasses.replace(
        record,
        deck_commitment=legacy_commitment,
        events=tuple(
            e._replace(
                payload={
                    **{k: v for k, v in e.payload.items() if k != "openings"},
                    **({"commitment": legacy_commitment} if e.type == "hand_started" else {}),
                }
            )
            for e in record.events
        ),
    )
    verdict = verify_record(legacy, 6)
    assert (verdict.ok, verdict.scheme, verdict.openings_checked) == (True, "seed", 0)
    forged = dataclasses.replace(legacy, deck_commitment="0" * 64)
    assert verify_record(forged, 6).scheme is None
    assert not verify_record(forged, 6).ok


def _dev(command: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "devstack", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_dev_hand_verify_passes_a_sound_hand_and_fails_a_tampered_one(
    container, database_url
):
    (hand_id,) = await _stored(container, [5], NOW)
    verified = _dev(["hand", "verify", str(hand_id)], database_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK" in verified.stdout
    assert "scheme cards" in verified.stdout
    async with container.sessions() as session, session.begin():
        await session.execute(update(Hand).where(Hand.id == hand_id).values(board="AsKsQsJsTs"))
    tampered = _dev(["hand", "verify", str(hand_id)], database_url)
    assert tampered.returncode == 1
    assert "PROBLEM the board" in tampered.stdout
    assert _dev(["hand", "verify", "999999999"], database_url).returncode == 2


def test_an_unreadable_record_is_reported_not_raised():
    record = HandRecord(
        id=1,
        table_id=1,
        hand_no=1,
        started_at=NOW,
        ended_at=NOW,
        small_blind=1_000,
        big_blind=2_000,
        button_seat=0,
        board="Xx",
        total_pot=0,
        rake=0,
        deck_commitment="✗" * 64,
        deck_seed="00" * 32,
        result={},
        events=(EventRow(0, "hand_shown", 1, {"seat": 1, "cards": ["??"], "openings": "x"}),),
        players=(),
    )
    verdict = verify_record(record, 6)
    assert not verdict.ok
    assert verdict.scheme is None
    assert "the board is unreadable" in verdict.problems
    assert "event 0 is unreadable" in verdict.problems
    assert verify_record(dataclasses.replace(record, deck_seed="not hex"), 6).problems == (
        "no seed is stored with the hand",
    )
