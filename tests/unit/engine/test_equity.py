"""Exact all-in equity: hand-counted matchups, a classic pre-flop figure, properties."""

from __future__ import annotations

import doctest
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.engine import equity as equity_module
from holdem.engine.cards import parse_cards
from holdem.engine.equity import all_in_equity, percentages
from holdem.engine.evaluator import evaluate


def equity(*hands: str, board: str = "", dead: str = "") -> list[Fraction]:
    return all_in_equity(
        [parse_cards(hand) for hand in hands], parse_cards(board), parse_cards(dead)
    )


def naive_equity(hands: list[list[int]], board: list[int]) -> list[Fraction]:
    """Direct enumeration with evaluate(), independent of the inlined fast path."""
    known = {*board, *(card for hand in hands for card in hand)}
    deck = [card for card in range(52) if card not in known]
    won = [Fraction(0)] * len(hands)
    runouts = list(combinations(deck, 5 - len(board)))
    for runout in runouts:
        values = [evaluate([*hand, *board, *runout]) for hand in hands]
        winners = [i for i, value in enumerate(values) if value == max(values)]
        for i in winners:
            won[i] += Fraction(1, len(winners))
    return [share / len(runouts) for share in won]


def test_made_flush_against_a_set_on_the_turn() -> None:
    # 44 rivers. The set fills up on any Q, 2 or 3 (3 each) or makes quads on 7c: 10.
    assert equity("AhKh", "7s7d", board="Qh7h2h3c") == [Fraction(34, 44), Fraction(10, 44)]


def test_dead_cards_are_not_dealt() -> None:
    # As above with the Qs known to be out: 43 rivers, 9 of them for the set.
    assert equity("AhKh", "7s7d", board="Qh7h2h3c", dead="Qs") == [
        Fraction(34, 43),
        Fraction(9, 43),
    ]


def test_made_flush_against_a_set_on_the_flop() -> None:
    # 990 turn+river pairs. The flush holds when neither card is a Q, 2 or 7 (38 cards
    # left) and the two do not pair each other: C(38,2) - (3+3 for A,K + 8*6) = 649.
    # Jh Th gives the flush a royal flush, and is already among those 649.
    assert equity("AhKh", "7s7d", board="Qh7h2h") == [Fraction(649, 990), Fraction(341, 990)]


def test_ties_split_fractionally() -> None:
    # Two broadway straights always chop; 2c3d joins a three-way chop on Ts or Td only.
    # Each straight: (40 * 1/2 + 2 * 1/3) / 42 = 31/63; the third hand: (2 * 1/3) / 42.
    shares = equity("Tc9c", "Th8h", "2c3d", board="AhKdQcJs")
    assert shares == [Fraction(31, 63), Fraction(31, 63), Fraction(1, 63)]
    assert equity("2c3d", "2h3s", board="AhKdQcJsTs") == [Fraction(1, 2), Fraction(1, 2)]


def test_complete_board_is_a_showdown() -> None:
    assert equity("AsAd", "KcKd", "7c8h", board="Ah9s5d4c3s") == [1, 0, 0]
    assert equity("AsAd", "KcKd", "7c2h", board="Ah9s5d4c3s") == [0, 0, 1]  # the wheel


def test_aces_against_kings_pre_flop() -> None:
    # Cross-checked by a brute-force enumeration of all 1,712,304 boards with evaluate().
    assert equity("AcAd", "KhKs") == [Fraction(29603, 36432), Fraction(6829, 36432)]


def test_aces_against_kings_averages_the_classic_figure() -> None:
    # Over the 36 suit combinations the aces share 0, 1 or 2 suits with the kings in
    # 6, 24 and 6 of them; the average is the well-known 81.9 %.
    none, one, two = (equity(aces, "KhKs")[0] for aces in ("AcAd", "AcAh", "AhAs"))
    average = (6 * none + 24 * one + 6 * two) / 36
    assert round(float(average) * 100, 1) == 81.9


def test_single_hand_has_all_the_equity() -> None:
    assert equity("2c7d", board="AsKsQs") == [1]


def test_percentages() -> None:
    assert percentages([Fraction(1, 4), Fraction(3, 4)]) == [25.0, 75.0]


@pytest.mark.parametrize(
    ("hands", "board", "dead", "message"),
    [
        ([], "", "", "at least one hand"),
        (["AsKs", "AsQd"], "", "", "duplicate card As"),
        (["AsKs", "QdJd"], "Ks2c3c", "", "duplicate card Ks"),
        (["AsKs", "QdJd"], "2c3c4c", "4c", "duplicate card 4c"),
        (["AsKsQs", "QdJd"], "", "", "two cards, got 3"),
        (["AsKs", "QdJd"], "2c3c4c5c6c7c", "", "at most five cards, got 6"),
    ],
)
def test_bad_input_raises_value_error(
    hands: list[str], board: str, dead: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        equity(*hands, board=board, dead=dead)


def test_bad_card_values_raise_value_error() -> None:
    with pytest.raises(ValueError, match="not a card: 52"):
        all_in_equity([[0, 52]], [])
    with pytest.raises(ValueError, match="not enough cards left"):
        all_in_equity([[0, 1], [2, 3]], [], dead=range(4, 50))


deals = st.tuples(st.integers(2, 4), st.integers(3, 5)).flatmap(
    lambda shape: st.permutations(range(52)).map(
        lambda deck: (
            [list(deck[2 * i : 2 * i + 2]) for i in range(shape[0])],
            list(deck[2 * shape[0] : 2 * shape[0] + shape[1]]),
        )
    )
)


@settings(max_examples=40, deadline=None)
@given(deals)
def test_matches_naive_enumeration(deal: tuple[list[list[int]], list[int]]) -> None:
    hands, board = deal
    shares = all_in_equity(hands, board)
    assert shares == naive_equity(hands, board)
    assert sum(shares) == 1
    assert all_in_equity(hands[::-1], board) == shares[::-1]


def test_docstring_examples() -> None:
    assert doctest.testmod(equity_module).failed == 0
