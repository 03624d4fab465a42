"""Betting rules (POKER_RULES.md "Betting"; TDA 43-A, 47-A, 51-B, 29).

Unless said otherwise: four players with 200,000 each at 1,000/2,000, button seat 0,
small blind seat 1, big blind seat 2, so seat 3 acts first pre-flop.
"""

from __future__ import annotations

import pytest
from engine_script import deal, make_table, play

from holdem.engine import (
    ActionKind,
    ActionTaken,
    AmountExceedsStackError,
    BettingNotReopenedError,
    BetTooSmallError,
    CannotBetError,
    CannotCheckError,
    HandNotRunningError,
    InvalidAmountError,
    InvalidSeatError,
    LegalActions,
    NoOpponentToRaiseError,
    NothingToCallError,
    NothingToRaiseError,
    NotYourTurnError,
    RaiseTooSmallError,
    Street,
)


def four_handed(stacks=(200_000, 200_000, 200_000, 200_000)):
    return deal(make_table(list(stacks)), button=0)


def test_amounts_are_raise_to_street_totals_not_increments():
    hand = four_handed()
    raised = hand.raise_to(3, 6_000)
    assert (raised.kind, raised.amount, raised.added) == (ActionKind.RAISE, 6_000, 6_000)
    reraised = hand.raise_to(0, 18_000)
    assert (reraised.amount, reraised.added) == (18_000, 18_000)
    called = hand.call(1)
    assert (called.kind, called.amount, called.added) == (ActionKind.CALL, 18_000, 17_000)


def test_min_raise_pre_flop_counts_the_big_blind_as_the_opening_bet_tda_43a():
    hand = four_handed()
    assert hand.legal_actions(3).min_raise_to == 4_000
    with pytest.raises(RaiseTooSmallError) as caught:
        hand.verify_raise_to(3, 3_999)
    assert caught.value.code == "raise_too_small"
    assert hand.can_raise_to(3, 4_000)


def test_min_raise_is_the_largest_prior_full_raise_of_the_round_tda_43a():
    hand = four_handed()
    hand.raise_to(3, 6_000)  # raises by 4,000
    assert hand.legal_actions(0).min_raise_to == 10_000
    hand.raise_to(0, 20_000)  # raises by 14,000
    assert hand.legal_actions(1).min_raise_to == 34_000
    assert not hand.can_raise_to(1, 33_999)
    hand.raise_to(1, 34_000)


def test_min_bet_after_the_flop_is_the_big_blind_tda_43a():
    hand = four_handed()
    play(hand, "p3 call; p0 call; p1 call; p2 check")
    assert hand.street == Street.FLOP
    with pytest.raises(BetTooSmallError) as caught:
        hand.raise_to(1, 1_999)
    assert caught.value.code == "bet_too_small"
    bet = hand.raise_to(1, 2_000)
    assert bet.kind is ActionKind.BET
    assert hand.legal_actions(2).min_raise_to == 4_000


def test_an_all_in_for_less_than_a_minimum_raise_is_always_allowed_tda_43a():
    hand = four_handed((9_000, 200_000, 200_000, 200_000))
    hand.raise_to(3, 6_000)
    with pytest.raises(RaiseTooSmallError):
        hand.verify_raise_to(0, 8_000)
    assert hand.legal_actions(0).min_raise_to == 9_000  # the all-in is the only raise
    shove = hand.raise_to(0, 9_000)
    assert shove.all_in
    assert shove.kind is ActionKind.RAISE


def test_there_is_no_cap_on_the_number_of_raises_tda_51b():
    hand = deal(make_table([10**12, 10**12]), button=0)
    to = 2_000
    for _ in range(28):
        to *= 2
        hand.raise_to(hand.to_act, to)
    assert hand.current_bet == 2_000 * 2**28
    # The next raise must add at least the last one: 2,000 × 2^27 more.
    assert hand.legal_actions(hand.to_act).min_raise_to == 2_000 * 2**28 + 2_000 * 2**27


def test_a_short_all_in_does_not_reopen_betting_tda_47a():
    hand = four_handed((9_000, 200_000, 200_000, 200_000))
    play(hand, "p3 raise 6000; p0 allin; p1 fold")  # 9,000: 3,000 more, short of 4,000
    assert hand.legal_actions(2).min_raise_to == 13_000  # the BB has not acted yet
    hand.call(2)
    assert hand.legal_actions(3) == LegalActions(3, True, False, 3_000, None, None, False, False)
    with pytest.raises(BettingNotReopenedError) as caught:
        hand.verify_raise_to(3, 20_000)
    assert caught.value.code == "betting_not_reopened"
    assert not hand.can_all_in(3)
    hand.call(3)
    assert hand.street == Street.FLOP


def test_several_short_all_ins_adding_up_to_a_full_raise_reopen_betting_tda_47a():
    hand = four_handed((8_000, 10_500, 200_000, 200_000))
    # Seat 0 raises 2,000 more and seat 1 2,500 more: each short of 4,000, together 4,500.
    play(hand, "p3 raise 6000; p0 allin; p1 allin; p2 call")
    legal = hand.legal_actions(3)
    assert legal.min_raise_to == 14_500  # the increment stays the last full raise, 4,000
    hand.raise_to(3, 14_500)


def test_short_all_ins_adding_up_to_less_than_a_full_raise_do_not_reopen_tda_47a():
    hand = four_handed((7_000, 8_000, 200_000, 200_000))
    play(hand, "p3 raise 6000; p0 allin; p1 allin; p2 call")
    assert hand.legal_actions(3).min_raise_to is None
    with pytest.raises(BettingNotReopenedError):
        hand.raise_to(3, 12_000)


def test_after_a_short_all_in_the_min_raise_stays_the_last_full_raise_tda_47a():
    hand = four_handed((9_000, 200_000, 200_000, 200_000))
    play(hand, "p3 raise 6000; p0 allin")
    assert hand.legal_actions(1).min_raise_to == 13_000
    with pytest.raises(RaiseTooSmallError):
        hand.raise_to(1, 12_999)
    hand.raise_to(1, 13_000)


def test_a_full_all_in_raise_reopens_betting_for_players_who_acted():
    hand = four_handed((10_000, 200_000, 200_000, 200_000))
    play(hand, "p3 raise 6000; p0 allin; p1 fold; p2 call")  # 10,000 raises by a full 4,000
    assert hand.legal_actions(3).min_raise_to == 14_000


def test_a_short_all_in_then_a_full_raise_reopens_betting():
    hand = four_handed((9_000, 200_000, 200_000, 200_000))
    play(hand, "p3 raise 6000; p0 allin; p1 raise 13000; p2 fold")
    assert hand.legal_actions(3).min_raise_to == 17_000


def test_the_big_blind_has_the_option_when_everyone_calls():
    hand = four_handed()
    play(hand, "p3 call; p0 call; p1 call")
    assert hand.to_act == 2
    legal = hand.legal_actions(2)
    assert legal.can_check
    assert legal.call_amount == 0
    assert legal.min_raise_to == 4_000


def test_players_must_call_the_full_big_blind_when_it_is_posted_all_in_for_less():
    hand = four_handed((200_000, 200_000, 500, 200_000))
    assert hand.is_all_in[2]
    assert hand.bets[2] == 500
    assert hand.legal_actions(3).call_amount == 2_000
    assert hand.call(3).added == 2_000


def test_a_raise_is_refused_when_every_opponent_is_all_in():
    hand = four_handed((200_000, 200_000, 200_000, 50_000))
    play(hand, "p3 allin; p0 fold; p1 fold")
    with pytest.raises(NoOpponentToRaiseError) as caught:
        hand.verify_raise_to(2, 100_000)
    assert caught.value.code == "no_opponent_to_raise"
    assert hand.legal_actions(2).min_raise_to is None
    assert hand.call(2).added == 48_000


def test_a_raise_is_refused_when_no_opponent_could_put_in_more_than_the_current_bet():
    # Seat 0 is live with chips behind, but fewer than the bet seat 2 faces: a raise could
    # never be called and would all come back, so seat 2 may only call or fold (as PokerKit
    # and card-room software have it; tracking tools refuse such a raise in a history).
    hand = four_handed((15_000, 60_000, 200_000, 200_000))
    play(hand, "p3 fold; p0 raise 6000; p1 allin")
    assert not hand.is_all_in[0]
    with pytest.raises(NoOpponentToRaiseError):
        hand.verify_raise_to(2, 120_000)
    assert not hand.can_all_in(2)
    assert hand.legal_actions(2).min_raise_to is None
    assert hand.call(2).added == 58_000


def test_a_raise_is_offered_exactly_when_an_opponent_could_put_in_one_chip_more():
    # The boundary of the rule PokerKit 0.7.7 applies (state.py,
    # `_verify_completion_betting_or_raising`, behind `can_complete_bet_or_raise_to`): a
    # completion, bet or raise needs another player still in the hand with
    # stacks + bets > max(bets). Seat 0 goes in for 6,000 of its 6,000 + `behind`; seat 1
    # shoves 60,000; seat 2 faces 60,000 with seat 0 the only other live stack.
    for behind, offered in ((54_000, False), (54_001, True)):
        hand = four_handed((6_000 + behind, 60_000, 200_000, 200_000))
        play(hand, "p3 fold; p0 raise 6000; p1 allin")
        legal = hand.legal_actions(2)
        assert (legal.min_raise_to is not None, legal.can_raise, legal.can_bet) == (
            offered,
            offered,
            False,
        )
        assert hand.can_raise(2, 200_000) is offered
        assert hand.can_all_in(2) is offered
        if not offered:
            with pytest.raises(NoOpponentToRaiseError):
                hand.raise_bet(2, 200_000)
            with pytest.raises(NoOpponentToRaiseError):
                hand.all_in(2)
            assert hand.stacks[2] == 198_000  # refused: nothing moved


def test_no_raise_after_the_flop_when_every_opponent_left_is_all_in():
    # Flop, three players: seat 3 bets its last 30,000, seat 0 raises all-in to 60,000; seat
    # 2 could raise, but nobody could call a chip of it: call or fold only (TDA 15-B: the
    # excess would come straight back as an uncalled bet).
    hand = four_handed((62_000, 200_000, 200_000, 32_000))
    play(hand, "p3 call; p0 call; p1 fold; p2 check")  # flop: 2,000 each in
    play(hand, "p2 check; p3 bet 30000; p0 raise 60000")
    assert hand.is_all_in[0]
    assert hand.is_all_in[3]
    legal = hand.legal_actions(2)
    assert (legal.can_check, legal.call_amount, legal.min_raise_to) == (False, 60_000, None)
    assert not legal.can_raise
    assert not legal.can_bet


def test_out_of_turn_actions_are_rejected_and_change_nothing():
    hand = four_handed()
    events = len(hand.events)
    stacks = list(hand.stacks)
    for act in (hand.fold, hand.check, hand.call, hand.all_in, hand.timeout):
        with pytest.raises(NotYourTurnError) as caught:
            act(1)
        assert caught.value.code == "not_your_turn"
    with pytest.raises(NotYourTurnError):
        hand.raise_to(0, 6_000)
    with pytest.raises(InvalidSeatError):
        hand.fold(7)
    assert (hand.to_act, hand.stacks, len(hand.events)) == (3, stacks, events)


def test_illegal_amounts_are_rejected_with_a_precise_error_never_coerced():
    hand = four_handed()
    cases = [
        (lambda: hand.raise_to(3, 200_001), AmountExceedsStackError, "amount_exceeds_stack"),
        (lambda: hand.raise_to(3, 4_000.0), InvalidAmountError, "invalid_amount"),
        (lambda: hand.raise_to(3, True), InvalidAmountError, "invalid_amount"),
        (lambda: hand.raise_to(3, 2_000), RaiseTooSmallError, "raise_too_small"),
        (lambda: hand.raise_to(3, -5), RaiseTooSmallError, "raise_too_small"),
        (lambda: hand.check(3), CannotCheckError, "cannot_check"),
    ]
    for attempt, error, code in cases:
        with pytest.raises(error) as caught:
            attempt()
        assert caught.value.code == code
    assert hand.to_act == 3
    assert hand.stacks[3] == 200_000
    play(hand, "p3 call; p0 call; p1 call")
    with pytest.raises(NothingToCallError) as caught:
        hand.call(2)
    assert caught.value.code == "nothing_to_call"


def test_a_bet_facing_a_bet_and_a_raise_of_nothing_are_refused_never_converted():
    hand = four_handed()
    # Pre-flop the blinds are the bet: seat 3 may raise, not bet; so may the big blind on
    # its option, though it may check.
    assert (hand.legal_actions(3).can_bet, hand.legal_actions(3).can_raise) == (False, True)
    with pytest.raises(CannotBetError) as caught:
        hand.bet(3, 6_000)
    assert caught.value.code == "cannot_bet"
    assert (hand.can_bet(3, 6_000), hand.can_raise(3, 6_000)) == (False, True)
    assert hand.stacks[3] == 200_000
    play(hand, "p3 call; p0 call; p1 call")
    option = hand.legal_actions(2)
    assert (option.can_check, option.can_bet, option.can_raise) == (True, False, True)
    assert not hand.can_bet(2, 4_000)
    play(hand, "p2 check")
    assert hand.street == Street.FLOP
    # On the flop nobody bet yet: bet, not raise.
    assert (hand.legal_actions(1).can_bet, hand.legal_actions(1).can_raise) == (True, False)
    with pytest.raises(NothingToRaiseError) as caught:
        hand.raise_bet(1, 4_000)
    assert caught.value.code == "nothing_to_raise"
    assert hand.bet(1, 4_000).kind is ActionKind.BET
    assert hand.raise_bet(2, 8_000).kind is ActionKind.RAISE


def test_every_action_has_verify_can_and_act_faces():
    hand = four_handed()
    hand.verify_fold(3)
    hand.verify_call(3)
    hand.verify_raise_to(3, 4_000)
    hand.verify_all_in(3)
    with pytest.raises(CannotCheckError):
        hand.verify_check(3)
    assert (hand.can_fold(3), hand.can_call(3), hand.can_all_in(3)) == (True, True, True)
    assert (hand.can_check(3), hand.can_raise_to(3, 3_000), hand.can_fold(0)) == (
        False,
        False,
        False,
    )
    record = hand.call(3)
    assert isinstance(record, ActionTaken)
    assert hand.events[-1] is record
    with pytest.raises(AttributeError):
        record.amount = 0  # type: ignore[misc]


def test_legal_actions_is_empty_for_a_seat_not_to_act():
    hand = four_handed()
    assert hand.legal_actions(0) == LegalActions(0, False, False, 0, None, None, False, False)
    assert hand.legal_actions(3) == LegalActions(3, True, False, 2_000, 4_000, 200_000, False, True)


def test_a_short_stack_can_only_call_all_in_for_less():
    hand = four_handed((200_000, 200_000, 200_000, 1_500))
    assert hand.legal_actions(3) == LegalActions(3, True, False, 1_500, None, None, False, False)
    called = hand.call(3)
    assert called.all_in
    assert called.added == 1_500
    assert called.kind is ActionKind.CALL


def test_timeout_folds_facing_a_bet_and_checks_otherwise_tda_29():
    hand = four_handed()
    assert hand.timeout(3).kind is ActionKind.FOLD
    play(hand, "p0 call; p1 call")
    assert hand.timeout(2).kind is ActionKind.CHECK


def test_actions_after_the_hand_ended_are_rejected():
    hand = four_handed()
    play(hand, "p3 fold; p0 fold; p1 fold")
    assert not hand.is_running
    with pytest.raises(HandNotRunningError) as caught:
        hand.fold(2)
    assert caught.value.code == "hand_not_running"
    assert hand.legal_actions(2).can_fold is False
