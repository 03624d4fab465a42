"""The bots' HTTP client: HTTP/1.1 requests on keep-alive connections, nothing else.

A swarm worker makes a REST call every few tens of milliseconds, on a process that sleeps in
between: the CPU of a call is mostly the code it runs on cold caches. aiohttp, the client
before this one, built a request object, a response object, a stream and timers per call
(≈ 300 µs of CPU per call at human pace, a quarter of the bots' CPU). Here a call is one
write and one protocol callback that parses the answer in place.

What it does: ``http://`` URLs only; one pool of connections per origin (host and port),
at most `limit` at once (further calls wait for one); a connection idle for `idle_s` is
closed before it is used again (the server drops idle connections after a while, and a call
on a connection the server is closing fails); a response body by ``Content-Length``, chunks,
or until the connection closes; ``Connection: close`` honoured. A call that fails is not
retried: the caller sees `OSError` (the connection closed or was refused, or the answer was
not HTTP) or `TimeoutError` (`connect_s` to connect, `total_s` in all, a wait for a free
connection included).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import cast

__all__ = ["HttpClient", "HttpError"]


class HttpError(ConnectionError):
    """The answer was not HTTP/1.x (the connection is closed)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request at a time, its answer parsed as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reusable = True
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._status = 0  # of the answer being read; 0 before its head arrived
        self._length: int | None = None  # its body's length; None: chunked or until closed
        self._chunked = False
        self._body = bytearray()  # chunks read so far

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._status and self._length is None and not self._chunked:
            waiter.set_result((self._status, bytes(self._buffer)))  # a body until closed
        else:
            waiter.set_exception(ConnectionResetError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # bytes nobody asked for: not HTTP as we know it
            self.close()
            return
        self._buffer += data
        try:
            answer = self._parse()
        except (ValueError, IndexError) as exc:
            self.close()
            waiter.set_exception(HttpError(f"not an HTTP answer: {exc}"))
            return
        if answer is not None:
            waiter.set_result(answer)

    def _parse(self) -> tuple[int, bytes] | None:
        """The answer once it is complete (None until then)."""
        buffer = self._buffer
        while not self._status:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return None
            self._head(bytes(buffer[:end]).split(b"\r\n"))
            del buffer[: end + 4]
        if self._chunked:
            return self._chunks()
        if self._length is None:
            return None  # read until the server closes
        if len(buffer) < self._length:
            return None
        body = bytes(buffer[: self._length])
        del buffer[: self._length]
        return self._done(body)

    def _head(self, lines: list[bytes]) -> None:
        version, status, *_ = lines[0].split(None, 2)
        if not version.startswith(b"HTTP/1."):
            raise ValueError(lines[0][:40])
        code = int(status)
        if 100 <= code < 200:
            return  # an interim answer: the real one follows
        self._status = code
        self._length, self._chunked = None, False
        keep_alive = version == b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self._length = int(value)
            elif name == b"transfer-encoding":
                self._chunked = value.strip().lower().endswith(b"chunked")
            elif name == b"connection":
                keep_alive = value.strip().lower() == b"keep-alive"
        if code in (204, 304):
            self._length, self._chunked = 0, False
        if not keep_alive or (self._length is None and not self._chunked):
            self.reusable = False

    def _chunks(self) -> tuple[int, bytes] | None:
        buffer = self._buffer
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                return None
            size = int(bytes(buffer[:line_end]).split(b";", 1)[0], 16)
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    # No trailer: "0\r\n\r\n" (the empty line right after the size line).
                    if buffer[line_end : line_end + 4] != b"\r\n\r\n":
                        return None
                    trailer_end = line_end
                del buffer[: trailer_end + 4]
                body = bytes(self._body)
                self._body.clear()
                return self._done(body)
            start = line_end + 2
            if len(buffer) < start + size + 2:
                return None
            self._body += buffer[start : start + size]
            del buffer[: start + size + 2]

    def _done(self, body: bytes) -> tuple[int, bytes]:
        status, self._status = self._status, 0
        if self._buffer:  # more than the answer: nothing to reuse this connection for
            self.reusable = False
        return status, body

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        waiter: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            self.transport.write(request)
            return await waiter
        except BaseException:
            self.close()  # an answer half read (or a cancelled call) spoils the connection
            raise
        finally:
            self._waiter = None

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()


class _Pool:
    """The keep-alive connections to one origin, the most recently used first."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host = host
        self.port = port
        self.idle: deque[_Connection] = deque()
        self.slots = asyncio.Semaphore(limit)

    def take(self, now: float, idle_s: float) -> _Connection | None:
        while self.idle:
            connection = self.idle.pop()
            if connection.reusable and now - connection.idle_since < idle_s:
                return connection
            connection.close()
        return None

    def give_back(self, connection: _Connection, now: float, idle_s: float) -> None:
        if not connection.reusable:
            connection.close()
            return
        connection.idle_since = now
        self.idle.append(connection)
        idle = self.idle
        while idle and now - idle[0].idle_since >= idle_s:  # the longest idle, no timer
            idle.popleft().close()


class HttpClient:
    """HTTP/1.1 calls on keep-alive connections (see the module doc).

    Args:
        limit: Connections per origin at once.
        idle_s: A connection idle this long is closed instead of used (keep it below the
            server's keep-alive timeout).
        connect_s: Bound on opening a connection.
        total_s: Bound on a call, waiting for a free connection and connecting included.
    """

    def __init__(
        self,
        *,
        limit: int = 64,
        idle_s: float = 4.0,
        connect_s: float = 10.0,
        total_s: float = 60.0,
    ) -> None:
        self.limit = limit
        self.idle_s = idle_s
        self.connect_s = connect_s
        self.total_s = total_s
        self._pools: dict[str, _Pool] = {}

    def _pool(self, origin: str) -> _Pool:
        pool = self._pools.get(origin)
        if pool is None:
            host, _, port = origin.removeprefix("http://").partition(":")
            pool = self._pools[origin] = _Pool(host, int(port or 80), self.limit)
        return pool

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, bytes]:
        """``(status, body)`` of one call; `headers` besides ``Host`` and ``Content-Length``."""
        if not url.startswith("http://"):
            raise ValueError(f"only http:// URLs: {url!r}")
        slash = url.find("/", 7)
        origin, target = (url, "/") if slash < 0 else (url[:slash], url[slash:])
        pool = self._pool(origin)
        head = f"{method} {target} HTTP/1.1\r\nHost: {origin[7:]}\r\n"
        if headers:
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(body or b'')}\r\n"
        request = (head + "\r\n").encode("latin-1") + (body or b"")
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.total_s), pool.slots:
            connection = pool.take(loop.time(), self.idle_s)
            if connection is None:
                async with asyncio.timeout(self.connect_s):
                    _, connection = await loop.create_connection(_Connection, pool.host, pool.port)
            answer = await connection.exchange(request)
            pool.give_back(connection, loop.time(), self.idle_s)
            return answer

    async def close(self) -> None:
        """Close the idle connections (calls still running keep theirs until they end)."""
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()
