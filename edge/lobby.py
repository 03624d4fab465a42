"""This server's copy of the lobby: what a new lobby subscriber is sent.

The whole lobby is read from PostgreSQL (the open tables) and Redis (their live figures) at
most once per `CACHE_S` however many clients subscribe, and kept current in between by the
lobby channel: every entry published there (a table's live figures, a table opened or
closed) is merged in. Entries published while a read is under way are applied after it, so
a read never overwrites newer figures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["CACHE_S", "LivePace", "LobbyCache"]

CACHE_S = 30.0
"""How long the copy is served before the next subscriber reads the lobby again (it also
heals an announcement the channel lost)."""

Entry = dict[str, Any]


def _merge(entries: dict[int, Entry], entry: Entry) -> None:
    """Apply one published entry: a closed table leaves the lobby, figures of a table the
    lobby does not list (e.g. one still closing) are not added without its description."""
    table_id = int(entry["table_id"])
    if entry.get("status") == "closed":
        entries.pop(table_id, None)
    elif table_id in entries or "status" in entry:
        entries[table_id] = {**entries.get(table_id, {}), **entry}


class LobbyCache:
    """The lobby as this server last read it, kept current by the lobby channel."""

    def __init__(self, cache_s: float = CACHE_S) -> None:
        self._cache_s = cache_s
        self._entries: dict[int, Entry] | None = None
        self._read_at = 0.0
        self._pending: list[Entry] | None = None
        self._lock = asyncio.Lock()

    def apply(self, entry: Entry) -> None:
        """An entry published on the lobby channel."""
        if self._pending is not None:
            self._pending.append(entry)
        if self._entries is not None:
            _merge(self._entries, entry)

    async def tables(self, read: Callable[[], Awaitable[list[Entry]]]) -> list[Entry]:
        """Every open table: the copy while it is fresh, else `read()` (one at a time)."""
        async with self._lock:
            if self._entries is None or time.monotonic() - self._read_at >= self._cache_s:
                self._pending = []
                try:
                    tables = await read()
                finally:
                    pending, self._pending = self._pending, None
                entries = {int(entry["table_id"]): entry for entry in tables}
                for entry in pending:
                    _merge(entries, entry)
                self._entries, self._read_at = entries, time.monotonic()
            return list(self._entries.values())


class LivePace:
    """A table's live lobby figures, published when they change, at most once per
    `interval_s` (a busy table never floods the lobby); a change held back is due later."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._sent: Entry | None = None
        self._next = 0.0
        self.due: float | None = None
        """When a change that was held back may go out (None: nothing held back)."""

    def update(self, figures: Entry, now: float) -> Entry | None:
        """The figures to publish now, or None (unchanged, or held back until `due`)."""
        if figures == self._sent:
            self.due = None
            return None
        if now < self._next:
            self.due = self._next
            return None
        self._sent, self._next, self.due = figures, now + self._interval_s, None
        return figures
