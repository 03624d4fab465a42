"""The bots' HTTP client (`loadtest.rest_client`): against aiohttp's server (a full HTTP/1.1
implementation: lengths, chunks, keep-alive) and, for the answers a well-behaved server
does not give, a raw socket server that writes exactly the bytes of each case."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from aiohttp import web

from loadtest.rest_client import HttpClient, HttpError


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, list[web.Request], set[object]]]:
    """An aiohttp server; the requests it saw, and the connections (transports) they came on."""
    seen: list[web.Request] = []
    transports: set[object] = set()

    async def echo(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        transports.add(request.transport)
        body = await request.read()
        answer = {
            "method": request.method,
            "path": request.path_qs,
            "authorization": request.headers.get("Authorization"),
            "content_type": request.headers.get("Content-Type"),
            "body": body.decode(),
        }
        if request.path == "/chunked":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for part in (b'{"parts": ', b"[1, 2, ", b"3]}"):
                await response.write(part)
            await response.write_eof()
            return response
        if request.path == "/empty":
            return web.Response(status=204)
        if request.path == "/close":
            response = web.json_response(answer, status=201)
            response.force_close()
            return response
        return web.json_response(answer, status=404 if request.path == "/missing" else 200)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen, transports
    finally:
        await runner.cleanup()


async def test_a_get_and_a_post_get_their_status_and_body_on_one_kept_connection(api):
    url, seen, transports = api
    client = HttpClient()
    status, body = await client.request(
        "GET", f"{url}/api/v1/lobby/tables?limit=20", {"Authorization": "Bearer abc"}
    )
    assert status == 200
    assert orjson.loads(body) == {
        "method": "GET",
        "path": "/api/v1/lobby/tables?limit=20",
        "authorization": "Bearer abc",
        "content_type": None,
        "body": "",
    }
    payload = orjson.dumps({"email": "a@b.c"})
    status, body = await client.request(
        "POST", f"{url}/api/v1/auth/login", {"Content-Type": "application/json"}, payload
    )
    assert status == 200
    assert orjson.loads(body)["body"] == payload.decode()
    assert orjson.loads(body)["content_type"] == "application/json"
    status, _ = await client.request("GET", f"{url}/missing")
    assert status == 404
    assert len(seen) == 3
    assert len(transports) == 1  # kept alive: one connection for the three calls
    await client.close()


async def test_chunked_and_empty_bodies_are_read_whole(api):
    url, _, transports = api
    client = HttpClient()
    assert await client.request("GET", f"{url}/chunked") == (200, b'{"parts": [1, 2, 3]}')
    assert await client.request("GET", f"{url}/empty") == (204, b"")
    assert await client.request("GET", f"{url}/chunked") == (200, b'{"parts": [1, 2, 3]}')
    assert len(transports) == 1
    await client.close()


async def test_connection_close_is_honoured_and_the_next_call_opens_another(api):
    url, _, transports = api
    client = HttpClient()
    status, _ = await client.request("POST", f"{url}/close", body=b"{}")
    assert status == 201
    status, _ = await client.request("GET", f"{url}/after")
    assert status == 200
    assert len(transports) == 2
    await client.close()


async def test_a_connection_idle_too_long_is_not_used_again(api):
    url, _, transports = api
    client = HttpClient(idle_s=0.05)
    await client.request("GET", f"{url}/one")
    await asyncio.sleep(0.1)
    await client.request("GET", f"{url}/two")
    assert len(transports) == 2
    await client.close()


async def test_concurrent_calls_beyond_the_limit_wait_for_a_free_connection(api):
    url, seen, transports = api
    client = HttpClient(limit=2)
    answers = await asyncio.gather(*(client.request("GET", f"{url}/n{i}") for i in range(10)))
    assert [status for status, _ in answers] == [200] * 10
    assert sorted(orjson.loads(body)["path"] for _, body in answers) == sorted(
        f"/n{i}" for i in range(10)
    )
    assert len(seen) == 10
    assert len(transports) <= 2
    await client.close()


# ---------------------------------------------------------------------------- raw answers


class RawServer:
    """A server answering the n-th request (of any connection) with ``answer(n)``."""

    def __init__(self, answer: Callable[[int], bytes], close_after: bool) -> None:
        self.answer = answer
        self.close_after = close_after
        self.calls = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                self.calls += 1
                writer.write(self.answer(self.calls - 1))
                await writer.drain()
                if self.close_after:
                    break
        writer.close()


async def test_a_body_without_length_is_read_until_the_server_closes():
    client = HttpClient()
    async with RawServer(lambda n: b"HTTP/1.1 200 OK\r\n\r\nto the end", True) as url:
        assert await client.request("GET", f"{url}/") == (200, b"to the end")
        assert await client.request("GET", f"{url}/") == (200, b"to the end")  # reconnected
    await client.close()


async def test_an_interim_answer_is_skipped_and_an_answer_in_pieces_is_joined():
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello"
    )
    client = HttpClient()
    async with RawServer(lambda n: answer, False) as url:
        assert await client.request("GET", f"{url}/") == (200, b"hello")
        await client.close()


async def test_a_server_closing_mid_answer_fails_the_call_and_a_new_call_reconnects():
    answers = [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", b"HTTP/1.1 200 OK\r\n"]
    client = HttpClient()
    server = RawServer(lambda n: answers[min(n, 1)], True)
    async with server as url:
        with pytest.raises(ConnectionResetError):
            await client.request("GET", f"{url}/")
        with pytest.raises(ConnectionResetError):
            await client.request("GET", f"{url}/")
    assert server.calls == 2  # each call once: none is retried


async def test_an_answer_that_is_not_http_fails_the_call():
    client = HttpClient()
    async with RawServer(lambda n: b"SSH-2.0-OpenSSH\r\n\r\n", False) as url:
        with pytest.raises(HttpError):
            await client.request("GET", f"{url}/")
        await client.close()


async def test_a_refused_connection_and_a_slow_answer_fail_as_os_and_timeout_errors():
    client = HttpClient(total_s=0.1)
    async with RawServer(lambda n: b"", False) as url:  # never answers
        with pytest.raises(TimeoutError):
            await client.request("GET", f"{url}/")
    with pytest.raises(ConnectionRefusedError):
        await client.request("GET", f"{url}/")
    with pytest.raises(ValueError, match="only http"):
        await client.request("GET", "https://example.com/")
    await client.close()
