"""The table servers' wire protocol, shared by the server (edge/) and the client SDK.

- `messages`: what a client may send (pydantic models, validated at the boundary) and the
  names of what the server sends.
- `outgoing`: what the server sends, field by field (`TypedDict` s, no cost on the hot
  path), the models docs/protocol.md and docs/asyncapi.yaml are checked against.
- `views`: engine records → those messages.
- `codec`: the two encodings (JSON and MessagePack) and the subprotocols that select them.
- `errors`: the protocol's exception tree, each error with a stable code, and the table of
  error codes → WebSocket close codes.

See docs/protocol.md and docs/asyncapi.yaml.
"""

from holdem.protocol.codec import (
    JSON_SUBPROTOCOL,
    MSGPACK_SUBPROTOCOL,
    SUBPROTOCOLS,
    Codec,
    codec_for,
)
from holdem.protocol.errors import CLOSE_CODES, ProtocolError
from holdem.protocol.messages import ClientMessage, parse_client_message

__all__ = [
    "CLOSE_CODES",
    "JSON_SUBPROTOCOL",
    "MSGPACK_SUBPROTOCOL",
    "SUBPROTOCOLS",
    "ClientMessage",
    "Codec",
    "ProtocolError",
    "codec_for",
    "parse_client_message",
]
