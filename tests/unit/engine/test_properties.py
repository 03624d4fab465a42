"""Property tests over random tables (2-9 seats, random stacks) and random legal actions."""

from __future__ import annotations

import random

from engine_script import make_table
from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.engine import (
    READY,
    SPEC_RAKE_SCHEDULE,
    BlindKind,
    BlindPosted,
    HandShown,
    HoleCardsDealt,
    Table,
    visible_to,
)
from holdem.engine.shuffle import verify_opening

RAKE = SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000)
MAX_ACTIONS = 400  # far above any real hand; reaching it means the hand did not end

stacks_strategy = st.integers(2, 9).flatmap(
    lambda seats: st.lists(
        st.one_of(st.none(), st.integers(1, 150_001)), min_size=seats, max_size=seats
    ).filter(lambda stacks: sum(s is not None for s in stacks) >= 2)
)
ENGINE = settings(deadline=None, max_examples=200)


def random_action(hand, rng):
    """Take a random legal action; returns ``(method name, args)`` for replaying it."""
    seat = hand.to_act
    legal = hand.legal_actions(seat)
    options = [("fold", (seat,)), ("check", (seat,)) if legal.can_check else ("call", (seat,))]
    if legal.min_raise_to is not None and legal.max_raise_to is not None:
        low, high = legal.min_raise_to, legal.max_raise_to
        options += [
            ("raise_to", (seat, low)),
            ("raise_to", (seat, rng.randint(low, high))),
            ("all_in", (seat,)),
        ]
    if rng.random() < 0.1:
        options.append(("timeout", (seat,)))
    name, args = rng.choice(options)
    getattr(hand, name)(*args)
    return name, args


def play_out(table, rng, check=None):
    """Play the running hand to its end with random actions; return the steps taken."""
    hand = table.hand
    steps = []
    while hand.to_act >= 0:
        assert len(steps) < MAX_ACTIONS
        steps.append(random_action(hand, rng))
        if check is not None:
            check(table)
    return steps


def reshuffle_seats(table, rng, serial):
    """Random seating changes between hands: leave, join, sit out/in, top up."""
    _low, _high = table.config.buy_in_range
    for seat in range(table.size):
        roll = rng.random()
        if table.players[seat] is None:
            if roll < 0.3:
                table.sit_down(seat, f"n{serial}-{seat}", rng.randint(1, 150_000), post=roll < 0.15)
        elif roll < 0.08:
            table.leave(seat)
        elif roll < 0.16:
            table.sit_out(seat)
        elif roll < 0.35 and table.stacks[seat] > 0:
            table.sit_in(seat, post=roll < 0.25)
        elif roll < 0.45:
            table.top_up(seat, rng.randint(1, 50_000))


@ENGINE
@given(stacks=stacks_strategy, seed=st.integers(0, 2**32))
def test_chips_are_conserved_no_stack_goes_negative_and_every_hand_ends(stacks, seed):
    rng = random.Random(seed)
    table = make_table(stacks, rake=RAKE)
    raked = 0
    for number in range(4):
        if not table.can_start_hand():
            break
        before = sum(table.stacks)

        def conserved(table, before=before):
            assert min(table.stacks) >= 0
            hand = table.hand
            in_pots = sum(hand.committed) if hand.result is None else hand.result.rake
            assert sum(table.stacks) + in_pots == before

        table.start_hand(deck=rng.sample(range(52), 52), button=None if number else 0)
        conserved(table)
        play_out(table, rng, conserved)
        result = table.hand.result
        raked += result.rake
        assert sum(result.net) + result.rake == 0
        assert sum(result.rake_by_seat) == result.rake
        assert all(sum(c for _, c in p.winners) == p.amount - p.rake for p in result.pots)
        assert sum(p.amount for p in result.pots) == sum(table.hand.committed)
        assert list(result.stacks) == table.stacks
        table.drain_events()


@ENGINE
@given(
    stacks=stacks_strategy,
    seed=st.binary(min_size=32, max_size=32),
    choices=st.integers(0, 2**32),
)
def test_the_same_seed_and_actions_give_the_same_hand(stacks, seed, choices):
    runs = []
    for _ in range(2):
        table = make_table(stacks, rake=RAKE)
        table.start_hand(seed=seed, button=0)
        steps = play_out(table, random.Random(choices))
        runs.append((steps, table.drain_events(), table.to_state()))
    assert runs[0] == runs[1]


@ENGINE
@given(stacks=stacks_strategy, seed=st.integers(0, 2**32), data=st.data())
def test_a_state_serialised_at_any_point_resumes_to_the_same_outcome(stacks, seed, data):
    rng = random.Random(seed)
    table = make_table(stacks, rake=RAKE)
    table.start_hand(deck=rng.sample(range(52), 52), button=0)
    snapshot = table.to_state()
    steps = play_out(table, random.Random(rng.random()))
    cut = data.draw(st.integers(0, len(steps)))
    replay = Table.from_state(snapshot)
    for name, args in steps[:cut]:
        getattr(replay.hand, name)(*args)
    resumed = Table.from_state(replay.to_state())
    for name, args in steps[cut:]:
        getattr(resumed.hand, name)(*args)
    assert resumed.hand.result == table.hand.result
    assert resumed.to_state() == table.to_state()


@ENGINE
@given(stacks=stacks_strategy, seed=st.integers(0, 2**32))
def test_views_and_public_events_never_leak_hole_cards(stacks, seed):
    rng = random.Random(seed)
    table = make_table(stacks)
    table.start_hand(deck=rng.sample(range(52), 52), button=0)

    def no_leak(table):
        hand = table.hand
        shown = {seat for seat, _ in hand.result.shown} if hand.result else set()
        for viewer in [None, *range(table.size)]:
            for entry in table.view_for(viewer)["seats"]:
                seat = entry["seat"]
                if entry["cards"] is not None:
                    assert seat == viewer or seat in shown
                    assert entry["cards"] == list(hand.hole_cards(seat))

    no_leak(table)
    play_out(table, rng, no_leak)
    events = table.drain_events()
    # Hole cards reach the public only through hands shown at showdown.
    assert not [e for e in visible_to(events, None) if isinstance(e, HoleCardsDealt)]
    shown = [(e.seat, e.cards) for e in events if isinstance(e, HandShown)]
    assert shown == list(table.hand.result.shown)


@ENGINE
@given(stacks=stacks_strategy, seed=st.integers(0, 2**32))
def test_over_many_hands_nobody_posts_the_big_blind_twice_in_a_row(stacks, seed):
    rng = random.Random(seed)
    table = make_table(stacks)
    last_big_posters: set[int] = set()
    for number in range(12):
        reshuffle_seats(table, rng, number)
        if not table.can_start_hand():
            last_big_posters = set()
            continue
        ready = {s for s in range(table.size) if table.status[s] in READY and table.stacks[s]}
        hand = table.start_hand(deck=rng.sample(range(52), 52), button=0 if number == 0 else None)
        posts = [e for e in table.events if isinstance(e, BlindPosted)]
        big = {e.seat for e in posts if e.blind in (BlindKind.BIG, BlindKind.POSTED_BIG)}
        if not ready <= last_big_posters:  # else someone must post twice (seats emptied)
            assert not big & last_big_posters
        assert hand.dealt[hand.big_blind_seat]
        if sum(hand.dealt) == 2:
            assert hand.button == hand.small_blind_seat != hand.big_blind_seat
        last_big_posters = big
        play_out(table, rng)
        table.drain_events()


@ENGINE
@given(stacks=stacks_strategy, seed=st.binary(min_size=32, max_size=32), rng_seed=st.integers())
def test_each_viewer_gets_openings_of_exactly_the_cards_it_may_see_and_they_verify(
    stacks, seed, rng_seed
):
    rng = random.Random(rng_seed)
    table = make_table(stacks)
    hand = table.start_hand(seed=seed, button=0)
    board_start = 2 * table.size

    def allowed(viewer):
        hand = table.hand
        shown = set(hand.shown)
        seats = {s for s in range(table.size) if hand.dealt[s] and (s == viewer or s in shown)}
        board = range(board_start, board_start + len(hand.board))
        return {p for s in seats for p in (2 * s, 2 * s + 1)} | set(board)

    def openings_match(table):
        for viewer in [None, *range(table.size)]:
            view = table.view_for(viewer)
            opened = {o.position for o in view["openings"]}
            assert opened == allowed(viewer)
            assert all(verify_opening(view["commitment"], o) for o in view["openings"])

    openings_match(table)
    play_out(table, rng, openings_match)
    events = table.drain_events()
    for viewer in [None, *range(table.size)]:
        opened = {
            o.position for e in visible_to(events, viewer) for o in getattr(e, "openings", ())
        }
        assert opened == allowed(viewer)
    assert all(
        verify_opening(hand.commitment, o) for e in events for o in getattr(e, "openings", ())
    )


def _raise_could_be_called(hand, seat):
    """PokerKit 0.7.7's rule, restated from the state (state.py,
    ``_verify_completion_betting_or_raising``, behind ``can_complete_bet_or_raise_to``): some
    other player still in the hand has ``stacks[i] + bets[i] > max(bets)``; otherwise "there is
    no reason to complete, bet, or raise since every other player has either folded or gone
    all-in" (or is covered by the bet)."""
    return any(
        other != seat
        and not hand.folded[other]
        and hand.stacks[other] + hand.bets[other] > hand.current_bet
        for other in range(hand.size)
    )


def check_legal_actions_agree_with_the_faces(table):
    hand = table.hand
    seat = hand.to_act
    if seat < 0:
        return
    legal = hand.legal_actions(seat)
    offered = legal.min_raise_to is not None
    assert offered == (legal.max_raise_to is not None) == (legal.can_bet or legal.can_raise)
    assert legal.can_bet == (offered and hand.current_bet == 0)
    assert legal.can_raise == (offered and hand.current_bet > 0)
    assert hand.can_check(seat) == legal.can_check
    assert hand.can_call(seat) == (not legal.can_check)
    top = hand.bets[seat] + hand.stacks[seat]
    # No pointless raise: a raise is offered only when an opponent could call part of it.
    if not _raise_could_be_called(hand, seat):
        assert not offered
        assert not any(hand.can_raise_to(seat, amount) for amount in {top, hand.current_bet + 1})
    if offered:
        assert hand.can_raise_to(seat, legal.min_raise_to)
        assert hand.can_raise_to(seat, legal.max_raise_to)
        assert hand.can_bet(seat, legal.min_raise_to) == legal.can_bet
        assert hand.can_raise(seat, legal.min_raise_to) == legal.can_raise
        if legal.min_raise_to > hand.current_bet + 1 and legal.min_raise_to < top:
            assert not hand.can_raise_to(seat, legal.min_raise_to - 1)
    else:
        assert not hand.can_raise_to(seat, top)
    # All-in is a call when it does not exceed the bet, and a raise only when one is offered.
    assert hand.can_all_in(seat) == (offered or top <= hand.current_bet)


@ENGINE
@given(stacks=stacks_strategy, seed=st.integers(0, 2**32))
def test_legal_actions_and_the_verify_can_faces_agree_and_offer_no_pointless_raise(stacks, seed):
    rng = random.Random(seed)
    table = make_table(stacks, rake=RAKE)
    for number in range(3):
        if not table.can_start_hand():
            break
        table.start_hand(deck=rng.sample(range(52), 52), button=None if number else 0)
        check_legal_actions_agree_with_the_faces(table)
        play_out(table, rng, check_legal_actions_agree_with_the_faces)
        table.drain_events()
