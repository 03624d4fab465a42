"""Serialising a table, mid-hand included, and resuming it exactly."""

from __future__ import annotations

import pytest
from engine_script import deal, make_table, play

from holdem.engine import (
    SPEC_RAKE_SCHEDULE,
    STATE_VERSION,
    StateError,
    Table,
    UnknownStateVersionError,
)
from holdem.engine.shuffle import deal_from_seed, seed_commitment, verify_opening

ALLOWED = (list, dict, int, str, bytes, bool, type(None))


def assert_packable(value):
    assert type(value) in ALLOWED, (type(value), value)
    if isinstance(value, list):
        for item in value:
            assert_packable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            assert_packable(key)
            assert_packable(item)


def round_trip(table):
    state = table.to_state()
    assert_packable(state)
    restored = Table.from_state(state)
    assert restored.to_state() == state
    return restored


def test_empty_and_between_hands_tables_round_trip_exactly():
    table = make_table([200_000, None, 150_000], rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000))
    round_trip(table)
    hand = deal(table, button=0)
    play(hand, "p0 fold")
    table.sit_out(2)
    restored = round_trip(table)
    assert restored.hand.result == hand.result
    assert restored.config == table.config


def test_a_mid_hand_state_resumes_to_the_same_outcome():
    table = make_table(
        [50_000, 200_000, 200_000, 120_000], rake=SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000)
    )
    hand = deal(table, {0: "AsAd", 1: "KsKd", 2: "QsQd", 3: "JsJd"}, "2c7h9d4c3s", button=0)
    play(hand, "p3 raise 6000; p0 allin; p1 call")
    table.drain_events()
    restored = round_trip(table)
    script = "p2 call; p3 call; p1 bet 20000; p2 raise 60000; p3 allin; p1 fold; p2 call"
    play(hand, script)
    play(restored.hand, script)
    assert restored.hand.result == hand.result
    assert restored.to_state() == table.to_state()
    assert [e.seq for e in restored.drain_events()] == [e.seq for e in table.drain_events()]


def test_the_restored_table_keeps_the_blind_anchor_and_owed_blinds():
    table = make_table([200_000] * 5)
    play(deal(table, button=0), "p3 fold; p4 fold; p0 fold; p1 fold")
    table.sit_out(4)
    play(deal(table), "p0 fold; p1 fold; p2 fold")
    restored = round_trip(table)
    assert restored.last_big == table.last_big
    assert restored.last_small == table.last_small
    a, b = deal(table), deal(restored)
    assert (a.button, a.small_blind_seat, a.big_blind_seat) == (
        b.button,
        b.small_blind_seat,
        b.big_blind_seat,
    )
    assert restored.owes_big == table.owes_big


def test_a_state_packs_with_msgpack_and_comes_back_identical():
    msgpack = pytest.importorskip("msgpack")
    table = make_table([200_000] * 9)
    hand = table.start_hand(seed=bytes(32), button=0)
    play(hand, "p3 raise 6000; p4 call; p5 fold")
    state = table.to_state()
    unpacked = msgpack.unpackb(msgpack.packb(state))
    assert Table.from_state(unpacked).to_state() == state


def test_an_unknown_state_version_is_refused_with_a_clear_error():
    state = make_table([200_000, 200_000]).to_state()
    assert state[0] == STATE_VERSION
    state[0] = STATE_VERSION + 1
    with pytest.raises(UnknownStateVersionError) as caught:
        Table.from_state(state)
    assert caught.value.code == "unknown_state_version"
    assert str(STATE_VERSION + 1) in str(caught.value)


@pytest.mark.parametrize("broken", [None, [], [1], [1, [2], [], None], {"v": 1}, "x"])
def test_a_malformed_state_is_refused(broken):
    with pytest.raises(StateError) as caught:
        Table.from_state(broken)
    assert caught.value.code in ("invalid_state", "unknown_state_version")


def test_a_hand_restored_mid_way_opens_its_later_cards_against_the_same_commitment():
    table = make_table([200_000] * 3)
    hand = table.start_hand(seed=bytes(range(32)), button=0)
    commitment = hand.commitment
    play(hand, "p0 call; p1 call; p2 check")
    table.drain_events()
    restored = round_trip(table)
    assert restored.hand.commitment == commitment
    play(restored.hand, "p1 check; p2 check; p0 check")
    (turn,) = [e for e in restored.drain_events() if e.type == "street_dealt"]
    assert [o.position for o in turn.openings] == [9]
    assert verify_opening(commitment, turn.openings[0])


def version_1(state):
    """A state as a server before per-card commitments wrote it: version 1, the hand's
    commitment sha256(seed), and the seed at the end of a finished hand's result."""
    old = [1, state[1], state[2], None if state[3] is None else list(state[3])]
    hand = old[3]
    if hand is not None:
        hand[24] = seed_commitment(hand[25])  # commitment, seed
        if hand[26] is not None:
            hand[26] = [*hand[26][:-1], hand[24], hand[25]]
    return old


def test_a_version_1_checkpoint_of_a_rolling_deploy_still_loads():
    table = make_table([200_000] * 3)
    hand = table.start_hand(seed=bytes(range(32)), button=0)
    play(hand, "p0 call; p1 call; p2 check")
    table.drain_events()
    restored = Table.from_state(version_1(table.to_state()))
    # The hand keeps the commitment it published; no opening can match it, so none is sent.
    assert restored.hand.commitment == seed_commitment(bytes(range(32)))
    assert restored.hand.seed == bytes(range(32))
    play(restored.hand, "p1 check; p2 check; p0 check")
    (turn,) = [e for e in restored.drain_events() if e.type == "street_dealt"]
    assert turn.openings == ()
    assert restored.view_for(None)["openings"] == []
    play(restored.hand, "p1 check; p2 check; p0 check; p1 check; p2 check; p0 check")
    assert "seed" not in restored.hand.result._fields
    # Rewritten as version 2, and the next hand is committed card by card.
    assert restored.to_state()[0] == STATE_VERSION == 2
    finished = Table.from_state(version_1(restored.to_state()))
    assert finished.hand.result == restored.hand.result
    nxt = finished.start_hand(seed=bytes(32))
    assert nxt.commitment == deal_from_seed(bytes(32), 3).commitment
