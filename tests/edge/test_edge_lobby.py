"""The lobby channel: any authenticated connection subscribes and gets every open table, then
the changes (seats taken, average pot, hands per hour; tables opened and closed), coalesced
so a busy table never floods it."""

from __future__ import annotations

import asyncio
import socket

import pytest

from edge.lobby import LobbyCache
from holdem.adapters.relay import LOBBY_CHANNEL, Relay, pack
from holdem.client import Bot, BotStrategy, ClientError
from tests.edge.conftest import fast_settings, url_of
from tests.edge.test_edge_failover import seen

BUY_IN = 200_000


async def play_heads_up(url, table_id, make_players, fund, clients, hands):
    """Two bots sit at the table and play `hands` hands."""
    players = await make_players(2)
    await fund([p.user_id for p in players], 1_000_000)
    bots = []
    for seat, player in enumerate(players):
        client = clients(url, player.token)
        await client.connect()
        bot = Bot(client, table_id, seat=seat, buy_in=BUY_IN, strategy=BotStrategy(seed=seat))
        await bot.sit_down()
        bots.append(bot)
    async with asyncio.timeout(60):
        await asyncio.gather(*(bot.play(hands=hands) for bot in bots))


async def test_a_subscriber_gets_every_open_table_then_the_live_figures_of_a_busy_table(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    quick = fast_settings(edge_settings, ws={"lobby_interval_s": 0.2})
    watching, playing = await start_edge(quick), await start_edge(quick)
    table_id = await make_table(seats=6)
    other_id = await make_table(seats=9, small_blind=5_000, big_blind=10_000)
    [watcher] = await make_players(1)
    subscriber = clients(url_of(watching), watcher.token, record=True)
    await subscriber.connect()

    full = await subscriber.subscribe_lobby()
    assert (full["type"], full["full"]) == ("lobby", True)
    lobby = {entry["table_id"]: entry for entry in full["tables"]}
    assert set(lobby) == {table_id, other_id}
    assert (lobby[other_id]["big_blind"], lobby[other_id]["max_seats"]) == (10_000, 9)
    assert (lobby[table_id]["seated"], lobby[table_id]["avg_pot"]) == (0, 0)
    assert lobby[table_id]["hands_per_hour"] == 0
    assert lobby[table_id]["waiting"] == 0

    # The table is run by the other server: its figures reach this one through Redis.
    await play_heads_up(url_of(playing), table_id, make_players, fund, clients, hands=6)

    def merged() -> dict:
        for message in subscriber.received:
            if message.get("type") == "lobby" and not message["full"]:
                ids = [entry["table_id"] for entry in message["tables"]]
                assert len(ids) == len(set(ids)), "one entry per table per frame"
                for entry in message["tables"]:
                    lobby[entry["table_id"]] = {**lobby[entry["table_id"]], **entry}
        return lobby[table_id]

    def busy(message: dict) -> bool:
        if message.get("type") != "lobby":
            return False
        figures = merged()
        return figures["seated"] == 2 and figures["hands_per_hour"] > 0

    await seen(subscriber, busy)
    figures = merged()
    # A hand's pot is at least both blinds' worth of the small blind (the big blind's excess
    # is returned when the small blind folds).
    assert figures["avg_pot"] >= 2_000
    assert lobby[other_id]["seated"] == 0
    # The figures a new subscriber reads are the live ones too.
    again = clients(url_of(watching), watcher.token)
    await again.connect()
    fresh = {e["table_id"]: e for e in (await again.subscribe_lobby())["tables"]}
    assert fresh[table_id]["seated"] == 2
    assert fresh[table_id]["avg_pot"] >= 2_000

    assert (await subscriber.unsubscribe_lobby())["ok"] is True
    assert subscriber.connection_id not in {c.id for c in watching.registry.lobby}


async def test_a_busy_table_publishes_its_figures_at_most_once_per_interval(
    start_edge, make_players, fund, make_table, clients, edge_settings, container
):
    # An interval longer than the test: after its first figures (the empty table), every
    # change of seats, pot and pace is withheld however many hands are played.
    slow = fast_settings(edge_settings, ws={"lobby_interval_s": 3600.0})
    server = await start_edge(slow)
    table_id = await make_table(seats=2)
    await play_heads_up(url_of(server), table_id, make_players, fund, clients, hands=5)
    # What a table publishes is also stored in the same round trip: the last figures
    # published are still those of the empty table.
    assert (await Relay(container.redis).lobby_live())[table_id] == {
        "table_id": table_id,
        "seated": 0,
        "avg_pot": 0,
        "hands_per_hour": 0,
        "waiting": 0,
    }


async def test_a_burst_of_changes_reaches_a_subscriber_coalesced_latest_values_winning(
    start_edge, make_players, clients, edge_settings, container
):
    server = await start_edge(fast_settings(edge_settings, ws={"lobby_interval_s": 0.5}))
    [player] = await make_players(1)
    subscriber = clients(url_of(server), player.token, record=True)
    await subscriber.connect()
    await subscriber.subscribe_lobby()
    # 100 updates of 50 tables published at once (as 50 busy table servers would).
    async with container.redis.pipeline(transaction=False) as pipe:
        for seated in (1, 2):
            for table_id in range(10_001, 10_051):
                pipe.publish(LOBBY_CHANNEL, pack({"table_id": table_id, "seated": seated}))
        await pipe.execute()
    lobby: dict[int, int] = {}
    frames = 0
    while len(lobby) < 50 or set(lobby.values()) != {2}:
        message = await subscriber.wait_for(lambda m: m["type"] == "lobby")
        frames += 1
        for entry in message["tables"]:
            lobby[entry["table_id"]] = entry["seated"]
    # One frame per lobby interval: the burst fits in one (two if it straddled a tick).
    assert frames <= 2


async def test_subscribing_needs_a_known_channel(start_edge, make_players, clients):
    server = await start_edge()
    [player] = await make_players(1)
    client = clients(url_of(server), player.token)
    await client.connect()
    for bad in ({"channel": "tables"}, {"channel": 1}, {}):
        with pytest.raises(ClientError) as raised:
            await client.request({"type": "subscribe", **bad})
        assert raised.value.code == "invalid_message"
    assert not server.registry.lobby


async def test_a_lobby_that_cannot_be_read_is_a_clear_error_and_the_connection_stays(
    start_edge, make_players, clients, edge_settings
):
    # PostgreSQL unreachable: a port bound here and never listened on refuses connections
    # (and no other server can take it meanwhile). Redis is fine.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        server = await start_edge(
            edge_settings.model_copy(
                update={"database_url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"}
            )
        )
        [player] = await make_players(1)
        client = clients(url_of(server), player.token)
        await client.connect()
        with pytest.raises(ClientError) as raised:
            await client.subscribe_lobby()
    assert raised.value.code == "lobby_unavailable"
    assert not server.registry.lobby
    assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_subscribers_share_one_lobby_read_kept_current_by_the_channel(
    start_edge, make_players, make_table, clients, container
):
    first_server, other_server = await start_edge(), await start_edge()
    listed = await make_table()
    [player] = await make_players(1)
    first = clients(url_of(first_server), player.token)
    await first.connect()
    assert [e["table_id"] for e in (await first.subscribe_lobby())["tables"]] == [listed]

    # A table opened behind the lobby's back (nothing announced) and one announced.
    silent = await make_table()
    announced = {"table_id": 99_001, "name": "new", "seated": 0, "status": "open"}
    await Relay(container.redis).publish_lobby(announced)
    await first.wait_for(lambda m: m["type"] == "lobby" and not m["full"])

    second = clients(url_of(first_server), player.token)
    await second.connect()
    # Served from this server's copy (no PostgreSQL read), which the channel kept current.
    copy = {e["table_id"] for e in (await second.subscribe_lobby())["tables"]}
    assert copy == {listed, announced["table_id"]}
    # A server without a copy reads the lobby: PostgreSQL lists the silent table.
    third = clients(url_of(other_server), player.token)
    await third.connect()
    read = {e["table_id"] for e in (await third.subscribe_lobby())["tables"]}
    assert read == {listed, silent}


async def test_the_lobby_copy_applies_what_the_channel_said_during_a_read_after_it():
    cache = LobbyCache()

    async def read():
        # Published while PostgreSQL is being read: newer than what the read returns.
        cache.apply({"table_id": 1, "seated": 5})
        cache.apply({"table_id": 2, "status": "closed"})
        cache.apply({"table_id": 3, "seated": 1})  # figures of a table the lobby lacks
        return [
            {"table_id": 1, "name": "a", "seated": 2, "status": "open"},
            {"table_id": 2, "name": "b", "seated": 0, "status": "open"},
        ]

    tables = await cache.tables(read)
    assert tables == [{"table_id": 1, "name": "a", "seated": 5, "status": "open"}]
    cache.apply({"table_id": 1, "avg_pot": 4_000})
    cache.apply({"table_id": 4, "name": "d", "seated": 0, "status": "open"})

    async def must_not_read():
        raise AssertionError("the copy is fresh")

    assert {e["table_id"]: e.get("avg_pot") for e in await cache.tables(must_not_read)} == {
        1: 4_000,
        4: None,
    }
