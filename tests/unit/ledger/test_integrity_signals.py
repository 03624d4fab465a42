"""The integrity signals (holdem.ledger.integrity) on hands played by the engine and recorded
as the table servers record them: each fires on a crafted history and stays quiet on
ordinary play of the SDK bot (docs/integrity.md). The counts are printed (`-s`) for the
closing note."""

from __future__ import annotations

import doctest

import pytest

from holdem.client.bot import BotStrategy
from holdem.config import IntegritySettings
from holdem.ledger import integrity
from holdem.ledger.aml import AmlRule
from holdem.ledger.integrity import bot_timing, chip_dumping, shared_identity, soft_play
from holdem.services import integrity as integrity_service
from holdem.services import table_runtime
from holdem.services.integrity import thresholds
from tests.integrity_play import dumper, metronome, ordinary, play_session, receiver, record, soft

LIMITS = thresholds(IntegritySettings())
USERS = [11, 12, 13, 14, 15, 16]


def records(played):
    return [record(one, number) for number, one in enumerate(played, start=1)]


def counts(hands):
    return {
        "chip_dumping": len(chip_dumping(hands, LIMITS)),
        "soft_play": len(soft_play(hands, LIMITS)),
        "bot_timing": len(bot_timing(hands, LIMITS)),
    }


def test_the_documented_examples_hold():
    assert doctest.testmod(integrity).failed == 0
    assert doctest.testmod(integrity_service).failed == 0
    assert doctest.testmod(table_runtime).failed == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ordinary_bot_play_raises_no_flag(seed):
    hands = records(play_session(USERS, 400, seed=seed))
    found = counts(hands)
    print(f"ordinary bots, seed {seed}, {len(hands)} hands: {found}")
    assert found == {"chip_dumping": 0, "soft_play": 0, "bot_timing": 0}


def test_a_scripted_dumping_pair_is_flagged_citing_the_hands_given_away():
    # User 11 raises before the flop and folds to user 12's every bet after it; 12 bets big.
    policies = {
        11: dumper(12, ordinary(BotStrategy(seed=1))),
        12: receiver(11, ordinary(BotStrategy(seed=2))),
    }
    hands = records(play_session(USERS, 300, seed=2, policies=policies))
    found = chip_dumping(hands, LIMITS)
    print(f"dumping pair, 300 hands: {counts(hands)}")
    assert {(f.user_id, f.other_user_id) for f in found} == {(11, 12), (12, 11)}
    details = found[0].details
    assert (details["sender"], details["receiver"]) == (11, 12)
    assert details["net_transfer_bb"] >= LIMITS.dump_min_transfer_bb
    assert details["one_way_pct"] >= LIMITS.dump_min_one_way_pct
    assert details["suspect_hands"] >= LIMITS.dump_min_suspect_hands
    by_id = {h.hand_id: h for h in hands}
    for hand_id in details["suspect_hand_ids"]:
        hand = by_id[hand_id]
        assert hand.net[11] < 0 < hand.net[12]
        assert any(d.user_id == 11 and d.kind == "fold" and d.facing == 12 for d in hand.decisions)
    assert set(details["suspect_hand_ids"]) <= set(found[0].hand_ids)
    assert len(found[0].hand_ids) <= LIMITS.max_hands_cited <= found[0].hand_count
    assert soft_play(hands, LIMITS) == []
    assert bot_timing(hands, LIMITS) == []


def test_a_soft_playing_pair_is_flagged_and_aggressive_players_are_not():
    # Users 13 and 14 bet and raise often (35% where the bot may), never against each other.
    policies = {
        13: soft(14, ordinary(BotStrategy(raise_rate=0.35, seed=3))),
        14: soft(13, ordinary(BotStrategy(raise_rate=0.35, seed=4))),
    }
    hands = records(play_session(USERS, 300, seed=1, policies=policies))
    found = soft_play(hands, LIMITS)
    print(f"soft-playing pair, 300 hands: {counts(hands)}")
    assert {(f.user_id, f.other_user_id) for f in found} == {(13, 14), (14, 13)}
    details = found[0].details
    assert details["aggressive_vs_each_other"] == 0
    assert details["heads_up_decisions"] >= LIMITS.soft_min_heads_up
    assert float(details["p_value"]) <= LIMITS.soft_max_p_value
    for hand in (h for h in hands if h.hand_id in found[0].hand_ids):
        assert any(len(d.live) == 2 and d.live == {13, 14} for d in hand.decisions)
    assert chip_dumping(hands, LIMITS) == []


def test_a_metronome_bot_is_flagged_and_people_are_not():
    hands = records(play_session(USERS, 150, seed=3, think={15: metronome}))
    found = bot_timing(hands, LIMITS)
    print(f"metronome bot, 150 hands: {counts(hands)}")
    assert [f.user_id for f in found] == [15]
    assert found[0].details["cv_pct"] <= LIMITS.timing_max_cv_pct
    assert found[0].details["decisions"] >= LIMITS.timing_min_actions


def test_a_player_with_too_few_timed_decisions_is_not_judged():
    hands = records(play_session(USERS, 10, seed=4, think={15: metronome}))
    assert bot_timing(hands, LIMITS) == []


def test_players_sharing_a_device_or_an_address_at_a_table_are_flagged_both_ways():
    hands = records(play_session(USERS, 5, seed=5))
    identities = {
        11: {"ip": frozenset({"203.0.113.1"}), "device_id": frozenset({"dev-a"})},
        12: {"ip": frozenset({"198.51.100.2"}), "device_id": frozenset({"dev-a"})},
        13: {"ip": frozenset({"198.51.100.3"}), "device_id": frozenset({"dev-c"})},
        14: {"ip": frozenset({"198.51.100.3"}), "device_id": frozenset()},
        15: {"ip": frozenset({"192.0.2.5"}), "device_id": frozenset({"dev-e"})},
    }
    found = shared_identity(hands, identities, LIMITS)
    pairs = {(f.user_id, f.other_user_id): f.details for f in found}
    assert pairs == {
        (11, 12): {"device_id": ["dev-a"]},
        (12, 11): {"device_id": ["dev-a"]},
        (13, 14): {"ip": ["198.51.100.3"]},
        (14, 13): {"ip": ["198.51.100.3"]},
    }
    assert all(f.signal is AmlRule.SHARED_IDENTITY and f.hand_count == 5 for f in found)
