"""Disconnect protection (SPEC §10): a disconnected player keeps the seat; on their turn they
get the reconnect grace on top of the action clock, spent before (and apart from) the time
bank; a reconnect gets a snapshot with the remaining time."""

from __future__ import annotations

import asyncio

import pytest

from holdem.client import Bot, BotStrategy
from tests.edge.conftest import fast_settings, url_of
from tests.edge.test_edge_failover import seen, wait_until
from tests.edge.test_edge_table_protocol import BUY_IN, heads_up


def clock(**game):
    return {"between_hands_s": 0.05, **game}


async def test_the_reconnect_grace_covers_a_disconnected_turn_and_leaves_the_time_bank_alone(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    settings = fast_settings(
        edge_settings,
        game=clock(action_clock_s=0.3, time_bank_s=10.0, reconnect_grace_s=30.0),
    )
    server, table_id, (a, b) = await heads_up(
        start_edge, make_players, fund, make_table, clients, settings
    )
    # Only seated players' connections are tracked (the checkpoint stays small).
    [watcher] = await make_players(1)
    spectator = clients(url_of(server), watcher.token)
    await spectator.connect()
    await spectator.join(table_id, as_="spectator")
    tracked = server.tables.actors[table_id].session.conns
    assert set(tracked) == {a.user_id, b.user_id}
    # Heads-up from button 0: seat 0 (a) posts the small blind and acts first.
    turn = await seen(b, lambda m: m.get("event") == "turn")
    assert (turn["seat"], turn["grace_s"], turn["time_bank_s"]) == (0, 0.0, 10.0)

    await a.close()  # a's only connection: a is away, during a's turn
    extended = await seen(b, lambda m: m.get("event") == "turn_extended")
    assert (extended["seat"], extended["hand"], extended["grace_s"]) == (0, turn["hand"], 30.0)
    assert extended["time_bank_s"] == 10.0
    assert extended["deadline"] == pytest.approx(turn["deadline"] + 30.0)
    seen_by_b = await b.join(table_id)
    assert seen_by_b["disconnected"] == [0]
    assert seen_by_b["seats"][0]["player_id"] == str(a.user_id)  # the seat is kept

    # Let the 0.3 s action clock run out while a is away: the overtime is the grace's.
    await asyncio.sleep(1.0)
    await a.reconnect()
    snapshot = await a.join(table_id)
    assert snapshot["disconnected"] == []
    assert snapshot["hand_number"] == turn["hand"]
    assert snapshot["clock"]["seat"] == 0
    assert snapshot["clock"]["grace_s"] == 30.0
    # More than clock + time bank (10.3 s) is left: the grace still runs.
    assert snapshot["clock"]["remaining_s"] > 10.3
    assert snapshot["seats"][0]["cards"] is not None
    await a.act(table_id, turn["hand"], "call")

    # b (connected) checks the big blind, then checks the flop first (heads-up, after the
    # flop the big blind acts first); then it is a's turn again, with the time bank intact.
    b_turn = await seen(b, lambda m: m.get("event") == "turn" and m["seat"] == 1)
    assert b_turn["grace_s"] == 0.0
    await b.act(table_id, turn["hand"], "check")
    await seen(b, lambda m: m.get("event") == "turn" and m["seat"] == 1 and m is not b_turn)
    await b.act(table_id, turn["hand"], "check")
    again = await seen(b, lambda m: m.get("event") == "turn" and m["seat"] == 0 and m is not turn)
    assert again["hand"] == turn["hand"]
    assert (again["time_bank_s"], again["grace_s"]) == (10.0, 0.0)


async def test_a_player_who_does_not_come_back_keeps_the_seat_and_is_sat_out(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    settings = fast_settings(
        edge_settings, game=clock(action_clock_s=0.3, time_bank_s=0.0, reconnect_grace_s=0.3)
    )
    _server, table_id, (a, b) = await heads_up(
        start_edge, make_players, fund, make_table, clients, settings
    )
    await a.close()
    bot = Bot(b, table_id, seat=1, buy_in=BUY_IN, strategy=BotStrategy(seed=2, raise_rate=0))
    playing = asyncio.create_task(bot.play())
    try:

        async def sat_out():
            snapshot = await b.join(table_id)
            return snapshot if snapshot["seats"][0]["status"] == "sitting_out" else None

        snapshot = await wait_until(sat_out, 60)
        graces: dict[int, list[float]] = {}
        for m in b.received:
            if m.get("event") == "turn" and m["seat"] == 0:
                graces.setdefault(m["hand"], []).append(m["grace_s"])
        # The first hand may have started before the disconnect was known; in every later
        # hand a's first turn had the grace, and a timeout spent the rest of the hand's grace.
        later = [graces[hand] for hand in sorted(graces)[1:]]
        assert later
        for turns in later:
            assert turns == [0.3] + [0.0] * (len(turns) - 1)
        assert snapshot["seats"][0]["player_id"] == str(a.user_id)
        assert snapshot["seats"][0]["stack"] > 0
        assert snapshot["disconnected"] == [0]
    finally:
        playing.cancel()
        await asyncio.gather(playing, return_exceptions=True)
