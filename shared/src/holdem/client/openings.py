"""The client's check of every card it is shown against the hand's commitment.

Each hand publishes a commitment in ``hand_started`` (and in snapshots); every card a
client may see arrives with its opening: its own hole cards in ``hole_cards``, the board in
``street_dealt``, shown cards in ``hand_shown``, and all of those again in snapshots. The
`OpeningChecker` verifies each opening it sees with the engine's stdlib-only
`holdem.engine.shuffle.verify_opening`, and also that it opens the card the message shows at
the position that card must have (seat ``s`` holds positions ``2s`` and ``2s + 1``; the board
starts at ``2 * seats``), so a server cannot prove a card with another position's opening.

Snapshots and events repeat openings (a player sees its hole cards' openings in
``hole_cards`` and again in every snapshot of the hand), and every player at a table is shown
the same board: an opening already verified under a hand's commitment, received again exactly
as it was (same position, card, nonce and proof) by any checker of the process, is counted as
verified without hashing it again. Whether an opening matches a commitment depends on nothing
else, so the verdicts are the same; only the cost of a repeat is gone (a client spent more CPU
on the openings of its snapshots than on anything else).

>>> checker = OpeningChecker()
>>> checker.verified, checker.failed
(0, 0)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from holdem.engine.cards import parse_card
from holdem.engine.dealing import board_offset
from holdem.engine.shuffle import Opening, verify_opening

__all__ = ["HandCheck", "OpeningChecker"]

_EVENTS_WITH_OPENINGS = ("hand_started", "hand_shown", "street_dealt")
_TYPES_WITH_OPENINGS = ("snapshot", "hole_cards")
"""The messages `OpeningChecker.observe` reads (``hand_started`` for its commitment); tuples,
not sets: a hostile server's unhashable ``event`` must not raise."""

VERIFIED_KEPT = 8192
"""Verified openings the process remembers (the oldest are forgotten first)."""
_VERIFIED: dict[tuple[Any, ...], Opening] = {}
"""Openings verified in this process, by commitment and wire form (see the module doc)."""

KEEP_HANDS = 256
"""Hands whose verdicts a checker keeps (older ones are dropped; the totals stay)."""


@dataclass
class HandCheck:
    """The verdict on one hand's openings as one client received them.

    Attributes:
        table_id: The table.
        hand: The hand number.
        commitment: The commitment the hand published (``None`` until it is seen).
        verified: Every opening received that checked out, in arrival order (repeats
            included: snapshots repeat what events opened).
        failed: ``(what was received, why it failed)`` for every card that did not check
            out, including cards received without an opening under a commitment.
    """

    table_id: int
    hand: int
    commitment: str | None = None
    verified: list[Opening] = field(default_factory=list)
    failed: list[tuple[Any, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing failed."""
        return not self.failed


class OpeningChecker:
    """Verifies the openings in the messages one client receives (see the module doc).

    Attributes:
        verified: Openings that checked out, in total.
        failed: Cards that did not, in total.
    """

    def __init__(self, keep_hands: int = KEEP_HANDS) -> None:
        self.verified = 0
        self.failed = 0
        self._keep = keep_hands
        self._hands: OrderedDict[tuple[int, int], HandCheck] = OrderedDict()
        self._sizes: dict[int, int] = {}

    def hand(self, table_id: int, hand: int) -> HandCheck | None:
        """The verdict on one hand, if the client saw it (and it is among the last kept)."""
        return self._hands.get((table_id, hand))

    @property
    def hands(self) -> list[HandCheck]:
        """The verdicts kept, oldest first."""
        return list(self._hands.values())

    def observe(self, message: dict[str, Any]) -> None:
        """Check the openings one received message carries (other messages are ignored)."""
        kind, event = message.get("type"), message.get("event")
        # Most messages (turns, actions, pots, results) open nothing: leave them at once.
        if event not in _EVENTS_WITH_OPENINGS and kind not in _TYPES_WITH_OPENINGS:
            return
        table_id = message.get("table_id")
        if type(table_id) is not int:
            return
        if kind == "snapshot":
            self._snapshot(table_id, message)
            return
        hand = message.get("hand")
        if type(hand) is not int:
            return
        if event == "hand_started":
            self._check(table_id, hand).commitment = message.get("commitment")
        elif kind == "hole_cards" or event == "hand_shown":
            seat = message.get("seat")
            if type(seat) is int:
                self._cards(table_id, hand, message, [2 * seat, 2 * seat + 1])
        elif event == "street_dealt":
            size = self._sizes.get(table_id)
            cards, board = message.get("cards"), message.get("board")
            if size is not None and isinstance(cards, list) and isinstance(board, list):
                first = board_offset(size) + len(board) - len(cards)
                self._cards(table_id, hand, message, list(range(first, first + len(cards))))
            else:
                self._cards(table_id, hand, message, None)

    def _check(self, table_id: int, hand: int) -> HandCheck:
        key = (table_id, hand)
        check = self._hands.get(key)
        if check is None:
            check = self._hands[key] = HandCheck(table_id, hand)
            while len(self._hands) > self._keep:
                self._hands.popitem(last=False)
        return check

    def _snapshot(self, table_id: int, message: dict[str, Any]) -> None:
        seats = message.get("seats")
        if isinstance(seats, list):
            self._sizes[table_id] = len(seats)
        hand = message.get("hand_number")
        if type(hand) is not int or not isinstance(seats, list):
            return
        check = self._check(table_id, hand)
        if check.commitment is None:
            check.commitment = message.get("commitment")
        expected: dict[int, str] = {}
        for entry in seats:
            cards, seat = entry.get("cards"), entry.get("seat")
            if isinstance(cards, list) and len(cards) == 2 and type(seat) is int:
                expected[2 * seat], expected[2 * seat + 1] = cards
        board = message.get("board")
        if isinstance(board, list):
            start = board_offset(len(seats))
            expected.update({start + i: card for i, card in enumerate(board)})
        openings = message.get("openings")
        by_position = {}
        for wire in openings if isinstance(openings, list) else []:
            by_position[wire.get("position") if isinstance(wire, dict) else None] = wire
        for position, card in expected.items():
            self._one(check, card, position, by_position.pop(position, None))
        for wire in by_position.values():
            self._fail(check, wire, "an opening of a card the snapshot does not show")

    def _cards(
        self, table_id: int, hand: int, message: dict[str, Any], positions: Sequence[int] | None
    ) -> None:
        check = self._check(table_id, hand)
        cards, openings = message.get("cards"), message.get("openings")
        if not isinstance(cards, list):
            return
        if not isinstance(openings, list) or len(openings) != len(cards):
            if check.commitment is not None or openings:
                self._fail(check, message, "cards without one opening each")
            return
        for index, (card, wire) in enumerate(zip(cards, openings, strict=True)):
            self._one(check, card, None if positions is None else positions[index], wire)

    def _one(self, check: HandCheck, card: Any, position: int | None, wire: Any) -> None:
        if wire is None:
            if check.commitment is not None:
                self._fail(check, card, "a card shown without its opening")
            return
        key = _wire_key(check.commitment, wire)
        known = _VERIFIED.get(key) if key is not None else None
        # A repeat of a verified opening, shown as the same card at the same position.
        if known is not None and card == wire["card"] and position in (None, known.position):
            check.verified.append(known)
            self.verified += 1
            return
        try:
            opening = Opening.from_wire(wire)
        except ValueError:
            self._fail(check, wire, "a malformed opening")
            return
        if check.commitment is None:
            self._fail(check, wire, "an opening before any commitment")
        elif position is not None and opening.position != position:
            self._fail(check, wire, f"opens position {opening.position}, not {position}")
        elif not isinstance(card, str) or _card(card) != opening.card:
            self._fail(check, wire, f"opens another card than {card!r}")
        elif not verify_opening(check.commitment, opening):
            self._fail(check, wire, "does not match the commitment")
        else:
            check.verified.append(opening)
            self.verified += 1
            if key is not None:
                if len(_VERIFIED) >= VERIFIED_KEPT:
                    del _VERIFIED[next(iter(_VERIFIED))]
                _VERIFIED[key] = opening

    def _fail(self, check: HandCheck, received: Any, why: str) -> None:
        check.failed.append((received, why))
        self.failed += 1


def _wire_key(commitment: str | None, wire: Any) -> tuple[Any, ...] | None:
    """An opening's wire form under a commitment as a dictionary key (``None`` when there is
    no commitment yet or the opening cannot be a key).

    Only openings that verified are stored under their key, so a key of a malformed opening
    (a hashable value of the wrong type) finds nothing and is parsed, and refused, as before.
    """
    if commitment is None or not isinstance(wire, dict):
        return None
    position, proof = wire.get("position"), wire.get("proof")
    if type(position) is not int or type(proof) is not list:
        return None
    key = (commitment, position, wire.get("card"), wire.get("nonce"), *proof)
    try:
        hash(key)
    except TypeError:  # a list or object where a hex string belongs
        return None
    return key


def _card(text: str) -> int | None:
    try:
        return parse_card(text)
    except ValueError:
        return None
