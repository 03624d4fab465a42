"""Benchmark of the hand archive: bytes per hand by format, and archive throughput.

Hands are played by the real engine (6-max, ₩1,000/₩2,000, seeded shuffles with their
commitment and seed, a random but legal policy) and stored as the table servers store them
(event payloads as on the wire). Sizes compare one hand as the JSON document of its rows,
MessagePack of the same, MessagePack + gzip(6) per hand, and the archive's per-table-hour
objects (positional MessagePack, compressed as a batch with gzip(6) and with xz, the format
chosen). Throughput is measured end to end: PostgreSQL (a private server) → S3 (moto's
threaded server) → index and delete, with ``archive_due_hands``.

Run: ``./dev bench archive [--hands N] [--per-hour N]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import random
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import msgpack

from holdem.engine.cards import card_str
from holdem.engine.events import Event, HoleCardsDealt
from holdem.engine.hand import Hand
from holdem.engine.rake import SPEC_RAKE_SCHEDULE
from holdem.engine.shuffle import new_seed
from holdem.engine.table import Table, TableConfig
from holdem.protocol.views import event_to_wire, result_to_wire
from holdem.services.archive import EventRow, HandRecord, PlayerRow, encode_batch

START = datetime(2026, 11, 1, tzinfo=UTC)


def _act(hand: Any, rng: random.Random) -> None:
    seat = hand.to_act
    legal = hand.legal_actions(seat)
    roll = rng.random()
    if legal.min_raise_to is not None and roll < 0.15:
        top = min(legal.max_raise_to, legal.min_raise_to * 3)
        hand.raise_to(seat, rng.randint(legal.min_raise_to, top))
    elif legal.can_check and roll < 0.85:
        hand.check(seat)
    elif legal.call_amount and roll < 0.65:
        hand.call(seat)
    elif legal.can_check:
        hand.check(seat)
    else:
        hand.fold(seat)


def play_table_hours(
    tables: int, hours: int, per_hour: int, seed: int = 7
) -> list[list[HandRecord]]:
    """Hands grouped per table-hour, like the archive's objects."""
    rng = random.Random(seed)
    hand_id = 0
    batches: list[list[HandRecord]] = []
    for table_id in range(1, tables + 1):
        table = Table(
            TableConfig(
                seats=6,
                small_blind=1_000,
                big_blind=2_000,
                rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000),
            )
        )
        for seat in range(6):
            table.sit_down(seat, f"player-{table_id}-{seat}", 200_000)
        for hour in range(hours):
            batch = []
            for i in range(per_hour):
                for seat in range(6):  # keep everyone playing
                    if table.stacks[seat] < 80_000:
                        table.top_up(seat, 200_000 - table.stacks[seat])
                hand = table.start_hand(seed=new_seed())
                while hand.is_running:
                    _act(hand, rng)
                events = table.drain_events()
                hand_id += 1
                started = START + timedelta(hours=hour, seconds=i * 3600 // per_hour)
                batch.append(_record(hand_id, table_id, started, events, hand))
            batches.append(batch)
    return batches


def _record(
    hand_id: int, table_id: int, started: datetime, events: list[Event], hand: Hand
) -> HandRecord:
    result = hand.result
    assert result is not None
    holes = {e.seat: e.cards for e in events if isinstance(e, HoleCardsDealt)}
    shown = {s for s, _ in result.shown}
    ended = started + timedelta(seconds=45)
    return HandRecord(
        id=hand_id,
        table_id=table_id,
        hand_no=result.hand_number,
        started_at=started,
        ended_at=ended,
        small_blind=1_000,
        big_blind=2_000,
        button_seat=result.button,
        board="".join(card_str(c) for c in result.board),
        total_pot=sum(p.amount for p in result.pots),
        rake=result.rake,
        deck_commitment=result.commitment or "",
        deck_seed=hand.seed.hex() if hand.seed else "",
        result=result_to_wire(result),
        events=tuple(
            EventRow(e.seq, e.type, getattr(e, "seat", None), event_to_wire(e)) for e in events
        ),
        players=tuple(
            PlayerRow(
                s,
                1000 * table_id + s,
                started,
                "".join(card_str(c) for c in holes[s]),
                s in shown,
                result.net[s],
                result.rake_by_seat[s],
            )
            for s in result.seats
        ),
    )


def _as_document(hand: HandRecord) -> dict[str, Any]:
    """A hand as the JSON an API or a naive export would carry: rows with field names."""
    doc = asdict(hand)
    doc.pop("archived")
    doc["started_at"] = hand.started_at.isoformat()
    doc["ended_at"] = hand.ended_at.isoformat()
    doc["events"] = [e._asdict() for e in hand.events]
    doc["players"] = [{**p._asdict(), "started_at": p.started_at.isoformat()} for p in hand.players]
    return doc


def sizes(batches: list[list[HandRecord]]) -> dict[str, float]:
    hands = [h for b in batches for h in b]
    docs = [_as_document(h) for h in hands]
    n = len(hands)
    as_json = sum(len(json.dumps(d, separators=(",", ":")).encode()) for d in docs)
    as_msgpack = sum(len(msgpack.packb(d)) for d in docs)
    as_msgpack_gz = sum(len(gzip.compress(msgpack.packb(d), 6)) for d in docs)
    batch_gz = sum(len(encode_batch(b, ".msgpack.gz")) for b in batches)
    batch_xz = sum(len(encode_batch(b, ".msgpack.xz")) for b in batches)
    return {
        "JSON (one hand, compact)": as_json / n,
        "MessagePack (one hand)": as_msgpack / n,
        "MessagePack + gzip(6) (one hand)": as_msgpack_gz / n,
        "archive: MessagePack + gzip(6) per table-hour": batch_gz / n,
        "archive: MessagePack + xz per table-hour (chosen)": batch_xz / n,
    }


def encode_rate(batches: list[list[HandRecord]], fmt: str) -> float:
    hands = sum(len(b) for b in batches)
    start = time.perf_counter()
    for batch in batches:
        encode_batch(batch, fmt)
    return hands / (time.perf_counter() - start)


async def _end_to_end(batches: list[list[HandRecord]]) -> tuple[int, float]:
    import os

    from sqlalchemy.dialects.postgresql import insert

    from devstack import migrate
    from devstack.aws import FAKE_CREDENTIALS, MotoServer
    from devstack.services import PostgresServer
    from holdem.adapters.archive_store import S3ArchiveStore
    from holdem.adapters.orm.hands import Hand, HandEvent, HandPlayer
    from holdem.adapters.orm.tables import PokerTable
    from holdem.adapters.orm.users import User
    from holdem.bootstrap import bootstrap
    from holdem.config import Settings
    from holdem.services.archive import archive_due_hands

    os.environ.update(FAKE_CREDENTIALS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    with tempfile.TemporaryDirectory() as tmp:
        pg = PostgresServer(Path(tmp), durable=False)
        moto = MotoServer()
        pg.start()
        moto.start()
        try:
            url = pg.create_database("bench")
            migrate.upgrade(url)
            settings = Settings(database_url=url, redis_url="redis://127.0.0.1:1/0")
            container = bootstrap(settings)
            s3 = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name="ap-northeast-2")
            s3.create_bucket(
                Bucket="bench", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"}
            )
            store = S3ArchiveStore(s3, "bench")
            hands = [h for b in batches for h in b]
            async with container.sessions() as session, session.begin():
                users = {p.user_id for h in hands for p in h.players}
                for uid in users:
                    session.add(
                        User(id=uid, email=f"{uid}@b.test", nickname=f"u{uid}", password_hash="x")
                    )
                for tid in {h.table_id for h in hands}:
                    session.add(
                        PokerTable(
                            id=tid,
                            name=f"t{tid}",
                            small_blind=1000,
                            big_blind=2000,
                            max_seats=6,
                            min_buy_in=80000,
                            max_buy_in=200000,
                            rake_rate_bps=500,
                            rake_cap=6000,
                        )
                    )
                await session.flush()
                await session.execute(
                    insert(Hand).values(
                        [
                            {
                                k: getattr(h, k)
                                for k in (
                                    "id",
                                    "table_id",
                                    "hand_no",
                                    "started_at",
                                    "ended_at",
                                    "small_blind",
                                    "big_blind",
                                    "button_seat",
                                    "board",
                                    "total_pot",
                                    "rake",
                                    "deck_commitment",
                                    "deck_seed",
                                    "result",
                                )
                            }
                            for h in hands
                        ]
                    )
                )
                for h in hands:
                    await session.execute(
                        insert(HandEvent).values(
                            [
                                {
                                    "hand_id": h.id,
                                    "seq_no": e.seq_no,
                                    "type": e.type,
                                    "seat_no": e.seat_no,
                                    "payload": e.payload,
                                }
                                for e in h.events
                            ]
                        )
                    )
                    await session.execute(
                        insert(HandPlayer).values(
                            [{"hand_id": h.id, **p._asdict()} for p in h.players]
                        )
                    )
            start = time.perf_counter()
            report = await archive_due_hands(
                container.transactions, store, START + timedelta(days=30)
            )
            elapsed = time.perf_counter() - start
            await container.aclose()
            return report.hands, report.hands / elapsed
        finally:
            moto.stop()
            pg.remove()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=10)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--per-hour", type=int, default=60)
    parser.add_argument("--no-end-to-end", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    batches = play_table_hours(args.tables, args.hours, args.per_hour)
    n = sum(len(b) for b in batches)
    print(
        f"hand archive benchmark: {n} hands, {len(batches)} table-hours of {args.per_hour} "
        f"(played in {time.perf_counter() - started:.1f} s)"
    )
    figures = sizes(batches)
    base = figures["JSON (one hand, compact)"]
    for name, size in figures.items():
        print(f"  {name:<52} {size:8.0f} B/hand  {100 * (1 - size / base):5.1f}% smaller than JSON")
    for fmt in (".msgpack.gz", ".msgpack.xz"):
        print(f"  encode rate {fmt:<40} {encode_rate(batches, fmt):8.0f} hands/s")
    if not args.no_end_to_end:
        count, rate = asyncio.run(_end_to_end(batches))
        print(
            f"  archive throughput (PostgreSQL → S3/moto → index+delete): {count} hands, "
            f"{rate:.0f} hands/s"
        )


if __name__ == "__main__":
    main()
