"""The wait list: `holdem.session.wait_list.WaitList` alone, then through a `TableSession`
(the harness of test_table_session: a fake clock and ledger, checkpoints as Redis keeps them).

SPEC §10 and issue 24: a full table's wait list; a seat that opens is offered to the first
player waiting for ``GAME__WAIT_LIST_OFFER_S`` (reserved for them), then to the next; leaving
the list, disconnecting past the reconnect grace, or sitting down removes the entry.
"""

from __future__ import annotations

import doctest

import msgpack

from holdem.session import wait_list as wait_list_module
from holdem.session.commands import (
    Disconnected,
    Join,
    Leave,
    Sit,
    WaitListDrop,
    WaitListJoin,
    WaitListLeave,
)
from holdem.session.effects import Publish
from holdem.session.table_session import COMMAND_MAX_AGE_S
from holdem.session.wait_list import Offer, WaitList
from tests.unit.session.test_table_session import LOW, TIMES, USERS, Harness

# ---------------------------------------------------------------------- the list alone


def test_the_docstring_example_runs():
    result = doctest.testmod(wait_list_module)
    assert result.failed == 0
    assert result.attempted > 0


def test_a_player_is_on_the_list_once_and_keeps_their_place():
    waits = WaitList(offer_s=30.0, max_len=3, away_s=10.0)
    assert [waits.join(u, f"c{u}", now=0.0) for u in (5, 6, 5, 7)] == [1, 2, 1, 3]
    assert waits.full
    assert waits.remove(6)
    assert not waits.remove(6)
    assert waits.position(7) == 2


def test_free_seats_go_to_the_first_connected_players_lowest_seat_first():
    waits = WaitList(offer_s=30.0, max_len=50, away_s=10.0)
    for user in (5, 6, 7):
        waits.join(user, f"c{user}", now=0.0)
    waits.detach(5, "c5", now=1.0)  # away: keeps the place, offered nothing meanwhile
    done = waits.settle(now=2.0, free_seats=[4, 1])
    assert done.offered == [Offer(6, 1, 32.0), Offer(7, 4, 32.0)]
    assert waits.settle(now=3.0, free_seats=[4, 1]).offered == []  # nothing offered twice
    waits.attach(5, "c9")  # back (another connection joined the table)
    assert waits.entry(5) is not None
    assert waits.entry(5).away_since is None


def test_an_offer_that_runs_out_removes_its_player_and_passes_the_seat_on():
    waits = WaitList(offer_s=30.0, max_len=50, away_s=10.0)
    waits.join(5, "c5", now=0.0)
    waits.join(6, "c6", now=0.0)
    waits.settle(now=0.0, free_seats=[2])
    assert waits.next_deadline() == 30.0
    assert waits.settle(now=29.9, free_seats=[2]).expired == []
    done = waits.settle(now=30.0, free_seats=[2])
    assert (done.expired, done.offered) == ([5], [Offer(6, 2, 60.0)])
    assert waits.position(5) is None


def test_a_player_away_longer_than_the_grace_is_removed():
    waits = WaitList(offer_s=30.0, max_len=50, away_s=10.0)
    waits.join(5, "c5", now=0.0)
    waits.detach(5, "other", now=1.0)  # a connection that never joined the list: nothing
    assert waits.next_deadline() is None
    waits.detach(5, "c5", now=1.0)
    assert waits.next_deadline() == 11.0
    assert waits.settle(now=10.9, free_seats=[]).gone == []
    assert waits.settle(now=11.0, free_seats=[]).gone == [5]
    assert len(waits) == 0


def test_the_list_round_trips_through_its_checkpoint_form():
    waits = WaitList(offer_s=30.0, max_len=50, away_s=10.0)
    for user in (5, 6):
        waits.join(user, f"c{user}", now=1.0)
    waits.detach(6, "c6", now=2.0)
    waits.settle(now=3.0, free_seats=[0])
    packed = msgpack.unpackb(msgpack.packb(waits.to_wire()), raw=False)
    again = WaitList(offer_s=30.0, max_len=50, away_s=10.0)
    again.load(packed)
    assert again.entries == waits.entries


# ---------------------------------------------------------------------- through the session


def full_table() -> Harness:
    """Four seats taken (users 11–14), the first hand dealt; user 15 watches."""
    harness = Harness()
    for seat, user in enumerate(USERS[:4]):
        harness.apply(harness.command(Sit, user, seat=seat, buy_in=LOW))
    harness.tick(TIMES.between_hands_s)
    harness.apply(harness.command(Join, USERS[4]))
    return harness


def answer(published: list[Publish], rid: str | None) -> dict:
    [reply] = [p.message for p in published if p.message.get("id") == rid]
    return reply


def offers_in(published: list[Publish]) -> list[Publish]:
    return [p for p in published if p.message["type"] == "seat_offered"]


def leave_now(harness: Harness, user: int) -> list[Publish]:
    """The player stands up; once their hand is over (time passes), the seat is free."""
    published = harness.apply(harness.command(Leave, user))
    for _ in range(10):
        if harness.session.table.seat_of(str(user)) is None:
            break
        before = len(harness.published)
        harness.tick(TIMES.action_clock_s + TIMES.time_bank_s)
        published += harness.published[before:]
    assert harness.session.table.seat_of(str(user)) is None
    return published


def test_joining_the_list_of_a_table_with_a_free_seat_is_refused_and_changes_nothing():
    harness = Harness()
    harness.apply(harness.command(Sit, USERS[0], seat=0, buy_in=LOW))
    command = harness.command(WaitListJoin, USERS[1])
    reply = answer(harness.apply(command), command.rid)
    assert reply["code"] == "seat_available"
    assert len(harness.session.wait_list) == 0
    seated = harness.command(WaitListJoin, USERS[0])
    assert answer(harness.apply(seated), seated.rid)["code"] == "player_already_seated"


def test_a_full_list_refuses_with_its_own_code():
    harness = full_table()
    for extra in (21, 22, 23):
        harness.apply(harness.command(WaitListJoin, extra))
    command = harness.command(WaitListJoin, 24)
    reply = answer(harness.apply(command), command.rid)
    assert reply["code"] == "wait_list_full"
    assert str(TIMES.wait_list_max) in reply["message"]
    assert len(harness.session.wait_list) == TIMES.wait_list_max


def test_a_seat_that_opens_is_offered_to_the_first_waiting_player_only_and_reserved():
    harness = full_table()
    first = harness.command(WaitListJoin, USERS[4])
    assert answer(harness.apply(first), first.rid) == {
        "type": "result",
        "id": first.rid,
        "table_id": 1,
        "ok": True,
        "position": 1,
        "waiting": 1,
    }
    again = harness.command(WaitListJoin, USERS[4])  # a resend: the same place
    assert answer(harness.apply(again), again.rid)["position"] == 1
    harness.apply(harness.command(WaitListJoin, 21))
    published = leave_now(harness, USERS[3])
    [offer] = offers_in(published)
    assert offer.user == USERS[4]
    assert offer.conn is None
    assert offer.message == {
        "type": "seat_offered",
        "table_id": 1,
        "seat": 3,
        "expires_at": offer.message["expires_at"],
    }
    assert offer.message["expires_at"] <= harness.now + TIMES.wait_list_offer_s
    # Somebody else (the second waiting player) may not take it.
    other = harness.command(Sit, 21, seat=3, buy_in=LOW)
    assert answer(harness.apply(other), other.rid)["code"] == "seat_reserved"
    assert harness.session.table.players[3] is None
    # The player offered it takes it, and leaves the list.
    taking = harness.command(Sit, USERS[4], seat=3, buy_in=LOW)
    assert answer(harness.apply(taking), taking.rid)["seat"] == 3
    assert harness.session.wait_list.position(USERS[4]) is None
    assert harness.session.wait_list.position(21) == 1


def test_an_offer_not_taken_in_time_passes_to_the_next_player_even_after_a_takeover():
    harness = full_table()
    harness.apply(harness.command(WaitListJoin, USERS[4]))
    harness.apply(harness.command(WaitListJoin, 21))
    leave_now(harness, USERS[3])
    [offered] = harness.session.wait_list.offers()
    assert offered.user == USERS[4]
    harness.takeover()  # the new owner keeps the list and the offer
    assert harness.session.wait_list.offers() == [offered]
    assert harness.session.next_deadline(harness.now) <= offered.expires_at
    before = len(harness.published)
    harness.tick(offered.expires_at - harness.now)
    published = harness.published[before:]
    [expired] = [p for p in published if p.message.get("code") == "seat_offer_expired"]
    assert expired.user == USERS[4]
    [offer] = offers_in(published)
    assert (offer.user, offer.message["seat"]) == (21, 3)
    assert harness.session.wait_list.position(USERS[4]) is None


def test_declining_by_leaving_the_list_offers_the_seat_to_the_next_at_once():
    harness = full_table()
    harness.apply(harness.command(WaitListJoin, USERS[4]))
    harness.apply(harness.command(WaitListJoin, 21))
    leave_now(harness, USERS[3])
    command = harness.command(WaitListLeave, USERS[4])
    published = harness.apply(command)
    assert answer(published, command.rid)["removed"] is True
    [offer] = offers_in(published)
    assert offer.user == 21
    again = harness.command(WaitListLeave, USERS[4])
    assert answer(harness.apply(again), again.rid)["removed"] is False


def test_a_waiting_player_who_disconnects_keeps_the_place_for_the_grace_only():
    harness = full_table()
    harness.apply(harness.command(WaitListJoin, USERS[4]))
    harness.apply(harness.command(Disconnected, USERS[4]))
    harness.apply(harness.command(Join, USERS[4]))  # back in time: still waiting
    harness.tick(TIMES.reconnect_grace_s)
    assert harness.session.wait_list.position(USERS[4]) == 1
    harness.apply(harness.command(Disconnected, USERS[4]))
    harness.tick(TIMES.reconnect_grace_s)
    assert harness.session.wait_list.position(USERS[4]) is None


def test_a_spectator_who_leaves_the_table_leaves_its_list():
    harness = full_table()
    harness.apply(harness.command(WaitListJoin, USERS[4]))
    harness.apply(harness.command(Leave, USERS[4]))
    assert len(harness.session.wait_list) == 0


def test_a_player_seated_elsewhere_is_dropped_however_late_and_a_sit_here_says_so():
    harness = full_table()
    harness.apply(harness.command(WaitListJoin, USERS[4]))
    harness.apply(harness.command(WaitListJoin, 21))
    late = harness.now - 10 * COMMAND_MAX_AGE_S  # (a table nobody ran for a while)
    assert harness.apply(harness.command(WaitListDrop, 21, at=late)) == []
    assert harness.session.wait_list.position(21) is None
    leave_now(harness, USERS[3])
    harness.apply(harness.command(Sit, USERS[4], seat=3, buy_in=LOW))
    assert harness.seated_here[-1] == USERS[4]
