"""The operator's full verification of a stored hand's deal (SPEC §4).

Players check the openings they receive; only the server holds the seed, so only the
operator (or an auditor given the hand record) can check the whole deal: recompute it from
the seed kept with the hand (``hands.deck_seed``, or the archived record), check it produces
the commitment the hand published, and that every card the hand recorded — each seat's hole
cards, the board, the cards shown, and every opening sent — is the one the seed deals.

Hands stored before per-card commitments published ``sha256(seed)``; they verify the same
way (scheme ``"seed"``) except that they carry no openings. Client seeds are not stored: the
table servers mix in none, so the deal is recomputed without them.

The verdict names positions, never cards: it is for the operator's tools and logs, and a
finished hand's folded cards are no business of theirs either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from holdem.engine.cards import parse_card, parse_cards
from holdem.engine.dealing import board_offset
from holdem.engine.shuffle import SEED_BYTES, Deal, Opening, verify_deal
from holdem.ports import ObjectStore
from holdem.ports.transaction import Transaction
from holdem.services.archive import HandRecord, load_hand
from holdem.services.errors import NotFound

__all__ = ["HandVerification", "verify_hand", "verify_record"]


@dataclass(frozen=True, slots=True)
class HandVerification:
    """The verdict on one hand's deal.

    Attributes:
        hand_id: The hand.
        table_id: Its table.
        hand_no: Its number at the table.
        archived: Whether it was read from the S3 archive.
        scheme: ``"cards"`` (per-card commitment), ``"seed"`` (an older hand that published
            ``sha256(seed)``) or ``None`` when the seed produces neither.
        cards_checked: Recorded cards compared with the deal (hole cards, board, shown).
        openings_checked: Recorded openings compared with the deal.
        problems: Everything that did not match; empty when the hand verifies.
    """

    hand_id: int
    table_id: int
    hand_no: int
    archived: bool
    scheme: str | None
    cards_checked: int
    openings_checked: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """The seed explains the commitment and every recorded card and opening."""
        return not self.problems


async def verify_hand(
    tx: Transaction, store: ObjectStore, redis: Redis | None, hand_id: int
) -> HandVerification:
    """Verify a hand stored hot in PostgreSQL or archived in S3.

    Raises:
        NotFound: No such hand.
    """
    record = await load_hand(tx, store, redis, hand_id)
    if record is None:
        raise NotFound(f"hand {hand_id} not found", {"hand_id": hand_id})
    table = (await tx.hand_records.tables([record.table_id])).get(record.table_id)
    if table is None:
        raise NotFound(f"the table of hand {hand_id} is gone", {"hand_id": hand_id})
    return verify_record(record, table.seats)


def _recorded(record: HandRecord, seats: int) -> tuple[list[tuple[int, int, str]], list[str]]:
    """``(position, card, where it was recorded)`` for every card the hand kept, and what
    could not be read (a record is checked, not trusted)."""
    found: list[tuple[int, int, str]] = []
    unreadable: list[str] = []

    def add(first: int, cards: list[int], where: str) -> None:
        found.extend((first + index, card, where) for index, card in enumerate(cards))

    start = board_offset(seats)
    for player in record.players:
        try:
            add(
                2 * player.seat_no, parse_cards(player.hole_cards), f"seat {player.seat_no}'s cards"
            )
        except ValueError:
            unreadable.append(f"seat {player.seat_no}'s cards are unreadable")
    try:
        add(start, parse_cards(record.board), "the board")
    except ValueError:
        unreadable.append("the board is unreadable")
    for event in record.events:
        if event.type not in ("hole_cards", "hand_shown", "street_dealt"):
            continue
        payload = event.payload
        try:
            cards = [parse_card(card) for card in payload["cards"]]
            if event.type == "street_dealt":
                first = start + len(payload["board"]) - len(cards)
            else:
                first = 2 * int(payload["seat"])
        except (KeyError, TypeError, ValueError):
            unreadable.append(f"event {event.seq_no} is unreadable")
            continue
        add(first, cards, f"event {event.seq_no}")
    return found, unreadable


def verify_record(record: HandRecord, seats: int) -> HandVerification:
    """Verify one hand record (a hand at a table of ``seats`` seats)."""
    problems: list[str] = []
    scheme = None
    cards_checked = openings_checked = 0
    try:
        seed = bytes.fromhex(record.deck_seed)
    except ValueError:
        seed = b""
    if len(seed) < SEED_BYTES:
        problems.append("no seed is stored with the hand")
    else:
        check = verify_deal(record.deck_commitment, seed, seats)
        scheme = check.scheme
        problems += check.problems
        deal = check.deal
        recorded, unreadable = _recorded(record, seats)
        problems += unreadable
        for position, card, where in recorded:
            cards_checked += 1
            if not 0 <= position < len(deal.cards) or deal.cards[position] != card:
                problems.append(f"{where}: position {position} is not the card the seed deals")
        for event in record.events:
            published = event.payload.get("commitment")
            if event.type == "hand_started" and published != record.deck_commitment:
                problems.append(f"event {event.seq_no} published another commitment")
            for wire in event.payload.get("openings") or ():
                openings_checked += 1
                problems += _opening_problems(event.seq_no, wire, deal, scheme)
    return HandVerification(
        record.id,
        record.table_id,
        record.hand_no,
        record.archived,
        scheme,
        cards_checked,
        openings_checked,
        tuple(problems),
    )


def _opening_problems(seq_no: int, wire: Any, deal: Deal, scheme: str | None) -> list[str]:
    try:
        opening = Opening.from_wire(wire)
        expected = deal.opening(opening.position)
    except (ValueError, IndexError):
        return [f"event {seq_no}: a malformed opening"]
    if scheme != "cards" or opening != expected:
        return [f"event {seq_no}: the opening of position {opening.position} is not the deal's"]
    return []
