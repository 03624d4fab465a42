"""The hand evaluator: exhaustive counts, subset consistency, orderings, properties."""

from __future__ import annotations

import doctest
import random
from collections import Counter
from itertools import combinations, combinations_with_replacement, pairwise
from math import comb, prod

import pytest
from hypothesis import given
from hypothesis import strategies as st

from holdem.engine import evaluator
from holdem.engine.cards import parse_cards
from holdem.engine.evaluator import (
    HandCategory,
    best_five,
    category,
    describe,
    evaluate,
    evaluate_many,
)

# POKER_RULES.md, "Hand frequencies".
FIVE_CARD_COUNTS = {
    HandCategory.STRAIGHT_FLUSH: 40,
    HandCategory.FOUR_OF_A_KIND: 624,
    HandCategory.FULL_HOUSE: 3_744,
    HandCategory.FLUSH: 5_108,
    HandCategory.STRAIGHT: 10_200,
    HandCategory.THREE_OF_A_KIND: 54_912,
    HandCategory.TWO_PAIR: 123_552,
    HandCategory.ONE_PAIR: 1_098_240,
    HandCategory.HIGH_CARD: 1_302_540,
}

SEVEN_CARD_COUNTS = {
    HandCategory.STRAIGHT_FLUSH: 41_584,
    HandCategory.FOUR_OF_A_KIND: 224_848,
    HandCategory.FULL_HOUSE: 3_473_184,
    HandCategory.FLUSH: 4_047_644,
    HandCategory.STRAIGHT: 6_180_020,
    HandCategory.THREE_OF_A_KIND: 6_461_620,
    HandCategory.TWO_PAIR: 31_433_400,
    HandCategory.ONE_PAIR: 58_627_800,
    HandCategory.HIGH_CARD: 23_294_460,
}

hands7 = st.permutations(range(52)).map(lambda deck: deck[:7])


def v(text: str) -> int:
    return evaluate(parse_cards(text))


def reference_key(cards: tuple[int, ...]) -> tuple[int, ...]:
    """An independent, obviously-correct ordering key for exactly five cards."""
    ranks = sorted((c >> 2 for c in cards), reverse=True)
    flush = len({c & 3 for c in cards}) == 1
    if ranks == [12, 3, 2, 1, 0]:
        ranks = [3, 2, 1, 0, -1]
    straight = len(set(ranks)) == 5 and ranks[0] - ranks[4] == 4
    by_count = sorted(Counter(ranks).items(), key=lambda rc: (rc[1], rc[0]), reverse=True)
    shape = [count for _, count in by_count]
    order = [rank for rank, _ in by_count]
    if straight and flush:
        return (8, ranks[0])
    if shape == [4, 1]:
        return (7, *order)
    if shape == [3, 2]:
        return (6, *order)
    if flush:
        return (5, *ranks)
    if straight:
        return (4, ranks[0])
    if shape == [3, 1, 1]:
        return (3, *order)
    if shape == [2, 2, 1]:
        return (2, *order)
    if shape == [2, 1, 1, 1]:
        return (1, *order)
    return (0, *ranks)


def test_category_counts_over_all_2598960_five_card_hands() -> None:
    values = evaluate_many(combinations(range(52), 5))
    assert len(values) == 2_598_960
    assert Counter(category(value) for value in values) == FIVE_CARD_COUNTS
    assert len(set(values)) == 7_462


def test_category_counts_over_all_133784560_seven_card_hands() -> None:
    """Counts every seven-card hand by class instead of one by one (a second, not minutes).

    A hand with five or more cards of one suit is worth the flush (or straight flush) of
    that suit's ranks whatever the other cards are: five suited cards of seven leave no
    room for quads or a full house. Any other hand is worth what its ranks are worth, so
    one representative per rank multiset is evaluated and weighted by how many suit
    assignments of that multiset put at most four cards in each suit.
    """
    weights: Counter[int] = Counter()
    for size in (5, 6, 7):
        for suited in combinations(range(13), size):
            fillers = [rank for rank in range(13) if rank not in suited][: 7 - size]
            hand = [rank * 4 for rank in suited] + [
                rank * 4 + 1 + i % 3 for i, rank in enumerate(fillers)
            ]
            weights[evaluate(hand)] += 4 * comb(39, 7 - size)
    for ranks in combinations_with_replacement(range(13), 7):
        multiplicity = Counter(ranks)
        if max(multiplicity.values()) > 4:
            continue
        # Suits dealt round-robin over the sorted ranks: no flush, no repeated card.
        hand = [rank * 4 + i % 4 for i, rank in enumerate(ranks)]
        assignments = prod(comb(4, n) for n in multiplicity.values())
        # Assignments giving one particular suit exactly the ranks in `suited` (>= 5).
        flushes = sum(
            prod(comb(3, multiplicity[r] - 1) for r in suited)
            * prod(comb(3, n) for r, n in multiplicity.items() if r not in suited)
            for size in range(5, len(multiplicity) + 1)
            for suited in combinations(multiplicity, size)
        )
        weights[evaluate(hand)] += assignments - 4 * flushes
    by_category: Counter[HandCategory] = Counter()
    for value, weight in weights.items():
        by_category[category(value)] += weight
    assert by_category == SEVEN_CARD_COUNTS
    assert sum(weights.values()) == comb(52, 7)
    assert len([value for value, weight in weights.items() if weight]) == 4_824


def test_seven_and_six_cards_equal_the_best_five_card_subset() -> None:
    rng = random.Random(20240607)
    for _ in range(20_000):
        hand = rng.sample(range(52), 7)
        assert evaluate(hand) == max(evaluate(five) for five in combinations(hand, 5))
        six = hand[:6]
        assert evaluate(six) == max(evaluate(five) for five in combinations(six, 5))


def test_order_agrees_with_an_independent_reference() -> None:
    rng = random.Random(7)
    hands = [tuple(rng.sample(range(52), 5)) for _ in range(20_000)]
    # Add every straight and flush shape the sample may miss.
    hands += [tuple(parse_cards(t)) for t in ("As2d3h4c5s", "AsKsQsJsTs", "5h4h3h2hAh")]
    ranked = sorted(hands, key=evaluate)
    for lower, higher in pairwise(ranked):
        same_value = evaluate(lower) == evaluate(higher)
        assert (reference_key(lower) == reference_key(higher)) == same_value
        assert reference_key(lower) <= reference_key(higher)


@pytest.mark.parametrize(
    ("worse", "better"),
    [
        ("As2d3h4c5s", "2d3h4c5s6s"),  # the wheel is the lowest straight
        ("Ah2h3h4h5h", "2d3d4d5d6d"),  # and the lowest straight flush
        ("TcJdQhKsAs", "9h9d9s9c2c"),  # broadway loses to quads
        ("KhQhJh9h7h", "Ad3d4d5d7d"),  # ace-high flush beats king-high
        ("AsAdKc7h4s", "AhAcKd8s2s"),  # second kicker decides
        ("AsAdKc7h4s", "AhAcKd7s5s"),  # third kicker decides
        ("KsKdQcQh2s", "KhKcQdQs3s"),  # two pair, kicker decides
        ("QsQdQc2h2s", "KsKdKh2c2d"),  # full house by the trips
        ("AsAhAdKcKd", "2c2d2h2sAc"),  # smallest quads beat the best full house
        ("KsAc2d3h4s", "As2d3h4c5s"),  # no wrap-around straight: K-A-2-3-4 is ace high
        ("KsAc2d3h4s", "AsKd2h3c5s"),  # ... and loses to A-K-5-3-2
        ("9s8s7s6s5s", "TdJd9d8d7d"),  # straight flushes by top card
    ],
)
def test_known_orderings(worse: str, better: str) -> None:
    assert v(worse) < v(better)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("AsKdQh9c7s", "AhKcQd9s7d"),  # suits never break ties
        ("AsAd5c5h9s2c3d", "AhAc5d5s9h2d3h"),  # nor do the unused cards
        ("2c3c4d5h9s9d9h", "2d3d4c5s9c9d9h"),  # board plays: same trips, same kickers
        ("AsKd8c8h4s4d2c", "AcKh8d8s4c4h3d"),  # two pair, same kicker
    ],
)
def test_exact_ties(a: str, b: str) -> None:
    assert v(a) == v(b)


def test_seven_card_specifics() -> None:
    # A third pair can be the kicker of two pair.
    assert v("KsKdQcQh5s5dAh") > v("KcKhQdQs5c5hJh")
    assert v("KsKdQcQh5s5d2h") == v("KcKhQdQs5c4h2c")
    # Two sets of trips make a full house of the higher over the lower.
    assert describe(v("9s9d9cJhJsJd2c")) == "Full house, Jacks full of Nines"
    # A flush with six suited cards uses the top five.
    assert v("AhKh9h7h4h2hQs") == v("AhKh9h7h4hQs3c")
    # A straight flush beats the bigger plain straight in the same seven cards.
    assert category(v("5h6h7h8h9hTsJd")) is HandCategory.STRAIGHT_FLUSH


@pytest.mark.parametrize(
    ("cards", "text"),
    [
        ("AsKd9c7h4s", "High card, Ace"),
        ("6s6d9c7h4s", "Pair of Sixes"),
        ("AsAdKcKh4s", "Two pair, Aces and Kings"),
        ("QsQdQc7h4s", "Three of a kind, Queens"),
        ("Ts9d8c7h6s", "Straight, Six to Ten"),
        ("As2d3c4h5s", "Straight, Ace to Five"),
        ("AsKsQsJd Tc", "Straight, Ten to Ace"),
        ("Kh9h7h4h2h", "Flush, King high"),
        ("KsKdKh2c2d", "Full house, Kings full of Twos"),
        ("JsJdJcJh4s", "Four of a kind, Jacks"),
        ("5s6s7s8s9s", "Straight flush, Five to Nine"),
        ("Ad2d3d4d5d", "Straight flush, Ace to Five"),
        ("AhKhQhJhTh", "Royal flush"),
    ],
)
def test_describe(cards: str, text: str) -> None:
    assert describe(v(cards)) == text


def test_best_five_reading_order() -> None:
    assert best_five(parse_cards("2cKs9dKdKh2h5s")) == tuple(parse_cards("KsKhKd2h2c"))
    assert best_five(parse_cards("Ah2c3d4s5h9c9d")) == tuple(parse_cards("5h4s3d2cAh"))
    assert best_five(parse_cards("QsQd9c7h3s2d4c")) == tuple(parse_cards("QsQd9c7h4c"))


@pytest.mark.parametrize(
    ("cards", "message"),
    [
        ([0, 1, 2, 3], "expected 5, 6 or 7 cards, got 4"),
        (list(range(8)), "expected 5, 6 or 7 cards, got 8"),
        ([0, 1, 2, 3, 3], "duplicate card 2s"),
        ([0, 1, 2, 3, 4, 5, 0], "duplicate card 2c"),
        ([0, 1, 2, 3, 52], "not a card: 52"),
        ([0, 1, 2, 3, -1], "not a card: -1"),
        ([0, 1, 2, 3, 200], "not a card: 200"),
        ([0, 1, 2, 3, "As"], "not a card: 'As'"),
    ],
)
def test_bad_input_raises_value_error(cards: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(cards)
    with pytest.raises(ValueError, match=message):
        evaluate_many([parse_cards("AsKsQsJsTs9s8s"), cards])
    with pytest.raises(ValueError, match=message):
        best_five(cards)


def test_evaluate_many_matches_evaluate_for_mixed_sizes() -> None:
    rng = random.Random(3)
    hands = [rng.sample(range(52), rng.choice((5, 6, 7))) for _ in range(2_000)]
    sevens = [hand for hand in hands if len(hand) == 7]
    assert evaluate_many(hands) == [evaluate(hand) for hand in hands]
    assert evaluate_many(iter(sevens)) == [evaluate(hand) for hand in sevens]
    assert evaluate_many([]) == []


@given(hands7, st.randoms(use_true_random=False))
def test_order_of_cards_does_not_matter(hand: list[int], rng: random.Random) -> None:
    shuffled = list(hand)
    rng.shuffle(shuffled)
    assert evaluate(hand) == evaluate(shuffled)
    assert evaluate(hand[:5]) == evaluate(sorted(hand[:5]))


@given(hands7, st.permutations(range(4)))
def test_relabelling_suits_does_not_change_the_value(hand: list[int], suits: list[int]) -> None:
    relabelled = [(card & ~3) | suits[card & 3] for card in hand]
    assert evaluate(relabelled) == evaluate(hand)


@given(hands7)
def test_best_five_is_a_subset_with_the_same_value(hand: list[int]) -> None:
    for cards in (hand, hand[:6], hand[:5]):
        five = best_five(cards)
        assert len(set(five)) == 5
        assert set(five) <= set(cards)
        assert evaluate(five) == evaluate(cards)


@given(hands7)
def test_more_cards_never_hurt(hand: list[int]) -> None:
    assert evaluate(hand) >= evaluate(hand[:6]) >= evaluate(hand[:5])


@given(st.permutations(range(52)).map(lambda deck: (tuple(deck[:5]), tuple(deck[5:10]))))
def test_comparison_matches_the_reference(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    a, b = pair
    assert (evaluate(a) > evaluate(b)) == (reference_key(a) > reference_key(b))
    assert (evaluate(a) == evaluate(b)) == (reference_key(a) == reference_key(b))


def test_docstring_examples() -> None:
    assert doctest.testmod(evaluator).failed == 0
