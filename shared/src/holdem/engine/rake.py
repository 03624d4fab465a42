"""Rake: the house's share of a pot, exact to the won (SPEC §4.1).

How a hand is raked:

* **No flop, no drop:** a hand that ends before the flop is dealt pays nothing.
* The rake is taken only from the pots awarded at the end of the hand; uncalled bets
  have already gone back to their owner and are never raked.
* The hand's rake is ``floor(rate × chips in the awarded pots)``, then capped: rounding
  and the cap apply to the hand total, not pot by pot, so splitting chips into side pots
  never changes how much a hand pays.
* **Spreading the capped total over the pots:** in proportion to the pot sizes, by the
  largest-remainder rule (ties to the main pot first). Each pot therefore bears the same
  effective rate, and no pot ever gives up more chips than it holds.
* **Attribution** (for rakeback): every player who put chips into the raked pots,
  including players who folded, is charged ``total × their chips / all chips``, again
  by the largest-remainder rule (ties to the seat nearest the left of the button). This
  equals summing each pot's rake over that pot's contributors, without rounding twice.

All arithmetic is on integers; shares always add up exactly to the total.

>>> rule = SPEC_RAKE_SCHEDULE.rule_for(1_000, 2_000)
>>> rule.amount(100_000), rule.amount(1_000_000)
(5000, 6000)
>>> take_rake(rule, [70_000, 30_000], [0, 50_000, 50_000], [1, 2, 0], flop_dealt=True)
RakeSplit(total=5000, by_pot=(3500, 1500), by_seat=(0, 2500, 2500))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from holdem.engine.errors import ConfigError

__all__ = [
    "NO_RAKE",
    "SPEC_RAKE_SCHEDULE",
    "RakeRule",
    "RakeSchedule",
    "RakeSplit",
    "apportion",
    "take_rake",
]

_BASIS_POINTS = 10_000


@dataclass(frozen=True, slots=True, init=False)
class RakeRule:
    """A rake rate and a per-hand cap.

    Attributes:
        rate: The share of the pot taken, as an exact fraction in ``[0, 1]``.
        cap: The most one hand pays, in won.
    """

    rate: Fraction
    cap: int

    def __init__(self, rate: Fraction | int, cap: int) -> None:
        """Build a rule.

        Args:
            rate: Either a :class:`~fractions.Fraction` (``Fraction(5, 100)``) or an
                ``int`` number of basis points (``500`` is 5%). Floats are refused: they
                cannot state a rate exactly.
            cap: The per-hand cap in won, ``>= 0``.

        Raises:
            ConfigError: The rate is not in ``[0, 1]`` or not exact, or the cap is negative.
        """
        if isinstance(rate, bool) or not isinstance(rate, int | Fraction):
            raise ConfigError(f"rake rate must be basis points (int) or a Fraction: {rate!r}")
        exact = Fraction(rate, _BASIS_POINTS) if isinstance(rate, int) else rate
        if not 0 <= exact <= 1:
            raise ConfigError(f"rake rate must be between 0 and 100%: {exact}")
        if type(cap) is not int or cap < 0:
            raise ConfigError(f"rake cap must be a non-negative int of won: {cap!r}")
        object.__setattr__(self, "rate", exact)
        object.__setattr__(self, "cap", cap)

    def amount(self, total: int) -> int:
        """The rake on ``total`` won of awarded pots: rounded down, then capped."""
        raked = total * self.rate.numerator // self.rate.denominator
        return raked if raked < self.cap else self.cap


NO_RAKE = RakeRule(0, 0)
"""A rule that never takes anything (play-money or promotional tables)."""


@dataclass(frozen=True, slots=True)
class RakeSchedule:
    """Rake rules by stakes, with a default for stakes not listed.

    Attributes:
        rows: ``(small_blind, big_blind, rule)`` for each listed stake.
        default_rate: The rate for other stakes.
        default_cap_big_blinds: The cap for other stakes, in big blinds.
    """

    rows: tuple[tuple[int, int, RakeRule], ...]
    default_rate: Fraction
    default_cap_big_blinds: int

    def rule_for(self, small_blind: int, big_blind: int) -> RakeRule:
        """The rule for a table with these blinds."""
        for sb, bb, rule in self.rows:
            if sb == small_blind and bb == big_blind:
                return rule
        return RakeRule(self.default_rate, self.default_cap_big_blinds * big_blind)


SPEC_RAKE_SCHEDULE = RakeSchedule(
    rows=(
        (1_000, 2_000, RakeRule(500, 3 * 2_000)),
        (5_000, 10_000, RakeRule(500, 4 * 10_000)),
        (25_000, 50_000, RakeRule(400, 5 * 50_000)),
    ),
    default_rate=Fraction(5, 100),
    default_cap_big_blinds=3,
)
"""The schedule of SPEC §4.1; other stakes default to 5% capped at 3 big blinds."""


class RakeSplit(NamedTuple):
    """The rake of one hand.

    Attributes:
        total: The chips taken.
        by_pot: The part taken from each pot, main pot first.
        by_seat: The part attributed to each seat (index = seat), for rakeback.
    """

    total: int
    by_pot: tuple[int, ...]
    by_seat: tuple[int, ...]


def apportion(total: int, weights: Sequence[int], order: Sequence[int]) -> list[int]:
    """Share ``total`` in proportion to ``weights`` by the largest-remainder rule.

    Every index gets ``floor(total × weight / sum)``; the chips left over go one each to
    the largest remainders, ties broken by position in ``order``.

    Args:
        total: The whole number to share, ``>= 0``.
        weights: Non-negative weights with a positive sum (or ``total == 0``).
        order: Every index of ``weights``, in tie-breaking priority.

    Returns:
        The shares (index as in ``weights``); they add up to ``total`` exactly.

    >>> apportion(10, [1, 1, 1], [2, 0, 1])
    [3, 3, 4]
    """
    if len(weights) == 1:
        return [total]
    whole = sum(weights)
    if total == 0 or whole == 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    left = total - sum(shares)
    if left:
        remainders = [total * w % whole for w in weights]
        # A stable sort, so equal remainders keep their order of priority.
        for index in sorted(order, key=remainders.__getitem__, reverse=True)[:left]:
            shares[index] += 1
    return shares


def take_rake(
    rule: RakeRule,
    pots: Sequence[int],
    contributions: Sequence[int],
    seat_order: Sequence[int],
    *,
    flop_dealt: bool,
) -> RakeSplit:
    """Compute a hand's rake, its split over pots and its attribution to seats.

    Args:
        rule: The table's rake rule.
        pots: Chips in each awarded pot, main pot first.
        contributions: Chips each seat put into those pots (index = seat); they must add
            up to the pots.
        seat_order: Every seat index, in tie-breaking order (left of the button first).
        flop_dealt: Whether the hand saw a flop (no flop, no drop).

    Returns:
        The rake; ``sum(by_pot) == sum(by_seat) == total``.
    """
    chips = sum(pots)
    total = rule.amount(chips) if flop_dealt else 0
    if total == 0:
        return RakeSplit(0, (0,) * len(pots), (0,) * len(contributions))
    by_pot = apportion(total, pots, range(len(pots)))
    by_seat = apportion(total, contributions, seat_order)
    return RakeSplit(total, tuple(by_pot), tuple(by_seat))
