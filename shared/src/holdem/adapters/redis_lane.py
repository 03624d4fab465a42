"""One pipelined Redis connection for the REST API's per-request script.

Every authenticated API request makes one Redis call: the revocation check and the rate limit
in one script (`holdem.adapters.rate_limit`). Through redis-py that call costs ~120 µs of CPU
above the round trip itself (the blocking pool's condition and timeout, the retry wrapper, a
Task per write for its timeout, the observability hooks), near a tenth of a read request. A
`RedisLane` sends it on one connection of its own instead, pipelined: a call writes its command
and waits for the reply in order (Redis answers a connection's commands in the order they were
sent), parsed by hiredis as redis-py parses it.

The same server, credentials, database and TLS as the client: the URL is read by redis-py's own
`parse_url` and connection classes (its TLS context included). Each call is bounded by the pool's
socket timeout. A failure raises redis-py's exceptions (`ConnectionError` and `TimeoutError`,
which the API answers with 503, and `ResponseError`); the connection is then dropped and the
next call opens a new one. A call is never retried: the script counts a request, and a retry
after a lost reply could count it twice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
from redis import exceptions as redis_errors
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)

from holdem.config import Settings


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


class _Replies(asyncio.Protocol):
    """The connection's replies, handed to the calls waiting for them in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self._parser = hiredis.Reader(
            protocolError=redis_errors.InvalidResponse, replyError=redis_errors.ResponseError
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A socket's transport (uvloop's is not an `asyncio.Transport` subclass).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._parser.feed(data)
        try:
            while (reply := self._parser.gets()) is not False:
                waiter = self.waiting.popleft()
                if waiter.done():  # its call timed out or was cancelled
                    continue
                if isinstance(reply, redis_errors.ResponseError):
                    waiter.set_exception(reply)
                else:
                    waiter.set_result(reply)
        except redis_errors.InvalidResponse:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(redis_errors.ConnectionError("Redis closed the connection"))

    def close(self) -> None:
        """Close the connection; every call still waiting fails with `ConnectionError`."""
        if self.transport is not None:
            self.transport.close()
        self.connection_lost(None)


class RedisLane:
    """One pipelined connection to the client's Redis (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        options: dict[str, Any] = dict(parse_url(settings.redis_url))
        kind = options.pop("connection_class", Connection)
        # redis-py's connection object is only read (host, credentials, TLS context); it never
        # connects.
        self._server: AbstractConnection = kind(**options)
        self._timeout_s = settings.redis.socket_timeout
        self._connect_timeout_s = settings.redis.socket_connect_timeout
        self._replies: _Replies | None = None
        self._opening: asyncio.Lock | None = None

    async def eval(self, script: bytes, keys: Sequence[str], args: Sequence[int]) -> Any:
        """Run ``script`` (EVAL) with ``keys`` and ``args``; its reply as hiredis parses it.

        Raises:
            redis.exceptions.ConnectionError: Redis could not be reached or dropped the call.
            redis.exceptions.TimeoutError: no reply within the socket timeout.
            redis.exceptions.ResponseError: the script failed.
        """
        parts = [
            b"*%d\r\n$4\r\nEVAL\r\n" % (3 + len(keys) + len(args)),
            _bulk(script),
            _bulk(b"%d" % len(keys)),
        ]
        parts += [_bulk(key.encode()) for key in keys]
        parts += [_bulk(b"%d" % arg) for arg in args]
        replies = self._replies
        if replies is None or replies.transport is None:
            replies = await self._connect()
        assert replies.transport is not None
        waiter = asyncio.get_running_loop().create_future()
        replies.waiting.append(waiter)
        replies.transport.write(b"".join(parts))
        try:
            async with asyncio.timeout(self._timeout_s):
                return await waiter
        except TimeoutError as exc:
            replies.close()
            raise redis_errors.TimeoutError("Timeout reading from Redis") from exc

    async def aclose(self) -> None:
        """Close the connection (calls still waiting fail)."""
        if self._replies is not None:
            self._replies.close()
            self._replies = None

    async def _connect(self) -> _Replies:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:  # calls arriving while it opens wait for the one connection
            if self._replies is not None and self._replies.transport is not None:
                return self._replies
            replies = await self._open()
            self._replies = replies
            return replies

    async def _open(self) -> _Replies:
        loop = asyncio.get_running_loop()
        server = self._server
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                if isinstance(server, UnixDomainSocketConnection):
                    _, replies = await loop.create_unix_connection(_Replies, server.path)
                else:
                    tcp = cast(Connection, server)  # or its subclass SSLConnection
                    tls = tcp.ssl_context.get() if isinstance(tcp, SSLConnection) else None
                    _, replies = await loop.create_connection(_Replies, tcp.host, tcp.port, ssl=tls)
                await self._handshake(replies)
        except (OSError, TimeoutError) as exc:
            raise redis_errors.ConnectionError(f"Error connecting to Redis: {exc!r}") from exc
        return replies

    async def _handshake(self, replies: _Replies) -> None:
        """AUTH and SELECT, as the URL asks."""
        server = self._server
        commands: list[list[bytes]] = []
        if server.password is not None:
            user = [server.username.encode()] if server.username else []
            commands.append([b"AUTH", *user, server.password.encode()])
        if server.db:
            commands.append([b"SELECT", b"%d" % int(server.db)])
        assert replies.transport is not None
        waiters = []
        for command in commands:
            waiter = asyncio.get_running_loop().create_future()
            replies.waiting.append(waiter)
            waiters.append(waiter)
            head = b"*%d\r\n" % len(command)
            replies.transport.write(head + b"".join(_bulk(part) for part in command))
        try:
            for waiter in waiters:
                await waiter
        except redis_errors.ResponseError:
            replies.close()
            raise
