"""Connections: authentication, encodings, limits, heartbeat and bad input (real servers)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from contextlib import asynccontextmanager

import httpx
import msgpack
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, Side

from edge.connections import OUTBOX_LIMIT, ws_frame
from holdem.client import ClientError
from holdem.protocol.codec import MSGPACK, MSGPACK_SUBPROTOCOL
from tests.edge.conftest import fast_settings, url_of


@pytest.mark.parametrize(
    ("payload", "opcode", "data"),
    [
        ('{"type":"pong","note":"한글"}', Opcode.TEXT, '{"type":"pong","note":"한글"}'.encode()),
        (b"\x81\xa4type\xa4pong", Opcode.BINARY, b"\x81\xa4type\xa4pong"),
        (b"x" * 300, Opcode.BINARY, b"x" * 300),  # a 16-bit length
        ("y" * 65_535, Opcode.TEXT, b"y" * 65_535),  # the largest 16-bit length
        (b"x" * 70_000, Opcode.BINARY, b"x" * 70_000),  # a 64-bit length
    ],
)
def test_a_frame_serialized_once_is_one_whole_message_to_any_client(payload, opcode, data):
    client = Protocol(Side.CLIENT)  # an open connection, as a client reads it

    client.receive_data(ws_frame(payload))

    [frame] = client.events_received()
    assert isinstance(frame, Frame)
    assert (frame.opcode, frame.data, frame.fin) == (opcode, data, True)


async def test_healthz_and_readyz_answer_on_the_websocket_port(start_edge):
    server = await start_edge()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert (await http.get("/nope")).status_code == 404


async def test_msgpack_is_preferred_and_json_is_the_fallback(start_edge, make_players, clients):
    server = await start_edge()
    [player] = await make_players(1)
    for encoding, expected in [("msgpack", "msgpack"), ("json", "json"), (None, "json")]:
        client = clients(url_of(server), player.token, encoding=encoding)
        hello = await client.connect()
        assert hello["encoding"] == expected
        assert hello["user_id"] == player.user_id
        pong = await client.request({"type": "ping"})
        assert pong["type"] == "pong"
        await client.close()


async def test_the_first_message_must_be_auth(start_edge, make_players, clients):
    server = await start_edge()
    [player] = await make_players(1)
    client = clients(url_of(server), player.token, encoding="json")
    await client.connect(authenticate=False)
    await client.send({"type": "join", "table_id": 1})
    error = await client.next_message()
    assert error["code"] == "not_authenticated"
    closed = await client.wait_closed()
    assert (closed.code, closed.reason) == (4001, "not_authenticated")


@pytest.mark.parametrize("token", ["garbage", "", "x" * 5000])
async def test_a_bad_token_closes_with_4001(start_edge, clients, token):
    server = await start_edge()
    client = clients(url_of(server), token, encoding="msgpack")
    await client.connect(authenticate=False)
    await client.send({"type": "auth", "token": token})
    closed = await client.wait_closed()
    assert closed.code == 4001


async def test_a_fourth_connection_of_a_user_closes_the_oldest(start_edge, make_players, clients):
    server = await start_edge()
    other = await start_edge()
    [player] = await make_players(1)
    opened = []
    for index in range(4):
        # Across two servers: the per-user limit holds for the whole fleet.
        target = server if index % 2 == 0 else other
        client = clients(url_of(target), player.token)
        await client.connect()
        opened.append(client)
    closed = await opened[0].wait_closed()
    assert (closed.code, closed.reason) == (4003, "replaced_by_newer_connection")
    for client in opened[1:]:
        assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_the_connection_beyond_the_server_limit_is_refused(
    start_edge, make_players, clients, edge_settings
):
    # The limit is 600 by default; this test sets it to 5 (WS__MAX_CONNECTIONS) and opens 6.
    server = await start_edge(fast_settings(edge_settings, ws={"max_connections": 5}))
    players = await make_players(6)
    for player in players[:5]:
        await clients(url_of(server), player.token).connect()
    sixth = clients(url_of(server), players[5].token)
    await sixth.connect(authenticate=False)
    closed = await sixth.wait_closed()
    assert (closed.code, closed.reason) == (1013, "server_full")


async def test_a_silent_connection_is_closed_and_forgotten(
    start_edge, make_players, clients, edge_settings
):
    server = await start_edge(fast_settings(edge_settings, ws={"idle_timeout_s": 0.5}))
    [player] = await make_players(1)
    client = clients(url_of(server), player.token, heartbeat_s=3600)
    await client.connect()
    closed = await client.wait_closed()
    assert (closed.code, closed.reason) == (4008, "idle_timeout")
    for _ in range(100):
        if not server.registry.by_id:
            break
        await asyncio.sleep(0.02)
    assert not server.registry.by_id
    assert not await server.container.redis.hgetall(f"ws:connections:{player.user_id}")


async def test_the_sdk_heartbeat_pings_only_a_connection_that_sent_nothing(
    start_edge, make_players, clients
):
    server = await start_edge()
    idle_player, busy_player = await make_players(2)
    idle = clients(url_of(server), idle_player.token, heartbeat_s=0.2)
    await idle.connect()
    # Nothing sent: the heartbeat pings (its pong carries no request id).
    pong = await idle.wait_for(lambda m: m["type"] == "pong" and m.get("id") is None, wait_s=10)
    assert pong["type"] == "pong"
    busy = clients(url_of(server), busy_player.token, heartbeat_s=1.0, record=True)
    await busy.connect()
    # A connection that sends every 0.1 s is never silent for `heartbeat_s`: no heartbeat
    # (a timer-driven ping would have gone out twice in these 2.5 s).
    for _ in range(25):
        assert (await busy.request({"type": "ping"}))["type"] == "pong"
        await asyncio.sleep(0.1)
    heartbeats = [m for m in busy.received if m["type"] == "pong" and m.get("id") is None]
    assert heartbeats == []


async def test_bad_input_gets_its_error_code_and_the_connection_stays_usable(
    start_edge, make_players, make_table, clients
):
    server = await start_edge()
    [player] = await make_players(1)
    table_id = await make_table()
    js = clients(url_of(server), player.token, encoding="json")
    mp = clients(url_of(server), player.token, encoding="msgpack")
    await js.connect()
    await mp.connect()
    big = server.settings.ws.max_frame_bytes
    cases = [
        (js, "{not json", "malformed_message"),
        (js, "[1, 2]", "malformed_message"),
        (js, orjson.dumps({"type": "fly"}).decode(), "unknown_message_type"),
        (js, orjson.dumps({"no": "type"}).decode(), "unknown_message_type"),
        (js, orjson.dumps({"type": "ping", "pad": "x" * big}).decode(), "frame_too_large"),
        (mp, b"\xc1\xff\x00", "malformed_message"),
        (mp, "text frame on msgpack", "malformed_message"),
        (
            mp,
            msgpack.packb({"type": "sit", "table_id": table_id, "seat": 0, "buy_in": 1.5}),
            "invalid_message",
        ),
        (
            mp,
            msgpack.packb({"type": "sit", "table_id": table_id, "seat": 0, "buy_in": -5}),
            "invalid_message",
        ),
        (
            mp,
            msgpack.packb({"type": "sit", "table_id": table_id, "seat": 0, "buy_in": "100"}),
            "invalid_message",
        ),
        (
            mp,
            msgpack.packb({"type": "sit", "table_id": table_id, "seat": 0, "buy_in": 10**13}),
            "invalid_message",
        ),
        (
            mp,
            msgpack.packb({"type": "top_up", "table_id": table_id, "amount": True}),
            "invalid_message",
        ),
        (
            mp,
            msgpack.packb(
                {
                    "type": "act",
                    "id": "a1",
                    "table_id": table_id,
                    "hand": 1,
                    "seq": 1,
                    "action": "fold",
                }
            ),
            "not_joined",
        ),
        (mp, msgpack.packb({"type": "join", "table_id": 999_999}), "table_not_found"),
        (mp, msgpack.packb({"type": "auth", "token": player.token}), "already_authenticated"),
    ]
    for client, frame, code in cases:
        await client.send_raw(frame)
        error = await client.wait_for(lambda m: m["type"] == "error")
        assert error["code"] == code, (frame, error)
    with pytest.raises(ClientError) as raised:
        await mp.request(
            {
                "type": "act",
                "table_id": table_id,
                "hand": 1,
                "seq": 1,
                "action": "raise",
                "amount": -1,
            }
        )
    assert raised.value.code == "invalid_message"
    assert (await js.request({"type": "ping"}))["type"] == "pong"
    assert (await mp.request({"type": "ping"}))["type"] == "pong"
    # Every one of them is the client's mistake: counted, but not as a server fault (the
    # error-rate alerts count only fault="server").
    errors = [
        sample
        for family in server.metrics.registry.collect()
        for sample in family.samples
        if sample.name == "edge_errors_total" and sample.value
    ]
    assert sum(e.value for e in errors) == len(cases) + 1
    assert {e.labels["fault"] for e in errors} == {"client"}
    # The messages that passed validation are counted by type (refused ones or not).
    received = {
        sample.labels["type"]: sample.value
        for family in server.metrics.registry.collect()
        for sample in family.samples
        if sample.name == "edge_messages_received_total"
    }
    assert received == {"act": 1, "join": 1, "auth": 1, "ping": 2}


async def test_a_flood_is_rate_limited(start_edge, make_players, clients, edge_settings):
    server = await start_edge(
        fast_settings(edge_settings, ws={"messages_per_second": 1.0, "message_burst": 3})
    )
    [player] = await make_players(1)
    client = clients(url_of(server), player.token, heartbeat_s=3600)
    await client.connect()
    for _ in range(6):
        await client.send({"type": "ping"})
    answers = [await client.next_message() for _ in range(6)]
    assert [a["type"] for a in answers].count("pong") == 3
    assert {a.get("code") for a in answers if a["type"] == "error"} == {"rate_limited"}


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
async def test_messages_queued_together_arrive_as_separate_messages_in_order(
    start_edge, make_players, clients, encoding
):
    server = await start_edge()
    [player] = await make_players(1)
    client = clients(url_of(server), player.token, encoding=encoding, record=True)
    hello = await client.connect()
    conn = server.registry.by_id[hello["connection_id"]]

    for n in range(50):  # queued at once: the writer sends them in one socket write
        conn.send({"type": "notice", "table_id": 1, "code": "burst", "message": str(n)})
    conn.close_later(1000, "done")
    await client.wait_closed()

    burst = [m["message"] for m in client.received if m.get("code") == "burst"]
    assert burst == [str(n) for n in range(50)]


@asynccontextmanager
async def stalled_client(server, player):
    """A MessagePack client that authenticates, then stops reading (its library reads the
    socket only while fewer than one message waits), and the server's side of it."""
    async with connect(
        url_of(server), subprotocols=[MSGPACK_SUBPROTOCOL], max_queue=1, max_size=None
    ) as ws:
        await ws.send(MSGPACK.encode({"type": "auth", "token": player.token}))
        hello = MSGPACK.decode(await ws.recv())
        yield ws, server.registry.by_id[hello["connection_id"]]


async def fill_until_paused(conn) -> int:
    """Queue big numbered messages, one per event-loop turn, until the socket's write buffer
    is full (flow control holds the rest in the outbox); returns how many were queued."""
    for number in itertools.count():
        if conn.ws.paused:
            return number
        assert number < 400, "the socket never filled"
        conn.send({"type": "notice", "code": "big", "message": str(number), "pad": "x" * 2**19})
        await asyncio.sleep(0)  # one turn: the flush writes what was queued
    raise AssertionError  # unreachable


async def read_until_closed(ws) -> list[dict]:
    received = []
    with contextlib.suppress(ConnectionClosed):
        while True:
            received.append(MSGPACK.decode(await ws.recv()))
    return received


async def test_a_client_that_stopped_reading_is_closed_as_a_slow_consumer_after_what_it_was_sent(
    start_edge, make_players
):
    server = await start_edge()
    [player] = await make_players(1)
    async with stalled_client(server, player) as (ws, conn):
        queued = await fill_until_paused(conn)
        # Held while the client does not read: what fits the outbox waits, then it is closed.
        for number in range(queued, queued + OUTBOX_LIMIT + 1):
            conn.send({"type": "notice", "code": "small", "message": str(number)})
        assert conn.close_reason == (1008, "slow_consumer")

        received = await read_until_closed(ws)

    # What was written before the socket filled arrives, in order; what waited is dropped.
    assert [int(m["message"]) for m in received] == list(range(queued))
    assert (ws.close_code, ws.close_reason) == (1008, "slow_consumer")


async def test_a_close_waits_for_the_queued_messages_while_the_client_catches_up(
    start_edge, make_players
):
    server = await start_edge()
    [player] = await make_players(1)
    async with stalled_client(server, player) as (ws, conn):
        queued = await fill_until_paused(conn)
        for number in range(queued, queued + 50):  # held in the outbox (flow control)
            conn.send({"type": "notice", "code": "small", "message": str(number)})
        conn.close_later(4000, "done")
        conn.send({"type": "notice", "code": "small", "message": "after the close"})

        received = await read_until_closed(ws)

    assert [m["message"] for m in received] == [str(n) for n in range(queued + 50)]
    assert (ws.close_code, ws.close_reason) == (4000, "done")


async def test_messages_queued_after_the_client_closed_are_dropped_quietly(
    start_edge, make_players, clients
):
    server = await start_edge()
    [player] = await make_players(1)
    client = clients(url_of(server), player.token, encoding="msgpack")
    hello = await client.connect()
    conn = server.registry.by_id[hello["connection_id"]]
    ws = conn.ws

    await client.close()
    await ws.wait_closed()
    conn.send({"type": "notice", "code": "late", "message": "nobody reads this"})
    conn.close_later(1000, "")
    await conn.stop()  # returns: the connection is closed already

    assert conn.close_reason == (1000, "")
