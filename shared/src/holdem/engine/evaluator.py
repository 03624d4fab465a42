"""Poker hand evaluation: the best five-card hand among 5, 6 or 7 cards.

:func:`evaluate` returns an ``int`` that is totally ordered: a higher value is a better
hand, equal values are an exact tie, and suits never break ties. The value is built as

    category << 20 | r1 << 16 | r2 << 12 | r3 << 8 | r4 << 4 | r5

where ``category`` is a :class:`HandCategory` and ``r1..r5`` are ranks (0 = deuce ..
12 = ace) in order of significance, left-aligned and zero-padded: a full house of
kings over twos is ``[K, 2]``, two pair ``[high pair, low pair, kicker]``, a straight or
straight flush only its top card (the wheel A-2-3-4-5 tops at the five, so the ace plays
low only there). There are exactly 7,462 distinct values.

Speed comes from tables built once at import from pure arithmetic (no files):

* Every card has an additive key ``rank_key << 61 | suit_key << 52 | 1 << (suit*13 + rank)``.
  The 13 rank keys (from SKPokerEval) give every multiset of up to seven ranks a unique
  sum, so the rank part of the sum indexes a dict of non-flush values. The suit keys
  ``0, 1, 8, 57`` make the suit part of the sum identify how many cards each suit has,
  so a 512-entry table says which suit, if any, has five or more cards. The low 52 bits
  hold one bit per card: their popcount catches duplicate cards, and a flush suit's 13
  bits are directly the rank mask that indexes an 8,192-entry flush table.
* A flush (or straight flush) is always the best hand when five cards share a suit:
  with at most seven cards, a flush leaves no room for a full house or quads.

>>> from holdem.engine.cards import parse_cards
>>> describe(evaluate(parse_cards("KsKdKh2c2d")))
'Full house, Kings full of Twos'
>>> evaluate(parse_cards("As2d3h4c5s")) < evaluate(parse_cards("2d3h4c5s6s"))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import IntEnum
from itertools import combinations, combinations_with_replacement

from holdem.engine.cards import Card, card_str

__all__ = [
    "HandCategory",
    "best_five",
    "category",
    "describe",
    "describe_pokerstars",
    "evaluate",
    "evaluate_many",
]


class HandCategory(IntEnum):
    """The nine hand categories, weakest first."""

    HIGH_CARD = 0
    ONE_PAIR = 1
    TWO_PAIR = 2
    THREE_OF_A_KIND = 3
    STRAIGHT = 4
    FLUSH = 5
    FULL_HOUSE = 6
    FOUR_OF_A_KIND = 7
    STRAIGHT_FLUSH = 8


_CATEGORY_SHIFT = 20
_ACE = 12
_FIVE = 3  # the top card of the wheel

# Chosen (by SKPokerEval) so that every multiset of at most seven ranks, each used at
# most four times, has a distinct sum.
_RANK_KEYS = (0, 1, 5, 22, 98, 453, 2031, 8698, 22854, 83661, 262349, 636345, 1479181)
# With at most seven cards, count1 + 8*count2 + 57*count3 is a unique encoding of the
# suit counts (count1 < 8 and count1 + 8*count2 < 57), and it is below 512.
_SUIT_KEYS = (0, 1, 8, 57)
_SUIT_SHIFT = 52
_RANK_SHIFT = 61
_CARD_BITS = (1 << 52) - 1


def _pack(cat: HandCategory, ranks: Iterable[int]) -> int:
    value = int(cat) << _CATEGORY_SHIFT
    shift = 16
    for rank in ranks:
        value |= rank << shift
        shift -= 4
    return value


def _straight_top(mask: int) -> int:
    """The top rank of the highest straight in a 13-bit rank mask, or -1."""
    for top in range(_ACE, _FIVE, -1):
        pattern = 0b11111 << (top - 4)
        if mask & pattern == pattern:
            return top
    wheel = (1 << _ACE) | 0b1111
    return _FIVE if mask & wheel == wheel else -1


def _top_ranks(mask: int, count: int) -> list[int]:
    """The ``count`` highest ranks set in a rank mask, highest first."""
    return [rank for rank in range(_ACE, -1, -1) if mask >> rank & 1][:count]


def _build_flush_table() -> list[int]:
    """Value of the best flush or straight flush for every rank mask with >= 5 bits."""
    table = [0] * 8192
    for mask in range(8192):
        if mask.bit_count() >= 5:
            top = _straight_top(mask)
            if top >= 0:
                table[mask] = _pack(HandCategory.STRAIGHT_FLUSH, (top,))
            else:
                table[mask] = _pack(HandCategory.FLUSH, _top_ranks(mask, 5))
    return table


def _rank_value(ranks: tuple[int, ...]) -> int:
    """Best non-flush hand value of a multiset of 5..7 ranks (each used at most 4 times)."""
    counts = [0] * 13
    for rank in ranks:
        counts[rank] += 1
    # Distinct ranks ordered by multiplicity, then rank: the order a hand is read in.
    groups = sorted(((counts[r], r) for r in range(13) if counts[r]), reverse=True)
    top_count, top_rank = groups[0]
    others = [rank for _, rank in groups[1:]]
    if top_count == 4:
        return _pack(HandCategory.FOUR_OF_A_KIND, (top_rank, max(others)))
    if top_count == 3 and groups[1][0] >= 2:
        # With two sets of trips, the lower set plays as the pair; groups[1] is the
        # highest remaining rank appearing at least twice either way.
        return _pack(HandCategory.FULL_HOUSE, (top_rank, groups[1][1]))
    mask = 0
    for _, rank in groups:
        mask |= 1 << rank
    top = _straight_top(mask)
    if top >= 0:
        return _pack(HandCategory.STRAIGHT, (top,))
    if top_count == 3:
        return _pack(HandCategory.THREE_OF_A_KIND, [top_rank, *others[:2]])
    if top_count == 2 and groups[1][0] == 2:
        high, low = top_rank, groups[1][1]
        # A third pair can supply the kicker, so take the best of all remaining ranks.
        kicker = max(rank for _, rank in groups[2:])
        return _pack(HandCategory.TWO_PAIR, (high, low, kicker))
    if top_count == 2:
        return _pack(HandCategory.ONE_PAIR, [top_rank, *others[:3]])
    return _pack(HandCategory.HIGH_CARD, [rank for _, rank in groups[:5]])


def _build_rank5() -> dict[int, int]:
    """Map the rank-key sum of every five-card rank multiset to its non-flush value."""
    table: dict[int, int] = {}
    for ranks in combinations_with_replacement(range(13), 5):
        if ranks[0] != ranks[4]:  # sorted, so this excludes five of a kind
            table[sum(_RANK_KEYS[r] for r in ranks)] = _rank_value(ranks)
    return table


def _extend(table: dict[int, int]) -> dict[int, int]:
    """The rank table for one more card, from the table for ``n`` cards.

    The best hand of ``n + 1`` ranks is the best over dropping each one of them, so each
    larger multiset takes the maximum over every (smaller multiset, added rank) pair
    that forms it. Adding a fifth card of a rank is impossible, and a smaller multiset
    holding four of a rank always evaluates as quads of that rank, which identifies it.
    """
    out: dict[int, int] = {}
    get = out.get
    quads = int(HandCategory.FOUR_OF_A_KIND)
    for key, value in table.items():
        full = value >> 16 & 15 if value >> _CATEGORY_SHIFT == quads else -1
        for rank, rank_key in enumerate(_RANK_KEYS):
            if rank != full and get(key + rank_key, -1) < value:
                out[key + rank_key] = value
    return out


def _build_flush_shifts(size: int) -> list[int]:
    """For each suit-key sum of ``size`` cards: ``13 * suit`` of a suit with >= 5 cards, or -1.

    The shift moves that suit's 13 per-card bits to the bottom of the key sum.
    """
    table = [-1] * 512
    for counts in combinations_with_replacement(range(4), size):
        suit_sum = sum(_SUIT_KEYS[s] for s in counts)
        for suit in range(4):
            if counts.count(suit) >= 5:
                table[suit_sum] = 13 * suit
    return table


_CARD_KEYS = tuple(
    _RANK_KEYS[c >> 2] << _RANK_SHIFT
    | _SUIT_KEYS[c & 3] << _SUIT_SHIFT
    | 1 << (c & 3) * 13 + (c >> 2)
    for c in range(52)
)
# Indexed by card. The tail of ``None`` makes negative indices -1..-52 and 52..103 fail
# with a TypeError in the sum (instead of silently wrapping around), which evaluate turns
# into a ValueError at no cost on the valid path.
_KEYS: tuple[int | None, ...] = (*_CARD_KEYS, *(None,) * 52)


def _build_tables() -> tuple[list[int], dict[int, int], dict[int, int], dict[int, int]]:
    """The flush table and the 5-, 6- and 7-card rank tables (timed by the benchmark)."""
    rank5 = _build_rank5()
    rank6 = _extend(rank5)
    return _build_flush_table(), rank5, rank6, _extend(rank6)


_FLUSH, _RANK5, _RANK6, _RANK7 = _build_tables()
_SHIFT5 = _build_flush_shifts(5)
_SHIFT6 = _build_flush_shifts(6)
_SHIFT7 = _build_flush_shifts(7)


def _invalid(cards: Sequence[Card]) -> ValueError:
    """The precise error for a hand that failed the fast path."""
    seen: set[Card] = set()
    for card in cards:
        if not isinstance(card, int) or not 0 <= card < 52:
            return ValueError(f"not a card: {card!r}")
        if card in seen:
            return ValueError(f"duplicate card {card_str(card)} in hand")
        seen.add(card)
    return ValueError(f"expected 5, 6 or 7 cards, got {len(cards)}")


def evaluate(cards: Sequence[Card]) -> int:
    """Value of the best five-card hand among 5, 6 or 7 distinct cards.

    Args:
        cards: The cards, in any order.

    Returns:
        A value where higher is better and equal values tie exactly.

    Raises:
        ValueError: A card is out of range or repeated, or there are not 5, 6 or 7 cards.

    >>> from holdem.engine.cards import parse_cards
    >>> evaluate(parse_cards("AhKh2h3d9h7h4c")) > evaluate(parse_cards("AsKs2h3d9h7h4c"))
    True
    """
    # The three branches are unrolled copies on purpose: a loop or a shared helper would
    # cost more than the arithmetic itself.
    try:
        n = len(cards)
        if n == 7:
            a, b, c, d, e, f, g = cards
            k = _KEYS
            s = k[a] + k[b] + k[c] + k[d] + k[e] + k[f] + k[g]  # type: ignore[operator]
            if (s & _CARD_BITS).bit_count() != 7:
                raise _invalid(cards)
            shift = _SHIFT7[s >> _SUIT_SHIFT & 511]
            if shift < 0:
                return _RANK7[s >> _RANK_SHIFT]
            return _FLUSH[s >> shift & 8191]
        if n == 6:
            a, b, c, d, e, f = cards
            k = _KEYS
            s = k[a] + k[b] + k[c] + k[d] + k[e] + k[f]  # type: ignore[operator]
            if (s & _CARD_BITS).bit_count() != 6:
                raise _invalid(cards)
            shift = _SHIFT6[s >> _SUIT_SHIFT & 511]
            if shift < 0:
                return _RANK6[s >> _RANK_SHIFT]
            return _FLUSH[s >> shift & 8191]
        if n == 5:
            a, b, c, d, e = cards
            k = _KEYS
            s = k[a] + k[b] + k[c] + k[d] + k[e]  # type: ignore[operator]
            if (s & _CARD_BITS).bit_count() != 5:
                raise _invalid(cards)
            shift = _SHIFT5[s >> _SUIT_SHIFT & 511]
            if shift < 0:
                return _RANK5[s >> _RANK_SHIFT]
            return _FLUSH[s >> shift & 8191]
    except (IndexError, TypeError):
        raise _invalid(cards) from None
    raise _invalid(cards)


def evaluate_many(hands: Iterable[Sequence[Card]]) -> list[int]:
    """Evaluate many hands: the same as ``[evaluate(hand) for hand in hands]``, faster.

    Batches of seven-card hands take a fast path; any other batch (mixed sizes, or an
    invalid hand, which raises the same error as :func:`evaluate`) falls back to one
    :func:`evaluate` call per hand.

    >>> from holdem.engine.cards import parse_cards
    >>> [category(v).name for v in evaluate_many([parse_cards("AsAdKhKc2s3d9h")])]
    ['TWO_PAIR']
    """
    batch = list(hands)
    k, shifts, ranks, flush = _KEYS, _SHIFT7, _RANK7, _FLUSH
    out: list[int] = []
    append = out.append
    try:
        for a, b, c, d, e, f, g in batch:
            s = k[a] + k[b] + k[c] + k[d] + k[e] + k[f] + k[g]  # type: ignore[operator]
            if (s & _CARD_BITS).bit_count() != 7:
                break
            shift = shifts[s >> _SUIT_SHIFT & 511]
            append(ranks[s >> _RANK_SHIFT] if shift < 0 else flush[s >> shift & 8191])
        else:
            return out
    except (IndexError, TypeError, ValueError):
        pass
    return [evaluate(hand) for hand in batch]


def category(value: int) -> HandCategory:
    """The category of a hand value.

    >>> from holdem.engine.cards import parse_cards
    >>> category(evaluate(parse_cards("2c2d5h5s9c")))
    <HandCategory.TWO_PAIR: 2>
    """
    return HandCategory(value >> _CATEGORY_SHIFT)


def best_five(cards: Sequence[Card]) -> tuple[Card, ...]:
    """The five cards that make the best hand, in reading order.

    Reading order is by group size, then rank (``KKK22``, ``QQ 9 7 3``); a wheel lists
    the ace last. When several choices make the same value, one of them is returned.

    >>> from holdem.engine.cards import cards_str, parse_cards
    >>> cards_str(best_five(parse_cards("2cKs9dKdKh2h5s")))
    'Ks Kh Kd 2h 2c'
    """
    value = evaluate(cards)
    for five in combinations(sorted(cards, reverse=True), 5):
        if evaluate(five) == value:
            return _reading_order(five, value)
    raise AssertionError("the best hand is made of five of the cards")  # pragma: no cover


def _reading_order(five: Sequence[Card], value: int) -> tuple[Card, ...]:
    counts = [0] * 13
    for card in five:
        counts[card >> 2] += 1
    wheel = category(value) in (HandCategory.STRAIGHT, HandCategory.STRAIGHT_FLUSH) and (
        value >> 16 & 15 == _FIVE
    )

    def key(card: Card) -> tuple[int, int, int]:
        rank = card >> 2
        if wheel and rank == _ACE:
            rank = -1
        return (counts[card >> 2], rank, card & 3)

    return tuple(sorted(five, key=key, reverse=True))


_NAMES: tuple[str, ...] = ("Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten")
_NAMES += ("Jack", "Queen", "King", "Ace")
_PLURALS = tuple(name + ("es" if name == "Six" else "s") for name in _NAMES)


_PLAIN_WORDS = {
    HandCategory.HIGH_CARD: "High card, {high}",
    HandCategory.ONE_PAIR: "Pair of {first}",
    HandCategory.TWO_PAIR: "Two pair, {first} and {second}",
    HandCategory.THREE_OF_A_KIND: "Three of a kind, {first}",
    HandCategory.STRAIGHT: "Straight, {low} to {high}",
    HandCategory.FLUSH: "Flush, {high} high",
    HandCategory.FULL_HOUSE: "Full house, {first} full of {second}",
    HandCategory.FOUR_OF_A_KIND: "Four of a kind, {first}",
    HandCategory.STRAIGHT_FLUSH: "Straight flush, {low} to {high}",
}
_PLAIN_ROYAL = "Royal flush"
_POKERSTARS_WORDS = {
    HandCategory.HIGH_CARD: "high card {high}",
    HandCategory.ONE_PAIR: "a pair of {first}",
    HandCategory.TWO_PAIR: "two pair, {first} and {second}",
    HandCategory.THREE_OF_A_KIND: "three of a kind, {first}",
    HandCategory.STRAIGHT: "a straight, {low} to {high}",
    HandCategory.FLUSH: "a flush, {high} high",
    HandCategory.FULL_HOUSE: "a full house, {first} full of {second}",
    HandCategory.FOUR_OF_A_KIND: "four of a kind, {first}",
    HandCategory.STRAIGHT_FLUSH: "a straight flush, {low} to {high}",
}
_POKERSTARS_ROYAL = "a Royal Flush"


def _words(value: int, words: dict[HandCategory, str], royal: str) -> str:
    """A hand value put into one style of words (the ranks that name it filled in)."""
    cat = category(value)
    r1, r2 = value >> 16 & 15, value >> 12 & 15
    if cat is HandCategory.STRAIGHT_FLUSH and r1 == _ACE:
        return royal
    low = _ACE if r1 == _FIVE else r1 - 4  # a straight's lowest card; the wheel's is the ace
    return words[cat].format(
        high=_NAMES[r1], first=_PLURALS[r1], second=_PLURALS[r2], low=_NAMES[max(low, 0)]
    )


def describe(value: int) -> str:
    """A short English description of a hand value, for hand histories.

    >>> from holdem.engine.cards import parse_cards
    >>> describe(evaluate(parse_cards("AsKsQsJsTs")))
    'Royal flush'
    >>> describe(evaluate(parse_cards("Ah2c3d4s5h9c9d")))
    'Straight, Ace to Five'
    """
    return _words(value, _PLAIN_WORDS, _PLAIN_ROYAL)


def describe_pokerstars(value: int) -> str:
    """A hand value in the words PokerStars hand histories use (tracking tools read them).

    >>> from holdem.engine.cards import parse_cards
    >>> [describe_pokerstars(evaluate(parse_cards(h))) for h in ("AsKd9h7c3s", "KsKd9h7c3s")]
    ['high card Ace', 'a pair of Kings']
    >>> describe_pokerstars(evaluate(parse_cards("Ah2c3d4s5h9c9d")))
    'a straight, Ace to Five'
    >>> describe_pokerstars(evaluate(parse_cards("KsKdKh2c2d")))
    'a full house, Kings full of Twos'
    >>> describe_pokerstars(evaluate(parse_cards("AsKsQsJsTs")))
    'a Royal Flush'
    """
    return _words(value, _POKERSTARS_WORDS, _POKERSTARS_ROYAL)
