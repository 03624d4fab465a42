"""Client → server messages, validated with pydantic at the boundary, and server message types.

Every client message is an object with a ``type`` and an optional ``id`` (a client request
id, echoed in the ``result`` or ``error`` that answers it). Amounts are integer won: strict
integers, never floats, strings or booleans. Unknown fields are refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
)
from pydantic import ValidationError as _ValidationError

from holdem.protocol.errors import InvalidMessage, UnknownMessageType

__all__ = [
    "MAX_AMOUNT",
    "Act",
    "ActionName",
    "Auth",
    "Chat",
    "ClientMessage",
    "Join",
    "Leave",
    "Mute",
    "Ping",
    "ServerType",
    "Sit",
    "SitIn",
    "SitOut",
    "Subscribe",
    "TopUp",
    "Unmute",
    "Unsubscribe",
    "WaitListJoin",
    "WaitListLeave",
    "parse_client_message",
]

MAX_AMOUNT = 10**12
"""No amount on the wire exceeds ₩1,000,000,000,000 (a bound, not a business rule)."""

Amount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
PositiveAmount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]
TableId = Annotated[StrictInt, Field(gt=0, le=2**62)]
RequestId = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RequestId | None = None


class _Command(_Message):
    """A message that changes a table: its ``id`` is required and must be unique for the user
    (e.g. a random prefix and a counter). A client resends a command it got no answer to
    (after a reconnect, to any server); the table's owner applies it at most once and answers
    a resend with the original result (``act``: by its ``seq``; the others: by ``id``)."""

    id: RequestId


class Auth(_Message):
    """The first message of every connection: the REST API's access token, and optionally
    the client's device id (kept with the connection's address for the integrity signals)."""

    type: Literal["auth"]
    token: Annotated[StrictStr, Field(min_length=1, max_length=4096)]
    device_id: Annotated[
        StrictStr | None, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    ] = None


class Join(_Message):
    """Watch a table (``as`` spectator) or come back to one's seat (``as`` player)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["join"]
    table_id: TableId
    role: Literal["player", "spectator"] = Field("spectator", alias="as")


class Sit(_Command):
    """Take a seat with a buy-in moved from the wallet by the ledger.

    ``post`` chooses how the new player enters (POKER_RULES.md, "Entering a game"): wait for
    the big blind (the default) or post a big blind to be dealt in at once where the rules
    allow it (never between the button and the small blind, never just before one's own big
    blind, never into a heads-up game).
    """

    type: Literal["sit"]
    table_id: TableId
    seat: Annotated[StrictInt, Field(ge=0, le=8)]
    buy_in: PositiveAmount
    post: StrictBool = False


class ActionName(StrEnum):
    FOLD = "fold"
    CHECK = "check"
    CALL = "call"
    BET = "bet"
    RAISE = "raise"


class Act(_Command):
    """A betting action. ``hand`` and ``seq`` make a stale or repeated click harmless.

    ``seq`` is the client's own counter for this table: each act must carry a larger value
    than the last one the server accepted from this user. ``decision`` (optional) is the
    ``decision`` of the ``turn`` the act answers: an act for a decision already made is
    refused, so one click never answers two decisions. ``amount`` (bet / raise) is the
    raise-to total for the street.
    """

    type: Literal["act"]
    table_id: TableId
    hand: Annotated[StrictInt, Field(ge=1, le=2**62)]
    seq: Annotated[StrictInt, Field(ge=1, le=2**62)]
    decision: Annotated[StrictInt, Field(ge=0, le=2**62)] | None = None
    action: ActionName
    amount: Amount | None = None


class SitOut(_Command):
    type: Literal["sit_out"]
    table_id: TableId


class SitIn(_Command):
    """Come back from sitting out. A player who missed blinds posts them (``post``: the big
    blind live, the small blind dead) to play at once, or waits for the big blind (default);
    a waiting newcomer may switch to posting the same way."""

    type: Literal["sit_in"]
    table_id: TableId
    post: StrictBool = False


class TopUp(_Command):
    """Add chips from the wallet between hands (up to the table's maximum buy-in)."""

    type: Literal["top_up"]
    table_id: TableId
    amount: PositiveAmount


class Leave(_Command):
    """Stand up and cash out (after the current hand if one is running), or stop watching."""

    type: Literal["leave"]
    table_id: TableId


class RealityCheckAck(_Command):
    """Acknowledge a ``reality_check`` notice: the player is dealt in again from the next
    hand (until then they are sat out)."""

    type: Literal["reality_check_ack"]
    table_id: TableId


class Chat(_Message):
    """Say a line at a table (docs/protocol.md, "Table chat"). Plain text: clients render it
    as text, never as markup. The wire bound is generous; the table's own length limit
    (``CHAT__MAX_LENGTH``) applies after control characters are removed. Not a command that
    is resent: a line lost with its connection is simply typed again."""

    type: Literal["chat"]
    table_id: TableId
    text: Annotated[StrictStr, Field(min_length=1, max_length=2000)]


UserId = Annotated[StrictInt, Field(gt=0, le=2**62)]


class Mute(_Message):
    """Stop receiving a user's chat lines, at every table and on every connection (the list
    is kept on the server); answered with the whole list."""

    type: Literal["mute"]
    user_id: UserId


class Unmute(_Message):
    """Receive a muted user's chat lines again; answered with the whole list."""

    type: Literal["unmute"]
    user_id: UserId


class WaitListJoin(_Command):
    """Wait for a seat at a full table (joined first): the first seat that opens is offered
    to the first player waiting (``seat_offered``), who takes it with ``sit``."""

    type: Literal["wait_list_join"]
    table_id: TableId


class WaitListLeave(_Command):
    """Leave the table's wait list; declines a seat offered."""

    type: Literal["wait_list_leave"]
    table_id: TableId


class Subscribe(_Message):
    """Receive a channel's updates. ``lobby``: every open table (stakes, seats taken, average
    pot, hands per hour), answered with the whole lobby, then changes as they happen."""

    type: Literal["subscribe"]
    channel: Literal["lobby"]


class Unsubscribe(_Message):
    """Stop receiving a channel's updates."""

    type: Literal["unsubscribe"]
    channel: Literal["lobby"]


class Ping(_Message):
    """Application heartbeat; answered with ``pong``."""

    type: Literal["ping"]


ClientMessage = Annotated[
    Auth
    | Join
    | Sit
    | Act
    | SitOut
    | SitIn
    | TopUp
    | Leave
    | RealityCheckAck
    | Chat
    | Mute
    | Unmute
    | WaitListJoin
    | WaitListLeave
    | Subscribe
    | Unsubscribe
    | Ping,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_TYPES = frozenset(
    [
        "auth",
        "join",
        "sit",
        "act",
        "sit_out",
        "sit_in",
        "top_up",
        "leave",
        "reality_check_ack",
        "chat",
        "mute",
        "unmute",
        "wait_list_join",
        "wait_list_leave",
        "subscribe",
        "unsubscribe",
        "ping",
    ]
)


def parse_client_message(value: dict[str, Any]) -> ClientMessage:
    """Validate a decoded object; raises `UnknownMessageType` or `InvalidMessage`."""
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in _TYPES:
        raise UnknownMessageType(f"unknown message type: {str(kind)[:40]!r}")
    try:
        return _ADAPTER.validate_python(value)
    except _ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "message"
        raise InvalidMessage(f"{where}: {first['msg']}") from exc


class ServerType(StrEnum):
    """The ``type`` of every server → client message (see docs/protocol.md)."""

    AUTHENTICATED = "authenticated"
    SNAPSHOT = "snapshot"
    EVENT = "event"
    HOLE_CARDS = "hole_cards"
    HAND_RESULT = "hand_result"
    RESULT = "result"
    ERROR = "error"
    PONG = "pong"
    RECONNECT = "reconnect"
    NOTICE = "notice"
    LOBBY = "lobby"
    REALITY_CHECK = "reality_check"
    CHAT = "chat"
    SEAT_OFFERED = "seat_offered"
