"""Openings on the wire: hex in JSON, raw bytes in MessagePack, the same message decoded."""

from __future__ import annotations

import msgpack

from holdem.engine import Table, TableConfig
from holdem.protocol.codec import JSON, KEYS, MSGPACK
from holdem.protocol.views import view_to_wire
from tests.wire_hands import seeded_hand_messages


def test_both_encodings_decode_to_the_same_message_and_msgpack_sends_raw_bytes():
    for message in seeded_hand_messages():
        assert MSGPACK.decode(MSGPACK.encode(message)) == JSON.decode(JSON.encode(message))
        raw = msgpack.unpackb(MSGPACK.encode(message), raw=False, strict_map_key=False)
        if message.get("openings"):
            openings = raw[KEYS.index("openings")]
            nonces = [o[KEYS.index("nonce")] for o in openings]
            assert all(type(n) is bytes and len(n) == 32 for n in nonces)


def test_messages_with_openings_stay_at_least_half_smaller_in_msgpack():
    for message in seeded_hand_messages():
        if message.get("openings"):
            assert len(MSGPACK.encode(message)) <= 0.5 * len(JSON.encode(message)), message["type"]


def test_openings_sent_again_are_new_dicts_with_the_same_bytes_as_a_fresh_wire_form():
    table = Table(TableConfig(seats=6, small_blind=1_000, big_blind=2_000))
    for seat in range(6):
        table.sit_down(seat, str(1_000 + seat), 200_000)
    table.start_hand(seed=bytes(range(32)), button=0)
    view = table.view_for(0)
    first, again = view_to_wire(view)["openings"], view_to_wire(view)["openings"]

    assert first == again == [opening.to_wire() for opening in view["openings"]]
    for one, other, opening in zip(first, again, view["openings"], strict=True):
        assert one is not other
        assert one["proof"] is not other["proof"]
        plain = opening.to_wire()
        assert MSGPACK.encode({"openings": [one]}) == MSGPACK.encode({"openings": [plain]})
        assert JSON.encode({"openings": [one]}) == JSON.encode({"openings": [plain]})
