"""What the SDK's reading loop gives to whom: every message to `on_message` and to the request
awaiting it, only the kept ones (`keep`) to `messages()`; and the heartbeat's timing. A local
stub server stands in for a table server (same loop as the client, so both read one clock)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve

from holdem.client import TableClient

EVENTS = [
    {"type": "event", "event": "action", "table_id": 7, "seat": 1, "kind": "call"},
    {"type": "event", "event": "turn", "table_id": 7, "seat": 2, "decision": 3},
    {"type": "event", "event": "pots_updated", "table_id": 7, "pots": []},
    {"type": "event", "event": "turn", "table_id": 7, "seat": 0, "decision": 4},
]


class Stub:
    """Answers ``auth`` and ``join``, then sends `EVENTS` and closes; notes the pings' times."""

    def __init__(self, heartbeat_s: float = 20.0, then_close: bool = True) -> None:
        self.heartbeat_s = heartbeat_s
        self.then_close = then_close
        self.pings: list[float] = []

    async def __call__(self, conn: ServerConnection) -> None:
        async for frame in conn:
            message: dict[str, Any] = orjson.loads(frame)
            if message["type"] == "auth":
                answer = {"type": "authenticated", "id": message["id"], "user_id": 5}
                answer |= {"connection_id": "c1", "server": "s", "heartbeat_s": self.heartbeat_s}
                await conn.send(orjson.dumps(answer).decode())
            elif message["type"] == "join":
                snapshot = {"type": "snapshot", "id": message["id"], "table_id": 7, "seats": []}
                await conn.send(orjson.dumps(snapshot).decode())
                for event in EVENTS:
                    await conn.send(orjson.dumps(event).decode())
                if self.then_close:
                    await conn.close()
            elif message["type"] == "ping":
                self.pings.append(asyncio.get_running_loop().time())
                await conn.send(orjson.dumps({"type": "pong"}).decode())


async def test_keep_gives_messages_only_what_it_keeps_and_on_message_everything():
    seen: list[dict[str, Any]] = []
    async with serve(Stub(), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = TableClient(
            f"ws://127.0.0.1:{port}/",
            "token",
            encoding="json",
            on_message=seen.append,
            keep=lambda message: message.get("event") == "turn",
        )
        await client.connect()
        snapshot = await client.join(7)  # the answer reaches its request, though not kept
        assert snapshot["type"] == "snapshot"
        kept = [message async for message in client.messages()]  # ends when the server closes
        await client.close()
    assert [(m["seat"], m["decision"]) for m in kept] == [(2, 3), (0, 4)]
    assert [m.get("event") for m in seen if m["type"] == "event"] == [e["event"] for e in EVENTS]
    assert [m["type"] for m in seen[:2]] == ["authenticated", "snapshot"]


async def test_without_keep_messages_gives_every_message_in_order():
    async with serve(Stub(), "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = TableClient(f"ws://127.0.0.1:{port}/", "token", encoding="json")
        await client.connect()
        await client.join(7)
        received = [message async for message in client.messages()]
        await client.close()
    assert [m["type"] for m in received[:2]] == ["authenticated", "snapshot"]
    assert received[2:] == EVENTS


async def test_the_heartbeat_ping_waits_for_the_whole_second_after_its_interval():
    stub = Stub(heartbeat_s=0.3, then_close=False)
    async with serve(stub, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = TableClient(f"ws://127.0.0.1:{port}/", "token", encoding="json")
        await client.connect()
        last_sent = client._last_sent  # the auth: nothing is sent after it
        pong = await client.wait_for(lambda message: message["type"] == "pong", wait_s=5)
        await client.close()
    assert pong["type"] == "pong"
    [ping] = stub.pings
    # Not at last_sent + 0.3, but on the first whole second of the loop's clock after it,
    # where the heartbeats of the process's other clients fall due too.
    assert ping >= math.ceil(last_sent + 0.3)
