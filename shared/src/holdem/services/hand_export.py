"""Hand-history export: PokerStars text (for tracking tools) and Open Hand History JSON.

Amounts are KRW, integer won (``₩1000``; OHH ``"currency": "KRW"``). The export is always
for one viewer, who must have played the hand, and shows only what that viewer may see:
their own hole cards and the cards shown at showdown. Other players' hole cards (from
``hole_cards`` events or ``hand_players``) are never read for anyone but the viewer.

Rendering works on :class:`~holdem.services.archive.HandRecord`, whose events carry the
engine's events as the table servers store them (``holdem.protocol.views.event_to_wire``),
so archived and hot hands export the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from holdem.adapters.orm.tables import PokerTable
from holdem.adapters.orm.users import User
from holdem.engine.cards import parse_cards
from holdem.engine.evaluator import describe_pokerstars, evaluate
from holdem.ledger.rakeback import KST
from holdem.ports import ObjectStore
from holdem.services.archive import HandRecord, list_player_hands, load_hand, load_hands
from holdem.services.errors import InvalidInput, NotFound

__all__ = [
    "MAX_EXPORT_HANDS",
    "ExportFormat",
    "Exported",
    "TableFacts",
    "export_hand",
    "export_range",
    "to_ohh",
    "to_pokerstars",
]

MAX_EXPORT_HANDS = 500
OHH_SPEC_VERSION = "1.4.6"
SITE_NAME = "Holdem Backend"
# Stored events name a street by its number before protocol 3.0.0 and by its name since, and
# a pot's winners as [seat, chips] pairs before and {"seat", "amount"} since: both are read.
_STREETS = {1: "FLOP", 2: "TURN", 3: "RIVER", "flop": "FLOP", "turn": "TURN", "river": "RIVER"}
_OHH_STREETS = {0: "Preflop", 1: "Flop", 2: "Turn", 3: "River"} | {
    name.lower(): name for name in ("Preflop", "Flop", "Turn", "River")
}


def _winners(event: dict[str, Any]) -> list[tuple[int, int]]:
    """A ``pot_awarded`` event's ``(seat, chips)`` pairs, in either stored form."""
    return [
        (w["seat"], w["amount"]) if isinstance(w, dict) else (w[0], w[1]) for w in event["winners"]
    ]


_BLIND_WORDS = {
    "small_blind": "posts small blind",
    "big_blind": "posts big blind",
    "dead_small_blind": "posts small blind",
    "posted_big_blind": "posts big blind",
}
_OHH_BLINDS = {
    "small_blind": "Post SB",
    "big_blind": "Post BB",
    "dead_small_blind": "Post Dead",
    "posted_big_blind": "Post Extra Blind",
}


class ExportFormat(StrEnum):
    """The export formats."""

    POKERSTARS = "pokerstars"
    OHH = "ohh"


def won(amount: int) -> str:
    """``₩1000``: KRW has no minor unit, so no decimals."""
    return f"₩{amount}"


@dataclass(frozen=True, slots=True)
class _Seats:
    names: dict[int, str]
    viewer_seat: int

    def name(self, seat: int) -> str:
        return self.names.get(seat, f"seat{seat + 1}")


def _viewer_seat(hand: HandRecord, viewer_id: int) -> int:
    for player in hand.players:
        if player.user_id == viewer_id:
            return player.seat_no
    raise NotFound(f"hand {hand.id} not found", {"hand_id": hand.id})


@dataclass(frozen=True, slots=True)
class TableFacts:
    """What an export names of the table a hand was played at."""

    name: str
    seats: int


def _table_size(hand: HandRecord, table: TableFacts | None) -> int:
    if table is not None:
        return table.seats
    players = hand.result.get("players")  # older results listed every seat's player
    return len(players) if isinstance(players, list) and players else 9


def _table_name(hand: HandRecord, table: TableFacts | None) -> str:
    return table.name if table is not None else f"Table {hand.table_id}"


def _visible_events(hand: HandRecord, viewer_seat: int) -> list[dict[str, Any]]:
    """The events' payloads the viewer may see, in order."""
    return [
        e.payload
        for e in sorted(hand.events, key=lambda e: e.seq_no)
        if e.type != "hole_cards" or e.seat_no == viewer_seat
    ]


def to_pokerstars(
    hand: HandRecord,
    names: Mapping[int, str],
    viewer_id: int,
    table: TableFacts | None = None,
) -> str:
    """One hand as PokerStars text, as ``viewer_id`` may see it.

    Seats are numbered from 1, as PokerStars does (the protocol and REST count from 0).
    Shown hands carry PokerStars' hand descriptions (``shows [Ah Kh] (a pair of Kings)``,
    ``showed [..] and won (₩X) with ...``): tracking tools award the pot from them.

    Args:
        hand: The hand.
        names: Display name of each user id who played it.
        viewer_id: The player exporting; they must have played the hand.
        table: The table's name and number of seats, if known.

    Raises:
        NotFound: The viewer did not play this hand.
    """
    viewer_seat = _viewer_seat(hand, viewer_id)
    seats = _Seats(
        {p.seat_no: names.get(p.user_id, f"player{p.user_id}") for p in hand.players}, viewer_seat
    )
    events = _visible_events(hand, viewer_seat)
    start = next(e for e in events if e["event"] == "hand_started")
    side_pots = sum(e["event"] == "pot_awarded" for e in events) > 1
    local = hand.started_at.astimezone(KST)
    lines = [
        f"PokerStars Hand #{hand.id}:  Hold'em No Limit ({won(hand.small_blind)}/"
        f"{won(hand.big_blind)} KRW) - {local:%Y/%m/%d %H:%M:%S} KST",
        f"Table '{_table_name(hand, table)}' {_table_size(hand, table)}-max "
        f"Seat #{hand.button_seat + 1} is the button",
    ]
    for seat, stack in zip(start["seats"], start["stacks"], strict=True):
        lines.append(f"Seat {seat + 1}: {seats.name(seat)} ({won(stack)} in chips)")
    street_bet: dict[int, int] = {}
    high = 0
    folded_on: dict[int, str] = {}
    street_name = "Preflop"
    collected: dict[int, int] = {}
    shown: dict[int, list[str]] = {}
    described: dict[int, str] = {}
    mucked: set[int] = set()
    pots: list[int] = []
    rake = 0
    board: list[str] = []
    hole_header = False
    for e in events:
        kind = e["event"]
        if kind == "blind_posted":
            seat = e["seat"]
            line = f"{seats.name(seat)}: {_BLIND_WORDS[e['blind']]} {won(e['amount'])}"
            lines.append(line + (" and is all-in" if e["all_in"] else ""))
            if e["blind"] != "dead_small_blind":
                street_bet[seat] = street_bet.get(seat, 0) + e["amount"]
                high = max(high, street_bet[seat])
        elif kind == "hole_cards":
            if not hole_header:
                lines.append("*** HOLE CARDS ***")
                hole_header = True
            lines.append(f"Dealt to {seats.name(e['seat'])} [{' '.join(e['cards'])}]")
        elif kind == "action":
            if not hole_header:
                lines.append("*** HOLE CARDS ***")
                hole_header = True
            seat, action, amount, added = e["seat"], _action_kind(e), e["amount"], e["added"]
            who = seats.name(seat)
            if action == "fold":
                line = f"{who}: folds"
                folded_on[seat] = street_name
            elif action == "check":
                line = f"{who}: checks"
            elif action == "call":
                line = f"{who}: calls {won(added)}"
            elif action == "bet":
                line = f"{who}: bets {won(amount)}"
            else:
                line = f"{who}: raises {won(amount - high)} to {won(amount)}"
            if e["all_in"]:
                line += " and is all-in"
            lines.append(line)
            street_bet[seat] = amount
            high = max(high, amount)
        elif kind == "uncalled_bet_returned":
            lines.append(f"Uncalled bet ({won(e['amount'])}) returned to {seats.name(e['seat'])}")
        elif kind == "street_dealt":
            board = e["board"]
            street = e["street"]
            before, new = e["board"][: -len(e["cards"])], e["cards"]
            shown_board = (
                f"[{' '.join(before)}] [{' '.join(new)}]" if before else (f"[{' '.join(new)}]")
            )
            lines.append(f"*** {_STREETS[street]} *** {shown_board}")
            street_name = _STREETS[street].title()
            street_bet, high = {}, 0
        elif kind == "hand_shown":
            if "*** SHOW DOWN ***" not in lines:
                lines.append("*** SHOW DOWN ***")
            shown[e["seat"]] = e["cards"]
            described[e["seat"]] = _description(e["cards"], board)
            lines.append(
                f"{seats.name(e['seat'])}: shows [{' '.join(e['cards'])}] ({described[e['seat']]})"
            )
        elif kind == "hand_mucked":
            if "*** SHOW DOWN ***" not in lines:
                lines.append("*** SHOW DOWN ***")
            mucked.add(e["seat"])
            lines.append(f"{seats.name(e['seat'])}: mucks hand")
        elif kind == "rake_taken":
            rake = e["amount"]
        elif kind == "pot_awarded":
            pots.append(e["amount"] + e["rake"])
            where = "pot"
            if side_pots:
                where = "main pot" if e["pot"] == 0 else f"side pot-{e['pot']}"
            for seat, chips in _winners(e):
                collected[seat] = collected.get(seat, 0) + chips
                lines.append(f"{seats.name(seat)} collected {won(chips)} from {where}")
    lines.append("*** SUMMARY ***")
    total = sum(pots)
    if len(pots) > 1:
        parts = " ".join(
            f"{'Main pot' if i == 0 else f'Side pot-{i}'} {won(p)}." for i, p in enumerate(pots)
        )
        lines.append(f"Total pot {won(total)} {parts} | Rake {won(rake)}")
    else:
        lines.append(f"Total pot {won(total)} | Rake {won(rake)}")
    if board:
        lines.append(f"Board [{' '.join(board)}]")
    for seat in start["seats"]:
        role = ""
        if seat == hand.button_seat:
            role = " (button)"
        elif seat == start["small_blind_seat"]:
            role = " (small blind)"
        elif seat == start["big_blind_seat"]:
            role = " (big blind)"
        head = f"Seat {seat + 1}: {seats.name(seat)}{role}"
        if seat in shown:
            cards = " ".join(shown[seat])
            result = f"won ({won(collected[seat])})" if seat in collected else "lost"
            lines.append(f"{head} showed [{cards}] and {result} with {described[seat]}")
        elif seat in mucked:
            lines.append(f"{head} mucked")
        elif seat in folded_on:
            lines.append(f"{head} folded {_fold_phrase(folded_on[seat])}")
        elif seat in collected:
            lines.append(f"{head} collected ({won(collected[seat])})")
        else:
            lines.append(f"{head} lost")
    return "\n".join(lines) + "\n"


def _description(cards: Sequence[str], board: Sequence[str]) -> str:
    """PokerStars' words for a shown hand (showdowns come after the river: seven cards)."""
    return describe_pokerstars(evaluate(parse_cards(" ".join([*cards, *board]))))


def _action_kind(payload: Mapping[str, Any]) -> str:
    # The engine's ActionTaken named its field ``action`` before it became ``kind``; hands
    # stored under either name stay exportable.
    return str(payload["kind"] if "kind" in payload else payload["action"])


def _fold_phrase(street: str) -> str:
    return "before Flop" if street == "Preflop" else f"on the {street}"


def to_ohh(
    hand: HandRecord, names: Mapping[int, str], viewer_id: int, table: TableFacts | None = None
) -> dict[str, Any]:
    """One hand as an Open Hand History document (``{"ohh": {...}}``), for ``viewer_id``.

    Spec 1.4.6. A player's ``id`` is the seat on the wire (from 0) and ``seat`` the seat as
    the table shows it (from 1); amounts are chips put in by the action, in won.

    Raises:
        NotFound: The viewer did not play this hand.
    """
    viewer_seat = _viewer_seat(hand, viewer_id)
    events = _visible_events(hand, viewer_seat)
    start = next(e for e in events if e["event"] == "hand_started")
    by_seat = {p.seat_no: p for p in hand.players}
    players = []
    for seat, stack in zip(start["seats"], start["stacks"], strict=True):
        player = by_seat.get(seat)
        name = names.get(player.user_id, f"player{player.user_id}") if player else f"seat{seat + 1}"
        players.append(
            {
                "id": seat,
                "seat": seat + 1,
                "name": name,
                "display": name,
                "starting_stack": stack,
                "is_sitting_out": False,
            }
        )
    rounds: list[dict[str, Any]] = [{"id": 0, "street": "Preflop", "cards": [], "actions": []}]
    showdown: dict[str, Any] | None = None
    number = 0
    pots: list[dict[str, Any]] = []

    def add(round_: dict[str, Any], action: dict[str, Any]) -> None:
        nonlocal number
        number += 1
        round_["actions"].append({"action_number": number, **action})

    for e in events:
        kind = e["event"]
        current = rounds[-1]
        if kind == "blind_posted":
            add(
                current,
                {
                    "player_id": e["seat"],
                    "action": _OHH_BLINDS[e["blind"]],
                    "amount": e["amount"],
                    "is_allin": e["all_in"],
                },
            )
        elif kind == "hole_cards":
            add(current, {"player_id": e["seat"], "action": "Dealt Cards", "cards": e["cards"]})
        elif kind == "action":
            add(
                current,
                {
                    "player_id": e["seat"],
                    "action": _action_kind(e).title(),
                    "amount": e["added"],
                    "is_allin": e["all_in"],
                },
            )
        elif kind == "street_dealt":
            rounds.append(
                {
                    "id": len(rounds),
                    "street": _OHH_STREETS[e["street"]],
                    "cards": e["cards"],
                    "actions": [],
                }
            )
        elif kind in ("hand_shown", "hand_mucked"):
            if showdown is None:
                showdown = {"id": len(rounds), "street": "Showdown", "cards": [], "actions": []}
                rounds.append(showdown)
            if kind == "hand_shown":
                add(
                    showdown, {"player_id": e["seat"], "action": "Shows Cards", "cards": e["cards"]}
                )
            else:
                add(showdown, {"player_id": e["seat"], "action": "Mucks Cards"})
        elif kind == "pot_awarded":
            pots.append(
                {
                    "number": e["pot"],
                    "amount": e["amount"] + e["rake"],
                    "rake": e["rake"],
                    "jackpot": 0,
                    "player_wins": [
                        {"player_id": seat, "win_amount": chips, "contributed_rake": 0}
                        for seat, chips in _winners(e)
                    ],
                }
            )
    return {
        "ohh": {
            "spec_version": OHH_SPEC_VERSION,
            "site_name": SITE_NAME,
            "network_name": SITE_NAME,
            "internal_version": "1",
            "tournament": False,
            "game_number": str(hand.id),
            "start_date_utc": hand.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "table_name": _table_name(hand, table),
            "table_handle": str(hand.table_id),
            "table_skin": SITE_NAME,
            "game_type": "Holdem",
            "bet_limit": {"bet_type": "NL", "bet_cap": 0},
            "table_size": _table_size(hand, table),
            "currency": "KRW",
            "dealer_seat": hand.button_seat + 1,
            "small_blind_amount": hand.small_blind,
            "big_blind_amount": hand.big_blind,
            "ante_amount": 0,
            "hero_player_id": viewer_seat,
            "flags": [],
            "players": players,
            "rounds": rounds,
            "pots": pots,
        }
    }


@dataclass(frozen=True, slots=True)
class Exported:
    """An export: its media type, a file name and the body."""

    media_type: str
    filename: str
    body: str
    hands: int


async def _names(session: AsyncSession, hands: Sequence[HandRecord]) -> dict[int, str]:
    ids = {p.user_id for h in hands for p in h.players}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.nickname).where(User.id.in_(ids)))
    return {int(i): str(n) for i, n in rows}


async def _tables(session: AsyncSession, hands: Sequence[HandRecord]) -> dict[int, TableFacts]:
    ids = {h.table_id for h in hands}
    if not ids:
        return {}
    rows = await session.execute(
        select(PokerTable.id, PokerTable.name, PokerTable.max_seats).where(PokerTable.id.in_(ids))
    )
    return {int(i): TableFacts(str(name), int(seats)) for i, name, seats in rows}


async def _render(
    session: AsyncSession,
    hands: Sequence[HandRecord],
    viewer_id: int,
    fmt: ExportFormat,
    stem: str,
) -> Exported:
    names = await _names(session, hands)
    tables = await _tables(session, hands)
    if fmt is ExportFormat.POKERSTARS:
        body = "\n\n".join(
            to_pokerstars(h, names, viewer_id, tables.get(h.table_id)) for h in hands
        )
        return Exported("text/plain; charset=utf-8", f"{stem}.txt", body, len(hands))
    # The OHH storage format: one {"ohh": ...} object per hand, separated by a blank line
    # (a file of many hands is not one JSON document; one hand is).
    documents = [to_ohh(h, names, viewer_id, tables.get(h.table_id)) for h in hands]
    body = "\n\n".join(json.dumps(d, ensure_ascii=False) for d in documents) + "\n"
    media = "application/json" if len(hands) == 1 else "text/plain; charset=utf-8"
    return Exported(media, f"{stem}.ohh", body, len(hands))


async def export_hand(
    session: AsyncSession,
    store: ObjectStore,
    redis: Redis | None,
    viewer_id: int,
    hand_id: int,
    fmt: ExportFormat,
) -> Exported:
    """One of the viewer's hands, hot or archived.

    Raises:
        NotFound: No such hand, or the viewer did not play it (not told apart).
    """
    hand = await load_hand(session, store, redis, hand_id)
    if hand is None or all(p.user_id != viewer_id for p in hand.players):
        raise NotFound(f"hand {hand_id} not found", {"hand_id": hand_id})
    return await _render(session, [hand], viewer_id, fmt, f"hand-{hand_id}")


async def export_range(
    session: AsyncSession,
    store: ObjectStore,
    redis: Redis | None,
    viewer_id: int,
    since: datetime,
    until: datetime,
    fmt: ExportFormat,
) -> Exported:
    """The viewer's hands started in ``[since, until)``, oldest first (at most 500).

    Raises:
        InvalidInput: The range is empty, reversed, naive, or holds more than 500 hands.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInput("give times with a time zone offset")
    if until <= since:
        raise InvalidInput("the range must end after it starts")
    refs = await list_player_hands(session, viewer_id, since, until, MAX_EXPORT_HANDS + 1)
    if len(refs) > MAX_EXPORT_HANDS:
        raise InvalidInput(
            f"more than {MAX_EXPORT_HANDS} hands in the range: export a shorter one",
            {"max_hands": MAX_EXPORT_HANDS},
        )
    hands = await load_hands(session, store, redis, [r.hand_id for r in reversed(refs)])
    stem = f"hands-{since.astimezone(KST):%Y%m%d}-{until.astimezone(KST):%Y%m%d}"
    return await _render(session, hands, viewer_id, fmt, stem)
