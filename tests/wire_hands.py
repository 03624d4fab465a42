"""Real server messages of one seeded hand, for the codec tests of the protocol and the SDK."""

from __future__ import annotations

from typing import Any

from holdem.engine import Table, TableConfig
from holdem.protocol.views import event_to_wire, view_to_wire


def seeded_hand_messages() -> list[dict[str, Any]]:
    """Every event of a seeded 6-seat hand played to the flop, then seat 0's snapshot
    (openings, nested seats, pots)."""
    table = Table(TableConfig(seats=6, small_blind=1_000, big_blind=2_000))
    for seat in range(6):
        table.sit_down(seat, str(1_000 + seat), 200_000)
    hand = table.start_hand(seed=bytes(range(32)), button=0)
    for seat in (3, 4, 5, 0, 1):
        hand.call(seat)
    hand.check(2)
    events = [
        {"type": "event", "table_id": 7, "hand": 1, **event_to_wire(e)}
        for e in table.drain_events()
    ]
    return [*events, {"type": "snapshot", "table_id": 7, **view_to_wire(table.view_for(0))}]
