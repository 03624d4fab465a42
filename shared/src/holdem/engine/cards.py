"""Cards as small integers.

A card is an ``int`` in ``0..51``: ``rank * 4 + suit``, where rank ``0`` is a deuce and
rank ``12`` an ace, and suit ``0..3`` is clubs, diamonds, hearts, spades.

>>> parse_cards("AsKd")
[51, 45]
>>> card_str(51)
'As'
"""

from __future__ import annotations

from collections.abc import Iterable

Card = int

RANKS = "23456789TJQKA"
SUITS = "cdhs"
DECK: tuple[Card, ...] = tuple(range(52))


def rank_of(card: Card) -> int:
    """The rank of a card, 0 (deuce) to 12 (ace)."""
    return card >> 2


def suit_of(card: Card) -> int:
    """The suit of a card, 0 (clubs) to 3 (spades)."""
    return card & 3


def parse_card(text: str) -> Card:
    """Parse a two-character card such as ``"As"`` or ``"Td"``."""
    if len(text) != 2 or text[0] not in RANKS or text[1] not in SUITS:
        raise ValueError(f"not a card: {text!r}")
    return RANKS.index(text[0]) * 4 + SUITS.index(text[1])


def parse_cards(text: str) -> list[Card]:
    """Parse concatenated or space-separated cards such as ``"AsKd"`` or ``"As Kd 2c"``."""
    compact = text.replace(" ", "")
    if len(compact) % 2:
        raise ValueError(f"not a list of cards: {text!r}")
    return [parse_card(compact[i : i + 2]) for i in range(0, len(compact), 2)]


def card_str(card: Card) -> str:
    """The two-character name of a card."""
    if not 0 <= card < 52:
        raise ValueError(f"not a card: {card!r}")
    return RANKS[card >> 2] + SUITS[card & 3]


def cards_str(cards: Iterable[Card]) -> str:
    """Names of several cards separated by spaces."""
    return " ".join(card_str(card) for card in cards)
