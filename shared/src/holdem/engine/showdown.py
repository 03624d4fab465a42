"""Who shows first at showdown, and which hands are shown or mucked (TDA 16, 17).

* Once a player is all-in and betting is over, every live hand is shown.
* Otherwise the last aggressor of the final betting round shows first (the hand the
  callers paid to see); with no bet on that round, the first live seat left of the
  button shows first. Showing then goes clockwise.
* Online, a later hand is shown only if it beats or ties the best hand shown so far;
  a losing hand is mucked. Winners are therefore always shown.

>>> order = showdown_order([0, 2, 4], button=4, table_size=6, aggressor=None)
>>> order
[0, 2, 4]
>>> reveal(order, {0: 10, 2: 30, 4: 20}, everyone_shows=False)
([0, 2], [4])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["reveal", "showdown_order"]


def showdown_order(
    live: Sequence[int], button: int, table_size: int, aggressor: int | None
) -> list[int]:
    """The order in which live hands are tabled.

    Args:
        live: The seats still in the hand.
        button: The button seat.
        table_size: Seats at the table.
        aggressor: The last seat to bet or raise on the final betting round, if any.

    Returns:
        ``live`` rotated to start with the aggressor, else the first seat left of the button.
    """
    start = aggressor if aggressor is not None else (button + 1) % table_size
    seats = set(live)
    return [s for s in (*range(start, table_size), *range(start)) if s in seats]


def reveal(
    order: Sequence[int], values: Mapping[int, int], *, everyone_shows: bool
) -> tuple[list[int], list[int]]:
    """Split the showdown into shown and mucked hands.

    Args:
        order: Seats in showing order (see :func:`showdown_order`).
        values: Each seat's hand value (higher is better).
        everyone_shows: Whether a live player is all-in, so every hand is tabled.

    Returns:
        ``(shown, mucked)``, each in showing order.
    """
    if everyone_shows:
        return list(order), []
    shown: list[int] = []
    mucked: list[int] = []
    best = -1
    for seat in order:
        value = values[seat]
        if value >= best:
            shown.append(seat)
            best = value
        else:
            mucked.append(seat)
    return shown, mucked
