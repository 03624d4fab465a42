"""Exact all-in equity by enumerating every runout of the board.

When all remaining players are all-in, each live hand's equity is the share of the pot
it wins on average over every possible completion of the board, ties split evenly. The
result is exact (:class:`fractions.Fraction`) and the shares add up to 1.

Cost grows with the number of missing board cards: with a flop out it is at most
C(45, 2) = 990 runouts (instant); pre-flop heads-up it is C(48, 5) = 1,712,304 runouts,
about a second in pure Python (see ``loadtest/bench_evaluator.py``).

>>> from holdem.engine.cards import parse_cards
>>> shares = all_in_equity([parse_cards("AhKh"), parse_cards("QsQd")], parse_cards("Qh7h2c"))
>>> shares
[Fraction(23, 90), Fraction(67, 90)]
>>> [round(p, 1) for p in percentages(shares)]
[25.6, 74.4]
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from math import lcm

from holdem.engine.cards import Card, card_str

# The evaluator's own tables: the hot loop below inlines evaluate() on precomputed key
# sums, since calling it per hand and runout would triple the cost.
from holdem.engine.evaluator import (
    _CARD_KEYS,
    _FLUSH,
    _RANK7,
    _RANK_SHIFT,
    _SHIFT7,
    _SUIT_SHIFT,
)

__all__ = ["all_in_equity", "percentages"]


def _check(hands: Sequence[Sequence[Card]], board: Sequence[Card], dead: Sequence[Card]) -> None:
    if not hands:
        raise ValueError("at least one hand is needed")
    for hand in hands:
        if len(hand) != 2:
            raise ValueError(f"a hand has two cards, got {len(hand)}")
    if len(board) > 5:
        raise ValueError(f"a board has at most five cards, got {len(board)}")
    seen: set[Card] = set()
    for card in [*(c for hand in hands for c in hand), *board, *dead]:
        if not isinstance(card, int) or not 0 <= card < 52:
            raise ValueError(f"not a card: {card!r}")
        if card in seen:
            raise ValueError(f"duplicate card {card_str(card)}")
        seen.add(card)
    if 52 - len(seen) < 5 - len(board):
        raise ValueError("not enough cards left to complete the board")


def _prefixes(keys: Sequence[int], depth: int) -> list[tuple[int, int]]:
    """``(key sum, next index)`` for every ``depth``-card combination of ``keys``."""
    level = [(0, 0)]
    for _ in range(depth):
        level = [
            (total + keys[i], i + 1) for total, start in level for i in range(start, len(keys))
        ]
    return level


def all_in_equity(
    hands: Sequence[Sequence[Card]],
    board: Sequence[Card],
    dead: Sequence[Card] = (),
) -> list[Fraction]:
    """Exact pot share of each hand over every runout of the board.

    Args:
        hands: The live hands, two hole cards each.
        board: The community cards already dealt (0 to 5).
        dead: Other known cards that cannot come (e.g. folded hands shown).

    Returns:
        One share per hand, in order, adding up to exactly 1.

    Raises:
        ValueError: A card is invalid or repeated, a hand does not have two cards, the
            board has more than five cards, or too few cards are left to complete it.
    """
    _check(hands, board, dead)
    known = {*(c for hand in hands for c in hand), *board, *dead}
    keys = [_CARD_KEYS[c] for c in range(52) if c not in known]
    board_sum = sum(_CARD_KEYS[c] for c in board)
    hand_sums = [_CARD_KEYS[a] + _CARD_KEYS[b] + board_sum for a, b in hands]
    # A runout is a prefix of all but one missing card plus one key from ``last`` at or
    # after the prefix's next index; a complete board is the single empty runout.
    missing = 5 - len(board)
    if missing == 0:
        runouts: list[tuple[int, int]] = [(0, 0)]
        last: Sequence[int] = [0]
    else:
        runouts = _prefixes(keys, missing - 1)
        last = keys
    if len(hand_sums) == 2:
        return _heads_up(hand_sums[0], hand_sums[1], runouts, last)
    return _multiway(hand_sums, runouts, last)


def _heads_up(
    first: int, second: int, runouts: list[tuple[int, int]], last: Sequence[int]
) -> list[Fraction]:
    shifts, ranks, flush = _SHIFT7, _RANK7, _FLUSH
    wins = ties = total = 0
    for prefix, start in runouts:
        for key in last[start:]:
            runout = prefix + key
            s = first + runout
            shift = shifts[s >> _SUIT_SHIFT & 511]
            a = ranks[s >> _RANK_SHIFT] if shift < 0 else flush[s >> shift & 8191]
            s = second + runout
            shift = shifts[s >> _SUIT_SHIFT & 511]
            b = ranks[s >> _RANK_SHIFT] if shift < 0 else flush[s >> shift & 8191]
            if a > b:
                wins += 1
            elif a == b:
                ties += 1
        total += len(last) - start
    losses = total - wins - ties
    return [Fraction(2 * wins + ties, 2 * total), Fraction(2 * losses + ties, 2 * total)]


def _multiway(
    hand_sums: list[int], runouts: list[tuple[int, int]], last: Sequence[int]
) -> list[Fraction]:
    shifts, ranks, flush = _SHIFT7, _RANK7, _FLUSH
    players = range(len(hand_sums))
    # Shares are counted in units of 1/unit of a pot so that any split is an integer.
    unit = lcm(*range(1, len(hand_sums) + 1))
    splits = [0, *(unit // n for n in range(1, len(hand_sums) + 1))]
    won = [0] * len(hand_sums)
    total = 0
    for prefix, start in runouts:
        for key in last[start:]:
            runout = prefix + key
            values = []
            for hand in hand_sums:
                s = hand + runout
                shift = shifts[s >> _SUIT_SHIFT & 511]
                values.append(ranks[s >> _RANK_SHIFT] if shift < 0 else flush[s >> shift & 8191])
            best = max(values)
            winners = values.count(best)
            if winners == 1:
                won[values.index(best)] += unit
            else:
                for i in players:
                    if values[i] == best:
                        won[i] += splits[winners]
        total += len(last) - start
    return [Fraction(w, unit * total) for w in won]


def percentages(shares: Sequence[Fraction]) -> list[float]:
    """Equity shares as percentages, for display.

    >>> percentages([Fraction(1, 3), Fraction(2, 3)])
    [33.333333333333336, 66.66666666666667]
    """
    return [float(share * 100) for share in shares]
