"""Server → client messages: every message and event the table servers send, field by field.

These are `TypedDict` s: the server builds plain dicts (no validation, no copy on the hot
path) and mypy checks the builders that name a model; `holdem.protocol.views` turns engine
records into them. They are the reference the documentation is checked against:
``tests/unit/protocol/test_protocol_reference.py`` compares every model with
``docs/asyncapi.yaml`` and with the field tables of ``docs/protocol.md``, and every message
the clients of the table-server tests receive is checked against its model (a field the
server sends that no model declares fails the suite, and so does a declared field that a
played game never sends).

A ``NotRequired`` field is absent from some messages of the type (said where). (No
``from __future__ import annotations`` here: `TypedDict` reads ``NotRequired`` only from
evaluated annotations.)
"""

from typing import Literal, NotRequired, TypedDict

__all__ = [
    "EVENTS",
    "NESTED",
    "PROTOCOL_VERSION",
    "RESULTS",
    "SERVER_MESSAGES",
    "Authenticated",
    "ChatLine",
    "Clock",
    "ErrorMessage",
    "HandResultMessage",
    "HoleCards",
    "LegalActionsView",
    "Lobby",
    "LobbyTable",
    "Notice",
    "OpeningView",
    "Pong",
    "PotView",
    "RealityCheck",
    "Reconnect",
    "Result",
    "SeatOffered",
    "SeatView",
    "Snapshot",
    "WinnerView",
]

PROTOCOL_VERSION = "3.2.0"
"""``info.version`` of docs/asyncapi.yaml. Major: a change an existing client breaks on (a
field's type or shape, a message refused that was accepted); minor: something added (a field,
a message, an error code); patch: wording. The subprotocol names (``holdem.v1.*``) name the
encodings, which have not changed."""


# --------------------------------------------------------------------- nested objects


class OpeningView(TypedDict):
    """One card opened against the hand's commitment (``Opening.to_wire``)."""

    position: int
    card: str
    nonce: str
    proof: list[str]


class WinnerView(TypedDict):
    """Chips a seat won from a pot, after rake."""

    seat: int
    amount: int


class PotView(TypedDict):
    """The one shape of a pot (``pots_updated``, snapshots, ``hand_result``, REST hands).

    ``rake`` and ``winners`` only once the pot is settled (``hand_result``, REST).
    """

    amount: int
    eligible: list[int]
    rake: NotRequired[int]
    winners: NotRequired[list[WinnerView]]


class LegalActionsView(TypedDict):
    """What the seat to act may do (``LegalActions``)."""

    seat: int
    can_fold: bool
    can_check: bool
    call_amount: int
    min_raise_to: int | None
    max_raise_to: int | None
    can_bet: bool
    can_raise: bool


class SeatView(TypedDict):
    """One seat of a snapshot; ``cards`` only the viewer's own and hands shown at showdown."""

    seat: int
    player_id: str | None
    status: str
    stack: int
    in_hand: bool
    folded: bool
    all_in: bool
    bet: int
    cards: list[str] | None


class Clock(TypedDict):
    """The running turn's clock in a snapshot."""

    seat: int
    remaining_s: float
    deadline: float
    grace_s: float
    decision: int


class LobbyTable(TypedDict):
    """A lobby entry; a change (``full: false``) carries ``table_id`` and what changed."""

    table_id: int
    name: NotRequired[str]
    small_blind: NotRequired[int]
    big_blind: NotRequired[int]
    max_seats: NotRequired[int]
    seated: NotRequired[int]
    status: NotRequired[str]
    avg_pot: NotRequired[int]
    hands_per_hour: NotRequired[int]
    waiting: NotRequired[int]


# --------------------------------------------------------------------- messages


class Authenticated(TypedDict):
    type: Literal["authenticated"]
    id: str | None
    user_id: int
    connection_id: str
    server: str
    encoding: str
    heartbeat_s: float


class Snapshot(TypedDict):
    """The table as the receiver may see it. ``id``: the answer to a ``join``; ``public``:
    the spectators' copy broadcast on the table channel after a seating change."""

    type: Literal["snapshot"]
    id: NotRequired[str | None]
    public: NotRequired[bool]
    table_id: int
    viewer: int | None
    hand_number: int | None
    running: bool
    small_blind: int
    big_blind: int
    button: int | None
    small_blind_seat: int | None
    big_blind_seat: int | None
    street: str | None
    board: list[str]
    pots: list[PotView]
    to_act: int | None
    seats: list[SeatView]
    legal_actions: LegalActionsView | None
    clock: Clock | None
    last_seq: int
    settling: bool
    disconnected: list[int]
    commitment: str | None
    openings: list[OpeningView]


class _Event(TypedDict):
    """What every ``event`` message carries."""

    type: Literal["event"]
    table_id: int
    hand: int | None
    event: str


class _EngineEvent(_Event):
    seq: int


class HandStarted(_EngineEvent):
    hand_number: int
    button: int
    small_blind_seat: int | None
    big_blind_seat: int
    small_blind: int
    big_blind: int
    seats: list[int]
    stacks: list[int]
    commitment: str | None


class BlindPosted(_EngineEvent):
    seat: int
    blind: str
    amount: int
    all_in: bool


class Action(_EngineEvent):
    seat: int
    kind: str
    amount: int
    added: int
    all_in: bool


class StreetDealt(_EngineEvent):
    street: str
    cards: list[str]
    board: list[str]
    openings: list[OpeningView]


class UncalledBetReturned(_EngineEvent):
    seat: int
    amount: int


class PotsUpdated(_EngineEvent):
    pots: list[PotView]


class HandShown(_EngineEvent):
    seat: int
    cards: list[str]
    openings: list[OpeningView]


class HandMucked(_EngineEvent):
    seat: int


class RakeTaken(_EngineEvent):
    amount: int
    by_pot: list[int]
    by_seat: list[int]


class PotAwarded(_EngineEvent):
    pot: int
    amount: int
    rake: int
    winners: list[WinnerView]


class Turn(_Event):
    """``turn`` and ``turn_extended`` (the player to act disconnected: the grace added)."""

    seat: int
    clock_s: float
    time_bank_s: float
    grace_s: float
    deadline: float
    decision: int
    legal: LegalActionsView


class HoleCards(TypedDict):
    """A seat's hole cards, to its player only."""

    type: Literal["hole_cards"]
    table_id: int
    hand: int | None
    event: Literal["hole_cards"]
    seq: int
    seat: int
    cards: list[str]
    openings: list[OpeningView]


class HandResultMessage(TypedDict):
    type: Literal["hand_result"]
    table_id: int
    hand: int
    button: int
    seats: list[int]
    players: list[str | None]
    board: list[str]
    pots: list[PotView]
    uncalled: list[list[int]]
    net: list[int]
    stacks: list[int]
    rake: int
    rake_by_seat: list[int]
    shown: list[list[int | list[str]]]
    mucked: list[int]
    commitment: str | None


class Result(TypedDict):
    """A command's success: ``ok``, its ``id`` and the details of `RESULTS` for its type."""

    type: Literal["result"]
    id: str | None
    table_id: NotRequired[int]
    ok: Literal[True]
    seat: NotRequired[int]
    stack: NotRequired[int]
    status: NotRequired[str]
    hand: NotRequired[int]
    seq: NotRequired[int]
    action: NotRequired[str]
    amount: NotRequired[int]
    left: NotRequired[bool]
    after_hand: NotRequired[bool]
    channel: NotRequired[str]
    acknowledged: NotRequired[bool]
    text: NotRequired[str]
    muted: NotRequired[list[int]]
    position: NotRequired[int]
    waiting: NotRequired[int]
    removed: NotRequired[bool]


class ErrorMessage(TypedDict):
    """A refused message; nothing changed. ``table_id`` when a table refused it."""

    type: Literal["error"]
    id: str | None
    table_id: NotRequired[int]
    code: str
    message: str


class Notice(TypedDict):
    type: Literal["notice"]
    table_id: int
    code: str
    message: str


class RealityCheck(TypedDict):
    """To the player, at the end of a hand once their reality-check interval has passed: time
    played and net result at this table; dealt in again after ``reality_check_ack``."""

    type: Literal["reality_check"]
    table_id: int
    played_s: int
    net: int


class ChatLine(TypedDict):
    """A chat line, to everyone at the table but the users who muted its sender. ``text`` is
    plain text (render it as text, never as markup); ``seat`` is None for a spectator."""

    type: Literal["chat"]
    table_id: int
    user_id: int
    seat: int | None
    text: str
    at: float


class SeatOffered(TypedDict):
    """To the first player on a table's wait list, when a seat opens: the seat is reserved
    for them until ``expires_at`` (epoch seconds); they take it with ``sit``."""

    type: Literal["seat_offered"]
    table_id: int
    seat: int
    expires_at: float


class Reconnect(TypedDict):
    type: Literal["reconnect"]
    reason: str


class Lobby(TypedDict):
    type: Literal["lobby"]
    id: NotRequired[str | None]
    full: bool
    tables: list[LobbyTable]


class Pong(TypedDict):
    type: Literal["pong"]
    id: str | None
    ts: float


SERVER_MESSAGES: dict[str, type] = {
    "authenticated": Authenticated,
    "snapshot": Snapshot,
    "hole_cards": HoleCards,
    "hand_result": HandResultMessage,
    "result": Result,
    "error": ErrorMessage,
    "notice": Notice,
    "reality_check": RealityCheck,
    "chat": ChatLine,
    "seat_offered": SeatOffered,
    "reconnect": Reconnect,
    "lobby": Lobby,
    "pong": Pong,
}
"""Every message ``type`` but ``event`` → its model (events: `EVENTS`)."""

EVENTS: dict[str, type] = {
    "hand_started": HandStarted,
    "blind_posted": BlindPosted,
    "action": Action,
    "street_dealt": StreetDealt,
    "uncalled_bet_returned": UncalledBetReturned,
    "pots_updated": PotsUpdated,
    "hand_shown": HandShown,
    "hand_mucked": HandMucked,
    "rake_taken": RakeTaken,
    "pot_awarded": PotAwarded,
    "turn": Turn,
    "turn_extended": Turn,
}
"""Every ``event`` of an ``event`` message → its model."""

NESTED: dict[str, type] = {
    "Opening": OpeningView,
    "Winner": WinnerView,
    "Pot": PotView,
    "LegalActions": LegalActionsView,
    "Seat": SeatView,
    "Clock": Clock,
    "LobbyTable": LobbyTable,
}
"""The objects inside messages, by their name in docs/asyncapi.yaml's schemas."""

RESULTS: dict[str, frozenset[str]] = {
    "sit": frozenset(["seat", "stack", "status"]),
    "act": frozenset(["hand", "seq", "action", "amount"]),
    "sit_out": frozenset(["seat"]),
    "sit_in": frozenset(["seat", "status"]),
    "top_up": frozenset(["seat", "stack"]),
    "leave": frozenset(["seat", "left", "after_hand"]),
    "unsubscribe": frozenset(["channel"]),
    "reality_check_ack": frozenset(["seat", "acknowledged"]),
    "chat": frozenset(["text"]),
    "mute": frozenset(["muted"]),
    "unmute": frozenset(["muted"]),
    "wait_list_join": frozenset(["position", "waiting"]),
    "wait_list_leave": frozenset(["removed"]),
}
"""The details a ``result`` carries, by the command it answers (``leave``: ``seat`` unless
a spectator left, ``after_hand`` when the player's hand is still running; ``chat``: the
line as delivered, blocked words masked; ``mute`` / ``unmute``: the whole mute list)."""
