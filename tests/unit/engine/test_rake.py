"""Rake (SPEC §4.1): the schedule, caps, no flop no drop, exact attribution."""

from __future__ import annotations

from fractions import Fraction

import pytest
from engine_script import deal, make_table, play
from hypothesis import given
from hypothesis import strategies as st

from holdem.engine import SPEC_RAKE_SCHEDULE, ConfigError, RakeRule, RakeTaken
from holdem.engine.rake import apportion, take_rake


@pytest.mark.parametrize(
    ("blinds", "rate", "cap"),
    [
        ((1_000, 2_000), Fraction(5, 100), 6_000),
        ((5_000, 10_000), Fraction(5, 100), 40_000),
        ((25_000, 50_000), Fraction(4, 100), 250_000),
        ((500, 1_000), Fraction(5, 100), 3_000),  # other stakes: the default, 5% cap 3 BB
    ],
)
def test_each_spec_row_sets_the_rate_and_the_cap_in_big_blinds(blinds, rate, cap):
    rule = SPEC_RAKE_SCHEDULE.rule_for(*blinds)
    assert (rule.rate, rule.cap) == (rate, cap)


def test_rake_is_rounded_down_to_whole_won_and_capped():
    rule = SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000)
    assert rule.amount(12_345) == 617  # 617.25
    assert rule.amount(119_999) == 5_999
    assert rule.amount(120_000) == 6_000
    assert rule.amount(10_000_000) == 6_000
    assert SPEC_RAKE_SCHEDULE.rule_for(25_000, 50_000).amount(10**9) == 250_000


def test_rates_are_exact_basis_points_or_fractions_never_floats():
    assert RakeRule(500, 1).rate == Fraction(1, 20)
    assert RakeRule(Fraction(1, 3), 10).amount(10) == 3
    for bad in (0.05, True, Fraction(3, 2), -1):
        with pytest.raises(ConfigError) as caught:
            RakeRule(bad, 100)
        assert caught.value.code == "invalid_config"
    with pytest.raises(ConfigError):
        RakeRule(500, -1)


def test_a_capped_pot_at_each_spec_stake_pays_the_cap():
    for small, big in ((1_000, 2_000), (5_000, 10_000), (25_000, 50_000)):
        rule = SPEC_RAKE_SCHEDULE.rule_for(small, big)
        table = make_table([1_000 * big] * 3, small_blind=small, big_blind=big, rake=rule)
        hand = deal(table, button=0)
        play(hand, "p0 allin; p1 call; p2 call")
        assert hand.result.rake == rule.cap
        assert sum(table.stacks) == 3_000 * big - rule.cap


def test_no_flop_no_drop():
    table = make_table([200_000] * 3, rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000))
    hand = deal(table, button=0)
    play(hand, "p0 raise 50000; p1 call; p2 raise 150000; p0 fold; p1 fold")
    assert hand.result.rake == 0
    assert not [e for e in hand.events if isinstance(e, RakeTaken)]


def test_a_hand_that_sees_the_flop_pays_even_when_won_without_a_showdown():
    table = make_table([200_000] * 3, rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000))
    hand = deal(table, button=0)
    play(hand, "p0 call; p1 call; p2 check; p1 bet 2000; p2 fold; p0 fold")
    assert hand.result.rake == 300  # 5% of the 6,000 pot; the uncalled 2,000 went back
    assert hand.result.rake_by_seat == (100, 100, 100)


def test_an_all_in_runout_before_the_flop_still_pays_rake():
    table = make_table([200_000] * 2, rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000))
    hand = deal(table, button=0)
    play(hand, "p0 allin; p1 call")
    assert len(hand.board) == 5
    assert hand.result.rake == 6_000


def test_uncalled_bets_are_not_raked():
    table = make_table([200_000, 200_000, 20_000], rake=RakeRule(1_000, 10**9))  # 10%
    hand = deal(table, button=0)
    play(hand, "p0 allin; p1 fold; p2 allin")
    result = hand.result
    assert result.uncalled == ((0, 180_000),)
    assert result.rake == 4_100  # 10% of 20,000 + 20,000 + the folded small blind's 1,000


def test_the_capped_rake_is_spread_over_the_pots_and_attributed_by_contribution():
    table = make_table([100_000, 200_000, 200_000], rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000))
    hand = deal(table, button=0)
    play(hand, "p0 allin; p1 allin; p2 call")
    result = hand.result
    assert [(p.amount, p.rake) for p in result.pots] == [(300_000, 3_600), (200_000, 2_400)]
    assert result.rake == 6_000
    assert result.rake_by_seat == (1_200, 2_400, 2_400)
    rake_events = [e for e in hand.events if isinstance(e, RakeTaken)]
    assert [(e.amount, e.by_pot, e.by_seat) for e in rake_events] == [
        (6_000, (3_600, 2_400), (1_200, 2_400, 2_400))
    ]


def test_folded_contributors_are_attributed_their_share_of_the_rake():
    split = take_rake(
        RakeRule(500, 10**9), [9_000], [1_000, 2_000, 6_000], [1, 2, 0], flop_dealt=True
    )
    assert split.total == 450
    assert split.by_seat == (50, 100, 300)


def test_attribution_ties_go_to_the_seats_nearest_the_left_of_the_button():
    assert apportion(100, [1, 1, 1], [1, 2, 0]) == [33, 34, 33]
    assert apportion(3, [3, 2], [0, 1]) == [2, 1]


@given(
    rate=st.integers(0, 10_000),
    cap=st.integers(0, 10**7),
    pots=st.lists(st.integers(1, 10**8), min_size=1, max_size=6),
    weights=st.lists(st.integers(0, 10**8), min_size=2, max_size=9),
)
def test_rake_shares_always_add_up_exactly(rate, cap, pots, weights):
    total = sum(pots)
    # Contributions: any split of the pot total over the seats, in proportion to weights.
    seats = (
        apportion(total, weights, range(len(weights)))
        if sum(weights)
        else [total] + [0] * (len(weights) - 1)
    )
    split = take_rake(RakeRule(rate, cap), pots, seats, range(len(seats)), flop_dealt=True)
    assert split.total == min(total * rate // 10_000, cap)
    assert sum(split.by_pot) == sum(split.by_seat) == split.total
    assert all(0 <= r <= p for r, p in zip(split.by_pot, pots, strict=True))
    assert all(0 <= r <= c for r, c in zip(split.by_seat, seats, strict=True))
