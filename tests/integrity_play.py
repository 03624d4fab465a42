"""Sessions of hands for the integrity tests, played by the engine and recorded as the table
servers record them.

Ordinary players use the SDK bot's strategy (`holdem.client.bot.BotStrategy`, what the load
test's bots play); colluders follow a script on top of it. Each decision gets a drawn think
time (people: log-normal; a scripted bot: a metronome), kept through the table servers' own
`holdem.session.settlement.with_think_time` (``think_ms``), then stored with
`build_settlement` and ``TableRecords.add_hand_rows``, as ``TableMoney.settle`` writes them
(without its ledger step, as `tests.economy_hands` does).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.client.bot import BotStrategy
from holdem.engine.cards import card_str
from holdem.engine.events import HandEnded
from holdem.engine.hand import Hand
from holdem.engine.rake import SPEC_RAKE_SCHEDULE
from holdem.engine.results import HandResult
from holdem.engine.table import Table, TableConfig
from holdem.ledger.integrity import HandRecord, read_hand
from holdem.protocol.views import event_to_wire
from holdem.session.settlement import build_settlement, with_think_time

BB = 2_000
STACK = 100 * BB
Choice = tuple[str, int | None]
Policy = Callable[[Hand, int, random.Random], Choice]
Think = Callable[[random.Random], int]


@dataclass
class PlayedHand:
    hand: Hand
    result: HandResult
    events: list[dict[str, Any]]
    seats: dict[int, int] = field(default_factory=dict)
    """seat → user id of the dealt players."""


def ordinary(strategy: BotStrategy) -> Policy:
    """The SDK bot: what `Bot` answers a ``turn`` with."""

    def choose(hand: Hand, seat: int, rng: random.Random) -> Choice:
        return strategy.choose(hand.legal_actions(seat)._asdict())

    return choose


def human_think(rng: random.Random) -> int:
    """A person's decision time: log-normal around 2.5 s (a quick call to a long think)."""
    return int(rng.lognormvariate(math.log(2_500), 0.7))


def metronome(rng: random.Random) -> int:
    """A scripted delay: 1.5 s ± 20 ms, every decision."""
    return 1_500 + rng.randint(-20, 20)


def _seat_of(hand: Hand, user: int) -> int:
    return hand.players.index(str(user))


def dumper(partner: int, base: Policy) -> Policy:
    """Sends chips to `partner`: raises before the flop while the partner is in, then folds
    to the partner's bet or raise on every later street, whatever it holds."""

    def choose(hand: Hand, seat: int, rng: random.Random) -> Choice:
        other = _seat_of(hand, partner)
        legal = hand.legal_actions(seat)
        if hand.folded[other]:
            return base(hand, seat, rng)
        if hand.board and hand.aggressor == other and legal.call_amount:
            return "fold", None
        if not hand.board and legal.can_raise and legal.min_raise_to is not None:
            return "raise", legal.min_raise_to
        return ("check", None) if legal.can_check else ("call", None)

    return choose


def receiver(partner: int, base: Policy) -> Policy:
    """Takes chips from `partner`: calls before the flop and bets big after it while the
    partner is in."""

    def choose(hand: Hand, seat: int, rng: random.Random) -> Choice:
        other = _seat_of(hand, partner)
        legal = hand.legal_actions(seat)
        if hand.folded[other]:
            return base(hand, seat, rng)
        if hand.board and legal.min_raise_to is not None and legal.max_raise_to is not None:
            pot = sum(hand.committed)
            amount = min(legal.max_raise_to, max(legal.min_raise_to, hand.current_bet + pot))
            return ("bet" if legal.can_bet else "raise"), amount
        return ("check", None) if legal.can_check else ("call", None)

    return choose


def soft(partner: int, base: Policy) -> Policy:
    """Never bets or raises when only `partner` is left against it; plays `base` otherwise."""

    def choose(hand: Hand, seat: int, rng: random.Random) -> Choice:
        other = _seat_of(hand, partner)
        live = [s for s in range(hand.size) if not hand.folded[s]]
        if live == sorted([seat, other]):
            return ("check", None) if hand.legal_actions(seat).can_check else ("call", None)
        return base(hand, seat, rng)

    return choose


def play_session(
    users: Sequence[int],
    hands: int,
    *,
    seed: int,
    policies: Mapping[int, Policy] | None = None,
    think: Mapping[int, Think] | None = None,
) -> list[PlayedHand]:
    """`hands` hands at one 6-max table of `users` (stacks topped back up to 100 big blinds
    below 40); everyone plays the SDK bot (own seed) unless `policies` says otherwise."""
    rng = random.Random(seed)
    rule = SPEC_RAKE_SCHEDULE.rule_for(BB // 2, BB)
    table = Table(TableConfig(seats=6, small_blind=BB // 2, big_blind=BB, rake=rule))
    chosen = {
        u: (policies or {}).get(u) or ordinary(BotStrategy(seed=seed * 100 + i))
        for i, u in enumerate(users)
    }
    for seat, user in enumerate(users):
        table.sit_down(seat, str(user), STACK)
    played = []
    for _ in range(hands):
        for seat in range(len(users)):
            if table.stacks[seat] < 40 * BB:
                table.top_up(seat, STACK - table.stacks[seat])
        hand = table.start_hand(seed=rng.randbytes(32))
        events: list[dict[str, Any]] = []
        decided: tuple[int, int] | None = None
        while True:
            for event in table.drain_events():
                if not isinstance(event, HandEnded):
                    wire = event_to_wire(event)
                    events.append(with_think_time(wire, decided))
                    if wire.get("event") == "action":
                        decided = None
            if hand.result is not None:
                break
            seat = hand.to_act
            user = int(users[seat])
            decided = (seat, (think or {}).get(user, human_think)(rng))
            verb, amount = chosen[user](hand, seat, rng)
            if amount is None:
                getattr(hand, verb)(seat)
            else:
                (hand.bet if verb == "bet" else hand.raise_bet)(seat, amount)
        seats = {s: int(users[s]) for s in hand.result.seats}
        played.append(PlayedHand(hand, hand.result, events, seats))
    return played


def record(played: PlayedHand, hand_id: int) -> HandRecord:
    """The hand as the integrity run reads it back from the database."""
    hand, result = played.hand, played.result
    hole = {}
    for seat, user in played.seats.items():
        cards = hand.hole_cards(seat)
        hole[user] = "".join(card_str(c) for c in cards) if cards else ""
    net = {user: result.net[seat] for seat, user in played.seats.items()}
    return read_hand(hand_id, hand.big_blind, played.seats, net, hole, played.events)


async def store(
    session: AsyncSession, table_id: int, played: Sequence[PlayedHand], start: datetime
) -> list[int]:
    """Write the hands as the table servers do (one a minute from `start`); their ids."""
    ids = []
    for number, one in enumerate(played, start=1):
        at = start + timedelta(minutes=number)
        settlement = build_settlement(
            table_id=table_id,
            fence=1,
            hand=one.hand,
            result=one.result,
            started_at=at.timestamp(),
            ended_at=(at + timedelta(seconds=50)).timestamp(),
            events=one.events,
        )
        settlement["hand_no"] = number
        hand_id = await SqlTransaction(session).table_records.add_hand_rows(settlement)
        assert hand_id is not None
        ids.append(hand_id)
    return ids
