"""A full table's wait list: who waits for a seat, in order, and the seats offered to them.

Pure state kept in the table session's checkpoint (`holdem.session.TableSession` applies the
commands and says which seats are free; this module decides who is offered what and when an
offer or an absent player's place runs out). A seat that opens is offered to the first
waiting player who is connected and holds no offer, for ``offer_s`` seconds; until then it is
reserved for them. An offer that runs out removes its player from the list and the seat goes
to the next one. A player whose last connection to the table closed keeps their place for
``away_s`` seconds (the reconnect grace), is offered nothing meanwhile, and is removed after.

>>> waits = WaitList(offer_s=30.0, max_len=50, away_s=30.0)
>>> waits.join(7, "c1", now=0.0), waits.join(8, "c2", now=1.0), waits.join(7, "c1", now=2.0)
(1, 2, 1)
>>> waits.settle(now=5.0, free_seats=[3]).offered
[Offer(user=7, seat=3, expires_at=35.0)]
>>> waits.reserved_for(3, now=34.0), waits.reserved_for(3, now=35.0)
(7, None)
>>> change = waits.settle(now=35.0, free_seats=[3])
>>> change.expired, change.offered
([7], [Offer(user=8, seat=3, expires_at=65.0)])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Offer", "Settled", "WaitList", "Waiting"]


@dataclass(frozen=True)
class Offer:
    """A seat offered to a waiting player, reserved for them until ``expires_at``."""

    user: int
    seat: int
    expires_at: float


@dataclass
class Waiting:
    """One player on the list.

    Attributes:
        user: The player.
        since: When they joined the list (epoch seconds).
        conns: Their connections at the table (the one that joined the list, and every
            ``join`` of the table after).
        away_since: When their last connection closed (None: connected).
        offer: The seat offered to them, if any.
    """

    user: int
    since: float
    conns: list[str] = field(default_factory=list)
    away_since: float | None = None
    offer: Offer | None = None

    def to_wire(self) -> dict[str, Any]:
        offer = self.offer
        return {
            "user": self.user,
            "since": self.since,
            "conns": list(self.conns),
            "away_since": self.away_since,
            "offer": None if offer is None else [offer.seat, offer.expires_at],
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Waiting:
        user = int(data["user"])
        away, offer = data.get("away_since"), data.get("offer")
        return cls(
            user=user,
            since=float(data["since"]),
            conns=[str(c) for c in data.get("conns", [])],
            away_since=None if away is None else float(away),
            offer=None if offer is None else Offer(user, int(offer[0]), float(offer[1])),
        )


@dataclass
class Settled:
    """What `WaitList.settle` changed: offers made, and players removed from the list."""

    offered: list[Offer] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    """Players whose offer ran out (removed)."""
    gone: list[int] = field(default_factory=list)
    """Players away longer than the grace (removed)."""

    def __bool__(self) -> bool:
        return bool(self.offered or self.expired or self.gone)


class WaitList:
    """The players waiting for a seat at one table, first come first offered.

    Args:
        offer_s: How long an offered seat is reserved (``GAME__WAIT_LIST_OFFER_S``).
        max_len: The most players on the list (``GAME__WAIT_LIST_MAX``).
        away_s: How long a disconnected player keeps their place (the reconnect grace).
    """

    def __init__(self, *, offer_s: float, max_len: int, away_s: float) -> None:
        self.offer_s = offer_s
        self.max_len = max_len
        self.away_s = away_s
        self.entries: list[Waiting] = []

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def full(self) -> bool:
        return len(self.entries) >= self.max_len

    def entry(self, user: int) -> Waiting | None:
        return next((e for e in self.entries if e.user == user), None)

    def position(self, user: int) -> int | None:
        """The player's place on the list (1: next), or None."""
        for number, entry in enumerate(self.entries, 1):
            if entry.user == user:
                return number
        return None

    def join(self, user: int, conn: str | None, *, now: float) -> int:
        """Put the player at the end of the list (once: a player on it keeps their place,
        so a resent join changes nothing); returns their place. The caller checks `full`."""
        entry = self.entry(user)
        if entry is None:
            entry = Waiting(user=user, since=now)
            self.entries.append(entry)
        self.attach(user, conn)
        position = self.position(user)
        assert position is not None
        return position

    def remove(self, user: int) -> bool:
        """Take the player off the list (their offer, if any, is void); False if absent."""
        entry = self.entry(user)
        if entry is not None:
            self.entries.remove(entry)
        return entry is not None

    def clear(self) -> None:
        self.entries = []

    def attach(self, user: int, conn: str | None) -> None:
        """A connection of a waiting player joined the table: they are present."""
        entry = self.entry(user)
        if entry is None:
            return
        if conn is not None and conn not in entry.conns:
            entry.conns.append(conn)
        entry.away_since = None

    def detach(self, user: int, conn: str | None, *, now: float) -> None:
        """A connection of a waiting player closed; the last one starts the grace."""
        entry = self.entry(user)
        if entry is None or conn not in entry.conns:
            return
        entry.conns.remove(conn)
        if not entry.conns:
            entry.away_since = now

    def reserved_for(self, seat: int, *, now: float) -> int | None:
        """The player the seat is offered to until after `now` (None: nobody)."""
        for entry in self.entries:
            offer = entry.offer
            if offer is not None and offer.seat == seat and now < offer.expires_at:
                return entry.user
        return None

    def offers(self) -> list[Offer]:
        return [e.offer for e in self.entries if e.offer is not None]

    def settle(self, *, now: float, free_seats: Iterable[int]) -> Settled:
        """Time passed or seats changed: remove the players whose offer ran out or who were
        away too long, void offers on seats no longer free, and offer each free seat nobody
        holds to the next connected player without an offer (lowest seat first)."""
        free = sorted(set(free_seats))
        done = Settled()
        kept: list[Waiting] = []
        for entry in self.entries:
            offer = entry.offer
            if offer is not None and now >= offer.expires_at:
                done.expired.append(entry.user)
            elif entry.away_since is not None and now >= entry.away_since + self.away_s:
                done.gone.append(entry.user)
            else:
                if offer is not None and offer.seat not in free:
                    entry.offer = None  # (defensive: an offer never outlives its free seat)
                kept.append(entry)
        self.entries = kept
        held = {o.seat for o in self.offers()}
        candidates = (e for e in kept if e.offer is None and e.away_since is None)
        for seat in (s for s in free if s not in held):
            taker = next(candidates, None)
            if taker is None:
                break
            taker.offer = Offer(taker.user, seat, now + self.offer_s)
            done.offered.append(taker.offer)
        return done

    def next_deadline(self) -> float | None:
        """When `settle` next has something to do by itself (None: only a change can)."""
        due = [e.offer.expires_at for e in self.entries if e.offer is not None]
        due += [e.away_since + self.away_s for e in self.entries if e.away_since is not None]
        return min(due) if due else None

    def to_wire(self) -> list[dict[str, Any]]:
        return [entry.to_wire() for entry in self.entries]

    def load(self, saved: Sequence[Mapping[str, Any]]) -> None:
        """Restore the entries `to_wire` gave (from a checkpoint)."""
        self.entries = [Waiting.from_wire(item) for item in saved]
