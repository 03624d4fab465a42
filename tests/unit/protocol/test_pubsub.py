"""The fleet's pub/sub channel names and envelope: made and read back by one module."""

from __future__ import annotations

import doctest

import msgpack

from holdem.protocol import pubsub
from holdem.protocol.pubsub import (
    LOBBY_CHANNEL,
    pack,
    pack_batch,
    published_by,
    table_channel,
    table_of_channel,
    unpack,
    user_channel,
    user_of_channel,
)


def test_the_examples_in_the_module_docstring_run():
    result = doctest.testmod(pubsub)
    assert result.attempted > 0
    assert result.failed == 0


def test_a_channel_name_reads_back_as_what_made_it_and_nothing_else():
    assert user_of_channel(user_channel(42)) == 42
    assert table_of_channel(table_channel(9)) == 9
    for other in (LOBBY_CHANNEL, table_channel(9), "ws:user:", "ws:user:7:x", "ws:table:9:lease"):
        assert user_of_channel(other) is None
    for other in (LOBBY_CHANNEL, user_channel(9), "ws:table:x:events", "ws:table:9:state"):
        assert table_of_channel(other) is None


def test_the_envelope_is_the_wire_format_the_table_servers_read():
    assert msgpack.unpackb(pack({"type": "x"}, "c1")) == {"conn": "c1", "msg": {"type": "x"}}
    two = [{"type": "a"}, {"type": "b"}]
    assert msgpack.unpackb(pack_batch(two, "c1")) == {"conn": "c1", "msgs": two}
    assert pack_batch(two[:1], None) == pack(two[0])
    assert unpack(pack_batch(two)) == (None, None, two)
    assert unpack(pack_batch(two, "c1", source="w7")) == ("w7", "c1", two)  # a table owner's


def test_a_server_tells_its_own_tables_payloads_from_the_first_bytes():
    msgs = [{"type": "a"}, {"type": "b"}]
    for conn in (None, "c1"):
        for batch in (msgs, msgs[:1]):
            assert published_by(pack_batch(batch, conn, source="w7"), "w7")
            assert not published_by(pack_batch(batch, conn, source="w70"), "w7")
            assert not published_by(pack_batch(batch, conn, source="w"), "w7")
            assert not published_by(pack_batch(batch, conn), "w7")
    assert not published_by(pack({"type": "x", "src": "w7"}), "w7")
