"""Engine records → wire messages (plain data, cards as two-character strings like "As").

Only the table's owner calls these. Which events a connection may receive is decided by the
caller with `holdem.engine.events.audience`: private events (hole cards) go to their
owner's user channel only; every other event goes to the table channel.

Openings travel as `holdem.engine.shuffle.Opening.to_wire` gives them (position, card, nonce
and proof in hex), pots as `holdem.engine.pots.Pot.to_wire` / `PotResult.to_wire` (one shape
everywhere), streets by name (``flop``), as snapshots name them. The shuffle seed is never put
on the wire: it would open every card. The shapes are `holdem.protocol.outgoing`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any, get_args

from holdem.engine.cards import Card, card_str
from holdem.engine.dealing import Street
from holdem.engine.events import Event, HandEnded
from holdem.engine.results import HandResult
from holdem.engine.shuffle import Opening
from holdem.protocol.codec import Compacted, compacted

__all__ = ["event_to_wire", "result_to_wire", "view_to_wire"]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _cards(cards: Sequence[Card]) -> list[str]:
    return [card_str(c) for c in cards]


_FIELD_TO_WIRE: dict[str, Callable[[Any], Any]] = {
    "cards": _cards,
    "board": _cards,
    "pots": lambda pots: [pot.to_wire() for pot in pots],
    "street": lambda street: Street(street).name.lower(),
    "winners": lambda winners: [{"seat": seat, "amount": chips} for seat, chips in winners],
    "openings": lambda openings: [_opening_to_wire(opening) for opening in openings],
}
"""How the fields that are not plain data travel (any other field: `_plain`)."""


_EVENT_FIELDS: dict[type, tuple[tuple[str, Callable[[Any], Any]], ...]] = {
    kind: tuple((name, _FIELD_TO_WIRE.get(name, _plain)) for name in kind._fields)
    for kind in get_args(Event)
}
"""Each event type's fields, in order, with the function that puts each on the wire."""


def event_to_wire(event: Event) -> dict[str, Any]:
    """One engine event as ``{"event": <type>, "seq": n, ...fields}``."""
    if isinstance(event, HandEnded):
        return {"event": event.type, "seq": event.seq, "hand": event.result.hand_number}
    fields: dict[str, Any] = {"event": event.type}
    for (name, to_wire), value in zip(_EVENT_FIELDS[type(event)], event, strict=True):
        fields[name] = to_wire(value)
    return fields


def result_to_wire(result: HandResult) -> dict[str, Any]:
    """A finished hand for every viewer: board, pots, net per seat, rake, the commitment.

    Shown cards were opened by their ``hand_shown`` events; nothing here opens a card.
    """
    return {
        "hand": result.hand_number,
        "button": result.button,
        "seats": list(result.seats),
        "players": list(result.players),
        "board": [card_str(c) for c in result.board],
        "pots": [pot.to_wire() for pot in result.pots],
        "uncalled": [list(u) for u in result.uncalled],
        "net": list(result.net),
        "stacks": list(result.stacks),
        "rake": result.rake,
        "rake_by_seat": list(result.rake_by_seat),
        "shown": [[seat, [card_str(c) for c in cards]] for seat, cards in result.shown],
        "mucked": list(result.mucked),
        "commitment": result.commitment,
    }


_OPENINGS_KEPT = 2048
_openings: dict[Opening, Compacted] = {}
"""The wire form of the openings recently sent (with its MessagePack compact form), so that
the snapshots of a hand (seven after it ends, each with up to 17 openings) build it once."""


def _opening_to_wire(opening: Opening) -> Compacted:
    """`Opening.to_wire`'s dict, as a new `Compacted` (its proof list new too: only the
    strings and the compact form are shared with the other messages that carry it)."""
    kept = _openings.get(opening)
    if kept is None:
        if len(_openings) >= _OPENINGS_KEPT:
            _openings.clear()
        kept = _openings[opening] = compacted(opening.to_wire())
    wire = Compacted(kept)
    wire["proof"] = list(kept["proof"])
    wire.compact = kept.compact
    return wire


def view_to_wire(view: dict[str, Any]) -> dict[str, Any]:
    """An engine view (`holdem.engine.views.view_for`) with cards as strings (the seats
    without cards are `view`'s own dicts, not copies)."""
    out = dict(view)
    out["board"] = [card_str(c) for c in view["board"]]
    out["openings"] = [_opening_to_wire(opening) for opening in view["openings"]]
    out["seats"] = [
        seat if seat["cards"] is None else {**seat, "cards": [card_str(c) for c in seat["cards"]]}
        for seat in view["seats"]
    ]
    return out
