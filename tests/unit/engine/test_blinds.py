"""Blinds and the button (POKER_RULES.md "Blinds and the button"; TDA 34-B, Robert's Rules).

Positions are written ``(button, small blind seat, big blind seat)``; a small blind seat
of ``-1`` means the small blind is dead (not posted).
"""

from __future__ import annotations

import pytest
from engine_script import deal, make_table

from holdem.engine import (
    BlindKind,
    BlindPosted,
    BuyInOutOfRangeError,
    HandInProgressError,
    NotEnoughPlayersError,
    SeatStatus,
    Street,
    Table,
    TableConfig,
)

STACK = 200_000


def positions(hand):
    return (hand.button, hand.small_blind_seat, hand.big_blind_seat)


def finish(hand):
    """Everyone folds to the last player (or checks it down)."""
    while hand.to_act >= 0:
        seat = hand.to_act
        if hand.bets[seat] < hand.current_bet:
            hand.fold(seat)
        else:
            hand.check(seat)


def blinds_posted(hand):
    return [(e.seat, e.blind, e.amount) for e in hand.events if isinstance(e, BlindPosted)]


def test_the_big_blind_moves_one_seat_every_hand_and_the_button_follows():
    table = make_table([STACK] * 6)
    seen = []
    for number in range(8):
        hand = deal(table, button=0 if number == 0 else None)
        seen.append(positions(hand))
        finish(hand)
    assert seen == [
        (0, 1, 2),
        (1, 2, 3),
        (2, 3, 4),
        (3, 4, 5),
        (4, 5, 0),
        (5, 0, 1),
        (0, 1, 2),
        (1, 2, 3),
    ]


def test_when_the_big_blind_leaves_the_small_blind_is_dead_next_hand():
    table = make_table([STACK] * 5)
    finish(deal(table, button=0))  # (0, 1, 2)
    table.leave(2)
    hand = deal(table)
    # The big blind moves on to seat 3; the small blind falls on empty seat 2.
    assert positions(hand) == (1, -1, 3)
    assert blinds_posted(hand) == [(3, BlindKind.BIG, 2_000)]
    finish(hand)
    # The button then falls on the empty seat: a dead button.
    assert positions(deal(table)) == (2, 3, 4)


def test_when_the_small_blind_leaves_the_button_is_dead_next_hand():
    table = make_table([STACK] * 5)
    finish(deal(table, button=0))
    table.leave(1)
    assert positions(deal(table)) == (1, 2, 3)


def test_nobody_skips_the_big_blind_or_posts_it_twice_in_a_row_around_empty_seats():
    table = make_table([STACK, None, STACK, STACK, None, STACK])
    big_blinds = []
    for number in range(8):
        hand = deal(table, button=0 if number == 0 else None)
        big_blinds.append(hand.big_blind_seat)
        finish(hand)
    assert big_blinds == [3, 5, 0, 2, 3, 5, 0, 2]


def test_heads_up_the_button_posts_the_small_blind_and_acts_first_pre_flop_only_tda_34b():
    table = make_table([STACK, STACK])
    hand = deal(table, button=0)
    assert positions(hand) == (0, 0, 1)
    assert hand.to_act == 0
    hand.call(0)
    hand.check(1)
    assert hand.street == Street.FLOP
    assert hand.to_act == 1  # the button acts last after the flop
    finish(hand)
    assert positions(deal(table)) == (1, 1, 0)


@pytest.mark.parametrize(
    ("leaver", "expected"),
    [
        (0, (2, 2, 1)),  # the button leaves: the old big blind becomes the button
        (1, (2, 2, 0)),  # the small blind leaves
        (2, (1, 1, 0)),  # the big blind leaves: the small blind posts it again, not the BB
    ],
)
def test_going_from_three_to_two_players_nobody_gets_the_big_blind_twice_tda_34b(leaver, expected):
    table = make_table([STACK] * 3)
    finish(deal(table, button=0))  # (0, 1, 2)
    table.leave(leaver)
    hand = deal(table)
    assert positions(hand) == expected
    assert hand.big_blind_seat != 2


def test_going_from_two_to_three_players_keeps_the_big_blind_moving():
    table = make_table([STACK, None, STACK])
    finish(deal(table, button=0))  # heads-up: (0, 0, 2)
    table.sit_down(1, "new", STACK)
    hand = deal(table)
    # The new player sits between the button and the small blind: they wait, heads-up.
    assert positions(hand) == (2, 2, 0)
    assert not hand.dealt[1]
    finish(hand)
    hand = deal(table)
    assert positions(hand) == (2, 0, 1)
    assert hand.dealt[1]


def test_a_new_player_waits_for_the_big_blind_by_default():
    table = make_table([STACK, STACK, STACK, STACK, None, None])
    finish(deal(table, button=0))  # (0, 1, 2)
    table.sit_down(5, "new", STACK)
    hand = deal(table)
    assert positions(hand) == (1, 2, 3)
    assert not hand.dealt[5]
    assert table.status[5] == SeatStatus.WAITING
    finish(hand)
    hand = deal(table)
    assert hand.big_blind_seat == 5
    assert hand.dealt[5]
    assert table.status[5] == SeatStatus.ACTIVE
    assert not table.owes_big[5]


def test_a_new_player_may_post_a_big_blind_to_play_at_once():
    table = make_table([STACK, STACK, STACK, STACK, STACK, None])
    finish(deal(table, button=0))  # (0, 1, 2)
    table.sit_down(5, "new", STACK, post=True)
    hand = deal(table)
    assert positions(hand) == (1, 2, 3)
    assert blinds_posted(hand) == [
        (2, BlindKind.SMALL, 1_000),
        (3, BlindKind.BIG, 2_000),
        (5, BlindKind.POSTED_BIG, 2_000),
    ]
    for seat in (4, 5, 0, 1):
        hand.call(seat) if hand.bets[seat] < hand.current_bet else hand.check(seat)
    hand.call(2)
    hand.check(3)
    assert hand.street == Street.FLOP  # seat 5's live blind counted as a call


def test_a_new_player_never_enters_between_the_small_blind_and_the_button():
    table = make_table([STACK, STACK, None, STACK, STACK, None])
    finish(deal(table, button=0))  # (0, 1, 3): seat 2 lies between the blinds
    table.sit_down(2, "new", STACK, post=True)
    hand = deal(table)
    assert positions(hand) == (1, 3, 4)
    assert not hand.dealt[2]  # seat 2 is between the button (1) and the small blind (3)
    finish(hand)
    hand = deal(table)
    assert positions(hand) == (3, 4, 0)
    assert hand.dealt[2]
    assert (2, BlindKind.POSTED_BIG, 2_000) in blinds_posted(hand)


def test_a_poster_the_big_blind_reaches_next_hand_waits_instead_of_posting_twice():
    table = make_table([STACK, STACK, STACK, STACK, None, None])
    finish(deal(table, button=0))  # (0, 1, 2)
    table.sit_down(4, "new", STACK, post=True)
    hand = deal(table)
    assert positions(hand) == (1, 2, 3)
    assert not hand.dealt[4]
    finish(hand)
    hand = deal(table)
    assert hand.big_blind_seat == 4
    assert [b for b in blinds_posted(hand) if b[0] == 4] == [(4, BlindKind.BIG, 2_000)]


def test_a_player_who_just_posted_to_enter_is_passed_if_emptied_seats_bring_the_big_blind():
    table = make_table([STACK, STACK, STACK, STACK, STACK, None])
    finish(deal(table, button=0))  # (0, 1, 2)
    table.sit_down(5, "new", STACK, post=True)
    hand = deal(table)
    assert positions(hand) == (1, 2, 3)
    assert (5, BlindKind.POSTED_BIG, 2_000) in blinds_posted(hand)
    finish(hand)
    table.leave(4)  # the big blind would now jump straight to seat 5
    hand = deal(table)
    assert positions(hand) == (2, 3, 0)
    assert hand.dealt[5]
    assert not table.owes_big[5]
    assert all(seat != 5 for seat, _, _ in blinds_posted(hand))


def test_a_player_who_missed_the_big_blind_posts_small_dead_and_big_live():
    table = make_table([STACK] * 6)
    finish(deal(table, button=0))  # (0, 1, 2)
    table.sit_out(4)
    finish(deal(table))  # (1, 2, 3)
    hand = deal(table)  # the big blind passes seat 4
    assert positions(hand) == (2, 3, 5)
    assert table.owes_big[4]
    assert table.owes_small[4]
    finish(hand)
    table.sit_in(4, post=True)
    hand = deal(table)  # (3, 5, 0): seat 4 sits between the button and the small blind
    assert not hand.dealt[4]
    finish(hand)
    hand = deal(table)
    assert positions(hand) == (5, 0, 1)
    assert [b for b in blinds_posted(hand) if b[0] == 4] == [
        (4, BlindKind.POSTED_BIG, 2_000),
        (4, BlindKind.DEAD_SMALL, 1_000),
    ]
    assert hand.bets[4] == 2_000  # live
    assert hand.committed[4] == 3_000  # the small blind is dead money in the pot
    assert not table.owes_big[4]
    assert not table.owes_small[4]


def test_a_player_who_missed_blinds_may_wait_for_the_big_blind_instead():
    table = make_table([STACK] * 6)
    finish(deal(table, button=0))
    table.sit_out(4)
    finish(deal(table))
    finish(deal(table))  # seat 4 misses the big blind
    table.sit_in(4)
    assert table.status[4] == SeatStatus.WAITING
    dealt = []
    for _ in range(5):
        hand = deal(table)
        dealt.append((hand.big_blind_seat, hand.dealt[4]))
        finish(hand)
    assert dealt == [(0, False), (1, False), (2, False), (3, False), (4, True)]
    assert [b for b in blinds_posted(hand) if b[0] == 4] == [(4, BlindKind.BIG, 2_000)]


def test_a_player_who_sat_out_on_the_small_blind_owes_a_dead_small_blind():
    table = make_table([STACK] * 6)
    finish(deal(table, button=0))  # (0, 1, 2)
    table.sit_out(2)
    hand = deal(table)
    assert positions(hand) == (1, -1, 3)  # the small blind would have been seat 2's
    assert table.owes_small[2]
    assert not table.owes_big[2]
    finish(hand)
    table.sit_in(2, post=True)
    hand = deal(table)  # (2, 3, 4): seat 2 is on the button seat, it must wait
    assert positions(hand) == (2, 3, 4)
    assert not hand.dealt[2]
    finish(hand)
    hand = deal(table)
    assert positions(hand) == (3, 4, 5)
    assert hand.dealt[2]
    assert [b for b in blinds_posted(hand) if b[0] == 2] == [(2, BlindKind.DEAD_SMALL, 1_000)]
    assert hand.bets[2] == 0
    assert hand.committed[2] == 1_000


def test_a_player_who_sits_out_and_back_in_before_missing_a_blind_plays_on():
    table = make_table([STACK] * 4)
    finish(deal(table, button=0))
    table.sit_out(0)
    table.sit_in(0)
    assert table.status[0] == SeatStatus.ACTIVE
    assert deal(table).dealt[0]


def test_the_first_hand_deals_every_ready_player_whatever_they_chose():
    table = make_table([STACK] * 3)
    assert table.status == [SeatStatus.WAITING] * 3
    hand = deal(table, button=1)
    assert positions(hand) == (1, 2, 0)
    assert all(hand.dealt)
    assert table.status == [SeatStatus.ACTIVE] * 3


def test_a_lone_player_and_newcomers_waiting_restart_the_game():
    table = make_table([STACK, STACK, None, None])
    finish(deal(table, button=0))  # heads-up (0, 0, 1)
    table.leave(0)
    table.sit_down(2, "new", STACK)
    hand = deal(table)
    # The big blind moves to seat 2; seat 1 alone is active, so everyone ready plays.
    assert positions(hand) == (1, 1, 2)
    assert hand.dealt == [False, True, True, False]


def test_a_player_without_chips_is_sat_out_at_the_next_hand():
    table = make_table([STACK, STACK, 5_000])
    hand = deal(table, {0: "AsAd", 2: "7c2d"}, "AhAcKd3s4h", button=0)
    hand.all_in(0)
    hand.fold(1)
    hand.call(2)
    assert table.stacks[2] == 0
    deal(table)
    assert table.status[2] == SeatStatus.SITTING_OUT
    with pytest.raises(BuyInOutOfRangeError):
        table.sit_in(2)


def test_fewer_than_two_ready_players_cannot_start_a_hand():
    table = make_table([STACK, None, None])
    assert not table.can_start_hand()
    with pytest.raises(NotEnoughPlayersError) as caught:
        deal(table)
    assert caught.value.code == "not_enough_players"


def test_top_ups_happen_between_hands_never_during_the_players_hand():
    table = make_table([100_000, STACK, STACK])
    hand = deal(table, button=0)
    with pytest.raises(HandInProgressError) as caught:
        table.top_up(0, 10_000)
    assert caught.value.code == "hand_in_progress"
    finish(hand)
    table.top_up(0, 10_000)
    assert table.stacks[0] == 110_000
    table.config  # noqa: B018 - the table allows up to 10**12 here
    with pytest.raises(BuyInOutOfRangeError):
        table.top_up(0, 10**12)


def test_leaving_is_refused_during_the_players_hand_and_returns_the_stack_after():
    table = make_table([STACK, STACK, STACK])
    hand = deal(table, button=0)
    hand.fold(0)
    with pytest.raises(HandInProgressError):
        table.leave(0)
    finish(hand)
    assert table.leave(0) == STACK
    assert table.players[0] is None
    assert table.status[0] == SeatStatus.EMPTY


def test_players_may_sit_down_during_a_hand_and_join_a_later_one():
    table = make_table([STACK, STACK, None])
    hand = deal(table, button=0)
    table.sit_down(2, "late", STACK)
    assert not hand.dealt[2]
    finish(hand)
    assert deal(table).dealt[2]  # the big blind reaches seat 2 at once


# Between-hands sequences found by the whole-table property test (test_table_sequences.py),
# at a 6-seat table with blinds 50/100: a seat's blind history leaves with its player.


def _entry_poster_then_leaves():
    """Seats 2 and 3 play, then 1, 4 and 5 sit down posting; seat 1 posts to enter."""
    table = Table(TableConfig(seats=6, small_blind=50, big_blind=100, min_buy_in=1))
    table.sit_down(2, "a", 10_000, post=True)
    table.sit_down(3, "b", 10_000, post=True)
    for _ in range(3):
        finish(deal(table))
    for seat, player in [(1, "c"), (4, "d"), (5, "e")]:
        table.sit_down(seat, player, 10_000, post=True)
    hand = deal(table)
    assert positions(hand) == (2, 3, 4)
    assert (1, BlindKind.POSTED_BIG, 100) in blinds_posted(hand)
    finish(hand)
    table.leave(5)
    table.leave(1)
    return table


def test_a_newcomer_waiting_in_a_seat_an_entry_poster_left_is_the_next_big_blind():
    table = _entry_poster_then_leaves()
    table.sit_down(1, "f", 10_000)
    hand = deal(table)
    assert positions(hand) == (3, 4, 1)
    assert hand.dealt[1]
    assert [b for b in blinds_posted(hand) if b[0] == 1] == [(1, BlindKind.BIG, 100)]


def test_a_newcomer_posting_in_a_seat_an_entry_poster_left_posts_one_big_blind_not_on_the_button():
    table = _entry_poster_then_leaves()
    table.sit_down(1, "f", 10_000, post=True)
    hand = deal(table)
    assert positions(hand) == (3, 4, 1)
    assert [b for b in blinds_posted(hand) if b[0] == 1] == [(1, BlindKind.BIG, 100)]


def test_a_newcomer_never_starts_on_the_button_without_posting_a_big_blind():
    table = _entry_poster_then_leaves()
    table.leave(2)
    table.leave(4)
    table.sit_down(1, "f", 10_000)  # only seat 3 and the newcomer are left
    hand = deal(table)
    assert positions(hand) == (3, 3, 1)
    assert [b for b in blinds_posted(hand) if b[0] == 1] == [(1, BlindKind.BIG, 100)]


def test_with_three_dealt_in_the_button_is_never_on_the_big_blind():
    # The big blind goes round from seat 2 to last hand's small blind, seat 1: seat 4 posted
    # to enter last hand and seats 3 and 0 left. The anchors would put the button on seat 1
    # as well; instead the small blind and the button are placed before the big blind.
    table = make_table([STACK, STACK, STACK, None, None, None])
    finish(deal(table, button=2))  # (2, 0, 1)
    table.sit_down(3, "waits", STACK)
    table.sit_down(4, "posts", STACK, post=True)
    hand = deal(table)
    assert positions(hand) == (0, 1, 2)
    assert (4, BlindKind.POSTED_BIG, 2_000) in blinds_posted(hand)
    finish(hand)
    table.leave(3)
    table.leave(0)
    hand = deal(table)
    assert positions(hand) == (2, 4, 1)
    assert blinds_posted(hand) == [(4, BlindKind.SMALL, 1_000), (1, BlindKind.BIG, 2_000)]
    finish(hand)
    assert positions(deal(table)) == (4, 1, 2)


def test_a_big_blind_sitting_out_misses_no_small_blind_when_the_next_hand_is_heads_up():
    table = make_table([STACK] * 3)
    finish(deal(table, button=0))  # (0, 1, 2)
    table.sit_out(2)
    hand = deal(table)
    assert hand.dealt == [True, True, False]  # heads-up: no small blind falls on seat 2
    assert not table.owes_small[2]
    assert not table.owes_big[2]
    finish(hand)
    table.sit_in(2)
    assert table.status[2] == SeatStatus.ACTIVE
