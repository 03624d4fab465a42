"""Hand-history export: PokerStars text (for tracking tools) and Open Hand History JSON.

Amounts are KRW, integer won (``₩1000``; OHH ``"currency": "KRW"``). The export is always
for one viewer, who must have played the hand, and shows only what that viewer may see:
their own hole cards and the cards shown at showdown. Other players' hole cards (from
``hole_cards`` events or ``hand_players``) are never read for anyone but the viewer.

Rendering works on :class:`~holdem.services.archive.HandRecord`, whose events carry the
engine's events as the table servers store them (``holdem.protocol.views.event_to_wire``),
so archived and hot hands export the same way.
"""

from __future__ import annotations

from holdem.services.hand_export.loading import (
    MAX_EXPORT_HANDS,
    Exported,
    ExportFormat,
    export_hand,
    export_range,
)
from holdem.services.hand_export.ohh import to_ohh
from holdem.services.hand_export.pokerstars import to_pokerstars
from holdem.services.hand_export.reading import TableFacts

__all__ = [
    "MAX_EXPORT_HANDS",
    "ExportFormat",
    "Exported",
    "TableFacts",
    "export_hand",
    "export_range",
    "to_ohh",
    "to_pokerstars",
]
