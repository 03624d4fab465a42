"""The session's checkpoint packed for Redis without packing all of it again per action.

A table checkpoints after every action. Most of what it keeps changes seldom: each seated
user's last answers (`holdem.session.values.ANSWERS_KEPT` of them, a few kilobytes for a
full table) change when that user's command is answered, the latest hands' figures once per
hand. `CheckpointPacker` keeps the packed bytes of each of those lists, item by item, and
packs only the items appended since the last checkpoint; the rest (a few hundred bytes: the
clocks, the turn, the engine's state) is packed each time. The bytes are exactly those
`msgpack.packb(..., use_bin_type=True)` makes of the whole form (`tests/unit/session/`
checks it after every step of random play), so what Redis stores, and what a new owner
restores, does not depend on which path built it.

The kept bytes are reused while the list is the same object, with the same length and the
same last item; when it changed, the items up to the one that was last keep their bytes
and only those after it are packed. It holds for lists that change only by appending new
items (a new object each) and dropping the oldest ones, and whose items are never changed
in place (`SessionState.answers` and `SessionState.recent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack

from holdem.protocol.codec import packb

__all__ = ["CheckpointPacker"]

_HEADERS = msgpack.Packer(autoreset=True)


def _map_header(size: int) -> bytes:
    header: bytes = _HEADERS.pack_map_header(size)
    return header


def _map_body(mapping: Mapping[str, Any]) -> bytes:
    """`mapping`'s entries packed, without the map's header (to be joined with others')."""
    return packb(mapping)[len(_map_header(len(mapping))) :]


_ENGINE = packb("engine")
_RT = packb("rt")
_RECENT = packb("recent")
_ANSWERS = packb("answers")


def _array_header(size: int) -> bytes:
    header: bytes = _HEADERS.pack_array_header(size)
    return header


class _AppendOnly:
    """The packed bytes of one list that grows by appending new items (see the module),
    kept item by item: a change packs only the items appended since."""

    __slots__ = ("_items", "_kept", "_last", "_length", "_packed")

    def __init__(self) -> None:
        self._items: list[Any] | None = None
        self._length = 0
        self._last: object = None
        self._kept: list[bytes] = []
        self._packed = b""

    def packed(self, items: list[Any]) -> bytes:
        length = len(items)
        last = items[-1] if items else None
        if items is self._items and length == self._length and last is self._last:
            return self._packed
        kept, start = self._kept, 0
        if items is self._items and self._last is not None:
            # The items after the one that was last are new; of the kept bytes, only those of
            # the items up to it remain (the oldest were dropped from the front).
            for index in range(length - 1, -1, -1):
                if items[index] is self._last:
                    start = index + 1
                    break
        kept = kept[len(kept) - start :] if 0 < start <= len(kept) else []
        start = len(kept)
        kept += [packb(item) for item in items[start:]]
        self._packed = _array_header(length) + b"".join(kept)
        self._items, self._length, self._last, self._kept = items, length, last, kept
        return self._packed


class CheckpointPacker:
    """One session's checkpoint as MessagePack, its seldom-changing lists packed once."""

    def __init__(self) -> None:
        self._recent = _AppendOnly()
        self._answers: dict[int, tuple[bytes, _AppendOnly]] = {}

    def pack(
        self,
        engine: list[Any],
        rt: Mapping[str, Any],
        recent: list[list[float]],
        answers: Mapping[int, list[tuple[str, dict[str, Any]]]],
    ) -> bytes:
        """``{"engine": engine, "rt": {**rt, "recent": recent, "answers": {str(user):
        kept}}}`` packed (`rt` must not hold those two keys)."""
        cache = self._answers
        if len(cache) > len(answers):  # a player left: forget their bytes
            for user in [u for u in cache if u not in answers]:
                del cache[user]
        parts = [
            b"\x82",  # a map of two: the engine's state and the session's
            _ENGINE,
            packb(engine),
            _RT,
            _map_header(len(rt) + 2),
            _map_body(rt),
            _RECENT,
            self._recent.packed(recent),
            _ANSWERS,
            _map_header(len(answers)),
        ]
        for user, kept in answers.items():
            known = cache.get(user)
            if known is None:
                known = cache[user] = (packb(str(user)), _AppendOnly())
            parts += (known[0], known[1].packed(kept))
        return b"".join(parts)
