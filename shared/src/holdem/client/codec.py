"""The client's codecs: the protocol's (`holdem.protocol.codec`), read faster.

A client mostly decodes: each of its commands brings back a dozen messages from the table.
The protocol's MessagePack decoder unpacks a frame, then walks the whole value in Python to
turn the numbered keys back into names (a call for every value, numbers and strings
included). The client's does the renaming inside the unpacking, one call per map
(msgpack's ``object_pairs_hook``), and gives exactly the same message: the numbers of
`holdem.protocol.codec.KEYS` become their names, the ``bin`` values of `BINARY_HEX` fields
become hex text, anything else stays as it is. About half the CPU per MessagePack message.

>>> from holdem.protocol.codec import MSGPACK
>>> frame = MSGPACK.encode({"type": "event", "event": "turn", "seat": 2, "tag": "x"})
>>> client_codec(MSGPACK_SUBPROTOCOL).decode(frame) == MSGPACK.decode(frame)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from holdem.protocol.codec import BINARY_HEX, JSON, KEYS, MSGPACK_SUBPROTOCOL, Codec
from holdem.protocol.errors import MalformedMessage

__all__ = ["client_codec"]

_NAMES = dict(enumerate(KEYS))
_BINARY = tuple(BINARY_HEX)


def _hex(value: Any) -> Any:
    """A `BINARY_HEX` field's value as the protocol's decoder gives it: bytes as hex text,
    in lists at any depth (maps under it were named already)."""
    if type(value) is bytes:
        return value.hex()
    if type(value) is list:
        return [_hex(item) for item in value]
    return value


def _named(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """One map, its numbered keys named (``bool`` keys are not numbers, as in the protocol)."""
    value = {(_NAMES.get(k, k) if type(k) is int else k): v for k, v in pairs}
    for name in _BINARY:
        if name in value:
            value[name] = _hex(value[name])
    return value


@dataclass(frozen=True)
class _ClientMsgpack(Codec):
    """`holdem.protocol.codec.MSGPACK` with the one-pass decoder (encoding is the same)."""

    def decode(self, frame: bytes | str) -> dict[str, Any]:
        if isinstance(frame, str):
            raise MalformedMessage("expected a binary MessagePack frame")
        try:
            value = msgpack.unpackb(
                frame, raw=False, strict_map_key=False, object_pairs_hook=_named
            )
        except Exception as exc:  # msgpack raises assorted errors on hostile bytes
            raise MalformedMessage(f"not valid {self.name}") from exc
        if not isinstance(value, dict):
            raise MalformedMessage("a message must be an object")
        return value


_MSGPACK = _ClientMsgpack("msgpack", binary=True)


def client_codec(subprotocol: str | None) -> Codec:
    """The codec a negotiated subprotocol selects (JSON when none was negotiated), with the
    client's MessagePack decoder."""
    return _MSGPACK if subprotocol == MSGPACK_SUBPROTOCOL else JSON
