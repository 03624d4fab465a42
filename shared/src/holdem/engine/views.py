"""What one viewer may see of a table, as plain data for the wire.

A view never contains hole cards the viewer may not see: a seated player sees their own
cards; everybody sees the cards shown at showdown; a spectator sees only those. The same
rule decides which cards the view opens against the hand's commitment (``openings``: the
viewer's own hole cards, the board dealt so far, cards shown at showdown). Views are plain
``dict``/``list``/``int``/``str``/``bool``/``None`` structures, openings being
:class:`~holdem.engine.shuffle.Opening` tuples.

>>> from holdem.engine.table import Table, TableConfig
>>> table = Table(TableConfig(seats=2, small_blind=1, big_blind=2))
>>> table.spectator_view()["seats"][0]
{'seat': 0, 'player_id': None, 'status': 'empty', 'stack': 0, 'in_hand': False, \
'folded': False, 'all_in': False, 'bet': 0, 'cards': None}
"""

from __future__ import annotations

from typing import Any

from holdem.engine.blinds import SeatStatus
from holdem.engine.dealing import Street, board_offset
from holdem.engine.table_state import TableState

__all__ = ["seat_status_name", "spectator_view", "view_for"]

_STATUS_NAMES = {status.value: status.name.lower() for status in SeatStatus}
_STREET_NAMES = {street.value: street.name.lower() for street in Street}


def seat_status_name(status: int) -> str:
    """A :class:`SeatStatus` as views name it: ``empty``, ``active``, ``waiting``, ``posting``
    or ``sitting_out``."""
    return _STATUS_NAMES[status]


def view_for(table: TableState, seat: int | None) -> dict[str, Any]:
    """The table as ``seat`` sees it (``None``: as a spectator).

    Returns:
        ``hand_number``, ``running``, the blinds and positions, ``street``, ``board``,
        ``pots`` (``{"amount", "eligible"}``, as of the last finished betting round),
        ``to_act``, one entry per seat (player, status, stack, street bet, folded, all-in,
        and ``cards`` only when the viewer may see them), ``legal_actions`` when it
        is the viewer's turn, the hand's ``commitment`` and the ``openings`` of the cards
        the viewer may see.
    """
    hand = table.hand
    shown = set(hand.shown) if hand is not None else set()
    # Between hands the last hand stays on the table, and its seats may have changed hands:
    # a player who sits in a seat after its hand sees nothing of the cards dealt to it.
    mine = (
        seat is not None
        and hand is not None
        and (hand.result is None or hand.result.players[seat] == table.players[seat])
    )
    seats = []
    opened: list[int] = []
    for s in range(table.size):
        in_hand = hand is not None and hand.dealt[s]
        cards = None
        if hand is not None and in_hand and ((s == seat and mine) or s in shown):
            cards = [hand.cards[2 * s], hand.cards[2 * s + 1]]
            opened += [2 * s, 2 * s + 1]
        seats.append(
            {
                "seat": s,
                "player_id": table.players[s],
                "status": seat_status_name(table.status[s]),
                "stack": table.stacks[s],
                "in_hand": in_hand,
                "folded": hand is not None and in_hand and hand.folded[s],
                "all_in": hand is not None and hand.is_all_in[s],
                "bet": hand.bets[s] if hand is not None else 0,
                "cards": cards,
            }
        )
    config = table.config
    view: dict[str, Any] = {
        "viewer": seat,
        "small_blind": config.small_blind,
        "big_blind": config.big_blind,
        "seats": seats,
    }
    if hand is None:
        view.update(
            hand_number=None,
            running=False,
            button=None,
            small_blind_seat=None,
            big_blind_seat=None,
            street=None,
            board=[],
            pots=[],
            to_act=None,
            legal_actions=None,
            commitment=None,
            openings=[],
        )
        return view
    running = hand.result is None
    legal = None
    if running and seat is not None and seat == hand.to_act:
        legal = hand.legal_actions(seat)._asdict()
    view.update(
        hand_number=hand.number,
        running=running,
        button=hand.button,
        small_blind_seat=None if hand.small_blind_seat < 0 else hand.small_blind_seat,
        big_blind_seat=hand.big_blind_seat,
        street=_STREET_NAMES[hand.street],
        board=list(hand.board),
        pots=[pot.to_wire() for pot in hand.pots],
        to_act=hand.to_act if hand.to_act >= 0 else None,
        legal_actions=legal,
        commitment=hand.commitment,
        openings=list(
            hand.openings(
                *opened, *range(board_offset(hand.size), board_offset(hand.size) + len(hand.board))
            )
        ),
    )
    return view


def spectator_view(table: TableState) -> dict[str, Any]:
    """The table as a spectator sees it: no hole cards except those shown at showdown."""
    return view_for(table, None)
