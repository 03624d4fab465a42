"""Replays of tricky hands, written as action scripts (see ``engine_script``).

Each replay checks the pots, the winners and every seat's net result to the won.
"""

from __future__ import annotations

import pytest
from engine_script import deal, make_table, play

from holdem.engine import SPEC_RAKE_SCHEDULE, BettingNotReopenedError, SeatStatus

NO_STRAIGHT_NO_FLUSH = "2c7h9d4c3s"


def pots(hand):
    return [(p.amount, p.eligible, p.winners) for p in hand.result.pots]


def test_replay_multiple_all_ins_of_different_sizes():
    table = make_table([5_000, 12_000, 30_000, 200_000])
    hole = {0: "AsAd", 1: "KsKd", 2: "QsQd", 3: "JsJd"}
    hand = deal(table, hole, NO_STRAIGHT_NO_FLUSH, button=0)
    play(hand, "p3 raise 100000; p0 allin; p1 allin; p2 allin")
    assert hand.result.uncalled == ((3, 70_000),)
    assert pots(hand) == [
        (20_000, (0, 1, 2, 3), ((0, 20_000),)),
        (21_000, (1, 2, 3), ((1, 21_000),)),
        (36_000, (2, 3), ((2, 36_000),)),
    ]
    assert hand.result.net == (15_000, 9_000, 6_000, -30_000)


def test_replay_short_all_in_followed_by_a_full_raise_reopens_betting():
    table = make_table([9_000, 200_000, 200_000, 200_000])
    hole = {0: "AsAd", 1: "KsKd", 2: "7c2d", 3: "QsQd"}
    hand = deal(table, hole, NO_STRAIGHT_NO_FLUSH, button=0)
    play(hand, "p3 raise 6000; p0 allin; p1 raise 13000; p2 fold")
    # Seat 3 faced only a short all-in at first, but seat 1's full raise reopens it.
    assert hand.legal_actions(3).min_raise_to == 17_000  # 13,000 + the last full raise
    play(hand, "p3 raise 30000; p1 call")
    play(hand, "p1 check; p3 check; p1 check; p3 check; p1 check; p3 check")
    assert pots(hand) == [
        (29_000, (0, 1, 3), ((0, 29_000),)),
        (42_000, (1, 3), ((1, 42_000),)),
    ]
    assert hand.result.net == (20_000, 12_000, -2_000, -30_000)


def test_replay_heads_up_with_a_short_all_in_on_the_flop():
    table = make_table([100_000, 100_000])
    hand = deal(table, {0: "AsAd", 1: "KsKd"}, NO_STRAIGHT_NO_FLUSH, button=0)
    play(hand, "p0 raise 6000; p1 raise 18000; p0 call")
    play(hand, "p1 bet 20000; p0 raise 60000; p1 allin")  # 82,000: short of a full raise
    assert hand.legal_actions(0).min_raise_to is None
    with pytest.raises(BettingNotReopenedError):
        hand.raise_to(0, 100_000)
    play(hand, "p0 call")
    assert len(hand.board) == 5
    assert hand.result.net == (100_000, -100_000)


def test_replay_three_players_down_to_two():
    table = make_table([200_000, 200_000, 10_000])
    hand = deal(table, {0: "AsAd", 2: "Kc8d"}, NO_STRAIGHT_NO_FLUSH, button=0)
    play(hand, "p0 call; p1 call; p2 allin; p0 call; p1 fold")  # then the board runs out
    assert table.stacks[2] == 0
    hand = deal(table)
    assert table.status[2] == SeatStatus.SITTING_OUT
    # Seat 2 had the big blind; it moves on to seat 0, and seat 1 is button and small blind.
    assert (hand.button, hand.small_blind_seat, hand.big_blind_seat) == (1, 1, 0)
    assert hand.to_act == 1
    play(hand, "p1 call; p0 check")
    assert hand.to_act == 0  # the button acts last after the flop


def test_replay_everyone_all_in_before_the_flop():
    stacks = [10_000, 20_000, 30_000, 40_000, 50_000, 60_000]
    table = make_table(stacks, rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000))
    hole = {0: "AsAd", 1: "KsKd", 2: "QsQd", 3: "JsJd", 4: "TsTd", 5: "9s8s"}
    hand = deal(table, hole, "2c3d4h6h7d", button=0)
    play(hand, "p3 allin; p4 allin")
    # Seat 5 covers everyone: nobody could put in more than 50,000, so it may only call.
    assert hand.legal_actions(5).min_raise_to is None
    play(hand, "p5 call; p0 allin; p1 allin; p2 allin")
    result = hand.result
    assert len(result.board) == 5
    assert result.uncalled == ()
    assert table.stacks[5] == 10_000
    # Nobody improves to a straight (no 5 on the board): the pairs win in order.
    assert [(p.amount, p.winners[0][0]) for p in result.pots] == [
        (60_000, 0),
        (50_000, 1),
        (40_000, 2),
        (30_000, 3),
        (20_000, 4),
    ]
    assert result.rake == 6_000
    assert sum(result.rake_by_seat) == 6_000
    assert sum(table.stacks) + result.rake == sum(stacks)


def test_replay_a_fold_to_the_big_blind():
    table = make_table([200_000] * 6, rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000))
    hand = deal(table, button=0)
    play(hand, "p3 fold; p4 fold; p5 fold; p0 fold; p1 fold")
    result = hand.result
    assert result.uncalled == ((2, 1_000),)
    assert pots(hand) == [(2_000, (2,), ((2, 2_000),))]
    assert result.rake == 0
    assert result.board == ()
    assert result.net == (0, -1_000, 1_000, 0, 0, 0)


def test_replay_split_pots_with_side_pots_and_an_odd_chip():
    table = make_table([105, 1_000, 1_000], small_blind=5, big_blind=10)
    hole = {0: "AsKd", 1: "AhKc", 2: "QsQd"}
    hand = deal(table, hole, "Ad7c8h2s3d", button=0)
    play(hand, "p0 allin; p1 call; p2 call")
    play(hand, "p1 bet 100; p2 call; p1 check; p2 check; p1 check; p2 check")
    # Main pot 315 is split between the two ace-kings: the odd chip goes to seat 1, first
    # left of the button. Seat 1 wins the 200 side pot alone.
    assert pots(hand) == [
        (315, (0, 1, 2), ((1, 158), (0, 157))),
        (200, (1, 2), ((1, 200),)),
    ]
    assert hand.result.net == (52, 153, -205)
