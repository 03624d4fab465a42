"""Where each card of the deck goes, and stacked decks for tests.

The layout is fixed, and a card's position is part of its commitment (see
:mod:`holdem.engine.shuffle`): at a table of ``seats`` seats, seat ``s`` receives
``deck[2s]`` and ``deck[2s + 1]`` (positions of seats not dealt in stay unused, never
opened) and the board is ``deck[2 * seats : 2 * seats + 5]`` (flop, turn, river). There are
no burn cards: the deck is fixed, and committed to, before the hand starts, so burning
protects nothing.

>>> from holdem.engine.cards import cards_str
>>> deck = stacked_deck(3, {0: "AsAd", 2: "7c2d"}, board="Ah Kh Qh Jh Th")
>>> cards_str(deck[:6]), cards_str(deck[6:11])
('As Ad 2c 2h 7c 2d', 'Ah Kh Qh Jh Th')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import IntEnum

from holdem.engine.cards import DECK, Card, parse_cards
from holdem.engine.errors import DeckError

__all__ = ["BOARD_SIZE", "Street", "board_offset", "check_deck", "stacked_deck"]

BOARD_SIZE = 5
_ALL = frozenset(DECK)


class Street(IntEnum):
    """The betting rounds of Hold'em."""

    PREFLOP = 0
    FLOP = 1
    TURN = 2
    RIVER = 3


def board_offset(seats: int) -> int:
    """Index in the deck of the first board card at a table of ``seats`` seats."""
    return 2 * seats


def check_deck(deck: Sequence[Card], seats: int) -> list[Card]:
    """Validate an explicit deck and return the part a hand uses.

    Raises:
        DeckError: A card is out of range or repeated, or the deck is too short.
    """
    needed = 2 * seats + BOARD_SIZE
    cards = list(deck)
    if len(cards) < needed:
        raise DeckError(f"a {seats}-seat table needs at least {needed} cards, got {len(cards)}")
    if (
        len(set(cards)) != len(cards)
        or set(map(type, cards)) != {int}
        or not _ALL.issuperset(cards)
    ):
        raise DeckError("the deck has repeated or invalid cards")
    return cards[:needed]


def _as_cards(cards: str | Sequence[Card]) -> list[Card]:
    return parse_cards(cards) if isinstance(cards, str) else list(cards)


def stacked_deck(
    seats: int,
    hole: Mapping[int, str | Sequence[Card]] | None = None,
    board: str | Sequence[Card] = "",
) -> list[Card]:
    """A full deck with chosen hole cards and board, for tests and replays.

    Args:
        seats: The table size.
        hole: Two cards for some seats, e.g. ``{0: "AsAd"}``.
        board: Up to five board cards, in dealing order.

    Returns:
        52 cards: the chosen ones in place, every other position filled with the unused
        cards in ascending order.

    Raises:
        DeckError: A card is used twice, a seat is out of range, or too many cards are given.
    """
    slots: list[Card | None] = [None] * len(DECK)
    for seat, text in (hole or {}).items():
        pair = _as_cards(text)
        if not 0 <= seat < seats or len(pair) != 2:
            raise DeckError(f"seat {seat} needs exactly two cards on a {seats}-seat table")
        slots[2 * seat], slots[2 * seat + 1] = pair
    chosen_board = _as_cards(board)
    if len(chosen_board) > BOARD_SIZE:
        raise DeckError("a board has at most five cards")
    start = board_offset(seats)
    slots[start : start + len(chosen_board)] = chosen_board
    used = [card for card in slots if card is not None]
    if len(set(used)) != len(used):
        raise DeckError("a card is used twice")
    spare = iter(sorted(set(DECK) - set(used)))
    return [card if card is not None else next(spare) for card in slots]
