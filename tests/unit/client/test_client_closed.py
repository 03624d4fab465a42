"""The SDK's failures are its own two exceptions: a refused handshake and a connection that
closed under a request both raise `ClosedError` (never websockets' exceptions, which a client
catching `ClosedError` — a bot's reconnect loop — would not expect). A local stub server
stands in for a table server."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from holdem.client import ClosedError, TableClient


def _draining(conn: ServerConnection, request: Request) -> Response:
    return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")


async def _close_at_once(conn: ServerConnection) -> None:
    await conn.close(1012, "service_restart")


async def test_a_refused_handshake_raises_closed_error():
    async with serve(_close_at_once, "127.0.0.1", 0, process_request=_draining) as server:
        port = server.sockets[0].getsockname()[1]
        client = TableClient(f"ws://127.0.0.1:{port}/", "token")
        with pytest.raises(ClosedError) as refused:
            await client.connect()
    assert refused.value.code is None
    assert "503" in refused.value.reason


async def test_a_request_on_a_closed_connection_raises_closed_error_and_keeps_the_command():
    async with serve(_close_at_once, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = TableClient(f"ws://127.0.0.1:{port}/", "token")
        await client.connect(authenticate=False)
        closed = await client.wait_closed()
        assert closed.code == 1012
        with pytest.raises(ClosedError):
            await client.request({"type": "sit_out", "table_id": 1})
        # A command is kept for the resend after a reconnect.
        assert [c["type"] for c in client.unanswered(1)] == ["sit_out"]
        await client.close()
