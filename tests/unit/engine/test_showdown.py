"""Showdown order, showing and mucking, cards speak (TDA 16, 17; POKER_RULES.md).

Three players with 200,000 each at 1,000/2,000, button seat 0 (acts first pre-flop),
small blind seat 1 (acts first after the flop), big blind seat 2.
"""

from __future__ import annotations

from engine_script import deal, make_table, play

from holdem.engine import HandMucked, HandShown, parse_cards
from holdem.engine.showdown import reveal, showdown_order

BOARD = "Qh9c5s3d8h"  # no straight, no flush possible


def showdown_events(hand):
    return [
        (type(e).__name__, e.seat) for e in hand.events if isinstance(e, HandShown | HandMucked)
    ]


def check_down(hand):
    while hand.to_act >= 0:
        seat = hand.to_act
        hand.check(seat) if hand.bets[seat] == hand.current_bet else hand.call(seat)


def test_the_last_aggressor_on_the_river_shows_first_tda_16():
    table = make_table([200_000] * 3)
    hand = deal(table, {0: "AsAd", 1: "7c2d", 2: "KsKd"}, BOARD, button=0)
    play(hand, "p0 call; p1 call; p2 check")
    play(hand, "p1 check; p2 check; p0 check; p1 check; p2 check; p0 check")
    play(hand, "p1 check; p2 bet 10000; p0 call; p1 call")
    # The bettor's kings show first; the aces beat them and show; 7-2 loses and mucks.
    assert showdown_events(hand) == [("HandShown", 2), ("HandShown", 0), ("HandMucked", 1)]
    assert hand.result.shown == ((2, tuple(parse_cards("KsKd"))), (0, tuple(parse_cards("AsAd"))))
    assert hand.result.mucked == (1,)


def test_with_no_river_bet_the_first_seat_left_of_the_button_shows_first_tda_16():
    table = make_table([200_000] * 3)
    hand = deal(table, {0: "7c2d", 1: "AsAd", 2: "KsKd"}, BOARD, button=0)
    check_down(hand)
    assert showdown_events(hand) == [("HandShown", 1), ("HandMucked", 2), ("HandMucked", 0)]


def test_an_earlier_street_bet_does_not_decide_the_river_showing_order_tda_16():
    table = make_table([200_000] * 3)
    hand = deal(table, {0: "7c2d", 1: "AsAd", 2: "KsKd"}, BOARD, button=0)
    play(hand, "p0 call; p1 call; p2 check")
    play(hand, "p1 check; p2 check; p0 bet 4000; p1 call; p2 call")
    check_down(hand)
    assert showdown_events(hand)[0] == ("HandShown", 1)


def test_when_a_player_is_all_in_every_live_hand_is_shown_tda_16():
    table = make_table([10_000, 200_000, 200_000])
    hand = deal(table, {0: "7c2d", 1: "AsAd", 2: "KsKd"}, BOARD, button=0)
    play(hand, "p0 allin; p1 call; p2 call")
    check_down(hand)
    assert showdown_events(hand) == [("HandShown", 1), ("HandShown", 2), ("HandShown", 0)]
    assert hand.result.mucked == ()


def test_a_hand_that_ties_the_best_shown_hand_is_shown_and_splits():
    table = make_table([200_000] * 3)
    hand = deal(table, {0: "7c2d", 1: "AsKd", 2: "AcKc"}, BOARD, button=0)
    check_down(hand)
    assert showdown_events(hand) == [("HandShown", 1), ("HandShown", 2), ("HandMucked", 0)]
    assert hand.result.pots[0].winners == ((1, 3_000), (2, 3_000))


def test_suits_never_break_ties():
    table = make_table([200_000] * 2)
    hand = deal(table, {0: "AsKs", 1: "AhKh"}, "2s7d9cTd3h", button=0)
    check_down(hand)
    assert hand.result.net == (0, 0)


def test_cards_speak_the_best_five_of_seven_cards_win():
    table = make_table([200_000] * 2)
    # 4-2 makes a straight with the board and beats a pair of aces.
    hand = deal(table, {0: "4c2d", 1: "AcKd"}, "Ah8s7d6c5s", button=0)
    check_down(hand)
    assert hand.result.pots[0].winners == ((0, 4_000),)
    # Both play the straight on the board: a split.
    hand = deal(table, {0: "2c2d", 1: "AcKd"}, "9h8s7d6cTs")
    check_down(hand)
    assert hand.result.net == (0, 0)


def test_showdown_order_and_reveal_helpers():
    assert showdown_order([1, 3, 5], button=3, table_size=6, aggressor=None) == [5, 1, 3]
    assert showdown_order([1, 3, 5], button=3, table_size=6, aggressor=3) == [3, 5, 1]
    assert reveal([5, 1, 3], {5: 7, 1: 9, 3: 8}, everyone_shows=False) == ([5, 1], [3])
    assert reveal([5, 1, 3], {5: 7, 1: 9, 3: 8}, everyone_shows=True) == ([5, 1, 3], [])
