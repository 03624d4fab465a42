"""The PokerStars export read by an independent parser: PokerKit's own ``PokerStarsParser``.

Tracking tools read PokerStars text; PokerKit (uoftcprg/pokerkit) parses it the way they do
and replays every hand with its own engine. PokerKit takes no rake, so a hand's final stacks
there are the server's plus the rake of the pots each player won.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pokerkit import PokerStarsParser

from holdem.services.hand_export import TableFacts, to_pokerstars
from tests.economy_hands import play_random, record_of

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
USERS = [101, 102, 103, 104, 105, 106]
NAMES = {u: f"n{u}" for u in USERS}
HANDS = 200


def _expected_pokerkit_stacks(hand) -> dict[str, int]:
    """Each player's final stack with no rake: the server's, plus the rake of pots they won.

    Each pot's rake goes back to its winners as PokerKit splits a pot: evenly, the odd chips
    to the first winners in its order (which the test only needs when a raked pot is split).
    """
    start = next(e.payload for e in hand.events if e.type == "hand_started")
    final = {
        NAMES[p.user_id]: dict(zip(start["seats"], start["stacks"], strict=True))[p.seat_no] + p.net
        for p in hand.players
    }
    by_seat = {p.seat_no: NAMES[p.user_id] for p in hand.players}
    for e in hand.events:
        if e.type == "pot_awarded" and e.payload["rake"]:
            winners = [winner["seat"] for winner in e.payload["winners"]]
            share, odd = divmod(e.payload["rake"], len(winners))
            for i, seat in enumerate(winners):
                final[by_seat[seat]] += share + (1 if i < odd else 0)
    return final


# PokerKit 0.7.7 warns about a field its own PokerStars parser sets (time_zone_abbreviation).
@pytest.mark.filterwarnings("ignore:The field 'time_zone_abbreviation' is an unexpected field")
def test_pokerkit_reads_every_exported_hand_to_the_servers_stacks_plus_rake():
    parser = PokerStarsParser()
    texts, hands = [], []
    for i in range(HANDS):
        hand = record_of(play_random(i), USERS, AT + timedelta(minutes=i), hand_id=i + 1)
        viewer = hand.players[i % len(hand.players)].user_id
        hands.append(hand)
        texts.append(to_pokerstars(hand, NAMES, viewer, TableFacts("Seoul 6-max", 6)))
    parsed = list(parser("\n\n".join(texts), parse_value=int, error_status=True))
    assert len(parsed) == HANDS
    showdowns = split_raked = 0
    for hand, history in zip(hands, parsed, strict=True):
        assert history.hand == hand.id
        assert history.table == "Seoul 6-max"
        *_, state = iter(history)
        got = dict(zip(history.players, state.stacks, strict=True))
        expected = _expected_pokerkit_stacks(hand)
        showdowns += any(e.type == "hand_shown" for e in hand.events)
        raked_splits = [
            e
            for e in hand.events
            if e.type == "pot_awarded" and e.payload["rake"] and len(e.payload["winners"]) > 1
        ]
        split_raked += bool(raked_splits)
        if raked_splits:
            # Who gets a split pot's odd rake chip is PokerKit's choice: compare the totals.
            assert sum(got.values()) == sum(expected.values())
        else:
            assert got == {name: expected[name] for name in got}
    print(f"PokerKit: {len(parsed)} of {HANDS} hands parsed and matched the server's stacks plus")
    print(f"rake ({showdowns} with a showdown, {split_raked} with a raked split pot)")
    assert showdowns > HANDS // 10
