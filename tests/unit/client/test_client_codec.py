"""The client's MessagePack decoder (holdem.client.codec) gives exactly the protocol's
message, for real messages and for any frame a server could send, and refuses what the
protocol's refuses."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from holdem.client.codec import client_codec
from holdem.protocol.codec import (
    BINARY_HEX,
    JSON,
    JSON_SUBPROTOCOL,
    KEYS,
    MSGPACK,
    MSGPACK_SUBPROTOCOL,
)
from holdem.protocol.errors import MalformedMessage
from tests.wire_hands import seeded_hand_messages

CLIENT = client_codec(MSGPACK_SUBPROTOCOL)


def test_real_messages_decode_as_the_protocol_decodes_them():
    messages = seeded_hand_messages()
    assert any(m.get("openings") for m in messages)
    for message in messages:
        frame = MSGPACK.encode(message)
        assert CLIENT.decode(frame) == MSGPACK.decode(frame) == JSON.decode(JSON.encode(message))


# Raw MessagePack values a server could send: numbered and named keys (out-of-range numbers,
# booleans, the binary fields' names), bytes anywhere, maps and lists at any depth.
KEYS_ON_WIRE = st.one_of(
    st.integers(-2, len(KEYS) + 2),
    st.booleans(),
    st.sampled_from([*sorted(BINARY_HEX), "type", "not_a_key"]),
    st.sampled_from([KEYS.index(name) for name in sorted(BINARY_HEX)]),
)
RAW = st.recursive(
    st.one_of(
        st.integers(-(2**63), 2**64 - 1),
        st.booleans(),
        st.none(),
        st.text(max_size=4),
        st.binary(max_size=6),
        st.floats(allow_nan=False),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS_ON_WIRE, inner, max_size=4),
    max_leaves=14,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS_ON_WIRE, RAW, max_size=5) | RAW)
def test_any_frame_decodes_or_is_refused_as_the_protocol_does(value: Any):
    frame = msgpack.packb(value, use_bin_type=True)
    try:
        expected = MSGPACK.decode(frame)
    except MalformedMessage:
        with pytest.raises(MalformedMessage):
            CLIENT.decode(frame)
        return
    assert CLIENT.decode(frame) == expected


def test_malformed_frames_are_refused():
    for frame in ("a text frame", b"\xc1", b"\x93\x01\x02\x03", b"\x81\x01"):
        with pytest.raises(MalformedMessage):
            CLIENT.decode(frame)


def test_json_is_the_protocols_and_encoding_is_unchanged():
    assert client_codec(JSON_SUBPROTOCOL) is JSON
    assert client_codec(None) is JSON
    message = seeded_hand_messages()[-1]
    assert CLIENT.encode(message) == MSGPACK.encode(message)
    assert (CLIENT.name, CLIENT.binary) == ("msgpack", True)
