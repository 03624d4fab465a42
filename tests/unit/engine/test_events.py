"""Events: order, sequence numbers, privacy, per-card commitments (STYLE.md "The engine")."""

from __future__ import annotations

from engine_script import deal, make_table, play

from holdem.engine import (
    SPEC_RAKE_SCHEDULE,
    ActionTaken,
    BlindPosted,
    HandEnded,
    HandShown,
    HandStarted,
    HoleCardsDealt,
    PotAwarded,
    PotsUpdated,
    RakeTaken,
    Street,
    StreetDealt,
    UncalledBetReturned,
    audience,
    visible_to,
)
from holdem.engine.shuffle import deal_from_seed, shuffled_deck, verify_opening

SEED = bytes(range(32))


def kinds(events):
    return [e.type for e in events]


def test_a_full_hand_records_its_events_in_order_with_contiguous_sequence_numbers():
    table = make_table([200_000] * 3, rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000))
    hand = deal(table, {0: "AsAd", 1: "KsKd", 2: "7c2d"}, "Qh9c5s3d8h", button=0)
    play(hand, "p0 raise 6000; p1 call; p2 fold")
    play(hand, "p1 check; p0 bet 10000; p1 call")
    play(hand, "p1 check; p0 check")
    play(hand, "p1 check; p0 bet 50000; p1 fold")
    events = table.drain_events()
    assert [e.seq for e in events] == list(range(len(events)))
    assert kinds(events) == [
        "hand_started",
        "blind_posted",
        "blind_posted",
        "hole_cards",
        "hole_cards",
        "hole_cards",
        "action",
        "action",
        "action",
        "pots_updated",
        "street_dealt",
        "action",
        "action",
        "action",
        "pots_updated",
        "street_dealt",
        "action",
        "action",
        "pots_updated",
        "street_dealt",
        "action",
        "action",
        "action",
        "uncalled_bet_returned",
        "pots_updated",
        "rake_taken",
        "pot_awarded",
        "hand_ended",
    ]
    started = events[0]
    assert isinstance(started, HandStarted)
    assert (started.hand_number, started.button, started.small_blind_seat) == (1, 0, 1)
    assert (started.big_blind_seat, started.seats, started.stacks) == (2, (0, 1, 2), (200_000,) * 3)
    assert [
        (e.seat, e.blind.value, e.amount) for e in events[1:3] if isinstance(e, BlindPosted)
    ] == [
        (1, "small_blind", 1_000),
        (2, "big_blind", 2_000),
    ]
    assert [e.seat for e in events if isinstance(e, HoleCardsDealt)] == [1, 2, 0]
    assert [e.street for e in events if isinstance(e, StreetDealt)] == [
        Street.FLOP,
        Street.TURN,
        Street.RIVER,
    ]
    uncalled = next(e for e in events if isinstance(e, UncalledBetReturned))
    assert (uncalled.seat, uncalled.amount) == (0, 50_000)
    award = next(e for e in events if isinstance(e, PotAwarded))
    rake = next(e for e in events if isinstance(e, RakeTaken))
    assert award.amount + award.rake == 34_000
    assert rake.amount == award.rake == 1_700
    ended = events[-1]
    assert isinstance(ended, HandEnded)
    assert ended.result is hand.result


def test_hole_cards_are_private_to_their_seat_and_every_other_event_is_public():
    table = make_table([200_000] * 3)
    hand = deal(table, {0: "AsAd", 1: "KsKd", 2: "7c2d"}, button=0)
    play(hand, "p0 fold; p1 fold")
    events = table.drain_events()
    private = [e for e in events if audience(e) is not None]
    assert [(e.seat, e.cards) for e in private] == [
        (1, (hand.cards[2], hand.cards[3])),
        (2, (hand.cards[4], hand.cards[5])),
        (0, (hand.cards[0], hand.cards[1])),
    ]
    assert all(isinstance(e, HoleCardsDealt) for e in private)
    assert [e.seat for e in visible_to(events, 2) if isinstance(e, HoleCardsDealt)] == [2]
    assert not [e for e in visible_to(events, None) if isinstance(e, HoleCardsDealt)]
    assert not [e for e in events if isinstance(e, HandShown)]  # nobody showed


def test_an_all_in_before_the_flop_deals_the_whole_board_as_separate_streets():
    table = make_table([50_000, 50_000])
    hand = deal(table, {0: "AsAd", 1: "KsKd"}, "2c3d4h9sJc", button=0)
    play(hand, "p0 allin; p1 call")
    streets = [e for e in table.drain_events() if isinstance(e, StreetDealt)]
    assert [(e.street, len(e.cards), len(e.board)) for e in streets] == [
        (Street.FLOP, 3, 3),
        (Street.TURN, 1, 4),
        (Street.RIVER, 1, 5),
    ]


def test_sequence_numbers_restart_each_hand_and_survive_draining_mid_hand():
    table = make_table([200_000] * 2)
    hand = deal(table, button=0)
    first = table.drain_events()
    hand.call(0)
    second = table.drain_events()
    assert second[0].seq == first[-1].seq + 1
    assert isinstance(second[0], ActionTaken)
    play(hand, "p1 raise 6000; p0 fold")
    deal(table)
    assert table.events[0].seq == 0


def test_pots_are_published_after_every_betting_round():
    table = make_table([200_000] * 2)
    hand = deal(table, button=0)
    play(hand, "p0 call; p1 raise 10000; p0 call")
    (pots,) = [e for e in table.drain_events() if isinstance(e, PotsUpdated)]
    assert [(p.amount, p.eligible) for p in pots.pots] == [(20_000, (0, 1))]


def test_a_seeded_hand_publishes_a_commitment_and_opens_each_card_where_it_is_seen():
    table = make_table([200_000] * 3)
    hand = table.start_hand(seed=SEED, button=0)
    started = table.events[0]
    assert isinstance(started, HandStarted)
    deal = deal_from_seed(SEED, 3)
    assert started.commitment == deal.commitment
    play(hand, "p0 allin; p1 call; p2 call")
    events = table.drain_events()
    ended = events[-1]
    assert isinstance(ended, HandEnded)
    assert ended.result.commitment == deal.commitment
    deck = shuffled_deck(SEED)
    assert [hand.hole_cards(s) for s in range(3)] == [
        (deck[2 * s], deck[2 * s + 1]) for s in range(3)
    ]
    assert list(ended.result.board) == deck[6:11]
    opened = []
    for event in events:
        if isinstance(event, HoleCardsDealt | HandShown | StreetDealt):
            assert [o.card for o in event.openings] == list(event.cards)
            assert all(verify_opening(started.commitment, o) for o in event.openings)
            opened += [o.position for o in event.openings]
    # Hole cards twice (privately, then shown at the all-in showdown), the board once.
    assert sorted(opened) == sorted([*range(6), *range(6), *range(6, 11)])


def test_the_seed_is_in_no_event_and_a_folded_hand_is_opened_only_to_its_owner():
    table = make_table([200_000] * 3)
    hand = table.start_hand(seed=SEED, button=0)
    play(hand, "p0 fold; p1 call; p2 check")
    for _ in range(3):
        play(hand, "p1 check; p2 check")
    events = table.drain_events()
    assert hand.result is not None
    assert "seed" not in hand.result._fields
    for event in events:
        assert SEED not in repr(event).encode()
        assert "seed" not in event._fields
    folded = {0, 1}  # seat 0's positions
    for seat in (None, 1, 2):
        seen = {o.position for e in visible_to(events, seat) for o in getattr(e, "openings", ())}
        assert not seen & folded, seat
    mine = {o.position for e in visible_to(events, 0) for o in getattr(e, "openings", ())}
    assert mine >= folded
