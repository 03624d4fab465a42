"""The data of a cash table: its stakes and limits and the state of its seats across hands.

It sits below :mod:`.table`, :mod:`.views` and :mod:`.state`: the table calls the views and
the snapshot format, and they read this data, so the three do not import each other in a
circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from holdem.engine.blinds import SeatStatus
from holdem.engine.errors import ConfigError
from holdem.engine.events import Event
from holdem.engine.hand import Hand
from holdem.engine.rake import NO_RAKE, RakeRule

__all__ = ["TableConfig", "TableState"]

MAX_SEATS = 9
DEFAULT_MIN_BUY_IN_BB = 40
DEFAULT_MAX_BUY_IN_BB = 100


@dataclass(frozen=True, slots=True)
class TableConfig:
    """Stakes and limits of a table.

    Attributes:
        seats: Number of seats, 2 to 9.
        small_blind: The small blind in won.
        big_blind: The big blind in won (at least the small blind).
        min_buy_in: The smallest buy-in; ``None`` means 40 big blinds.
        max_buy_in: The largest buy-in, and the most a top-up may reach; ``None`` means
            100 big blinds.
        rake: The rake rule (see :data:`holdem.engine.rake.SPEC_RAKE_SCHEDULE`).
    """

    seats: int
    small_blind: int
    big_blind: int
    min_buy_in: int | None = None
    max_buy_in: int | None = None
    rake: RakeRule = field(default=NO_RAKE)

    def __post_init__(self) -> None:
        """Check the configuration.

        Raises:
            ConfigError: A value is out of range or of the wrong type.
        """
        numbers = (self.seats, self.small_blind, self.big_blind)
        if any(type(x) is not int for x in numbers):
            raise ConfigError("seats and blinds must be ints")
        if not 2 <= self.seats <= MAX_SEATS:
            raise ConfigError(f"a table has 2 to {MAX_SEATS} seats, not {self.seats}")
        if not 0 < self.small_blind <= self.big_blind:
            raise ConfigError("blinds must satisfy 0 < small blind <= big blind")
        low, high = self.buy_in_range
        if type(low) is not int or type(high) is not int or not 0 < low <= high:
            raise ConfigError(f"invalid buy-in range {low}..{high}")
        if not isinstance(self.rake, RakeRule):
            raise ConfigError("rake must be a RakeRule")

    @property
    def buy_in_range(self) -> tuple[int, int]:
        """The smallest and largest buy-in in won."""
        big = self.big_blind
        low = DEFAULT_MIN_BUY_IN_BB * big if self.min_buy_in is None else self.min_buy_in
        high = DEFAULT_MAX_BUY_IN_BB * big if self.max_buy_in is None else self.max_buy_in
        return low, high


class TableState:
    """The state of one table across hands: what the table's views and snapshots read.

    :class:`~holdem.engine.table.Table` adds the behaviour (seating, hands); the views
    (:mod:`.views`) and the snapshot format (:mod:`.state`) take this base, so neither
    imports the table that calls them.

    Attributes:
        config: Stakes and limits.
        players: The player id in each seat (``None`` when empty).
        stacks: Chips in front of each seat (shared with the running hand).
        status: Each seat's :class:`~holdem.engine.blinds.SeatStatus`.
        owes_big: Whether each seat owes a live big blind to enter (new or missed it).
        owes_small: Whether each seat owes a dead small blind (missed it).
        posted_big: Whether each seat posted a big blind (in turn or to enter) last hand.
        hand_count: Hands started so far.
        last_small: Last hand's small-blind position (the next button), ``-1`` before any.
        last_big: Last hand's big-blind seat (the BB anchor), ``-1`` before any.
        hand: The running hand, or the last one once it is over, or ``None``.
    """

    __slots__ = (
        "config",
        "events",
        "hand",
        "hand_count",
        "last_big",
        "last_small",
        "owes_big",
        "owes_small",
        "players",
        "posted_big",
        "stacks",
        "status",
    )

    config: TableConfig
    players: list[str | None]
    stacks: list[int]
    status: list[int]
    owes_big: list[bool]
    owes_small: list[bool]
    posted_big: list[bool]
    hand_count: int
    last_small: int
    last_big: int
    hand: Hand | None
    events: list[Event]

    def __init__(self, config: TableConfig) -> None:
        """An empty table."""
        size = config.seats
        self.config = config
        self.players = [None] * size
        self.stacks = [0] * size
        self.status = [SeatStatus.EMPTY] * size
        self.owes_big = [False] * size
        self.owes_small = [False] * size
        self.posted_big = [False] * size
        self.hand_count = 0
        self.last_small = -1
        self.last_big = -1
        self.hand = None
        self.events = []

    @property
    def size(self) -> int:
        """Number of seats."""
        return self.config.seats
