"""What reaches a table session: the commands of its inbox, typed, and the outcomes of the
money steps it asked its owner to take.

Client messages are validated at the wire by `holdem.protocol.messages` (pydantic); the
server that received one appends it to the table's inbox stream as plain data, and
`command_from_stream` turns each stream entry into one of the frozen records below. From there
on, nothing is a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "ANSWERED",
    "Act",
    "Close",
    "Command",
    "Disconnected",
    "Done",
    "Exclude",
    "Failed",
    "Join",
    "Leave",
    "Outcome",
    "PlayerRules",
    "RealityCheckAck",
    "Say",
    "Sit",
    "SitIn",
    "SitOut",
    "TopUp",
    "Unknown",
    "WaitListDrop",
    "WaitListJoin",
    "WaitListLeave",
    "command_from_stream",
]


@dataclass(frozen=True, kw_only=True)
class Command:
    """One entry of the table's inbox.

    Attributes:
        entry_id: The stream id the entry was read at (the inbox cursor after it); empty for
            an act the owner took from its own socket (`edge.inbox.LOCAL`).
        at: When the command was sent (epoch seconds), to refuse one that waited too long.
        user: The user who sent it (0: the system, e.g. ``close``).
        conn: The connection it came from, which its answer goes to.
        rid: The client's request id, echoed in the answer.
    """

    kind: ClassVar[str] = ""
    entry_id: str
    at: float
    user: int = 0
    conn: str | None = None
    rid: str | None = None


@dataclass(frozen=True, kw_only=True)
class Join(Command):
    """A connection joined the table (a player coming back, or a spectator)."""

    kind: ClassVar[str] = "join"


@dataclass(frozen=True, kw_only=True)
class Disconnected(Command):
    """A connection that had joined the table closed."""

    kind: ClassVar[str] = "disconnected"


@dataclass(frozen=True, kw_only=True)
class Close(Command):
    """The operator closed the table (REST): the hand running is the last one."""

    kind: ClassVar[str] = "close"


@dataclass(frozen=True, kw_only=True)
class Exclude(Command):
    """The player began a break or a self-exclusion (REST). Never stale."""

    kind: ClassVar[str] = "exclude"


@dataclass(frozen=True, kw_only=True)
class Act(Command):
    """A betting action (`holdem.protocol.messages.Act`)."""

    kind: ClassVar[str] = "act"
    hand: int
    seq: int
    action: str
    amount: int | None = None
    decision: int | None = None


@dataclass(frozen=True, kw_only=True)
class Sit(Command):
    """Take a seat with a buy-in (`holdem.protocol.messages.Sit`)."""

    kind: ClassVar[str] = "sit"
    seat: int
    buy_in: int
    post: bool = False


@dataclass(frozen=True, kw_only=True)
class TopUp(Command):
    """Add chips between hands (`holdem.protocol.messages.TopUp`)."""

    kind: ClassVar[str] = "top_up"
    amount: int


@dataclass(frozen=True, kw_only=True)
class SitOut(Command):
    kind: ClassVar[str] = "sit_out"


@dataclass(frozen=True, kw_only=True)
class SitIn(Command):
    kind: ClassVar[str] = "sit_in"
    post: bool = False


@dataclass(frozen=True, kw_only=True)
class Leave(Command):
    kind: ClassVar[str] = "leave"


@dataclass(frozen=True, kw_only=True)
class RealityCheckAck(Command):
    kind: ClassVar[str] = "reality_check_ack"


@dataclass(frozen=True, kw_only=True)
class Say(Command):
    """A chat line (`holdem.protocol.messages.Chat`), from a player or a spectator."""

    kind: ClassVar[str] = "chat"
    text: str


@dataclass(frozen=True, kw_only=True)
class WaitListJoin(Command):
    """Wait for a seat at this full table (`holdem.session.wait_list`)."""

    kind: ClassVar[str] = "wait_list_join"


@dataclass(frozen=True, kw_only=True)
class WaitListLeave(Command):
    """Leave the table's wait list (declines a seat offered)."""

    kind: ClassVar[str] = "wait_list_leave"


@dataclass(frozen=True, kw_only=True)
class WaitListDrop(Command):
    """The player sat down at another table: off this table's wait list. Never stale."""

    kind: ClassVar[str] = "wait_list_drop"


@dataclass(frozen=True, kw_only=True)
class Unknown(Command):
    """An entry this version does not know (answered ``unknown_type``, never dropped)."""

    name: str


_KINDS: dict[str, type[Command]] = {
    cls.kind: cls
    for cls in (
        Join,
        Disconnected,
        Close,
        Exclude,
        Act,
        Sit,
        TopUp,
        SitOut,
        SitIn,
        Leave,
        RealityCheckAck,
        Say,
        WaitListJoin,
        WaitListLeave,
        WaitListDrop,
    )
}
ANSWERED = frozenset(
    [
        "act",
        "sit",
        "top_up",
        "sit_out",
        "sit_in",
        "leave",
        "reality_check_ack",
        "wait_list_join",
        "wait_list_leave",
        "chat",
    ]
)
"""The players' commands, each answered with a ``result`` or an ``error``."""


def command_from_stream(entry_id: str, fields: Mapping[str, Any]) -> Command:
    """The typed command of one inbox entry (as `edge.server` and `holdem.adapters.relay`
    write them: the client message's fields, plus ``kind``, ``user``, ``conn``, ``rid``, ``at``).

    The fields were validated when the message arrived; this only gives them their types.

    >>> command_from_stream("1-0", {"kind": "sit_out", "user": 7, "rid": "r1", "at": 5.0})
    SitOut(entry_id='1-0', at=5.0, user=7, conn=None, rid='r1')
    """
    kind = str(fields.get("kind"))
    common: dict[str, Any] = {
        "entry_id": entry_id,
        "at": float(fields.get("at") or 0.0),
        "user": int(fields.get("user") or 0),
        "conn": fields.get("conn"),
        "rid": fields.get("rid"),
    }
    cls = _KINDS.get(kind)
    if cls is None:
        return Unknown(name=kind, **common)
    if cls is Act:
        return Act(
            hand=int(fields["hand"]),
            seq=int(fields["seq"]),
            action=str(fields["action"]),
            amount=fields.get("amount"),
            decision=fields.get("decision"),
            **common,
        )
    if cls is Sit:
        return Sit(
            seat=int(fields["seat"]),
            buy_in=int(fields["buy_in"]),
            post=bool(fields.get("post", False)),
            **common,
        )
    if cls is TopUp:
        return TopUp(amount=int(fields["amount"]), **common)
    if cls is Say:
        return Say(text=str(fields["text"]), **common)
    if cls is SitIn:
        return SitIn(post=bool(fields.get("post", False)), **common)
    return cls(**common)


@dataclass(frozen=True)
class PlayerRules:
    """A player's protection rules at sit-down (read from PostgreSQL with the buy-in).

    Attributes:
        session_minutes: The session-length limit (None: none).
        reality_check_minutes: The reality-check interval.
        played_s: How long the player's session has run already (at other tables).
    """

    session_minutes: int | None
    reality_check_minutes: int
    played_s: float = 0.0


@dataclass(frozen=True)
class Done:
    """The money step the session asked for committed (or had committed before).

    ``rules``: for a buy-in, the player's protection rules.
    """

    rules: PlayerRules | None = None


@dataclass(frozen=True)
class Failed:
    """The money step the session asked for did not happen; nothing moved.

    ``code``: the stable error code of a refusal (e.g. ``loss_limit_reached``), answered to
    the player; None when the step failed otherwise (PostgreSQL unreachable, a bug).
    """

    code: str | None
    message: str


Outcome = Done | Failed
"""What the owner feeds back after taking a money step."""
