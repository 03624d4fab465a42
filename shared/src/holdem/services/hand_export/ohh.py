"""Hand-history export as Open Hand History JSON (spec 1.4.6)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from holdem.ports.hands import HandRecord
from holdem.services.hand_export.reading import (
    TableFacts,
    action_kind,
    seat_of_viewer,
    table_name,
    table_size,
    visible_events,
    winners,
)

__all__ = ["OHH_SPEC_VERSION", "SITE_NAME", "to_ohh"]

OHH_SPEC_VERSION = "1.4.6"
SITE_NAME = "Holdem Backend"
# Stored events name a street by its number before protocol 3.0.0 and by its name since.
_OHH_STREETS = {0: "Preflop", 1: "Flop", 2: "Turn", 3: "River"} | {
    name.lower(): name for name in ("Preflop", "Flop", "Turn", "River")
}


_OHH_BLINDS = {
    "small_blind": "Post SB",
    "big_blind": "Post BB",
    "dead_small_blind": "Post Dead",
    "posted_big_blind": "Post Extra Blind",
}


def to_ohh(
    hand: HandRecord, names: Mapping[int, str], viewer_id: int, table: TableFacts | None = None
) -> dict[str, Any]:
    """One hand as an Open Hand History document (``{"ohh": {...}}``), for ``viewer_id``.

    Spec 1.4.6. A player's ``id`` is the seat on the wire (from 0) and ``seat`` the seat as
    the table shows it (from 1); amounts are chips put in by the action, in won.

    Raises:
        NotFound: The viewer did not play this hand.
    """
    viewer_seat = seat_of_viewer(hand, viewer_id)
    events = visible_events(hand, viewer_seat)
    start = next(e for e in events if e["event"] == "hand_started")
    by_seat = {p.seat_no: p for p in hand.players}
    players = []
    for seat, stack in zip(start["seats"], start["stacks"], strict=True):
        player = by_seat.get(seat)
        name = names.get(player.user_id, f"player{player.user_id}") if player else f"seat{seat + 1}"
        players.append(
            {
                "id": seat,
                "seat": seat + 1,
                "name": name,
                "display": name,
                "starting_stack": stack,
                "is_sitting_out": False,
            }
        )
    rounds: list[dict[str, Any]] = [{"id": 0, "street": "Preflop", "cards": [], "actions": []}]
    showdown: dict[str, Any] | None = None
    number = 0
    pots: list[dict[str, Any]] = []

    def add(round_: dict[str, Any], action: dict[str, Any]) -> None:
        nonlocal number
        number += 1
        round_["actions"].append({"action_number": number, **action})

    for e in events:
        kind = e["event"]
        current = rounds[-1]
        if kind == "blind_posted":
            add(
                current,
                {
                    "player_id": e["seat"],
                    "action": _OHH_BLINDS[e["blind"]],
                    "amount": e["amount"],
                    "is_allin": e["all_in"],
                },
            )
        elif kind == "hole_cards":
            add(current, {"player_id": e["seat"], "action": "Dealt Cards", "cards": e["cards"]})
        elif kind == "action":
            add(
                current,
                {
                    "player_id": e["seat"],
                    "action": action_kind(e).title(),
                    "amount": e["added"],
                    "is_allin": e["all_in"],
                },
            )
        elif kind == "street_dealt":
            rounds.append(
                {
                    "id": len(rounds),
                    "street": _OHH_STREETS[e["street"]],
                    "cards": e["cards"],
                    "actions": [],
                }
            )
        elif kind in ("hand_shown", "hand_mucked"):
            if showdown is None:
                showdown = {"id": len(rounds), "street": "Showdown", "cards": [], "actions": []}
                rounds.append(showdown)
            if kind == "hand_shown":
                add(
                    showdown, {"player_id": e["seat"], "action": "Shows Cards", "cards": e["cards"]}
                )
            else:
                add(showdown, {"player_id": e["seat"], "action": "Mucks Cards"})
        elif kind == "pot_awarded":
            pots.append(
                {
                    "number": e["pot"],
                    "amount": e["amount"] + e["rake"],
                    "rake": e["rake"],
                    "jackpot": 0,
                    "player_wins": [
                        {"player_id": seat, "win_amount": chips, "contributed_rake": 0}
                        for seat, chips in winners(e)
                    ],
                }
            )
    return {
        "ohh": {
            "spec_version": OHH_SPEC_VERSION,
            "site_name": SITE_NAME,
            "network_name": SITE_NAME,
            "internal_version": "1",
            "tournament": False,
            "game_number": str(hand.id),
            "start_date_utc": hand.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "table_name": table_name(hand, table),
            "table_handle": str(hand.table_id),
            "table_skin": SITE_NAME,
            "game_type": "Holdem",
            "bet_limit": {"bet_type": "NL", "bet_cap": 0},
            "table_size": table_size(hand, table),
            "currency": "KRW",
            "dealer_seat": hand.button_seat + 1,
            "small_blind_amount": hand.small_blind,
            "big_blind_amount": hand.big_blind,
            "ante_amount": 0,
            "hero_player_id": viewer_seat,
            "flags": [],
            "players": players,
            "rounds": rounds,
            "pots": pots,
        }
    }
