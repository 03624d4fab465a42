"""What both export formats read of a hand record: the viewer's seat, the events they may
see, the table, and the stored events' older shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from holdem.ports.hands import HandRecord, TableFacts
from holdem.services.errors import NotFound

__all__ = [
    "TableFacts",
    "action_kind",
    "seat_of_viewer",
    "table_name",
    "table_size",
    "visible_events",
    "winners",
    "won",
]


def winners(event: dict[str, Any]) -> list[tuple[int, int]]:
    """A ``pot_awarded`` event's ``(seat, chips)`` pairs, in either stored form."""
    return [
        (w["seat"], w["amount"]) if isinstance(w, dict) else (w[0], w[1]) for w in event["winners"]
    ]


def won(amount: int) -> str:
    """``₩1000``: KRW has no minor unit, so no decimals."""
    return f"₩{amount}"


def seat_of_viewer(hand: HandRecord, viewer_id: int) -> int:
    """The seat the viewer played the hand at.

    Raises:
        NotFound: The viewer did not play this hand.
    """
    for player in hand.players:
        if player.user_id == viewer_id:
            return player.seat_no
    raise NotFound(f"hand {hand.id} not found", {"hand_id": hand.id})


def table_size(hand: HandRecord, table: TableFacts | None) -> int:
    """The number of seats of the hand's table (9 when neither table nor result tells)."""
    if table is not None:
        return table.seats
    players = hand.result.get("players")  # older results listed every seat's player
    return len(players) if isinstance(players, list) and players else 9


def table_name(hand: HandRecord, table: TableFacts | None) -> str:
    """The table's name, or ``Table <id>`` when it is not known."""
    return table.name if table is not None else f"Table {hand.table_id}"


def visible_events(hand: HandRecord, viewer_seat: int) -> list[dict[str, Any]]:
    """The events' payloads the viewer may see, in order."""
    return [
        e.payload
        for e in sorted(hand.events, key=lambda e: e.seq_no)
        if e.type != "hole_cards" or e.seat_no == viewer_seat
    ]


def action_kind(payload: Mapping[str, Any]) -> str:
    """An ``action`` event's kind (``fold``, ``check``, ``call``, ``bet``, ``raise``)."""
    # The engine's ActionTaken named its field ``action`` before it became ``kind``; hands
    # stored under either name stay exportable.
    return str(payload["kind"] if "kind" in payload else payload["action"])
