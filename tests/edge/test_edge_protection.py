"""Player protection at the table servers (docs/compliance.md): loss limits on buy-ins and
top-ups, breaks and self-exclusion on every server, session limits and reality checks.

The table servers' protection clock (`TableHost.clock`) is replaced by a clock the test
moves, so an hour of play takes no time."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from holdem.adapters.orm.tables import Seat
from holdem.adapters.relay import Relay
from holdem.adapters.repositories.ledger import SqlLedgerReads
from holdem.adapters.repositories.transaction import SqlTransaction
from holdem.client import ClientError
from holdem.services import ledger, protection
from holdem.services.errors import LossLimitReached, SelfExcluded
from holdem.services.table_runtime import TableMoney
from tests.edge.conftest import fast_settings, ledger_report, url_of

BUY_IN = 100_000  # the tables of make_table: 80,000 to 200,000 (big blind 2,000)


class FakeClock:
    """The table servers' protection clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def set_limits(container, user_id: int, **limits) -> None:
    """The player's limits, as ``PUT /api/v1/me/protection/limits`` sets them."""
    check = limits.pop("reality_check_minutes", None)
    async with container.sessions() as session, session.begin():
        await protection.set_limits(
            SqlTransaction(session),
            user_id,
            limits,
            datetime.now(UTC),
            timedelta(hours=24),
            reality_check_minutes=check,
        )


async def exclude(container, user_id: int, period: str = "7d") -> None:
    """What ``POST /api/v1/me/protection/exclusion`` does: the row, then the owners told."""
    async with container.sessions() as session, session.begin():
        view, tables = await protection.exclude(
            SqlTransaction(session), user_id, period, datetime.now(UTC)
        )
    await Relay(container.redis).exclude_player(user_id, tables, view.excluded_until)


def seat_of(snapshot: dict, user_id: int) -> dict | None:
    for seat in snapshot["seats"]:
        if seat["player_id"] == str(user_id):
            return seat
    return None


async def test_a_loss_limit_refuses_a_buy_in_and_a_top_up_that_could_pass_it(
    container, start_edge, make_players, fund, make_table, clients
):
    server = await start_edge()
    [player] = await make_players(1)
    await fund([player.user_id], 1_000_000)
    await set_limits(container, player.user_id, loss_day=100_000)
    table_id = await make_table()
    client = clients(url_of(server), player.token)
    await client.connect()
    await client.join(table_id)

    with pytest.raises(ClientError) as refused:
        await client.sit(table_id, 0, 120_000)
    assert refused.value.code == "loss_limit_reached"
    await client.sit(table_id, 0, 90_000)
    with pytest.raises(ClientError) as refused:
        await client.top_up(table_id, 20_000)
    assert refused.value.code == "loss_limit_reached"
    assert (await client.top_up(table_id, 10_000))["stack"] == 100_000

    async with container.sessions() as session:
        held = await ledger.balances(SqlLedgerReads(session), player.user_id)
    assert (held.wallet, dict(held.seats)) == (900_000, {table_id: 100_000})
    assert (await ledger_report(container)).ok


async def test_the_table_money_path_refuses_an_excluded_player_and_a_loss_over_the_limit(
    container, make_players, fund, make_table
):
    """The one place every server's sit and top-up goes through (REST has no buy-in)."""
    [excluded, limited] = await make_players(2)
    await fund([excluded.user_id, limited.user_id], 1_000_000)
    table_id = await make_table()
    money = TableMoney(container.transactions, container.settlements)
    await money.sit(table_id, 0, excluded.user_id, BUY_IN, key="sit-a")
    await exclude(container, excluded.user_id, "24h")
    with pytest.raises(SelfExcluded):
        await money.top_up(table_id, excluded.user_id, 10_000, key="top-a")
    await set_limits(container, limited.user_id, loss_week=50_000)
    with pytest.raises(LossLimitReached) as refused:
        await money.sit(table_id, 1, limited.user_id, 80_000, key="sit-b")
    assert refused.value.details == {"room": 50_000, "amount": 80_000}
    async with container.sessions() as session:
        assert (await ledger.balances(SqlLedgerReads(session), excluded.user_id)).seats == {
            table_id: BUY_IN
        }
        held = await ledger.balances(SqlLedgerReads(session), limited.user_id)
        assert (held.wallet, dict(held.seats)) == (1_000_000, {})
        assert await protection.seated_tables(SqlTransaction(session), limited.user_id) == []


async def test_an_excluded_player_is_refused_at_auth_on_every_server_even_with_a_new_token(
    container, start_edge, make_players, clients, edge_settings
):
    from holdem.auth.tokens import issue_access_token

    servers = [await start_edge(), await start_edge()]
    [player] = await make_players(1)
    live = [clients(url_of(server), player.token) for server in servers]
    for client in live:
        await client.connect()

    await exclude(container, player.user_id, "6m")

    for client in live:  # every server closes the player's connections
        closed = await client.wait_closed()
        assert (closed.code, closed.reason) == (4005, "self_excluded")
    # A token issued after the exclusion (what a refresh returns) is refused too: the check
    # reads the account, not the token.
    fresh, _ = issue_access_token(player.user_id, "player", edge_settings.auth)
    for server in servers:
        again = clients(url_of(server), fresh)
        with pytest.raises(ClientError) as refused:
            await again.connect()
        assert refused.value.code == "self_excluded"
        closed = await again.wait_closed()
        assert closed.code == 4005


async def test_while_postgresql_is_down_the_redis_mark_still_refuses_an_excluded_player(
    container, start_edge, make_players, clients, edge_settings
):
    [excluded, other] = await make_players(2)
    until = datetime.now(UTC) + timedelta(days=7)
    await Relay(container.redis).exclude_player(excluded.user_id, [], until)
    with socket.socket() as closed:  # bound, never listening: PostgreSQL refuses
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        server = await start_edge(
            edge_settings.model_copy(
                update={"database_url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"}
            )
        )
        refused = clients(url_of(server), excluded.token)
        with pytest.raises(ClientError) as raised:
            await refused.connect()
        assert raised.value.code == "self_excluded"
        # Anybody else still connects (a seated player may finish a hand during the outage).
        allowed = clients(url_of(server), other.token)
        assert (await allowed.connect())["user_id"] == other.user_id


async def test_an_exclusion_cashes_the_player_out_after_the_hand_on_every_table_server(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    quick = fast_settings(
        edge_settings,
        game={"action_clock_s": 0.3, "reconnect_grace_s": 0.0, "timeouts_before_sit_out": 99},
    )
    servers = [await start_edge(quick), await start_edge(quick)]
    [player, first, second] = await make_players(3)
    await fund([player.user_id, first.user_id, second.user_id], 1_000_000)
    tables = [await make_table(seats=2), await make_table(seats=2)]
    money = TableMoney(container.transactions, container.settlements)
    watchers = []
    for table_id, server, other in zip(tables, servers, (first, second), strict=True):
        await money.sit(table_id, 0, player.user_id, BUY_IN, key=f"p-{table_id}")
        await money.sit(table_id, 1, other.user_id, BUY_IN, key=f"o-{table_id}")
        watcher = clients(url_of(server), other.token, record=True)
        await watcher.connect()
        await watcher.join(table_id)  # the server joined takes the table (if nobody has)
        await watcher.wait_for(lambda m: m.get("event") == "hand_started")
        watchers.append(watcher)

    await exclude(container, player.user_id)

    for table_id, watcher in zip(tables, watchers, strict=True):
        await watcher.wait_for(
            lambda m, t=table_id: (
                m.get("type") == "snapshot"
                and m["table_id"] == t
                and seat_of(m, player.user_id) is None
            ),
            wait_s=20,
        )
    async with container.sessions() as session:
        held = await ledger.balances(SqlLedgerReads(session), player.user_id)
        assert held.seats == {}
        assert await protection.seated_tables(SqlTransaction(session), player.user_id) == []
    assert (await ledger_report(container)).ok


async def test_an_exclusion_reaches_a_table_that_nobody_ran_for_a_while(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    """Commands older than 30 s are dropped when read; an exclusion never is."""
    quick = fast_settings(edge_settings, game={"action_clock_s": 0.3, "reconnect_grace_s": 0.0})
    [player, other] = await make_players(2)
    await fund([player.user_id, other.user_id], 1_000_000)
    table_id = await make_table(seats=2)
    money = TableMoney(container.transactions, container.settlements)
    await money.sit(table_id, 0, player.user_id, BUY_IN, key="p")
    await money.sit(table_id, 1, other.user_id, BUY_IN, key="o")
    await Relay(container.redis).send_command(
        table_id, {"kind": "exclude", "user": player.user_id, "at": time.time() - 120}
    )
    server = await start_edge(quick)
    watcher = clients(url_of(server), other.token, record=True)
    await watcher.connect()
    await watcher.join(table_id)
    await watcher.wait_for(
        lambda m: m.get("type") == "snapshot" and seat_of(m, player.user_id) is None, wait_s=20
    )
    async with container.sessions() as session:
        assert (await ledger.balances(SqlLedgerReads(session), player.user_id)).seats == {}
    assert (await ledger_report(container)).ok


async def play_on(settings, start_edge, make_players, fund, make_table, clients, container):
    """A heads-up table on one server with a moved clock: the player (seat 0) and an
    opponent (seat 1) sat down over the protocol; every turn times out at once."""
    server = await start_edge(settings)
    clock = FakeClock()
    server.tables.clock = clock
    [player, other] = await make_players(2)
    await fund([player.user_id, other.user_id], 1_000_000)
    table_id = await make_table(seats=2)
    mine = clients(url_of(server), player.token, record=True)
    theirs = clients(url_of(server), other.token, record=True)
    for client in (mine, theirs):
        await client.connect()
        await client.join(table_id)
    return server, clock, table_id, player, mine, theirs


QUICK_HANDS = {
    "action_clock_s": 0.2,
    "reconnect_grace_s": 0.0,
    "timeouts_before_sit_out": 99,
}


async def test_a_session_past_its_time_limit_ends_after_the_hand_and_the_seat_is_cashed_out(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    settings = fast_settings(edge_settings, game=QUICK_HANDS)
    _server, clock, table_id, player, mine, theirs = await play_on(
        settings, start_edge, make_players, fund, make_table, clients, container
    )
    await set_limits(container, player.user_id, session_minutes=30)
    await mine.sit(table_id, 0, BUY_IN)
    await theirs.sit(table_id, 1, BUY_IN)
    await mine.wait_for(lambda m: m.get("event") == "hand_started")

    clock.now += 30 * 60
    notice = await mine.wait_for(
        lambda m: m.get("type") == "notice" and m["code"] == "session_limit_reached"
    )
    assert notice["table_id"] == table_id
    await theirs.wait_for(
        lambda m: m.get("type") == "snapshot" and seat_of(m, player.user_id) is None
    )
    async with container.sessions() as session:
        held = await ledger.balances(SqlLedgerReads(session), player.user_id)
    assert held.seats == {}
    assert (await ledger_report(container)).ok


async def test_the_session_limit_counts_the_session_already_played_at_another_table(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    """Multi-tabling or moving tables does not restart the session clock."""
    settings = fast_settings(edge_settings, game=QUICK_HANDS)
    _server, clock, table_id, player, mine, theirs = await play_on(
        settings, start_edge, make_players, fund, make_table, clients, container
    )
    elsewhere = await make_table()
    await TableMoney(container.transactions, container.settlements).sit(
        elsewhere, 0, player.user_id, BUY_IN, key="away"
    )
    async with container.sessions() as session, session.begin():
        await session.execute(
            update(Seat)
            .where(Seat.table_id == elsewhere)
            .values(sat_at=datetime.now(UTC) - timedelta(minutes=20))
        )
    await set_limits(container, player.user_id, session_minutes=30)
    await mine.sit(table_id, 0, BUY_IN)
    await theirs.sit(table_id, 1, BUY_IN)
    await mine.wait_for(lambda m: m.get("event") == "hand_started")

    clock.now += 10 * 60 + 1  # 20 minutes there, 10 here
    notice = await mine.wait_for(
        lambda m: m.get("type") == "notice" and m["code"] == "session_limit_reached"
    )
    assert notice["table_id"] == table_id


async def test_a_reality_check_sits_the_player_out_until_acknowledged_even_after_a_takeover(
    container, start_edge, make_players, fund, make_table, clients, edge_settings
):
    settings = fast_settings(edge_settings, game=QUICK_HANDS)
    first, clock, table_id, player, mine, theirs = await play_on(
        settings, start_edge, make_players, fund, make_table, clients, container
    )
    await set_limits(container, player.user_id, reality_check_minutes=45)
    await mine.sit(table_id, 0, BUY_IN)
    await theirs.sit(table_id, 1, BUY_IN)
    await mine.wait_for(lambda m: m.get("event") == "hand_started")

    clock.now += 45 * 60
    check = await mine.wait_for(lambda m: m.get("type") == "reality_check", wait_s=15)
    assert check["table_id"] == table_id
    assert check["played_s"] >= 45 * 60
    assert isinstance(check["net"], int)
    snapshot = await mine.join(table_id)
    assert seat_of(snapshot, player.user_id)["status"] == "sitting_out"
    with pytest.raises(ClientError) as refused:
        await mine.sit_in(table_id)
    assert refused.value.code == "reality_check_pending"

    # The owner hands the table back; another server takes it from the checkpoint, with the
    # reality check still waiting for its acknowledgement.
    second = await start_edge(settings)
    second.tables.clock = clock
    await first.stop_now()
    for client in (mine, theirs):
        await client.reconnect(url_of(second))
        await client.join(table_id)
    with pytest.raises(ClientError) as refused:
        await mine.sit_in(table_id)
    assert refused.value.code == "reality_check_pending"
    answer = await mine.reality_check_ack(table_id)
    assert answer["acknowledged"] is True
    started = await mine.wait_for(lambda m: m.get("event") == "hand_started" and 0 in m["seats"])
    assert started["table_id"] == table_id
    assert (await ledger_report(container)).ok
