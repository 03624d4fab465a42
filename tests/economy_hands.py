"""Real hands for the economy tests: played by the engine, stored as the table servers do.

The rows come from the table servers' own `holdem.session.settlement.build_settlement`
(events as ``event_to_wire``, in order) and are written the way ``TableMoney.settle`` writes
them, without its ledger step: these tests are about hands, rake and archives, and the
ledger's settle-hand needs funded seats and a table lease that they do not set up.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import count

from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.orm.users import User
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.engine.dealing import stacked_deck
from holdem.engine.events import Event
from holdem.engine.hand import Hand as EngineHand
from holdem.engine.rake import SPEC_RAKE_SCHEDULE
from holdem.engine.results import HandResult
from holdem.engine.table import Table, TableConfig
from holdem.protocol.views import event_to_wire
from holdem.services.archive import EventRow, HandRecord, PlayerRow
from holdem.session.settlement import build_settlement

_unique = count(1)

# (seat, verb, amount): verb is fold/check/call/raise/allin.
Script = Sequence[tuple[int, str, int]]

SHOWDOWN = [(0, "raise", 6_000), (1, "call", 0), (2, "call", 0)] + [
    (s, "check", 0) for _ in range(3) for s in (1, 2, 0)
]
"""3-handed, button 0: everyone sees a raised pot and checks it down."""

PREFLOP_FOLD = [(0, "fold", 0), (1, "fold", 0)]

SIDE_POT = [
    (0, "allin", 0),
    (1, "call", 0),
    (2, "call", 0),
    (1, "raise", 20_000),
    (2, "call", 0),
] + [(s, "check", 0) for _ in range(2) for s in (1, 2)]
"""Seat 0 (short: give it ``stacks={0: 80_000}``) all-in preflop; seats 1 and 2 build a side pot."""


@dataclass
class PlayedHand:
    events: list[Event]
    result: HandResult
    hand: EngineHand


def play(
    players: Sequence[str],
    script: Script,
    *,
    holes: dict[int, str] | None = None,
    board: str = "2c 7d 9h Js Qc",
    small_blind: int = 1_000,
    big_blind: int = 2_000,
    stack: int | None = None,
    stacks: dict[int, int] | None = None,
) -> PlayedHand:
    """Play one hand at a fresh table with an explicit deck, button on seat 0."""
    rule = SPEC_RAKE_SCHEDULE.rule_for(small_blind, big_blind)
    table = Table(
        TableConfig(seats=len(players), small_blind=small_blind, big_blind=big_blind, rake=rule)
    )
    for seat, name in enumerate(players):
        table.sit_down(seat, name, (stacks or {}).get(seat) or stack or 100 * big_blind)
    holes = holes or {0: "AsAd", 1: "KsKd", 2: "7c2h"}
    deck = stacked_deck(
        len(players), {s: c for s, c in holes.items() if s < len(players)}, board=board
    )
    hand = table.start_hand(deck=deck, button=0)
    for seat, verb, amount in script:
        if verb == "raise":  # scripts are written for 1,000/2,000: scale to the stakes
            hand.raise_to(seat, amount * big_blind // 2_000)
        elif verb == "allin":
            hand.all_in(seat)
        else:
            getattr(hand, verb)(seat)
    assert hand.result is not None, "the script must finish the hand"
    return PlayedHand(table.drain_events(), hand.result, hand)


async def make_users(session: AsyncSession, n: int) -> list[int]:
    users = []
    for _ in range(n):
        i = next(_unique)
        user = User(email=f"p{i}@example.test", nickname=f"p{i}", password_hash="x")
        session.add(user)
        users.append(user)
    await session.flush()
    return [u.id for u in users]


async def make_table(
    session: AsyncSession, small_blind: int = 1_000, big_blind: int = 2_000
) -> int:
    table = PokerTable(
        name=f"t{next(_unique)}",
        small_blind=small_blind,
        big_blind=big_blind,
        max_seats=6,
        min_buy_in=40 * big_blind,
        max_buy_in=100 * big_blind,
        rake_rate_bps=500,
        rake_cap=3 * big_blind,
    )
    session.add(table)
    await session.flush()
    return table.id


async def store_hand(
    session: AsyncSession,
    table_id: int,
    users: Sequence[int],
    played: PlayedHand,
    started_at: datetime,
    ended_at: datetime | None = None,
    hand_no: int | None = None,
    chat: list[dict] | None = None,
) -> int:
    """Insert one completed hand (hands, hand_events, hand_players); returns its id."""
    result = played.result._replace(
        players=tuple(
            str(users[seat]) if name is not None else None
            for seat, name in enumerate(played.result.players)
        )
    )
    settlement = build_settlement(
        table_id=table_id,
        fence=1,
        hand=played.hand,
        result=result,
        started_at=started_at.timestamp(),
        ended_at=(ended_at or started_at).timestamp(),
        events=[event_to_wire(e) for e in played.events],
        chat=chat,
    )
    settlement["hand_no"] = hand_no if hand_no is not None else next(_unique)
    hand_id = await SqlTransaction(session).table_records.add_hand_rows(settlement)
    assert hand_id is not None, "a new hand number was written before"
    return hand_id


def play_random(seed: int, seats: int = 6, big_blind: int = 2_000) -> PlayedHand:
    """One hand at a fresh table, seeded shuffle and a random legal policy (all-ins included)."""
    rng = random.Random(seed)
    table = Table(
        TableConfig(
            seats=seats,
            small_blind=big_blind // 2,
            big_blind=big_blind,
            rake=SPEC_RAKE_SCHEDULE.rule_for(big_blind // 2, big_blind),
        )
    )
    for seat in range(seats):
        table.sit_down(seat, f"p{seat}", rng.randint(40, 100) * big_blind)
    hand = table.start_hand(seed=rng.randbytes(32), button=rng.randrange(seats))
    while hand.is_running:
        seat = hand.to_act
        legal = hand.legal_actions(seat)
        roll = rng.random()
        if legal.min_raise_to is not None and roll < 0.08:
            hand.all_in(seat)
        elif legal.min_raise_to is not None and roll < 0.25:
            hand.raise_to(seat, rng.randint(legal.min_raise_to, legal.max_raise_to))
        elif legal.can_check and roll < 0.85:
            hand.check(seat)
        elif legal.call_amount and roll < 0.7:
            hand.call(seat)
        elif legal.can_check:
            hand.check(seat)
        else:
            hand.fold(seat)
    assert hand.result is not None
    return PlayedHand(table.drain_events(), hand.result, hand)


def record_of(
    played: PlayedHand, users: Sequence[int], started_at: datetime, hand_id: int, table_id: int = 1
) -> HandRecord:
    """The `HandRecord` the database would hold after `store_hand` (no database needed)."""
    result = played.result._replace(
        players=tuple(
            str(users[seat]) if name is not None else None
            for seat, name in enumerate(played.result.players)
        )
    )
    settlement = build_settlement(
        table_id=table_id,
        fence=1,
        hand=played.hand,
        result=result,
        started_at=started_at.timestamp(),
        ended_at=started_at.timestamp(),
        events=[event_to_wire(e) for e in played.events],
    )
    return HandRecord(
        id=hand_id,
        table_id=table_id,
        hand_no=settlement["hand_no"],
        started_at=started_at,
        ended_at=started_at,
        small_blind=settlement["small_blind"],
        big_blind=settlement["big_blind"],
        button_seat=settlement["button"],
        board=settlement["board"],
        total_pot=settlement["total_pot"],
        rake=settlement["rake"],
        deck_commitment=settlement["commitment"],
        deck_seed=settlement["seed"],
        result=settlement["result"],
        events=tuple(
            EventRow(i, e["event"], e.get("seat"), e) for i, e in enumerate(settlement["events"])
        ),
        players=tuple(
            PlayerRow(
                p["seat"],
                p["user_id"],
                started_at,
                p["hole_cards"],
                p["shown"],
                p["net"],
                p["rake_share"],
            )
            for p in settlement["players"]
        ),
    )
