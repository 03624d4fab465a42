"""The fleet's Redis pub/sub: channel names and the envelope, made and read only here.

Channels (every server subscribes to the ones its clients need):

- ``ws:table:{id}:events`` — a table's public messages;
- ``ws:user:{user_id}`` — a user's private messages: hole cards, answers to their requests,
  wallet notices, and the control messages ``_revoked`` and ``_excluded``;
- ``ws:lobby`` — the lobby: tables opened and closed, each table's live figures.

Every payload is MessagePack ``{"conn": connection id or None, "msg": {...}}``, or
``{"conn": ..., "msgs": [{...}, ...]}`` for several messages in order: ``conn`` addresses
one connection of the user (e.g. the answer to its request); None is every subscriber. A
table owner's payloads also carry ``"src"``, its worker id: the owner has already delivered
them to its own server's connections, so that server skips them when they come back.

Example::

    >>> user_channel(7)
    'ws:user:7'
    >>> user_of_channel(user_channel(7)), table_of_channel(table_channel(3))
    (7, 3)
    >>> unpack(pack({"type": "wallet_notice"}))
    Published(source=None, conn=None, msgs=[{'type': 'wallet_notice'}])
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import msgpack

from holdem.protocol.codec import packb

__all__ = [
    "LOBBY_CHANNEL",
    "Published",
    "pack",
    "pack_batch",
    "published_by",
    "table_channel",
    "table_of_channel",
    "unpack",
    "user_channel",
    "user_of_channel",
]

LOBBY_CHANNEL = "ws:lobby"
_USER = "ws:user:"
_TABLE = "ws:table:"
_EVENTS = ":events"


def table_channel(table_id: int) -> str:
    """The channel of a table's public messages."""
    return f"{_TABLE}{table_id}{_EVENTS}"


def user_channel(user_id: int) -> str:
    """The channel of a user's private messages."""
    return f"{_USER}{user_id}"


def table_of_channel(channel: str) -> int | None:
    """The table whose `table_channel` this is (None for any other channel)."""
    if channel.startswith(_TABLE) and channel.endswith(_EVENTS):
        number = channel[len(_TABLE) : -len(_EVENTS)]
        return int(number) if number.isdigit() else None
    return None


def user_of_channel(channel: str) -> int | None:
    """The user whose `user_channel` this is (None for any other channel)."""
    number = channel[len(_USER) :] if channel.startswith(_USER) else ""
    return int(number) if number.isdigit() else None


def pack(msg: dict[str, Any], conn: str | None = None) -> bytes:
    """One message, for every subscriber (`conn` None) or one connection."""
    return packb({"conn": conn, "msg": msg})


def pack_batch(
    msgs: list[dict[str, Any]], conn: str | None = None, source: str | None = None
) -> bytes:
    """Several messages in order, in one payload (one message is packed as by `pack`),
    naming the table owner that publishes them (`source`) if given."""
    # The source goes first, so its own server can tell its payloads apart unread
    # (`published_by`).
    value: dict[str, Any] = {} if source is None else {"src": source}
    value["conn"] = conn
    if len(msgs) == 1:
        value["msg"] = msgs[0]
    else:
        value["msgs"] = msgs
    return packb(value)


def published_by(payload: bytes, source: str) -> bool:
    """Whether `pack_batch` made `payload` for the owner `source`, told from its first
    bytes (a server skips what its own tables published without unpacking it)."""
    return payload.startswith(_source_prefix(source))


@functools.cache
def _source_prefix(source: str) -> bytes:
    # (Cached: a server asks about its own worker id for every message it receives.)
    # A source's payload is a 3-entry map whose first key is "src".
    return b"\x83" + msgpack.packb("src") + msgpack.packb(source)


class Published(NamedTuple):
    """One payload read back from a channel."""

    source: str | None
    """The worker id of the table owner that published it (None: anybody else)."""
    conn: str | None
    """The one connection it is for (None: all of the channel's)."""
    msgs: list[dict[str, Any]]
    """Its messages, in order."""


def unpack(payload: bytes) -> Published:
    """A payload's source, the connection it is for (None: all) and its messages."""
    value = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    msgs = value["msgs"] if "msgs" in value else [value["msg"]]
    return Published(value.get("src"), value["conn"], msgs)
