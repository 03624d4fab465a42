"""A finished hand as plain data: what the one settlement transaction needs.

The table's owner keeps these in its outbox (in the checkpoint) until PostgreSQL has them
(`holdem.services.table_runtime.TableMoney.settle`).
"""

from __future__ import annotations

from typing import Any

from holdem.engine.cards import card_str
from holdem.engine.hand import Hand
from holdem.engine.results import HandResult

__all__ = ["HandSettlement", "build_settlement", "with_think_time"]

HandSettlement = dict[str, Any]
"""A finished hand, msgpack-ready, as kept in the owner's outbox until it is settled."""


def with_think_time(wire: dict[str, Any], decided: tuple[int, int] | None) -> dict[str, Any]:
    """An event as the hand's record keeps it: a player's own action also carries
    ``think_ms``, the milliseconds from the start of their turn to the action (`decided`:
    the seat that just spent its clock, and that time), read by the integrity signals
    (docs/integrity.md). A timeout's check or fold, or a fold on leaving, spends no clock and
    is not timed. Never shown to players (`holdem.services.hand_history` leaves it out).

    >>> with_think_time({"event": "action", "seat": 2, "kind": "call"}, (2, 1840))
    {'event': 'action', 'seat': 2, 'kind': 'call', 'think_ms': 1840}
    >>> with_think_time({"event": "action", "seat": 2, "kind": "fold"}, None)
    {'event': 'action', 'seat': 2, 'kind': 'fold'}
    """
    if decided is None or wire.get("event") != "action" or decided[0] != wire["seat"]:
        return wire
    return {**wire, "think_ms": decided[1]}


def build_settlement(
    *,
    table_id: int,
    fence: int,
    hand: Hand,
    result: HandResult,
    started_at: float,
    ended_at: float,
    events: list[dict[str, Any]],
    chat: list[dict[str, Any]] | None = None,
) -> HandSettlement:
    """Everything the one settlement transaction needs, as plain data.

    ``chat``: the table's chat lines since the previous hand ended (`holdem.session.chat`),
    stored with the hand for the operator, never shown in a player's history or export."""
    players = []
    for seat in result.seats:
        player = result.players[seat]
        if player is None:
            continue
        cards = hand.hole_cards(seat)
        players.append(
            {
                "seat": seat,
                "user_id": int(player),
                "hole_cards": "".join(card_str(c) for c in cards) if cards else "",
                "shown": any(s == seat for s, _ in result.shown),
                "net": result.net[seat],
                "rake_share": result.rake_by_seat[seat],
            }
        )
    total_pot = sum(pot.amount for pot in result.pots)
    return {
        "table_id": table_id,
        "hand_no": result.hand_number,
        "fence": fence,
        "started_at": started_at,
        "ended_at": ended_at,
        "small_blind": hand.small_blind,
        "big_blind": hand.big_blind,
        "button": result.button,
        "board": " ".join(card_str(c) for c in result.board),
        "total_pot": total_pot,
        "rake": result.rake,
        "commitment": result.commitment or "",
        "seed": hand.seed.hex() if hand.seed is not None else "",  # server side only
        "players": players,
        "events": events,
        "chat": chat or [],
        "result": {
            "net": list(result.net),
            "stacks": list(result.stacks),
            "rake_by_seat": list(result.rake_by_seat),
            "pots": [pot.to_wire() for pot in result.pots],
            "shown": [[s, [card_str(c) for c in cards]] for s, cards in result.shown],
            "uncalled": [list(u) for u in result.uncalled],
        },
    }
