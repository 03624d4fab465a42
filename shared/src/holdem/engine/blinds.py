"""Who is dealt in and who posts what: the big-blind-anchored dead button.

Rules applied to plan each hand (POKER_RULES.md, "Blinds and the button"):

* **The big blind moves one live seat every hand**: to the first seat after last hand's
  big blind whose player is ready (seated, not sitting out, with chips). Players it
  passes while they sit out have **missed the big blind** (they then owe a live big
  blind and a dead small blind). A player who posted a big blind to enter last hand is
  passed too when seats emptied in between would otherwise hand them the big blind
  again at once: that post was their big blind.
* The small blind falls on **last hand's big-blind seat** and the button on **last hand's
  small-blind seat**, so either may be an empty seat (a dead small blind is not posted,
  a dead button deals from an empty seat). A player sitting out on the seat the small
  blind falls on has **missed the small blind** (a heads-up hand passes no small blind
  over anyone: its small blind is the button's). Nobody skips the big blind or posts it
  twice in a row, except when every ready player posted one last hand.
* **The button is never the big blind with three or more dealt in.** When the big blind
  goes round to last hand's small blind (every seat in between posted a big blind last
  hand or left), the small blind and the button are placed before the big blind as on a
  first hand: the small blind on the first player before it, the button on the one
  before that.
* **A seat's history leaves with its player**: a newcomer in a seat has posted nothing.
* **Heads-up** (TDA 34-B): with two players dealt in, the player who is not the big blind
  has the button and posts the small blind. Because the big blind is anchored, going
  from three players to two never gives anyone the big blind twice in a row.
* **Entering** (new players and players returning with owed blinds): a player waiting for
  the big blind is dealt in when it reaches them. A player who chose to post is dealt
  in at once, posting what they owe (a live big blind; plus a dead small blind if they
  missed blinds), unless their seat lies between the button and the small blind
  (inclusive; they wait for the button to pass), or the big blind reaches them next
  hand anyway (posting now would make them post it twice in a row), or no two other
  players are dealt in (nobody enters a heads-up game out of position).
* **Restart:** when these rules would deal fewer than two players although two or more
  are ready (e.g. a lone player and newcomers waiting for the big blind), every ready
  player is dealt in, owed blinds are waived, and the blinds are placed normally before
  the (still anchored) big blind. The first hand of a table is dealt the same way, from
  a chosen button.

>>> A, W, O = SeatStatus.ACTIVE, SeatStatus.WAITING, SeatStatus.SITTING_OUT
>>> no = [False] * 4
>>> plan = plan_hand([A, A, A, O], [100] * 4, no, no, no, last_small=0, last_big=1)
>>> plan.button, plan.small_blind_seat, plan.big_blind_seat, plan.dealt, plan.missed_big
(0, 1, 2, (0, 1, 2), ())
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple

from holdem.engine.errors import NotEnoughPlayersError
from holdem.engine.events import BlindKind

__all__ = ["READY", "BlindPlan", "SeatStatus", "plan_hand"]


class SeatStatus(IntEnum):
    """A seat's standing between hands."""

    EMPTY = 0
    ACTIVE = 1
    """Plays every hand."""
    WAITING = 2
    """New or returning; dealt in when the big blind reaches them."""
    POSTING = 3
    """New or returning; posts what they owe to be dealt in at once."""
    SITTING_OUT = 4
    """Seated but not playing; misses blinds as they pass."""


READY = frozenset((SeatStatus.ACTIVE, SeatStatus.WAITING, SeatStatus.POSTING))
"""The statuses of players who can be dealt in (given chips)."""


class BlindPlan(NamedTuple):
    """The seating decisions for one hand.

    Attributes:
        button: The button seat (may be empty).
        small_blind_seat: The seat posting the small blind, ``None`` if it is dead.
        big_blind_seat: The seat posting the big blind.
        small_blind_position: The seat the small blind fell on, posted or not; the next
            hand's button.
        dealt: Seats dealt in, ascending.
        posts: ``(seat, blind)`` in posting order.
        entered: Seats that become active with their owed blinds settled.
        missed_big: Sitting-out seats the big blind passed.
        missed_small: A sitting-out seat the small blind fell on.
        restart: Whether the hand was planned as a (re)start.
    """

    button: int
    small_blind_seat: int | None
    big_blind_seat: int
    small_blind_position: int
    dealt: tuple[int, ...]
    posts: tuple[tuple[int, BlindKind], ...]
    entered: tuple[int, ...]
    missed_big: tuple[int, ...]
    missed_small: tuple[int, ...]
    restart: bool


def _after(ready: Sequence[bool], seat: int) -> int:
    """The first ready seat clockwise after ``seat``."""
    size = len(ready)
    for step in range(1, size + 1):
        candidate = (seat + step) % size
        if ready[candidate]:
            return candidate
    raise NotEnoughPlayersError("no player is ready")


def _before(ready: Sequence[bool], seat: int) -> int:
    """The first ready seat counter-clockwise before ``seat``."""
    size = len(ready)
    for step in range(1, size + 1):
        candidate = (seat - step) % size
        if ready[candidate]:
            return candidate
    raise NotEnoughPlayersError("no player is ready")


def plan_hand(
    status: Sequence[int],
    stacks: Sequence[int],
    owes_big: Sequence[bool],
    owes_small: Sequence[bool],
    posted_big: Sequence[bool],
    *,
    last_small: int,
    last_big: int,
    button: int | None = None,
) -> BlindPlan:
    """Plan the next hand's button, blinds and players.

    Args:
        status: Each seat's :class:`SeatStatus`.
        stacks: Each seat's chips.
        owes_big: Whether each seat owes a live big blind (new, or missed it).
        owes_small: Whether each seat owes a dead small blind.
        posted_big: Whether each seat posted a big blind (in turn or to enter) last hand.
        last_small: Last hand's small-blind position, ``-1`` before the first hand.
        last_big: Last hand's big-blind seat, ``-1`` before the first hand.
        button: The first hand's button (default: the lowest ready seat).

    Returns:
        The plan; the caller applies ``entered``, ``missed_big`` and ``missed_small``.

    Raises:
        NotEnoughPlayersError: Fewer than two players are ready.
    """
    size = len(status)
    ready = [status[s] in READY and stacks[s] > 0 for s in range(size)]
    count = ready.count(True)
    if count < 2:
        raise NotEnoughPlayersError(f"{count} player(s) ready, two are needed")
    if last_big < 0:
        first = ready.index(True) if button is None else button
        if not ready[first]:
            first = _after(ready, first)
        small = first if count == 2 else _after(ready, first)
        return _dealt_all(ready, _after(ready, small), (), (), first_button=first)

    empty = SeatStatus.EMPTY
    missed: list[int] = []
    big = last_big
    for _ in range(size - 1):
        big = big + 1 if big + 1 < size else 0
        if ready[big] and not posted_big[big]:
            break
        if status[big] != empty and not ready[big]:
            missed.append(big)
    else:
        # Everyone ready posted a big blind last hand (seats emptied around an entry post):
        # someone must post twice, and the anchor decides who.
        big = _after(ready, last_big)
        missed = [s for s in missed if (s - last_big) % size < (big - last_big) % size]
    missed_big = tuple(missed)

    active = SeatStatus.ACTIVE
    dealt = [s for s in range(size) if ready[s] and (status[s] == active or s == big)]
    if len(dealt) < 2:
        return _dealt_all(ready, big, missed_big, (), first_button=None)

    small_position, the_button = last_big, last_small
    if the_button == big and len(dealt) > 2:
        # The big blind went round to last hand's small blind (everyone in between posted
        # a big blind last hand or left): the anchors would put the button on the big
        # blind. Place the small blind and the button before it, as on a first hand.
        in_hand = [s in dealt for s in range(size)]
        small_position = _before(in_hand, big)
        the_button = _before(in_hand, small_position)
    entered = [] if status[big] == active else [big]
    posters: list[int] = []
    if SeatStatus.POSTING in status:
        next_big = _after(ready, big)
        arc = (small_position - the_button) % size
        posters = [
            s
            for s in range(size)
            if ready[s]
            and status[s] == SeatStatus.POSTING
            and s != big
            and s != next_big
            and (s - the_button) % size > arc
        ]
        entered.extend(posters)
        dealt = sorted(dealt + posters)
    if len(dealt) == 2:
        other = dealt[0] if dealt[1] == big else dealt[1]
        return BlindPlan(
            button=other,
            small_blind_seat=other,
            big_blind_seat=big,
            small_blind_position=other,
            dealt=tuple(dealt),
            posts=((other, BlindKind.SMALL), (big, BlindKind.BIG)),
            entered=tuple(entered),
            missed_big=missed_big,
            missed_small=(),
            restart=False,
        )
    # A seat misses the small blind only when it falls on that seat while it sits out.
    sitting_out = status[small_position] != empty and not ready[small_position]
    missed_small = (small_position,) if sitting_out else ()
    posts: list[tuple[int, BlindKind]] = []
    small_seat = small_position if small_position in dealt else None
    if small_seat is not None:
        posts.append((small_seat, BlindKind.SMALL))
    posts.append((big, BlindKind.BIG))
    for seat in sorted(posters, key=lambda s: (s - big) % size):
        if owes_big[seat]:
            posts.append((seat, BlindKind.POSTED_BIG))
        if owes_small[seat]:
            posts.append((seat, BlindKind.DEAD_SMALL))
    return BlindPlan(
        button=the_button,
        small_blind_seat=small_seat,
        big_blind_seat=big,
        small_blind_position=small_position,
        dealt=tuple(dealt),
        posts=tuple(posts),
        entered=tuple(sorted(entered)),
        missed_big=missed_big,
        missed_small=missed_small,
        restart=False,
    )


def _dealt_all(
    ready: Sequence[bool],
    big: int,
    missed_big: tuple[int, ...],
    missed_small: tuple[int, ...],
    *,
    first_button: int | None,
) -> BlindPlan:
    """Deal every ready player in, blinds placed just before ``big`` (first hand, restart)."""
    small = _before(ready, big)
    seats = tuple(s for s, flag in enumerate(ready) if flag)
    if len(seats) == 2:
        the_button = small
    elif first_button is not None:
        the_button = first_button
    else:
        the_button = _before(ready, small)
    return BlindPlan(
        button=the_button,
        small_blind_seat=small,
        big_blind_seat=big,
        small_blind_position=small,
        dealt=seats,
        posts=((small, BlindKind.SMALL), (big, BlindKind.BIG)),
        entered=seats,
        missed_big=missed_big,
        missed_small=missed_small,
        restart=True,
    )
