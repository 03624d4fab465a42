"""Properties over random hands played by the engine (no database).

* an archive object decodes to exactly the hands encoded, in every format;
* each hand's rake shares add up to its rake;
* the PokerStars export of any hand parses back to every player's net and the rake, and
  shows no hole cards but the viewer's own and those shown at showdown.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.services.archive import decode_batch, encode_batch
from holdem.services.hand_export import TableFacts, to_ohh, to_pokerstars
from tests.economy_hands import play_random, record_of
from tests.economy_pokerstars import parse_pokerstars

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
USERS = [101, 102, 103, 104, 105, 106]
NAMES = {u: f"n{u}" for u in USERS}
seeds = st.integers(0, 2**32)


@settings(max_examples=25, deadline=None)
@given(st.lists(seeds, min_size=1, max_size=8), st.sampled_from([".msgpack.xz", ".msgpack.gz"]))
def test_an_archive_object_decodes_to_exactly_the_hands_encoded(hand_seeds, fmt):
    hands = [
        record_of(play_random(s), USERS, AT + timedelta(minutes=i), hand_id=i + 1)
        for i, s in enumerate(hand_seeds)
    ]
    decoded = decode_batch(encode_batch(hands, fmt), fmt)
    assert decoded == hands
    for hand in hands:
        assert sum(p.rake_share for p in hand.players) == hand.rake
        assert sum(p.net for p in hand.players) == -hand.rake


@settings(max_examples=60, deadline=None)
@given(seeds, st.integers(0, 5))
def test_any_hand_exports_to_text_that_parses_back_and_hides_other_cards(seed, viewer_seat):
    hand = record_of(play_random(seed), USERS, AT, hand_id=7)
    viewer = next(p for p in hand.players if p.seat_no == viewer_seat)
    text = to_pokerstars(hand, NAMES, viewer.user_id, TableFacts("Seoul 6-max", 6))
    facts = parse_pokerstars(text)[0]
    assert {p.seat_no: facts["net"][NAMES[p.user_id]] for p in hand.players} == {
        p.seat_no: p.net for p in hand.players
    }
    assert facts["rake"] == hand.rake
    assert facts["pot"] - facts["rake"] == facts["collected"]
    assert facts["dealt"] == {NAMES[viewer.user_id]: [viewer.hole_cards[:2], viewer.hole_cards[2:]]}
    board = set(hand.board.split())
    ohh = str(to_ohh(hand, NAMES, viewer.user_id))
    for other in hand.players:
        if other.user_id == viewer.user_id or other.shown:
            continue
        for card in (other.hole_cards[:2], other.hole_cards[2:]):
            if card not in board:
                assert not re.search(rf"\b{card}\b", text)  # a card, not "Aces" for "Ac"
                assert f"'{card}'" not in ohh
