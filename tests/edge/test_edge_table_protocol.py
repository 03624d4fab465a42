"""Playing through the protocol: stale and repeated actions, out of turn, amounts, reconnect
snapshots, the clock, and privacy (a spy seated at the table and a spectator)."""

from __future__ import annotations

import asyncio
import time

import pytest

from edge.tables import COMMAND_MAX_AGE_S
from holdem.client import Bot, BotStrategy, ClientError
from tests.edge.conftest import fast_settings, url_of
from tests.edge.test_edge_failover import seen

BUY_IN = 200_000


async def heads_up(start_edge, make_players, fund, make_table, clients, settings=None):
    server = await start_edge(settings)
    players = await make_players(2)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=2)
    seated = []
    for seat, player in enumerate(players):
        client = clients(
            url_of(server), player.token, record=True, encoding="json" if seat else "msgpack"
        )
        await client.connect()
        await client.join(table_id)
        await client.sit(table_id, seat, BUY_IN)
        seated.append(client)
    return server, table_id, seated


async def test_out_of_turn_stale_and_repeated_actions_change_nothing(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    slow = fast_settings(edge_settings, game={"action_clock_s": 30.0, "between_hands_s": 0.05})
    _server, table_id, (a, b) = await heads_up(
        start_edge, make_players, fund, make_table, clients, slow
    )
    turn = await seen(a, lambda m: m.get("event") == "turn")
    hand = turn["hand"]
    actor, waiter = (a, b) if turn["seat"] == 0 else (b, a)
    before = await waiter.join(table_id)

    async def refused(client, code, **act):
        with pytest.raises(ClientError) as raised:
            await client.act(table_id, **act)
        assert raised.value.code == code

    await refused(waiter, "not_your_turn", hand=hand, action="call")
    await refused(actor, "stale_action", hand=hand + 1, action="call")
    await refused(actor, "stale_action", hand=hand - 1 or 99, action="call")
    await refused(actor, "amount_exceeds_stack", hand=hand, action="raise", amount=10**9)
    await refused(actor, "raise_too_small", hand=hand, action="raise", amount=2_001)
    await refused(actor, "invalid_message", hand=hand, action="raise")
    assert (await waiter.join(table_id))["seats"] == before["seats"]
    done = await actor.act(table_id, hand=hand, action="call", seq=100)
    assert done["action"] == "call"
    # The same click again (same sequence number, as a client resends it after a reconnect):
    # the original answer, not a second action; an older one is refused. Never acted twice.
    again = await actor.act(table_id, hand=hand, action="fold", seq=100)
    assert {**again, "id": None} == {**done, "id": None}
    await refused(actor, "stale_action", hand=hand, action="call", seq=50)
    calls = [
        m
        for m in waiter.received
        if m.get("event") == "action" and m.get("hand") == hand and m.get("seat") == turn["seat"]
    ]
    assert [m["kind"] for m in calls] == ["call"]


async def test_reconnect_gets_a_snapshot_with_own_cards_and_the_clock(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    slow = fast_settings(edge_settings, game={"action_clock_s": 30.0, "between_hands_s": 0.05})
    _server, table_id, (a, _b) = await heads_up(
        start_edge, make_players, fund, make_table, clients, slow
    )
    await seen(a, lambda m: m.get("event") == "turn")
    mine = await seen(a, lambda m: m.get("type") == "hole_cards")
    await a.reconnect()
    snapshot = await a.join(table_id)
    me, other = snapshot["seats"][0], snapshot["seats"][1]
    assert me["player_id"] == str(a.user_id)
    assert me["cards"] == mine["cards"]
    assert other["cards"] is None
    assert snapshot["running"] is True
    # The clock (30 s, no time bank), plus the reconnect grace if the turn was a's when a
    # dropped (test_edge_disconnect.py).
    assert 0 < snapshot["clock"]["remaining_s"] <= 30.0 + snapshot["clock"]["grace_s"]
    assert snapshot["hand_number"] == mine["hand"]


async def test_three_timeouts_in_a_row_sit_a_player_out(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    quick = fast_settings(edge_settings, game={"action_clock_s": 0.3, "between_hands_s": 0.05})
    _server, table_id, (a, b) = await heads_up(
        start_edge, make_players, fund, make_table, clients, quick
    )
    bot = Bot(b, table_id, seat=1, buy_in=BUY_IN, strategy=BotStrategy(seed=1, raise_rate=0))
    playing = asyncio.create_task(bot.play())
    try:
        notice = await seen(a, lambda m: m.get("type") == "notice", 30)
        assert notice["code"] == "sat_out"
        snapshot = await a.join(table_id)
        assert snapshot["seats"][0]["status"] == "sitting_out"
    finally:
        playing.cancel()
        await asyncio.gather(playing, return_exceptions=True)


async def test_no_hole_card_reaches_a_spy_or_a_spectator_before_showdown(
    start_edge, make_players, fund, make_table, clients
):
    edges = [await start_edge(), await start_edge()]
    players = await make_players(5)
    await fund([p.user_id for p in players], 1_000_000)
    table_id = await make_table(seats=4)
    bots = []
    for seat, player in enumerate(players[:4]):
        client = clients(
            url_of(edges[seat % 2]),
            player.token,
            record=True,
            encoding="msgpack" if seat % 2 else "json",
        )
        await client.connect()
        bot = Bot(
            client,
            table_id,
            seat=seat,
            buy_in=BUY_IN,
            strategy=BotStrategy(seed=seat, raise_rate=0.1, fold_to_bet_rate=0.1),
        )
        await bot.sit_down()
        bots.append(bot)
    spectator = clients(url_of(edges[1]), players[4].token, record=True)
    await spectator.connect()
    await spectator.join(table_id, as_="spectator")
    await asyncio.wait_for(asyncio.gather(*(bot.play(hands=12) for bot in bots)), 90)
    spy = bots[0]
    checked = 0
    for client, own_seat in [(spy.client, 0), (spectator, None)]:
        shown: set[tuple[int, int]] = set()
        for message in client.received:
            hand = message.get("hand") or message.get("hand_number")
            if message.get("event") == "hand_shown":
                shown.add((hand, message["seat"]))
            if message.get("type") == "hole_cards":
                assert message["seat"] == own_seat, message
                checked += 1
            if message.get("type") == "snapshot":
                for seat in message["seats"]:
                    if seat["cards"] is not None and seat["seat"] != own_seat:
                        assert (hand, seat["seat"]) in shown, message
    assert checked >= 12
    assert not [m for m in spectator.received if m.get("type") == "hole_cards"]


async def test_a_command_that_waited_too_long_for_its_table_is_refused_not_dropped(
    start_edge, make_players, fund, make_table, clients, edge_settings
):
    slow = fast_settings(edge_settings, game={"action_clock_s": 30.0})
    server, table_id, (a, b) = await heads_up(
        start_edge, make_players, fund, make_table, clients, slow
    )
    turn = await seen(a, lambda m: m.get("event") == "turn")
    actor = a if turn["seat"] == 0 else b
    # An act that sat in the table's inbox past COMMAND_MAX_AGE_S (no owner meanwhile).
    await server.relay.send_command(
        table_id,
        {
            "kind": "act",
            "user": actor.user_id,
            "conn": actor.connection_id,
            "rid": "waited-too-long",
            "at": time.time() - COMMAND_MAX_AGE_S - 1,
            "hand": turn["hand"],
            "seq": 50,
            "decision": turn["decision"],
            "action": "fold",
            "amount": None,
        },
    )
    refused = await seen(actor, lambda m: m.get("id") == "waited-too-long")
    assert refused["type"] == "error"
    assert refused["code"] == "stale_action"
    snapshot = await actor.join(table_id)
    assert snapshot["to_act"] == turn["seat"]  # nothing was applied
