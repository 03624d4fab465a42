"""The two wire encodings and the WebSocket subprotocols that select them.

A client offers ``holdem.v1.msgpack`` and/or ``holdem.v1.json`` in
``Sec-WebSocket-Protocol``; the server prefers MessagePack. A client that offers neither
gets JSON (the fallback). JSON travels in text frames, MessagePack in binary frames.
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
    "codec_for",
]

MSGPACK_SUBPROTOCOL = "holdem.v1.msgpack"
JSON_SUBPROTOCOL = "holdem.v1.json"
SUBPROTOCOLS = (MSGPACK_SUBPROTOCOL, JSON_SUBPROTOCOL)
"""In the server's order of preference."""


@dataclass(frozen=True)
class Codec:
    """Encodes server messages and decodes client frames for one encoding."""

    name: str
    binary: bool

    def encode(self, message: dict[str, Any]) -> bytes | str:
        """A frame for `message` (bytes for MessagePack, str for JSON)."""
        if self.binary:
            packed: bytes = msgpack.packb(message, use_bin_type=True)
            return packed
        return orjson.dumps(message).decode()

    def decode(self, frame: bytes | str) -> dict[str, Any]:
        """The object in `frame`; raises `MalformedMessage` for anything else."""
        try:
            if self.binary:
                if isinstance(frame, str):
                    raise MalformedMessage("expected a binary MessagePack frame")
                value = msgpack.unpackb(frame, raw=False, strict_map_key=True)
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


JSON = Codec("json", binary=False)
MSGPACK = Codec("msgpack", binary=True)


def codec_for(subprotocol: str | None) -> Codec:
    """The codec a negotiated subprotocol selects (JSON when none was negotiated)."""
    return MSGPACK if subprotocol == MSGPACK_SUBPROTOCOL else JSON
