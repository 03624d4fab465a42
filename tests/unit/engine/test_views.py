"""Views never show hole cards the viewer may not see (SPEC §4 "Privacy")."""

from __future__ import annotations

from engine_script import deal, make_table, play

from holdem.engine import parse_cards

HOLE = {0: "AsAd", 1: "KsKd", 2: "7c2d"}
PLAIN = (dict, list, int, str, bool, type(None))


def cards_seen(view):
    return {entry["seat"]: entry["cards"] for entry in view["seats"] if entry["cards"]}


def assert_plain(value):
    assert type(value) in PLAIN, value
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)


def test_a_player_sees_only_their_own_hole_cards_during_the_hand():
    table = make_table([200_000] * 3)
    deal(table, HOLE, button=0)
    for seat, text in HOLE.items():
        assert cards_seen(table.view_for(seat)) == {seat: parse_cards(text)}
    assert cards_seen(table.spectator_view()) == {}


def test_cards_shown_at_showdown_become_visible_to_everyone_mucked_cards_never():
    table = make_table([200_000] * 3)
    hand = deal(table, HOLE, "Qh9c5s3d8h", button=0)
    play(hand, "p0 call; p1 call; p2 check")
    for _ in range(3):
        play(hand, "p1 check; p2 check; p0 check")
    # Seat 1 shows first (left of the button), seat 2's 7-2 is mucked, seat 0's aces shown.
    assert [s for s, _ in hand.result.shown] == [1, 0]
    assert hand.result.mucked == (2,)
    public = {0: parse_cards("AsAd"), 1: parse_cards("KsKd")}
    assert cards_seen(table.spectator_view()) == public
    assert cards_seen(table.view_for(2)) == {**public, 2: parse_cards("7c2d")}
    assert cards_seen(table.view_for(1)) == public


def test_a_winner_without_a_showdown_keeps_their_cards_hidden():
    table = make_table([200_000] * 3)
    hand = deal(table, HOLE, button=0)
    play(hand, "p0 raise 6000; p1 fold; p2 fold")
    assert cards_seen(table.spectator_view()) == {}
    assert cards_seen(table.view_for(1)) == {1: parse_cards("KsKd")}


def test_the_view_shows_the_table_and_the_viewers_legal_actions_as_plain_data():
    table = make_table([200_000, 200_000, 200_000, None])
    hand = deal(table, HOLE, button=0)
    hand.call(0)
    view = table.view_for(1)
    assert_plain(view)
    assert view["to_act"] == 1
    assert view["street"] == "preflop"
    assert view["running"]
    assert (view["button"], view["small_blind_seat"], view["big_blind_seat"]) == (0, 1, 2)
    assert view["legal_actions"] == {
        "seat": 1,
        "can_fold": True,
        "can_check": False,
        "call_amount": 1_000,
        "min_raise_to": 4_000,
        "max_raise_to": 200_000,
        "can_bet": False,
        "can_raise": True,
    }
    assert table.view_for(2)["legal_actions"] is None
    seats = view["seats"]
    assert [(s["player_id"], s["stack"], s["bet"]) for s in seats] == [
        ("p0", 198_000, 2_000),
        ("p1", 199_000, 1_000),
        ("p2", 198_000, 2_000),
        (None, 0, 0),
    ]
    assert [s["status"] for s in seats] == ["active", "active", "active", "empty"]


def test_a_table_without_a_hand_has_a_plain_view():
    table = make_table([200_000, None])
    view = table.spectator_view()
    assert_plain(view)
    assert view["hand_number"] is None
    assert view["seats"][0]["status"] == "waiting"


def test_a_player_who_takes_a_seat_after_its_hand_sees_nothing_of_that_hands_cards():
    table = make_table([200_000] * 3)
    hand = table.start_hand(seed=bytes(range(32)), button=0)
    play(hand, "p0 fold; p1 fold")  # seat 0's folded cards, then a walk
    assert hand.result is not None
    assert cards_seen(table.view_for(0)) == {0: list(hand.hole_cards(0))}
    table.leave(0)
    table.sit_down(0, "newcomer", 200_000)
    view = table.view_for(0)
    assert cards_seen(view) == {}
    assert view["openings"] == []
    table.leave(0)
    table.sit_down(0, "p0", 200_000)  # the same player back in the same seat
    assert cards_seen(table.view_for(0)) == {0: list(hand.hole_cards(0))}
