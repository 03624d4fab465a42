"""The SDK's check of every card opening a client receives (holdem.client.openings)."""

from __future__ import annotations

import copy

from holdem.client import OpeningChecker, verify_opening
from holdem.engine import Table, TableConfig
from holdem.protocol.views import event_to_wire, view_to_wire

TABLE = 7


def a_hand():
    """The messages seat 1 of a 3-seat table receives for one seeded hand: a snapshot, then
    every public event and its own hole cards (seat 0 folds, 1 and 2 check it down)."""
    table = Table(TableConfig(seats=3, small_blind=1_000, big_blind=2_000))
    for seat in range(3):
        table.sit_down(seat, f"p{seat}", 200_000)
    hand = table.start_hand(seed=bytes(range(32)), button=0)
    hand.fold(0)
    hand.call(1)
    hand.check(2)
    for _ in range(3):
        hand.check(1)
        hand.check(2)
    messages = []
    for event in table.drain_events():
        wire = event_to_wire(event)
        if wire["event"] == "hole_cards":
            if wire["seat"] != 1:
                continue
            messages.append({"type": "hole_cards", "table_id": TABLE, "hand": 1, **wire})
        else:
            messages.append({"type": "event", "table_id": TABLE, "hand": 1, **wire})
    snapshot = {"type": "snapshot", "table_id": TABLE, **view_to_wire(table.view_for(1))}
    return [snapshot, *messages]


def observe(messages):
    checker = OpeningChecker()
    for message in messages:
        checker.observe(message)
    return checker


def test_every_opening_of_a_real_hand_verifies():
    checker = observe(a_hand())
    verdict = checker.hand(TABLE, 1)
    assert verdict.ok, verdict.failed
    # Snapshot: own 2 + board 5 + the shown hands (2 each); events: own 2, board 5, shown.
    assert checker.verified == len(verdict.verified) >= 14
    assert checker.failed == 0
    assert verdict.commitment is not None


def tampered(mutate):
    messages = a_hand()
    target = next(m for m in messages if m.get("event") == "street_dealt")
    mutate(target)
    return observe(messages).hand(TABLE, 1)


def test_a_wrong_card_nonce_position_or_proof_is_reported():
    def card(m):
        m["openings"][0]["card"] = "As" if m["cards"][0] != "As" else "Ks"

    def nonce(m):
        m["openings"][0]["nonce"] = "00" * 32

    def position(m):
        m["openings"][0]["position"] += 1

    def proof(m):
        m["openings"][0]["proof"][0] = "11" * 32

    def shown_card(m):
        m["cards"][0] = "As" if m["cards"][0] != "As" else "Ks"

    def missing(m):
        m["openings"] = []

    def malformed(m):
        m["openings"][0]["nonce"] = "not hex"

    for mutate in (card, nonce, position, proof, shown_card, missing, malformed):
        verdict = tampered(mutate)
        assert not verdict.ok, mutate.__name__
        assert len(verdict.failed) == 1 or mutate is missing, (mutate.__name__, verdict.failed)


def test_another_hands_commitment_does_not_verify_these_openings():
    messages = a_hand()
    other = copy.deepcopy(messages)
    started = next(m for m in other if m.get("event") == "hand_started")
    started["commitment"] = "ab" * 32
    other[0]["commitment"] = "ab" * 32
    verdict = observe(other).hand(TABLE, 1)
    assert verdict.failed
    assert not verdict.verified


def test_only_the_last_hands_are_kept_and_the_totals_stay():
    checker = OpeningChecker(keep_hands=2)
    for number in (1, 2, 3):
        for message in a_hand():
            renumbered = {
                k: number if k in ("hand", "hand_number") else v for k, v in message.items()
            }
            checker.observe(renumbered)
    assert checker.hand(TABLE, 1) is None
    assert checker.hand(TABLE, 3) is not None
    assert checker.failed == 0
    assert checker.verified > 0


def test_a_repeated_opening_counts_again_without_being_hashed_again(monkeypatch):
    """Also by another checker of the process (another player at the table)."""
    import holdem.client.openings as openings

    calls = []

    def counting(commitment, opening):
        calls.append(opening.position)
        return verify_opening(commitment, opening)

    monkeypatch.setattr(openings, "verify_opening", counting)
    monkeypatch.setattr(openings, "_VERIFIED", {})  # nothing verified yet in this process
    messages = a_hand()
    once = observe(messages)
    hashed_once = len(calls)
    assert hashed_once < once.verified  # the snapshot's openings come again in the events
    calls.clear()
    twice = observe([*messages, *copy.deepcopy(messages)])
    assert twice.verified == 2 * once.verified
    assert twice.failed == 0
    assert calls == []
    assert twice.hand(TABLE, 1).verified == 2 * once.hand(TABLE, 1).verified


def test_remembered_openings_are_bounded(monkeypatch):
    import holdem.client.openings as openings

    monkeypatch.setattr(openings, "_VERIFIED", {})
    monkeypatch.setattr(openings, "VERIFIED_KEPT", 3)
    checker = observe(a_hand())
    assert checker.verified >= 14
    assert len(openings._VERIFIED) == 3


def test_a_repeat_that_differs_from_the_verified_opening_is_checked_and_fails():
    def nonce(m):
        m["openings"][0]["nonce"] = "00" * 32

    def proof(m):
        m["openings"][0]["proof"][-1] = "11" * 32

    def shown_card(m):
        m["cards"][0] = "As" if m["cards"][0] != "As" else "Ks"

    def position(m):
        m["openings"][0]["position"] += 1

    for mutate in (nonce, proof, shown_card, position):
        messages = a_hand()
        repeat = copy.deepcopy(next(m for m in messages if m.get("event") == "street_dealt"))
        mutate(repeat)
        verdict = observe([*messages, repeat]).hand(TABLE, 1)
        assert len(verdict.failed) == 1, (mutate.__name__, verdict.failed)
