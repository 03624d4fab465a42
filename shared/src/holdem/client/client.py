"""`TableClient`: connect, authenticate, join, act, iterate messages, reconnect.

One reader task decodes every frame: answers to requests (``result`` / ``error`` /
``snapshot`` carrying the request's ``id``) resolve the awaiting call; every message goes to
``on_message`` and is queued for `messages()` / `next_message()`, in arrival order (only the
messages ``keep`` keeps, when given).

Every card the client is shown is checked against its hand's commitment as it arrives
(`openings`, an `holdem.client.openings.OpeningChecker`: per-hand verdicts and totals).

Commands (the messages that change a table: ``sit``, ``act``, ``sit_out``, ``sit_in``,
``top_up``, ``leave``) carry an id unique to this client. Until its answer arrives a command
is kept; after a reconnect (to any server), `join` resends the table's unanswered commands,
except an ``act`` the snapshot shows applied (its ``seq`` is at most ``last_seq``). The
table's owner applies each command at most once and answers a resend with the original
result, so a server dying between a click and its answer costs the player nothing.

The heartbeat is the application's ``ping``, sent only after `heartbeat_s` without any other
message (any message keeps the server's idle timer alive), at the first whole second of the
event loop's clock after that (the heartbeat timers of a process's clients fall due
together). The client sends no WebSocket protocol pings of its own: the server pings every
connection and the client answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from holdem.cancellation import cancel_and_wait
from holdem.client.codec import client_codec
from holdem.client.openings import OpeningChecker
from holdem.protocol.codec import JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL

__all__ = ["COMMANDS", "ClientError", "ClosedError", "TableClient"]

COMMANDS = frozenset(
    [
        "sit",
        "act",
        "sit_out",
        "sit_in",
        "top_up",
        "leave",
        "reality_check_ack",
        "wait_list_join",
        "wait_list_leave",
    ]
)
"""Message types that change a table: kept until answered, resent after a reconnect."""


class ClientError(Exception):
    """The server answered a request with an ``error`` message."""

    def __init__(self, message: dict[str, Any]) -> None:
        super().__init__(f"{message.get('code')}: {message.get('message')}")
        self.code: str = str(message.get("code"))
        self.message = message


class ClosedError(Exception):
    """The connection closed, or the server refused to open it (``code`` / ``reason`` from
    the close frame; ``None`` and the refusal when the handshake failed)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason}")
        self.code = code
        self.reason = reason


class TableClient:
    """A player's or spectator's connection to the fleet.

    Args:
        url: ``ws://host:port/``.
        token: The REST API's access token (sent in the first message, never in the URL).
        encoding: ``"msgpack"``, ``"json"`` or ``None`` (offer nothing: the server's JSON
            fallback).
        record: Keep every received message in `received`, and every frame as it came off
            the socket in `frames` (tests, spies).
        device_id: Sent at ``auth`` when given: a stable id of this device (letters, digits,
            ``._:-``; at most 64), which operators' integrity checks compare between players.
        on_message: Called with every message received, in order, as it is read (before
            `messages()` gives it).
        keep: Which received messages `messages()` and `next_message()` give (default: every
            one). The others still go to `on_message`, the openings check and the requests
            awaiting their answers; a client whose loop reads only a few kinds of message
            spares that loop a wake-up for every other one.

    Attributes:
        openings: The verdicts on every card opening received (see
            `holdem.client.openings`).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        encoding: str | None = "msgpack",
        record: bool = False,
        heartbeat_s: float | None = None,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        device_id: str | None = None,
        keep: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.device_id = device_id
        self.encoding = encoding
        self.record = record
        self.received: list[dict[str, Any]] = []
        self.frames: list[bytes | str] = []
        self.openings = OpeningChecker()
        self.user_id = 0
        self.connection_id = ""
        self.server = ""
        self._heartbeat_s = heartbeat_s
        self._on_message = on_message
        self._keep = keep
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        # Ids unique to this client: the owner answers a command id it has seen with that
        # command's result, so another client's (or an earlier run's) "r1" must not match.
        self._id_prefix = uuid.uuid4().hex[:12]
        self._unanswered: dict[str, dict[str, Any]] = {}
        self._seq: dict[int, int] = {}
        self._last_sent = 0.0  # loop time of the last message sent (the heartbeat's clock)
        self.closed: ClosedError | None = None

    # ------------------------------------------------------------------ connection

    @property
    def subprotocols(self) -> list[Subprotocol] | None:
        if self.encoding == "msgpack":
            return [Subprotocol(MSGPACK_SUBPROTOCOL), Subprotocol(JSON_SUBPROTOCOL)]
        if self.encoding == "json":
            return [Subprotocol(JSON_SUBPROTOCOL)]
        return None

    async def connect(self, authenticate: bool = True) -> dict[str, Any] | None:
        """Open the socket and (by default) authenticate; returns ``authenticated``."""
        self.closed = None
        # The end-of-stream mark of a previous connection must not end this one's stream
        # (messages() would return at once after every reconnect); its messages stay queued.
        queued = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        for message in queued:
            if message is not None:
                self._queue.put_nowait(message)
        try:
            self._ws = await connect(
                self.url,
                subprotocols=self.subprotocols,
                compression=None,
                max_size=2**22,
                open_timeout=10,
                ping_interval=None,  # the server pings; a second timer per connection is waste
            )
        except InvalidHandshake as exc:  # a draining server's 503, a server dying meanwhile
            raise ClosedError(None, f"handshake failed: {exc}") from exc
        self.codec = client_codec(self._ws.subprotocol)
        self._reader = asyncio.create_task(self._read_loop())
        if not authenticate:
            return None
        auth = {"type": "auth", "token": self.token}
        if self.device_id is not None:
            auth["device_id"] = self.device_id
        hello = await self.request(auth)
        self.user_id = int(hello["user_id"])
        self.connection_id = str(hello["connection_id"])
        self.server = str(hello["server"])
        interval = self._heartbeat_s or float(hello.get("heartbeat_s", 20.0))
        self._pinger = asyncio.create_task(self._ping_loop(interval))
        return hello

    async def __aenter__(self) -> TableClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        # Not a suppressed await: a cancellation of close() itself must propagate (a
        # suppressed one would leave the caller running forever).
        await cancel_and_wait(t for t in (self._pinger, self._reader) if t is not None)
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    async def reconnect(self, url: str | None = None) -> dict[str, Any] | None:
        """Close, connect again (to `url` if given) and re-authenticate."""
        await self.close()
        self.url = url or self.url
        return await self.connect()

    # ------------------------------------------------------------------ sending

    async def send_raw(self, frame: bytes | str) -> None:
        """Send a frame as it is (tests of bad input); raises `ClosedError` once closed."""
        assert self._ws is not None, "connect first"
        self._last_sent = asyncio.get_running_loop().time()
        try:
            await self._ws.send(frame)
        except ConnectionClosed as exc:
            close = exc.rcvd
            raise ClosedError(close.code if close else None, close.reason if close else "") from exc

    async def send(self, message: dict[str, Any]) -> None:
        """Send a message; raises `ClosedError` once the connection closed."""
        await self.send_raw(self.codec.encode(message))

    def new_id(self) -> str:
        """A request id unique to this client."""
        return f"{self._id_prefix}-{next(self._ids)}"

    async def send_command(self, message: dict[str, Any]) -> str:
        """Send a command without waiting for its answer; returns its id (given or new).

        The command is kept until its answer (``result`` or ``error``) arrives and resent by
        `join` after a reconnect; a send that fails because the connection closed is not an
        error (the resend delivers it).
        """
        command = {**message, "id": message.get("id") or self.new_id()}
        if command.get("type") in COMMANDS:
            self._unanswered[command["id"]] = command
        with contextlib.suppress(ClosedError):
            await self.send(command)
        return str(command["id"])

    def unanswered(self, table_id: int | None = None) -> list[dict[str, Any]]:
        """The commands (of one table, or all) sent and not answered yet, oldest first."""
        return [
            c for c in self._unanswered.values() if table_id is None or c["table_id"] == table_id
        ]

    async def _resend(self, table_id: int, last_seq: int) -> None:
        """After a (re)join: resend the table's unanswered commands, except the acts the
        snapshot shows applied (a later answer is lost with the old connection)."""
        for command in self.unanswered(table_id):
            if command["type"] == "act" and int(command["seq"]) <= last_seq:
                del self._unanswered[command["id"]]
                continue
            await self.send(command)

    async def request(self, message: dict[str, Any], wait_s: float = 10.0) -> dict[str, Any]:
        """Send with a fresh ``id`` and wait for its answer; raises `ClientError` on error.

        A command (`COMMANDS`) is kept for a resend until answered, even if this call ends
        first (a timeout or a closed connection).
        """
        request_id = self.new_id()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            if message.get("type") in COMMANDS:
                self._unanswered[request_id] = {**message, "id": request_id}
            await self.send({**message, "id": request_id})
            async with asyncio.timeout(wait_s):
                answer = await future
        finally:
            self._pending.pop(request_id, None)
        if answer.get("type") == "error":
            raise ClientError(answer)
        return answer

    async def join(self, table_id: int, as_: str = "player") -> dict[str, Any]:
        """Join a table; returns the snapshot (own cards only)."""
        snapshot = await self.request({"type": "join", "table_id": table_id, "as": as_})
        last_seq = int(snapshot.get("last_seq", 0))
        self._seq[table_id] = max(self._seq.get(table_id, 0), last_seq)
        await self._resend(table_id, last_seq)
        return snapshot

    async def sit(
        self, table_id: int, seat: int, buy_in: int, *, post: bool = False
    ) -> dict[str, Any]:
        """Take a seat; `post` posts a big blind to be dealt in at once (else wait for it)."""
        return await self.request(
            {"type": "sit", "table_id": table_id, "seat": seat, "buy_in": buy_in, "post": post}
        )

    def next_seq(self, table_id: int) -> int:
        self._seq[table_id] = self._seq.get(table_id, 0) + 1
        return self._seq[table_id]

    async def act(
        self,
        table_id: int,
        hand: int,
        action: str,
        amount: int | None = None,
        seq: int | None = None,
        decision: int | None = None,
    ) -> dict[str, Any]:
        """Act in hand `hand`; `seq` defaults to the next of this client's counter.
        `decision` (the ``turn``'s) makes an act for a decision already made refused."""
        message: dict[str, Any] = {
            "type": "act",
            "table_id": table_id,
            "hand": hand,
            "action": action,
            "seq": self.next_seq(table_id) if seq is None else seq,
        }
        if amount is not None:
            message["amount"] = amount
        if decision is not None:
            message["decision"] = decision
        return await self.request(message)

    async def top_up(self, table_id: int, amount: int) -> dict[str, Any]:
        return await self.request({"type": "top_up", "table_id": table_id, "amount": amount})

    async def sit_out(self, table_id: int) -> dict[str, Any]:
        return await self.request({"type": "sit_out", "table_id": table_id})

    async def sit_in(self, table_id: int, *, post: bool = False) -> dict[str, Any]:
        """Come back; `post` posts missed blinds to play at once (else wait for the BB)."""
        return await self.request({"type": "sit_in", "table_id": table_id, "post": post})

    async def reality_check_ack(self, table_id: int) -> dict[str, Any]:
        """Acknowledge a ``reality_check``: dealt in again from the next hand."""
        return await self.request({"type": "reality_check_ack", "table_id": table_id})

    async def chat(self, table_id: int, text: str) -> dict[str, Any]:
        """Say a line at a table; the ``result`` carries it as delivered (words masked)."""
        return await self.request({"type": "chat", "table_id": table_id, "text": text})

    async def mute(self, user_id: int) -> list[int]:
        """Stop receiving a user's chat lines (on every connection); returns the mute list."""
        answer = await self.request({"type": "mute", "user_id": user_id})
        return [int(u) for u in answer["muted"]]

    async def unmute(self, user_id: int) -> list[int]:
        """Receive a muted user's chat lines again; returns the mute list."""
        answer = await self.request({"type": "unmute", "user_id": user_id})
        return [int(u) for u in answer["muted"]]

    async def wait_list_join(self, table_id: int) -> dict[str, Any]:
        """Wait for a seat at a full table (joined first): ``seat_offered`` arrives when one
        is reserved for this player; `sit` takes it. Returns ``position`` and ``waiting``."""
        return await self.request({"type": "wait_list_join", "table_id": table_id})

    async def wait_list_leave(self, table_id: int) -> dict[str, Any]:
        """Leave the table's wait list (declines a seat offered)."""
        return await self.request({"type": "wait_list_leave", "table_id": table_id})

    async def wait_list_join_stakes(
        self, tables: list[dict[str, Any]], small_blind: int, big_blind: int
    ) -> dict[int, dict[str, Any]]:
        """ "The first seat available at these stakes": join (as a spectator) and wait at
        every full open table of the lobby `tables` (a ``lobby`` message's) with these blinds.
        The first ``seat_offered`` the player takes with `sit` takes them off the other
        lists (the server does that). Returns each table's answer: its ``result``, or the
        ``error`` (e.g. ``seat_available`` when a seat came free meanwhile: sit there)."""
        answers: dict[int, dict[str, Any]] = {}
        for entry in tables:
            full = entry.get("seated", 0) >= entry.get("max_seats", 0)
            stakes = (entry.get("small_blind"), entry.get("big_blind"))
            if entry.get("status") != "open" or not full or stakes != (small_blind, big_blind):
                continue
            table_id = int(entry["table_id"])
            try:
                await self.join(table_id, as_="spectator")
                answers[table_id] = await self.wait_list_join(table_id)
            except ClientError as exc:
                answers[table_id] = exc.message
        return answers

    async def subscribe_lobby(self) -> dict[str, Any]:
        """Subscribe to the lobby; returns every open table (``lobby`` with ``full: true``).
        Changes then arrive as ``lobby`` messages (``full: false``) merged by ``table_id``."""
        return await self.request({"type": "subscribe", "channel": "lobby"})

    async def unsubscribe_lobby(self) -> dict[str, Any]:
        return await self.request({"type": "unsubscribe", "channel": "lobby"})

    async def leave(self, table_id: int) -> dict[str, Any]:
        return await self.request({"type": "leave", "table_id": table_id})

    # ------------------------------------------------------------------ receiving

    async def next_message(self, wait_s: float = 10.0) -> dict[str, Any]:
        """The next message in arrival order; raises `ClosedError` once the socket closed."""
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the item does, and a bot reading forever would never stop.
        async with asyncio.timeout(wait_s):
            message = await self._queue.get()
        if message is None:
            self._queue.put_nowait(None)
            assert self.closed is not None
            raise self.closed
        return message

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], wait_s: float = 10.0
    ) -> dict[str, Any]:
        """Skip messages until one matches `predicate`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("no matching message")
            message = await self.next_message(remaining)
            if predicate(message):
                return message

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """Every message until the connection closes (no timeout: no timer per message)."""
        queue = self._queue
        while True:
            # A socket read brings several messages: those queued are taken without awaiting.
            message = queue.get_nowait() if queue.qsize() else await queue.get()
            if message is None:
                self._queue.put_nowait(None)
                return
            yield message

    async def wait_closed(self, wait_s: float = 10.0) -> ClosedError:
        """Wait until the server closes the connection; returns code and reason."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            try:
                await self.next_message(max(0.0, deadline - loop.time()))
            except ClosedError as closed:
                return closed

    async def _read_loop(self) -> None:
        assert self._ws is not None
        ws = self._ws
        try:
            async for frame in ws:
                message = self.codec.decode(frame)
                self.openings.observe(message)
                if self.record:
                    self.frames.append(frame)
                    self.received.append(message)
                if self._on_message is not None:
                    self._on_message(message)
                request_id = message.get("id")
                if isinstance(request_id, str):
                    if message.get("type") in ("result", "error"):
                        self._unanswered.pop(request_id, None)
                    future = self._pending.get(request_id)
                    if future is not None and not future.done():
                        future.set_result(message)
                if self._keep is None or self._keep(message):
                    self._queue.put_nowait(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed = ClosedError(ws.close_code, ws.close_reason or "")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(self.closed)
            self._queue.put_nowait(None)

    async def _ping_loop(self, interval: float) -> None:
        """Ping once `interval` passed without sending anything (one timer per interval).

        The timer is due on the first whole second of the loop's clock after that: the
        pingers of a process's clients then wake together, not each on its own wake-up of
        the process (what a wake-up costs a process at rest is more than a ping does).
        """
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ClosedError):
            while True:
                due = math.ceil(self._last_sent + interval)
                await asyncio.sleep(max(0.0, due - loop.time()))
                if loop.time() - self._last_sent >= interval:
                    await self.send({"type": "ping"})
