"""Pots: side pots, dead money, splitting, odd chips, uncalled bets.

POKER_RULES.md "Pots and showdown" and "Betting" (TDA 15-B, 20, 21; Robert's Rules).
"""

from __future__ import annotations

from engine_script import deal, make_table, play

from holdem.engine import Pot, PotAwarded, UncalledBetReturned
from holdem.engine.pots import build_pots, odd_chip_order, split_pot
from holdem.engine.rake import RakeRule

ROYAL_BOARD = "AhKhQhJhTh"  # every live hand plays the board


def test_35_won_split_three_ways_pays_12_12_11_from_the_left_of_the_button_tda_20():
    assert split_pot(35, odd_chip_order([0, 2, 3], button=0, table_size=4)) == [
        (2, 12),
        (3, 12),
        (0, 11),
    ]


def test_no_player_gets_more_than_one_odd_chip_of_a_pot_tda_20():
    shares = dict(split_pot(17, [5, 1, 2, 3]))
    assert shares == {5: 5, 1: 4, 2: 4, 3: 4}
    assert sum(shares.values()) == 17


def test_odd_chips_in_a_played_hand_go_one_each_from_the_left_of_the_button_tda_20():
    table = make_table([1_000, 1_000, 1_000, 1_000], small_blind=5, big_blind=10)
    hand = deal(table, board=ROYAL_BOARD, button=0)
    play(hand, "p3 call; p0 call; p1 fold; p2 check")  # pot: 10 + 10 + 10 + dead 5 = 35
    for _ in range(3):
        play(hand, "p2 check; p3 check; p0 check")
    (award,) = [e for e in hand.events if isinstance(e, PotAwarded)]
    assert award.winners == ((2, 12), (3, 12), (0, 11))
    assert hand.result.net == (1, -5, 2, 2)


def test_side_pots_are_layered_by_distinct_all_in_levels():
    table = make_table([10_000, 30_000, 60_000, 200_000])
    hand = deal(table, button=0)
    play(hand, "p3 allin; p0 allin; p1 allin; p2 allin")
    assert hand.result.pots[0][:3] == (40_000, 0, (0, 1, 2, 3))
    assert [(p.amount, p.eligible) for p in hand.result.pots] == [
        (40_000, (0, 1, 2, 3)),
        (60_000, (1, 2, 3)),
        (60_000, (2, 3)),
    ]
    assert hand.result.uncalled == ((3, 140_000),)


def test_folded_chips_are_dead_money_in_the_layers_they_reached_and_not_eligible():
    table = make_table([200_000, 200_000, 200_000, 10_000])
    hand = deal(table, button=0)
    play(hand, "p3 allin; p0 raise 40000; p1 fold; p2 call")
    play(hand, "p2 bet 50000; p0 fold")
    pots = [(p.amount, p.eligible) for p in hand.result.pots]
    # Main: 10,000 from seats 0, 2, 3 and seat 1's dead 1,000; side: 30,000 from 0 and 2.
    assert pots == [(31_000, (2, 3)), (60_000, (2,))]
    assert hand.result.uncalled == ((2, 50_000),)


def test_adjacent_layers_with_the_same_eligible_players_are_merged():
    # Seat 1 folded after putting in 6,000: its level adds no new eligibility boundary.
    assert build_pots([20_000, 6_000, 20_000, 20_000], [True, False, True, True]) == [
        Pot(66_000, (0, 2, 3))
    ]
    assert build_pots([5_000, 6_000, 20_000, 20_000], [True, False, True, False]) == [
        Pot(20_000, (0, 2)),
        Pot(31_000, (2,)),  # the 5,000-6,000 and 6,000-20,000 layers, merged
    ]


def test_each_pot_is_split_separately_tda_21():
    table = make_table([10_000, 200_000, 200_000])
    hole = {0: "AsAd", 1: "KcQc", 2: "KdQd"}
    hand = deal(table, hole, board="2h7s9c3hJd", button=0)
    play(hand, "p0 allin; p1 call; p2 call")
    play(hand, "p1 bet 20000; p2 call")
    play(hand, "p1 check; p2 check; p1 check; p2 check")
    main, side = hand.result.pots
    assert (main.amount, main.winners) == (30_000, ((0, 30_000),))
    assert (side.amount, side.winners) == (40_000, ((1, 20_000), (2, 20_000)))


def test_an_uncalled_bet_is_returned_and_never_in_a_pot_or_raked_tda_15b():
    table = make_table([200_000, 200_000, 200_000], rake=RakeRule(500, 100_000))
    hand = deal(table, button=0)
    play(hand, "p0 call; p1 call; p2 check")
    play(hand, "p1 bet 50000; p2 fold; p0 fold")
    returned = [e for e in hand.events if isinstance(e, UncalledBetReturned)]
    assert [(e.seat, e.amount) for e in returned] == [(1, 50_000)]
    result = hand.result
    assert [p.amount for p in result.pots] == [6_000]
    assert result.rake == 300  # 5% of the 6,000 pot, nothing on the returned 50,000
    assert result.stacks == (198_000, 203_700, 198_000)


def test_the_part_of_a_bet_an_all_in_player_cannot_match_is_returned_tda_15b():
    table = make_table([200_000, 200_000, 32_000])
    hand = deal(table, button=0)
    play(hand, "p0 call; p1 call; p2 check")
    play(hand, "p1 bet 100000; p2 allin; p0 fold")
    assert hand.result.uncalled == ((1, 70_000),)
    assert [p.amount for p in hand.result.pots] == [66_000]


def test_everyone_folding_to_the_big_blind_returns_the_unmatched_half():
    table = make_table([200_000, 200_000, 200_000])
    hand = deal(table, button=0)
    play(hand, "p0 fold; p1 fold")
    assert hand.result.uncalled == ((2, 1_000),)
    assert hand.result.pots[0].amount == 2_000
    assert hand.result.net == (0, -1_000, 1_000)
