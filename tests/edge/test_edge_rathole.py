"""The rathole rule (SPEC §10 "Seating"; docs/economy.md): a player who left a table sits
again at the same stakes, within the window, with at least the stack they left with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from holdem.client import ClientError
from holdem.config import GameSettings
from holdem.services.errors import RatholeMinimum
from holdem.services.table_runtime import TableMoney
from tests.edge.conftest import url_of

WINDOW = GameSettings().rathole_window_s  # 2 h
LEFT_AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = LEFT_AT

    def __call__(self) -> datetime:
        return self.now


async def left_with(money: TableMoney, table_id: int, user_id: int, stack: int) -> None:
    """Sit with the maximum (200,000), win up to `stack`, cash `stack` out."""
    await money.sit(table_id, 0, user_id, 200_000, key=f"r-sit-{table_id}-{user_id}")
    if stack > 200_000:
        await money.top_up(table_id, user_id, stack - 200_000, key=f"r-win-{table_id}-{user_id}")
    await money.cash_out(table_id, 0, user_id, stack, key=f"r-out-{table_id}-{user_id}")


@pytest.fixture
async def returning(container, make_players, fund, make_table):
    """A player who left a 1,000/2,000 table (buy-ins 80,000-200,000) at 09:00 with 150,000,
    and a second table at the same stakes."""
    [player] = await make_players(1)
    await fund([player.user_id], 1_000_000)
    first, second = await make_table(), await make_table()
    clock = Clock()
    money = TableMoney(container.transactions, container.settlements, clock=clock)
    await left_with(money, first, player.user_id, 150_000)
    return player, second, money, clock


async def test_a_shorter_buy_in_at_the_same_stakes_within_the_window_is_refused_with_the_amount(
    returning,
):
    player, table_id, money, clock = returning
    clock.now = LEFT_AT + timedelta(minutes=30)

    with pytest.raises(RatholeMinimum) as refused:
        await money.sit(table_id, 1, player.user_id, 100_000, key="back-short")

    assert refused.value.details == {"minimum": 150_000, "until": "2026-12-07T11:00:00+00:00"}
    assert "at least 150,000" in str(refused.value)
    assert "11:00 UTC" in str(refused.value)
    await money.sit(table_id, 1, player.user_id, 150_000, key="back-full")  # the stack: fine


async def test_after_the_window_or_at_other_stakes_any_buy_in_in_range_is_taken(
    returning, make_table
):
    player, table_id, money, clock = returning
    other_stakes = await make_table(small_blind=2_000, big_blind=4_000)
    await money.sit(other_stakes, 0, player.user_id, 160_000, key="elsewhere")
    await money.cash_out(other_stakes, 0, player.user_id, 160_000, key="elsewhere-out")
    clock.now = LEFT_AT + timedelta(seconds=WINDOW + 1)

    await money.sit(table_id, 1, player.user_id, 80_000, key="back-later")


async def test_a_player_who_left_with_more_than_the_maximum_waits_unless_the_operator_caps_it(
    container, make_players, fund, make_table
):
    [player] = await make_players(1)
    await fund([player.user_id], 1_000_000)
    first, second = await make_table(), await make_table()
    clock = Clock()
    money = TableMoney(container.transactions, container.settlements, clock=clock)
    await left_with(money, first, player.user_id, 250_000)

    with pytest.raises(RatholeMinimum) as refused:
        await money.sit(second, 0, player.user_id, 200_000, key="at-max")
    assert "more than this table's maximum buy-in (200,000)" in str(refused.value)
    assert refused.value.details["minimum"] == 250_000

    capped = TableMoney(
        container.transactions,
        container.settlements,
        clock=clock,
        game=GameSettings(rathole_capped_at_max_buy_in=True),
    )
    await capped.sit(second, 0, player.user_id, 200_000, key="at-max-capped")


async def test_a_busted_player_is_held_to_nothing_and_the_rule_can_be_turned_off(
    container, make_players, fund, make_table
):
    busted, winner = await make_players(2)
    await fund([busted.user_id, winner.user_id], 1_000_000)
    first, second, third = await make_table(), await make_table(), await make_table()
    clock = Clock()
    money = TableMoney(container.transactions, container.settlements, clock=clock)
    await money.sit(first, 0, busted.user_id, 80_000, key="busted-sit")
    await money.cash_out(first, 0, busted.user_id, 0, key="busted-out")
    await left_with(money, third, winner.user_id, 200_000)

    await money.sit(second, 0, busted.user_id, 80_000, key="busted-back")
    off = TableMoney(
        container.transactions,
        container.settlements,
        clock=clock,
        game=GameSettings(rathole_window_s=0),
    )
    await off.sit(second, 1, winner.user_id, 80_000, key="winner-back")


async def test_a_sit_over_the_protocol_is_refused_with_rathole_minimum_and_nothing_moves(
    start_edge, make_players, fund, make_table, clients, container
):
    server = await start_edge()
    [player] = await make_players(1)
    await fund([player.user_id], 1_000_000)
    first, second = await make_table(), await make_table()
    client = clients(url_of(server), player.token)
    await client.connect()
    await client.join(first)
    await client.sit(first, 0, 180_000)
    await client.leave(first)  # between hands (alone at the table): cashed out at once
    await client.join(second)

    with pytest.raises(ClientError) as refused:
        await client.sit(second, 0, 80_000)

    assert refused.value.code == "rathole_minimum"
    assert "at least 180,000" in str(refused.value)
    snapshot = await client.join(second)
    assert snapshot["seats"][0]["player_id"] is None
    await client.sit(second, 0, 180_000)
