# ruff: noqa: N818  (error names read as conditions: StaleAction, RateLimited, ...)
"""The protocol's exception tree and the one table that maps codes to close codes.

Every error has a stable machine ``code`` (never branch on the message text). An error that
is answered with an ``error`` message keeps the connection open and changes nothing; an
error listed in `CLOSE_CODES` closes the connection with that code and the error code as
the close reason::

    ProtocolError                 protocol_error
    ├── MalformedMessage          malformed_message     bytes that do not decode
    ├── InvalidMessage            invalid_message       decodes, fails the schema
    │   └── UnknownMessageType    unknown_message_type
    ├── FrameTooLarge             frame_too_large
    ├── NotAuthenticated          not_authenticated     (closes 4001)
    ├── AlreadyAuthenticated      already_authenticated
    ├── TableNotFound             table_not_found
    ├── NotJoined                 not_joined
    ├── NotSeated                 not_seated
    ├── StaleAction               stale_action          wrong hand number / old sequence number
    ├── NotBetweenHands           not_between_hands     top_up while the player's hand runs
    ├── RealityCheckPending       reality_check_pending sit_in before a reality_check_ack
    ├── SeatAvailable             seat_available        wait_list_join at a table with a free seat
    ├── SeatReserved              seat_reserved         sit on a seat offered to a waiting player
    ├── WaitListFull              wait_list_full        the wait list holds its maximum
    ├── TableUnavailable          table_unavailable     no owner could be reached in time
    ├── LobbyUnavailable          lobby_unavailable     the lobby could not be read; retry
    ├── ServerBusy                server_busy
    ├── ChatDisabled              chat_disabled         chat is off at the table
    ├── ChatNotAllowed            chat_not_allowed      a spectator, where spectators only read
    ├── ChatOffInHand             chat_off_in_hand      the sender's hand is running
    ├── ChatTooLong               chat_too_long
    ├── ChatRateLimited           chat_rate_limited     too many lines in the window
    ├── ChatMuted                 chat_muted            an operator muted the sender (until when)
    └── MuteListFull              mute_list_full

A concept the services know too has one class, in the application's tree (`holdem.errors`): the
table servers raise ``InvalidAccessToken`` (``invalid_token``: the token is missing, forged,
expired or revoked; closes 4001), ``RateLimited`` (a connection sent messages too fast; the message
was dropped) and ``SelfExcluded`` (on a break or self-excluded; closes 4005), and answer them
by their code like every error here.
"""

from __future__ import annotations

from typing import ClassVar

from holdem.errors import InvalidAccessToken, SelfExcluded

__all__ = [
    "CLOSE_CODES",
    "AlreadyAuthenticated",
    "ChatDisabled",
    "ChatMuted",
    "ChatNotAllowed",
    "ChatOffInHand",
    "ChatRateLimited",
    "ChatTooLong",
    "CloseCode",
    "FrameTooLarge",
    "InvalidMessage",
    "LobbyUnavailable",
    "MalformedMessage",
    "MuteListFull",
    "NotAuthenticated",
    "NotBetweenHands",
    "NotJoined",
    "NotSeated",
    "ProtocolError",
    "RealityCheckPending",
    "SeatAvailable",
    "SeatReserved",
    "ServerBusy",
    "StaleAction",
    "TableNotFound",
    "TableUnavailable",
    "UnknownMessageType",
    "WaitListFull",
]


class ProtocolError(Exception):
    """Base of every error the edge reports to a client."""

    code: ClassVar[str] = "protocol_error"


class MalformedMessage(ProtocolError):
    """The frame is not valid JSON / MessagePack, or not an object."""

    code = "malformed_message"


class InvalidMessage(ProtocolError):
    """The message decodes but does not match its schema (types, ranges, fields)."""

    code = "invalid_message"


class UnknownMessageType(InvalidMessage):
    """The ``type`` field names no client message."""

    code = "unknown_message_type"


class FrameTooLarge(ProtocolError):
    """The frame exceeds ``WS__MAX_FRAME_BYTES``."""

    code = "frame_too_large"


class NotAuthenticated(ProtocolError):
    """The first message must be ``auth``."""

    code = "not_authenticated"


class RealityCheckPending(ProtocolError):
    """The player must acknowledge a ``reality_check`` before sitting in again."""

    code = "reality_check_pending"


class SeatAvailable(ProtocolError):
    """``wait_list_join`` at a table with a seat free for anybody: sit down instead."""

    code = "seat_available"


class SeatReserved(ProtocolError):
    """``sit`` on a seat offered to a waiting player (``seat_offered``), until the offer
    is taken, declined or runs out."""

    code = "seat_reserved"


class WaitListFull(ProtocolError):
    """The table's wait list holds ``GAME__WAIT_LIST_MAX`` players already."""

    code = "wait_list_full"


class AlreadyAuthenticated(ProtocolError):
    """``auth`` was sent twice on one connection."""

    code = "already_authenticated"


class TableNotFound(ProtocolError):
    """No open table has this id."""

    code = "table_not_found"


class NotJoined(ProtocolError):
    """The connection has not joined this table."""

    code = "not_joined"


class NotSeated(ProtocolError):
    """The user has no seat at this table."""

    code = "not_seated"


class StaleAction(ProtocolError):
    """The action names another hand, or repeats an already used sequence number."""

    code = "stale_action"


class NotBetweenHands(ProtocolError):
    """The command waits for no hand: ``top_up`` is allowed only while the player is not in
    the running hand (between hands, or sitting it out)."""

    code = "not_between_hands"


class TableUnavailable(ProtocolError):
    """The table's owner did not answer in time; nothing was done, retry."""

    code = "table_unavailable"


class LobbyUnavailable(ProtocolError):
    """The lobby could not be read (PostgreSQL or Redis did not answer); not subscribed."""

    code = "lobby_unavailable"


class ServerBusy(ProtocolError):
    """The server is full or shutting down."""

    code = "server_busy"


class ChatDisabled(ProtocolError):
    """The operator turned chat off (``CHAT__ENABLED=false``)."""

    code = "chat_disabled"


class ChatNotAllowed(ProtocolError):
    """A spectator chatted where spectators only read (``CHAT__SPECTATORS_MAY_CHAT``)."""

    code = "chat_not_allowed"


class ChatOffInHand(ProtocolError):
    """A player dealt into the running hand chatted where the operator forbids it
    (``CHAT__OFF_IN_HAND``)."""

    code = "chat_off_in_hand"


class ChatTooLong(ProtocolError):
    """The line is longer than ``CHAT__MAX_LENGTH`` characters."""

    code = "chat_too_long"


class ChatRateLimited(ProtocolError):
    """More lines than ``CHAT__LINES_PER_WINDOW`` in ``CHAT__WINDOW_S`` at one table."""

    code = "chat_rate_limited"


class ChatMuted(ProtocolError):
    """An operator muted the sender; the message says until when."""

    code = "chat_muted"


class MuteListFull(ProtocolError):
    """The player's mute list holds ``CHAT__MAX_MUTES`` users already."""

    code = "mute_list_full"


class CloseCode:
    """WebSocket close codes the edge uses (RFC 6455 §7.4 and the private 4000 range)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    UNAUTHENTICATED = 4001
    REPLACED = 4003
    EXCLUDED = 4005
    IDLE = 4008


CLOSE_CODES: dict[str, int] = {
    # error / reason code      close code
    NotAuthenticated.code: CloseCode.UNAUTHENTICATED,
    InvalidAccessToken.code: CloseCode.UNAUTHENTICATED,
    "auth_timeout": CloseCode.UNAUTHENTICATED,
    "token_revoked": CloseCode.UNAUTHENTICATED,
    SelfExcluded.code: CloseCode.EXCLUDED,
    "server_full": CloseCode.TRY_AGAIN_LATER,
    "replaced_by_newer_connection": CloseCode.REPLACED,
    "idle_timeout": CloseCode.IDLE,
    "server_restart": CloseCode.SERVICE_RESTART,
    "service_unavailable": CloseCode.SERVICE_RESTART,
}
"""Reasons that close the connection. Every other error code is answered and the connection
stays open. The close reason is the code itself (e.g. ``server_full``)."""
