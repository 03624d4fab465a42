"""Hand history of a player: their hands, newest first, and one hand with its events.

What the table servers write, and what this module shows (documented in docs/api.md):

* ``hand_players.hole_cards`` — each seat's two cards (``"AsKd"``); ``shown`` is true when
  they were shown at showdown.
* ``hand_events`` — ``type``, ``seat_no`` and a JSON ``payload``. Events whose type is in
  `PRIVATE_EVENT_TYPES` carry one seat's hole cards: they are shown only to that seat's
  player, or to everyone when the seat showed at showdown. Other events are public, less the
  `SERVER_ONLY_FIELDS` (each decision's time, for the operators' integrity signals).
* ``hands.result`` — public outcome; only its ``pots`` list is passed on, each pot in the
  protocol's one shape ``{"amount", "eligible", "rake", "winners": [{"seat", "amount"}]}``
  (`pot_view` reads the ``[amount, rake, eligible, winners]`` lists of older hands).
* ``hands.deck_seed`` — the shuffle seed: server side only, for the operator's verification
  (`holdem.services.hand_audit`). It is never returned: it would open every folded hand.

A player sees their own hole cards and any cards shown at showdown, never anything else,
and the openings of exactly those cards and of the board (``openings`` of the events they
see, gathered in `HandDetail.openings`), to check against the deck commitment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from holdem.ports.hands import HandHistoryReads, HandRecord
from holdem.services.errors import NotFound
from holdem.services.pagination import Page, decode_cursor, encode_cursor

PRIVATE_EVENT_TYPES = frozenset({"hole_cards"})
SERVER_ONLY_FIELDS = frozenset({"think_ms"})
"""Fields the table servers record for operators (`holdem.session.TableSession`'s hand
record), never shown."""


def _shown(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored event's payload without its server-only fields."""
    if SERVER_ONLY_FIELDS.isdisjoint(payload):
        return payload
    return {k: v for k, v in payload.items() if k not in SERVER_ONLY_FIELDS}


# The views of a page's rows are named tuples: immutable as frozen dataclasses, and built in a
# fifth of their time (a frozen dataclass sets each field through ``object.__setattr__``: ~2.5
# µs for a summary's 13, 20 summaries a page, 14 events a hand).
class HandSummary(NamedTuple):
    hand_id: int
    table_id: int
    hand_no: int
    started_at: datetime
    ended_at: datetime
    small_blind: int
    big_blind: int
    board: str
    total_pot: int
    rake: int
    seat_no: int
    hole_cards: str
    net: int


class PlayerView(NamedTuple):
    seat_no: int
    user_id: int
    nickname: str
    hole_cards: str | None
    shown: bool
    net: int


class EventView(NamedTuple):
    seq_no: int
    type: str
    seat_no: int | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class HandDetail:
    summary: HandSummary
    button_seat: int
    deck_commitment: str
    openings: list[dict[str, Any]]
    pots: list[Any]
    players: list[PlayerView]
    events: list[EventView]


def pot_view(pot: Any) -> dict[str, Any]:
    """A stored pot in the one shape of a pot (`holdem.engine.results.PotResult.to_wire`).

    Hands settled before protocol 3.0.0 stored ``[amount, rake, eligible, [[seat, chips]]]``.

    >>> pot_view([4000, 200, [0, 1], [[1, 3800]]])
    {'amount': 4000, 'eligible': [0, 1], 'rake': 200, 'winners': [{'seat': 1, 'amount': 3800}]}
    """
    if isinstance(pot, dict):
        return pot
    amount, rake, eligible, winners = pot
    return {
        "amount": amount,
        "eligible": list(eligible),
        "rake": rake,
        "winners": [{"seat": seat, "amount": chips} for seat, chips in winners],
    }


def _openings_in(events: list[EventView]) -> list[dict[str, Any]]:
    """The card openings the visible events carry, in event order."""
    return [opening for e in events for opening in e.payload.get("openings") or ()]


async def list_hands(
    reads: HandHistoryReads, user_id: int, cursor: str | None, limit: int
) -> Page[HandSummary]:
    """The user's hands, newest first (keyset on started_at, hand id)."""
    after = None if cursor is None else decode_cursor(cursor, datetime, int)
    rows = await reads.summaries(user_id, after, limit + 1)
    items = [HandSummary._make(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(last.started_at, last.hand_id)
    return Page(items, next_cursor)


ArchivedHandReader = Callable[[int], Awaitable[HandRecord | None]]
"""Reads a hand by id from the archive (e.g. ``functools.partial(archive.load_hand, ...)``)."""


async def get_hand(
    reads: HandHistoryReads, user_id: int, hand_id: int, archived: ArchivedHandReader | None = None
) -> HandDetail:
    """One of the user's hands with its events, censored for them.

    Hands moved to S3 after 7 days are read through ``archived`` when it is given.

    Raises:
        NotFound: no such hand, or the user did not play it (not told apart).
    """
    hand = await reads.hot_hand(hand_id)
    seats = () if hand is None else hand.seats
    mine = next((seat for seat in seats if seat.user_id == user_id), None)
    if mine is None and archived is not None:
        record = await archived(hand_id)
        if record is not None and any(p.user_id == user_id for p in record.players):
            return await _archived_detail(reads, user_id, record)
    if hand is None or mine is None:
        raise NotFound("no such hand in your history", {"hand_id": hand_id})
    visible_seats = {seat.seat_no for seat in seats if seat.shown or seat.user_id == user_id}
    events = [
        EventView(seq_no, kind, seat_no, _shown(payload))
        for seq_no, kind, seat_no, payload in hand.events
        if kind not in PRIVATE_EVENT_TYPES or seat_no in visible_seats
    ]
    return HandDetail(
        summary=HandSummary(*hand.facts, mine.seat_no, mine.hole_cards, mine.net),
        button_seat=hand.button_seat,
        deck_commitment=hand.deck_commitment,
        openings=_openings_in(events),
        pots=[pot_view(pot) for pot in (hand.result or {}).get("pots", [])],
        players=[
            PlayerView(
                seat_no=seat.seat_no,
                user_id=seat.user_id,
                nickname=seat.nickname,
                hole_cards=seat.hole_cards if seat.seat_no in visible_seats else None,
                shown=seat.shown,
                net=seat.net,
            )
            for seat in seats
        ],
        events=events,
    )


async def _archived_detail(reads: HandHistoryReads, user_id: int, record: HandRecord) -> HandDetail:
    """The same view as for a hot hand, built from an archived record."""
    names = await reads.nicknames({p.user_id for p in record.players})
    me = next(p for p in record.players if p.user_id == user_id)
    visible_seats = {p.seat_no for p in record.players if p.shown or p.user_id == user_id}
    events = [
        EventView(e.seq_no, e.type, e.seat_no, _shown(e.payload))
        for e in record.events
        if e.type not in PRIVATE_EVENT_TYPES or e.seat_no in visible_seats
    ]
    return HandDetail(
        summary=HandSummary(
            hand_id=record.id,
            table_id=record.table_id,
            hand_no=record.hand_no,
            started_at=record.started_at,
            ended_at=record.ended_at,
            small_blind=record.small_blind,
            big_blind=record.big_blind,
            board=record.board,
            total_pot=record.total_pot,
            rake=record.rake,
            seat_no=me.seat_no,
            hole_cards=me.hole_cards,
            net=me.net,
        ),
        button_seat=record.button_seat,
        deck_commitment=record.deck_commitment,
        openings=_openings_in(events),
        pots=[pot_view(pot) for pot in (record.result or {}).get("pots", [])],
        players=[
            PlayerView(
                seat_no=p.seat_no,
                user_id=p.user_id,
                nickname=names.get(p.user_id, ""),
                hole_cards=p.hole_cards if p.seat_no in visible_seats else None,
                shown=p.shown,
                net=p.net,
            )
            for p in record.players
        ],
        events=events,
    )
