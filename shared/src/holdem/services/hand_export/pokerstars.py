"""Hand-history export as PokerStars text, the format tracking tools import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from holdem.engine.cards import parse_cards
from holdem.engine.evaluator import describe_pokerstars, evaluate
from holdem.ledger.rakeback import KST
from holdem.ports.hands import HandRecord
from holdem.services.hand_export.reading import (
    TableFacts,
    action_kind,
    seat_of_viewer,
    table_name,
    table_size,
    visible_events,
    winners,
    won,
)

__all__ = ["to_pokerstars"]

# Stored events name a street by its number before protocol 3.0.0 and by its name since, and
# a pot's winners as [seat, chips] pairs before and {"seat", "amount"} since: both are read.
_STREETS = {1: "FLOP", 2: "TURN", 3: "RIVER", "flop": "FLOP", "turn": "TURN", "river": "RIVER"}
_BLIND_WORDS = {
    "small_blind": "posts small blind",
    "big_blind": "posts big blind",
    "dead_small_blind": "posts small blind",
    "posted_big_blind": "posts big blind",
}


@dataclass(frozen=True, slots=True)
class _Seats:
    names: dict[int, str]
    viewer_seat: int

    def name(self, seat: int) -> str:
        return self.names.get(seat, f"seat{seat + 1}")


def to_pokerstars(
    hand: HandRecord,
    names: Mapping[int, str],
    viewer_id: int,
    table: TableFacts | None = None,
) -> str:
    """One hand as PokerStars text, as ``viewer_id`` may see it.

    Seats are numbered from 1, as PokerStars does (the protocol and REST count from 0).
    Shown hands carry PokerStars' hand descriptions (``shows [Ah Kh] (a pair of Kings)``,
    ``showed [..] and won (₩X) with ...``): tracking tools award the pot from them.

    Args:
        hand: The hand.
        names: Display name of each user id who played it.
        viewer_id: The player exporting; they must have played the hand.
        table: The table's name and number of seats, if known.

    Raises:
        NotFound: The viewer did not play this hand.
    """
    viewer_seat = seat_of_viewer(hand, viewer_id)
    seats = _Seats(
        {p.seat_no: names.get(p.user_id, f"player{p.user_id}") for p in hand.players}, viewer_seat
    )
    events = visible_events(hand, viewer_seat)
    start = next(e for e in events if e["event"] == "hand_started")
    side_pots = sum(e["event"] == "pot_awarded" for e in events) > 1
    local = hand.started_at.astimezone(KST)
    lines = [
        f"PokerStars Hand #{hand.id}:  Hold'em No Limit ({won(hand.small_blind)}/"
        f"{won(hand.big_blind)} KRW) - {local:%Y/%m/%d %H:%M:%S} KST",
        f"Table '{table_name(hand, table)}' {table_size(hand, table)}-max "
        f"Seat #{hand.button_seat + 1} is the button",
    ]
    for seat, stack in zip(start["seats"], start["stacks"], strict=True):
        lines.append(f"Seat {seat + 1}: {seats.name(seat)} ({won(stack)} in chips)")
    street_bet: dict[int, int] = {}
    high = 0
    folded_on: dict[int, str] = {}
    street_name = "Preflop"
    collected: dict[int, int] = {}
    shown: dict[int, list[str]] = {}
    described: dict[int, str] = {}
    mucked: set[int] = set()
    pots: list[int] = []
    rake = 0
    board: list[str] = []
    hole_header = False
    for e in events:
        kind = e["event"]
        if kind == "blind_posted":
            seat = e["seat"]
            line = f"{seats.name(seat)}: {_BLIND_WORDS[e['blind']]} {won(e['amount'])}"
            lines.append(line + (" and is all-in" if e["all_in"] else ""))
            if e["blind"] != "dead_small_blind":
                street_bet[seat] = street_bet.get(seat, 0) + e["amount"]
                high = max(high, street_bet[seat])
        elif kind == "hole_cards":
            if not hole_header:
                lines.append("*** HOLE CARDS ***")
                hole_header = True
            lines.append(f"Dealt to {seats.name(e['seat'])} [{' '.join(e['cards'])}]")
        elif kind == "action":
            if not hole_header:
                lines.append("*** HOLE CARDS ***")
                hole_header = True
            seat, action, amount, added = e["seat"], action_kind(e), e["amount"], e["added"]
            who = seats.name(seat)
            if action == "fold":
                line = f"{who}: folds"
                folded_on[seat] = street_name
            elif action == "check":
                line = f"{who}: checks"
            elif action == "call":
                line = f"{who}: calls {won(added)}"
            elif action == "bet":
                line = f"{who}: bets {won(amount)}"
            else:
                line = f"{who}: raises {won(amount - high)} to {won(amount)}"
            if e["all_in"]:
                line += " and is all-in"
            lines.append(line)
            street_bet[seat] = amount
            high = max(high, amount)
        elif kind == "uncalled_bet_returned":
            lines.append(f"Uncalled bet ({won(e['amount'])}) returned to {seats.name(e['seat'])}")
        elif kind == "street_dealt":
            board = e["board"]
            street = e["street"]
            before, new = e["board"][: -len(e["cards"])], e["cards"]
            shown_board = (
                f"[{' '.join(before)}] [{' '.join(new)}]" if before else (f"[{' '.join(new)}]")
            )
            lines.append(f"*** {_STREETS[street]} *** {shown_board}")
            street_name = _STREETS[street].title()
            street_bet, high = {}, 0
        elif kind == "hand_shown":
            if "*** SHOW DOWN ***" not in lines:
                lines.append("*** SHOW DOWN ***")
            shown[e["seat"]] = e["cards"]
            described[e["seat"]] = _description(e["cards"], board)
            lines.append(
                f"{seats.name(e['seat'])}: shows [{' '.join(e['cards'])}] ({described[e['seat']]})"
            )
        elif kind == "hand_mucked":
            if "*** SHOW DOWN ***" not in lines:
                lines.append("*** SHOW DOWN ***")
            mucked.add(e["seat"])
            lines.append(f"{seats.name(e['seat'])}: mucks hand")
        elif kind == "rake_taken":
            rake = e["amount"]
        elif kind == "pot_awarded":
            pots.append(e["amount"] + e["rake"])
            where = "pot"
            if side_pots:
                where = "main pot" if e["pot"] == 0 else f"side pot-{e['pot']}"
            for seat, chips in winners(e):
                collected[seat] = collected.get(seat, 0) + chips
                lines.append(f"{seats.name(seat)} collected {won(chips)} from {where}")
    lines.append("*** SUMMARY ***")
    total = sum(pots)
    if len(pots) > 1:
        parts = " ".join(
            f"{'Main pot' if i == 0 else f'Side pot-{i}'} {won(p)}." for i, p in enumerate(pots)
        )
        lines.append(f"Total pot {won(total)} {parts} | Rake {won(rake)}")
    else:
        lines.append(f"Total pot {won(total)} | Rake {won(rake)}")
    if board:
        lines.append(f"Board [{' '.join(board)}]")
    for seat in start["seats"]:
        role = ""
        if seat == hand.button_seat:
            role = " (button)"
        elif seat == start["small_blind_seat"]:
            role = " (small blind)"
        elif seat == start["big_blind_seat"]:
            role = " (big blind)"
        head = f"Seat {seat + 1}: {seats.name(seat)}{role}"
        if seat in shown:
            cards = " ".join(shown[seat])
            result = f"won ({won(collected[seat])})" if seat in collected else "lost"
            lines.append(f"{head} showed [{cards}] and {result} with {described[seat]}")
        elif seat in mucked:
            lines.append(f"{head} mucked")
        elif seat in folded_on:
            lines.append(f"{head} folded {_fold_phrase(folded_on[seat])}")
        elif seat in collected:
            lines.append(f"{head} collected ({won(collected[seat])})")
        else:
            lines.append(f"{head} lost")
    return "\n".join(lines) + "\n"


def _description(cards: Sequence[str], board: Sequence[str]) -> str:
    """PokerStars' words for a shown hand (showdowns come after the river: seven cards)."""
    return describe_pokerstars(evaluate(parse_cards(" ".join([*cards, *board]))))


def _fold_phrase(street: str) -> str:
    return "before Flop" if street == "Preflop" else f"on the {street}"
