"""The server's one reader of its tables' command streams, and its own sockets' shortcut.

Every table this server owns has a `Mailbox`: the table's actor takes commands from it
without touching Redis. One task (started by `Inbox.start`) reads the inboxes and puts each
command into its table's mailbox in stream order. An idle table holds no Redis connection;
the server holds one for all its tables.

The reader blocks on the server's wake stream alone (`holdem.adapters.relay.wake_key`). A
command appended to a table's inbox appends a notice of it there for the lease's holder: the
reader wakes with the command, and one whose previous inbox entry is the mailbox's cursor
goes into the mailbox as if read from the inbox. When a notice does not follow the cursor
(something came that was not noticed), the reader reads that inbox from the cursor (one
``XREAD`` without blocking, the wake stream with it). A new mailbox is read at once (opening
it appends an entry to the wake stream, which ends the blocking read), and every mailbox is
read at least every `FULL_READ_S` whatever the notices: a command appended while nobody held
the table's lease (or whose notice went to its previous holder) is in the stream after the
cursor of the checkpoint the new owner restores, so the new owner's first read finds it; the
periodic read bounds the wait of anything else a notice might miss (none is expected).

An ``act`` from a connection of this server to a table this server owns skips the stream: it
goes straight into the mailbox (`Inbox.accept_local`, entry id `LOCAL`), once the mailbox has
caught up with the stream (one read since it opened, so what was sent through the stream
before this server took the table comes first). Such a command lives only in this process
until the checkpoint that follows its application (`Mailbox.saved`): if the table is let go
first, `Inbox.hand_on` puts it into the stream for the next owner; if the process dies, the
client, whose connection dies with it, resends it after reconnecting (an act is applied at
most once either way: its sequence number and the answers kept in the checkpoint).

A reply for a mailbox that was closed (or replaced) while the read was in flight is dropped:
the table's next owner reads on from the cursor in its checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from holdem.adapters.relay import Notice, Relay, wake_key
from holdem.cancellation import cancel_and_wait

log = logging.getLogger("edge.inbox")

LOCAL = ""
"""The entry id of a command taken from this server's own socket (it is in no stream)."""
BLOCK_MS = 2_000
"""The longest blocking read; below the Redis socket timeout."""
READ_RETRY_S = 0.5
FULL_READ_S = 2.0
"""Every mailbox is read at least this often, noticed or not."""
READ_COUNT = 100
"""Entries read per inbox per read."""


class Mailbox:
    """The commands read for one table, in stream order after `cursor`, and the acts taken
    from this server's own sockets, in the order they came."""

    def __init__(self, table_id: int, cursor: str) -> None:
        self.table_id = table_id
        self.cursor = cursor
        """The id of the last command read (not yet necessarily applied)."""
        self.caught_up = False
        """The stream was read once since the mailbox opened: local commands may come in."""
        self._waiting: list[tuple[str, dict[str, Any]]] = []
        """Commands put and not yet taken, in order."""
        self._waiter: asyncio.Future[None] | None = None
        """What `take` waits on while nothing is waiting (a future and a timer handle: an
        `asyncio.Queue` get under `asyncio.timeout` cost ≈ 10 µs of CPU per wait)."""
        self._nudged = False
        """A `nudge` came since the last `take`."""
        self._unsaved: list[dict[str, Any]] = []
        """Local commands taken since the last `saved` (in no stream, in no checkpoint)."""

    def put(self, entries: list[tuple[str, dict[str, Any]]]) -> None:
        self._waiting += entries
        self.cursor = entries[-1][0]
        self._wake()

    def put_local(self, command: dict[str, Any]) -> None:
        self._waiting.append((LOCAL, command))
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None:
            _wake_up(self._waiter)

    def nudge(self) -> None:
        """End a `take` waiting now, with or without a command (its table's actor has
        something else to look at: it is told to stop or hand the table over), or the next
        `take` if none waits now: a nudge while the actor is busy elsewhere (restoring the
        table, say) is not lost."""
        self._nudged = True
        self._wake()

    async def take(self, wait_s: float | None) -> list[tuple[str, dict[str, Any]]]:
        """Every command waiting, after waiting up to `wait_s` for the first one (None: until
        one comes, or a `nudge`)."""
        if not self._waiting and not self._nudged and (wait_s is None or wait_s > 0):
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = None if wait_s is None else loop.call_later(wait_s, _wake_up, waiter)
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                self._waiter = None
        self._nudged = False
        taken, self._waiting = self._waiting, []
        self._unsaved += [command for entry_id, command in taken if entry_id == LOCAL]
        return taken

    def saved(self) -> None:
        """The table's state after every command taken so far is stored (a checkpoint)."""
        self._unsaved = []

    def local_left(self) -> list[dict[str, Any]]:
        """The local commands in no checkpoint: taken since the last `saved`, then never
        taken, in order (the stream's are read again by the next owner, from its checkpoint's
        cursor)."""
        left, self._unsaved = self._unsaved, []
        left += [command for entry_id, command in self._waiting if entry_id == LOCAL]
        self._waiting = []
        return left


def _wake_up(waiter: asyncio.Future[None]) -> None:
    """End `Mailbox.take`'s wait (a command came, or its time is up)."""
    if not waiter.done():
        waiter.set_result(None)


class Inbox:
    """One blocking read over the inboxes of every table this server owns."""

    def __init__(self, relay: Relay, worker_id: str) -> None:
        self._relay = relay
        self._wake_key = wake_key(worker_id)
        self._mailboxes: dict[int, Mailbox] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._read_forever(), name="inbox")

    async def stop(self) -> None:
        """End the reader: the wake-up ends its blocking read and it returns.

        (Cancelling it is only the fallback: the Redis client may answer a cancellation that
        lands during a blocking read as an empty reply, and block again.)
        """
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        await self._wake()
        _, waiting = await asyncio.wait([task], timeout=2 * BLOCK_MS / 1000)
        await cancel_and_wait(waiting)
        if self._background:  # wake-ups still in flight end on their own (one XADD each)
            await asyncio.wait(self._background)

    def open(self, table_id: int, cursor: str) -> Mailbox:
        """A mailbox for `table_id` receiving the commands after `cursor`."""
        mailbox = Mailbox(table_id, cursor)
        self._mailboxes[table_id] = mailbox
        task = asyncio.create_task(self._wake())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return mailbox

    def accept_local(self, table_id: int, command: dict[str, Any]) -> bool:
        """Put a command from this server's own socket straight into the table's mailbox;
        False if this server does not run the table (or its mailbox has not caught up with
        the stream yet): send it through the stream."""
        mailbox = self._mailboxes.get(table_id)
        if mailbox is None or not mailbox.caught_up:
            return False
        mailbox.put_local(command)
        return True

    def close(self, mailbox: Mailbox) -> None:
        """Stop reading for this mailbox (no wake-up needed: a late reply is dropped)."""
        if self._mailboxes.get(mailbox.table_id) is mailbox:
            del self._mailboxes[mailbox.table_id]

    async def hand_on(self, mailbox: Mailbox) -> None:
        """Put a closed mailbox's local commands that are in no checkpoint into the table's
        stream, in order, for its next owner (whose checkpoint's cursor is before them)."""
        for command in mailbox.local_left():
            try:
                await self._relay.send_command(mailbox.table_id, command)
            except Exception:  # Redis down: the client resends it after its reconnect
                log.warning("a local command could not be handed on", exc_info=True)

    async def _wake(self) -> None:
        try:
            await self._relay.wake(self._wake_key)
        except Exception:  # the read still returns within BLOCK_MS
            log.warning("inbox wake-up failed", exc_info=True)

    async def _read_forever(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        wake_cursor = "0-0"
        due: set[int] = set()
        """Tables to read without blocking: named by notices, or not read to the end."""
        next_full = 0.0
        while not self._stopping:
            now = time.monotonic()
            if now >= next_full:
                due.update(self._mailboxes)
                next_full = now + FULL_READ_S
            due.update(t for t, m in self._mailboxes.items() if not m.caught_up)
            reading = {t: self._mailboxes[t] for t in due if t in self._mailboxes}
            block_ms = None if reading else min(BLOCK_MS, max(1, int((next_full - now) * 1000)))
            try:
                found, notices, wake_cursor = await self._relay.read_inboxes(
                    {t: m.cursor for t, m in reading.items()},
                    (self._wake_key, wake_cursor),
                    block_ms,
                    READ_COUNT,
                )
            except Exception as exc:
                if task.cancelling():
                    raise asyncio.CancelledError from None
                log.warning("inbox read failed (%r); retrying", exc)
                await asyncio.sleep(READ_RETRY_S)
                continue
            if task.cancelling():  # the Redis client answered it with an empty reply
                raise asyncio.CancelledError
            due = set()
            for table_id, mailbox in reading.items():
                if self._mailboxes.get(table_id) is not mailbox:
                    continue
                entries = found.get(table_id, [])
                if entries:
                    mailbox.put(entries)
                if len(entries) < READ_COUNT:  # all that was in the stream when read
                    mailbox.caught_up = True
                else:
                    due.add(table_id)
            for notice in notices:
                self._take_notice(notice, due)

    def _take_notice(self, notice: Notice, due: set[int]) -> None:
        """Put a noticed command into its mailbox if it follows the mailbox's cursor; else
        mark the table `due` for a read (unless the command was read already)."""
        mailbox = self._mailboxes.get(notice.table_id)
        if mailbox is None or notice.table_id in due:
            return
        if mailbox.caught_up and mailbox.cursor == notice.previous:
            mailbox.put([(notice.entry_id, notice.command)])
        elif _stream_id(notice.entry_id) > _stream_id(mailbox.cursor):
            due.add(notice.table_id)  # something before it was not noticed: read the inbox


def _stream_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
