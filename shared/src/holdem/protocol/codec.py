"""The two wire encodings and the WebSocket subprotocols that select them.

A client offers ``holdem.v1.msgpack`` and/or ``holdem.v1.json`` in
``Sec-WebSocket-Protocol``; the server prefers MessagePack. A client that offers neither
gets JSON (the fallback). JSON travels in text frames, MessagePack in binary frames.

In MessagePack, the field names listed in `KEYS` travel as their index (a one-byte integer);
names not in the table travel as strings. Decoding accepts both. The fields of `BINARY_HEX`
(a card opening's nonce and proof hashes: random bytes that no encoding compresses) are hex
strings in JSON and raw bytes (``bin``) in MessagePack, half the size; decoding gives hex
strings back, so a message reads the same in both encodings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
import orjson

from holdem.protocol.errors import MalformedMessage

__all__ = [
    "JSON",
    "JSON_SUBPROTOCOL",
    "MSGPACK",
    "MSGPACK_SUBPROTOCOL",
    "SUBPROTOCOLS",
    "Codec",
    "Compacted",
    "codec_for",
    "compacted",
    "packb",
]

MSGPACK_SUBPROTOCOL = "holdem.v1.msgpack"
JSON_SUBPROTOCOL = "holdem.v1.json"
SUBPROTOCOLS = (MSGPACK_SUBPROTOCOL, JSON_SUBPROTOCOL)
"""In the server's order of preference."""


_PACK = msgpack.Packer(use_bin_type=True).pack


def packb(value: Any) -> bytes:
    """``msgpack.packb(value, use_bin_type=True)``, by one packer kept for the process.

    `msgpack.packb` builds a packer per call (≈ 1 µs of a 2–3 µs message); a table server
    packs about a dozen values per action. Sharing it between threads is safe: a call is one
    C call that holds the GIL and calls no Python code back (no ``default`` hook), and a
    failed call empties its buffer.
    """
    packed: bytes = _PACK(value)
    return packed


@dataclass(frozen=True)
class Codec:
    """Encodes server messages and decodes client frames for one encoding."""

    name: str
    binary: bool

    def encode(self, message: dict[str, Any]) -> bytes | str:
        """A frame for `message` (bytes for MessagePack, str for JSON)."""
        if self.binary:
            return packb(_compact(message))
        return orjson.dumps(message).decode()

    def decode(self, frame: bytes | str) -> dict[str, Any]:
        """The object in `frame`; raises `MalformedMessage` for anything else."""
        try:
            if self.binary:
                if isinstance(frame, str):
                    raise MalformedMessage("expected a binary MessagePack frame")
                value = _expand(msgpack.unpackb(frame, raw=False, strict_map_key=False))
            else:
                value = orjson.loads(frame)
        except MalformedMessage:
            raise
        except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError) as exc:
            raise MalformedMessage(f"not valid {self.name}") from exc
        except Exception as exc:  # msgpack raises assorted errors on hostile bytes
            raise MalformedMessage(f"not valid {self.name}") from exc
        if not isinstance(value, dict):
            raise MalformedMessage("a message must be an object")
        return value


KEYS: tuple[str, ...] = (
    # Index = the key's number on the MessagePack wire. APPEND ONLY: never reorder or remove
    # (a new name gets the next number; old clients keep decoding the ones they know).
    "type",
    "id",
    "table_id",
    "hand",
    "seq",
    "event",
    "seat",
    "seats",
    "action",
    "amount",
    "player_id",
    "status",
    "stack",
    "bet",
    "in_hand",
    "folded",
    "all_in",
    "cards",
    "board",
    "pots",
    "to_act",
    "legal_actions",
    "legal",
    "clock",
    "hand_number",
    "running",
    "button",
    "small_blind",
    "big_blind",
    "small_blind_seat",
    "big_blind_seat",
    "street",
    "viewer",
    "last_seq",
    "settling",
    "public",
    "ok",
    "code",
    "message",
    "added",
    "blind",
    "can_fold",
    "can_check",
    "call_amount",
    "min_raise_to",
    "max_raise_to",
    "clock_s",
    "time_bank_s",
    "deadline",
    "remaining_s",
    "net",
    "stacks",
    "rake",
    "rake_by_seat",
    "shown",
    "mucked",
    "commitment",
    "seed",  # no longer sent (the seed stays server side); its number stays taken
    "winners",
    "pot",
    "eligible",
    "uncalled",
    "players",
    "by_pot",
    "by_seat",
    "token",
    "buy_in",
    "user_id",
    "connection_id",
    "server",
    "encoding",
    "heartbeat_s",
    "ts",
    "reason",
    "as",
    "left",
    "after_hand",
    "openings",
    "position",
    "card",
    "nonce",
    "proof",
    "decision",
    # Protocol 3.0.0. Only new names: a name that travelled as a string before keeps doing
    # so (a client built with an older table would read a new number as an unknown key).
    "can_bet",
    "can_raise",
)
"""Field names sent as small integers in MessagePack (1 byte instead of the name), so binary
messages are at least half the size of their JSON form. Both sides share this table."""
_KEY_NUMBER = {name: number for number, name in enumerate(KEYS)}
assert len(_KEY_NUMBER) == len(KEYS), "KEYS must not repeat a name"


BINARY_HEX = frozenset(["nonce", "proof"])
"""Fields (and lists under them) that are hex text in JSON and raw bytes in MessagePack."""


_PLAIN = frozenset([int, str, float, bool, type(None)])
"""Types `_compact` passes through as they are (outside `BINARY_HEX`): most of a message's
values, so they are told apart by one set lookup instead of three ``isinstance`` calls."""


class Compacted(dict[str, Any]):
    """A part of a message (a plain dict to everything else: JSON, pub/sub, tests) that
    carries its MessagePack compact form, built once (`compacted`): `Codec.encode` takes
    `compact` instead of walking the dict again. A card opening is one: up to 17 of them are
    in every snapshot, each six hex fields turned back into bytes (protocol.views keeps one
    per opening). Never change one after it is built (its compact form would not follow)."""

    __slots__ = ("compact",)
    compact: dict[int | str, Any]


def compacted(part: dict[str, Any]) -> Compacted:
    """`part` as a `Compacted` (a copy; its compact form is what `_compact` makes of it)."""
    kept = Compacted(part)
    kept.compact = _compact(part)
    return kept


def _compact(value: Any) -> Any:
    if type(value) is Compacted:
        return value.compact
    if isinstance(value, dict):
        compact = {}
        for k, v in value.items():
            if k in BINARY_HEX:
                v = _binary(v)
            elif type(v) not in _PLAIN:
                v = _compact(v)
            compact[_KEY_NUMBER.get(k, k)] = v
        return compact
    if isinstance(value, list | tuple):
        return [v if type(v) in _PLAIN else _compact(v) for v in value]
    return value


def _binary(value: Any) -> Any:
    """A `BINARY_HEX` field's value: its hex text as bytes, in lists at any depth."""
    if isinstance(value, str):
        return bytes.fromhex(value)
    if isinstance(value, list | tuple):
        return [bytes.fromhex(v) if type(v) is str else _binary(v) for v in value]
    return _compact(value)


def _expand(value: Any, key: Any = None) -> Any:
    if isinstance(value, dict):
        expanded = {}
        for k, v in value.items():
            name = KEYS[k] if type(k) is int and 0 <= k < len(KEYS) else k
            expanded[name] = _expand(v, name)
        return expanded
    if isinstance(value, list):
        return [_expand(v, key) for v in value]
    if key in BINARY_HEX and isinstance(value, bytes):
        return value.hex()
    return value


JSON = Codec("json", binary=False)
MSGPACK = Codec("msgpack", binary=True)


def codec_for(subprotocol: str | None) -> Codec:
    """The codec a negotiated subprotocol selects (JSON when none was negotiated)."""
    return MSGPACK if subprotocol == MSGPACK_SUBPROTOCOL else JSON
