"""Wait lists end to end (docs/protocol.md, "Wait lists"; SPEC §10): real servers, real
clients. A full heads-up table; spectators join its wait list; a seat opens; the first one
waiting hears ``seat_offered`` (nobody else does), the seat is reserved for them, and they
take it; an offer not taken passes to the next one, also when the table changed owners in
between; a waiting player who disconnects leaves the list after the grace; a player waiting
at every full table of some stakes leaves every list when they sit at one; the lobby shows
the list's length."""

from __future__ import annotations

import time

import pytest

from holdem.adapters.relay import Relay
from holdem.client import ClientError
from holdem.protocol.outgoing import SeatOffered
from tests.edge.conftest import fast_settings, url_of
from tests.edge.test_edge_failover import seen, wait_until
from tests.protocol_models import Coverage, problems

BUY_IN = 200_000


async def full_table(server, make_players, fund, make_table, clients, waiting: int):
    """A heads-up table with two players seated and `waiting` spectators who joined it."""
    players = await make_players(2 + waiting)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=2)
    made = [clients(url_of(server), p.token, record=True) for p in players]
    for client in made:
        await client.connect()
        await client.join(table_id, as_="spectator")
    return table_id, players, made


async def refused(client, code: str, message: dict) -> ClientError:
    with pytest.raises(ClientError) as raised:
        await client.request(message)
    assert raised.value.code == code, raised.value
    return raised.value


def offered(client, table_id: int):
    return lambda m: m.get("type") == "seat_offered" and m["table_id"] == table_id


async def waiting_in_lobby(container, table_id: int, count: int) -> None:
    """The table's server published this wait-list length (what both lobbies read)."""

    async def published() -> bool:
        live = await Relay(container.redis).lobby_live([table_id])
        return live.get(table_id, {}).get("waiting") == count

    await wait_until(published, 10)


async def test_the_first_waiting_player_is_offered_the_seat_that_opens_and_takes_it(
    start_edge, make_players, fund, make_table, clients, container, edge_settings
):
    server = await start_edge(fast_settings(edge_settings, game={"wait_list_offer_s": 30.0}))
    table_id, _players, (a, b, c, d) = await full_table(
        server, make_players, fund, make_table, clients, waiting=2
    )
    join = {"type": "wait_list_join", "table_id": table_id}
    await a.sit(table_id, 0, BUY_IN)
    # A table with a free seat has no list; bad messages are refused and change nothing.
    await refused(c, "seat_available", join)
    await refused(c, "invalid_message", {"type": "wait_list_join"})
    await refused(c, "invalid_message", {"type": "wait_list_join", "table_id": "x", "id": "1"})
    await refused(c, "table_not_found", {**join, "table_id": table_id + 1000})
    await b.sit(table_id, 1, BUY_IN)
    await refused(a, "player_already_seated", join)
    await a.subscribe_lobby()

    assert await c.wait_list_join(table_id) == {
        "type": "result",
        "id": c.received[-1]["id"],
        "table_id": table_id,
        "ok": True,
        "position": 1,
        "waiting": 1,
    }
    assert (await d.wait_list_join(table_id))["position"] == 2
    assert (await c.wait_list_join(table_id))["position"] == 1  # once per player
    await waiting_in_lobby(container, table_id, 2)
    # The lobby channel carries the length too.
    await seen(
        a,
        lambda m: (
            m.get("type") == "lobby"
            and any(t["table_id"] == table_id and t.get("waiting") == 2 for t in m["tables"])
        ),
        10,
    )

    before = len(d.received)
    await b.leave(table_id)  # after the running hand, if any
    offer = await seen(c, offered(c, table_id), 15)
    coverage = Coverage()
    assert problems(offer, coverage) == []
    assert coverage.missing(SeatOffered) == set()
    assert offer["seat"] == 1
    assert offer["expires_at"] <= time.time() + 30.0
    # Reserved: the second one waiting may not take it, and heard of no offer.
    message = {"type": "sit", "table_id": table_id, "seat": 1, "buy_in": BUY_IN}
    error = await refused(d, "seat_reserved", message)
    assert "offered to a waiting player" in str(error)
    assert not any(m.get("type") == "seat_offered" for m in d.received[before:])

    answer = await c.sit(table_id, 1, BUY_IN)
    assert answer["seat"] == 1
    await waiting_in_lobby(container, table_id, 1)  # c took the seat: off the list
    assert (await d.wait_list_leave(table_id))["removed"] is True
    assert (await d.wait_list_leave(table_id))["removed"] is False
    await waiting_in_lobby(container, table_id, 0)


async def test_an_offer_not_taken_passes_to_the_next_player_under_the_tables_next_owner(
    start_edge, make_players, fund, make_table, clients, container, edge_settings
):
    settings = fast_settings(edge_settings, game={"wait_list_offer_s": 3.0})
    first = await start_edge(settings)
    table_id, _players, (a, b, c, d) = await full_table(
        first, make_players, fund, make_table, clients, waiting=2
    )
    await a.sit(table_id, 0, BUY_IN)
    await b.sit(table_id, 1, BUY_IN)
    await c.wait_list_join(table_id)
    await d.wait_list_join(table_id)
    await b.leave(table_id)
    to_c = await seen(c, offered(c, table_id), 15)

    # The owner hands the table back; another server takes it from its checkpoint (with the
    # list and c's offer) when the clients come back through it.
    second = await start_edge(settings)
    await first.stop_now()
    stopped_at = time.time()
    assert to_c["expires_at"] > stopped_at  # the offer runs out under the next owner
    for client in (a, c, d):
        await client.reconnect(url_of(second))
        await client.join(table_id, as_="spectator")
    lease = await container.redis.get(f"ws:table:{table_id}:lease")
    assert lease.decode().startswith(f"{second.worker_id}:")

    to_d = await seen(d, offered(d, table_id), 15)
    assert to_d["seat"] == to_c["seat"] == 1
    assert to_d["expires_at"] >= to_c["expires_at"] + 3.0 - 0.5
    expired = await seen(
        c, lambda m: m.get("type") == "notice" and m["code"] == "seat_offer_expired", 5
    )
    assert expired["table_id"] == table_id
    # c is off the list: the seat is d's now.
    message = {"type": "sit", "table_id": table_id, "seat": 1, "buy_in": BUY_IN}
    await refused(c, "seat_reserved", message)
    assert (await d.sit(table_id, 1, BUY_IN))["seat"] == 1
    await waiting_in_lobby(container, table_id, 0)


async def test_a_waiting_player_who_disconnects_leaves_the_list_after_the_grace(
    start_edge, make_players, fund, make_table, clients, container, edge_settings
):
    server = await start_edge(fast_settings(edge_settings, game={"reconnect_grace_s": 0.5}))
    table_id, _players, (a, b, c) = await full_table(
        server, make_players, fund, make_table, clients, waiting=1
    )
    await a.sit(table_id, 0, BUY_IN)
    await b.sit(table_id, 1, BUY_IN)
    await c.wait_list_join(table_id)
    await waiting_in_lobby(container, table_id, 1)
    await c.close()
    await waiting_in_lobby(container, table_id, 0)


async def test_waiting_at_every_full_table_of_some_stakes_ends_at_the_first_seat_taken(
    start_edge, make_players, fund, make_table, clients, container, edge_settings
):
    """'The first seat available at these stakes' from the lobby: the player waits at every
    full table with these blinds; the seat taken at one removes them from the others."""
    server = await start_edge(edge_settings)
    players = await make_players(5)
    await fund([p.user_id for p in players], 1_000_000)
    first, second = await make_table(seats=2), await make_table(seats=2)
    await make_table(seats=2, small_blind=5_000, big_blind=10_000)  # other stakes
    a, b, x, y, c = (clients(url_of(server), p.token, record=True) for p in players)
    for client, table_id, seat in ((a, first, 0), (b, first, 1), (x, second, 0), (y, second, 1)):
        await client.connect()
        await client.join(table_id)
        await client.sit(table_id, seat, BUY_IN)
    await c.connect()
    # (The lobby lists a table as full once its server published the second seat taken.)
    for table_id in (first, second):
        await wait_until(lambda t=table_id: _seated(container, t, 2), 10)
    lobby = await c.subscribe_lobby()
    answers = await c.wait_list_join_stakes(lobby["tables"], 1_000, 2_000)
    assert {t: r["position"] for t, r in answers.items()} == {first: 1, second: 1}
    await waiting_in_lobby(container, second, 1)

    await b.leave(first)
    offer = await seen(c, offered(c, first), 15)
    await c.sit(first, offer["seat"], BUY_IN)
    await waiting_in_lobby(container, first, 0)
    await waiting_in_lobby(container, second, 0)  # off the other list too


async def _seated(container, table_id: int, count: int) -> bool:
    live = await Relay(container.redis).lobby_live([table_id])
    return live.get(table_id, {}).get("seated") == count
