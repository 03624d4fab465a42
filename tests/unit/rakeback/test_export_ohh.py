"""The Open Hand History export against the spec's fields (hh-specs.handhistory.org, 1.4.6).

Every field the spec requires for a cash hand is present with its type, the showdown round
carries ``cards`` like every round, and seats are numbered as documented (``id`` from 0,
``seat`` from 1).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.services.hand_export import TableFacts, to_ohh
from tests.economy_hands import play_random, record_of

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
USERS = [101, 102, 103, 104, 105, 106]
NAMES = {u: f"n{u}" for u in USERS}
NUMBER = (int, float)

TOP = {
    "spec_version": str,
    "site_name": str,
    "network_name": str,
    "internal_version": str,
    "tournament": bool,
    "game_number": str,
    "start_date_utc": str,
    "table_name": str,
    "table_handle": str,
    "table_skin": str,
    "game_type": str,
    "bet_limit": dict,
    "table_size": int,
    "currency": str,
    "dealer_seat": int,
    "small_blind_amount": NUMBER,
    "big_blind_amount": NUMBER,
    "ante_amount": NUMBER,
    "hero_player_id": int,
    "flags": list,
    "players": list,
    "rounds": list,
    "pots": list,
}
PLAYER = {
    "id": int,
    "seat": int,
    "name": str,
    "display": str,
    "starting_stack": NUMBER,
    "is_sitting_out": bool,
}
ROUND = {"id": int, "street": str, "cards": list, "actions": list}
ACTION = {"action_number": int, "player_id": int, "action": str}
POT = {"number": int, "amount": NUMBER, "rake": NUMBER, "jackpot": NUMBER, "player_wins": list}
WIN = {"player_id": int, "win_amount": NUMBER}
ACTIONS = {
    "Dealt Cards", "Post SB", "Post BB", "Post Dead", "Post Extra Blind", "Fold", "Check",
    "Bet", "Raise", "Call", "Shows Cards", "Mucks Cards",
}  # fmt: skip


def _has(obj: dict, fields: dict) -> None:
    for name, kind in fields.items():
        assert name in obj, name
        assert isinstance(obj[name], kind), (name, obj[name])
        assert not isinstance(obj[name], bool) or kind is bool, name


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 5))
def test_every_ohh_document_has_the_specs_fields_and_types(seed, viewer_seat):
    hand = record_of(play_random(seed), USERS, AT, hand_id=9, table_id=4)
    viewer = next(p for p in hand.players if p.seat_no == viewer_seat)
    document = to_ohh(hand, NAMES, viewer.user_id, TableFacts("Seoul 6-max", 6))
    assert list(document) == ["ohh"]
    ohh = document["ohh"]
    _has(ohh, TOP)
    assert ohh["spec_version"] == "1.4.6"
    assert ohh["table_name"] == "Seoul 6-max"
    assert ohh["table_handle"] == "4"
    assert ohh["bet_limit"] == {"bet_type": "NL", "bet_cap": 0}
    assert ohh["hero_player_id"] == viewer_seat
    assert ohh["dealer_seat"] == hand.button_seat + 1
    datetime.strptime(ohh["start_date_utc"], "%Y-%m-%dT%H:%M:%SZ")
    for player in ohh["players"]:
        _has(player, PLAYER)
        assert player["seat"] == player["id"] + 1
    numbers = []
    for i, round_ in enumerate(ohh["rounds"]):
        _has(round_, ROUND)
        assert round_["id"] == i
        for action in round_["actions"]:
            _has(action, ACTION)
            assert action["action"] in ACTIONS
            numbers.append(action["action_number"])
    assert numbers == list(range(1, len(numbers) + 1))
    for pot in ohh["pots"]:
        _has(pot, POT)
        for win in pot["player_wins"]:
            _has(win, WIN)
